//! Guard 1 (`docs/guards.md`): a work queue that shares a controller's workers fairly.
//!
//! [`FairWorkQueue`] keeps [`WorkQueue`]'s contract — a key is ready at most once, a key
//! re-added while a worker holds it is re-queued on [`done`](FairWorkQueue::done) and never
//! handed to two workers, `add_after` keeps the earlier time, `add_rate_limited` and
//! `forget` drive the same [`RateLimiter`], `next_wakeup` reports the earliest timer, and
//! every decision is deterministic — but serves ready keys by *class* instead of in one
//! FIFO:
//!
//! - **round-robin across namespaces**, and within a namespace **round-robin across
//!   owners** (the Jobs of one CronJob share one turn), FIFO within an owner. A namespace
//!   with one ready key is served within as many pops as there are namespaces with ready
//!   keys, however many keys the others hold;
//! - **a small fresh lane**: keys whose class says `fresh` (a Job no Job controller ever
//!   synced) wait in a second round-robin ring that gets `fresh_lane_burst` pops for every
//!   pop of the resync ring, so a new Job's first sync is not queued behind 100 000 resyncs
//!   after a controller restart. The lane holds at most `fresh_lane_capacity` keys; more
//!   fresh keys queue as resyncs (a flood of new objects cannot turn the lane into the FIFO
//!   it replaces), and the resync ring is never starved (it gets one pop in
//!   `fresh_lane_burst + 1` while both have keys).
//!
//! Classes come from the caller with every add ([`FairClass`]; controllers compute it from
//! the cache with `Reconciler::fairness_class`); the latest class given for a key decides
//! where it queues the next time it becomes ready.
//!
//! **Bound (no starvation).** Let a key be added at position `p` of its owner's FIFO, with
//! its owner at most `O` owners deep in its namespace's ring, while the ring never holds
//! more than `N` namespaces. Then the key is served within `p × O × N` pops of its ring
//! (and the resync ring gets at least one pop in every `fresh_lane_burst + 1`). A key
//! alone in its group is served within `O × N` pops. The property tests check this.
//!
//! Nothing iterates a hash map: order lives in `VecDeque`s and a `BTreeMap` of timers, hash
//! maps are only looked up. Memory is bounded by the keys in the queue.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use corral_api::ObjectKey;

use crate::clock::{self, Timestamp};
use crate::workqueue::{RateLimiter, WorkQueue};

/// Where a key queues: its namespace, its owner within the namespace, and whether it is
/// fresh (never synced by any instance of the controller).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FairClass {
    pub namespace: String,
    /// Keys with the same owner share one turn: e.g. `CronJob/nightly` for that CronJob's
    /// Jobs, `Job/<name>` for a Job nobody owns.
    pub owner: String,
    pub fresh: bool,
}

impl FairClass {
    pub fn new(namespace: impl Into<String>, owner: impl Into<String>) -> FairClass {
        FairClass {
            namespace: namespace.into(),
            owner: owner.into(),
            fresh: false,
        }
    }

    /// The same class, marked fresh or not.
    pub fn with_fresh(mut self, fresh: bool) -> FairClass {
        self.fresh = fresh;
        self
    }

    /// The default class of an object key: its namespace, the object as its own owner
    /// (`<Kind>/<name>`), not fresh.
    pub fn of_key(key: &ObjectKey) -> FairClass {
        FairClass::new(
            key.namespace.clone(),
            format!("{}/{}", key.kind.kind_name(), key.name),
        )
    }
}

/// Settings of a [`FairWorkQueue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FairQueueConfig {
    /// Most keys the fresh lane holds; 0 disables the lane (every key queues as a resync).
    pub fresh_lane_capacity: usize,
    /// Fresh pops per resync pop while both rings have keys; 0 disables the lane.
    pub fresh_lane_burst: u32,
}

impl Default for FairQueueConfig {
    fn default() -> Self {
        FairQueueConfig {
            fresh_lane_capacity: 1024,
            fresh_lane_burst: 4,
        }
    }
}

impl FairQueueConfig {
    fn fresh_lane_enabled(&self) -> bool {
        self.fresh_lane_capacity > 0 && self.fresh_lane_burst > 0
    }
}

