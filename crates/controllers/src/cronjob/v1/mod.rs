//! The ≤ 1.20 CronJob controller (`pkg/controller/cronjob/cronjob_controller.go`): one
//! goroutine that lists every Job and CronJob every 10 s and works through the CronJobs one
//! by one (`syncAll` → `syncOne` → `cleanupFinishedJobs`). Kept to replay the incidents of
//! that era (spec §2.3, §7.1); production runs [`super::CronJobController`].
//!
//! **Shape.** The pass is a state machine over one synthetic key,
//! [`CronJobV1Poller::pass_key`]. Each reconcile issues the next API call of the pass (a
//! status write, one Replace delete, the create, the history deletes) and `handle_outcomes`
//! moves the machine on, asking for the next step at once; after the last CronJob the key
//! is requeued `sync_period` later (`wait.Until` waits the period after a pass *ends*). So a
//! slow API makes passes long and schedules slip, as upstream's did (issue 90801).
//!
//! **v1 semantics kept** (spec §2.4): the list is taken at the start of the pass and not
//! refreshed; the status is written unconditionally (a failed write skips the rest of
//! `syncOne` but not the cleanup); more than 100 unmet slots is `FailedNeedsStart` and
//! nothing starts; Job names carry Unix seconds; any create error, `AlreadyExists`
//! included, is `FailedCreate`; the status write after a create is only logged (the Job then
//! exists without an `active` entry); Forbid skips silently; cleanup runs after scheduling,
//! then writes the status again; optionally, the unpatched 1.14 pager defect aborts the
//! whole pass above 500 Jobs cluster-wide.
//!
//! **Differences.** The lists come from the cache (drivers keep it consistent with the
//! store) rather than paged LISTs; `spec.timeZone` (a 1.24 field) is ignored and schedules
//! run in `local_zone`; schedules are parsed with robfig v3 rules (1.14 used v1, which
//! differs only in rarely used descriptors). `SawCompletedJob` uses the 1.14 wording.

mod pass;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::{
    Action, ObjectCache, ObjectEvent, Outcome, Plan, QueueConfig, RateLimiter, Reconciler,
    SyncResult, Timestamp,
};
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::CronJob;

use self::pass::{Awaiting, Pass, Step};
use super::job_build::{JobBuildOptions, JobNameSuffix};

/// Upstream's cap on enumerated unmet slots.
pub(crate) const UNMET_SLOTS_MAX: usize = 100;

/// Settings of the poller.
#[derive(Clone, Debug)]
pub struct CronJobV1PollerConfig {
    /// The `wait.Until` period, 10 s.
    pub sync_period: Duration,
    /// The controller manager's local zone.
    pub local_zone: TimeZone,
    /// `Some(500)`: the unpatched 1.14 pager defect (issue 77465): with more Jobs than this
    /// cluster-wide the pass returns before touching any CronJob. `None`: fixed (1.15+ and
    /// vendor back-ports).
    pub abort_above_jobs: Option<usize>,
}

impl Default for CronJobV1PollerConfig {
    fn default() -> Self {
        CronJobV1PollerConfig {
            sync_period: Duration::from_secs(10),
            local_zone: TimeZone::UTC,
            abort_above_jobs: None,
        }
    }
}

/// The poller core.
#[derive(Debug)]
pub struct CronJobV1Poller {
    config: CronJobV1PollerConfig,
    pass: Option<Pass>,
    awaiting: Option<Awaiting>,
    seeded: bool,
}

impl CronJobV1Poller {
    pub fn new(config: CronJobV1PollerConfig) -> Self {
        assert!(!config.sync_period.is_zero(), "a poller needs a period");
        CronJobV1Poller {
            config,
            pass: None,
            awaiting: None,
            seeded: false,
        }
    }

    /// The synthetic key whose reconciles make up the passes (a namespace-less CronJob key
    /// no real CronJob can have). Queued by the first watch event; a driver may also queue
    /// it once at start.
    pub fn pass_key() -> ObjectKey {
        ObjectKey::new(ResourceKind::CronJob, "", "cronjob-v1-poller")
    }

    fn job_options() -> JobBuildOptions {
        JobBuildOptions {
            suffix: JobNameSuffix::UnixSeconds,
            scheduled_timestamp_annotation: false,
        }
    }

    /// `syncAll`'s lists: every CronJob, and every Job grouped by its controller's UID.
    fn start_pass(&self, cache: &ObjectCache) -> Option<Pass> {
        let job_count = cache.count(ResourceKind::Job);
        if self
            .config
            .abort_above_jobs
            .is_some_and(|limit| job_count > limit)
        {
            // "expected type *batchv1.JobList, got type *unstructured.UnstructuredList"
            return None;
        }
        // Shared pointers into the cache, not copies: the pass outlives this call and a
        // deep copy of every Job of the cluster every 10 s dominated the poller's cost.
        let mut jobs_by_owner: BTreeMap<String, Vec<Arc<KubeObject>>> = BTreeMap::new();
        for object in cache.list(ResourceKind::Job) {
            if let Some(reference) = object.controller_ref().filter(|r| r.kind == "CronJob") {
                jobs_by_owner
                    .entry(reference.uid.clone())
                    .or_default()
                    .push(object.clone());
            }
        }
        let cron_jobs: Vec<CronJob> = cache.list_typed::<CronJob>().cloned().collect();
        let current = cron_jobs.first()?.clone();
        Some(Pass {
            cron_jobs,
            jobs_by_owner,
            index: 0,
            step: Step::SyncStatus,
            current,
            events: Vec::new(),
        })
    }

