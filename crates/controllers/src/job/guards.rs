//! Corral's guards in the Job controller (`docs/guards.md`), and their knobs.
//!
//! Every guard is off in [`JobGuards::default`], which keeps the controller byte-for-byte
//! upstream (simulator profile `upstream`); [`JobGuards::corral`] turns them on (`corral
//! up`, profile `corral`):
//!
//! - **guard 1**, `fair_queue` and `non_blocking_creates`: the Job queue is a
//!   `FairWorkQueue` (namespaces, then owners, take turns; never-synced Jobs get a fresh
//!   lane) and pod creates are a detachable tail of the plan, so a slow admission chain
//!   holds neither a worker nor the Job's key;
//! - **guard 5**, `start_deadline` ([`super::start_deadline`]): a pod that has not started
//!   any container within the deadline is failed (`StartDeadlineExceeded`), deleted, and
//!   counted toward `backoffLimit`; per Job `corral.dev/start-deadline-seconds`;
//! - **guard 5**, `creation_failure_deadline` ([`super::creation_failure`]): a Job whose
//!   pods cannot be created gets a `PodCreationFailing` condition and a Warning at the
//!   first failure, and fails with reason `PodCreationFailing` once creates have failed
//!   for the deadline; per Job `corral.dev/creation-failure-deadline-seconds`.
//!
//! Per-Job annotations override the server default; `0` disables the deadline for that
//! Job; a value that is not a whole number of seconds is ignored (the default applies).
//! With the server knob off (`None`) the annotation is ignored too: profile `upstream`
//! never looks at Corral's annotations.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;

/// `corral.dev/start-deadline-seconds`: the Job's start deadline in seconds; `0` disables.
pub const START_DEADLINE_ANNOTATION: &str = "corral.dev/start-deadline-seconds";
/// `corral.dev/creation-failure-deadline-seconds`: how long pod creation may keep failing
/// before the Job fails; `0` disables the failure (the condition and events remain).
pub const CREATION_FAILURE_DEADLINE_ANNOTATION: &str =
    "corral.dev/creation-failure-deadline-seconds";

/// The server default of both deadlines in `corral up`.
pub const DEFAULT_GUARD_DEADLINE: Duration = Duration::from_secs(10 * 60);

/// The Job controller's guards. `Default` is upstream: everything off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobGuards {
    /// Guard 5: fail pods that have not started a container this long after creation.
    pub start_deadline: Option<Duration>,
    /// Guard 5: apply the start deadline to pods that were never scheduled, too. Off in
    /// `corral()`: an unbound pod holds no node resources, and waiting for capacity is
    /// ordinary batch queueing.
    pub start_deadline_unscheduled: bool,
    /// Guard 5: fail the Job after pod creation kept failing this long.
    pub creation_failure_deadline: Option<Duration>,
    /// Guard 1: pod creates run detached from the worker (see `corral_core::controller`).
    pub non_blocking_creates: bool,
    /// Guard 1: fair queueing by namespace and owner, with a fresh lane.
    pub fair_queue: bool,
}

impl JobGuards {
    /// Every guard on, with the defaults of `corral up`.
    pub fn corral() -> JobGuards {
        JobGuards {
            start_deadline: Some(DEFAULT_GUARD_DEADLINE),
            start_deadline_unscheduled: false,
            creation_failure_deadline: Some(DEFAULT_GUARD_DEADLINE),
            non_blocking_creates: true,
            fair_queue: true,
        }
    }

    /// The Job's start deadline: `None` when the guard is off or the Job opted out.
    pub fn start_deadline_for(&self, job: &Job) -> Option<Duration> {
        deadline_for(self.start_deadline, job, START_DEADLINE_ANNOTATION)
    }

    /// The Job's creation-failure deadline: `None` when off or opted out.
    pub fn creation_failure_deadline_for(&self, job: &Job) -> Option<Duration> {
        deadline_for(
            self.creation_failure_deadline,
            job,
            CREATION_FAILURE_DEADLINE_ANNOTATION,
        )
    }

    /// Whether the creation-failure condition is tracked at all (the server knob).
    pub fn tracks_creation_failures(&self) -> bool {
        self.creation_failure_deadline.is_some()
    }
}

/// The server default, overridden by the Job's annotation (`0` disables).
fn deadline_for(server: Option<Duration>, job: &Job, annotation: &str) -> Option<Duration> {
    let server = server?;
    let value = job
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(annotation))
        .and_then(|v| v.trim().parse::<u64>().ok());
    match value {
        None => Some(server),
        Some(0) => None,
        Some(seconds) => Some(Duration::from_secs(seconds)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn annotated(value: Option<&str>) -> Job {
        Job {
            metadata: ObjectMeta {
                annotations: value
                    .map(|v| [(START_DEADLINE_ANNOTATION.to_string(), v.to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn the_annotation_overrides_the_server_default_and_zero_opts_out() {
        let guards = JobGuards::corral();
        assert_eq!(
            guards.start_deadline_for(&annotated(None)),
            Some(DEFAULT_GUARD_DEADLINE)
        );
        assert_eq!(
            guards.start_deadline_for(&annotated(Some("90"))),
            Some(Duration::from_secs(90))
        );
        assert_eq!(guards.start_deadline_for(&annotated(Some("0"))), None);
        assert_eq!(
            guards.start_deadline_for(&annotated(Some("soon"))),
            Some(DEFAULT_GUARD_DEADLINE),
            "garbage falls back to the default"
        );
        assert_eq!(
            JobGuards::default().start_deadline_for(&annotated(Some("90"))),
            None,
            "with the guard off the annotation is ignored"
        );
    }
}
