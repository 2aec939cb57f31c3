//! Indexed Jobs (`pkg/controller/job/indexed_job_utils.go`): completion indexes, the
//! interval strings of `status.completedIndexes`/`failedIndexes` (`1,3-5`), which indexes
//! still need a pod, duplicates to remove, and the per-index failure counts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::api::core::v1::Pod;

use super::pod_failure_policy::{PolicyAction, match_pod_failure_policy};
use super::pods;
use super::spec::JobView;

/// Annotation (and, since `PodIndexLabel`, label) carrying a pod's completion index.
pub const COMPLETION_INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
/// Failures of the index so far, carried from a failed pod to its replacement.
pub const INDEX_FAILURE_COUNT_ANNOTATION: &str = "batch.kubernetes.io/job-index-failure-count";
/// Failures of the index that the pod failure policy ignored.
pub const INDEX_IGNORED_FAILURE_COUNT_ANNOTATION: &str =
    "batch.kubernetes.io/job-index-ignored-failure-count";
/// The environment variable every container of an Indexed pod gets.
pub const COMPLETION_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// `names.MaxGeneratedNameLength`: 63 minus the 5 random characters.
const MAX_GENERATED_NAME_LENGTH: usize = 58;

/// `getCompletionIndex`: the pod's index, or `None` when missing, malformed or negative.
pub fn completion_index(pod: &Pod) -> Option<i64> {
    let value = pod
        .metadata
        .annotations
        .as_ref()?
        .get(COMPLETION_INDEX_ANNOTATION)?;
    value.parse::<i64>().ok().filter(|i| *i >= 0)
}

/// The index if it is in `[0, completions)`.
pub fn valid_index(pod: &Pod, completions: i64) -> Option<i64> {
    completion_index(pod).filter(|i| *i < completions)
}

/// One run of consecutive indexes, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub first: i64,
    pub last: i64,
}

/// `orderedIntervals`: sorted, non-overlapping, non-adjacent runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderedIntervals(pub Vec<Interval>);

impl OrderedIntervals {
    /// `parseIndexesFromString`: tolerant of corrupt entries (skipped) and clipped to
    /// `[0, completions)`.
    pub fn parse(text: &str, completions: i64) -> OrderedIntervals {
        let mut result: Vec<Interval> = Vec::new();
        if text.is_empty() {
            return OrderedIntervals(result);
        }
        for part in text.split(',') {
            let mut limits = part.split('-');
            let Some(Ok(first)) = limits.next().map(str::parse::<i64>) else {
                continue;
            };
            if first >= completions {
                break;
            }
            let last = match limits.next() {
                None => first,
                Some(text) => match text.parse::<i64>() {
                    Ok(last) => last.min(completions - 1),
                    Err(_) => continue,
                },
            };
            match result.last_mut() {
                Some(previous) if previous.last == first - 1 => previous.last = last,
                _ => result.push(Interval { first, last }),
            }
        }
        OrderedIntervals(result)
    }

    /// `withOrderedIndexes`: adds indexes given in increasing order.
    pub fn with_ordered_indexes(&self, indexes: impl IntoIterator<Item = i64>) -> OrderedIntervals {
        let added = indexes
            .into_iter()
            .map(|i| Interval { first: i, last: i })
            .collect();
        self.merge(&OrderedIntervals(added))
    }

    /// `merge`.
    pub fn merge(&self, other: &OrderedIntervals) -> OrderedIntervals {
        let mut all: Vec<Interval> = self.0.iter().chain(other.0.iter()).copied().collect();
        all.sort_by_key(|i| (i.first, i.last));
        let mut result: Vec<Interval> = Vec::with_capacity(all.len());
        for interval in all {
            match result.last_mut() {
                Some(previous) if interval.first <= previous.last + 1 => {
                    previous.last = previous.last.max(interval.last);
                }
                _ => result.push(interval),
            }
        }
        OrderedIntervals(result)
    }

    /// `total`: how many indexes the runs cover.
    pub fn total(&self) -> i64 {
        self.0.iter().map(|i| i.last - i.first + 1).sum()
    }

    /// `has` (binary search).
    pub fn has(&self, index: i64) -> bool {
        let position = self.0.partition_point(|i| i.last < index);
        self.0.get(position).is_some_and(|i| i.first <= index)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for OrderedIntervals {
    /// `1,3-5`; a run of two is written `3,4`, as upstream does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, interval) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}", interval.first)?;
            if interval.last == interval.first + 1 {
                write!(f, ",{}", interval.last)?;
            } else if interval.last > interval.first {
                write!(f, "-{}", interval.last)?;
            }
        }
        Ok(())
    }
}

/// `calculateSucceededIndexes`: the indexes in the status, and those plus the indexes of
/// succeeded pods still holding the tracking finalizer (not counted yet).
pub fn calculate_succeeded_indexes(
    view: &JobView,
    pods: &[&Pod],
) -> (OrderedIntervals, OrderedIntervals) {
    let completions = view.completions_or_zero();
    let stored = view
        .status()
        .and_then(|s| s.completed_indexes.as_deref())
        .unwrap_or("");
    let previous = OrderedIntervals::parse(stored, completions);
    let new: BTreeSet<i64> = pods
        .iter()
        .filter(|p| pods::is_succeeded(p) && pods::has_tracking_finalizer(p))
        .filter_map(|p| valid_index(p, completions))
        .collect();
    let current = previous.with_ordered_indexes(new);
    (previous, current)
}

