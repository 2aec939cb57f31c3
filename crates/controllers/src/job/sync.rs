//! `syncJob` (spec §1.4): reads the Job and its pods from the cache and decides the next
//! step as a plan. The steps keep upstream's order: skip Jobs managed elsewhere and
//! finished Jobs, read expectations before looking at pods, count, set `startTime`, fold
//! new finishes into the backoff record, decide a finishing condition (first match
//! wins), then either delete the active pods of a finishing Job or run `manageJob`, and
//! finally account for terminated pods and write the status if anything changed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use corral_api::{ObjectKey, Uid};
use corral_core::{Action, EventRecord, ObjectCache, Plan, Timestamp, clock};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::{ObjectReference, Pod};

use super::JobController;
use super::backoff::BackoffRecord;
use super::creation_failure;
use super::events;
use super::indexed::{self, OrderedIntervals};
use super::manage::{ManageDecision, manage_job};
use super::outcomes::{PlanBuilder, Purpose};
use super::pod_failure_policy::match_pod_failure_policy;
use super::pods;
use super::spec::{JobView, ViewError, managed_by_other};
use super::start_deadline;
use super::status::{
    self, CONDITION_FAILURE_TARGET, CONDITION_SUCCESS_CRITERIA_MET, new_condition,
};
use super::success_policy::match_success_policy;

/// Per-sync facts (`syncJobCtx`).
#[derive(Debug)]
pub(crate) struct SyncContext<'a> {
    pub view: JobView<'a>,
    pub now: Timestamp,
    /// The status being built (starts as the cached one).
    pub status: JobStatus,
    pub pods: Vec<&'a Pod>,
    pub active_pods: Vec<&'a Pod>,
    /// Active pods once this sync's creates and deletes are done.
    pub active: i32,
    /// Ready pods, likewise.
    pub ready: i32,
    pub terminating: i32,
    /// `uncountedTerminatedPods` as cached, before this sync adds to it.
    pub uncounted_succeeded: BTreeSet<String>,
    pub uncounted_failed: BTreeSet<String>,
    /// Pods whose finalizer removal is issued but not yet observed.
    pub expected_removed: BTreeSet<String>,
    pub succeeded: i32,
    pub failed: i32,
    pub prev_succeeded_indexes: OrderedIntervals,
    pub succeeded_indexes: OrderedIntervals,
    pub failed_indexes: Option<OrderedIntervals>,
    pub new_backoff: BackoffRecord,
    pub finished_condition: Option<JobCondition>,
    pub delayed_deletion: BTreeMap<i64, &'a Pod>,
}

impl JobController {
    pub(crate) fn sync_job(
        &mut self,
        cache: &ObjectCache,
        key: &ObjectKey,
        now: Timestamp,
    ) -> Plan {
        let mut builder = PlanBuilder::default();
        let pending = self.pending_events.remove(key).unwrap_or_default();
        builder.stage(
            pending
                .into_iter()
                .map(|e| (Action::Event(e), Purpose::Event))
                .collect(),
            false,
        );
        let Some(object) = cache.get(key) else {
            self.forget(key);
            return self.seal(key, builder, None, None);
        };
        let involved = events::job_reference(object);
        let Some(job) = object.as_typed::<Job>() else {
            return self.seal(key, builder, None, None);
        };
        if managed_by_other(job).is_some() {
            return self.seal(key, builder, None, None);
        }
        if status::is_finished(job) {
            self.backoff.remove(key);
            return self.seal(key, builder, None, None);
        }
        if self.cache_predates_own_write(key, object.revision()) {
            return self.seal(key, builder, None, None);
        }
        let view = match JobView::new(object) {
            Ok(view) => view,
            Err(error) => {
                builder.stage(
                    vec![(
                        Action::Event(view_error_event(&involved, error)),
                        Purpose::Event,
                    )],
                    false,
                );
                return self.seal(key, builder, None, None);
            }
        };
        // Expectations first: a pod added after this point is simply seen next time. Pod
        // creates still out in a detached plan count as unfulfilled expectations.
        let satisfied = self.expectations.satisfied(key, now) && !self.detach_pinned(key, now);
        if let Some(expiry) = self.expectations.expires_in(key, now) {
            // A lost watch event must not wedge the Job until some other event.
            builder.requeue_at_most(expiry);
        }
        let pods = owned_pods(cache, &view);
        let expected_removed = self.finalizer_expectations.expected(key);
        let (mut ctx, new_succeeded, new_failed) =
            SyncContext::new(view, pods, expected_removed, now);
        ctx.new_backoff = self.backoff.new_record(key, &new_succeeded, &new_failed);
        let guard_events = self.creation_condition(key, &mut ctx, &involved);
        let deadline_requeue = decide_failure(&mut ctx);
        let creation_deadline = self
            .config
            .guards
            .creation_failure_deadline_for(ctx.view.job);
        let creation_requeue = creation_failure::decide_deadline(&mut ctx, creation_deadline);
        if ctx.view.indexed {
            decide_indexed(&mut ctx);
        }
        let status_first = self.status_first.contains(key);
        let (decision, mut job_events) =
            self.decide_pods(&mut ctx, satisfied, status_first, &involved);
        job_events.splice(0..0, guard_events);
        let backoff = ctx.new_backoff;
        self.assemble(&mut builder, key, ctx, decision, job_events, &involved);
        for after in [deadline_requeue, creation_requeue].into_iter().flatten() {
            builder.requeue_at_most(after);
        }
        self.seal(key, builder, Some(involved), Some(backoff))
    }

