//! Plan execution: what a worker does between `reconcile` and `handle_outcomes`.
//!
//! - Stages run in order; the actions of one stage run concurrently (at most
//!   `stage_concurrency` in flight) and their outcomes keep the plan's order.
//! - A failed action in an `OnFailure::SkipRest` stage turns every later action into
//!   `Outcome::Skipped` (upstream's slow-start batches).
//! - Every API request first takes a token from the controller's client bucket
//!   ([`TokenBucket`]: 20 QPS, burst 30 by default).
//! - `Action::Event` goes through the controller's [`EventRecorder`] (dedup, aggregation,
//!   spam filter): a new Event is created; a repeated one is patched (count,
//!   lastTimestamp), and if that Event is gone (404) the fallback recreates it. Event
//!   writes never fail a plan (upstream's recorder is fire-and-forget): a failure is
//!   logged and reported as `Outcome::Done(None)`, like a dropped event.
//! - The scheduler's bind, a Pod patch whose only change is `spec.nodeName`, goes through
//!   the `pods/binding` subresource (pod updates may not change `nodeName`); its
//!   `metadata.uid` is checked against the stored pod first.
//! - [`PlanExecutor::execute_stages`] runs a slice of a plan's stages (the inline part, or
//!   the detached tail of guard 1, see [`crate::controller`]); [`PlanExecutor::execute`]
//!   runs them all, the detach marker as an empty stage.
//! - Tests and benchmarks may inject latency and failures per write ([`WriteFaults`]).

use std::sync::Arc;

use corral_api::resource::resource_of;
use corral_api::{ApiError, GroupResource, KubeObject, ObjectKey, ResourceKind};
use corral_apiserver::service::{DecodedBody, Target, UserInfo};
use corral_apiserver::{ApiClient, ApiService};
use corral_core::{
    Action, Clock, EventRecord, EventRecorder, OnFailure, Outcome, PatchBody, Plan, RecordedEvent,
    Stage, Subresource,
};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::faults::WriteFaults;
use crate::ratelimit::{ClientRateLimit, TokenBucket};

/// Executes plans for one controller, as that controller's API client.
pub struct PlanExecutor {
    name: String,
    client: ApiClient,
    user: UserInfo,
    bucket: TokenBucket,
    recorder: Mutex<EventRecorder>,
    clock: Arc<dyn Clock>,
    stage_concurrency: usize,
    faults: Option<Arc<dyn WriteFaults>>,
}

impl std::fmt::Debug for PlanExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanExecutor")
            .field("name", &self.name)
            .field("user", &self.user.name)
            .field("limit", &self.bucket.limit())
            .field("faults", &self.faults.is_some())
            .finish()
    }
}

/// What running some stages of a plan produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StagesRun {
    /// One per action of the stages, in order.
    pub outcomes: Vec<Outcome>,
    /// A failed `SkipRest` stage stopped the plan: every later action is `Skipped`.
    pub stopped: bool,
}

/// Counts of a plan's outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    pub done: u64,
    pub failed: u64,
    pub skipped: u64,
}

impl OutcomeCounts {
    pub fn of(outcomes: &[Outcome]) -> OutcomeCounts {
        let mut counts = OutcomeCounts::default();
        for outcome in outcomes {
            match outcome {
                Outcome::Done(_) => counts.done += 1,
                Outcome::Failed(_) => counts.failed += 1,
                Outcome::Skipped => counts.skipped += 1,
            }
        }
        counts
    }
}

impl PlanExecutor {
    pub fn new(
        name: &str,
        service: &ApiService,
        user: UserInfo,
        limit: ClientRateLimit,
        clock: Arc<dyn Clock>,
        stage_concurrency: usize,
    ) -> PlanExecutor {
        PlanExecutor {
            name: name.to_string(),
            client: service.client(user.clone()),
            user,
            bucket: TokenBucket::new(limit),
            recorder: Mutex::new(EventRecorder::new()),
            clock,
            stage_concurrency: stage_concurrency.max(1),
            faults: None,
        }
    }