/// How a driver queues a controller's keys (`Reconciler::queue_discipline`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueueDiscipline {
    /// client-go's FIFO [`WorkQueue`] (upstream).
    #[default]
    Fifo,
    /// [`FairWorkQueue`] (guard 1).
    Fair(FairQueueConfig),
}

/// One owner's ready keys, FIFO.
type OwnerLane<K> = VecDeque<K>;

/// The owners of one namespace that have ready keys, and their round-robin order.
#[derive(Debug)]
struct NamespaceLane<K> {
    owners: HashMap<String, OwnerLane<K>>,
    turns: VecDeque<String>,
}

impl<K> Default for NamespaceLane<K> {
    fn default() -> Self {
        NamespaceLane {
            owners: HashMap::new(),
            turns: VecDeque::new(),
        }
    }
}

/// Two-level round robin: namespaces, then owners, then FIFO.
#[derive(Debug)]
struct Ring<K> {
    namespaces: HashMap<String, NamespaceLane<K>>,
    turns: VecDeque<String>,
    len: usize,
}

impl<K> Default for Ring<K> {
    fn default() -> Self {
        Ring {
            namespaces: HashMap::new(),
            turns: VecDeque::new(),
            len: 0,
        }
    }
}

impl<K> Ring<K> {
    fn push(&mut self, key: K, class: &FairClass) {
        let lane = match self.namespaces.get_mut(&class.namespace) {
            Some(lane) => lane,
            None => {
                self.turns.push_back(class.namespace.clone());
                self.namespaces.entry(class.namespace.clone()).or_default()
            }
        };
        let owner = match lane.owners.get_mut(&class.owner) {
            Some(owner) => owner,
            None => {
                lane.turns.push_back(class.owner.clone());
                lane.owners.entry(class.owner.clone()).or_default()
            }
        };
        owner.push_back(key);
        self.len += 1;
    }

    /// The front key of the front owner of the front namespace; both turns rotate.
    fn pop(&mut self) -> Option<K> {
        let namespace = self.turns.pop_front()?;
        let Some(lane) = self.namespaces.get_mut(&namespace) else {
            debug_assert!(false, "a namespace in turn has no lane");
            return None;
        };
        let owner = lane.turns.pop_front()?;
        let keys = lane.owners.get_mut(&owner)?;
        let key = keys.pop_front();
        debug_assert!(key.is_some(), "an owner in turn has no key");
        if keys.is_empty() {
            lane.owners.remove(&owner);
        } else {
            lane.turns.push_back(owner);
        }
        if lane.turns.is_empty() {
            self.namespaces.remove(&namespace);
        } else {
            self.turns.push_back(namespace);
        }
        if key.is_some() {
            self.len -= 1;
        }
        key
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn namespaces_len(&self) -> usize {
        self.turns.len()
    }
}

/// The fair queue. `K` is usually an [`ObjectKey`].
#[derive(Debug)]
pub struct FairWorkQueue<K> {
    config: FairQueueConfig,
    fresh: Ring<K>,
    resync: Ring<K>,
    /// Fresh pops since the last resync pop.
    fresh_streak: u32,
    /// Keys that need processing: ready, or held by a worker and to be re-queued.
    dirty: HashSet<K>,
    processing: HashSet<K>,
    /// Delayed keys by (ready time, insertion sequence) for a deterministic order.
    waiting: BTreeMap<(Timestamp, u64), K>,
    waiting_at: HashMap<K, (Timestamp, u64)>,
    /// The latest class of every key the queue holds (ready, waiting or processing).
    classes: HashMap<K, FairClass>,
    sequence: u64,
    limiter: RateLimiter<K>,
}

impl<K: Clone + Eq + Hash + std::fmt::Debug> FairWorkQueue<K> {
    pub fn new(limiter: RateLimiter<K>, config: FairQueueConfig) -> Self {
        FairWorkQueue {
            config,
            fresh: Ring::default(),
            resync: Ring::default(),
            fresh_streak: 0,
            dirty: HashSet::new(),
            processing: HashSet::new(),
            waiting: BTreeMap::new(),
            waiting_at: HashMap::new(),
            classes: HashMap::new(),
            sequence: 0,
            limiter,
        }
    }