/// `calculateFailedIndexes`: stored failed indexes plus indexes whose pods just failed for
/// good (per-index limit reached, or a `FailIndex` rule).
pub fn calculate_failed_indexes(view: &JobView, pods: &[&Pod]) -> OrderedIntervals {
    let completions = view.completions_or_zero();
    let stored = view
        .status()
        .and_then(|s| s.failed_indexes.as_deref())
        .unwrap_or("");
    let previous = OrderedIntervals::parse(stored, completions);
    let new: BTreeSet<i64> = pods
        .iter()
        .filter(|p| pods::has_tracking_finalizer(p) && is_index_failed(view, p))
        .filter_map(|p| valid_index(p, completions))
        .collect();
    previous.with_ordered_indexes(new)
}

/// `isIndexFailed`.
pub fn is_index_failed(view: &JobView, pod: &Pod) -> bool {
    if !pods::is_failed(pod, view.only_replace_failed) {
        return false;
    }
    let counted = match view.pod_failure_policy {
        Some(policy) => {
            let matched = match_pod_failure_policy(Some(policy), pod);
            if matched.action == Some(PolicyAction::FailIndex) {
                return true;
            }
            matched.count_failed
        }
        None => true,
    };
    counted && failure_count(pod) >= view.backoff_limit_per_index.unwrap_or(i32::MAX)
}

/// `firstPendingIndexes`: up to `count` indexes below `completions` that have no active
/// pod, did not succeed or fail, and (when only failed pods are replaced) have no
/// terminating pod.
pub fn first_pending_indexes(
    active: &[&Pod],
    terminating: &[&Pod],
    succeeded: &OrderedIntervals,
    failed: Option<&OrderedIntervals>,
    count: usize,
    completions: i64,
) -> Vec<i64> {
    let taken: BTreeSet<i64> = active
        .iter()
        .chain(terminating)
        .filter_map(|p| completion_index(p))
        .collect();
    let mut non_pending = succeeded.with_ordered_indexes(taken);
    if let Some(failed) = failed {
        non_pending = non_pending.merge(failed);
    }
    let mut result = Vec::with_capacity(count.min(1024));
    let mut candidate = 0;
    for interval in &non_pending.0 {
        while candidate < completions && result.len() < count && candidate < interval.first {
            result.push(candidate);
            candidate += 1;
        }
        candidate = candidate.max(interval.last + 1);
    }
    while candidate < completions && result.len() < count {
        result.push(candidate);
        candidate += 1;
    }
    result
}

/// `appendDuplicatedIndexPodsForRemoval`: pods without an index or beyond `completions`,
/// and all but the last-to-delete (in `ActivePods` order) of each repeated index, go to
/// the removal list; the rest stay.
pub fn duplicated_index_pods_for_removal<'a>(
    pods: &[&'a Pod],
    completions: i64,
) -> (Vec<&'a Pod>, Vec<&'a Pod>) {
    let mut by_index: BTreeMap<i64, Vec<&'a Pod>> = BTreeMap::new();
    let mut remove: Vec<&'a Pod> = Vec::new();
    for pod in pods {
        match valid_index(pod, completions) {
            Some(index) => by_index.entry(index).or_default().push(pod),
            None => remove.push(pod),
        }
    }
    let mut keep = Vec::with_capacity(by_index.len());
    for (_, mut group) in by_index {
        group.sort_by(|a, b| pods::active_pods_order(a, b));
        if let Some(last) = group.pop() {
            keep.push(last);
        }
        remove.extend(group);
    }
    (remove, keep)
}

/// `getPodsWithDelayedDeletionPerIndex`: for each index that has no active pod and is
/// neither succeeded nor failed, the latest failed pod, whose finalizer is kept until its
/// replacement exists, so the replacement can inherit the failure count.
pub fn pods_with_delayed_deletion_per_index<'a>(
    view: &JobView,
    pods: &[&'a Pod],
    active: &[&Pod],
    succeeded: &OrderedIntervals,
    failed: &OrderedIntervals,
    expected_removed: &BTreeSet<String>,
) -> BTreeMap<i64, &'a Pod> {
    let completions = view.completions_or_zero();
    let active_indexes: BTreeSet<i64> = active.iter().filter_map(|p| completion_index(p)).collect();
    let mut result: BTreeMap<i64, &'a Pod> = BTreeMap::new();
    for pod in pods {
        if !pods::has_tracking_finalizer(pod) || expected_removed.contains(pods::uid(pod)) {
            continue;
        }
        if !pods::is_failed(pod, view.only_replace_failed) {
            continue;
        }
        let Some(index) = valid_index(pod, completions) else {
            continue;
        };
        if succeeded.has(index) || failed.has(index) || active_indexes.contains(&index) {
            continue;
        }
        let replace = result.get(&index).is_none_or(|last| {
            absolute_failure_count(last) <= absolute_failure_count(pod)
                && pods::finished_time(pod) >= pods::finished_time(last)
        });
        if replace {
            result.insert(index, pod);
        }
    }
    result
}

