//! Pod GC tests.
//!
//! Goal: the periodic pass picks the same pods as upstream's `gc`: the terminated pods beyond
//! the threshold in upstream's order, orphans only after the quarantine, and unscheduled
//! terminating pods. Method: the virtual-time harness (the pass runs every 20 s on its own
//! synthetic key) and direct calls for the ordering.

use std::time::Duration;

use corral_api::{KubeObject, ResourceKind};
use corral_core::{Action, Enqueue, ObjectEvent, Reconciler, Subresource};
use k8s_openapi::api::core::v1::{Node, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::{PodGcConfig, PodGcController, terminated_beyond_threshold};
use crate::cronjob::tests::{at, t0};
use crate::gc::harness::Harness;

fn pod(name: &str, phase: &str, created: f64, node: Option<&str>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            creation_timestamp: Some(Time(at(created))),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: node.map(String::from),
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some(phase.into()),
            ..Default::default()
        }),
    }
}

fn evicted(mut pod: Pod) -> Pod {
    pod.status.as_mut().unwrap().reason = Some("Evicted".into());
    pod
}

fn node(name: &str) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn harness(threshold: usize) -> Harness {
    let mut harness = Harness::new(t0());
    harness.add(PodGcController::new(PodGcConfig {
        terminated_pod_gc_threshold: threshold,
        ..PodGcConfig::default()
    }));
    harness
}

#[test]
fn terminated_pods_beyond_the_threshold_go_evicted_first_then_oldest_first() {
    let pods = [
        pod("succeeded-3", "Succeeded", 30.0, Some("n1")),
        pod("failed-1", "Failed", 10.0, Some("n1")),
        pod("succeeded-2b", "Succeeded", 20.0, Some("n1")),
        pod("succeeded-2a", "Succeeded", 20.0, Some("n1")),
        evicted(pod("evicted-new", "Failed", 90.0, Some("n1"))),
        pod("succeeded-4", "Succeeded", 40.0, Some("n1")),
        pod("running-old", "Running", 0.0, Some("n1")),
        pod("pending-old", "Pending", 0.0, None),
    ];
    let refs: Vec<&Pod> = pods.iter().collect();
    let doomed: Vec<&str> = terminated_beyond_threshold(&refs, 2)
        .into_iter()
        .map(|p| p.metadata.name.as_deref().unwrap())
        .collect();
    // Six terminated, threshold 2: four go. Same creation time: by name.
    assert_eq!(
        doomed,
        vec!["evicted-new", "failed-1", "succeeded-2a", "succeeded-2b"]
    );
}

#[test]
fn the_periodic_pass_deletes_the_excess_and_keeps_running_pods() {
    let mut harness = harness(2);
    harness.put(KubeObject::Node(node("n1")));
    for (i, phase) in ["Succeeded", "Failed", "Succeeded", "Running", "Succeeded"]
        .iter()
        .enumerate()
    {
        harness.put(KubeObject::Pod(pod(
            &format!("p{i}"),
            phase,
            i as f64,
            Some("n1"),
        )));
    }
    harness.run_until(at(0.0));
    let left: Vec<String> = harness
        .objects(ResourceKind::Pod)
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    assert_eq!(left, vec!["p2", "p3", "p4"]);
    // Already terminal: no status patch, a delete with grace period 0 and the pod's UID.
    for write in harness.successful_writes("pod-garbage-collector") {
        let Action::Delete {
            grace_period_seconds,
            preconditions,
            ..
        } = &write.action
        else {
            panic!("unexpected write {:?}", write.action);
        };
        assert_eq!(*grace_period_seconds, Some(0));
        assert!(preconditions.uid.is_some());
    }
}

#[test]
fn pods_on_a_missing_node_are_deleted_only_after_the_quarantine() {
    let mut harness = harness(12_500);
    let orphan = harness.put(KubeObject::Pod(pod("orphan", "Running", 0.0, Some("gone"))));
    harness.run_until(at(39.0));
    assert!(
        harness.exists(&orphan),
        "first seen at 0 s, quarantined until 40 s"
    );
    harness.run_until(at(40.0));
    assert!(!harness.exists(&orphan));
    let patch = harness
        .successful_writes("pod-garbage-collector")
        .into_iter()
        .find(|w| {
            matches!(
                w.action,
                Action::Patch {
                    subresource: Subresource::Status,
                    ..
                }
            )
        })
        .expect("a running orphan is marked Failed first");
    let Action::Patch { patch, .. } = &patch.action else {
        unreachable!()
    };
    let body = match patch {
        corral_core::PatchBody::Strategic(v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(body["status"]["phase"], "Failed");
    assert_eq!(body["status"]["conditions"][0]["reason"], "DeletionByPodGC");
}

#[test]
fn a_node_that_comes_back_during_the_quarantine_saves_its_pods() {
    let mut harness = harness(12_500);
    let pod = harness.put(KubeObject::Pod(pod(
        "waiting",
        "Running",
        0.0,
        Some("flaky"),
    )));
    harness.run_until(at(20.0));
    harness.put(KubeObject::Node(node("flaky")));
    harness.run_until(at(120.0));
    assert!(harness.exists(&pod));
}

#[test]
fn unscheduled_terminating_pods_are_force_deleted() {
    let mut harness = harness(12_500);
    let mut stuck = pod("stuck", "Pending", 0.0, None);
    stuck.metadata.deletion_timestamp = Some(Time(at(0.0)));
    stuck.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    harness.put(KubeObject::Pod(stuck));
    let pending = harness.put(KubeObject::Pod(pod("pending", "Pending", 0.0, None)));
    harness.run_until(at(0.0));
    let deletes: Vec<String> = harness
        .successful_writes("pod-garbage-collector")
        .into_iter()
        .filter_map(|w| match &w.action {
            Action::Delete { key, .. } => Some(key.name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(deletes, vec!["stuck"]);
    assert!(harness.exists(&pending));
}

#[test]
fn the_first_event_starts_a_pass_that_requeues_itself_every_period() {
    let mut controller = PodGcController::default();
    let event = ObjectEvent {
        change: corral_core::ChangeKind::Added,
        object: std::sync::Arc::new(KubeObject::Node(node("n1"))),
        revision: corral_api::Revision(1),
    };
    let cache = corral_core::ObjectCache::new();
    let first = controller.handle_event(&event, None, &cache, t0());
    assert_eq!(first, vec![Enqueue::now(PodGcController::pass_key())]);
    assert!(
        controller
            .handle_event(&event, None, &cache, t0())
            .is_empty()
    );
    let plan = controller.reconcile(&cache, &PodGcController::pass_key(), t0());
    assert_eq!(plan.requeue_after, Some(Duration::from_secs(20)));
}
