//! TTL after finished (`pkg/controller/ttlafterfinished/ttlafterfinished_controller.go`):
//! deletes a finished Job `ttlSecondsAfterFinished` after it finished.
//!
//! - Interested only in Jobs with `ttlSecondsAfterFinished` and `Complete=True` or
//!   `Failed=True` (upstream `needsCleanup`), not being deleted.
//! - Expiry = that condition's `lastTransitionTime` + TTL (`getFinishAndExpireTime`). Before
//!   it, the key is re-queued for exactly the remaining time; at it (remaining ≤ 0, as
//!   upstream's `*t <= 0`) the Job is deleted in the foreground with its UID as precondition.
//!   It never fires early: the decision compares `now` with the expiry, not a timer's luck.
//! - Upstream re-reads the Job with a live GET before deleting and re-checks; the cache is
//!   the read here (one ordered watch), and the UID precondition guards the delete.
//! - No events; a finish time in the future (clock skew) simply waits.

use std::collections::BTreeMap;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::{
    Action, ChangeKind, Enqueue, ObjectCache, ObjectEvent, Outcome, Plan, Propagation, QueueConfig,
    RateLimiter, Reconciler, SyncResult, Timestamp,
};
use k8s_openapi::api::batch::v1::Job;

use crate::cronjob::job_state::finished_condition;

#[cfg(test)]
mod tests;

/// Settings of the TTL controller.
#[derive(Clone, Debug)]
pub struct TtlAfterFinishedConfig {
    /// `--concurrent-ttl-after-finished-syncs`, default 5.
    pub workers: usize,
}

impl Default for TtlAfterFinishedConfig {
    fn default() -> Self {
        TtlAfterFinishedConfig { workers: 5 }
    }
}

/// The controller core. Its only state is the error of a reconcile whose Job could not be
/// judged, held until the matching `handle_outcomes` turns it into a retry.
#[derive(Debug)]
pub struct TtlAfterFinishedController {
    config: TtlAfterFinishedConfig,
    errors: BTreeMap<ObjectKey, String>,
}

impl TtlAfterFinishedController {
    pub fn new(config: TtlAfterFinishedConfig) -> Self {
        assert!(config.workers > 0, "a controller needs at least one worker");
        TtlAfterFinishedController {
            config,
            errors: BTreeMap::new(),
        }
    }
}

impl Default for TtlAfterFinishedController {
    fn default() -> Self {
        TtlAfterFinishedController::new(TtlAfterFinishedConfig::default())
    }
}

/// Upstream `needsCleanup`.
pub fn needs_cleanup(job: &Job) -> bool {
    job.spec
        .as_ref()
        .and_then(|s| s.ttl_seconds_after_finished)
        .is_some()
        && finished_condition(job).is_some()
}

/// When the Job expires (upstream `getFinishAndExpireTime`); an error when it has finished
/// but the condition carries no transition time.
pub fn expire_time(job: &Job) -> Result<Option<Timestamp>, String> {
    let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else {
        return Ok(None);
    };
    let Some((_, condition)) = finished_condition(job) else {
        return Ok(None);
    };
    let Some(finished_at) = condition.last_transition_time.as_ref().map(|t| t.0) else {
        let key = format!(
            "{}/{}",
            job.metadata.namespace.as_deref().unwrap_or(""),
            job.metadata.name.as_deref().unwrap_or("")
        );
        return Err(format!(
            "unable to find the time when the Job {key} finished"
        ));
    };
    let ttl = jiff::SignedDuration::from_secs(i64::from(ttl));
    Ok(Some(finished_at.checked_add(ttl).unwrap_or(Timestamp::MAX)))
}

impl Reconciler for TtlAfterFinishedController {
    fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            name: "ttl_jobs_to_delete",
            workers: self.config.workers,
            rate_limiter: RateLimiter::default_controller(),
        }
    }

    fn watched_kinds(&self) -> &'static [ResourceKind] {
        &[ResourceKind::Job]
    }

    /// Upstream `addJob` / `updateJob`; deletions are ignored.
    fn handle_event(
        &mut self,
        event: &ObjectEvent,
        _: Option<&KubeObject>,
        _: &ObjectCache,
        _: Timestamp,
    ) -> Vec<Enqueue> {
        let Some(job) = event.object.as_typed::<Job>() else {
            return Vec::new();
        };
        let interesting = event.change != ChangeKind::Deleted
            && job.metadata.deletion_timestamp.is_none()
            && needs_cleanup(job);
        if interesting {
            vec![Enqueue::now(event.object.key())]
        } else {
            Vec::new()
        }
    }

    /// Upstream `processJob` / `processTTL`.
    fn reconcile(&mut self, cache: &ObjectCache, key: &ObjectKey, now: Timestamp) -> Plan {
        self.errors.remove(key);
        let Some(job) = cache.get_typed::<Job>(&key.namespace, &key.name) else {
            return Plan::empty();
        };
        if job.metadata.deletion_timestamp.is_some() || !needs_cleanup(job) {
            return Plan::empty();
        }
        let expire_at = match expire_time(job) {
            Ok(Some(at)) => at,
            Ok(None) => return Plan::empty(),
            Err(error) => {
                self.errors.insert(key.clone(), error);
                return Plan::empty();
            }
        };
        if expire_at > now {
            return Plan::requeue(corral_core::clock::since(expire_at, now));
        }
        let uid = job.metadata.uid.as_deref().map(Into::into);
        let mut plan = Plan::empty();
        plan.push(Action::delete(
            key.clone(),
            uid,
            Some(Propagation::Foreground),
        ));
        plan
    }

    /// A failed delete is a rate-limited retry; a requeue is `Forget` + `AddAfter`.
    fn handle_outcomes(
        &mut self,
        key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        _: Timestamp,
    ) -> SyncResult {
        if let Some(error) = self.errors.remove(key) {
            return SyncResult::Retry { reason: error };
        }
        if let Some(error) = outcomes.iter().find_map(Outcome::error) {
            return SyncResult::Retry {
                reason: format!("error cleaning up Job {key}: {error}"),
            };
        }
        SyncResult::Done {
            requeue_after: plan.requeue_after,
        }
    }
}
