//! [`ControllerDriver`]: runs one pure [`Reconciler`] on tokio, upstream's
//! `processNextWorkItem` loop made explicit.
//!
//! - The core sits behind a mutex. `handle_event`, `reconcile` and `handle_outcomes` are
//!   quick and pure; the plan's API calls run outside the lock, so other workers reconcile
//!   other keys meanwhile.
//! - The queue ([`ControllerQueue`]: client-go's FIFO `WorkQueue`, or guard 1's fair queue,
//!   as `Reconciler::queue_discipline` asks) sits behind a mutex too. Workers wait on a
//!   [`Notify`] for ready keys; one timer task sleeps until the queue's `next_wakeup()` and
//!   promotes delayed keys (re-armed whenever an add makes the earliest wakeup earlier).
//! - `queue_config().workers` workers: pop → reconcile (cache read lock) → execute the
//!   plan ([`PlanExecutor`]) → `handle_outcomes` → `Done` forgets the key's failures and
//!   re-adds it after `requeue_after` (zero: ready at once), `Retry` re-adds it rate-limited
//!   → `done` (a key re-added while held goes back to the ready queue now).
//! - Workers start only once every informer has listed ([`Synced`]); events before that
//!   are queued (the initial list enqueues every object).
//! - Shutdown: workers finish the key in hand and stop; the timer stops.
//!
//! # Guard 1: the driver contract (`corral_core::controller`, `docs/guards.md`)
//!
//! - **Fair queue.** With a fair discipline every add (event keys, requeues after
//!   `handle_outcomes` and `handle_detached_outcomes`, rate-limited retries) carries the
//!   key's class from `Reconciler::fairness_class`, computed against the cache as it is at
//!   that moment, under the core's lock and *before* the queue lock is taken (lock order:
//!   core → cache → nothing; the queue lock is never held while taking another). A FIFO
//!   queue never asks for a class, so upstream-configured controllers cost nothing extra.
//! - **Detached tails.** When `plan.detach_point()` is `Some(i)` and a tail slot is free,
//!   the worker runs stages `..i`; if one stopped the plan, every later action is
//!   `Skipped` and the key finishes as usual (no detach). Otherwise it calls
//!   `handle_outcomes` with the inline outcomes only, applies the result, calls `done` —
//!   worker and key are free — and runs stages `i..` as a background task (same executor:
//!   same client token bucket, stage concurrency and stage semantics). That task calls
//!   `handle_detached_outcomes` with the tail's outcomes and applies the result to the
//!   queue without `done`.
//! - **Exactly once.** Every tail is answered once: with its real outcomes; or, at
//!   shutdown or after [`DriverOptions::detached_timeout`], with `Failed` for every action
//!   not finished (stages finished before keep their real outcomes). Tails belong to the
//!   worker that started them; a stopping worker waits for its tails, which answer at once
//!   once shutdown is triggered, so `ControllerManagerHandle::shutdown` returns only after
//!   every tail was answered (unless its own timeout aborts the tasks).
//! - **Bounded.** At most [`DriverOptions::detached_max`] tails per controller; at the cap
//!   a detachable plan runs inline, marker and all (always correct).
//!
//! The driver never looks at the objects it moves.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use corral_api::{ApiError, KubeObject, ObjectKey, ResourceKind, StatusReason};
use corral_core::{
    Clock, ControllerQueue, Enqueue, FairClass, ObjectCache, ObjectEvent, OnFailure, Outcome, Plan,
    QueueDiscipline, Reconciler, Stage, SyncResult, Timestamp,
};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::clock::until;
use crate::execute::{OutcomeCounts, PlanExecutor};
use crate::informer::{CacheReader, EventHandler};
use crate::metrics::{AbandonReason, ControllerMetrics};
use crate::signal::{Shutdown, Synced};

/// Outstanding detached tails per controller, by default (guard 1's suggested bound).
pub const DETACHED_MAX_DEFAULT: usize = 1000;
/// A detached tail still running after this long is answered `Failed` (the expectations
/// timeout; the Job controller itself forgets an unanswered tail after twice that).
pub const DETACHED_TIMEOUT_DEFAULT: Duration = Duration::from_secs(300);

