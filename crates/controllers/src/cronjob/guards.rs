//! Corral's guards in the CronJob controller (`docs/guards.md`), and their knobs.
//!
//! Every guard is off in [`CronJobGuards::default`], which keeps the v2 controller
//! byte-for-byte upstream (simulator profile `upstream`); [`CronJobGuards::corral`] turns
//! them on (`corral up`, profile `corral`). Each one closes a link of the snowball
//! (spec §7.1):
//!
//! - **guard 2, `forbid_by_owner`**: under `Forbid`, every unfinished Job the CronJob
//!   controls — found through the owner index by UID, not only through `status.active` —
//!   blocks a new run (link 7(b): a lost status write no longer lets Forbid leak Jobs; a Job
//!   with no pod yet is unfinished too);
//! - **guard 3, `max_unfinished_jobs`**: under `Allow`, at most N unfinished Jobs per
//!   CronJob; at the cap the slot is skipped with a Warning `TooManyUnfinishedJobs`, like a
//!   Forbid skip (the most recent missed slot starts when one finishes). Per CronJob
//!   `corral.dev/max-unfinished-jobs` (`0`: no cap);
//! - **guard 4, `suspend_backlog`**: suspending the CronJob also suspends its Jobs that have
//!   not started a pod (`spec.suspend: true`, annotated `corral.dev/suspended-by-cronjob`);
//!   resuming resumes exactly those, or deletes (Background) the ones whose scheduled time
//!   plus `startingDeadlineSeconds` has passed (link 6). Jobs that started are left alone;
//! - **guard 8, `next_run_annotation`**: `corral.dev/next-schedule-time` (RFC 3339) holds
//!   the next slot of the schedule, written only when it changes; removed while the
//!   CronJob is suspended or its schedule is unusable.
//!
//! All of it stays inside the API's contract: `spec.suspend` on a Job and annotations are
//! ordinary user-writable fields, and Jobs are deleted the way `kubectl delete` does.

use corral_api::{ObjectKey, ResourceKind, Uid};
use corral_core::{Action, ObjectCache, PatchBody, Propagation, Subresource, Timestamp};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::job_build::{SCHEDULED_TIMESTAMP_ANNOTATION, format_rfc3339};
use super::job_state::is_job_finished;
use super::schedule::{ZonedSchedule, annotation_zone};
use super::sync::SyncState;

/// `corral.dev/max-unfinished-jobs` on a CronJob: its cap; `0` means no cap.
pub const MAX_UNFINISHED_JOBS_ANNOTATION: &str = "corral.dev/max-unfinished-jobs";
/// `corral.dev/suspended-by-cronjob` on a Job: the UID of the CronJob that suspended it.
pub const SUSPENDED_BY_CRONJOB_ANNOTATION: &str = "corral.dev/suspended-by-cronjob";
/// `corral.dev/next-schedule-time` on a CronJob: its next slot, RFC 3339.
pub const NEXT_SCHEDULE_TIME_ANNOTATION: &str = "corral.dev/next-schedule-time";

/// The server default cap of `corral up`.
pub const DEFAULT_MAX_UNFINISHED_JOBS: u32 = 50;

/// The CronJob controller's guards. `Default` is upstream: everything off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CronJobGuards {
    /// Guard 2.
    pub forbid_by_owner: bool,
    /// Guard 3: the server default cap (`None`: no guard, the annotation is ignored).
    pub max_unfinished_jobs: Option<u32>,
    /// Guard 4.
    pub suspend_backlog: bool,
    /// Guard 8.
    pub next_run_annotation: bool,
}

impl CronJobGuards {
    /// Every guard on, with the defaults of `corral up`.
    pub fn corral() -> CronJobGuards {
        CronJobGuards {
            forbid_by_owner: true,
            max_unfinished_jobs: Some(DEFAULT_MAX_UNFINISHED_JOBS),
            suspend_backlog: true,
            next_run_annotation: true,
        }
    }

    /// The CronJob's cap on unfinished Jobs, if any.
    pub fn unfinished_cap(&self, cron_job: &CronJob) -> Option<u32> {
        let server = self.max_unfinished_jobs?;
        let annotated = annotation(
            &cron_job.metadata.annotations,
            MAX_UNFINISHED_JOBS_ANNOTATION,
        )
        .and_then(|v| v.trim().parse::<u32>().ok());
        match annotated {
            None => Some(server).filter(|c| *c > 0),
            Some(0) => None,
            Some(cap) => Some(cap),
        }
    }
}