    /// The next API call of the pass, running the steps that need none on the way.
    fn next_plan(&mut self, cache: &ObjectCache, now: Timestamp) -> (Plan, Awaiting) {
        loop {
            let Some(pass) = self.pass.as_mut() else {
                return (Plan::empty(), Awaiting::PassDone);
            };
            let mut plan = Plan::empty();
            plan.then(pass.events.drain(..).map(Action::Event).collect());
            let awaiting = match pass.step.clone() {
                Step::SyncStatus => Some(pass.sync_status(&mut plan)),
                Step::Decide => pass.decide(&mut plan, now, &self.config.local_zone),
                Step::Replace { slot, remaining } => {
                    pass.replace_next(&mut plan, cache, slot, remaining)
                }
                Step::Create { slot } => Some(pass.create(&mut plan, slot)),
                Step::RecordStatus => {
                    Some(pass.write_status(&mut plan, |index| Awaiting::RecordStatus { index }))
                }
                Step::Cleanup => pass.cleanup(&mut plan),
                Step::CleanupStatus => {
                    Some(pass.write_status(&mut plan, |_| Awaiting::CleanupStatus))
                }
                Step::Finished => Some(Awaiting::PassDone),
            };
            match awaiting {
                Some(awaiting) => return (plan, awaiting),
                // Events only (a stop): record them, then carry on without an API call.
                None if plan.action_count() > 0 => return (plan, Awaiting::Continue),
                None => {}
            }
        }
    }
}

/// Upstream v1 `getRecentUnmetScheduleTimes`: every slot after `lastScheduleTime` (or the
/// creation time, raised to now − startingDeadlineSeconds) up to now, oldest first; more
/// than 100 is an error and nothing is returned.
// TODO(corral-cron): switch to a `recent_unmet_schedule_times` helper if the cron crate
// grows one; the v2 helpers (`most_recent_schedule_time`) estimate instead of enumerating.
pub fn unmet_schedule_times(
    cron_job: &CronJob,
    now: Timestamp,
    zone: &TimeZone,
) -> Result<Vec<Timestamp>, String> {
    let schedule = corral_cron::Schedule::parse(&cron_job.spec.schedule)
        .map_err(|e| format!("Unparseable schedule: {} : {e}", cron_job.spec.schedule))?;
    let creation = cron_job
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(Timestamp::UNIX_EPOCH, |t| t.0);
    let last = cron_job
        .status
        .as_ref()
        .and_then(|s| s.last_schedule_time.as_ref())
        .map(|t| t.0);
    let earliest = corral_cron::earliest_schedule_time(
        creation,
        last,
        cron_job.spec.starting_deadline_seconds,
        now,
        true,
    );
    let mut times = Vec::new();
    if earliest > now {
        return Ok(times);
    }
    let mut next = schedule.next(earliest, zone);
    while let Some(slot) = next.filter(|t| *t <= now) {
        times.push(slot);
        if times.len() > UNMET_SLOTS_MAX {
            return Err("too many missed start time (> 100). Set or decrease .spec.startingDeadlineSeconds or check clock skew".into());
        }
        next = schedule.next(slot, zone);
    }
    Ok(times)
}

impl Reconciler for CronJobV1Poller {
    fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            name: "cronjob-v1",
            workers: 1,
            rate_limiter: RateLimiter::default_controller(),
        }
    }

    /// No watches upstream; CronJob events only start the first pass.
    fn watched_kinds(&self) -> &'static [ResourceKind] {
        &[ResourceKind::CronJob]
    }

    fn handle_event(
        &mut self,
        _: &ObjectEvent,
        _: Option<&KubeObject>,
        _: &ObjectCache,
        _: Timestamp,
    ) -> Vec<corral_core::Enqueue> {
        if std::mem::replace(&mut self.seeded, true) {
            return Vec::new();
        }
        vec![corral_core::Enqueue::now(Self::pass_key())]
    }

    fn reconcile(&mut self, cache: &ObjectCache, key: &ObjectKey, now: Timestamp) -> Plan {
        if *key != Self::pass_key() {
            return Plan::empty();
        }
        self.seeded = true;
        if self.pass.is_none() {
            self.pass = self.start_pass(cache);
        }
        let (mut plan, awaiting) = self.next_plan(cache, now);
        plan.requeue_after = Some(match awaiting {
            Awaiting::PassDone => self.config.sync_period,
            _ => Duration::ZERO,
        });
        self.awaiting = Some(awaiting);
        plan
    }

    fn handle_outcomes(
        &mut self,
        _: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        _: Timestamp,
    ) -> SyncResult {
        let awaiting = self.awaiting.take().unwrap_or(Awaiting::PassDone);
        if matches!(awaiting, Awaiting::PassDone) {
            self.pass = None;
            return SyncResult::Done {
                requeue_after: Some(self.config.sync_period),
            };
        }
        if let Some(pass) = self.pass.as_mut() {
            pass.advance(awaiting, outcomes);
        }
        SyncResult::Done {
            requeue_after: plan.requeue_after,
        }
    }
}