    /// Guard 5: the `PodCreationFailing` condition from the latest creates (nothing when
    /// the guard is off).
    fn creation_condition(
        &mut self,
        key: &ObjectKey,
        ctx: &mut SyncContext,
        involved: &ObjectReference,
    ) -> Vec<EventRecord> {
        if !self.config.guards.tracks_creation_failures() {
            return Vec::new();
        }
        if ctx.view.suspended {
            self.creation.remove(key);
        }
        let deadline = self
            .config
            .guards
            .creation_failure_deadline_for(ctx.view.job);
        creation_failure::reconcile_condition(ctx, self.creation.get(key), deadline, involved)
            .into_iter()
            .collect()
    }

    /// Guard 5: active pods past their start deadline are failed and deleted instead of
    /// running `manageJob` (deletes and creates never share a sync). Returns whether it
    /// took over the sync.
    fn start_deadline_step<'a>(
        &self,
        ctx: &mut SyncContext<'a>,
        decision: &mut PodDecision<'a>,
        job_events: &mut Vec<EventRecord>,
        involved: &ObjectReference,
    ) -> bool {
        let Some(deadline) = self.config.guards.start_deadline_for(ctx.view.job) else {
            return false;
        };
        let unscheduled = self.config.guards.start_deadline_unscheduled;
        let check = start_deadline::check(&ctx.pods, deadline, unscheduled, ctx.now);
        decision.start_deadline_requeue = check.next;
        if !check.has_work() {
            return false;
        }
        // Failed pods are terminal: no longer active, never terminating.
        ctx.active = ctx.active.saturating_sub(count(check.expired.iter()));
        for expired in &check.expired {
            let message = start_deadline::pod_message(deadline, &expired.waiting_for);
            job_events.push(events::warning(
                involved,
                start_deadline::REASON_START_DEADLINE_EXCEEDED,
                start_deadline::job_event_message(expired.pod, deadline, &expired.waiting_for),
            ));
            decision.start_failures.push((expired.pod, message));
        }
        decision.start_deletes = check.undeleted;
        true
    }

    /// Steps 11–12: delete the active pods of a finishing Job, or run `manageJob`, test
    /// completion and reconcile the `Suspended` condition. The counters in `ctx` become
    /// those after the pod calls: the status write runs only if they all succeed.
    fn decide_pods<'a>(
        &self,
        ctx: &mut SyncContext<'a>,
        satisfied: bool,
        status_first: bool,
        involved: &ObjectReference,
    ) -> (PodDecision<'a>, Vec<EventRecord>) {
        let mut decision = PodDecision {
            status_first,
            ..PodDecision::default()
        };
        let mut job_events = Vec::new();
        if ctx.finished_condition.is_some() {
            // The deletes keep the finalizers: the pods are counted as failed.
            decision.finishing_deletes = ctx.active_pods.clone();
            ctx.count_deletes(&decision.finishing_deletes);
            if !satisfied {
                // Pods not in the cache yet may still appear; decide again later.
                ctx.finished_condition = None;
            }
            return (decision, job_events);
        }
        let manage_called = satisfied && !ctx.view.is_being_deleted();
        if manage_called
            && !ctx.view.suspended
            && self.start_deadline_step(ctx, &mut decision, &mut job_events, involved)
        {
            return (decision, job_events);
        }
        if manage_called {
            decision.manage = manage_job(&self.config, ctx);
            ctx.count_deletes(&decision.manage.deletes);
            if !status_first {
                ctx.active = ctx
                    .active
                    .saturating_add(count(decision.manage.creates.iter()));
            }
        }
        let complete = match ctx.view.completions {
            None => ctx.succeeded > 0 && ctx.active == 0,
            Some(completions) => ctx.succeeded >= completions && ctx.active == 0,
        };
        if complete {
            ctx.finished_condition = Some(new_condition(
                CONDITION_SUCCESS_CRITERIA_MET,
                "True",
                status::REASON_COMPLETIONS_REACHED,
                status::MESSAGE_COMPLETIONS_REACHED,
                ctx.now,
            ));
        } else if manage_called {
            job_events.extend(reconcile_suspended(ctx, involved));
        }
        (decision, job_events)
    }
}

