//! [`ControllerDriver`]: runs one pure [`Reconciler`] on tokio, upstream's
//! `processNextWorkItem` loop made explicit.
//!
//! - The core sits behind a mutex. `handle_event`, `reconcile` and `handle_outcomes` are
//!   quick and pure; the plan's API calls run outside the lock, so other workers reconcile
//!   other keys meanwhile.
//! - The [`WorkQueue`] sits behind a mutex too. Workers wait on a [`Notify`] for ready
//!   keys; one timer task sleeps until the queue's `next_wakeup()` and promotes delayed
//!   keys (re-armed whenever an add makes the earliest wakeup earlier).
//! - `queue_config().workers` workers: pop → reconcile (cache read lock) → execute the
//!   plan ([`PlanExecutor`]) → `handle_outcomes` → `Done` forgets the key's failures and
//!   re-adds it after `requeue_after` (zero: ready at once), `Retry` re-adds it rate-limited
//!   → `done` (a key re-added while held goes back to the ready queue now).
//! - Workers start only once every informer has listed ([`Synced`]); events before that
//!   are queued (the initial list enqueues every object).
//! - Shutdown: workers finish the key in hand and stop; the timer stops.
//!
//! The driver never looks at the objects it moves.

use std::sync::Arc;
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::{
    Clock, Enqueue, ObjectCache, ObjectEvent, Plan, Reconciler, SyncResult, Timestamp, WorkQueue,
};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::clock::until;
use crate::execute::{OutcomeCounts, PlanExecutor};
use crate::informer::{CacheReader, EventHandler};
use crate::metrics::ControllerMetrics;
use crate::signal::{Shutdown, Synced};

/// Queue lengths of one controller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub ready: usize,
    pub waiting: usize,
    pub processing: usize,
}

impl QueueStats {
    pub fn is_idle(&self) -> bool {
        self.ready == 0 && self.processing == 0
    }
}

/// Drives one controller core. Cheap to clone (shared state).
pub struct ControllerDriver<C> {
    shared: Arc<Shared<C>>,
}

impl<C> Clone for ControllerDriver<C> {
    fn clone(&self) -> Self {
        ControllerDriver {
            shared: Arc::clone(&self.shared),
        }
    }
}

struct Shared<C> {
    name: &'static str,
    kinds: &'static [ResourceKind],
    workers: usize,
    core: Mutex<C>,
    queue: Mutex<WorkQueue<ObjectKey>>,
    /// Ready keys for idle workers.
    ready: Notify,
    /// The earliest wakeup moved earlier.
    rearm: Notify,
    clock: Arc<dyn Clock>,
    cache: CacheReader,
    executor: PlanExecutor,
    metrics: ControllerMetrics,
}

impl<C: Reconciler + Send + 'static> ControllerDriver<C> {
    /// A driver for `core`, reading `cache`, writing through `executor`. `workers`
    /// overrides `queue_config().workers` when set.
    pub fn new(
        core: C,
        cache: CacheReader,
        executor: PlanExecutor,
        clock: Arc<dyn Clock>,
        metrics: ControllerMetrics,
        workers: Option<usize>,
    ) -> ControllerDriver<C> {
        let config = core.queue_config();
        let workers = workers.unwrap_or(config.workers).max(1);
        let kinds = core.watched_kinds();
        ControllerDriver {
            shared: Arc::new(Shared {
                name: config.name,
                kinds,
                workers,
                core: Mutex::new(core),
                queue: Mutex::new(WorkQueue::new(config.rate_limiter)),
                ready: Notify::new(),
                rearm: Notify::new(),
                clock,
                cache,
                executor,
                metrics,
            }),
        }
    }

    pub fn name(&self) -> &'static str {
        self.shared.name
    }

    pub fn workers(&self) -> usize {
        self.shared.workers
    }

    /// Runs `inspect` on the core under its lock (tests, diagnostics).
    pub fn with_core<R>(&self, inspect: impl FnOnce(&C) -> R) -> R {
        inspect(&self.shared.core.lock())
    }

    /// Adds keys as `handle_event` would have.
    pub fn enqueue(&self, enqueues: Vec<Enqueue>) {
        self.shared.enqueue(enqueues, self.shared.clock.now());
    }

    pub fn queue_stats(&self) -> QueueStats {
        let queue = self.shared.queue.lock();
        QueueStats {
            ready: queue.ready_len(),
            waiting: queue.waiting_len(),
            processing: queue.processing_len(),
        }
    }

    pub fn metrics(&self) -> &ControllerMetrics {
        &self.shared.metrics
    }

    /// The informer-facing side of this driver.
    pub fn event_handler(&self) -> Arc<dyn EventHandler> {
        Arc::clone(&self.shared) as Arc<dyn EventHandler>
    }

    /// Starts the workers and the timer on `tasks`.
    pub fn spawn(&self, tasks: &mut JoinSet<()>, shutdown: Shutdown, synced: Synced) {
        for worker in 0..self.shared.workers {
            let shared = Arc::clone(&self.shared);
            tasks.spawn(shared.run_worker(worker, shutdown.clone(), synced.clone()));
        }
        tasks.spawn(Arc::clone(&self.shared).run_timer(shutdown));
    }
}

impl<C: Reconciler + Send + 'static> EventHandler for Shared<C> {
    fn name(&self) -> &str {
        self.name
    }

    fn watched_kinds(&self) -> &'static [ResourceKind] {
        self.kinds
    }

    fn handle_event(
        &self,
        event: &ObjectEvent,
        previous: Option<&KubeObject>,
        cache: &ObjectCache,
        now: Timestamp,
    ) {
        let enqueues = self.core.lock().handle_event(event, previous, cache, now);
        if !enqueues.is_empty() {
            self.enqueue(enqueues, now);
        }
    }
}

