//! The plan ledger and `handle_outcomes`: what each action of a plan was for, and what its
//! outcome means for expectations, the backoff record, pod-control events and the retry.
//!
//! Ports the error handling spread over `manageJob`, `deleteJobPods`,
//! `removeTrackingFinalizerFromPods`, `flushUncountedAndRemoveFinalizers` and
//! `processNextWorkItem`: a failed create lowers the creation expectation and is a sync
//! error (except `NamespaceTerminating`), creates skipped after a failed slow-start batch
//! lower it too, a failed delete lowers the deletion expectation, a NotFound pod is not an
//! error, a status conflict is, and the backoff record is stored only once the status
//! write that recorded the new pods succeeded.
//!
//! Guard 1: when a driver detaches a plan's creates, `handle_outcomes` gets only the
//! inline outcomes (as many as `plan.detached_action_start()`); the creates' outcomes come
//! later to `handle_detached_outcomes`, which needs no ledger: a detached tail holds only
//! pod creates, and the Job they are for is their controller reference.

use std::time::Duration;

use corral_api::{ApiError, KubeObject, ObjectKey, ResourceKind};
use corral_core::{Action, Outcome, Plan, SyncResult, Timestamp};
use k8s_openapi::api::core::v1::ObjectReference;

use super::JobController;
use super::backoff::BackoffRecord;
use super::creation_failure::CreateState;
use super::events;

/// Why an action is in the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    Event,
    /// A pod create counted in the creation expectations.
    CreatePod,
    /// The finalizer PATCH `deleteJobPods` sends before deleting a pod (suspend, surplus).
    PrepareDelete,
    /// A pod DELETE; `expected` when counted in the deletion expectations.
    DeletePod {
        name: String,
        expected: bool,
    },
    StatusWrite,
    /// A tracking-finalizer PATCH recorded in the finalizer expectations.
    RemoveTrackingFinalizer {
        uid: String,
    },
    /// `syncOrphanPod`'s finalizer PATCH.
    OrphanFinalizer,
    /// Guard 5: the status PATCH failing a pod past its start deadline.
    FailPod,
}

/// Builds a plan and its ledger side by side, so purposes stay index-aligned with
/// `plan.actions()`.
#[derive(Debug, Default)]
pub(crate) struct PlanBuilder {
    plan: Plan,
    purposes: Vec<Purpose>,
}

impl PlanBuilder {
    /// Appends a stage; `stop` makes a failure in it skip every later stage.
    pub fn stage(&mut self, items: Vec<(Action, Purpose)>, stop: bool) {
        if items.is_empty() {
            return;
        }
        debug_assert!(items.iter().all(|(a, p)| purpose_fits(p, a)));
        let (actions, purposes): (Vec<Action>, Vec<Purpose>) = items.into_iter().unzip();
        self.purposes.extend(purposes);
        if stop {
            self.plan.then_or_stop(actions);
        } else {
            self.plan.then(actions);
        }
    }

    pub fn requeue_at_most(&mut self, after: Duration) {
        self.plan.requeue_at_most(after);
    }

    /// Guard 1: the stages appended from now on may run detached.
    pub fn detach_rest(&mut self) {
        self.plan.detach_rest();
    }

    pub fn finish(self) -> (Plan, Vec<Purpose>) {
        debug_assert_eq!(self.plan.action_count(), self.purposes.len());
        (self.plan, self.purposes)
    }
}

/// What `handle_outcomes` needs to remember about a key's last plan.
#[derive(Clone, Debug)]
pub(crate) struct InFlight {
    pub involved: Option<ObjectReference>,
    pub purposes: Vec<Purpose>,
    /// Stored if the status write succeeds (`updateBackoffRecord` after the flush).
    pub backoff: Option<BackoffRecord>,
}

impl JobController {
    /// Turns a builder into the plan, keeping its ledger until the outcomes arrive.
    pub(crate) fn seal(
        &mut self,
        key: &ObjectKey,
        builder: PlanBuilder,
        involved: Option<ObjectReference>,
        backoff: Option<BackoffRecord>,
    ) -> Plan {
        let (plan, purposes) = builder.finish();
        self.in_flight.insert(
            key.clone(),
            InFlight {
                involved,
                purposes,
                backoff,
            },
        );
        plan
    }