/// The pod side of a sync.
#[derive(Debug, Default)]
pub(crate) struct PodDecision<'a> {
    /// Active pods of a finishing Job to delete (finalizers kept).
    pub finishing_deletes: Vec<&'a Pod>,
    pub manage: ManageDecision<'a>,
    /// The last creates of this Job failed: write the status before creating.
    pub status_first: bool,
    /// Guard 5: pods to fail for their start deadline, with their status message.
    pub start_failures: Vec<(&'a Pod, String)>,
    /// Guard 5: pods failed for their start deadline earlier and not deleted yet.
    pub start_deletes: Vec<&'a Pod>,
    /// Guard 5: when the next not-started pod reaches its start deadline.
    pub start_deadline_requeue: Option<Duration>,
}

impl<'a> SyncContext<'a> {
    /// Step 6–8: counts, the newly finished pods, and `startTime`.
    fn new(
        view: JobView<'a>,
        pods: Vec<&'a Pod>,
        expected_removed: BTreeSet<String>,
        now: Timestamp,
    ) -> (SyncContext<'a>, Vec<&'a Pod>, Vec<&'a Pod>) {
        let mut status = view.status().cloned().unwrap_or_default();
        let uncounted = status
            .uncounted_terminated_pods
            .get_or_insert_with(UncountedTerminatedPods::default);
        let uncounted_succeeded: BTreeSet<String> =
            uncounted.succeeded.iter().flatten().cloned().collect();
        let uncounted_failed: BTreeSet<String> =
            uncounted.failed.iter().flatten().cloned().collect();
        let active_pods: Vec<&Pod> = pods
            .iter()
            .copied()
            .filter(|p| pods::is_active(p))
            .collect();
        let ready = count(active_pods.iter().filter(|p| pods::is_ready(p)));
        let terminating = count(pods.iter().filter(|p| pods::is_terminating(p)));
        let mut ctx = SyncContext {
            now,
            status,
            active: count(active_pods.iter()),
            active_pods,
            ready,
            terminating,
            uncounted_succeeded,
            uncounted_failed,
            expected_removed,
            succeeded: 0,
            failed: 0,
            prev_succeeded_indexes: OrderedIntervals::default(),
            succeeded_indexes: OrderedIntervals::default(),
            failed_indexes: None,
            new_backoff: BackoffRecord::default(),
            finished_condition: None,
            delayed_deletion: BTreeMap::new(),
            pods,
            view,
        };
        let (new_succeeded, new_failed) = ctx.new_finished_pods();
        let non_ignored = count(
            new_failed
                .iter()
                .filter(|p| match_pod_failure_policy(ctx.view.pod_failure_policy, p).count_failed),
        );
        ctx.succeeded = ctx
            .status
            .succeeded
            .unwrap_or(0)
            .saturating_add(count(new_succeeded.iter()))
            .saturating_add(count(ctx.uncounted_succeeded.iter()));
        ctx.failed = ctx
            .status
            .failed
            .unwrap_or(0)
            .saturating_add(non_ignored)
            .saturating_add(count(ctx.uncounted_failed.iter()));
        // Set even if no pod can be created, so activeDeadlineSeconds still applies.
        if ctx.status.start_time.is_none() && !ctx.view.suspended {
            ctx.status.start_time = Some(status::status_time(now));
        }
        (ctx, new_succeeded, new_failed)
    }

    /// Counts deletes as done (`active -= deleted; terminating += deleted`).
    fn count_deletes(&mut self, deleted: &[&Pod]) {
        self.active = self.active.saturating_sub(count(deleted.iter()));
        self.ready = self
            .ready
            .saturating_sub(count(deleted.iter().filter(|p| pods::is_ready(p))));
        self.terminating = self.terminating.saturating_add(count(deleted.iter()));
    }

