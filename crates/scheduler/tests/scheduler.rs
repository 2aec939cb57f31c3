//! Scheduler decisions against a TestCluster, in virtual time.
//!
//! Goal: upstream's fit, taint, affinity, unschedulable and volume filters with their
//! messages; queue behaviour through the Reconciler interface; and the invariant that no
//! node is ever overcommitted. Method: objects go into a TestCluster, every watch event
//! is fed to the scheduler, plans are executed by the cluster and their outcomes fed back.

mod common;

use std::time::Duration;

use common::{container, labelled, node, pod, tainted};
use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_controllers::testing::TestCluster;
use corral_core::clock::{self, epoch};
use corral_core::{ObjectEvent, Reconciler, Timestamp};
use corral_scheduler::{Location, Scheduler};
use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, Toleration, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use proptest::prelude::*;

fn at(s: u64) -> Timestamp {
    clock::add(epoch(), Duration::from_secs(s))
}

struct World {
    cluster: TestCluster,
    scheduler: Scheduler,
}

impl World {
    fn new() -> Self {
        World {
            cluster: TestCluster::new(),
            scheduler: Scheduler::default(),
        }
    }

    fn feed(&mut self, event: ObjectEvent, now: Timestamp) {
        let _ = Scheduler::handle_event(&mut self.scheduler, &event, None, now);
    }

    fn put(&mut self, object: KubeObject, now: Timestamp) {
        let event = self.cluster.put(object, now);
        self.feed(event, now);
    }

    /// Schedules every ready pod; returns (pod, node or failure message).
    fn schedule_all(&mut self, now: Timestamp) -> Vec<(String, Result<String, String>)> {
        let mut results = Vec::new();
        for _ in 0..10_000 {
            let Some((key, plan)) = self.scheduler.schedule_next(&self.cluster.cache, now) else {
                break;
            };
            let (outcomes, events) = self.cluster.execute(&plan, now);
            self.scheduler
                .handle_bind_outcomes(&key, &plan, &outcomes, now);
            for event in events {
                self.feed(event, now);
            }
            let bound = self
                .cluster
                .cache
                .get_typed::<Pod>(&key.namespace, &key.name)
                .and_then(|p| p.spec.as_ref()?.node_name.clone());
            let result = match bound {
                Some(node) => Ok(node),
                None => Err(self
                    .cluster
                    .events
                    .last()
                    .map(|e| e.message.clone())
                    .unwrap_or_default()),
            };
            results.push((key.name.clone(), result));
        }
        results
    }
}

#[test]
fn a_pod_is_bound_to_the_least_allocated_node_with_a_scheduled_event_and_condition() {
    let mut w = World::new();
    w.put(node("busy", "4", "8Gi", "110").into(), at(0));
    w.put(node("idle", "4", "8Gi", "110").into(), at(0));
    let mut filler = pod("filler", "2", "1Gi");
    filler.spec.as_mut().unwrap().node_name = Some("busy".into());
    w.put(filler.into(), at(0));
    w.put(pod("p", "1", "1Gi").into(), at(0));
    assert_eq!(
        w.schedule_all(at(0)),
        [("p".to_string(), Ok("idle".to_string()))]
    );
    let scheduled = w
        .cluster
        .events
        .iter()
        .find(|e| e.reason == "Scheduled")
        .unwrap();
    assert_eq!(scheduled.message, "Successfully assigned ns/p to idle");
    assert_eq!(scheduled.component, "default-scheduler");
    let stored = w.cluster.cache.get_typed::<Pod>("ns", "p").unwrap();
    let condition = &stored.status.as_ref().unwrap().conditions.as_ref().unwrap()[0];
    assert_eq!(
        (condition.type_.as_str(), condition.status.as_str()),
        ("PodScheduled", "True")
    );
    assert_eq!(
        w.scheduler.nodes().get("idle").unwrap().requested.milli_cpu,
        1000
    );
}

