//! Finalizer-based accounting (`trackJobStatusAndRemoveFinalizers` and helpers).
//!
//! Every pod the controller creates carries `batch.kubernetes.io/job-tracking`, so it
//! cannot vanish before it was counted. A terminated pod's UID first goes into
//! `status.uncountedTerminatedPods` (durably, with the status write), then its finalizer
//! is removed, then, once the removal is certain, the UID moves from the uncounted list
//! into `succeeded`/`failed`. Each pod is counted exactly once even if the controller
//! restarts between the steps. Indexed Jobs record succeeded indexes in
//! `completedIndexes` instead of UIDs. At most `max_uncounted_pods` UIDs are in flight.
//!
//! Upstream does the three steps in one sync with two status writes; this core does the
//! first two in one plan (status write, then finalizer PATCHes, which the failed write
//! skips) and the count move in the next reconcile, which sees the finalizers gone (or
//! expected gone) and writes the moved counts together with any terminal condition.

use std::collections::BTreeSet;

use k8s_openapi::api::batch::v1::{JobCondition, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;

use super::indexed::{completion_index, valid_index};
use super::pod_failure_policy::match_pod_failure_policy;
use super::pods;
use super::status::{
    CONDITION_COMPLETE, CONDITION_FAILED, CONDITION_FAILURE_TARGET, CONDITION_SUCCESS_CRITERIA_MET,
    conditions, ensure_condition, find_condition, new_condition,
};
use super::sync::SyncContext;

/// What the accounting step decided besides the status it edited in place.
#[derive(Debug, Default)]
pub(crate) struct Tracking<'a> {
    /// Pods whose tracking finalizer is to be removed after the status write.
    pub finalizer_removals: Vec<&'a Pod>,
    /// The uncounted lists are full; the rest waits for the next sync.
    pub reached_max_uncounted: bool,
    /// The terminal condition (`Complete` or `Failed`) this write adds.
    pub finished: Option<JobCondition>,
}

/// `trackJobStatusAndRemoveFinalizers`, minus the writes.
pub(crate) fn track_status<'a>(ctx: &mut SyncContext<'a>, max_uncounted: usize) -> Tracking<'a> {
    let mut candidates = ctx.pods.clone();
    if ctx.view.indexed {
        // Completed indexes are introduced in order.
        candidates.sort_by_key(|p| completion_index(p).unwrap_or(-1));
    }
    let with_finalizer: BTreeSet<String> = candidates
        .iter()
        .filter(|p| pods::has_tracking_finalizer(p) && !ctx.expected_removed.contains(pods::uid(p)))
        .map(|p| pods::uid(p).to_string())
        .collect();
    clean_uncounted_without_finalizers(ctx, &with_finalizer);

    let mut tracking = Tracking::default();
    let mut new_indexes = Vec::new();
    for pod in candidates {
        if !pods::has_tracking_finalizer(pod) || ctx.expected_removed.contains(pods::uid(pod)) {
            continue; // Processed by an earlier sync.
        }
        let failed = pods::is_failed(pod, ctx.view.only_replace_failed);
        if !can_remove_finalizer(ctx, pod, failed) {
            continue;
        }
        tracking.finalizer_removals.push(pod);
        record_terminated(ctx, pod, failed, &mut new_indexes);
        let (succeeded, failed) = uncounted_lengths(ctx);
        if new_indexes.len() + succeeded + failed >= max_uncounted {
            tracking.reached_max_uncounted = true;
            break;
        }
    }
    if ctx.view.indexed {
        record_indexes(ctx, new_indexes);
    }
    record_interim_condition(ctx);
    if !tracking.reached_max_uncounted && tracking.finalizer_removals.is_empty() {
        tracking.finished = enact_job_finished(ctx);
    }
    tracking
}

/// Adds one terminated (or, when the Job is failing, doomed) pod to the uncounted lists.
fn record_terminated(ctx: &mut SyncContext, pod: &Pod, failed: bool, new_indexes: &mut Vec<i64>) {
    let uid = pods::uid(pod).to_string();
    let completions = ctx.view.completions_or_zero();
    if pods::is_succeeded(pod) && !ctx.uncounted_failed.contains(&uid) {
        if ctx.view.indexed {
            // The completion index is enough to avoid recounting; no UID needed.
            if let Some(index) =
                valid_index(pod, completions).filter(|i| !ctx.prev_succeeded_indexes.has(*i))
            {
                new_indexes.push(index);
            }
        } else if !ctx.uncounted_succeeded.contains(&uid) {
            uncounted(ctx)
                .succeeded
                .get_or_insert_with(Vec::new)
                .push(uid);
        }
        return;
    }
    // When the Job is failing, every pod not terminated yet is counted as failed.
    let failing = ctx
        .finished_condition
        .as_ref()
        .is_some_and(|c| !is_success_criteria_met(c));
    if !(failed || failing) || ctx.uncounted_failed.contains(&uid) {
        return;
    }
    if ctx.view.indexed && valid_index(pod, completions).is_none() {
        return;
    }
    if match_pod_failure_policy(ctx.view.pod_failure_policy, pod).count_failed {
        uncounted(ctx).failed.get_or_insert_with(Vec::new).push(uid);
    }
}