/// A write a guard wants, with what it is for (a failure's message).
#[derive(Clone, Debug, PartialEq)]
pub struct GuardWrite {
    pub action: Action,
    pub what: String,
}

/// The guards' writes of one sync. They go into the sync's final plan: Job writes before
/// the status write, the CronJob's own annotation after it (a patch before would change the
/// resourceVersion the status write is conditioned on).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GuardWrites {
    pub jobs: Vec<GuardWrite>,
    pub cron_job: Option<GuardWrite>,
}

fn annotation<'a>(
    annotations: &'a Option<std::collections::BTreeMap<String, String>>,
    name: &str,
) -> Option<&'a str> {
    annotations.as_ref()?.get(name).map(String::as_str)
}

/// Unfinished Jobs whose controller reference is this CronJob (by UID), from the owner
/// index, in key order.
pub fn owned_unfinished_jobs<'c>(cache: &'c ObjectCache, cron_job: &CronJob) -> Vec<&'c Job> {
    let Some(uid) = cron_job.metadata.uid.as_deref().filter(|u| !u.is_empty()) else {
        return Vec::new();
    };
    cache
        .dependents_of(&Uid(uid.to_string()))
        .filter(|o| o.kind() == ResourceKind::Job)
        .filter(|o| o.controller_ref().is_some_and(|r| r.uid == uid))
        .filter_map(|o| o.as_typed::<Job>())
        .filter(|job| !is_job_finished(job))
        .collect()
}

/// Guards 2 and 3: how many unfinished Jobs of this CronJob count against a new run of
/// `job_name` (its own Job, if it exists, is the slot being re-adopted, not another run).
pub fn unfinished_besides(cache: &ObjectCache, cron_job: &CronJob, job_name: &str) -> usize {
    owned_unfinished_jobs(cache, cron_job)
        .iter()
        .filter(|j| j.metadata.name.as_deref() != Some(job_name))
        .count()
}

/// The Warning of a slot skipped at the cap.
pub fn too_many_unfinished_jobs(unfinished: usize, cap: u32) -> String {
    format!(
        "Not starting job because the CronJob has {unfinished} unfinished jobs and the limit is {cap} (annotation {MAX_UNFINISHED_JOBS_ANNOTATION})"
    )
}

/// Guard 4: suspends the backlog of a suspended CronJob, or resumes (or deletes, past the
/// starting deadline) what it suspended once it is resumed.
pub fn reconcile_backlog(
    state: &mut SyncState,
    cache: &ObjectCache,
    now: Timestamp,
    guards: &CronJobGuards,
) {
    let cron_job = state.cron_job;
    if !guards.suspend_backlog || cron_job.metadata.deletion_timestamp.is_some() {
        return;
    }
    let uid = cron_job.metadata.uid.clone().unwrap_or_default();
    let suspended = cron_job.spec.suspend == Some(true);
    for job in owned_unfinished_jobs(cache, cron_job) {
        let name = job.metadata.name.clone().unwrap_or_default();
        let ours = annotation(&job.metadata.annotations, SUSPENDED_BY_CRONJOB_ANNOTATION)
            == Some(uid.as_str());
        let job_suspended = job.spec.as_ref().and_then(|s| s.suspend) == Some(true);
        if suspended {
            // Never fight a user who suspended or resumed a Job by hand.
            if ours || job_suspended || has_started(cache, job) {
                continue;
            }
            let patch = json!({
                "metadata": {
                    "resourceVersion": job.metadata.resource_version,
                    "annotations": { SUSPENDED_BY_CRONJOB_ANNOTATION: uid },
                },
                "spec": { "suspend": true },
            });
            state.events.normal(cron_job, "SuspendedJob", format!("Suspended job {name}: the CronJob is suspended and the job has not started a pod"));
            state
                .guard
                .jobs
                .push(job_patch(job, patch, format!("suspending job {name}")));
        } else if ours {
            if past_starting_deadline(cron_job, job, now) {
                state.events.normal(cron_job, "DeletedSuspendedJob", format!("Deleted job {name}: its scheduled time plus startingDeadlineSeconds passed while the CronJob was suspended"));
                state.guard.jobs.push(GuardWrite {
                    action: Action::delete(
                        job_key(job),
                        Some(Uid(job.metadata.uid.clone().unwrap_or_default())),
                        Some(Propagation::Background),
                    ),
                    what: format!("deleting job {name}"),
                });
                continue;
            }
            let mut patch = json!({
                "metadata": {
                    "resourceVersion": job.metadata.resource_version,
                    "annotations": { SUSPENDED_BY_CRONJOB_ANNOTATION: Value::Null },
                },
            });
            if job_suspended {
                patch["spec"] = json!({ "suspend": false });
                state.events.normal(
                    cron_job,
                    "ResumedJob",
                    format!("Resumed job {name}: the CronJob was resumed"),
                );
            }
            state
                .guard
                .jobs
                .push(job_patch(job, patch, format!("resuming job {name}")));
        }
    }
}

