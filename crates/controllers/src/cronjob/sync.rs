//! The decision half of upstream `sync` and `syncCronJob` (`cronjob_controllerv2.go`), one
//! function per step so the v1 poller can reuse them.
//!
//! A sync works on [`SyncState`], upstream's `cronJobCopy`: a copy of the status that the
//! steps edit, the events they record, and the writes they want (history deletions, Replace
//! deletions, one Job to start). Writes whose outcome changes the rest of the sync are not
//! executed here; [`super::finish`] applies their outcomes.
//!
//! Upstream re-reads from the API server ("live GET") in four places: the CronJob when an
//! unexpected Job shows up, an active Job missing from the lister, the active Jobs before a
//! Replace, and the Job after `AlreadyExists`. Corral's cache is fed by one ordered watch and
//! is the only source a pure core can read, so those reads go to the cache; the consequence
//! is spelled out at each step.

use std::collections::BTreeSet;
use std::time::Duration;

use corral_api::{ObjectKey, ResourceKind, Uid};
use corral_core::{ObjectCache, Timestamp};
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::active::{self, delete_from_active_list, in_active_list, in_active_list_by_name};
use super::events::{self, CronJobEvents};
use super::guards::{self, CronJobGuards, GuardWrites};
use super::job_build::{self, JobBuildOptions};
use super::job_state::{Finished, completion_time, finished_condition, is_job_succeeded};
use super::schedule::{self, DueSlot, ZonedSchedule};

/// Settings every sync step may need.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// The controller manager's `time.Local`.
    pub local_zone: TimeZone,
    pub job_build: JobBuildOptions,
    /// Corral's guards; `CronJobGuards::default()` (all off) is upstream.
    pub guards: CronJobGuards,
}

/// A Job the sync wants deleted (Background propagation).
#[derive(Clone, Debug, PartialEq)]
pub struct JobDeletion {
    pub key: ObjectKey,
    pub uid: Uid,
    pub name: String,
    /// History cleanup: the Job was in `active` and was removed from it on the assumption
    /// that the delete succeeds; carries how it finished for the `SawCompletedJob` event the
    /// sync owes if the delete fails.
    pub was_active: Option<Finished>,
}

impl JobDeletion {
    pub fn of(cron_job: &CronJob, job: &Job, was_active: Option<Finished>) -> JobDeletion {
        let namespace = job
            .metadata
            .namespace
            .as_deref()
            .or(cron_job.metadata.namespace.as_deref());
        let name = job.metadata.name.clone().unwrap_or_default();
        JobDeletion {
            key: ObjectKey::new(ResourceKind::Job, namespace.unwrap_or(""), &name),
            uid: Uid(job.metadata.uid.clone().unwrap_or_default()),
            name,
            was_active,
        }
    }
}

/// How the sync wants to start a slot.
#[derive(Clone, Debug, PartialEq)]
pub enum JobStart {
    /// POST this Job.
    Create { job: Job },
    /// A Job with the slot's name is already in the cache and controlled by this CronJob but
    /// not in `active`: upstream reaches this after `AlreadyExists` and re-adds it.
    Adopt { reference: ObjectReference },
}

/// A slot to start, and what happens to the status if it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct SlotStart {
    pub slot: Timestamp,
    pub how: JobStart,
    pub job_name: String,
    /// `nextScheduleTimeDuration` once `lastScheduleTime` is the slot.
    pub requeue_after: Option<Duration>,
}

/// Upstream's `cronJobCopy` and the sync's decisions.
#[derive(Clone, Debug)]
pub struct SyncState<'a> {
    pub cron_job: &'a CronJob,
    pub status: CronJobStatus,
    pub update_status: bool,
    /// Events that do not depend on any write's outcome.
    pub events: CronJobEvents,
    pub cleanup: Vec<JobDeletion>,
    pub replace: Vec<JobDeletion>,
    pub start: Option<SlotStart>,
    pub requeue_after: Option<Duration>,
    /// Guards 4 and 8: writes that do not change the status.
    pub guard: GuardWrites,
}

