//! Goal: every row of spec §7.2 from `examples/failing-jobs.yaml`. Method: run the
//! scenario's 30 minutes and read the outcome of each Job from the report and from the
//! events it recorded.

use super::common::{load, minutes};
use corral_sim::{SimOptions, Simulation};

#[test]
fn every_row_of_the_failing_jobs_table() {
    let report = Simulation::new(
        load("failing-jobs.yaml"),
        SimOptions {
            until: Some(minutes(30)),
            ..Default::default()
        },
    )
    .run();
    let events = &report.totals.events;
    let count = |reason: &str| events.get(reason).copied().unwrap_or(0);
    // restartPolicy Never, exit 1: 7 pods, BackoffLimitExceeded. OnFailure: the second failure.
    assert_eq!(
        report.totals.jobs_failed, 2,
        "never-exit-1 and onfailure-exit-1 fail"
    );
    assert_eq!(count("BackoffLimitExceeded"), 2);
    // ImagePullBackOff: pulls that fail and back off; the pod holds its requests.
    assert!(count("Failed") >= 6, "pull failures: {}", count("Failed"));
    assert!(count("BackOff") >= 3);
    let end = report.samples.last().unwrap();
    assert!(
        end.cpu_reserved_pending_m >= 500,
        "the ImagePullBackOff pod holds its cpu: {}",
        end.cpu_reserved_pending_m
    );
    // Missing PVC: FailedScheduling, and no node resources held for it.
    assert!(count("FailedScheduling") >= 1);
    // Missing ServiceAccount (namespace `failing`) and quota (namespace `quota`): FailedCreate,
    // retried, never a pod for the missing account, one pod for a `pods: 1` quota.
    let failed_create = |ns: &str| {
        report
            .totals
            .events_by_namespace
            .get(&("FailedCreate".to_string(), ns.to_string()))
            .copied()
            .unwrap_or(0)
    };
    assert!(
        failed_create("failing") >= 10,
        "missing ServiceAccount retries: {}",
        failed_create("failing")
    );
    assert!(
        failed_create("quota") >= 5,
        "quota retries: {}",
        failed_create("quota")
    );
    assert!(report.api.admission_rejections >= 15);
    // 7 (Never) + 1 (OnFailure) + 1 (image) + 1 (PVC) + 1 (quota) + 0 (ServiceAccount).
    assert_eq!(report.totals.pods_created, 11);
    assert!(
        report.passed(),
        "the scenario's assertions hold: {:?}",
        report.assertions
    );
}
