//! Controller expectations (`pkg/controller/controller_utils.go`), with time as an input.
//!
//! A controller that issues N pod creates raises its owner's `add` expectation to N before
//! the calls; every pod-add the informer delivers lowers it by one, and so does every
//! create that failed (the informer will never see that pod). While an owner has
//! unfulfilled expectations the controller must not create or delete pods for it again:
//! its cache may simply not have caught up with its own writes yet, and acting on the
//! stale view would double the pods. A record older than the timeout (5 min upstream)
//! counts as satisfied, so a dropped watch event cannot wedge an owner forever.
//!
//! Upstream's `ControlleeExpectations` reads `time.Now()`; here the time a record was set
//! and the time it is checked are arguments, so the TTL behaves the same in the simulator.
//! Keys are kept in a `BTreeMap`: nothing here depends on hash order.
//!
//! [`UidExpectations`] ports the Job controller's `uidTrackingExpectations`
//! (`pkg/controller/job/tracking_utils.go`): the pod UIDs whose tracking-finalizer removal
//! the controller issued but has not yet observed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use corral_core::Timestamp;
use corral_core::clock;

/// Upstream's `ExpectationsTimeout`.
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Pending creates and deletes of one owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpectationRecord {
    pub add: i64,
    pub del: i64,
    /// When the record was (re)set; it expires `timeout` later.
    pub set_at: Timestamp,
}

impl ExpectationRecord {
    /// `ControlleeExpectations.Fulfilled`: nothing more to observe.
    pub fn fulfilled(&self) -> bool {
        self.add <= 0 && self.del <= 0
    }
}

/// Expectations of every owner, keyed by `K` (usually the owner's `ObjectKey`).
#[derive(Clone, Debug)]
pub struct Expectations<K: Ord + Clone> {
    records: BTreeMap<K, ExpectationRecord>,
    timeout: Duration,
}

impl<K: Ord + Clone> Default for Expectations<K> {
    fn default() -> Self {
        Expectations::new(EXPECTATIONS_TIMEOUT)
    }
}

impl<K: Ord + Clone> Expectations<K> {
    pub fn new(timeout: Duration) -> Self {
        Expectations {
            records: BTreeMap::new(),
            timeout,
        }
    }

    /// `SatisfiedExpectations`: true when there is no record, when it is fulfilled, or when
    /// it is older than the timeout.
    pub fn satisfied(&self, key: &K, now: Timestamp) -> bool {
        match self.records.get(key) {
            None => true,
            Some(record) => record.fulfilled() || clock::since(now, record.set_at) > self.timeout,
        }
    }

    /// How long until an unfulfilled record expires (a millisecond past the timeout, as
    /// expiry is strict); `None` when there is nothing to wait for. Upstream has no timer
    /// for this and relies on a later event; a caller can sync again at this time so a
    /// lost watch event delays an owner by at most the timeout.
    pub fn expires_in(&self, key: &K, now: Timestamp) -> Option<Duration> {
        let record = self.records.get(key).filter(|r| !r.fulfilled())?;
        let age = clock::since(now, record.set_at);
        (age <= self.timeout).then(|| self.timeout - age + Duration::from_millis(1))
    }

    /// `SetExpectations`: replaces the owner's record.
    pub fn set(&mut self, key: K, add: i64, del: i64, now: Timestamp) {
        debug_assert!(
            add >= 0 && del >= 0,
            "expectations are set to counts, never negative"
        );
        self.records.insert(
            key,
            ExpectationRecord {
                add,
                del,
                set_at: now,
            },
        );
    }

    /// `ExpectCreations`.
    pub fn expect_creations(&mut self, key: K, adds: usize, now: Timestamp) {
        self.set(key, count(adds), 0, now);
    }

    /// `ExpectDeletions`.
    pub fn expect_deletions(&mut self, key: K, dels: usize, now: Timestamp) {
        self.set(key, 0, count(dels), now);
    }

    /// `LowerExpectations`: a no-op when the owner has no record.
    pub fn lower(&mut self, key: &K, add: i64, del: i64) {
        if let Some(record) = self.records.get_mut(key) {
            record.add = record.add.saturating_sub(add);
            record.del = record.del.saturating_sub(del);
        }
    }