impl<'a> SyncState<'a> {
    pub fn new(cron_job: &'a CronJob) -> Self {
        SyncState {
            cron_job,
            status: cron_job.status.clone().unwrap_or_default(),
            update_status: false,
            events: CronJobEvents::default(),
            cleanup: Vec::new(),
            replace: Vec::new(),
            start: None,
            requeue_after: None,
            guard: GuardWrites::default(),
        }
    }

    pub fn namespace(&self) -> &str {
        self.cron_job.metadata.namespace.as_deref().unwrap_or("")
    }

    /// Whether the sync wants writes whose outcomes must be seen before it can finish.
    pub fn has_writes(&self) -> bool {
        !self.cleanup.is_empty()
            || !self.replace.is_empty()
            || matches!(
                self.start,
                Some(SlotStart {
                    how: JobStart::Create { .. },
                    ..
                })
            )
    }
}

/// Upstream `getJobsToBeReconciled`: every Job in the namespace whose controller reference
/// has the CronJob's *name* (upstream compares the name, not the UID or the kind).
pub fn jobs_to_be_reconciled<'c>(cache: &'c ObjectCache, cron_job: &'c CronJob) -> Vec<&'c Job> {
    let namespace = cron_job.metadata.namespace.as_deref().unwrap_or("");
    let name = cron_job.metadata.name.as_deref().unwrap_or("");
    cache
        .list_namespace(ResourceKind::Job, namespace)
        .filter(|object| object.controller_ref().is_some_and(|r| r.name == name))
        .filter_map(|object| object.as_typed::<Job>())
        .collect()
}

/// Upstream `syncCronJob`, decision part. Sets `state.requeue_after` and the writes.
pub fn sync_cron_job(
    state: &mut SyncState,
    jobs: &[&Job],
    cache: &ObjectCache,
    now: Timestamp,
    options: &SyncOptions,
) {
    reconcile_children(state, jobs);
    forget_missing_jobs(state, jobs, cache);
    guards::reconcile_backlog(state, cache, now, &options.guards);
    let schedule = schedulable(state, options);
    guards::next_run(state, now, schedule.as_ref(), &options.guards);
    let Some(schedule) = schedule else {
        return;
    };
    schedule_slot(state, cache, now, &schedule, options);
}

/// Step 4.1: unexpected Jobs, completed Jobs leaving `active`, `lastSuccessfulTime`.
///
/// Upstream re-reads the CronJob before calling a Job unexpected, in case the lister's copy
/// is older than the status write that listed it. The cache is the one copy here, so an
/// unfinished Job missing from `active` is reported at once; there is no adoption.
pub fn reconcile_children(state: &mut SyncState, jobs: &[&Job]) {
    for job in jobs {
        let uid = job.metadata.uid.as_deref().unwrap_or("");
        let name = job.metadata.name.as_deref().unwrap_or("");
        let found = in_active_list(&state.status, uid);
        let finished = finished_condition(job).map(|(f, _)| f);
        match finished {
            None if !found => state.events.warning(
                state.cron_job,
                "UnexpectedJob",
                events::unexpected_job(name),
            ),
            None => {}
            Some(how) => {
                if found {
                    delete_from_active_list(&mut state.status, uid);
                    state.events.normal(
                        state.cron_job,
                        "SawCompletedJob",
                        events::saw_completed_job(name, how),
                    );
                    state.update_status = true;
                }
                if is_job_succeeded(job) {
                    advance_last_successful_time(state, completion_time(job));
                }
            }
        }
    }
}

/// Upstream: unset → take the completion time (even if that is unset too); later → advance.
fn advance_last_successful_time(state: &mut SyncState, completion: Option<Timestamp>) {
    match state.status.last_successful_time.as_ref().map(|t| t.0) {
        None => {
            state.status.last_successful_time = completion.map(Time);
            state.update_status = true;
        }
        Some(last) => {
            if let Some(completed) = completion.filter(|c| *c > last) {
                state.status.last_successful_time = Some(Time(completed));
                state.update_status = true;
            }
        }
    }
}