#[test]
fn the_failed_scheduling_message_counts_reasons_per_node_sorted_with_the_preemption_suffix() {
    let mut w = World::new();
    w.put(node("small", "1", "8Gi", "110").into(), at(0));
    w.put(
        tainted(
            node("t1", "8", "8Gi", "110"),
            "dedicated",
            "batch",
            "NoSchedule",
        )
        .into(),
        at(0),
    );
    w.put(
        tainted(
            node("t2", "8", "8Gi", "110"),
            "dedicated",
            "batch",
            "NoExecute",
        )
        .into(),
        at(0),
    );
    w.put(pod("p", "2", "").into(), at(0));
    let results = w.schedule_all(at(0));
    let expected = "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: batch}. \
                    preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, \
                    2 Preemption is not helpful for scheduling.";
    assert_eq!(results, [("p".to_string(), Err(expected.to_string()))]);
    let stored = w.cluster.cache.get_typed::<Pod>("ns", "p").unwrap();
    let condition = &stored.status.as_ref().unwrap().conditions.as_ref().unwrap()[0];
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_deref()),
        ("False", Some("Unschedulable"))
    );
    assert_eq!(condition.message.as_deref(), Some(expected));
    assert_eq!(
        w.scheduler
            .queue()
            .location(&ObjectKey::new(ResourceKind::Pod, "ns", "p")),
        Some(Location::Unschedulable)
    );
}

#[test]
fn tolerations_unschedulable_nodes_and_pod_count_are_respected() {
    let mut w = World::new();
    let mut cordoned = node("cordoned", "8", "8Gi", "110");
    cordoned.spec.as_mut().unwrap().unschedulable = Some(true);
    w.put(cordoned.into(), at(0));
    w.put(node("full", "8", "8Gi", "0").into(), at(0));
    w.put(
        tainted(node("gpu", "8", "8Gi", "110"), "gpu", "true", "NoSchedule").into(),
        at(0),
    );
    w.put(pod("plain", "1", "").into(), at(0));
    let results = w.schedule_all(at(0));
    assert_eq!(
        results[0].1,
        Err("0/3 nodes are available: 1 Too many pods, 1 node(s) had untolerated taint {gpu: true}, 1 node(s) were unschedulable. \
             preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
            .to_string())
    );
    let mut tolerant = pod("tolerant", "1", "");
    tolerant.spec.as_mut().unwrap().tolerations = Some(vec![Toleration {
        key: Some("gpu".into()),
        operator: Some("Exists".into()),
        ..Default::default()
    }]);
    w.put(tolerant.into(), at(1));
    assert_eq!(
        w.schedule_all(at(1)),
        [("tolerant".to_string(), Ok("gpu".to_string()))]
    );
}

#[test]
fn node_selector_and_required_affinity_pick_matching_nodes_only() {
    let mut w = World::new();
    w.put(
        labelled(node("a", "8", "8Gi", "110"), "zone", "east").into(),
        at(0),
    );
    w.put(
        labelled(
            labelled(node("b", "8", "8Gi", "110"), "zone", "west"),
            "gen",
            "5",
        )
        .into(),
        at(0),
    );
    w.put(
        labelled(node("c", "8", "8Gi", "110"), "gen", "3").into(),
        at(0),
    );
    let mut selected = pod("selected", "1", "");
    selected.spec.as_mut().unwrap().node_selector =
        Some([("zone".to_string(), "east".to_string())].into());
    w.put(selected.into(), at(0));
    let mut affine = pod("affine", "1", "");
    let requirement = |key: &str, op: &str, values: &[&str]| NodeSelectorRequirement {
        key: key.into(),
        operator: op.into(),
        values: Some(values.iter().map(|v| v.to_string()).collect()),
    };
    affine.spec.as_mut().unwrap().affinity = Some(Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(vec![
                        requirement("gen", "Gt", &["4"]),
                        requirement("zone", "NotIn", &["east"]),
                    ]),
                    match_fields: None,
                }],
            }),
            ..Default::default()
        }),
        ..Default::default()
    });
    w.put(affine.into(), at(0));
    let mut nowhere = pod("nowhere", "1", "");
    nowhere.spec.as_mut().unwrap().node_selector =
        Some([("zone".to_string(), "north".to_string())].into());
    w.put(nowhere.into(), at(0));
    let mut results = w.schedule_all(at(0));
    results.sort();
    assert_eq!(results[0], ("affine".to_string(), Ok("b".to_string())));
    assert!(results[1].1.as_ref().unwrap_err().starts_with(
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
    ));
    assert_eq!(results[2], ("selected".to_string(), Ok("a".to_string())));
}

