//! The scheduling queue (upstream `internal/queue/scheduling_queue.go`), time passed in.
//!
//! - **active**: ready pods, highest priority first, then earliest enqueue time;
//! - **backoff**: pods waiting out `1 s × 2^(attempts−1)` (capped at 10 s) from their
//!   last failure;
//! - **unschedulable**: pods that did not fit, moved back by relevant cluster events
//!   ([`SchedulingQueue::move_all_to_active_or_backoff`]) or by the leftover flush, which
//!   runs every 30 s and moves pods waiting longer than 5 minutes.
//!
//! Upstream flushes the backoff queue on a 1 s tick; here a pod becomes active exactly at
//! its expiry (see [`SchedulingQueue::next_wakeup`]), which is the tick's limit and keeps
//! virtual-time runs exact. Pods rejected in a cycle during which a move request arrived
//! go to backoff instead of the unschedulable pool, as upstream (`moveRequestCycle`).

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use corral_api::ObjectKey;
use corral_core::Timestamp;
use corral_core::clock;

/// Queue timing (upstream defaults).
#[derive(Clone, Debug)]
pub struct QueueTiming {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// `podMaxInUnschedulablePodsDuration`.
    pub max_in_unschedulable: Duration,
    /// How often the leftover flush runs.
    pub flush_interval: Duration,
}

impl Default for QueueTiming {
    fn default() -> Self {
        QueueTiming {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            max_in_unschedulable: Duration::from_secs(300),
            flush_interval: Duration::from_secs(30),
        }
    }
}

/// Where a queued pod is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    Active,
    Backoff,
    Unschedulable,
    /// Popped, its attempt not yet reported.
    InFlight,
}

#[derive(Clone, Debug)]
struct Entry {
    priority: i32,
    /// When the pod last entered a queue (upstream `QueuedPodInfo.Timestamp`).
    timestamp: Timestamp,
    attempts: u32,
    location: Location,
    /// The scheduling cycle of the pod's last pop.
    cycle: u64,
    sequence: u64,
}

type ActiveKey = (Reverse<i32>, Timestamp, u64, ObjectKey);
type TimedKey = (Timestamp, u64, ObjectKey);

/// The queue.
#[derive(Clone, Debug)]
pub struct SchedulingQueue {
    timing: QueueTiming,
    entries: HashMap<ObjectKey, Entry>,
    active: BTreeSet<ActiveKey>,
    /// By backoff expiry.
    backoff: BTreeSet<TimedKey>,
    /// By the time the pod entered the pool.
    unschedulable: BTreeSet<TimedKey>,
    next_flush: Option<Timestamp>,
    cycle: u64,
    move_request_cycle: u64,
    sequence: u64,
}

impl Default for SchedulingQueue {
    fn default() -> Self {
        SchedulingQueue::new(QueueTiming::default())
    }
}

impl SchedulingQueue {
    pub fn new(timing: QueueTiming) -> Self {
        SchedulingQueue {
            timing,
            entries: HashMap::new(),
            active: BTreeSet::new(),
            backoff: BTreeSet::new(),
            unschedulable: BTreeSet::new(),
            next_flush: None,
            cycle: 0,
            move_request_cycle: 0,
            sequence: 0,
        }
    }

