//! A work queue with client-go's semantics (`k8s.io/client-go/util/workqueue`), driven by
//! time passed in rather than read, so the real runtime and the simulator share it.
//!
//! - a key is in the ready queue at most once, FIFO by insertion;
//! - a key re-added while a worker holds it is marked dirty and re-queued on [`done`], so
//!   one key is never processed by two workers at once;
//! - [`add_after`] keeps the earlier ready time when a key is already waiting;
//! - [`add_rate_limited`] delays by the rate limiter; [`forget`] resets the key's failures.
//!
//! [`done`]: WorkQueue::done
//! [`add_after`]: WorkQueue::add_after
//! [`add_rate_limited`]: WorkQueue::add_rate_limited
//! [`forget`]: WorkQueue::forget

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use crate::clock::{self, Timestamp};

/// How long a failed key waits before its retry.
#[derive(Clone, Debug)]
pub enum RateLimiter<K> {
    /// `base × 2^failures`, capped at `max` (client-go `ItemExponentialFailureRateLimiter`).
    ItemExponential {
        base: Duration,
        max: Duration,
        failures: HashMap<K, u32>,
    },
    /// A token bucket shared by all keys (client-go `BucketRateLimiter`).
    Bucket {
        per_second: f64,
        burst: f64,
        tokens: f64,
        last: Option<Timestamp>,
    },
    /// The longest delay of several limiters (client-go `MaxOfRateLimiter`).
    MaxOf(Vec<RateLimiter<K>>),
}

impl<K: Clone + Eq + Hash> RateLimiter<K> {
    pub fn item_exponential(base: Duration, max: Duration) -> Self {
        RateLimiter::ItemExponential {
            base,
            max,
            failures: HashMap::new(),
        }
    }

    pub fn bucket(per_second: f64, burst: u32) -> Self {
        RateLimiter::Bucket {
            per_second,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: None,
        }
    }

    /// client-go's `DefaultControllerRateLimiter`: max of 5 ms → 1000 s per key and a
    /// 10/s, burst 100 bucket.
    pub fn default_controller() -> Self {
        RateLimiter::MaxOf(vec![
            Self::item_exponential(Duration::from_millis(5), Duration::from_secs(1000)),
            Self::bucket(10.0, 100),
        ])
    }

    /// The delay for the next retry of `key`, recording the failure.
    pub fn when(&mut self, key: &K, now: Timestamp) -> Duration {
        match self {
            RateLimiter::ItemExponential {
                base,
                max,
                failures,
            } => {
                let count = failures.entry(key.clone()).or_insert(0);
                let exponent = *count;
                *count = count.saturating_add(1);
                let factor = 2u128.saturating_pow(exponent.min(64));
                let nanos = base.as_nanos().saturating_mul(factor);
                Duration::from_nanos(nanos.min(max.as_nanos()) as u64)
            }
            RateLimiter::Bucket {
                per_second,
                burst,
                tokens,
                last,
            } => {
                if let Some(previous) = *last {
                    let elapsed = clock::since(now, previous).as_secs_f64();
                    *tokens = (*tokens + elapsed * *per_second).min(*burst);
                }
                *last = Some(now);
                *tokens -= 1.0;
                if *tokens >= 0.0 || *per_second <= 0.0 {
                    Duration::ZERO
                } else {
                    Duration::from_secs_f64(-*tokens / *per_second)
                }
            }
            RateLimiter::MaxOf(limiters) => limiters
                .iter_mut()
                .map(|l| l.when(key, now))
                .max()
                .unwrap_or(Duration::ZERO),
        }
    }

    pub fn forget(&mut self, key: &K) {
        match self {
            RateLimiter::ItemExponential { failures, .. } => {
                failures.remove(key);
            }
            RateLimiter::Bucket { .. } => {}
            RateLimiter::MaxOf(limiters) => limiters.iter_mut().for_each(|l| l.forget(key)),
        }
    }

    pub fn num_requeues(&self, key: &K) -> u32 {
        match self {
            RateLimiter::ItemExponential { failures, .. } => {
                failures.get(key).copied().unwrap_or(0)
            }
            RateLimiter::Bucket { .. } => 0,
            RateLimiter::MaxOf(limiters) => limiters
                .iter()
                .map(|l| l.num_requeues(key))
                .max()
                .unwrap_or(0),
        }
    }
}

/// The queue. `K` is usually an [`corral_api::ObjectKey`].
#[derive(Debug)]
pub struct WorkQueue<K> {
    ready: VecDeque<K>,
    /// Keys that need processing: in `ready`, or held by a worker and to be re-queued.
    dirty: HashSet<K>,
    processing: HashSet<K>,
    /// Delayed keys by (ready time, insertion sequence) for a deterministic order.
    waiting: BTreeMap<(Timestamp, u64), K>,
    waiting_at: HashMap<K, (Timestamp, u64)>,
    sequence: u64,
    limiter: RateLimiter<K>,
}