#[test]
fn init_containers_count_when_larger_than_the_containers() {
    let mut w = World::new();
    w.put(node("n", "2", "8Gi", "110").into(), at(0));
    let mut p = pod("p", "500m", "");
    p.spec.as_mut().unwrap().init_containers = Some(vec![container("init", "3", "")]);
    w.put(p.into(), at(0));
    assert!(
        w.schedule_all(at(0))[0]
            .1
            .as_ref()
            .unwrap_err()
            .contains("1 Insufficient cpu")
    );
}

#[test]
fn a_missing_claim_blocks_the_pod_until_the_claim_appears() {
    let mut w = World::new();
    w.put(node("n", "2", "8Gi", "110").into(), at(0));
    let mut p = pod("p", "100m", "");
    p.spec.as_mut().unwrap().volumes = Some(vec![Volume {
        name: "data".into(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: "data".into(),
            read_only: None,
        }),
        ..Default::default()
    }]);
    w.put(p.into(), at(0));
    assert_eq!(
        w.schedule_all(at(0))[0].1,
        Err(
            "0/1 nodes are available: persistentvolumeclaim \"data\" not found. \
             preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
                .to_string()
        )
    );
    let claim = PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("data".into()),
            namespace: Some("ns".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    w.put(claim.into(), at(5));
    // The claim event moved the pod; it waits out its 1 s backoff (from the attempt at 0).
    assert_eq!(
        w.schedule_all(at(5)),
        [("p".to_string(), Ok("n".to_string()))]
    );
}

#[test]
fn through_the_reconciler_an_unschedulable_pod_is_retried_on_node_events_and_flushed_after_five_minutes()
 {
    let mut cluster = TestCluster::new();
    let mut scheduler = Scheduler::default();
    let event = cluster.put(node("n", "1", "8Gi", "110").into(), at(0));
    Reconciler::handle_event(&mut scheduler, &event, None, &cluster.cache, at(0));
    let event = cluster.put(pod("p", "2", "").into(), at(0));
    let enqueued = Reconciler::handle_event(&mut scheduler, &event, None, &cluster.cache, at(0));
    assert_eq!(enqueued.len(), 1);
    let key = enqueued[0].key.clone();
    let plan = scheduler.reconcile(&cluster.cache, &key, at(0));
    let (outcomes, _) = cluster.execute(&plan, at(0));
    let result = scheduler.handle_outcomes(&key, &plan, &outcomes, at(0));
    // Flush ticks run every 30 s from the first event; the pod is older than 5 min after
    // the tick at 330 s.
    assert_eq!(
        result,
        corral_core::SyncResult::Done {
            requeue_after: Some(Duration::from_secs(330))
        }
    );
    // A second reconcile before then only asks to wait.
    assert_eq!(
        scheduler
            .reconcile(&cluster.cache, &key, at(100))
            .requeue_after,
        Some(Duration::from_secs(230))
    );
    // A bigger node arrives at 200 s: the pod is enqueued at once (its 1 s backoff is over).
    let event = cluster.put(node("big", "4", "8Gi", "110").into(), at(200));
    let enqueued = Reconciler::handle_event(&mut scheduler, &event, None, &cluster.cache, at(200));
    assert_eq!(enqueued, [corral_core::Enqueue::now(key.clone())]);
    let plan = scheduler.reconcile(&cluster.cache, &key, at(200));
    cluster.execute(&plan, at(200));
    assert_eq!(
        cluster
            .cache
            .get_typed::<Pod>("ns", "p")
            .unwrap()
            .spec
            .as_ref()
            .unwrap()
            .node_name
            .as_deref(),
        Some("big")
    );
}