    /// Injects `faults` into every write of this executor (tests, benchmarks).
    #[must_use]
    pub fn with_faults(mut self, faults: Option<Arc<dyn WriteFaults>>) -> PlanExecutor {
        self.faults = faults;
        self
    }

    /// Runs `plan`; one outcome per action, in `plan.actions()` order. A detach marker is
    /// an empty stage: the whole plan runs here.
    pub async fn execute(&self, plan: &Plan) -> Vec<Outcome> {
        let run = self.execute_stages(&plan.stages).await;
        debug_assert_eq!(run.outcomes.len(), plan.action_count());
        run.outcomes
    }

    /// Runs `stages` in order with `SkipRest` semantics among them; one outcome per action.
    pub async fn execute_stages(&self, stages: &[Stage]) -> StagesRun {
        let mut run = StagesRun {
            outcomes: Vec::with_capacity(stages.iter().map(|s| s.actions.len()).sum()),
            stopped: false,
        };
        for stage in stages {
            if run.stopped {
                run.outcomes
                    .extend(stage.actions.iter().map(|_| Outcome::Skipped));
                continue;
            }
            let results = self.execute_stage(stage).await;
            let failed = results.iter().any(Outcome::is_failure);
            run.outcomes.extend(results);
            if failed && stage.on_failure == OnFailure::SkipRest {
                run.stopped = true;
            }
        }
        run
    }

    /// Runs one stage's actions concurrently (at most `stage_concurrency` at once); the
    /// outcomes keep the stage's order.
    pub async fn execute_stage(&self, stage: &Stage) -> Vec<Outcome> {
        if stage.actions.is_empty() {
            return Vec::new();
        }
        if let [action] = stage.actions.as_slice() {
            return vec![self.execute_action(action).await];
        }
        // Boxed: a stream of borrowing futures trips rustc's higher-ranked `Send` check
        // when the worker future is spawned.
        let calls: Vec<BoxFuture<'_, Outcome>> = stage
            .actions
            .iter()
            .map(|action| self.execute_action(action).boxed())
            .collect();
        futures::stream::iter(calls)
            .buffered(self.stage_concurrency)
            .collect()
            .await
    }

    /// Runs one action.
    pub async fn execute_action(&self, action: &Action) -> Outcome {
        match action {
            Action::Event(record) => self.record_event(record).await,
            Action::Patch {
                key,
                subresource: Subresource::Main,
                patch,
            } if key.kind == ResourceKind::Pod => match binding_of(patch) {
                Some((uid, node)) => self.bind(action, key, uid, node).await,
                None => self.write(action).await,
            },
            _ => self.write(action).await,
        }
    }

    async fn write(&self, action: &Action) -> Outcome {
        self.bucket.acquire().await;
        if let Some(failed) = self.inject_fault(action).await {
            return failed;
        }
        let outcome = self.client.execute(action).await;
        if let Outcome::Failed(error) = &outcome {
            tracing::debug!(controller = %self.name, key = ?action.key(), code = error.code, %error, "write failed");
        }
        outcome
    }

    /// Waits out an injected fault; `Some` when it fails the write.
    async fn inject_fault(&self, action: &Action) -> Option<Outcome> {
        let fault = self.faults.as_ref()?.fault(&self.name, action)?;
        if !fault.delay.is_zero() {
            tokio::time::sleep(fault.delay).await;
        }
        fault.error.map(Outcome::Failed)
    }

