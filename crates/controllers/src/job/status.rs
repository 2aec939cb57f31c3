//! Job status vocabulary: condition types and reasons, `ensureJobConditionStatus`, and the
//! comparison that decides whether a status write is needed at all.
//!
//! A status write happens only when a fact changed; timestamps are set only on the
//! condition that changes (never a fresh `lastProbeTime` every sync), so a sync that finds
//! nothing new writes nothing and triggers nothing.

use corral_core::Timestamp;
use corral_core::clock;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub const CONDITION_SUSPENDED: &str = "Suspended";
pub const CONDITION_COMPLETE: &str = "Complete";
pub const CONDITION_FAILED: &str = "Failed";
pub const CONDITION_FAILURE_TARGET: &str = "FailureTarget";
pub const CONDITION_SUCCESS_CRITERIA_MET: &str = "SuccessCriteriaMet";

pub const REASON_POD_FAILURE_POLICY: &str = "PodFailurePolicy";
pub const REASON_BACKOFF_LIMIT_EXCEEDED: &str = "BackoffLimitExceeded";
pub const REASON_DEADLINE_EXCEEDED: &str = "DeadlineExceeded";
pub const REASON_MAX_FAILED_INDEXES_EXCEEDED: &str = "MaxFailedIndexesExceeded";
pub const REASON_FAILED_INDEXES: &str = "FailedIndexes";
pub const REASON_SUCCESS_POLICY: &str = "SuccessPolicy";
pub const REASON_COMPLETIONS_REACHED: &str = "CompletionsReached";
pub const REASON_JOB_SUSPENDED: &str = "JobSuspended";
pub const REASON_JOB_RESUMED: &str = "JobResumed";

pub const MESSAGE_BACKOFF_LIMIT_EXCEEDED: &str = "Job has reached the specified backoff limit";
pub const MESSAGE_DEADLINE_EXCEEDED: &str = "Job was active longer than specified deadline";
pub const MESSAGE_MAX_FAILED_INDEXES_EXCEEDED: &str =
    "Job has exceeded the specified maximal number of failed indexes";
pub const MESSAGE_FAILED_INDEXES: &str = "Job has failed indexes";
/// Upstream's `newSuccessCondition` message (1.31+). The Corral spec (§1.7) quotes
/// "Job has reached the specified number of completions"; the upstream source, and what
/// `kubectl get job -o yaml` shows on real clusters, is this text.
pub const MESSAGE_COMPLETIONS_REACHED: &str = "Reached expected number of succeeded pods";
pub const MESSAGE_JOB_SUSPENDED: &str = "Job suspended";
pub const MESSAGE_JOB_RESUMED: &str = "Job resumed";

/// `spec.managedBy` value that means "this controller".
pub const JOB_CONTROLLER_NAME: &str = "kubernetes.io/job-controller";

/// `metav1.Time` has whole-second resolution on the wire; status timestamps are truncated
/// so what we compare in memory is what the store keeps.
pub fn status_time(now: Timestamp) -> Time {
    Time(clock::truncate_to_seconds(now))
}

/// `newCondition`.
pub fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> JobCondition {
    JobCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: (!reason.is_empty()).then(|| reason.to_string()),
        message: (!message.is_empty()).then(|| message.to_string()),
        last_probe_time: Some(status_time(now)),
        last_transition_time: Some(status_time(now)),
    }
}

pub fn find_condition<'a>(conditions: &'a [JobCondition], type_: &str) -> Option<&'a JobCondition> {
    conditions.iter().find(|c| c.type_ == type_)
}

pub fn conditions(status: &JobStatus) -> &[JobCondition] {
    status.conditions.as_deref().unwrap_or(&[])
}

/// The condition of this type if it is `True`.
pub fn true_condition<'a>(job: &'a Job, type_: &str) -> Option<&'a JobCondition> {
    let status = job.status.as_ref()?;
    find_condition(conditions(status), type_).filter(|c| c.status == "True")
}

/// `util.IsJobFinished`: `Complete=True` or `Failed=True`.
pub fn is_finished(job: &Job) -> bool {
    true_condition(job, CONDITION_COMPLETE).is_some()
        || true_condition(job, CONDITION_FAILED).is_some()
}

