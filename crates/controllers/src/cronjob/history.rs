//! History limits: upstream `cleanupFinishedJobs`, `removeOldestJobs` and `byJobStartTime`
//! (`cronjob_controllerv2.go`, `utils.go`).
//!
//! Only *finished* Jobs are counted and deleted. An unfinished Job (no pod yet, or a pod that
//! finished but a Job controller that has not noticed) is invisible to the limits, which is
//! why they cannot bound a backlog (spec §7.1, link 5).

use std::cmp::Ordering;

use k8s_openapi::api::batch::v1::{CronJob, Job};

use super::active::{delete_from_active_list, in_active_list};
use super::job_state::{Finished, finished_condition, start_time};
use super::sync::{JobDeletion, SyncState};

/// Upstream `cleanupFinishedJobs`: queues deletions of the oldest finished Jobs beyond each
/// limit and removes them from `active` (assuming the deletes succeed; the follow-up step
/// repairs the bookkeeping for those that fail). Returns whether anything was queued.
pub fn cleanup_finished_jobs(state: &mut SyncState, jobs: &[&Job]) -> bool {
    let spec = &state.cron_job.spec;
    let successful_limit = spec.successful_jobs_history_limit;
    let failed_limit = spec.failed_jobs_history_limit;
    if successful_limit.is_none() && failed_limit.is_none() {
        return false;
    }
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for job in jobs {
        match finished_condition(job).map(|(finished, _)| finished) {
            Some(Finished::Complete) => successful.push(*job),
            Some(Finished::Failed) => failed.push(*job),
            None => {}
        }
    }
    let mut queued = false;
    if let Some(limit) = successful_limit {
        queued |= remove_oldest_jobs(state, successful, limit, Finished::Complete);
    }
    if let Some(limit) = failed_limit {
        queued |= remove_oldest_jobs(state, failed, limit, Finished::Failed);
    }
    queued
}

/// Upstream `removeOldestJobs`: sorts by start time and queues the surplus for deletion.
fn remove_oldest_jobs(
    state: &mut SyncState,
    mut jobs: Vec<&Job>,
    limit: i32,
    finished: Finished,
) -> bool {
    let limit = usize::try_from(limit).unwrap_or(0);
    if jobs.len() <= limit {
        return false;
    }
    let surplus = jobs.len() - limit;
    jobs.sort_by(|a, b| by_job_start_time(a, b));
    for job in &jobs[..surplus] {
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let was_active = in_active_list(&state.status, &uid);
        delete_from_active_list(&mut state.status, &uid);
        state.cleanup.push(JobDeletion::of(
            state.cron_job,
            job,
            was_active.then_some(finished),
        ));
    }
    true
}

/// Upstream `byJobStartTime`: Jobs with a start time first, oldest first; then by name.
pub fn by_job_start_time(a: &Job, b: &Job) -> Ordering {
    match (start_time(a), start_time(b)) {
        (Some(x), Some(y)) if x != y => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        _ => a.metadata.name.cmp(&b.metadata.name),
    }
}

/// Whether either history limit is set; used by the v1 poller, which cleans up after
/// scheduling rather than before.
pub fn has_history_limits(cron_job: &CronJob) -> bool {
    let spec = &cron_job.spec;
    spec.successful_jobs_history_limit.is_some() || spec.failed_jobs_history_limit.is_some()
}
