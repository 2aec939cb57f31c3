//! The garbage collector (`pkg/controller/garbagecollector/`): deletes objects whose owners
//! are gone, carries out foreground deletion, and orphans dependents, across every stored
//! kind.
//!
//! Upstream keeps a dependency graph built from informers on every deletable resource
//! (`graph_builder.go`) and two queues: `attemptToDelete` (20 workers) and `attemptToOrphan`
//! (1 worker). Corral's [`ObjectCache`] already is that graph (objects by key, dependents by
//! owner UID), so the collector is one reconciler over object keys of any kind:
//!
//! - [`GarbageCollector::handle_event`] plays the graph builder's part: it queues the items
//!   whose situation an event may have changed ([`triggers`]);
//! - [`GarbageCollector::reconcile`] is `attemptToDeleteItem` / `attemptToOrphanWorker` for
//!   the object now at the key ([`decide`]), classifying owner references with
//!   [`classify`].
//!
//! The one queue serves both upstream queues; orphaning therefore runs on the 20 workers
//! rather than on a dedicated one, which changes only how fast orphaning proceeds under load.
//! The collector records no events, as upstream in normal operation.

pub mod classify;
pub mod decide;
pub mod triggers;

#[cfg(test)]
pub(crate) mod harness;
#[cfg(test)]
mod tests;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::{
    Enqueue, ObjectCache, ObjectEvent, Outcome, Plan, QueueConfig, RateLimiter, Reconciler,
    SyncResult, Timestamp,
};

/// Settings of the collector.
#[derive(Clone, Debug)]
pub struct GarbageCollectorConfig {
    /// `--concurrent-gc-syncs`, default 20.
    pub workers: usize,
}

impl Default for GarbageCollectorConfig {
    fn default() -> Self {
        GarbageCollectorConfig { workers: 20 }
    }
}

/// The collector core. Stateless: every decision is a function of the cache.
#[derive(Debug)]
pub struct GarbageCollector {
    config: GarbageCollectorConfig,
}

impl GarbageCollector {
    pub fn new(config: GarbageCollectorConfig) -> Self {
        assert!(config.workers > 0, "a controller needs at least one worker");
        GarbageCollector { config }
    }
}

impl Default for GarbageCollector {
    fn default() -> Self {
        GarbageCollector::new(GarbageCollectorConfig::default())
    }
}

impl Reconciler for GarbageCollector {
    fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            name: "garbage_collector_attempt_to_delete",
            workers: self.config.workers,
            rate_limiter: RateLimiter::default_controller(),
        }
    }

    /// Every kind: owners and dependents may be of any kind.
    fn watched_kinds(&self) -> &'static [ResourceKind] {
        ResourceKind::ALL
    }

    fn handle_event(
        &mut self,
        event: &ObjectEvent,
        previous: Option<&KubeObject>,
        cache: &ObjectCache,
        _now: Timestamp,
    ) -> Vec<Enqueue> {
        triggers::items_to_attempt(event, previous, cache)
            .into_iter()
            .map(Enqueue::now)
            .collect()
    }

    fn reconcile(&mut self, cache: &ObjectCache, key: &ObjectKey, _now: Timestamp) -> Plan {
        let Some(item) = cache.get(key) else {
            return Plan::empty();
        };
        // An owner that cannot be resolved leaves the item alone (see `Unresolvable`).
        decide::decide(cache, item).unwrap_or_default()
    }

    /// Upstream `attemptToDeleteWorker`: any failed write is a rate-limited retry. A NotFound
    /// (the item or a dependent vanished meanwhile) is a retry too; the retry finds nothing
    /// to do.
    fn handle_outcomes(
        &mut self,
        _key: &ObjectKey,
        _plan: &Plan,
        outcomes: &[Outcome],
        _now: Timestamp,
    ) -> SyncResult {
        match outcomes.iter().find_map(Outcome::error) {
            Some(error) => SyncResult::Retry {
                reason: format!("garbage collection failed: {error}"),
            },
            None => SyncResult::Done {
                requeue_after: None,
            },
        }
    }
}
