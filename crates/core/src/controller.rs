//! The interface every pure controller core implements, and that both drivers (the tokio
//! runtime and the simulator) call in the same order:
//!
//! 1. every watch event goes to [`Reconciler::handle_event`] *after* the shared cache was
//!    updated; it returns the keys to enqueue (with an optional delay, e.g. the Job
//!    controller's 1 s pod-event batching) and may update explicit state (expectations);
//! 2. a worker pops a key and calls [`Reconciler::reconcile`] with the cache and `now`;
//! 3. the driver executes the [`Plan`] and passes the outcomes to
//!    [`Reconciler::handle_outcomes`], which updates explicit state and says how the key
//!    goes back in the queue ([`SyncResult`]).
//!
//! Cores never sleep, read a clock or do I/O; time arrives as `now`.

use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};

use crate::cache::{ObjectCache, ObjectEvent};
use crate::clock::Timestamp;
use crate::plan::{Outcome, Plan};
use crate::workqueue::RateLimiter;

/// A key to put in the controller's queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enqueue {
    pub key: ObjectKey,
    /// `None`: now; `Some(d)`: `add_after(d)`.
    pub after: Option<Duration>,
}

impl Enqueue {
    pub fn now(key: ObjectKey) -> Self {
        Enqueue { key, after: None }
    }

    pub fn after(key: ObjectKey, delay: Duration) -> Self {
        Enqueue {
            key,
            after: Some(delay),
        }
    }
}

/// How a finished sync puts its key back in the queue (upstream's `processNextWorkItem`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncResult {
    /// Success: `Forget` the key's failures; re-add after the delay if one is given.
    Done { requeue_after: Option<Duration> },
    /// Failure: `AddRateLimited` (per-key exponential backoff).
    Retry { reason: String },
}

/// Queue and worker settings a controller asks its driver for.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    pub name: &'static str,
    pub workers: usize,
    pub rate_limiter: RateLimiter<ObjectKey>,
}

/// A controller core.
pub trait Reconciler {
    /// Queue name, worker count and rate limiter (the upstream constants).
    fn queue_config(&self) -> QueueConfig;

    /// The kinds whose events this controller wants (its informers).
    fn watched_kinds(&self) -> &'static [ResourceKind];

    /// Reacts to one event; `previous` is the object's state before it, if cached.
    fn handle_event(
        &mut self,
        event: &ObjectEvent,
        previous: Option<&KubeObject>,
        cache: &ObjectCache,
        now: Timestamp,
    ) -> Vec<Enqueue>;

    /// Decides what to do for `key`.
    fn reconcile(&mut self, cache: &ObjectCache, key: &ObjectKey, now: Timestamp) -> Plan;

    /// Learns what happened to the plan's actions (index-aligned with `plan.actions()`).
    fn handle_outcomes(
        &mut self,
        key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        now: Timestamp,
    ) -> SyncResult;
}