    pub fn timing(&self) -> &QueueTiming {
        &self.timing
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn location(&self, key: &ObjectKey) -> Option<Location> {
        self.entries.get(key).map(|e| e.location)
    }

    pub fn attempts(&self, key: &ObjectKey) -> u32 {
        self.entries.get(key).map_or(0, |e| e.attempts)
    }

    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.active.len(),
            self.backoff.len(),
            self.unschedulable.len(),
        )
    }

    /// A new pending pod: straight to active. A pod already queued is left where it is
    /// (its priority refreshed).
    pub fn add(&mut self, key: &ObjectKey, priority: i32, now: Timestamp) -> bool {
        self.ensure_flush_clock(now);
        if let Some(entry) = self.entries.get(key) {
            if entry.priority != priority {
                let location = entry.location;
                self.detach(key);
                if let Some(e) = self.entries.get_mut(key) {
                    e.priority = priority;
                }
                self.attach(key, location, now);
            }
            return false;
        }
        self.sequence += 1;
        self.entries.insert(
            key.clone(),
            Entry {
                priority,
                timestamp: now,
                attempts: 0,
                location: Location::Active,
                cycle: 0,
                sequence: self.sequence,
            },
        );
        self.attach(key, Location::Active, now);
        true
    }

    /// Forgets a pod (deleted, bound elsewhere, or no longer ours).
    pub fn remove(&mut self, key: &ObjectKey) {
        self.detach(key);
        self.entries.remove(key);
    }

    /// Pops the best active pod after moving due pods; marks it in flight.
    pub fn pop(&mut self, now: Timestamp) -> Option<ObjectKey> {
        self.advance(now);
        let (_, _, _, key) = self.active.pop_first()?;
        self.start_attempt(&key);
        Some(key)
    }

    /// Takes one named pod if it is active (the per-key path of the reconciler).
    pub fn take(&mut self, key: &ObjectKey, now: Timestamp) -> bool {
        self.advance(now);
        if self.location(key) != Some(Location::Active) {
            return false;
        }
        self.detach(key);
        self.start_attempt(key);
        true
    }

    fn start_attempt(&mut self, key: &ObjectKey) {
        self.cycle += 1;
        let cycle = self.cycle;
        if let Some(entry) = self.entries.get_mut(key) {
            entry.location = Location::InFlight;
            entry.attempts = entry.attempts.saturating_add(1);
            entry.cycle = cycle;
        }
    }

    /// The attempt found no node: to the unschedulable pool, or to backoff when a move
    /// request arrived during the attempt. Returns where the pod went.
    pub fn requeue_unschedulable(&mut self, key: &ObjectKey, now: Timestamp) -> Option<Location> {
        let entry = self.entries.get_mut(key)?;
        assert_eq!(
            entry.location,
            Location::InFlight,
            "only an attempted pod is requeued"
        );
        entry.timestamp = now;
        let target = if self.move_request_cycle >= entry.cycle {
            Location::Backoff
        } else {
            Location::Unschedulable
        };
        self.attach(key, target, now);
        Some(target)
    }

    /// The attempt failed for another reason (bind error): to backoff.
    pub fn requeue_backoff(&mut self, key: &ObjectKey, now: Timestamp) -> Option<Timestamp> {
        let entry = self.entries.get_mut(key)?;
        entry.timestamp = now;
        self.detach(key);
        self.attach(key, Location::Backoff, now);
        self.backoff_expiry(key)
    }

    /// The pod was bound: it leaves the queue.
    pub fn done(&mut self, key: &ObjectKey) {
        self.remove(key);
    }

    /// `backoffDuration(attempts)`: 1 s doubling, capped.
    pub fn backoff_duration(&self, attempts: u32) -> Duration {
        if attempts == 0 {
            return Duration::ZERO;
        }
        let mut duration = self.timing.initial_backoff;
        for _ in 1..attempts {
            if duration > self.timing.max_backoff.saturating_sub(duration) {
                return self.timing.max_backoff;
            }
            duration += duration;
        }
        duration.min(self.timing.max_backoff)
    }

    pub fn backoff_expiry(&self, key: &ObjectKey) -> Option<Timestamp> {
        let entry = self.entries.get(key)?;
        Some(clock::add(
            entry.timestamp,
            self.backoff_duration(entry.attempts),
        ))
    }

    /// A relevant cluster event: every unschedulable pod goes to backoff (if still backing
    /// off) or active. Returns the moved pods with their remaining backoff, in queue order.
    pub fn move_all_to_active_or_backoff(&mut self, now: Timestamp) -> Vec<(ObjectKey, Duration)> {
        self.move_request_cycle = self.cycle;
        let keys: Vec<ObjectKey> = self
            .unschedulable
            .iter()
            .map(|(_, _, k)| k.clone())
            .collect();
        self.move_to_active_or_backoff(keys, now)
    }

    /// Moves one unschedulable pod (its own spec changed).
    pub fn move_one(&mut self, key: &ObjectKey, now: Timestamp) -> Option<Duration> {
        if self.location(key) != Some(Location::Unschedulable) {
            return None;
        }
        self.move_to_active_or_backoff(vec![key.clone()], now)
            .pop()
            .map(|(_, d)| d)
    }

    fn move_to_active_or_backoff(
        &mut self,
        keys: Vec<ObjectKey>,
        now: Timestamp,
    ) -> Vec<(ObjectKey, Duration)> {
        let mut moved = Vec::with_capacity(keys.len());
        for key in keys {
            self.detach(&key);
            let expiry = self.backoff_expiry(&key).unwrap_or(now);
            let remaining = clock::since(expiry, now);
            let target = if remaining.is_zero() {
                Location::Active
            } else {
                Location::Backoff
            };
            self.attach(&key, target, now);
            moved.push((key, remaining));
        }
        moved
    }

    /// Moves pods whose backoff expired to active and runs the leftover flushes due by
    /// `now`. Returns the pods that became active.
    pub fn advance(&mut self, now: Timestamp) -> Vec<ObjectKey> {
        self.ensure_flush_clock(now);
        let mut activated = Vec::new();
        while let Some(next) = self.next_flush.filter(|t| *t <= now) {
            let deadline = clock::sub(next, self.timing.max_in_unschedulable);
            let stale: Vec<ObjectKey> = self
                .unschedulable
                .iter()
                .take_while(|(t, _, _)| *t < deadline)
                .map(|(_, _, k)| k.clone())
                .collect();
            for (key, remaining) in self.move_to_active_or_backoff(stale, next) {
                if remaining.is_zero() {
                    activated.push(key);
                }
            }
            self.next_flush = Some(clock::add(next, self.timing.flush_interval));
        }
        while let Some((expiry, _, key)) = self.backoff.first().cloned() {
            if expiry > now {
                break;
            }
            self.detach(&key);
            self.attach(&key, Location::Active, now);
            activated.push(key);
        }
        activated
    }

    /// The earliest instant at which [`advance`](Self::advance) would move something.
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        let backoff = self.backoff.first().map(|(t, _, _)| *t);
        // The first flush tick strictly after the oldest pod's 5 minutes.
        let flush = match (self.unschedulable.first(), self.next_flush) {
            (Some((oldest, _, _)), Some(tick)) => Some(self.flush_tick_for(*oldest, tick)),
            _ => None,
        };
        [backoff, flush].into_iter().flatten().min()
    }

    /// When a pod that entered the unschedulable pool at `entered` will be flushed.
    pub fn flush_time(&self, entered: Timestamp) -> Option<Timestamp> {
        self.next_flush
            .map(|tick| self.flush_tick_for(entered, tick))
    }

    fn flush_tick_for(&self, entered: Timestamp, first_tick: Timestamp) -> Timestamp {
        let eligible = clock::add(entered, self.timing.max_in_unschedulable);
        if first_tick > eligible {
            return first_tick;
        }
        let interval = self.timing.flush_interval.as_nanos().max(1);
        let behind = clock::since(eligible, first_tick).as_nanos();
        let ticks = behind / interval + 1;
        let offset = Duration::from_nanos((ticks * interval).min(u128::from(u64::MAX)) as u64);
        clock::add(first_tick, offset)
    }

    /// When the pod entered its current queue.
    pub fn entered_at(&self, key: &ObjectKey) -> Option<Timestamp> {
        self.entries.get(key).map(|e| e.timestamp)
    }

    fn ensure_flush_clock(&mut self, now: Timestamp) {
        if self.next_flush.is_none() {
            self.next_flush = Some(clock::add(now, self.timing.flush_interval));
        }
    }

    fn detach(&mut self, key: &ObjectKey) {
        let Some(entry) = self.entries.get(key) else {
            return;
        };
        match entry.location {
            Location::Active => {
                self.active.remove(&(
                    Reverse(entry.priority),
                    entry.timestamp,
                    entry.sequence,
                    key.clone(),
                ));
            }
            Location::Backoff => {
                let expiry = clock::add(entry.timestamp, self.backoff_duration(entry.attempts));
                self.backoff.remove(&(expiry, entry.sequence, key.clone()));
            }
            Location::Unschedulable => {
                self.unschedulable
                    .remove(&(entry.timestamp, entry.sequence, key.clone()));
            }
            Location::InFlight => {}
        }
    }

    fn attach(&mut self, key: &ObjectKey, location: Location, _now: Timestamp) {
        let duration = self
            .entries
            .get(key)
            .map(|e| self.backoff_duration(e.attempts));
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        entry.location = location;
        match location {
            Location::Active => {
                self.active.insert((
                    Reverse(entry.priority),
                    entry.timestamp,
                    entry.sequence,
                    key.clone(),
                ));
            }
            Location::Backoff => {
                let expiry = clock::add(entry.timestamp, duration.unwrap_or_default());
                self.backoff.insert((expiry, entry.sequence, key.clone()));
            }
            Location::Unschedulable => {
                self.unschedulable
                    .insert((entry.timestamp, entry.sequence, key.clone()));
            }
            Location::InFlight => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::ResourceKind;
    use corral_core::clock::epoch;

    fn key(name: &str) -> ObjectKey {
        ObjectKey::new(ResourceKind::Pod, "ns", name)
    }

    fn at(seconds: u64) -> Timestamp {
        clock::add(epoch(), Duration::from_secs(seconds))
    }

    #[test]
    fn active_pods_pop_by_priority_then_enqueue_time() {
        let mut queue = SchedulingQueue::default();
        queue.add(&key("low-early"), 0, at(0));
        queue.add(&key("high"), 10, at(1));
        queue.add(&key("low-late"), 0, at(2));
        let order: Vec<String> = std::iter::from_fn(|| queue.pop(at(3)))
            .map(|k| k.name)
            .collect();
        assert_eq!(order, ["high", "low-early", "low-late"]);
    }

    #[test]
    fn backoff_doubles_from_one_second_to_ten_per_attempt() {
        let queue = SchedulingQueue::default();
        let seconds: Vec<u64> = (1..=6)
            .map(|a| queue.backoff_duration(a).as_secs())
            .collect();
        assert_eq!(seconds, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn a_pod_moved_by_an_event_waits_out_its_backoff_before_becoming_active() {
        let mut queue = SchedulingQueue::default();
        queue.add(&key("p"), 0, at(0));
        for _ in 0..3 {
            let popped = queue.pop(at(100)).unwrap();
            queue.requeue_unschedulable(&popped, at(100));
            queue.move_all_to_active_or_backoff(at(100));
            assert_eq!(queue.location(&key("p")), Some(Location::Backoff));
            let expiry = queue.backoff_expiry(&key("p")).unwrap();
            assert!(
                queue
                    .pop(clock::sub(expiry, Duration::from_millis(1)))
                    .is_none()
            );
            assert_eq!(queue.next_wakeup(), Some(expiry));
            queue.advance(expiry);
            assert_eq!(queue.location(&key("p")), Some(Location::Active));
            // Put it back in the pool for the next round, as a failed attempt would.
            let popped = queue.pop(expiry).unwrap();
            queue.requeue_unschedulable(&popped, at(100));
            queue.move_all_to_active_or_backoff(at(100));
            queue.advance(at(200));
        }
        assert_eq!(queue.attempts(&key("p")), 6);
    }

    #[test]
    fn unschedulable_pods_are_flushed_after_five_minutes_on_a_thirty_second_tick() {
        let mut queue = SchedulingQueue::default();
        queue.add(&key("p"), 0, at(0));
        let popped = queue.pop(at(5)).unwrap();
        assert_eq!(
            queue.requeue_unschedulable(&popped, at(5)),
            Some(Location::Unschedulable)
        );
        // Ticks run at 30, 60, …; the pod is older than 5 min only after 305 s: tick 330.
        assert_eq!(queue.next_wakeup(), Some(at(330)));
        assert!(queue.advance(at(329)).is_empty());
        assert_eq!(queue.advance(at(330)), vec![key("p")]);
    }
}