    /// `POST pods/{name}/binding` with the patch's uid as a precondition.
    async fn bind(
        &self,
        action: &Action,
        key: &ObjectKey,
        uid: Option<&str>,
        node: &str,
    ) -> Outcome {
        self.bucket.acquire().await;
        if let Some(failed) = self.inject_fault(action).await {
            return failed;
        }
        let service = self.client.service();
        let target = Target::object(
            resource_of(ResourceKind::Pod),
            Some(&key.namespace),
            &key.name,
        );
        if let Some(uid) = uid {
            match stored_object(service, &target) {
                Ok(pod) if pod.meta().uid.as_deref() == Some(uid) => {}
                Ok(pod) => {
                    return Outcome::Failed(uid_mismatch(key, uid, pod.meta().uid.as_deref()));
                }
                Err(error) => return Outcome::Failed(error),
            }
        }
        let body = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": key.name, "namespace": key.namespace, "uid": uid},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        match service
            .bind(&self.user, &target, DecodedBody::from_value(body), false)
            .await
        {
            Ok(_) => Outcome::Done(
                stored_object(service, &target)
                    .ok()
                    .map(Arc::unwrap_or_clone),
            ),
            Err(error) => Outcome::Failed(error),
        }
    }

    async fn record_event(&self, record: &EventRecord) -> Outcome {
        let decision = self.recorder.lock().record(record, self.clock.now());
        let outcome = match decision {
            RecordedEvent::Dropped => return Outcome::Done(None),
            RecordedEvent::Create(create) => self.write(&create).await,
            RecordedEvent::Update { patch, fallback } => match self.write(&patch).await {
                Outcome::Failed(error) if error.is_not_found() => self.write(&fallback).await,
                other => other,
            },
        };
        match outcome {
            Outcome::Failed(error) => {
                tracing::warn!(controller = %self.name, reason = %record.reason, object = ?record.involved.name, %error, "cannot record event");
                Outcome::Done(None)
            }
            other => other,
        }
    }
}

fn stored_object(service: &ApiService, target: &Target) -> Result<Arc<KubeObject>, ApiError> {
    service
        .get(target)?
        .object()?
        .ok_or_else(|| ApiError::internal("not a stored object"))
}

fn uid_mismatch(key: &ObjectKey, expected: &str, actual: Option<&str>) -> ApiError {
    let detail = format!(
        "Precondition failed: UID in precondition: {expected}, UID in object meta: {}",
        actual.unwrap_or("")
    );
    ApiError::conflict(&GroupResource::new("", "pods"), &key.name, &detail)
}

/// `{"metadata":{"uid":U},"spec":{"nodeName":N}}` (merge patch): the scheduler's bind.
/// Returns (uid, node); `None` for any other patch.
pub fn binding_of(patch: &PatchBody) -> Option<(Option<&str>, &str)> {
    let PatchBody::Merge(Value::Object(map)) = patch else {
        return None;
    };
    let spec = map.get("spec")?.as_object()?;
    if spec.len() != 1 || map.keys().any(|k| k != "spec" && k != "metadata") {
        return None;
    }
    let metadata = map.get("metadata").and_then(Value::as_object);
    if metadata.is_some_and(|m| m.keys().any(|k| k != "uid")) {
        return None;
    }
    let node = spec.get("nodeName")?.as_str()?;
    let uid = metadata.and_then(|m| m.get("uid")).and_then(Value::as_str);
    Some((uid, node))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_pure_node_name_patch_is_a_binding() {
        let bind = PatchBody::Merge(json!({"metadata": {"uid": "u"}, "spec": {"nodeName": "n1"}}));
        assert_eq!(binding_of(&bind), Some((Some("u"), "n1")));
        let no_uid = PatchBody::Merge(json!({"spec": {"nodeName": "n1"}}));
        assert_eq!(binding_of(&no_uid), Some((None, "n1")));
        for other in [
            json!({"spec": {"nodeName": "n1", "x": 1}}),
            json!({"metadata": {"labels": {"a": "b"}}, "spec": {"nodeName": "n1"}}),
            json!({"status": {}, "spec": {"nodeName": "n1"}}),
            json!({"spec": {"nodeName": 3}}),
        ] {
            assert_eq!(
                binding_of(&PatchBody::Merge(other.clone())),
                None,
                "{other}"
            );
        }
        assert_eq!(
            binding_of(&PatchBody::Strategic(json!({"spec": {"nodeName": "n"}}))),
            None
        );
    }
}