#[test]
fn a_failed_bind_releases_the_assumed_pod_and_backs_off() {
    let mut w = World::new();
    w.put(node("n", "2", "8Gi", "110").into(), at(0));
    w.put(pod("p", "1", "").into(), at(0));
    let (key, plan) = w.scheduler.schedule_next(&w.cluster.cache, at(0)).unwrap();
    assert_eq!(
        w.scheduler.nodes().get("n").unwrap().requested.milli_cpu,
        1000,
        "assumed at decision time"
    );
    let conflict =
        corral_api::ApiError::conflict_modified(&corral_api::GroupResource::new("", "pods"), "p");
    let outcomes = vec![
        corral_core::Outcome::Failed(conflict),
        corral_core::Outcome::Skipped,
        corral_core::Outcome::Skipped,
    ];
    let retry = w
        .scheduler
        .handle_bind_outcomes(&key, &plan, &outcomes, at(0));
    assert_eq!(retry, Some(Duration::from_secs(1)));
    assert_eq!(w.scheduler.nodes().get("n").unwrap().requested.milli_cpu, 0);
    assert_eq!(w.scheduler.queue().location(&key), Some(Location::Backoff));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the mix of pods and the order of deletions, the requests bound to a node
    /// never exceed its allocatable cpu, memory or pod count.
    #[test]
    fn the_scheduler_never_overcommits_a_node(
        nodes in prop::collection::vec((1u32..8, 1u32..8, 1u32..6), 1..5),
        pods in prop::collection::vec((0u32..3000, 0u32..3000, any::<bool>()), 1..40),
    ) {
        let mut w = World::new();
        for (i, (cpu, mem, count)) in nodes.iter().enumerate() {
            w.put(node(&format!("n{i}"), &cpu.to_string(), &format!("{mem}Gi"), &count.to_string()).into(), at(0));
        }
        for (i, (cpu, mem, _)) in pods.iter().enumerate() {
            w.put(pod(&format!("p{i}"), &format!("{cpu}m"), &format!("{mem}Mi")).into(), at(0));
        }
        let mut now = 0;
        for round in 0..3u64 {
            w.schedule_all(at(now));
            // Finish some bound pods, releasing capacity, then let backoffs expire.
            for (i, (_, _, finish)) in pods.iter().enumerate() {
                let key = ObjectKey::new(ResourceKind::Pod, "ns", &format!("p{i}"));
                let bound = w.cluster.cache.get(&key).and_then(|o| o.as_typed::<Pod>()?.spec.as_ref()?.node_name.clone());
                if *finish && bound.is_some() && round == 0
                    && let Some(event) = w.cluster.remove(&key) {
                        w.feed(event, at(now));
                    }
            }
            now += 20;
        }
        for (i, (cpu, mem, count)) in nodes.iter().enumerate() {
            let name = format!("n{i}");
            let bound: Vec<Pod> = w.cluster.cache.pods_on_node(&name).filter_map(|o| o.as_typed::<Pod>().cloned()).collect();
            let cpu_used: i64 = bound.iter().map(|p| corral_scheduler::resources::pod_object_requests(p, false).milli_cpu).sum();
            let mem_used: i64 = bound.iter().map(|p| corral_scheduler::resources::pod_object_requests(p, false).memory).sum();
            prop_assert!(cpu_used <= i64::from(*cpu) * 1000);
            prop_assert!(mem_used <= i64::from(*mem) << 30);
            prop_assert!(bound.len() as u32 <= *count);
            let info = w.scheduler.nodes().get(&name).unwrap();
            prop_assert_eq!(info.requested.milli_cpu, cpu_used);
        }
    }
}