impl<K: Clone + Eq + Hash + std::fmt::Debug> WorkQueue<K> {
    pub fn new(limiter: RateLimiter<K>) -> Self {
        WorkQueue {
            ready: VecDeque::new(),
            dirty: HashSet::new(),
            processing: HashSet::new(),
            waiting: BTreeMap::new(),
            waiting_at: HashMap::new(),
            sequence: 0,
            limiter,
        }
    }

    /// Makes `key` ready now.
    pub fn add(&mut self, key: K) {
        if self.dirty.contains(&key) {
            return;
        }
        self.dirty.insert(key.clone());
        if self.processing.contains(&key) {
            return;
        }
        self.ready.push_back(key);
    }

    /// Makes `key` ready at `now + delay`; an earlier pending time wins.
    pub fn add_after(&mut self, key: K, now: Timestamp, delay: Duration) {
        if delay.is_zero() {
            self.add(key);
            return;
        }
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
    pub fn add_rate_limited(&mut self, key: K, now: Timestamp) {
        let delay = self.limiter.when(&key, now);
        self.add_after(key, now, delay);
    }

    /// Resets the key's failure count (after a successful sync).
    pub fn forget(&mut self, key: &K) {
        self.limiter.forget(key);
    }

    pub fn num_requeues(&self, key: &K) -> u32 {
        self.limiter.num_requeues(key)
    }

    /// Moves delayed keys whose time has come into the ready queue.
    pub fn promote(&mut self, now: Timestamp) {
        while let Some((&(at, seq), _)) = self.waiting.iter().next() {
            if at > now {
                break;
            }
            if let Some(key) = self.waiting.remove(&(at, seq)) {
                self.waiting_at.remove(&key);
                self.add(key);
            }
        }
    }

    /// The next ready key, now held by the caller until [`WorkQueue::done`].
    pub fn pop(&mut self, now: Timestamp) -> Option<K> {
        self.promote(now);
        let key = self.ready.pop_front()?;
        self.dirty.remove(&key);
        self.processing.insert(key.clone());
        Some(key)
    }

    /// Releases a key; if it was re-added meanwhile it goes back to the ready queue.
    pub fn done(&mut self, key: &K) {
        self.processing.remove(key);
        if self.dirty.contains(key) {
            self.ready.push_back(key.clone());
        }
    }

    /// When the earliest delayed key becomes ready.
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        self.waiting.keys().next().map(|(at, _)| *at)
    }

    /// Keys ready to be processed now.
    pub fn ready_len(&self) -> usize {
        self.ready.len()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::epoch;

    fn queue() -> WorkQueue<&'static str> {
        WorkQueue::new(RateLimiter::item_exponential(
            Duration::from_secs(1),
            Duration::from_secs(60),
        ))
    }

    #[test]
    fn a_key_is_queued_once_and_served_fifo() {
        let mut q = queue();
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!(q.ready_len(), 2);
        assert_eq!(q.pop(epoch()), Some("a"));
        assert_eq!(q.pop(epoch()), Some("b"));
        assert_eq!(q.pop(epoch()), None);
    }

    #[test]
    fn a_key_re_added_while_processing_is_requeued_on_done_not_served_twice() {
        let mut q = queue();
        q.add("a");
        assert_eq!(q.pop(epoch()), Some("a"));
        q.add("a");
        assert_eq!(
            q.pop(epoch()),
            None,
            "must not be handed to a second worker"
        );
        q.done(&"a");
        assert_eq!(q.pop(epoch()), Some("a"));
    }

    #[test]
    fn add_after_keeps_the_earlier_ready_time() {
        let mut q = queue();
        let t0 = epoch();
        q.add_after("a", t0, Duration::from_secs(10));
        q.add_after("a", t0, Duration::from_secs(5));
        q.add_after("a", t0, Duration::from_secs(20));
        assert_eq!(
            q.next_wakeup(),
            Some(clock::add(t0, Duration::from_secs(5)))
        );
        assert_eq!(q.pop(clock::add(t0, Duration::from_secs(4))), None);
        assert_eq!(q.pop(clock::add(t0, Duration::from_secs(5))), Some("a"));
    }

    #[test]
    fn rate_limited_retries_double_up_to_the_cap_and_forget_resets() {
        let mut q = queue();
        let t0 = epoch();
        let mut delays = Vec::new();
        for _ in 0..8 {
            q.add_rate_limited("a", t0);
            delays.push(clock::since(q.next_wakeup().unwrap(), t0).as_secs());
            let at = q.next_wakeup().unwrap();
            assert_eq!(q.pop(at), Some("a"));
            q.done(&"a");
        }
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        q.forget(&"a");
        assert_eq!(q.num_requeues(&"a"), 0);
    }

    #[test]
    fn bucket_limiter_allows_a_burst_then_paces() {
        let mut limiter: RateLimiter<&str> = RateLimiter::bucket(10.0, 2);
        let t0 = epoch();
        assert_eq!(limiter.when(&"x", t0), Duration::ZERO);
        assert_eq!(limiter.when(&"y", t0), Duration::ZERO);
        assert_eq!(limiter.when(&"z", t0), Duration::from_millis(100));
    }
}
