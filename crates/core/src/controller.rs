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
//!
//! # Guard 1: the driver contract for fair queues and detached stages
//!
//! Two optional capabilities, both off unless a controller asks (every method below has a
//! default that keeps upstream's behaviour, so existing controllers and drivers are
//! unaffected):
//!
//! **Queue discipline.** [`Reconciler::queue_discipline`] says whether the driver keeps a
//! FIFO [`crate::WorkQueue`] or a [`crate::FairWorkQueue`] for the controller (the
//! [`crate::ControllerQueue`] enum does either). With a fair queue, every add — the keys of
//! `handle_event`, the requeues after `handle_outcomes` and `handle_detached_outcomes`, and
//! rate-limited retries — passes the key's class from
//! [`Reconciler::fairness_class`]`(cache, key)`, computed against the cache as it is at
//! that moment. Workers, rate limiter and everything else stay as [`QueueConfig`] says.
//!
//! **Detached stages.** A plan may contain a marker ([`Plan::detach_rest`]); the stages
//! after it are *detachable* ([`Plan::detach_point`]). A driver that supports detaching:
//!
//! 1. runs the stages before the marker as usual (stage order, `SkipRest` semantics);
//! 2. if one of them stopped the plan (a failed `SkipRest` stage), it does not detach: the
//!    remaining actions, detachable ones included, are `Skipped`, and it calls
//!    `handle_outcomes` with all outcomes and finishes the key exactly as today;
//! 3. otherwise it calls `handle_outcomes(key, plan, inline_outcomes, now)` with only the
//!    inline outcomes — `inline_outcomes.len() == plan.detached_action_start()` is how the
//!    controller knows the rest was detached — applies the returned [`SyncResult`] and calls
//!    `done(key)`: the worker and the key are free;
//! 4. runs the detachable stages in the background (same stage semantics among them; the
//!    same client and rate limits as inline writes), then calls
//!    `handle_detached_outcomes(key, plan, detached_outcomes, now)` with the same plan and
//!    the outcomes of the detached actions, index-aligned from
//!    `plan.detached_action_start()`, and applies the returned [`SyncResult`] to the queue
//!    as after `handle_outcomes` (`Done` → `forget` and `add_after` if a delay is given;
//!    `Retry` → `add_rate_limited`) — without calling `done`: the key was already released.
//!    The key may be in any state then (ready, waiting, held by another worker); the queue's
//!    usual rules apply.
//!
//! Every detached plan must be answered exactly once, with a `Failed` outcome per action
//! when the driver gives up (shutdown, timeout): the controller keeps state (expectations)
//! until then. Several detached plans of one key may be outstanding at once and may be
//! answered in any order. A driver that never detaches runs the marker as an empty stage
//! and calls only `handle_outcomes`, with every outcome: that is always correct.

use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};

use crate::cache::{ObjectCache, ObjectEvent};
use crate::clock::Timestamp;
use crate::fair_queue::{FairClass, QueueDiscipline};
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
    /// When the driver detached the plan's detachable stages, `outcomes` holds only the
    /// inline ones (see the module documentation).
    fn handle_outcomes(
        &mut self,
        key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        now: Timestamp,
    ) -> SyncResult;

    /// Guard 1: FIFO (upstream, the default) or fair queueing for this controller's keys.
    fn queue_discipline(&self) -> QueueDiscipline {
        QueueDiscipline::Fifo
    }

    /// Guard 1: the fairness class of `key` (asked only with a fair discipline).
    fn fairness_class(&self, cache: &ObjectCache, key: &ObjectKey) -> FairClass {
        let _ = cache;
        FairClass::of_key(key)
    }

    /// Guard 1: what happened to the detached actions of a plan whose inline part was
    /// reported to `handle_outcomes` (index-aligned from `plan.detached_action_start()`).
    /// Controllers that never detach are never called.
    fn handle_detached_outcomes(
        &mut self,
        key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        now: Timestamp,
    ) -> SyncResult {
        let _ = (key, plan, outcomes, now);
        SyncResult::Done {
            requeue_after: None,
        }
    }
}