/// Queue lengths of one controller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub ready: usize,
    pub waiting: usize,
    pub processing: usize,
    /// Ready keys in the fair queue's fresh lane (part of `ready`; 0 for a FIFO queue).
    pub fresh: usize,
    /// Detached plan tails running in the background.
    pub detached: usize,
}

impl QueueStats {
    /// Nothing ready, nothing being synced, no detached tail running.
    pub fn is_idle(&self) -> bool {
        self.ready == 0 && self.processing == 0 && self.detached == 0
    }
}

/// How a driver runs its core, besides what the core's `QueueConfig` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriverOptions {
    /// Overrides `queue_config().workers`.
    pub workers: Option<usize>,
    /// Detached tails running at once at most; at the cap, detachable plans run inline.
    /// 0 never detaches.
    pub detached_max: usize,
    /// A tail not finished after this long is answered `Failed`.
    pub detached_timeout: Duration,
}

impl Default for DriverOptions {
    fn default() -> Self {
        DriverOptions {
            workers: None,
            detached_max: DETACHED_MAX_DEFAULT,
            detached_timeout: DETACHED_TIMEOUT_DEFAULT,
        }
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
    /// The queue is fair: adds carry fairness classes.
    fair: bool,
    options: DriverOptions,
    core: Mutex<C>,
    queue: Mutex<ControllerQueue<ObjectKey>>,
    /// Detached tails running.
    detached: Arc<AtomicUsize>,
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
    /// overrides `queue_config().workers` when set; detached tails use the defaults.
    pub fn new(
        core: C,
        cache: CacheReader,
        executor: PlanExecutor,
        clock: Arc<dyn Clock>,
        metrics: ControllerMetrics,
        workers: Option<usize>,
    ) -> ControllerDriver<C> {
        let options = DriverOptions {
            workers,
            ..DriverOptions::default()
        };
        ControllerDriver::with_options(core, cache, executor, clock, metrics, options)
    }

    /// A driver for `core` with explicit [`DriverOptions`]. The queue is built as guard 1's
    /// contract says: `ControllerQueue::new(rate_limiter, core.queue_discipline())`.
    pub fn with_options(
        core: C,
        cache: CacheReader,
        executor: PlanExecutor,
        clock: Arc<dyn Clock>,
        metrics: ControllerMetrics,
        options: DriverOptions,
    ) -> ControllerDriver<C> {
        let config = core.queue_config();
        let workers = options.workers.unwrap_or(config.workers).max(1);
        let kinds = core.watched_kinds();
        let discipline = core.queue_discipline();
        ControllerDriver {
            shared: Arc::new(Shared {
                name: config.name,
                kinds,
                workers,
                fair: matches!(discipline, QueueDiscipline::Fair(_)),
                options,
                core: Mutex::new(core),
                queue: Mutex::new(ControllerQueue::new(config.rate_limiter, discipline)),
                detached: Arc::new(AtomicUsize::new(0)),
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

    /// Whether the queue is guard 1's fair queue.
    pub fn is_fair(&self) -> bool {
        self.shared.fair
    }

    pub fn options(&self) -> DriverOptions {
        self.shared.options
    }

    /// Runs `inspect` on the core under its lock (tests, diagnostics).
    pub fn with_core<R>(&self, inspect: impl FnOnce(&C) -> R) -> R {
        inspect(&self.shared.core.lock())
    }

    /// Adds keys as `handle_event` would have (classes from the cache as it is now).
    pub fn enqueue(&self, enqueues: Vec<Enqueue>) {
        let classes = if self.shared.fair {
            let core = self.shared.core.lock();
            let cache = self.shared.cache.read();
            self.shared.classes(&core, &cache, &enqueues)
        } else {
            None
        };
        self.shared
            .enqueue(enqueues, classes, self.shared.clock.now());
    }

    pub fn queue_stats(&self) -> QueueStats {
        let queue = self.shared.queue.lock();
        let fresh = match &*queue {
            ControllerQueue::Fair(fair) => fair.fresh_len(),
            ControllerQueue::Fifo(_) => 0,
        };
        QueueStats {
            ready: queue.ready_len(),
            waiting: queue.waiting_len(),
            processing: queue.processing_len(),
            fresh,
            detached: self.shared.detached.load(Ordering::Acquire),
        }
    }

    /// Detached tails running now.
    pub fn detached_outstanding(&self) -> usize {
        self.shared.detached.load(Ordering::Acquire)
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
        let (enqueues, classes) = {
            let mut core = self.core.lock();
            let enqueues = core.handle_event(event, previous, cache, now);
            let classes = self.classes(&core, cache, &enqueues);
            (enqueues, classes)
        };
        if !enqueues.is_empty() {
            self.enqueue(enqueues, classes, now);
        }
    }
}

/// A reserved detached-tail slot; freed when dropped (also if the tail task is aborted).
struct TailSlot {
    outstanding: Arc<AtomicUsize>,
    metrics: ControllerMetrics,
}

impl Drop for TailSlot {
    fn drop(&mut self) {
        let left = self.outstanding.fetch_sub(1, Ordering::AcqRel) - 1;
        self.metrics.detached_outstanding(left);
    }
}

/// Why an action was not run: the driver gave up on its detached tail.
fn abandon_error(reason: AbandonReason, timeout: Duration) -> ApiError {
    match reason {
        AbandonReason::Shutdown => ApiError::new(
            StatusReason::ServiceUnavailable,
            "the controller is shutting down: the detached write was abandoned",
        ),
        AbandonReason::Timeout => ApiError::new(
            StatusReason::Timeout,
            format!(
                "the detached writes did not finish within {} s",
                timeout.as_secs()
            ),
        ),
    }
}

impl<C: Reconciler + Send + 'static> Shared<C> {
    /// The fairness classes of `enqueues` (fair queues only), from `cache` as it is now.
    fn classes(
        &self,
        core: &C,
        cache: &ObjectCache,
        enqueues: &[Enqueue],
    ) -> Option<Vec<FairClass>> {
        self.fair.then(|| {
            enqueues
                .iter()
                .map(|e| core.fairness_class(cache, &e.key))
                .collect()
        })
    }

    /// The class a requeue of `key` needs after `result` (fair queues, and only when the
    /// result re-adds the key).
    fn requeue_class(&self, core: &C, key: &ObjectKey, result: &SyncResult) -> Option<FairClass> {
        let adds = match result {
            SyncResult::Done { requeue_after } => requeue_after.is_some(),
            SyncResult::Retry { .. } => true,
        };
        (self.fair && adds).then(|| core.fairness_class(&self.cache.read(), key))
    }

    fn observe(&self, queue: &ControllerQueue<ObjectKey>) {
        self.metrics
            .queue_lengths(queue.ready_len(), queue.waiting_len());
        if let ControllerQueue::Fair(fair) = queue {
            self.metrics.fresh_length(fair.fresh_len());
        }
    }

    fn enqueue(&self, enqueues: Vec<Enqueue>, classes: Option<Vec<FairClass>>, now: Timestamp) {
        let count = enqueues.len() as u64;
        let mut classes = classes.map(Vec::into_iter);
        let (ready, rearm) = {
            let mut queue = self.queue.lock();
            let ready_before = queue.ready_len();
            let wakeup_before = queue.next_wakeup();
            for enqueue in enqueues {
                let class = classes.as_mut().and_then(Iterator::next);
                let class_of =
                    move |key: &ObjectKey| class.unwrap_or_else(|| FairClass::of_key(key));
                match enqueue.after {
                    None => queue.add(enqueue.key, class_of),
                    Some(delay) => queue.add_after(enqueue.key, class_of, now, delay),
                }
            }
            self.observe(&queue);
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
                self.observe(&queue);
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
        // The detached tails this worker started (guard 1); bounded by `detached_max`.
        let mut tails = JoinSet::new();
        while let Some(key) = self.next_key(&mut shutdown).await {
            self.process(key, &shutdown, &mut tails).await;
            while let Some(joined) = tails.try_join_next() {
                self.joined_tail(joined);
            }
            // A sync without API calls never yields; keep a busy queue from starving the
            // informer and other workers on the same thread.
            tokio::task::coop::consume_budget().await;
        }
        // Shutdown is triggered: every tail answers at once (`Failed` for what is left).
        while let Some(joined) = tails.join_next().await {
            self.joined_tail(joined);
        }
        tracing::debug!(controller = self.name, worker, "worker stopped");
    }

    fn joined_tail(&self, joined: Result<(), tokio::task::JoinError>) {
        if let Err(error) = joined {
            tracing::error!(controller = self.name, %error, "detached tail failed");
        }
    }

    /// One sync of `key`; a detachable tail goes to `tails`.
    async fn process(
        self: &Arc<Self>,
        key: ObjectKey,
        shutdown: &Shutdown,
        tails: &mut JoinSet<()>,
    ) {
        let started = Instant::now();
        let plan = self.reconcile(&key);
        let reconciled = started.elapsed();
        let detach = plan
            .detach_point()
            .and_then(|point| self.reserve_tail().map(|slot| (point, slot)));
        let Some((point, slot)) = detach else {
            let outcomes = self.executor.execute(&plan).await;
            self.conclude(key, &plan, &outcomes, started, reconciled);
            return;
        };
        let mut inline = self.executor.execute_stages(&plan.stages[..point]).await;
        if inline.stopped {
            // An inline stage stopped the plan: no detach, the rest is skipped.
            drop(slot);
            let rest = plan.stages[point..].iter().flat_map(|s| s.actions.iter());
            inline.outcomes.extend(rest.map(|_| Outcome::Skipped));
            self.conclude(key, &plan, &inline.outcomes, started, reconciled);
            return;
        }
        debug_assert_eq!(Some(inline.outcomes.len()), plan.detached_action_start());
        self.conclude(key.clone(), &plan, &inline.outcomes, started, reconciled);
        self.metrics.detached_started();
        let tail = Arc::clone(self).run_tail(key, plan, point, shutdown.clone(), slot);
        tails.spawn(tail);
    }

    /// Takes a detached-tail slot unless the cap is reached (then the plan runs inline).
    fn reserve_tail(&self) -> Option<TailSlot> {
        let max = self.options.detached_max;
        if max == 0 {
            return None;
        }
        let reserved = self
            .detached
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        match reserved {
            Ok(before) => {
                self.metrics.detached_outstanding(before + 1);
                Some(TailSlot {
                    outstanding: Arc::clone(&self.detached),
                    metrics: self.metrics.clone(),
                })
            }
            Err(_) => {
                self.metrics.detached_inline();
                None
            }
        }
    }

    /// `handle_outcomes` and `processNextWorkItem`'s epilogue for one sync.
    fn conclude(
        &self,
        key: ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        started: Instant,
        reconciled: Duration,
    ) {
        let counts = OutcomeCounts::of(outcomes);
        self.metrics
            .action_results(counts.done, counts.failed, counts.skipped);
        let now = self.clock.now();
        let (result, class) = {
            let mut core = self.core.lock();
            let result = core.handle_outcomes(&key, plan, outcomes, now);
            let class = self.requeue_class(&core, &key, &result);
            (result, class)
        };
        tracing::trace!(controller = self.name, %key, actions = outcomes.len(), failed = counts.failed, ?result, "synced");
        self.apply(key, result, class, now, true);
        self.metrics.sync_took(started.elapsed(), reconciled);
    }

    /// Runs a detached tail (stages `point..` of `plan`) and answers it exactly once.
    async fn run_tail(
        self: Arc<Self>,
        key: ObjectKey,
        plan: Plan,
        point: usize,
        mut shutdown: Shutdown,
        slot: TailSlot,
    ) {
        let started = Instant::now();
        let deadline = started + self.options.detached_timeout;
        let (outcomes, abandoned) = self
            .execute_tail(&plan.stages[point..], &mut shutdown, deadline)
            .await;
        let counts = OutcomeCounts::of(&outcomes);
        self.metrics
            .action_results(counts.done, counts.failed, counts.skipped);
        let now = self.clock.now();
        let (result, class) = {
            let mut core = self.core.lock();
            let result = core.handle_detached_outcomes(&key, &plan, &outcomes, now);
            let class = self.requeue_class(&core, &key, &result);
            (result, class)
        };
        match abandoned {
            Some(reason) => {
                tracing::info!(controller = self.name, %key, reason = reason.as_str(), ?result, "detached tail abandoned");
            }
            None => {
                tracing::trace!(controller = self.name, %key, actions = outcomes.len(), failed = counts.failed, ?result, "detached tail answered");
            }
        }
        self.apply(key, result, class, now, false);
        self.metrics.detached_answered(started.elapsed(), abandoned);
        drop(slot);
    }

    /// The tail's stages in order (`SkipRest` among them). At shutdown or at `deadline`
    /// the stage in flight is dropped and it and every later action are `Failed`.
    async fn execute_tail(
        &self,
        stages: &[Stage],
        shutdown: &mut Shutdown,
        deadline: Instant,
    ) -> (Vec<Outcome>, Option<AbandonReason>) {
        let mut outcomes = Vec::with_capacity(stages.iter().map(|s| s.actions.len()).sum());
        let mut stopped = false;
        for (index, stage) in stages.iter().enumerate() {
            if stopped {
                outcomes.extend(stage.actions.iter().map(|_| Outcome::Skipped));
                continue;
            }
            let results = tokio::select! {
                biased;
                () = shutdown.wait() => Err(AbandonReason::Shutdown),
                () = tokio::time::sleep_until(deadline) => Err(AbandonReason::Timeout),
                results = self.executor.execute_stage(stage) => Ok(results),
            };
            match results {
                Ok(results) => {
                    let failed = results.iter().any(Outcome::is_failure);
                    outcomes.extend(results);
                    stopped = failed && stage.on_failure == OnFailure::SkipRest;
                }
                Err(reason) => {
                    let error = abandon_error(reason, self.options.detached_timeout);
                    let left = stages[index..].iter().flat_map(|s| s.actions.iter());
                    outcomes.extend(left.map(|_| Outcome::Failed(error.clone())));
                    return (outcomes, Some(reason));
                }
            }
        }
        (outcomes, None)
    }

    fn reconcile(&self, key: &ObjectKey) -> Plan {
        let now = self.clock.now();
        let mut core = self.core.lock();
        let cache = self.cache.read();
        core.reconcile(&cache, key, now)
    }

    /// Applies a [`SyncResult`] to the queue: `Done` → `forget` (+ `add_after`), `Retry` →
    /// `add_rate_limited`; then `done` when `release` (a worker's sync, not a detached
    /// answer, which comes after the key was released).
    fn apply(
        &self,
        key: ObjectKey,
        result: SyncResult,
        class: Option<FairClass>,
        now: Timestamp,
        release: bool,
    ) {
        let class_of = move |k: &ObjectKey| class.unwrap_or_else(|| FairClass::of_key(k));
        let (wake, rearm) = {
            let mut queue = self.queue.lock();
            let ready_before = queue.ready_len();
            let wakeup_before = queue.next_wakeup();
            match result {
                SyncResult::Done { requeue_after } => {
                    queue.forget(&key);
                    if let Some(delay) = requeue_after {
                        queue.add_after(key.clone(), class_of, now, delay);
                    }
                }
                SyncResult::Retry { reason } => {
                    tracing::debug!(controller = self.name, %key, detached = !release, %reason, "sync failed, retrying");
                    self.metrics.retried();
                    queue.add_rate_limited(key.clone(), class_of, now);
                }
            }
            if release {
                queue.done(&key);
            }
            self.observe(&queue);
            let ready = queue.ready_len();
            // A releasing worker pops again at once; others may be idle.
            let wake = if release {
                ready.saturating_sub(1)
            } else {
                ready.saturating_sub(ready_before)
            };
            (wake, earlier(queue.next_wakeup(), wakeup_before))
        };
        self.wake_workers(wake);
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
                promote(&mut queue, self.clock.now());
                self.observe(&queue);
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

/// Moves due delayed keys into the ready queue (`ControllerQueue` has no `promote` of its
/// own; `pop` promotes too, but the timer must wake workers for them first).
fn promote(queue: &mut ControllerQueue<ObjectKey>, now: Timestamp) {
    match queue {
        ControllerQueue::Fifo(fifo) => fifo.promote(now),
        ControllerQueue::Fair(fair) => fair.promote(now),
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