    /// `RaiseExpectations`: a no-op when the owner has no record.
    pub fn raise(&mut self, key: &K, add: i64, del: i64) {
        if let Some(record) = self.records.get_mut(key) {
            record.add = record.add.saturating_add(add);
            record.del = record.del.saturating_add(del);
        }
    }

    /// `CreationObserved`.
    pub fn creation_observed(&mut self, key: &K) {
        self.lower(key, 1, 0);
    }

    /// `DeletionObserved`.
    pub fn deletion_observed(&mut self, key: &K) {
        self.lower(key, 0, 1);
    }

    /// `DeleteExpectations`: the owner is gone.
    pub fn delete(&mut self, key: &K) {
        self.records.remove(key);
    }

    pub fn get(&self, key: &K) -> Option<&ExpectationRecord> {
        self.records.get(key)
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// UIDs each owner expects to see change (upstream: tracking-finalizer removals).
#[derive(Clone, Debug)]
pub struct UidExpectations<K: Ord + Clone> {
    sets: BTreeMap<K, BTreeSet<String>>,
}

impl<K: Ord + Clone> Default for UidExpectations<K> {
    fn default() -> Self {
        UidExpectations {
            sets: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone> UidExpectations<K> {
    /// `expectFinalizersRemoved`.
    pub fn expect(&mut self, key: K, uids: impl IntoIterator<Item = String>) {
        let set = self.sets.entry(key).or_default();
        set.extend(uids);
    }

    /// `finalizerRemovalObserved`; drops the owner's entry once empty.
    pub fn observed(&mut self, key: &K, uid: &str) {
        if let Some(set) = self.sets.get_mut(key) {
            set.remove(uid);
            if set.is_empty() {
                self.sets.remove(key);
            }
        }
    }

    /// `getExpectedUIDs` (a copy, like upstream's `Clone`).
    pub fn expected(&self, key: &K) -> BTreeSet<String> {
        self.sets.get(key).cloned().unwrap_or_default()
    }

    pub fn contains(&self, key: &K, uid: &str) -> bool {
        self.sets.get(key).is_some_and(|s| s.contains(uid))
    }

    /// `deleteExpectations`.
    pub fn delete(&mut self, key: &K) {
        self.sets.remove(key);
    }

    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_core::clock::{add, epoch};

    #[test]
    fn expectations_are_satisfied_when_absent_fulfilled_or_expired() {
        let t0 = epoch();
        let mut e: Expectations<&str> = Expectations::default();
        assert!(
            e.satisfied(&"job", t0),
            "no record: a new owner syncs at once"
        );

        e.expect_creations("job", 2, t0);
        assert!(!e.satisfied(&"job", t0));
        e.creation_observed(&"job");
        assert!(!e.satisfied(&"job", t0));
        e.creation_observed(&"job");
        assert!(e.satisfied(&"job", t0), "both adds observed");

        e.expect_deletions("job", 1, t0);
        assert_eq!(
            e.expires_in(&"job", t0),
            Some(EXPECTATIONS_TIMEOUT + Duration::from_millis(1))
        );
        assert!(
            !e.satisfied(&"job", add(t0, EXPECTATIONS_TIMEOUT)),
            "exactly the timeout is not expired"
        );
        assert!(e.satisfied(
            &"job",
            add(t0, EXPECTATIONS_TIMEOUT + Duration::from_secs(1))
        ));
    }

    #[test]
    fn lowering_an_unknown_owner_creates_nothing_and_over_lowering_stays_satisfied() {
        let t0 = epoch();
        let mut e: Expectations<&str> = Expectations::default();
        e.deletion_observed(&"other");
        assert!(e.get(&"other").is_none());
        e.expect_creations("job", 1, t0);
        e.creation_observed(&"job");
        e.creation_observed(&"job");
        assert_eq!(e.get(&"job").map(|r| r.add), Some(-1));
        assert!(e.satisfied(&"job", t0));
        e.raise(&"job", 2, 0);
        assert!(!e.satisfied(&"job", t0));
        e.delete(&"job");
        assert!(e.is_empty());
    }

    #[test]
    fn uid_expectations_forget_observed_uids_and_empty_owners() {
        let mut u: UidExpectations<&str> = UidExpectations::default();
        u.expect("job", ["a".to_string(), "b".to_string()]);
        assert!(u.contains(&"job", "a"));
        u.observed(&"job", "a");
        assert_eq!(u.expected(&"job").len(), 1);
        u.observed(&"job", "b");
        assert!(u.is_empty());
    }
}