    /// `getNewFinishedPods`: terminated pods still holding the finalizer, not in the
    /// uncounted lists and not awaiting finalizer removal (Indexed: valid index only).
    fn new_finished_pods(&self) -> (Vec<&'a Pod>, Vec<&'a Pod>) {
        let completions = self.view.completions_or_zero();
        let candidates = self.pods.iter().copied().filter(|p| {
            pods::has_tracking_finalizer(p)
                && !self.expected_removed.contains(pods::uid(p))
                && (!self.view.indexed || indexed::valid_index(p, completions).is_some())
        });
        let mut succeeded = Vec::new();
        let mut failed = Vec::new();
        for pod in candidates {
            let uid = pods::uid(pod);
            if pods::is_succeeded(pod) && !self.uncounted_succeeded.contains(uid) {
                succeeded.push(pod);
            } else if pods::is_failed(pod, self.view.only_replace_failed)
                && !self.uncounted_failed.contains(uid)
            {
                failed.push(pod);
            }
        }
        (succeeded, failed)
    }
}

/// Step 10.1–10.6: the first finishing condition that applies. Returns when to sync
/// again for `activeDeadlineSeconds` if no condition applies yet.
fn decide_failure(ctx: &mut SyncContext) -> Option<Duration> {
    let job = ctx.view.job;
    ctx.finished_condition = status::true_condition(job, CONDITION_SUCCESS_CRITERIA_MET).cloned();
    if ctx.finished_condition.is_none() {
        if let Some(target) = status::true_condition(job, CONDITION_FAILURE_TARGET) {
            let reason = target.reason.as_deref().unwrap_or("");
            let message = target.message.as_deref().unwrap_or("");
            ctx.finished_condition = Some(new_condition(
                status::CONDITION_FAILED,
                "True",
                reason,
                message,
                ctx.now,
            ));
        } else if let Some(message) = fail_job_message(ctx) {
            ctx.finished_condition = Some(failure_target(
                status::REASON_POD_FAILURE_POLICY,
                &message,
                ctx.now,
            ));
        }
    }
    if ctx.finished_condition.is_some() {
        return None;
    }
    let view = &ctx.view;
    if ctx.failed > view.backoff_limit || past_backoff_limit_on_failure(ctx) {
        ctx.finished_condition = Some(failure_target(
            status::REASON_BACKOFF_LIMIT_EXCEEDED,
            status::MESSAGE_BACKOFF_LIMIT_EXCEEDED,
            ctx.now,
        ));
        return None;
    }
    let (Some(deadline), false) = (view.active_deadline_seconds, view.suspended) else {
        return None;
    };
    let started = ctx.status.start_time.as_ref().map_or(ctx.now, |t| t.0);
    let allowed = Duration::from_secs(deadline.max(0).unsigned_abs());
    let elapsed = clock::since(ctx.now, started);
    if elapsed >= allowed {
        ctx.finished_condition = Some(failure_target(
            status::REASON_DEADLINE_EXCEEDED,
            status::MESSAGE_DEADLINE_EXCEEDED,
            ctx.now,
        ));
        return None;
    }
    Some(allowed - elapsed)
}

/// Step 10.7: per-index limits and the success policy of Indexed Jobs.
fn decide_indexed(ctx: &mut SyncContext) {
    let (previous, current) = indexed::calculate_succeeded_indexes(&ctx.view, &ctx.pods);
    ctx.prev_succeeded_indexes = previous;
    ctx.succeeded_indexes = current;
    ctx.succeeded = i32::try_from(ctx.succeeded_indexes.total()).unwrap_or(i32::MAX);
    let completions = ctx.view.completions_or_zero();
    if ctx.view.backoff_limit_per_index.is_some() {
        let failed = indexed::calculate_failed_indexes(&ctx.view, &ctx.pods);
        if ctx.finished_condition.is_none() {
            let failed_total = failed.total();
            if ctx
                .view
                .max_failed_indexes
                .is_some_and(|max| failed_total > i64::from(max))
            {
                ctx.finished_condition = Some(failure_target(
                    status::REASON_MAX_FAILED_INDEXES_EXCEEDED,
                    status::MESSAGE_MAX_FAILED_INDEXES_EXCEEDED,
                    ctx.now,
                ));
            } else if failed_total > 0
                && failed_total + ctx.succeeded_indexes.total() >= completions
            {
                ctx.finished_condition = Some(failure_target(
                    status::REASON_FAILED_INDEXES,
                    status::MESSAGE_FAILED_INDEXES,
                    ctx.now,
                ));
            }
        }
        ctx.delayed_deletion = indexed::pods_with_delayed_deletion_per_index(
            &ctx.view,
            &ctx.pods,
            &ctx.active_pods,
            &ctx.succeeded_indexes,
            &failed,
            &ctx.expected_removed,
        );
        ctx.failed_indexes = Some(failed);
    }
    if ctx.finished_condition.is_some() {
        return;
    }
    if let Some(message) =
        match_success_policy(ctx.view.success_policy, completions, &ctx.succeeded_indexes)
    {
        ctx.finished_condition = Some(new_condition(
            CONDITION_SUCCESS_CRITERIA_MET,
            "True",
            status::REASON_SUCCESS_POLICY,
            &message,
            ctx.now,
        ));
    }
}