/// Step 4.2: `active` entries whose Job is gone (`MissingJob`).
///
/// Upstream GETs the Job by name from the API server so a slow Job watch does not make a
/// fresh Job look missing. Here the lookup goes to the cache by name: a Job listed in
/// `active` that is not among the CronJob's Jobs but exists under that name (for example
/// after an orphaning delete removed its owner reference) is kept, as upstream keeps it.
pub fn forget_missing_jobs(state: &mut SyncState, jobs: &[&Job], cache: &ObjectCache) {
    let children: BTreeSet<&str> = jobs
        .iter()
        .filter_map(|j| j.metadata.uid.as_deref())
        .collect();
    let namespace = state.namespace().to_string();
    let references: Vec<ObjectReference> = active::active(&state.status).to_vec();
    for reference in references {
        let uid = reference.uid.as_deref().unwrap_or("");
        if children.contains(uid) {
            continue;
        }
        let name = reference.name.as_deref().unwrap_or("");
        let job_namespace = reference.namespace.as_deref().unwrap_or(&namespace);
        if cache
            .get(&ObjectKey::new(ResourceKind::Job, job_namespace, name))
            .is_some()
        {
            continue;
        }
        state
            .events
            .normal(state.cron_job, "MissingJob", events::missing_job(name));
        delete_from_active_list(&mut state.status, uid);
        state.update_status = true;
    }
}

/// Step 4.3: stops before scheduling (being deleted, bad zone, suspended, bad schedule).
/// Every stop leaves `requeue_after` unset: the key waits for the next event.
pub fn schedulable(state: &mut SyncState, options: &SyncOptions) -> Option<ZonedSchedule> {
    let cron_job = state.cron_job;
    if cron_job.metadata.deletion_timestamp.is_some() {
        return None;
    }
    if let Some(name) = schedule::spec_time_zone(cron_job)
        && let Err(error) = schedule::load_location(name, &options.local_zone)
    {
        let message = events::unknown_time_zone(name, &error.to_string());
        state.events.warning(cron_job, "UnknownTimeZone", message);
        return None;
    }
    if cron_job.spec.suspend == Some(true) {
        return None;
    }
    let text = schedule::spec_schedule(cron_job);
    if schedule::schedule_has_tz(cron_job) {
        state.events.warning(
            cron_job,
            "UnsupportedSchedule",
            events::unsupported_schedule(text),
        );
    }
    match ZonedSchedule::for_cron_job(cron_job, &options.local_zone) {
        Ok(schedule) => Some(schedule),
        Err(error) => {
            let message = events::unparseable_schedule(text, &error.to_string());
            state
                .events
                .warning(cron_job, "UnparseableSchedule", message);
            None
        }
    }
}

/// Steps 4.4 to 4.12: pick the due slot, apply the deadline, the already-handled test and
/// the concurrency policy, and decide how to start it.
fn schedule_slot(
    state: &mut SyncState,
    cache: &ObjectCache,
    now: Timestamp,
    schedule: &ZonedSchedule,
    options: &SyncOptions,
) {
    let cron_job = state.cron_job;
    let requeue = schedule::next_schedule_delay(cron_job, None, now, schedule);
    let slot = match schedule::next_schedule_time(cron_job, now, schedule) {
        DueSlot::Invalid(error) => {
            let message =
                events::invalid_schedule(schedule::spec_schedule(cron_job), &error.to_string());
            state.events.warning(cron_job, "InvalidSchedule", message);
            return;
        }
        DueSlot::None => {
            state.requeue_after = requeue;
            return;
        }
        DueSlot::Due {
            slot,
            too_many_missed,
        } => {
            if too_many_missed {
                state.events.warning(
                    cron_job,
                    "TooManyMissedTimes",
                    events::TOO_MANY_MISSED_TIMES.to_string(),
                );
            }
            slot
        }
    };
    state.requeue_after = requeue;
    if schedule::is_too_late(cron_job, slot, now) {
        state
            .events
            .warning(cron_job, "MissSchedule", events::miss_schedule(slot));
        return;
    }
    let job_name = job_build::job_name(
        cron_job.metadata.name.as_deref().unwrap_or(""),
        slot,
        options.job_build.suffix,
    );
    let last_schedule_time = state.status.last_schedule_time.as_ref().map(|t| t.0);
    if in_active_list_by_name(&state.status, state.namespace(), &job_name)
        || last_schedule_time == Some(slot)
    {
        return;
    }
    if concurrency_policy(cron_job) == "Forbid"
        && (!active::active(&state.status).is_empty()
            || (options.guards.forbid_by_owner
                && guards::unfinished_besides(cache, cron_job, &job_name) > 0))
    {
        state.events.normal(
            cron_job,
            "JobAlreadyActive",
            events::JOB_ALREADY_ACTIVE.to_string(),
        );
        return;
    }
    if !matches!(concurrency_policy(cron_job), "Forbid" | "Replace")
        && let Some(cap) = options.guards.unfinished_cap(cron_job)
    {
        let unfinished = guards::unfinished_besides(cache, cron_job, &job_name);
        if unfinished >= usize::try_from(cap).unwrap_or(usize::MAX) {
            state.events.warning(
                cron_job,
                guards::REASON_TOO_MANY_UNFINISHED_JOBS,
                guards::too_many_unfinished_jobs(unfinished, cap),
            );
            return;
        }
    }
    if concurrency_policy(cron_job) == "Replace" {
        replace_active_jobs(state, cache);
    }
    start_slot(state, cache, now, slot, job_name, schedule, options);
}