    pub fn config(&self) -> FairQueueConfig {
        self.config
    }

    /// Makes `key` ready now, queued by `class`.
    pub fn add(&mut self, key: K, class: FairClass) {
        self.classes.insert(key.clone(), class);
        self.make_ready(key);
    }

    fn make_ready(&mut self, key: K) {
        if self.dirty.contains(&key) {
            return;
        }
        self.dirty.insert(key.clone());
        if self.processing.contains(&key) {
            return;
        }
        self.enqueue_ready(key);
    }

    /// Puts a dirty key that no worker holds into its ring.
    fn enqueue_ready(&mut self, key: K) {
        let class = self.classes.get(&key).cloned().unwrap_or_default();
        let fresh = class.fresh
            && self.config.fresh_lane_enabled()
            && self.fresh.len() < self.config.fresh_lane_capacity;
        if fresh {
            self.fresh.push(key, &class);
        } else {
            self.resync.push(key, &class);
        }
    }

    /// Makes `key` ready at `now + delay`; an earlier pending time wins.
    pub fn add_after(&mut self, key: K, class: FairClass, now: Timestamp, delay: Duration) {
        if delay.is_zero() {
            self.add(key, class);
            return;
        }
        self.classes.insert(key.clone(), class);
        let at = clock::add(now, delay);
        if let Some(&(existing, seq)) = self.waiting_at.get(&key) {
            if existing <= at {
                return;
            }
            self.waiting.remove(&(existing, seq));
        }
        self.sequence += 1;
        self.waiting.insert((at, self.sequence), key.clone());
        self.waiting_at.insert(key, (at, self.sequence));
    }

    /// Re-queues a failed key after the rate limiter's delay.
    pub fn add_rate_limited(&mut self, key: K, class: FairClass, now: Timestamp) {
        let delay = self.limiter.when(&key, now);
        self.add_after(key, class, now, delay);
    }

    /// Resets the key's failure count (after a successful sync).
    pub fn forget(&mut self, key: &K) {
        self.limiter.forget(key);
    }

    pub fn num_requeues(&self, key: &K) -> u32 {
        self.limiter.num_requeues(key)
    }

    /// Moves delayed keys whose time has come into their rings.
    pub fn promote(&mut self, now: Timestamp) {
        while let Some((&(at, seq), _)) = self.waiting.iter().next() {
            if at > now {
                break;
            }
            if let Some(key) = self.waiting.remove(&(at, seq)) {
                self.waiting_at.remove(&key);
                self.make_ready(key);
            }
        }
    }

    /// The next ready key, now held by the caller until [`FairWorkQueue::done`].
    pub fn pop(&mut self, now: Timestamp) -> Option<K> {
        self.promote(now);
        let key = self.next_ready()?;
        self.dirty.remove(&key);
        self.processing.insert(key.clone());
        Some(key)
    }

    /// The fresh ring while it has keys and its burst lasts, else the resync ring.
    fn next_ready(&mut self) -> Option<K> {
        let fresh_turn = !self.fresh.is_empty()
            && (self.resync.is_empty() || self.fresh_streak < self.config.fresh_lane_burst);
        if fresh_turn {
            self.fresh_streak = self.fresh_streak.saturating_add(1);
            self.fresh.pop()
        } else {
            self.fresh_streak = 0;
            self.resync.pop()
        }
    }

    /// Releases a key; if it was re-added meanwhile it goes back to its ring.
    pub fn done(&mut self, key: &K) {
        self.processing.remove(key);
        if self.dirty.contains(key) {
            self.enqueue_ready(key.clone());
        } else if !self.waiting_at.contains_key(key) {
            self.classes.remove(key);
        }
    }

    /// When the earliest delayed key becomes ready.
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        self.waiting.keys().next().map(|(at, _)| *at)
    }

    /// Keys ready to be processed now (both rings).
    pub fn ready_len(&self) -> usize {
        self.fresh.len() + self.resync.len()
    }

    /// Keys ready in the fresh lane.
    pub fn fresh_len(&self) -> usize {
        self.fresh.len()
    }