/// `canRemoveFinalizer`: the Job is being deleted or finishing, the pod succeeded, or it
/// failed and is not the pod an index keeps until its replacement exists.
fn can_remove_finalizer(ctx: &SyncContext, pod: &Pod, failed: bool) -> bool {
    if ctx.view.is_being_deleted() || ctx.finished_condition.is_some() || pods::is_succeeded(pod) {
        return true;
    }
    if !failed {
        return false;
    }
    // With a per-index limit, the index's last failed pod waits for its replacement.
    let delayed = ctx.view.backoff_limit_per_index.is_some()
        && completion_index(pod)
            .and_then(|index| ctx.delayed_deletion.get(&index))
            .is_some_and(|p| pods::uid(p) == pods::uid(pod));
    !delayed
}

/// `cleanUncountedPodsWithoutFinalizers`: UIDs whose finalizer is gone move into the
/// counters.
fn clean_uncounted_without_finalizers(ctx: &mut SyncContext, with_finalizer: &BTreeSet<String>) {
    let status = &mut ctx.status;
    let list = status
        .uncounted_terminated_pods
        .get_or_insert_with(UncountedTerminatedPods::default);
    let moved_succeeded = retain_with_finalizer(&mut list.succeeded, with_finalizer);
    let moved_failed = retain_with_finalizer(&mut list.failed, with_finalizer);
    status.succeeded = Some(
        status
            .succeeded
            .unwrap_or(0)
            .saturating_add(moved_succeeded),
    );
    status.failed = Some(status.failed.unwrap_or(0).saturating_add(moved_failed));
}

/// Keeps the UIDs that still have a finalizer; returns how many left.
fn retain_with_finalizer(list: &mut Option<Vec<String>>, with_finalizer: &BTreeSet<String>) -> i32 {
    let Some(uids) = list else {
        return 0;
    };
    let before = uids.len();
    uids.retain(|uid| with_finalizer.contains(uid));
    i32::try_from(before - uids.len()).unwrap_or(i32::MAX)
}

/// The succeeded and failed indexes of an Indexed Job, as counters and strings.
fn record_indexes(ctx: &mut SyncContext, mut new_indexes: Vec<i64>) {
    new_indexes.sort_unstable();
    ctx.succeeded_indexes = ctx.succeeded_indexes.with_ordered_indexes(new_indexes);
    ctx.status.succeeded = Some(i32::try_from(ctx.succeeded_indexes.total()).unwrap_or(i32::MAX));
    ctx.status.completed_indexes = Some(ctx.succeeded_indexes.to_string());
    ctx.status.failed_indexes = ctx.failed_indexes.as_ref().map(|f| f.to_string());
}

/// Writes the interim `FailureTarget` / `SuccessCriteriaMet` condition and turns the
/// finishing condition into the terminal one that follows once everything is counted.
fn record_interim_condition(ctx: &mut SyncContext) {
    let Some(condition) = ctx.finished_condition.clone() else {
        return;
    };
    let reason = condition.reason.clone().unwrap_or_default();
    let message = condition.message.clone().unwrap_or_default();
    let list = ctx.status.conditions.get_or_insert_with(Vec::new);
    if condition.type_ == CONDITION_FAILURE_TARGET {
        list.push(condition);
        ctx.finished_condition = Some(new_condition(
            CONDITION_FAILED,
            "True",
            &reason,
            &message,
            ctx.now,
        ));
    } else if is_success_criteria_met(&condition) {
        let present = find_condition(list, CONDITION_SUCCESS_CRITERIA_MET)
            .is_some_and(|c| c.status == "True");
        if !present {
            list.push(condition);
        }
        ctx.finished_condition = Some(new_condition(
            CONDITION_COMPLETE,
            "True",
            &reason,
            &message,
            ctx.now,
        ));
    }
}

/// `enactJobFinished`: adds the terminal condition once nothing is uncounted and no pod
/// is terminating (`delayTerminalCondition`).
fn enact_job_finished(ctx: &mut SyncContext) -> Option<JobCondition> {
    let condition = ctx.finished_condition.clone()?;
    let (succeeded, failed) = uncounted_lengths(ctx);
    if succeeded + failed > 0 || ctx.terminating > 0 {
        return None;
    }
    let reason = condition.reason.as_deref().unwrap_or("");
    let message = condition.message.as_deref().unwrap_or("");
    let list = ctx.status.conditions.get_or_insert_with(Vec::new);
    ensure_condition(
        list,
        &condition.type_,
        &condition.status,
        reason,
        message,
        ctx.now,
    );
    let added = find_condition(conditions(&ctx.status), &condition.type_).cloned();
    if condition.type_ == CONDITION_COMPLETE {
        ctx.status.completion_time = added.as_ref().and_then(|c| c.last_transition_time.clone());
    }
    added
}

fn is_success_criteria_met(condition: &JobCondition) -> bool {
    condition.type_ == CONDITION_SUCCESS_CRITERIA_MET && condition.status == "True"
}

fn uncounted<'s>(ctx: &'s mut SyncContext) -> &'s mut UncountedTerminatedPods {
    ctx.status
        .uncounted_terminated_pods
        .get_or_insert_with(UncountedTerminatedPods::default)
}

fn uncounted_lengths(ctx: &SyncContext) -> (usize, usize) {
    ctx.status
        .uncounted_terminated_pods
        .as_ref()
        .map_or((0, 0), |u| {
            (
                u.succeeded.as_ref().map_or(0, Vec::len),
                u.failed.as_ref().map_or(0, Vec::len),
            )
        })
}