/// `spec.concurrencyPolicy`, defaulted to `Allow`.
pub fn concurrency_policy(cron_job: &CronJob) -> &str {
    cron_job
        .spec
        .concurrency_policy
        .as_deref()
        .unwrap_or("Allow")
}

/// Step 4.9 (Replace): delete every active Job. Upstream GETs each from the API server first
/// (`FailedGet` on error); every reference left after step 4.2 resolves in the cache, so the
/// cached Job is used and its UID becomes the delete's precondition.
fn replace_active_jobs(state: &mut SyncState, cache: &ObjectCache) {
    let namespace = state.namespace().to_string();
    for reference in active::active(&state.status) {
        let name = reference.name.as_deref().unwrap_or("");
        let job_namespace = reference.namespace.as_deref().unwrap_or(&namespace);
        let key = ObjectKey::new(ResourceKind::Job, job_namespace, name);
        let Some(job) = cache.get(&key).and_then(|o| o.as_typed::<Job>()) else {
            continue;
        };
        state
            .replace
            .push(JobDeletion::of(state.cron_job, job, None));
    }
}

/// Steps 4.10 to 4.12: build the Job, or resolve the `AlreadyExists` case against the cache.
fn start_slot(
    state: &mut SyncState,
    cache: &ObjectCache,
    now: Timestamp,
    slot: Timestamp,
    job_name: String,
    schedule: &ZonedSchedule,
    options: &SyncOptions,
) {
    let cron_job = state.cron_job;
    let requeue_after = schedule::next_schedule_delay(cron_job, Some(slot), now, schedule);
    let key = ObjectKey::new(ResourceKind::Job, state.namespace(), &job_name);
    let how = match cache.get(&key).and_then(|o| o.as_typed::<Job>()) {
        None => JobStart::Create {
            job: job_build::job_from_template(cron_job, slot, options.job_build),
        },
        Some(existing) => match adoption(state, existing) {
            Some(reference) => JobStart::Adopt { reference },
            None => {
                // Not ours, or already listed: upstream returns without a requeue.
                state.requeue_after = None;
                return;
            }
        },
    };
    state.start = Some(SlotStart {
        slot,
        how,
        job_name,
        requeue_after,
    });
}

/// Upstream's `AlreadyExists` branch: a Job not controlled by this CronJob, or already in
/// `active`, is left alone; otherwise its reference is re-added.
pub fn adoption(state: &SyncState, existing: &Job) -> Option<ObjectReference> {
    if !job_build::is_controlled_by(existing, state.cron_job) {
        return None;
    }
    let uid = existing.metadata.uid.as_deref().unwrap_or("");
    if in_active_list(&state.status, uid) {
        return None;
    }
    Some(job_build::job_reference(existing))
}

/// Records a started slot in the status copy (step 4.12).
pub fn record_start(status: &mut CronJobStatus, reference: ObjectReference, slot: Timestamp) {
    active::append_to_active_list(status, reference);
    status.last_schedule_time = Some(Time(slot));
}