    /// Namespaces with ready keys in the resync ring.
    pub fn namespaces_len(&self) -> usize {
        self.resync.namespaces_len()
    }

    pub fn waiting_len(&self) -> usize {
        self.waiting.len()
    }

    pub fn processing_len(&self) -> usize {
        self.processing.len()
    }

    /// Whether `key` is ready, waiting or held.
    pub fn contains(&self, key: &K) -> bool {
        self.dirty.contains(key) || self.processing.contains(key) || self.waiting_at.contains_key(key)
    }
}

/// The queue a driver keeps for one controller: FIFO or fair, as the controller's
/// `Reconciler::queue_discipline` asks. The class closure is called only by the fair queue,
/// so a FIFO controller costs nothing extra.
#[derive(Debug)]
pub enum ControllerQueue<K> {
    Fifo(WorkQueue<K>),
    Fair(FairWorkQueue<K>),
}

impl<K: Clone + Eq + Hash + std::fmt::Debug> ControllerQueue<K> {
    pub fn new(limiter: RateLimiter<K>, discipline: QueueDiscipline) -> Self {
        match discipline {
            QueueDiscipline::Fifo => ControllerQueue::Fifo(WorkQueue::new(limiter)),
            QueueDiscipline::Fair(config) => {
                ControllerQueue::Fair(FairWorkQueue::new(limiter, config))
            }
        }
    }

    pub fn add(&mut self, key: K, class: impl FnOnce(&K) -> FairClass) {
        match self {
            ControllerQueue::Fifo(q) => q.add(key),
            ControllerQueue::Fair(q) => {
                let class = class(&key);
                q.add(key, class);
            }
        }
    }

    pub fn add_after(
        &mut self,
        key: K,
        class: impl FnOnce(&K) -> FairClass,
        now: Timestamp,
        delay: Duration,
    ) {
        match self {
            ControllerQueue::Fifo(q) => q.add_after(key, now, delay),
            ControllerQueue::Fair(q) => {
                let class = class(&key);
                q.add_after(key, class, now, delay);
            }
        }
    }

    pub fn add_rate_limited(&mut self, key: K, class: impl FnOnce(&K) -> FairClass, now: Timestamp) {
        match self {
            ControllerQueue::Fifo(q) => q.add_rate_limited(key, now),
            ControllerQueue::Fair(q) => {
                let class = class(&key);
                q.add_rate_limited(key, class, now);
            }
        }
    }

    pub fn forget(&mut self, key: &K) {
        match self {
            ControllerQueue::Fifo(q) => q.forget(key),
            ControllerQueue::Fair(q) => q.forget(key),
        }
    }

    pub fn pop(&mut self, now: Timestamp) -> Option<K> {
        match self {
            ControllerQueue::Fifo(q) => q.pop(now),
            ControllerQueue::Fair(q) => q.pop(now),
        }
    }

    pub fn done(&mut self, key: &K) {
        match self {
            ControllerQueue::Fifo(q) => q.done(key),
            ControllerQueue::Fair(q) => q.done(key),
        }
    }

    pub fn next_wakeup(&self) -> Option<Timestamp> {
        match self {
            ControllerQueue::Fifo(q) => q.next_wakeup(),
            ControllerQueue::Fair(q) => q.next_wakeup(),
        }
    }

    pub fn ready_len(&self) -> usize {
        match self {
            ControllerQueue::Fifo(q) => q.ready_len(),
            ControllerQueue::Fair(q) => q.ready_len(),
        }
    }

    pub fn waiting_len(&self) -> usize {
        match self {
            ControllerQueue::Fifo(q) => q.waiting_len(),
            ControllerQueue::Fair(q) => q.waiting_len(),
        }
    }

    pub fn processing_len(&self) -> usize {
        match self {
            ControllerQueue::Fifo(q) => q.processing_len(),
            ControllerQueue::Fair(q) => q.processing_len(),
        }
    }

    pub fn contains(&self, key: &K) -> bool {
        match self {
            ControllerQueue::Fifo(q) => q.contains(key),
            ControllerQueue::Fair(q) => q.contains(key),
        }
    }
}

#[cfg(test)]
#[path = "fair_queue_tests.rs"]
mod tests;
