//! TTL-after-finished tests.
//!
//! Goal: a finished Job is deleted exactly `ttlSecondsAfterFinished` after its finishing
//! condition's transition, never earlier, in the foreground with its UID; unfinished Jobs and
//! Jobs without a TTL are never touched. Method: the virtual-time harness with the TTL
//! controller and the garbage collector (which completes the foreground deletion), plus a
//! property over random finish times and clocks.

use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::{Action, Propagation, Reconciler, Timestamp};
use k8s_openapi::api::batch::v1::{Job, JobSpec, JobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use proptest::prelude::*;

use super::TtlAfterFinishedController;
use crate::cronjob::job_state::Finished;
use crate::cronjob::tests::{at, t0};
use crate::gc::GarbageCollector;
use crate::gc::harness::{Harness, finish_job, pod_for};
use crate::testing::TestCluster;

fn job(name: &str, ttl: Option<i32>, finished: Option<(Finished, Timestamp)>) -> Job {
    let mut status = JobStatus::default();
    if let Some((how, when)) = finished {
        finish_job(&mut status, how, when);
    }
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(JobSpec {
            ttl_seconds_after_finished: ttl,
            ..Default::default()
        }),
        status: Some(status),
    }
}

fn ttl_harness() -> Harness {
    let mut harness = Harness::new(t0());
    harness.add(TtlAfterFinishedController::default());
    harness.add(GarbageCollector::default());
    harness
}

#[test]
fn a_finished_job_is_deleted_exactly_when_its_ttl_expires_with_its_pods() {
    let mut harness = ttl_harness();
    harness.now = at(10.0);
    let key = harness.put(KubeObject::Job(job("done", Some(100), None)));
    let stored = harness
        .get(&key)
        .unwrap()
        .as_typed::<Job>()
        .unwrap()
        .clone();
    let pod = harness.put(KubeObject::Pod(pod_for(&stored)));
    // The Job controller marks it Complete at 00:00:30.
    harness.now = at(30.0);
    let mut finished = stored;
    finish_job(
        finished.status.get_or_insert_with(Default::default),
        Finished::Complete,
        at(30.0),
    );
    harness.write_status(KubeObject::Job(finished));

    harness.run_until(at(129.999));
    assert!(harness.exists(&key), "not a millisecond early");
    assert!(!harness.get(&key).unwrap().is_being_deleted());
    harness.run_until(at(130.0));
    assert!(!harness.exists(&key));
    assert!(!harness.exists(&pod));
    assert_eq!(harness.removed_at(&key), Some(at(130.0)));
    let delete = harness
        .successful_writes("ttl_jobs_to_delete")
        .into_iter()
        .map(|w| w.action.clone())
        .next()
        .expect("the TTL controller deleted the Job");
    let Action::Delete {
        propagation,
        preconditions,
        ..
    } = delete
    else {
        panic!("{delete:?}")
    };
    assert_eq!(propagation, Some(Propagation::Foreground));
    assert!(preconditions.uid.is_some());
}

#[test]
fn a_failed_job_counts_from_its_failed_condition_and_a_ttl_of_zero_deletes_at_once() {
    let mut harness = ttl_harness();
    let key = harness.put(KubeObject::Job(job(
        "failed",
        Some(0),
        Some((Finished::Failed, at(0.0))),
    )));
    harness.run_until(at(0.0));
    assert!(!harness.exists(&key));
}

#[test]
fn unfinished_jobs_and_jobs_without_a_ttl_are_never_touched() {
    let mut harness = ttl_harness();
    let running = harness.put(KubeObject::Job(job("running", Some(1), None)));
    let kept = harness.put(KubeObject::Job(job(
        "kept",
        None,
        Some((Finished::Complete, at(0.0))),
    )));
    harness.run_for(Duration::from_secs(24 * 3600));
    assert!(harness.exists(&running) && harness.exists(&kept));
    assert!(harness.successful_writes("ttl_jobs_to_delete").is_empty());
}

#[test]
fn a_finish_time_in_the_future_waits_instead_of_deleting() {
    let mut cluster = TestCluster::new();
    cluster.put(
        KubeObject::Job(job(
            "skewed",
            Some(10),
            Some((Finished::Complete, at(100.0))),
        )),
        at(0.0),
    );
    let mut controller = TtlAfterFinishedController::default();
    let key = ObjectKey::new(ResourceKind::Job, "default", "skewed");
    let plan = controller.reconcile(&cluster.cache, &key, at(50.0));
    assert_eq!(plan.action_count(), 0);
    assert_eq!(plan.requeue_after, Some(Duration::from_secs(60)));
}

proptest! {
    #[test]
    fn the_ttl_controller_never_deletes_before_finish_plus_ttl(
        finish_ms in 0u64..10_000_000,
        ttl in 0i32..100_000,
        now_ms in 0u64..200_000_000,
        failed in any::<bool>(),
    ) {
        let finished_at = at(finish_ms as f64 / 1000.0);
        let now = at(now_ms as f64 / 1000.0);
        let how = if failed { Finished::Failed } else { Finished::Complete };
        let mut cluster = TestCluster::new();
        cluster.put(KubeObject::Job(job("j", Some(ttl), Some((how, finished_at)))), at(0.0));
        let key = ObjectKey::new(ResourceKind::Job, "default", "j");
        let plan = TtlAfterFinishedController::default().reconcile(&cluster.cache, &key, now);
        let expire = corral_core::clock::add(finished_at, Duration::from_secs(ttl as u64));
        let deletes = plan.actions().any(|a| matches!(a, Action::Delete { .. }));
        prop_assert_eq!(deletes, now >= expire);
        if !deletes {
            prop_assert_eq!(plan.requeue_after, Some(corral_core::clock::since(expire, now)));
        }
    }
}