impl<C: Reconciler + Send + 'static> Shared<C> {
    fn enqueue(&self, enqueues: Vec<Enqueue>, now: Timestamp) {
        let count = enqueues.len() as u64;
        let (ready, rearm) = {
            let mut queue = self.queue.lock();
            let ready_before = queue.ready_len();
            let wakeup_before = queue.next_wakeup();
            for enqueue in enqueues {
                match enqueue.after {
                    None => queue.add(enqueue.key),
                    Some(delay) => queue.add_after(enqueue.key, now, delay),
                }
            }
            self.metrics
                .queue_lengths(queue.ready_len(), queue.waiting_len());
            let rearm = earlier(queue.next_wakeup(), wakeup_before);
            (queue.ready_len().saturating_sub(ready_before), rearm)
        };
        self.metrics.added(count);
        self.wake_workers(ready);
        if rearm {
            self.rearm.notify_one();
        }
    }

    fn wake_workers(&self, ready: usize) {
        for _ in 0..ready.min(self.workers) {
            self.ready.notify_one();
        }
    }

    /// The next ready key, or `None` at shutdown.
    async fn next_key(&self, shutdown: &mut Shutdown) -> Option<ObjectKey> {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if shutdown.is_triggered() {
                return None;
            }
            let (key, more) = {
                let mut queue = self.queue.lock();
                let key = queue.pop(self.clock.now());
                self.metrics
                    .queue_lengths(queue.ready_len(), queue.waiting_len());
                (key, queue.ready_len() > 0)
            };
            if more {
                // `pop` may have promoted several delayed keys: pass the word on.
                self.ready.notify_one();
            }
            if key.is_some() {
                return key;
            }
            tokio::select! {
                biased;
                _ = shutdown.wait() => return None,
                _ = notified => {}
            }
        }
    }

    async fn run_worker(
        self: Arc<Self>,
        worker: usize,
        mut shutdown: Shutdown,
        mut synced: Synced,
    ) {
        tokio::select! {
            biased;
            _ = shutdown.wait() => return,
            ok = synced.wait() => if !ok { return },
        }
        tracing::debug!(controller = self.name, worker, "worker started");
        while let Some(key) = self.next_key(&mut shutdown).await {
            self.process(key).await;
            // A sync without API calls never yields; keep a busy queue from starving the
            // informer and other workers on the same thread.
            tokio::task::coop::consume_budget().await;
        }
        tracing::debug!(controller = self.name, worker, "worker stopped");
    }

    /// One sync of `key`.
    async fn process(&self, key: ObjectKey) {
        let started = Instant::now();
        let plan = self.reconcile(&key);
        let reconciled = started.elapsed();
        let outcomes = self.executor.execute(&plan).await;
        let counts = OutcomeCounts::of(&outcomes);
        self.metrics
            .action_results(counts.done, counts.failed, counts.skipped);
        let now = self.clock.now();
        let result = self
            .core
            .lock()
            .handle_outcomes(&key, &plan, &outcomes, now);
        tracing::trace!(controller = self.name, %key, actions = outcomes.len(), failed = counts.failed, ?result, "synced");
        self.finish(key, result, now);
        self.metrics.sync_took(started.elapsed(), reconciled);
    }

    fn reconcile(&self, key: &ObjectKey) -> Plan {
        let now = self.clock.now();
        let mut core = self.core.lock();
        let cache = self.cache.read();
        core.reconcile(&cache, key, now)
    }

    /// `processNextWorkItem`'s epilogue: forget / add_after / add_rate_limited, then done.
    fn finish(&self, key: ObjectKey, result: SyncResult, now: Timestamp) {
        let (ready, rearm) = {
            let mut queue = self.queue.lock();
            let wakeup_before = queue.next_wakeup();
            match result {
                SyncResult::Done { requeue_after } => {
                    queue.forget(&key);
                    if let Some(delay) = requeue_after {
                        queue.add_after(key.clone(), now, delay);
                    }
                }
                SyncResult::Retry { reason } => {
                    tracing::debug!(controller = self.name, %key, requeues = queue.num_requeues(&key), %reason, "sync failed, retrying");
                    self.metrics.retried();
                    queue.add_rate_limited(key.clone(), now);
                }
            }
            queue.done(&key);
            self.metrics
                .queue_lengths(queue.ready_len(), queue.waiting_len());
            (
                queue.ready_len(),
                earlier(queue.next_wakeup(), wakeup_before),
            )
        };
        // This worker pops again at once; others may be idle.
        self.wake_workers(ready.saturating_sub(1));
        if rearm {
            self.rearm.notify_one();
        }
    }

    /// Sleeps until the queue's next wakeup, promotes due keys and wakes workers.
    async fn run_timer(self: Arc<Self>, mut shutdown: Shutdown) {
        loop {
            let rearmed = self.rearm.notified();
            tokio::pin!(rearmed);
            rearmed.as_mut().enable();
            let (ready, wakeup) = {
                let mut queue = self.queue.lock();
                queue.promote(self.clock.now());
                self.metrics
                    .queue_lengths(queue.ready_len(), queue.waiting_len());
                (queue.ready_len(), queue.next_wakeup())
            };
            self.wake_workers(ready);
            let sleep_for = wakeup.map(|at| until(self.clock.as_ref(), at));
            tokio::select! {
                biased;
                _ = shutdown.wait() => return,
                _ = rearmed => {}
                _ = sleep_or_forever(sleep_for) => {}
            }
        }
    }
}

/// Whether `after` is an earlier wakeup than `before` (or the first one).
fn earlier(after: Option<Timestamp>, before: Option<Timestamp>) -> bool {
    match (after, before) {
        (Some(a), Some(b)) => a < b,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

async fn sleep_or_forever(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}
