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
//! The driver holds no reconcile logic: it never looks at the objects it moves.

use corral_api::{ObjectKey, ResourceKind};
use corral_core::{Outcome, Plan, Reconciler, WorkQueue};

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
    pub queue: WorkQueue<ObjectKey>,
    pub workers: Vec<Option<WorkItem>>,
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
            queue: WorkQueue::new(config.rate_limiter),
            workers: (0..config.workers).map(|_| None).collect(),
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
        self.workers.iter().position(Option::is_none)
    }

    pub fn busy_workers(&self) -> usize {
        self.workers.iter().filter(|w| w.is_some()).count()
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