/// `getNewIndexFailureCounts`: the (failures, ignored failures) the replacement of
/// `replaced` starts with.
pub fn new_index_failure_counts(view: &JobView, replaced: Option<&Pod>) -> (i32, i32) {
    let Some(pod) = replaced else {
        return (0, 0);
    };
    let mut failures = failure_count(pod);
    let mut ignored = ignored_failure_count(pod);
    let counted = view
        .pod_failure_policy
        .is_none_or(|p| match_pod_failure_policy(Some(p), pod).count_failed);
    if counted {
        failures = failures.saturating_add(1);
    } else {
        ignored = ignored.saturating_add(1);
    }
    (failures, ignored)
}

/// `getIndexFailureCount`: 0 when missing or invalid.
pub fn failure_count(pod: &Pod) -> i32 {
    annotation_count(pod, INDEX_FAILURE_COUNT_ANNOTATION)
}

fn ignored_failure_count(pod: &Pod) -> i32 {
    annotation_count(pod, INDEX_IGNORED_FAILURE_COUNT_ANNOTATION)
}

/// `getIndexAbsoluteFailureCount`: counted plus ignored failures.
pub fn absolute_failure_count(pod: &Pod) -> i32 {
    failure_count(pod).saturating_add(ignored_failure_count(pod))
}

/// `parseInt32`: non-negative values that fit an i32, anything else 0.
fn annotation_count(pod: &Pod, annotation: &str) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(annotation))
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| *v >= 0)
        .and_then(|v| i32::try_from(v).ok())
        .unwrap_or(0)
}

/// `podGenerateNameWithIndex`: `<job>-<index>-`, the job part cut so the whole prefix
/// fits the generated-name limit.
pub fn generate_name_with_index(job_name: &str, index: i64) -> String {
    let suffix = format!("-{index}-");
    let prefix = format!("{job_name}{suffix}");
    if prefix.len() <= MAX_GENERATED_NAME_LENGTH {
        return prefix;
    }
    let keep = MAX_GENERATED_NAME_LENGTH.saturating_sub(suffix.len());
    let cut = (0..=keep.min(job_name.len()))
        .rev()
        .find(|i| job_name.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}{suffix}", &job_name[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intervals(text: &str, completions: i64) -> OrderedIntervals {
        OrderedIntervals::parse(text, completions)
    }

    #[test]
    fn interval_strings_round_trip_like_upstream() {
        let rows = [
            // (input, completions, rendered, total)
            ("", 10, "", 0),
            ("1", 10, "1", 1),
            ("1,3-5", 10, "1,3-5", 4),
            ("0,1", 10, "0,1", 2),
            ("0-1", 10, "0,1", 2),
            ("0,1,2", 10, "0-2", 3),
            ("1,2-4,5", 10, "1-5", 5),
            ("3-7,9-12", 10, "3-7,9", 6),
            ("x,2,4-y,6", 10, "2,6", 2),
            ("12,13", 10, "", 0),
        ];
        for (input, completions, rendered, total) in rows {
            let parsed = intervals(input, completions);
            assert_eq!(parsed.to_string(), rendered, "{input}");
            assert_eq!(parsed.total(), total, "{input}");
        }
    }

    #[test]
    fn merging_and_membership() {
        let base = intervals("1,5-7", 100);
        let merged = base.with_ordered_indexes([0, 2, 4, 8, 20]);
        assert_eq!(merged.to_string(), "0-2,4-8,20");
        assert_eq!(merged.merge(&intervals("3,9-19", 100)).to_string(), "0-20");
        for (index, present) in [
            (0, true),
            (3, false),
            (8, true),
            (9, false),
            (20, true),
            (21, false),
        ] {
            assert_eq!(merged.has(index), present, "index {index}");
        }
    }

    #[test]
    fn first_pending_indexes_skip_taken_runs_and_stop_at_count_or_completions() {
        let succeeded = intervals("0,2-3", 10);
        let failed = intervals("5", 10);
        assert_eq!(
            first_pending_indexes(&[], &[], &succeeded, Some(&failed), 3, 10),
            vec![1, 4, 6]
        );
        assert_eq!(
            first_pending_indexes(&[], &[], &succeeded, None, 10, 6),
            vec![1, 4, 5]
        );
        assert!(first_pending_indexes(&[], &[], &succeeded, None, 0, 6).is_empty());
    }

    #[test]
    fn generated_names_keep_the_index_and_fit_the_limit() {
        assert_eq!(generate_name_with_index("job", 3), "job-3-");
        let long = "a".repeat(70);
        let name = generate_name_with_index(&long, 12345);
        assert_eq!(name.len(), MAX_GENERATED_NAME_LENGTH);
        assert!(name.ends_with("-12345-"));
    }
}
