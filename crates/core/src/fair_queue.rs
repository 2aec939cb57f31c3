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
        self.dirty.contains(key)
            || self.processing.contains(key)
            || self.waiting_at.contains_key(key)
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

    pub fn add_rate_limited(
        &mut self,
        key: K,
        class: impl FnOnce(&K) -> FairClass,
        now: Timestamp,
    ) {
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
mod tests {
    //! Goal: the fair queue keeps `WorkQueue`'s contract and adds bounded waiting.
    //! Method: table tests for the round robin and the fresh lane, then properties over
    //! random operation sequences from seeded `SimRng`s (core has no proptest; a failing
    //! case prints its seed, and `regression_*` tests would pin it).

    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::clock::epoch;
    use crate::rng::SimRng;

    const SEEDS: u64 = 300;

    fn queue(config: FairQueueConfig) -> FairWorkQueue<String> {
        FairWorkQueue::new(
            RateLimiter::item_exponential(Duration::from_millis(5), Duration::from_secs(1)),
            config,
        )
    }

    fn no_fresh_lane() -> FairQueueConfig {
        FairQueueConfig {
            fresh_lane_capacity: 0,
            fresh_lane_burst: 0,
        }
    }

    fn class(namespace: &str, owner: &str) -> FairClass {
        FairClass::new(namespace, owner)
    }

    fn drain(q: &mut FairWorkQueue<String>) -> Vec<String> {
        let mut served = Vec::new();
        while let Some(key) = q.pop(epoch()) {
            q.done(&key);
            served.push(key);
        }
        served
    }

    #[test]
    fn namespaces_take_turns_then_owners_then_insertion_order() {
        let mut q = queue(no_fresh_lane());
        for (key, ns, owner) in [
            ("a1", "a", "cron-x"),
            ("a2", "a", "cron-x"),
            ("a3", "a", "cron-y"),
            ("b1", "b", "job-1"),
            ("a4", "a", "cron-x"),
            ("c1", "c", "job-2"),
        ] {
            q.add(key.to_string(), class(ns, owner));
        }
        assert_eq!(drain(&mut q), ["a1", "b1", "c1", "a3", "a2", "a4"]);
    }

    #[test]
    fn a_key_is_queued_once_and_never_handed_to_two_workers() {
        let mut q = queue(no_fresh_lane());
        q.add("k".into(), class("a", "o"));
        q.add("k".into(), class("a", "o"));
        assert_eq!(q.ready_len(), 1);
        assert_eq!(q.pop(epoch()).as_deref(), Some("k"));
        q.add("k".into(), class("a", "o"));
        assert_eq!(q.pop(epoch()), None, "held by a worker: not served again");
        q.done(&"k".to_string());
        assert_eq!(q.pop(epoch()).as_deref(), Some("k"), "re-queued on done");
        q.done(&"k".to_string());
        assert!(!q.contains(&"k".to_string()));
        assert!(
            q.classes.is_empty(),
            "classes are forgotten with their keys"
        );
    }

    #[test]
    fn add_after_keeps_the_earlier_time_and_rate_limits_double() {
        let mut q = queue(no_fresh_lane());
        let t0 = epoch();
        q.add_after("k".into(), class("a", "o"), t0, Duration::from_secs(10));
        q.add_after("k".into(), class("a", "o"), t0, Duration::from_secs(5));
        assert_eq!(
            q.next_wakeup(),
            Some(clock::add(t0, Duration::from_secs(5)))
        );
        assert_eq!(q.pop(clock::add(t0, Duration::from_secs(4))), None);
        assert_eq!(
            q.pop(clock::add(t0, Duration::from_secs(5))).as_deref(),
            Some("k")
        );
        q.done(&"k".to_string());
        let mut delays = Vec::new();
        for _ in 0..4 {
            q.add_rate_limited("k".into(), class("a", "o"), t0);
            let at = q.next_wakeup().unwrap();
            delays.push(clock::since(at, t0).as_millis());
            assert_eq!(q.pop(at).as_deref(), Some("k"));
            q.done(&"k".to_string());
        }
        assert_eq!(delays, [5, 10, 20, 40]);
        q.forget(&"k".to_string());
        assert_eq!(q.num_requeues(&"k".to_string()), 0);
    }

    #[test]
    fn an_unrelated_namespace_is_served_at_once_behind_a_flood() {
        // Ten CronJobs' backlogs in one namespace; one Job in another.
        let mut q = queue(no_fresh_lane());
        for i in 0..10_000 {
            q.add(
                format!("noisy-{i}"),
                class("noisy", &format!("cron-{}", i % 10)),
            );
        }
        q.add("quiet".into(), class("quiet", "job"));
        let first_two: Vec<String> = (0..2).filter_map(|_| q.pop(epoch())).collect();
        assert!(first_two.contains(&"quiet".to_string()), "{first_two:?}");
    }

    #[test]
    fn a_fresh_key_jumps_a_restart_backlog_but_resyncs_still_progress() {
        let mut q = queue(FairQueueConfig {
            fresh_lane_capacity: 3,
            fresh_lane_burst: 2,
        });
        for i in 0..100 {
            q.add(format!("old-{i}"), class("ns", &format!("job-{i}")));
        }
        for i in 0..5 {
            q.add(
                format!("new-{i}"),
                class("ns", &format!("new-{i}")).with_fresh(true),
            );
        }
        assert_eq!(
            q.fresh_len(),
            3,
            "the lane is bounded; the rest queue as resyncs"
        );
        let served: Vec<String> = (0..6).filter_map(|_| q.pop(epoch())).collect();
        assert_eq!(
            served,
            ["new-0", "new-1", "old-0", "new-2", "old-1", "old-2"]
        );
    }

    /// A reference model of which keys need a worker, for the contract property.
    #[derive(Default)]
    struct Model {
        needs: BTreeSet<String>,
        held: BTreeSet<String>,
        waiting: BTreeMap<String, Timestamp>,
        failures: BTreeMap<String, u32>,
    }

    impl Model {
        fn promote(&mut self, now: Timestamp) {
            let due: Vec<String> = self
                .waiting
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(k, _)| k.clone())
                .collect();
            for key in due {
                self.waiting.remove(&key);
                self.needs.insert(key);
            }
        }

        fn add_after(&mut self, key: &str, at: Timestamp, now: Timestamp) {
            if at <= now {
                self.needs.insert(key.to_string());
                return;
            }
            let slot = self.waiting.entry(key.to_string()).or_insert(at);
            *slot = (*slot).min(at);
        }
    }

    /// Random operations against the queue and the model; returns the pop sequence.
    fn run_contract(seed: u64) -> Vec<String> {
        let mut rng = SimRng::seed_from_u64(seed);
        let config = FairQueueConfig {
            fresh_lane_capacity: rng.below(4) as usize,
            fresh_lane_burst: rng.below(3) as u32,
        };
        let mut q = queue(config);
        let mut model = Model::default();
        let mut now = epoch();
        let mut served = Vec::new();
        for _ in 0..400 {
            let key = format!("k{}", rng.below(12));
            let class = class(
                &format!("ns{}", rng.below(3)),
                &format!("o{}", rng.below(3)),
            )
            .with_fresh(rng.chance(0.3));
            match rng.below(7) {
                0 | 1 => {
                    q.add(key.clone(), class);
                    model.needs.insert(key);
                }
                2 => {
                    let delay = Duration::from_millis(rng.below(50));
                    q.add_after(key.clone(), class, now, delay);
                    model.add_after(&key, clock::add(now, delay), now);
                }
                3 => {
                    let failures = model.failures.entry(key.clone()).or_insert(0);
                    let delay = Duration::from_millis((5u64 << (*failures).min(20)).min(1000));
                    *failures += 1;
                    q.add_rate_limited(key.clone(), class, now);
                    model.add_after(&key, clock::add(now, delay), now);
                }
                4 => {
                    model.promote(now);
                    if let Some(popped) = q.pop(now) {
                        assert!(
                            !model.held.contains(&popped),
                            "seed {seed}: {popped} served twice"
                        );
                        assert!(
                            model.needs.remove(&popped),
                            "seed {seed}: {popped} served unasked"
                        );
                        model.held.insert(popped.clone());
                        served.push(popped);
                    } else {
                        let idle: Vec<&String> = model.needs.difference(&model.held).collect();
                        assert!(
                            idle.is_empty(),
                            "seed {seed}: {idle:?} ready but not served"
                        );
                    }
                }
                5 => {
                    if let Some(held) = model.held.iter().nth(rng.below(4) as usize).cloned() {
                        model.held.remove(&held);
                        q.done(&held);
                    }
                }
                _ => {
                    now = clock::add(now, Duration::from_millis(rng.below(30)));
                    if rng.chance(0.2) {
                        q.forget(&key);
                        model.failures.remove(&key);
                    }
                }
            }
            let distinct_ready = model.needs.difference(&model.held).count();
            assert_eq!(
                q.ready_len(),
                distinct_ready,
                "seed {seed}: ready keys are distinct"
            );
            assert_eq!(q.processing_len(), model.held.len(), "seed {seed}");
        }
        // Drain: everything that still needs a worker gets one, nothing else does.
        for held in std::mem::take(&mut model.held) {
            q.done(&held);
        }
        loop {
            now = q.next_wakeup().map_or(now, |t| t.max(now));
            model.promote(now);
            let Some(popped) = q.pop(now) else {
                if q.next_wakeup().is_none() {
                    break;
                }
                continue;
            };
            assert!(
                model.needs.remove(&popped),
                "seed {seed}: {popped} served unasked"
            );
            q.done(&popped);
            served.push(popped);
        }
        assert!(
            model.needs.is_empty(),
            "seed {seed}: lost {:?}",
            model.needs
        );
        assert!(q.classes.is_empty(), "seed {seed}: classes leak");
        served
    }

    #[test]
    fn property_the_work_queue_contract_holds_under_random_operations() {
        for seed in 0..SEEDS {
            run_contract(seed);
        }
    }

    #[test]
    fn property_the_same_operations_serve_the_same_keys_in_the_same_order() {
        for seed in 0..50 {
            assert_eq!(run_contract(seed), run_contract(seed), "seed {seed}");
        }
    }

    /// What the starvation property remembers about a waiting key.
    struct Wait {
        namespace: String,
        owner: String,
        /// Keys ahead of it in its owner's FIFO, itself included, when it was added.
        position: u64,
        pops: u64,
        namespaces_max: u64,
        owners_max: u64,
    }

    /// Keys added and popped at random; every key's wait (in pops) must stay within
    /// `position × owners × namespaces`, the maxima taken over the wait.
    fn run_starvation(seed: u64) {
        let mut rng = SimRng::seed_from_u64(seed);
        let mut q = queue(no_fresh_lane());
        let namespaces = 1 + rng.below(6);
        let owners = 1 + rng.below(6);
        let mut waits: BTreeMap<String, Wait> = BTreeMap::new();
        // Ready keys per (namespace, owner): the model of the ring's shape.
        let mut shape: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for step in 0..600u64 {
            if rng.chance(0.55) {
                let namespace = format!("ns{}", rng.below(namespaces));
                let owner = format!("o{}", rng.below(owners));
                let key = format!("k{step}");
                let count = shape
                    .entry(namespace.clone())
                    .or_default()
                    .entry(owner.clone())
                    .or_insert(0);
                *count += 1;
                let position = *count;
                q.add(key.clone(), class(&namespace, &owner));
                waits.insert(
                    key,
                    Wait {
                        namespace,
                        owner,
                        position,
                        pops: 0,
                        namespaces_max: 0,
                        owners_max: 0,
                    },
                );
                continue;
            }
            let namespaces_now = shape.len() as u64;
            for wait in waits.values_mut() {
                wait.namespaces_max = wait.namespaces_max.max(namespaces_now);
                let owners_now = shape.get(&wait.namespace).map_or(0, |o| o.len() as u64);
                wait.owners_max = wait.owners_max.max(owners_now);
            }
            let Some(key) = q.pop(epoch()) else {
                assert!(waits.is_empty(), "seed {seed}: keys ready but none served");
                continue;
            };
            q.done(&key);
            for wait in waits.values_mut() {
                wait.pops += 1;
            }
            let wait = waits.remove(&key).unwrap();
            let bound = wait.position * wait.owners_max * wait.namespaces_max;
            assert!(
                wait.pops <= bound,
                "seed {seed}: {key} waited {} pops, bound {bound}",
                wait.pops
            );
            let owners_of = shape.get_mut(&wait.namespace).unwrap();
            let count = owners_of.get_mut(&wait.owner).unwrap();
            *count -= 1;
            if *count == 0 {
                owners_of.remove(&wait.owner);
                if owners_of.is_empty() {
                    shape.remove(&wait.namespace);
                }
            }
        }
    }

    #[test]
    fn property_no_key_waits_longer_than_its_groups_bound() {
        for seed in 0..SEEDS {
            run_starvation(seed);
        }
    }

    #[test]
    fn property_resyncs_get_a_turn_in_every_burst_plus_one_pops() {
        for seed in 0..SEEDS {
            let mut rng = SimRng::seed_from_u64(seed);
            let burst = 1 + rng.below(5) as u32;
            let mut q = queue(FairQueueConfig {
                fresh_lane_capacity: 1 + rng.below(50) as usize,
                fresh_lane_burst: burst,
            });
            for i in 0..200 {
                let fresh = rng.chance(0.8);
                q.add(
                    format!("k{i}"),
                    class("ns", &format!("o{}", rng.below(7))).with_fresh(fresh),
                );
            }
            let mut fresh_run = 0;
            while q.ready_len() > 0 {
                let both = q.fresh_len() > 0 && q.fresh_len() < q.ready_len();
                let key = q.pop(epoch()).unwrap();
                q.done(&key);
                if both && q.fresh_streak > 0 {
                    fresh_run += 1;
                    assert!(fresh_run <= burst, "seed {seed}: resyncs starved");
                } else {
                    fresh_run = 0;
                }
            }
        }
    }

    #[test]
    fn the_controller_queue_asks_for_a_class_only_when_fair() {
        let mut fifo: ControllerQueue<String> = ControllerQueue::new(
            RateLimiter::item_exponential(Duration::from_millis(5), Duration::from_secs(1)),
            QueueDiscipline::Fifo,
        );
        fifo.add("a".into(), |_| panic!("a FIFO queue needs no class"));
        assert_eq!(fifo.pop(epoch()).as_deref(), Some("a"));
        let mut fair: ControllerQueue<String> = ControllerQueue::new(
            RateLimiter::item_exponential(Duration::from_millis(5), Duration::from_secs(1)),
            QueueDiscipline::Fair(no_fresh_lane()),
        );
        fair.add("a1".into(), |_| class("a", "x"));
        fair.add("a2".into(), |_| class("a", "x"));
        fair.add("b1".into(), |_| class("b", "y"));
        let order: Vec<String> = (0..3).filter_map(|_| fair.pop(epoch())).collect();
        assert_eq!(order, ["a1", "b1", "a2"]);
    }
}
