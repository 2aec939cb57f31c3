//! The ≤ 1.20 CronJob controller (poller). Placeholder while the v2 core settles.

use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::{
    Enqueue, ObjectCache, ObjectEvent, Outcome, Plan, QueueConfig, RateLimiter, Reconciler,
    SyncResult, Timestamp,
};
use jiff::tz::TimeZone;

#[derive(Clone, Debug)]
pub struct CronJobV1PollerConfig {
    pub sync_period: Duration,
    pub local_zone: TimeZone,
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

#[derive(Debug)]
pub struct CronJobV1Poller {
    config: CronJobV1PollerConfig,
}

impl CronJobV1Poller {
    pub fn new(config: CronJobV1PollerConfig) -> Self {
        CronJobV1Poller { config }
    }
}

impl Reconciler for CronJobV1Poller {
    fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            name: "cronjob-v1",
            workers: 1,
            rate_limiter: RateLimiter::default_controller(),
        }
    }

    fn watched_kinds(&self) -> &'static [ResourceKind] {
        &[]
    }

    fn handle_event(&mut self, _: &ObjectEvent, _: Option<&KubeObject>, _: &ObjectCache, _: Timestamp) -> Vec<Enqueue> {
        Vec::new()
    }

    fn reconcile(&mut self, _: &ObjectCache, _: &ObjectKey, _: Timestamp) -> Plan {
        Plan::requeue(self.config.sync_period)
    }

    fn handle_outcomes(&mut self, _: &ObjectKey, plan: &Plan, _: &[Outcome], _: Timestamp) -> SyncResult {
        SyncResult::Done { requeue_after: plan.requeue_after }
    }
}
