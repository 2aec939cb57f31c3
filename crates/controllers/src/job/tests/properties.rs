//! Properties over random pod outcomes.
//!
//! Goal: whatever the pods do, the controller never runs more pods than `parallelism`,
//! finishes the Job, and counts every terminated pod exactly once. Method: proptest picks
//! the Job's shape and each pod's run time and exit code; the harness runs it to the end
//! and compares the status with what the watch saw happen to each pod.

use proptest::prelude::*;

use super::harness::*;

fn check(parallelism: i32, completions: Option<i32>, backoff_limit: i32, outcomes: Vec<(u64, bool)>) {
    let script_outcomes = outcomes.clone();
    let script: Script = Box::new(move |ordinal, _| {
        let (run, succeed) = script_outcomes[ordinal % script_outcomes.len()];
        Behaviour::Exit {
            run: secs(run),
            exit_code: if succeed { 0 } else { 1 },
        }
    });
    let mut h = Harness::new(script);
    h.submit(job_with("prop", |s| {
        s.parallelism = Some(parallelism);
        s.completions = completions;
        s.backoff_limit = Some(backoff_limit);
    }));
    h.run_until_finished("prop", secs(12 * 3600));
    assert!(h.finished_condition("prop").is_some(), "the Job finishes ({outcomes:?})");
    let max_active = h.max_active.get("prop").copied().unwrap_or(0);
    assert!(max_active <= parallelism as usize, "{max_active} active > parallelism {parallelism}");

    let succeeded = h.fates.values().filter(|f| f.succeeded).count() as i32;
    let failed = h
        .fates
        .values()
        .filter(|f| !f.succeeded && (f.failed || f.deleted_with_finalizer))
        .count() as i32;
    let status = h.status("prop");
    assert_eq!(status.succeeded.unwrap_or(0), succeeded, "succeeded pods counted once");
    assert_eq!(status.failed.unwrap_or(0), failed, "failed pods counted once");
    let uncounted = status.uncounted_terminated_pods.unwrap_or_default();
    assert!(uncounted.succeeded.unwrap_or_default().is_empty() && uncounted.failed.unwrap_or_default().is_empty());
    assert!(h.pods().iter().all(|p| !crate::job::pods::has_tracking_finalizer(p)));
    if let Some(completions) = completions {
        if h.finished_condition("prop").is_some_and(|(t, _)| t == "Complete") {
            assert!(succeeded >= completions);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_pod_outcomes_respect_parallelism_and_count_each_pod_once(
        parallelism in 1i32..4,
        completions in prop::option::of(1i32..6),
        backoff_limit in 0i32..4,
        outcomes in prop::collection::vec((1u64..40, any::<bool>()), 1..10),
    ) {
        check(parallelism, completions, backoff_limit, outcomes);
    }
}

#[test]
fn regression_all_pods_fail_at_once_with_parallelism_three() {
    check(3, Some(5), 2, vec![(7, false)]);
}

#[test]
fn regression_mixed_outcomes_work_queue() {
    check(2, None, 1, vec![(3, false), (9, true), (1, false)]);
}
