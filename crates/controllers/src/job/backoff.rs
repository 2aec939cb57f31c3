//! The pod-failure backoff (`pkg/controller/job/backoff_utils.go`, the 2023 rewrite).
//!
//! Per Job the controller remembers, in memory, how many pods failed since the last
//! success and when the last of them finished. The next pod may be created
//! `base × 2^(n−1)` (capped at `max`: 10 s and 600 s upstream) after that last failure.
//! Indexed Jobs with `backoffLimitPerIndex` apply the same formula per index, reading the
//! count from the failure-count annotation of the index's last failed pod.

use std::collections::BTreeMap;
use std::time::Duration;

use corral_api::ObjectKey;
use corral_core::Timestamp;
use corral_core::clock;
use k8s_openapi::api::core::v1::Pod;

use super::indexed;
use super::pods;

/// `backoffRecord`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackoffRecord {
    pub failures_after_last_success: i32,
    pub last_failure_time: Option<Timestamp>,
}

impl BackoffRecord {
    /// `getRemainingTime`.
    pub fn remaining_time(&self, now: Timestamp, base: Duration, max: Duration) -> Duration {
        remaining_time_for_failures(
            now,
            base,
            max,
            self.failures_after_last_success,
            self.last_failure_time,
        )
    }
}

/// `backoffStore`: one record per Job key.
#[derive(Clone, Debug, Default)]
pub struct BackoffStore {
    records: BTreeMap<ObjectKey, BackoffRecord>,
}

impl BackoffStore {
    pub fn get(&self, key: &ObjectKey) -> BackoffRecord {
        self.records.get(key).copied().unwrap_or_default()
    }

    /// `updateBackoffRecord`: called once the status write that recorded the new pods
    /// succeeded, so a failure is folded in exactly once.
    pub fn update(&mut self, key: ObjectKey, record: BackoffRecord) {
        self.records.insert(key, record);
    }

