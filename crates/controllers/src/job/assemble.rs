//! Turning a sync's decisions into a plan. Stages, in order:
//!
//! 1. pending pod-control events;
//! 2. pod deletes (finalizer PATCHes first for suspend/surplus deletes), or pod creates in
//!    slow-start batches of 1, 2, 4, …; each stage stops the plan when a call fails;
//! 3. the status PUT, which therefore runs only if every pod call before it succeeded and
//!    may count on their effect, as upstream's status does (`active` after creates and
//!    deletes, `terminating` after deletes); it stops the plan on a conflict;
//! 4. Job events (Suspended, Completed, BackoffLimitExceeded, …), only after their status;
//! 5. tracking-finalizer PATCHes, only after the status recording those pods;
//! 6. creates again, instead of in 2, when the last creates of this Job failed: then the
//!    status goes first with the facts (so `startTime` is recorded while every create
//!    fails), and `active` never counts a pod that was not created.
//!
//! With guard 1's detached creates (`non_blocking_creates`) the creates always go last,
//! after a detach marker, so a driver can run them without holding the worker; the status
//! before them still counts them in `active` unless this Job's last creates failed. Guard
//! 5's start-deadline failures (status patch, then a Background DELETE) take the place of
//! step 2's pod calls in the sync that finds them.
//!
//! Expectations are raised here, before the plan runs, as upstream raises them before
//! its API calls; `handle_outcomes` lowers them for calls that failed or never ran.

use corral_api::ObjectKey;
use corral_core::{Action, EventRecord, PatchBody, Propagation, Subresource, Timestamp};
use k8s_openapi::api::batch::v1::JobCondition;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};

use super::JobController;
use super::events;
use super::manage::ManageDecision;
use super::outcomes::{PlanBuilder, Purpose};
use super::pods;
use super::start_deadline;
use super::status;
use super::sync::{PodDecision, SyncContext};
use super::template::pod_for;
use super::tracking::{Tracking, track_status};

impl JobController {
    pub(crate) fn assemble<'a>(
        &mut self,
        builder: &mut PlanBuilder,
        key: &ObjectKey,
        mut ctx: SyncContext<'a>,
        decision: PodDecision<'a>,
        mut job_events: Vec<EventRecord>,
        involved: &ObjectReference,
    ) {
        let now = ctx.now;
        let manage = &decision.manage;
        builder.stage(
            decision
                .finishing_deletes
                .iter()
                .map(|p| delete_action(p, false))
                .collect(),
            true,
        );
        self.stage_start_deadline(builder, key, &decision, now);
        self.stage_manage_deletes(builder, key, &manage.deletes, now);
        let detach = self.config.guards.non_blocking_creates && !manage.creates.is_empty();
        let creates_last = decision.status_first || detach;
        if !creates_last {
            self.stage_creates(builder, key, &ctx, manage, now);
        }
        ctx.status.active = Some(ctx.active);
        ctx.status.ready = Some(ctx.ready);
        ctx.status.terminating = Some(ctx.terminating);
        let tracking = track_status(&mut ctx, self.config.max_uncounted_pods);
        if let Some(finished) = &tracking.finished {
            job_events.extend(finish_events(&ctx, finished, involved));
        }
        let new_status = status::normalize(ctx.status.clone());
        if status::status_differs(ctx.view.status(), &new_status) {
            let mut job = ctx.view.job.clone();
            job.status = Some(new_status);
            let action = Action::Update {
                object: job.into(),
                subresource: Subresource::Status,
            };
            builder.stage(vec![(action, Purpose::StatusWrite)], true);
        }
        builder.stage(
            job_events
                .into_iter()
                .map(|e| (Action::Event(e), Purpose::Event))
                .collect(),
            false,
        );
        self.stage_finalizer_removals(builder, key, &tracking);
        if creates_last {
            if detach {
                builder.detach_rest();
            }
            self.stage_creates(builder, key, &ctx, manage, now);
        }
        if let Some(after) = decision.start_deadline_requeue {
            builder.requeue_at_most(after);
        }
        let follow_up = !decision.finishing_deletes.is_empty() || !manage.deletes.is_empty();
        if follow_up {
            // The pods' watch events bring the next step; this is a backstop.
            builder.requeue_at_most(self.config.sync_batch_period);
        }
        if let Some(after) = manage.requeue_after {
            builder.requeue_at_most(after);
        }
    }

    /// Guard 5: expectations raised, the `Failed` status patches (a failure stops the
    /// plan: a pod that changed meanwhile is not deleted), then Background DELETEs that keep
    /// the tracking finalizer, so each pod is counted as failed exactly once.
    fn stage_start_deadline(
        &mut self,
        builder: &mut PlanBuilder,
        key: &ObjectKey,
        decision: &PodDecision,
        now: Timestamp,
    ) {
        let deletes = decision.start_failures.len() + decision.start_deletes.len();
        if deletes == 0 {
            return;
        }
        self.expectations
            .expect_deletions(key.clone(), deletes, now);
        let patches = decision
            .start_failures
            .iter()
            .map(|(pod, message)| {
                let action = start_deadline::fail_pod_action(pod, message, now);
                (action, Purpose::FailPod)
            })
            .collect();
        builder.stage(patches, true);
        let pods = decision
            .start_failures
            .iter()
            .map(|(pod, _)| *pod)
            .chain(decision.start_deletes.iter().copied());
        builder.stage(pods.map(background_delete_action).collect(), true);
        // The pods' watch events bring the accounting; this is a backstop.
        builder.requeue_at_most(self.config.sync_batch_period);
    }

    /// `deleteJobPods`: expectations raised, then finalizer PATCHes (a failure stops the
    /// plan: no pod is deleted while it would still be counted), then the DELETEs.
    fn stage_manage_deletes(
        &mut self,
        builder: &mut PlanBuilder,
        key: &ObjectKey,
        deletes: &[&Pod],
        now: Timestamp,
    ) {
        if deletes.is_empty() {
            return;
        }
        self.expectations
            .expect_deletions(key.clone(), deletes.len(), now);
        let patches = deletes
            .iter()
            .filter(|p| pods::has_tracking_finalizer(p))
            .map(|p| (remove_finalizer_action(p), Purpose::PrepareDelete))
            .collect();
        builder.stage(patches, true);
        builder.stage(
            deletes.iter().map(|p| delete_action(p, true)).collect(),
            true,
        );
    }

    /// `removeTrackingFinalizerFromPods`: expectations first, then the PATCHes.
    fn stage_finalizer_removals(
        &mut self,
        builder: &mut PlanBuilder,
        key: &ObjectKey,
        tracking: &Tracking,
    ) {
        if tracking.reached_max_uncounted || !tracking.finalizer_removals.is_empty() {
            // The next step (moving counts, more pods) follows the watch events; the
            // requeue is a backstop should one be lost.
            builder.requeue_at_most(self.config.sync_batch_period);
        }
        let uids = tracking
            .finalizer_removals
            .iter()
            .map(|p| pods::uid(p).to_string());
        self.finalizer_expectations.expect(key.clone(), uids);
        let patches = tracking
            .finalizer_removals
            .iter()
            .map(|p| {
                let purpose = Purpose::RemoveTrackingFinalizer {
                    uid: pods::uid(p).to_string(),
                };
                (remove_finalizer_action(p), purpose)
            })
            .collect();
        builder.stage(patches, false);
    }

    /// Creates in slow-start batches of 1, 2, 4, …: a batch with a failure skips the
    /// rest.
    fn stage_creates(
        &mut self,
        builder: &mut PlanBuilder,
        key: &ObjectKey,
        ctx: &SyncContext,
        manage: &ManageDecision,
        now: Timestamp,
    ) {
        if manage.creates.is_empty() {
            return;
        }
        self.expectations
            .expect_creations(key.clone(), manage.creates.len(), now);
        let mut pods_to_create = manage.creates.iter().map(|index| {
            let replaced = index.and_then(|i| ctx.delayed_deletion.get(&i).copied());
            let object = pod_for(&ctx.view, *index, replaced);
            (Action::Create { object }, Purpose::CreatePod)
        });
        let mut remaining = manage.creates.len();
        let mut batch = remaining.min(self.config.slow_start_initial_batch_size.max(1));
        while remaining > 0 {
            builder.stage(pods_to_create.by_ref().take(batch).collect(), true);
            remaining -= batch;
            batch = (2 * batch).min(remaining);
        }
    }
}

