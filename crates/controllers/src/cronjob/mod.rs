//! The CronJob controller: upstream's v2 controller (`pkg/controller/cronjob/
//! cronjob_controllerv2.go`, default from 1.21, the only one from 1.22) as a pure
//! [`Reconciler`], plus the ≤ 1.20 poller ([`CronJobV1Poller`]) for replaying old incidents.
//!
//! The v2 sync, step by step (spec §2.2), lives in small files named after upstream's
//! functions: [`triggers`] (informer handlers), [`history`] (`cleanupFinishedJobs`),
//! [`sync`] (`syncCronJob`), [`schedule`] (`nextScheduleTime`, `formatSchedule`),
//! [`job_build`] (`getJobFromTemplate2`), [`events`] (reasons and messages) and [`finish`]
//! (turning decisions into plans, and write outcomes into the one status update).
//!
//! Time comes in as `now`; schedules are evaluated by `corral-cron` (robfig/cron v3
//! semantics, IANA zones); the controller's own local zone (`time.Local` upstream) is
//! [`CronJobControllerConfig::local_zone`], UTC unless configured.

pub mod active;
pub mod events;
pub mod finish;
pub mod guards;
pub mod history;
pub mod job_build;
pub mod job_state;
pub mod schedule;
pub mod sync;
pub mod triggers;
pub mod v1;

#[cfg(test)]
pub(crate) mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::{
    Enqueue, ObjectCache, ObjectEvent, Outcome, Plan, QueueConfig, RateLimiter, Reconciler,
    SyncResult, Timestamp,
};
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::CronJob;

use self::finish::{FollowUp, Pending};
use self::job_build::{JobBuildOptions, JobNameSuffix};
use self::sync::{SyncOptions, SyncState};

pub use self::guards::CronJobGuards;
pub use self::v1::{CronJobV1Poller, CronJobV1PollerConfig};

/// Settings of the v2 controller (kube-controller-manager flags and feature gates).
#[derive(Clone, Debug)]
pub struct CronJobControllerConfig {
    /// `--concurrent-cron-job-syncs`, default 5.
    pub workers: usize,
    /// The controller manager's local zone, used when `spec.timeZone` is unset.
    pub local_zone: TimeZone,
    /// Feature `CronJobsScheduledAnnotation` (beta, on by default since 1.30).
    pub scheduled_timestamp_annotation: bool,
    /// Corral's guards; `CronJobGuards::default()` (all off) is upstream.
    pub guards: CronJobGuards,
}

impl Default for CronJobControllerConfig {
    fn default() -> Self {
        CronJobControllerConfig {
            workers: 5,
            local_zone: TimeZone::UTC,
            scheduled_timestamp_annotation: true,
            guards: CronJobGuards::default(),
        }
    }
}

/// Which CronJob controller a cluster runs: the simulator's hook to replay pre-1.21
/// incidents with the poller while production runs v2.
#[derive(Clone, Debug)]
pub enum CronJobProfile {
    /// Event-driven, 5 workers (≥ 1.21).
    V2(CronJobControllerConfig),
    /// One goroutine polling every 10 s (≤ 1.20).
    V1(CronJobV1PollerConfig),
}

impl Default for CronJobProfile {
    fn default() -> Self {
        CronJobProfile::V2(CronJobControllerConfig::default())
    }
}

impl CronJobProfile {
    /// The controller core for this profile.
    pub fn build(self) -> Box<dyn Reconciler + Send> {
        match self {
            CronJobProfile::V2(config) => Box::new(CronJobController::new(config)),
            CronJobProfile::V1(config) => Box::new(CronJobV1Poller::new(config)),
        }
    }
}

/// The v2 controller core. Its state is the bookkeeping of syncs that span two plans (see
/// [`finish`]; at most one entry per key, removed by the key's next reconcile) and the
/// per-key retry backoff.
///
/// **Retries.** Upstream's worker answers a sync error with `AddRateLimited` and a success
/// with `Forget`. One upstream sync can take two reconciles here, and a driver forgets a key
/// after every `SyncResult::Done`, including the one that asks for the follow-up; a
/// `SyncResult::Retry` would therefore always wait the first backoff step (5 ms) and never
/// grow. So the controller owns upstream's `DefaultControllerRateLimiter` and turns a sync
/// error into `Done { requeue_after: Some(limiter.when(key)) }`, forgetting the key only
/// when a whole sync succeeds: failed creates back off 5 ms, 10 ms, 20 ms … 1000 s, as
/// upstream. The queue's own limiter stays unused by this controller.
#[derive(Debug)]
pub struct CronJobController {
    config: CronJobControllerConfig,
    /// Plans handed out and not yet answered by `handle_outcomes`.
    pending: BTreeMap<ObjectKey, Pending>,
    /// Answered write plans waiting for their follow-up reconcile.
    follow_ups: BTreeMap<ObjectKey, FollowUp>,
    limiter: RateLimiter<ObjectKey>,
    /// The last sync error per key, until the key syncs cleanly (for traces and tests).
    errors: BTreeMap<ObjectKey, String>,
}