    /// `removeBackoffRecord`: the Job finished or is gone.
    pub fn remove(&mut self, key: &ObjectKey) {
        self.records.remove(key);
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// `newBackoffRecord`: the record after folding in pods that finished since the last
    /// counted sync. Any new success resets the count to the failures that finished after
    /// the latest success.
    pub fn new_record(
        &self,
        key: &ObjectKey,
        new_succeeded: &[&Pod],
        new_failed: &[&Pod],
    ) -> BackoffRecord {
        let mut record = self.get(key);
        let mut failed_times: Vec<Timestamp> =
            new_failed.iter().map(|p| pods::finished_time(p)).collect();
        failed_times.sort();
        let last_success = new_succeeded.iter().map(|p| pods::finished_time(p)).max();
        match last_success {
            None => {
                let Some(&last) = failed_times.last() else {
                    return record;
                };
                record.failures_after_last_success = record
                    .failures_after_last_success
                    .saturating_add(i32::try_from(failed_times.len()).unwrap_or(i32::MAX));
                record.last_failure_time = Some(last);
            }
            Some(success) => {
                let after: Vec<Timestamp> =
                    failed_times.into_iter().filter(|t| *t > success).collect();
                record.failures_after_last_success = i32::try_from(after.len()).unwrap_or(i32::MAX);
                record.last_failure_time = after.last().copied();
            }
        }
        record
    }
}

/// `getRemainingTimeForFailuresCount`: how long until the next pod may start.
pub fn remaining_time_for_failures(
    now: Timestamp,
    base: Duration,
    max: Duration,
    failures: i32,
    last_failure: Option<Timestamp>,
) -> Duration {
    let Some(last_failure) = last_failure.filter(|_| failures > 0) else {
        return Duration::ZERO;
    };
    let backoff = backoff_duration(base, max, failures);
    backoff.saturating_sub(clock::since(now, last_failure))
}

/// `base × 2^(failures−1)`, capped at `max` (the doubling loop stops at the cap, so even
/// huge counts cost a bounded number of steps).
pub fn backoff_duration(base: Duration, max: Duration, failures: i32) -> Duration {
    let mut backoff = base;
    for _ in 1..failures.max(1) {
        backoff = backoff.saturating_mul(2);
        if backoff >= max {
            return max;
        }
    }
    backoff
}

/// `getRemainingTimePerIndex`: the delay before re-creating an index whose last failed pod
/// is `last_failed` (none: no delay).
pub fn remaining_time_per_index(
    now: Timestamp,
    base: Duration,
    max: Duration,
    last_failed: Option<&Pod>,
) -> Duration {
    let Some(pod) = last_failed else {
        return Duration::ZERO;
    };
    let failures = indexed::absolute_failure_count(pod).saturating_add(1);
    remaining_time_for_failures(now, base, max, failures, Some(pods::finished_time(pod)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::ResourceKind;
    use corral_core::clock::{add, epoch};
    use k8s_openapi::api::core::v1::PodStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    const BASE: Duration = Duration::from_secs(10);
    const MAX: Duration = Duration::from_secs(600);

    fn at(secs: u64) -> Timestamp {
        add(epoch(), Duration::from_secs(secs))
    }

    /// A pod whose only finish-time source is its deletion timestamp.
    fn finished_at(secs: u64) -> Pod {
        Pod {
            metadata: ObjectMeta {
                deletion_timestamp: Some(Time(at(secs))),
                ..Default::default()
            },
            status: Some(PodStatus::default()),
            ..Default::default()
        }
    }

    #[test]
    fn backoff_doubles_from_ten_seconds_and_caps_at_ten_minutes() {
        let rows = [
            (1, 10),
            (2, 20),
            (3, 40),
            (4, 80),
            (5, 160),
            (6, 320),
            (7, 600),
            (8, 600),
            (1000, 600),
            (i32::MAX, 600),
        ];
        for (failures, secs) in rows {
            assert_eq!(
                backoff_duration(BASE, MAX, failures),
                Duration::from_secs(secs),
                "{failures} failures"
            );
        }
    }

    #[test]
    fn remaining_time_counts_from_the_last_failure() {
        let rows = [
            // (failures, last failure at, now, remaining)
            (0, Some(0), 0, 0),
            (1, None, 0, 0),
            (1, Some(100), 100, 10),
            (1, Some(100), 104, 6),
            (1, Some(100), 110, 0),
            (1, Some(100), 500, 0),
            (3, Some(100), 101, 39),
            (9, Some(0), 1, 599),
        ];
        for (failures, last, now, want) in rows {
            let got = remaining_time_for_failures(at(now), BASE, MAX, failures, last.map(at));
            assert_eq!(
                got,
                Duration::from_secs(want),
                "failures {failures}, last {last:?}, now {now}"
            );
        }
    }

    #[test]
    fn new_record_accumulates_failures_and_a_success_resets_to_later_failures() {
        let key = ObjectKey::new(ResourceKind::Job, "ns", "j");
        let mut store = BackoffStore::default();
        let (f1, f2, s3, f4) = (
            finished_at(10),
            finished_at(20),
            finished_at(30),
            finished_at(40),
        );

        let record = store.new_record(&key, &[], &[&f2, &f1]);
        assert_eq!(
            record,
            BackoffRecord {
                failures_after_last_success: 2,
                last_failure_time: Some(at(20))
            }
        );
        store.update(key.clone(), record);

        let record = store.new_record(&key, &[], &[]);
        assert_eq!(
            record.failures_after_last_success, 2,
            "nothing new: unchanged"
        );

        let record = store.new_record(&key, &[&s3], &[&f4, &f1]);
        assert_eq!(
            record,
            BackoffRecord {
                failures_after_last_success: 1,
                last_failure_time: Some(at(40))
            }
        );

        let record = store.new_record(&key, &[&s3], &[]);
        assert_eq!(
            record,
            BackoffRecord::default(),
            "a success alone clears the record"
        );
        store.remove(&key);
        assert!(store.is_empty());
    }
}