fn job_key(job: &Job) -> ObjectKey {
    ObjectKey::new(
        ResourceKind::Job,
        job.metadata.namespace.as_deref().unwrap_or(""),
        job.metadata.name.as_deref().unwrap_or(""),
    )
}

fn job_patch(job: &Job, patch: Value, what: String) -> GuardWrite {
    GuardWrite {
        action: Action::Patch {
            key: job_key(job),
            subresource: Subresource::Main,
            patch: PatchBody::Merge(patch),
        },
        what,
    }
}

/// Whether the Job ever had a pod: counted in its status, or one in the cache.
fn has_started(cache: &ObjectCache, job: &Job) -> bool {
    if let Some(status) = &job.status {
        let counted = [
            status.active,
            status.succeeded,
            status.failed,
            status.ready,
            status.terminating,
        ]
        .into_iter()
        .any(|n| n.unwrap_or(0) > 0);
        let uncounted = status.uncounted_terminated_pods.as_ref().is_some_and(|u| {
            u.succeeded.as_ref().is_some_and(|l| !l.is_empty())
                || u.failed.as_ref().is_some_and(|l| !l.is_empty())
        });
        if counted || uncounted {
            return true;
        }
    }
    let Some(uid) = job.metadata.uid.as_deref() else {
        return false;
    };
    cache
        .dependents_of(&Uid(uid.to_string()))
        .filter_map(|o| o.as_typed::<Pod>())
        .any(|p| {
            p.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.controller == Some(true) && r.uid == uid)
        })
}

/// The slot the Job was created for: the scheduled-timestamp annotation, else its creation.
fn scheduled_time(job: &Job) -> Option<Timestamp> {
    annotation(&job.metadata.annotations, SCHEDULED_TIMESTAMP_ANNOTATION)
        .and_then(|v| v.parse::<Timestamp>().ok())
        .or_else(|| job.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// `startingDeadlineSeconds` set and the Job's slot + deadline < now.
fn past_starting_deadline(cron_job: &CronJob, job: &Job, now: Timestamp) -> bool {
    let (Some(deadline), Some(slot)) =
        (cron_job.spec.starting_deadline_seconds, scheduled_time(job))
    else {
        return false;
    };
    slot.checked_add(jiff::SignedDuration::from_secs(deadline))
        .is_ok_and(|latest| latest < now)
}

/// Guard 8: the annotation as it should be: the schedule's next slot after `now`, or none
/// while the CronJob cannot be scheduled. A patch only when that differs from what the
/// CronJob carries.
pub fn next_run(
    state: &mut SyncState,
    now: Timestamp,
    schedule: Option<&ZonedSchedule>,
    guards: &CronJobGuards,
) {
    let cron_job = state.cron_job;
    if !guards.next_run_annotation || cron_job.metadata.deletion_timestamp.is_some() {
        return;
    }
    let wanted = schedule
        .and_then(|s| s.schedule.next(now, &s.zone))
        .map(|next| format_rfc3339(next, &annotation_zone(cron_job)));
    let current = annotation(
        &cron_job.metadata.annotations,
        NEXT_SCHEDULE_TIME_ANNOTATION,
    );
    if current == wanted.as_deref() {
        return;
    }
    let value = wanted.map_or(Value::Null, Value::String);
    let key = ObjectKey::new(
        ResourceKind::CronJob,
        cron_job.metadata.namespace.as_deref().unwrap_or(""),
        cron_job.metadata.name.as_deref().unwrap_or(""),
    );
    state.guard.cron_job = Some(GuardWrite {
        action: Action::Patch {
            key,
            subresource: Subresource::Main,
            patch: PatchBody::Merge(json!({
                "metadata": { "annotations": { NEXT_SCHEDULE_TIME_ANNOTATION: value } }
            })),
        },
        what: "updating the next-run annotation".to_string(),
    });
}

/// The event reason of guard 3.
pub const REASON_TOO_MANY_UNFINISHED_JOBS: &str = "TooManyUnfinishedJobs";