    pub(crate) fn record_outcomes(
        &mut self,
        key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        now: Timestamp,
    ) -> SyncResult {
        let done = SyncResult::Done {
            requeue_after: plan.requeue_after,
        };
        let Some(flight) = self.in_flight.remove(key) else {
            return done;
        };
        let total = plan.action_count();
        // Guard 1: only the inline outcomes; the detached creates answer later.
        let detached = plan
            .detached_action_start()
            .is_some_and(|start| outcomes.len() == start && start < total);
        if flight.purposes.len() != total || (outcomes.len() != total && !detached) {
            // A driver that lost track of the plan: trust nothing, let expectations expire.
            return SyncResult::Retry {
                reason: "outcomes do not match the plan".to_string(),
            };
        }
        if detached {
            self.detached.entry(key.clone()).or_default().push(now);
        }
        self.note_create_results(key, &flight.purposes, outcomes);
        let mut first_error: Option<String> = None;
        for ((purpose, action), outcome) in flight.purposes.iter().zip(plan.actions()).zip(outcomes)
        {
            let error = self.apply_outcome(key, &flight, purpose, action, outcome);
            if first_error.is_none() {
                first_error = error;
            }
        }
        match first_error {
            Some(reason) => SyncResult::Retry { reason },
            None => done,
        }
    }

    /// Remembers whether this Job's creates failed, so its next plan writes the status
    /// before creating (see `assemble`).
    fn note_create_results(&mut self, key: &ObjectKey, purposes: &[Purpose], outcomes: &[Outcome]) {
        let creates: Vec<&Outcome> = purposes
            .iter()
            .zip(outcomes)
            .filter(|(p, _)| **p == Purpose::CreatePod)
            .map(|(_, o)| o)
            .collect();
        if creates.is_empty() {
            return;
        }
        let failed = creates.iter().any(|o| match o {
            Outcome::Done(_) => false,
            Outcome::Failed(e) => !namespace_terminating(e),
            Outcome::Skipped => true,
        });
        if failed {
            self.status_first.insert(key.clone());
        } else {
            self.status_first.remove(key);
        }
        if self.config.guards.tracks_creation_failures() {
            let created = creates.iter().any(|o| matches!(o, Outcome::Done(_)));
            let error = creates.iter().find_map(|o| match o {
                Outcome::Failed(e) if !namespace_terminating(e) => Some(e.message.clone()),
                _ => None,
            });
            if created {
                self.creation.insert(key.clone(), CreateState::Succeeded);
            } else if let Some(message) = error {
                self.creation
                    .insert(key.clone(), CreateState::Failing { message });
            }
        }
    }

    /// Guard 1: the outcomes of a detached tail of pod creates. Lowers the expectations of
    /// creates that failed or never ran, queues the pod-control events, and says when the
    /// Job syncs again: soon on success (to emit the events), after a per-Job backoff
    /// (1 s doubling to 60 s, upstream's sync-error backoff) on failure.
    pub(crate) fn record_detached_outcomes(
        &mut self,
        key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        now: Timestamp,
    ) -> SyncResult {
        self.release_detached(key);
        let retry_soon = SyncResult::Done {
            requeue_after: Some(self.config.sync_batch_period),
        };
        let Some(start) = plan.detached_action_start() else {
            return retry_soon;
        };
        let tail: Vec<&Action> = plan.actions().skip(start).collect();
        if tail.len() != outcomes.len() {
            // A driver that lost track: the expectations expire on their own.
            return retry_soon;
        }
        let mut purposes = Vec::new();
        let mut results = Vec::new();
        let mut first_error = None;
        for (action, outcome) in tail.into_iter().zip(outcomes) {
            let Action::Create { object } = action else {
                continue;
            };
            if object.kind() != ResourceKind::Pod {
                continue;
            }
            let involved = owning_job_reference(object);
            let error = self.create_outcome(key, involved.as_ref(), outcome);
            first_error = first_error.or(error);
            purposes.push(Purpose::CreatePod);
            results.push(outcome.clone());
        }
        self.note_create_results(key, &purposes, &results);
        match first_error {
            Some(_) => SyncResult::Done {
                requeue_after: Some(self.create_retry.when(key, now)),
            },
            None => {
                self.create_retry.forget(key);
                retry_soon
            }
        }
    }