const WATCHED_KINDS: &[ResourceKind] = &[ResourceKind::CronJob, ResourceKind::Job];

impl CronJobController {
    pub fn new(config: CronJobControllerConfig) -> Self {
        assert!(config.workers > 0, "a controller needs at least one worker");
        CronJobController {
            config,
            pending: BTreeMap::new(),
            follow_ups: BTreeMap::new(),
            limiter: RateLimiter::default_controller(),
            errors: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &CronJobControllerConfig {
        &self.config
    }

    /// The error of the key's last failed sync, cleared by its next successful one.
    pub fn last_error(&self, key: &ObjectKey) -> Option<&str> {
        self.errors.get(key).map(String::as_str)
    }

    fn sync_options(&self) -> SyncOptions {
        SyncOptions {
            local_zone: self.config.local_zone.clone(),
            job_build: JobBuildOptions {
                suffix: JobNameSuffix::UnixMinutes,
                scheduled_timestamp_annotation: self.config.scheduled_timestamp_annotation,
            },
            guards: self.config.guards.clone(),
        }
    }

    /// Upstream `sync`: history cleanup first, then `syncCronJob`, then one status write.
    fn sync(&self, cache: &ObjectCache, key: &ObjectKey, now: Timestamp) -> (Plan, Pending) {
        let Some(cron_job) = cache.get_typed::<CronJob>(&key.namespace, &key.name) else {
            // Deleted: nothing to do, no requeue.
            return (Plan::empty(), Pending::Finish(Default::default()));
        };
        let jobs = sync::jobs_to_be_reconciled(cache, cron_job);
        let mut state = SyncState::new(cron_job);
        history::cleanup_finished_jobs(&mut state, &jobs);
        sync::sync_cron_job(&mut state, &jobs, cache, now, &self.sync_options());
        finish::plan_sync(state)
    }
}

impl Reconciler for CronJobController {
    fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            name: "cronjob",
            workers: self.config.workers,
            rate_limiter: RateLimiter::default_controller(),
        }
    }

    fn watched_kinds(&self) -> &'static [ResourceKind] {
        WATCHED_KINDS
    }

    fn handle_event(
        &mut self,
        event: &ObjectEvent,
        previous: Option<&KubeObject>,
        cache: &ObjectCache,
        now: Timestamp,
    ) -> Vec<Enqueue> {
        triggers::enqueue_for_event(event, previous, cache, now, &self.config.local_zone)
    }

    fn reconcile(&mut self, cache: &ObjectCache, key: &ObjectKey, now: Timestamp) -> Plan {
        let (plan, pending) = match self.follow_ups.remove(key) {
            Some(follow_up) => finish::plan_follow_up(follow_up, cache),
            None => self.sync(cache, key, now),
        };
        self.pending.insert(key.clone(), pending);
        plan
    }

    /// Upstream `processNextWorkItem` on `sync`'s result, with the controller's own limiter
    /// (see [`CronJobController`]).
    fn handle_outcomes(
        &mut self,
        key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        now: Timestamp,
    ) -> SyncResult {
        let finish = match self.pending.remove(key) {
            None => finish::Finish {
                requeue_after: plan.requeue_after,
                ..Default::default()
            },
            Some(Pending::Writes(writes)) => {
                let outcomes = outcomes.to_vec();
                self.follow_ups
                    .insert(key.clone(), FollowUp { writes, outcomes });
                return SyncResult::Done {
                    requeue_after: Some(Duration::ZERO),
                };
            }
            Some(Pending::Finish(finish)) => finish,
        };
        match sync_error(&finish, outcomes) {
            Some(error) => {
                self.errors.insert(key.clone(), error);
                SyncResult::Done {
                    requeue_after: Some(self.limiter.when(key, now)),
                }
            }
            None => {
                self.errors.remove(key);
                self.limiter.forget(key);
                SyncResult::Done {
                    requeue_after: finish.requeue_after,
                }
            }
        }
    }
}

/// Upstream `sync`'s error: a failed status write, else `syncCronJob`'s error, else a
/// guard's failed write (a retry redoes the whole, idempotent, sync).
fn sync_error(finish: &finish::Finish, outcomes: &[Outcome]) -> Option<String> {
    if let Some(index) = finish.status_update {
        match outcomes.get(index) {
            Some(Outcome::Failed(error)) => {
                return Some(format!("updating cronjob status: {error}"));
            }
            Some(Outcome::Skipped) | None => {
                return Some("cronjob status write was not attempted".to_string());
            }
            Some(Outcome::Done(_)) => {}
        }
    }
    if finish.error.is_some() {
        return finish.error.clone();
    }
    finish
        .guard_actions
        .iter()
        .find_map(|(index, what)| match outcomes.get(*index) {
            Some(Outcome::Failed(error)) if !error.is_not_found() => {
                Some(format!("{what}: {error}"))
            }
            _ => None,
        })
}