/// The Job's finish events (`recordJobFinished`).
pub(crate) fn finish_events(
    ctx: &SyncContext,
    finished: &JobCondition,
    involved: &ObjectReference,
) -> Vec<EventRecord> {
    if finished.type_ != status::CONDITION_COMPLETE {
        let reason = finished.reason.as_deref().unwrap_or("");
        return vec![events::warning(
            involved,
            reason,
            finished.message.clone().unwrap_or_default(),
        )];
    }
    let mut list = Vec::new();
    let succeeded = ctx.status.succeeded.unwrap_or(0);
    if ctx.view.completions.is_some_and(|c| succeeded > c) {
        list.push(events::warning(
            involved,
            events::REASON_TOO_MANY_SUCCEEDED_PODS,
            events::MESSAGE_TOO_MANY_SUCCEEDED_PODS,
        ));
    }
    list.push(events::normal(
        involved,
        events::REASON_COMPLETED,
        events::MESSAGE_COMPLETED,
    ));
    list
}

fn delete_action(pod: &Pod, expected: bool) -> (Action, Purpose) {
    let uid = corral_api::Uid(pods::uid(pod).to_string());
    let action = Action::delete(pod_key(pod), Some(uid), None);
    let purpose = Purpose::DeletePod {
        name: pods::name(pod).to_string(),
        expected,
    };
    (action, purpose)
}

/// A DELETE with Background propagation and the pod's UID, counted in the expectations.
fn background_delete_action(pod: &Pod) -> (Action, Purpose) {
    let uid = corral_api::Uid(pods::uid(pod).to_string());
    let action = Action::delete(pod_key(pod), Some(uid), Some(Propagation::Background));
    let purpose = Purpose::DeletePod {
        name: pods::name(pod).to_string(),
        expected: true,
    };
    (action, purpose)
}

/// `removeTrackingFinalizerPatch`.
pub(crate) fn remove_finalizer_action(pod: &Pod) -> Action {
    Action::Patch {
        key: pod_key(pod),
        subresource: Subresource::Main,
        patch: PatchBody::Strategic(serde_json::json!({
            "metadata": {"$deleteFromPrimitiveList/finalizers": [pods::JOB_TRACKING_FINALIZER]}
        })),
    }
}

fn pod_key(pod: &Pod) -> ObjectKey {
    ObjectKey::new(
        corral_api::ResourceKind::Pod,
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pods::name(pod),
    )
}