/// `ensureJobConditionStatus`: updates the condition in place if its status, reason or
/// message differ, appends it if missing and not `False`; returns whether anything changed.
pub fn ensure_condition(
    list: &mut Vec<JobCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> bool {
    if let Some(existing) = list.iter_mut().find(|c| c.type_ == type_) {
        let same = existing.status == status
            && existing.reason.as_deref().unwrap_or("") == reason
            && existing.message.as_deref().unwrap_or("") == message;
        if same {
            return false;
        }
        *existing = new_condition(type_, status, reason, message, now);
        return true;
    }
    if status != "False" {
        list.push(new_condition(type_, status, reason, message, now));
        return true;
    }
    false
}

/// The status as upstream's Go structs serialise it: `omitempty` integers and strings
/// vanish at zero, pointer fields (`ready`, `terminating`, `failedIndexes`) keep their zero,
/// and `uncountedTerminatedPods` is always present (the controller sets it to `{}`).
/// Both sides of a comparison go through this, so a store that drops zeros and one that
/// keeps them look the same.
pub fn normalize(mut status: JobStatus) -> JobStatus {
    for counter in [
        &mut status.active,
        &mut status.succeeded,
        &mut status.failed,
    ] {
        if *counter == Some(0) {
            *counter = None;
        }
    }
    if status.completed_indexes.as_deref() == Some("") {
        status.completed_indexes = None;
    }
    if status.conditions.as_ref().is_some_and(|c| c.is_empty()) {
        status.conditions = None;
    }
    let uncounted = status
        .uncounted_terminated_pods
        .get_or_insert_with(UncountedTerminatedPods::default);
    for list in [&mut uncounted.succeeded, &mut uncounted.failed] {
        if list.as_ref().is_some_and(|l| l.is_empty()) {
            *list = None;
        }
    }
    status
}

/// Whether writing `new` would change what is stored as `old`.
pub fn status_differs(old: Option<&JobStatus>, new: &JobStatus) -> bool {
    normalize(old.cloned().unwrap_or_default()) != normalize(new.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_core::clock::{add, epoch};
    use std::time::Duration;

    #[test]
    fn ensure_condition_appends_true_updates_changed_and_ignores_new_false() {
        let t0 = epoch();
        let t1 = add(t0, Duration::from_secs(5));
        let mut list = Vec::new();
        assert!(!ensure_condition(
            &mut list,
            CONDITION_SUSPENDED,
            "False",
            REASON_JOB_RESUMED,
            "Job resumed",
            t0
        ));
        assert!(
            list.is_empty(),
            "going from nothing to False is meaningless"
        );

        assert!(ensure_condition(
            &mut list,
            CONDITION_SUSPENDED,
            "True",
            REASON_JOB_SUSPENDED,
            "Job suspended",
            t0
        ));
        assert!(!ensure_condition(
            &mut list,
            CONDITION_SUSPENDED,
            "True",
            REASON_JOB_SUSPENDED,
            "Job suspended",
            t1
        ));
        assert_eq!(
            list[0].last_transition_time,
            Some(status_time(t0)),
            "an unchanged condition keeps its time"
        );

        assert!(ensure_condition(
            &mut list,
            CONDITION_SUSPENDED,
            "False",
            REASON_JOB_RESUMED,
            "Job resumed",
            t1
        ));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].status, "False");
        assert_eq!(list[0].last_transition_time, Some(status_time(t1)));
    }

    #[test]
    fn normalized_statuses_ignore_omitempty_zeros_but_not_pointer_zeros() {
        let stored = JobStatus::default();
        let computed = JobStatus {
            active: Some(0),
            succeeded: Some(0),
            uncounted_terminated_pods: Some(UncountedTerminatedPods {
                succeeded: Some(vec![]),
                failed: None,
            }),
            ..Default::default()
        };
        assert!(!status_differs(Some(&stored), &computed));
        let with_ready = JobStatus {
            ready: Some(0),
            ..computed
        };
        assert!(
            status_differs(Some(&stored), &with_ready),
            "ready is a pointer: 0 is a fact"
        );
    }
}