/// `newFailureCondition` with the terminal condition delayed (current gates):
/// `FailureTarget` first, `Failed` once every pod is accounted for.
pub(crate) fn failure_target(reason: &str, message: &str, now: Timestamp) -> JobCondition {
    new_condition(CONDITION_FAILURE_TARGET, "True", reason, message, now)
}

/// `getFailJobMessage`: the message of the first failed pod matching a `FailJob` rule.
fn fail_job_message(ctx: &SyncContext) -> Option<String> {
    let policy = ctx.view.pod_failure_policy?;
    ctx.pods
        .iter()
        .filter(|p| pods::is_failed(p, ctx.view.only_replace_failed))
        .find_map(|p| match_pod_failure_policy(Some(policy), p).fail_job_message)
}

/// `pastBackoffLimitOnFailure`: with `restartPolicy: OnFailure` the kubelet restarts
/// containers in place, so the restarts of pods still Pending or Running stand in for
/// failures: at least `backoffLimit` of them (any, when the limit is 0) fail the Job.
fn past_backoff_limit_on_failure(ctx: &SyncContext) -> bool {
    if !ctx.view.restart_on_failure {
        return false;
    }
    let restarts: i64 = ctx
        .pods
        .iter()
        .filter(|p| matches!(pods::phase(p), pods::PHASE_RUNNING | pods::PHASE_PENDING))
        .map(|p| pods::restart_count_sum(p))
        .sum();
    let limit = i64::from(ctx.view.backoff_limit);
    if limit == 0 {
        restarts > 0
    } else {
        restarts >= limit
    }
}

/// The `Suspended` condition after `manageJob` ran: `JobSuspended`, or `JobResumed` with
/// `startTime` reset (the deadline counts continuous activity). Returns the event.
fn reconcile_suspended(ctx: &mut SyncContext, involved: &ObjectReference) -> Option<EventRecord> {
    let now = ctx.now;
    let list = ctx.status.conditions.get_or_insert_with(Vec::new);
    if ctx.view.suspended {
        let changed = status::ensure_condition(
            list,
            status::CONDITION_SUSPENDED,
            "True",
            status::REASON_JOB_SUSPENDED,
            status::MESSAGE_JOB_SUSPENDED,
            now,
        );
        return changed.then(|| {
            events::normal(
                involved,
                events::REASON_SUSPENDED,
                status::MESSAGE_JOB_SUSPENDED,
            )
        });
    }
    let changed = status::ensure_condition(
        list,
        status::CONDITION_SUSPENDED,
        "False",
        status::REASON_JOB_RESUMED,
        status::MESSAGE_JOB_RESUMED,
        now,
    );
    if !changed {
        return None;
    }
    ctx.status.start_time = Some(status::status_time(now));
    Some(events::normal(
        involved,
        events::REASON_RESUMED,
        status::MESSAGE_JOB_RESUMED,
    ))
}

/// The Job's pods: dependents whose controller reference is this Job and that match the
/// selector. Only the owner index is read, so the cost does not grow with the namespace.
fn owned_pods<'a>(cache: &'a ObjectCache, view: &JobView) -> Vec<&'a Pod> {
    let uid = view.uid();
    if uid.is_empty() {
        return Vec::new();
    }
    cache
        .dependents_of(&Uid(uid.to_string()))
        .filter_map(|o| o.as_typed::<Pod>())
        .filter(|p| p.metadata.namespace.as_deref().unwrap_or("") == view.namespace())
        .filter(|p| {
            p.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.controller == Some(true) && r.uid == uid)
        })
        .filter(|p| view.selector.matches_opt(p.metadata.labels.as_ref()))
        .collect()
}

fn view_error_event(involved: &ObjectReference, error: ViewError) -> EventRecord {
    match error {
        ViewError::UnknownCompletionMode => events::warning(
            involved,
            events::REASON_UNKNOWN_COMPLETION_MODE,
            events::MESSAGE_UNKNOWN_COMPLETION_MODE,
        ),
        ViewError::Invalid(message) => {
            events::warning(involved, events::REASON_INVALID_JOB_SPEC, message)
        }
    }
}

pub(crate) fn count<T>(items: impl Iterator<Item = T>) -> i32 {
    i32::try_from(items.count()).unwrap_or(i32::MAX)
}