    /// Applies one outcome; returns the sync error it amounts to, if any.
    fn apply_outcome(
        &mut self,
        key: &ObjectKey,
        flight: &InFlight,
        purpose: &Purpose,
        action: &Action,
        outcome: &Outcome,
    ) -> Option<String> {
        debug_assert!(
            purpose_fits(purpose, action),
            "ledger out of step: {purpose:?} for {action:?}"
        );
        match purpose {
            Purpose::Event => None,
            Purpose::CreatePod => self.create_outcome(key, flight.involved.as_ref(), outcome),
            Purpose::FailPod => match outcome {
                // Gone, or changed since the decision (it may have started): the next sync
                // looks again.
                Outcome::Failed(e) if !gone(e) => Some(format!(
                    "failing pod past its start deadline: {}",
                    e.message
                )),
                _ => None,
            },
            Purpose::PrepareDelete => match outcome {
                Outcome::Failed(e) if !gone(e) => {
                    Some(format!("removing completion finalizer: {}", e.message))
                }
                _ => None,
            },
            Purpose::DeletePod { name, expected } => {
                self.delete_outcome(key, flight, name, *expected, outcome)
            }
            Purpose::StatusWrite => match outcome {
                Outcome::Done(stored) => {
                    if let Some(record) = flight.backoff {
                        self.backoff.update(key.clone(), record);
                    }
                    if let Some(revision) = stored.as_ref().and_then(|o| o.revision()) {
                        self.written.insert(key.clone(), revision);
                    }
                    None
                }
                Outcome::Failed(e) => Some(format!("tracking status: {}", e.message)),
                Outcome::Skipped => None,
            },
            Purpose::RemoveTrackingFinalizer { uid } => match outcome {
                Outcome::Done(_) => None,
                // The pod is gone: its delete event will clear the expectation.
                Outcome::Failed(e) if e.is_not_found() => None,
                Outcome::Failed(e) => {
                    self.finalizer_expectations.observed(key, uid);
                    Some(format!("removing tracking finalizer: {}", e.message))
                }
                Outcome::Skipped => {
                    self.finalizer_expectations.observed(key, uid);
                    None
                }
            },
            Purpose::OrphanFinalizer => match outcome {
                Outcome::Failed(e) if !e.is_not_found() => Some(e.message.clone()),
                _ => None,
            },
        }
    }

    fn create_outcome(
        &mut self,
        key: &ObjectKey,
        involved: Option<&ObjectReference>,
        outcome: &Outcome,
    ) -> Option<String> {
        match outcome {
            Outcome::Done(created) => {
                if let (Some(involved), Some(pod)) = (involved, created) {
                    self.queue_pending_event(key, events::successful_create(involved, pod.name()));
                }
                None
            }
            // All later creations will fail too; upstream neither counts nor reports it.
            Outcome::Failed(e) if namespace_terminating(e) => None,
            Outcome::Failed(e) => {
                self.expectations.creation_observed(key);
                if let Some(involved) = involved {
                    self.queue_pending_event(key, events::failed_create(involved, &e.message));
                }
                Some(e.message.clone())
            }
            Outcome::Skipped => {
                self.expectations.creation_observed(key);
                None
            }
        }
    }

    fn delete_outcome(
        &mut self,
        key: &ObjectKey,
        flight: &InFlight,
        name: &str,
        expected: bool,
        outcome: &Outcome,
    ) -> Option<String> {
        let failed = match outcome {
            Outcome::Done(_) => {
                if let Some(involved) = &flight.involved {
                    self.queue_pending_event(key, events::successful_delete(involved, name));
                }
                return None;
            }
            Outcome::Skipped => None,
            Outcome::Failed(e) => Some(e),
        };
        if expected {
            self.expectations.deletion_observed(key);
        }
        let e = failed.filter(|e| !gone(e))?;
        if let Some(involved) = &flight.involved {
            self.queue_pending_event(key, events::failed_delete(involved, &e.message));
        }
        Some(format!("unable to delete pods: {}", e.message))
    }
}

/// The Job a created pod belongs to, from its controller reference (what the Job's own
/// events point at, minus the resourceVersion, which the recorder does not compare).
fn owning_job_reference(pod: &KubeObject) -> Option<ObjectReference> {
    let owner = pod.controller_ref()?;
    Some(ObjectReference {
        api_version: Some(owner.api_version.clone()),
        kind: Some(owner.kind.clone()),
        name: Some(owner.name.clone()),
        namespace: pod.meta().namespace.clone(),
        uid: Some(owner.uid.clone()),
        ..Default::default()
    })
}

/// NotFound, or our UID precondition failing (the pod was replaced by a namesake): either
/// way the pod we meant is gone.
fn gone(e: &ApiError) -> bool {
    e.is_not_found() || e.is_conflict()
}

/// `apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause)`.
fn namespace_terminating(e: &ApiError) -> bool {
    e.details
        .as_ref()
        .is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"))
}

/// Whether a ledger entry describes this kind of action (the ledger and the plan are
/// built together; a mismatch is a programming error).
fn purpose_fits(purpose: &Purpose, action: &Action) -> bool {
    match purpose {
        Purpose::Event => matches!(action, Action::Event(_)),
        Purpose::CreatePod => matches!(action, Action::Create { .. }),
        Purpose::DeletePod { .. } => matches!(action, Action::Delete { .. }),
        Purpose::StatusWrite => matches!(action, Action::Update { .. }),
        Purpose::PrepareDelete
        | Purpose::RemoveTrackingFinalizer { .. }
        | Purpose::OrphanFinalizer
        | Purpose::FailPod => {
            matches!(action, Action::Patch { .. })
        }
    }
}
