//! The generic virtual-time driver for a [`Reconciler`], upstream's `processNextWorkItem`
//! loop made explicit:
//!
//! 1. watch events go to `handle_event` (after the shared cache has the new state); the
//!    keys it returns go into the controller's [`WorkQueue`];
//! 2. an idle worker pops a ready key, calls `reconcile` with the cache and `now`, and
//!    executes the plan stage by stage; a stage's API calls are issued together and the
//!    worker stays busy until the last one answers (blocking creates: the upstream model
//!    that bounds pod creation at workers ÷ admission latency);
//! 3. `handle_outcomes` says how the key goes back: `Done` forgets its failures and
//!    re-adds it after `requeue_after` (zero-delay requeues are served at once), `Retry`
//!    re-adds it rate-limited; then `done` releases it.
//!
//!
//! Guard 1 (`corral_core::controller`'s driver contract): the queue is the discipline the
//! controller asks for (FIFO or fair, with the key's fairness class computed against the
//! cache at each add), and a plan with a detach marker releases its worker and key when the
//! inline stages are done: `handle_outcomes` gets the inline outcomes, the detachable
//! stages run in a *detached slot* (same client, same stage semantics), and
//! `handle_detached_outcomes` gets theirs when the last one answers.
//!
//! The driver holds no reconcile logic: it never looks at the objects it moves.

use corral_api::{ObjectKey, ResourceKind};
use corral_core::{ControllerQueue, Outcome, Plan, Reconciler};

use crate::api::ClientId;
use crate::time::SimTime;

/// A key being worked on.
#[derive(Debug)]
pub struct WorkItem {
    pub key: ObjectKey,
    pub plan: Plan,
    /// One per action of the plan, filled as calls answer.
    pub outcomes: Vec<Option<Outcome>>,
    /// The stage whose calls are in flight (or the next to issue).
    pub stage: usize,
    /// Calls of the current stage still in flight.
    pub in_flight: usize,
    /// An earlier `SkipRest` stage failed: remaining actions are skipped.
    pub skipping: bool,
    /// The current stage's calls have been issued.
    pub issued: bool,
    pub started: SimTime,
    /// Guard 1: the inline part was reported and the key released; the detachable stages
    /// run in a detached slot.
    pub detached: bool,
}

impl WorkItem {
    pub fn new(key: ObjectKey, plan: Plan, started: SimTime) -> WorkItem {
        let count = plan.action_count();
        WorkItem {
            key,
            plan,
            outcomes: vec![None; count],
            stage: 0,
            in_flight: 0,
            skipping: false,
            issued: false,
            started,
            detached: false,
        }
    }

    /// Index in `outcomes` of the first action of `stage`.
    pub fn first_action(&self, stage: usize) -> usize {
        self.plan.stages[..stage]
            .iter()
            .map(|s| s.actions.len())
            .sum()
    }

    /// Whether any action of `stage` failed.
    pub fn stage_failed(&self, stage: usize) -> bool {
        let first = self.first_action(stage);
        let count = self.plan.stages[stage].actions.len();
        self.outcomes[first..first + count]
            .iter()
            .any(|o| o.as_ref().is_some_and(Outcome::is_failure))
    }
}

/// One controller (or the scheduler) and its queue and workers.
pub struct ControllerDriver {
    pub name: String,
    pub reconciler: Box<dyn Reconciler>,
    pub queue: ControllerQueue<ObjectKey>,
    /// Slots `..worker_count` are the workers; the slots after them hold detached plans
    /// (guard 1), reused when free.
    pub workers: Vec<Option<WorkItem>>,
    pub worker_count: usize,
    pub client: ClientId,
    /// Bit per `ResourceKind` ordinal: the kinds whose events it wants.
    pub watched: u64,
    /// The queue wakeup already scheduled on the event heap.
    pub wake_at: Option<SimTime>,
    pub syncs: u64,
    /// Virtual nanoseconds workers spent busy.
    pub busy: u64,
}

impl ControllerDriver {
    pub fn new(name: &str, reconciler: Box<dyn Reconciler>, client: ClientId) -> ControllerDriver {
        let config = reconciler.queue_config();
        assert!(config.workers > 0, "a controller needs a worker");
        let watched = reconciler
            .watched_kinds()
            .iter()
            .map(|k| 1u64 << kind_bit(*k))
            .fold(0, |a, b| a | b);
        ControllerDriver {
            name: name.to_string(),
            queue: ControllerQueue::new(config.rate_limiter, reconciler.queue_discipline()),
            workers: (0..config.workers).map(|_| None).collect(),
            worker_count: config.workers,
            reconciler,
            client,
            watched,
            wake_at: None,
            syncs: 0,
            busy: 0,
        }
    }

    pub fn watches(&self, kind: ResourceKind) -> bool {
        self.watched & (1 << kind_bit(kind)) != 0
    }

    pub fn idle_worker(&self) -> Option<usize> {
        self.workers[..self.worker_count]
            .iter()
            .position(Option::is_none)
    }

    pub fn busy_workers(&self) -> usize {
        self.workers[..self.worker_count]
            .iter()
            .filter(|w| w.is_some())
            .count()
    }

    /// Detached plans still running (guard 1).
    pub fn detached_plans(&self) -> usize {
        self.workers[self.worker_count..]
            .iter()
            .filter(|w| w.is_some())
            .count()
    }

    /// A free detached slot (guard 1), appended when every one is taken.
    pub fn free_detached_slot(&mut self) -> usize {
        match self.workers[self.worker_count..]
            .iter()
            .position(Option::is_none)
        {
            Some(i) => self.worker_count + i,
            None => {
                self.workers.push(None);
                self.workers.len() - 1
            }
        }
    }

    /// Adds `key` now, with its fairness class against `cache` when the queue is fair.
    pub fn add(&mut self, cache: &corral_core::ObjectCache, key: ObjectKey) {
        let reconciler = &self.reconciler;
        self.queue.add(key, |k| reconciler.fairness_class(cache, k));
    }

    pub fn add_after(
        &mut self,
        cache: &corral_core::ObjectCache,
        key: ObjectKey,
        now: corral_core::Timestamp,
        delay: std::time::Duration,
    ) {
        let reconciler = &self.reconciler;
        self.queue
            .add_after(key, |k| reconciler.fairness_class(cache, k), now, delay);
    }

    pub fn add_rate_limited(
        &mut self,
        cache: &corral_core::ObjectCache,
        key: ObjectKey,
        now: corral_core::Timestamp,
    ) {
        let reconciler = &self.reconciler;
        self.queue
            .add_rate_limited(key, |k| reconciler.fairness_class(cache, k), now);
    }

    /// Applies a sync's result to the queue (`Done` → forget and maybe add after,
    /// `Retry` → rate-limited); the caller decides about `done`.
    pub fn apply_result(
        &mut self,
        cache: &corral_core::ObjectCache,
        key: &ObjectKey,
        result: corral_core::SyncResult,
        now: corral_core::Timestamp,
    ) {
        match result {
            corral_core::SyncResult::Done { requeue_after } => {
                self.queue.forget(key);
                if let Some(delay) = requeue_after {
                    self.add_after(cache, key.clone(), now, delay);
                }
            }
            corral_core::SyncResult::Retry { .. } => self.add_rate_limited(cache, key.clone(), now),
        }
    }

    /// Upstream's `workqueue_depth`: keys ready and waiting for a worker.
    pub fn depth(&self) -> usize {
        self.queue.ready_len()
    }
}

pub fn kind_bit(kind: ResourceKind) -> usize {
    ResourceKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(0)
}
