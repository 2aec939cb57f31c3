//! client-go's `flowcontrol.Backoff` with time passed in: per-key delays that start at
//! `initial`, double on each [`Backoff::next`] up to `max`, and reset when an entry has
//! not been touched for `2 × max` (upstream's `hasExpired`). No jitter (upstream's kubelet
//! uses none for these two backoffs).
//!
//! The kubelet uses two: container restarts (key = pod uid + container name, checked
//! against the last exit with [`Backoff::is_in_backoff_since`]) and image pulls (key = pod
//! uid + image, checked against the last failure with
//! [`Backoff::is_in_backoff_since_update`]).

use std::collections::BTreeMap;
use std::time::Duration;

use corral_core::Timestamp;
use corral_core::clock;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    backoff: Duration,
    last_update: Timestamp,
}

/// A set of per-key backoffs.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    entries: BTreeMap<String, Entry>,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        assert!(initial <= max, "backoff initial must not exceed max");
        Backoff {
            initial,
            max,
            entries: BTreeMap::new(),
        }
    }

    /// Upstream's kubelet container and image backoffs: 10 s → 300 s.
    pub fn kubelet() -> Self {
        Backoff::new(Duration::from_secs(10), Duration::from_secs(300))
    }

    fn has_expired(&self, event_time: Timestamp, last_update: Timestamp) -> bool {
        clock::since(event_time, last_update) > self.max * 2
    }

    /// The current delay of a key (zero when unknown).
    pub fn get(&self, key: &str) -> Duration {
        self.entries.get(key).map_or(Duration::ZERO, |e| e.backoff)
    }

    /// Records an event: starts the ladder, or doubles the delay (capped).
    pub fn next(&mut self, key: &str, event_time: Timestamp, now: Timestamp) {
        let restart = match self.entries.get(key) {
            None => true,
            Some(entry) => self.has_expired(event_time, entry.last_update),
        };
        let backoff = if restart {
            self.initial
        } else {
            (self.get(key) * 2).min(self.max)
        };
        self.entries.insert(
            key.to_string(),
            Entry {
                backoff,
                last_update: now,
            },
        );
    }

    /// Whether `now` is still inside the delay measured from `event_time` (the last exit).
    pub fn is_in_backoff_since(&self, key: &str, event_time: Timestamp, now: Timestamp) -> bool {
        match self.entries.get(key) {
            None => false,
            Some(entry) if self.has_expired(event_time, entry.last_update) => false,
            Some(entry) => clock::since(now, event_time) < entry.backoff,
        }
    }

    /// Whether `now` is still inside the delay measured from the last update.
    pub fn is_in_backoff_since_update(&self, key: &str, now: Timestamp) -> bool {
        match self.entries.get(key) {
            None => false,
            Some(entry) if self.has_expired(now, entry.last_update) => false,
            Some(entry) => clock::since(now, entry.last_update) < entry.backoff,
        }
    }

    /// When the delay measured from the last update ends.
    pub fn expiry_since_update(&self, key: &str) -> Option<Timestamp> {
        self.entries
            .get(key)
            .map(|e| clock::add(e.last_update, e.backoff))
    }

    /// Drops every key with this prefix (a pod's entries when it goes away).
    pub fn forget_prefix(&mut self, prefix: &str) {
        self.entries.retain(|k, _| !k.starts_with(prefix));
    }

    /// Drops entries untouched for `2 × max` (upstream's `GC`).
    pub fn gc(&mut self, now: Timestamp) {
        let max = self.max;
        self.entries
            .retain(|_, e| clock::since(now, e.last_update) <= max * 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_core::clock::epoch;

    fn at(s: u64) -> Timestamp {
        clock::add(epoch(), Duration::from_secs(s))
    }

    #[test]
    fn delays_double_from_ten_seconds_to_five_minutes_and_reset_after_ten_quiet_minutes() {
        let mut backoff = Backoff::kubelet();
        let mut seen = Vec::new();
        for step in 0..8 {
            backoff.next("k", at(step), at(step));
            seen.push(backoff.get("k").as_secs());
        }
        assert_eq!(seen, [10, 20, 40, 80, 160, 300, 300, 300]);
        assert!(backoff.is_in_backoff_since("k", at(7), at(300)));
        // An exit more than 600 s after the last update starts the ladder over.
        assert!(!backoff.is_in_backoff_since("k", at(700), at(700)));
        backoff.next("k", at(700), at(700));
        assert_eq!(backoff.get("k").as_secs(), 10);
    }
}
