//! Node lifecycle controller: a node whose kubelet goes silent becomes NotReady (Unknown)
//! after the 40 s grace period, gets the unreachable taints, and its pods are evicted once
//! their toleration seconds (300 s by default) have passed. Method: a TestCluster applies
//! the controller's plans; time advances by hand.

use std::sync::Arc;
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_controllers::testing::TestCluster;
use corral_core::clock::{self, epoch};
use corral_core::plan::Action;
use corral_core::{Reconciler, Timestamp};
use corral_node::LifecycleConfig;
use corral_node::lifecycle::{NodeLifecycleController, TAINT_UNREACHABLE};
use k8s_openapi::api::core::v1::{Node, NodeCondition, NodeStatus, Pod, PodSpec, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

fn at(s: u64) -> Timestamp {
    clock::add(epoch(), Duration::from_secs(s))
}

fn node(heartbeat: Timestamp) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some("n1".into()),
            ..Default::default()
        },
        status: Some(NodeStatus {
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_heartbeat_time: Some(Time(heartbeat)),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn pod(name: &str, toleration_seconds: Option<i64>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("ns".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some("n1".into()),
            tolerations: toleration_seconds.map(|s| {
                vec![Toleration {
                    key: Some(TAINT_UNREACHABLE.into()),
                    operator: Some("Exists".into()),
                    effect: Some("NoExecute".into()),
                    toleration_seconds: Some(s),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn sync(
    controller: &mut NodeLifecycleController,
    cluster: &mut TestCluster,
    now: Timestamp,
) -> corral_core::Plan {
    let key = ObjectKey::cluster(ResourceKind::Node, "n1");
    let plan = controller.reconcile(&cluster.cache, &key, now);
    cluster.execute(&plan, now);
    plan
}

#[test]
fn a_silent_node_turns_unknown_after_the_grace_period_and_its_pods_are_evicted_after_their_tolerations()
 {
    let mut cluster = TestCluster::new();
    let mut controller = NodeLifecycleController::new(LifecycleConfig::default());
    cluster.put(node(at(0)).into(), at(0));
    cluster.put(pod("default-toleration", None).into(), at(0));
    cluster.put(pod("short", Some(60)).into(), at(0));
    let plan = sync(&mut controller, &mut cluster, at(0));
    assert!(plan.stages.is_empty());
    assert_eq!(plan.requeue_after.map(|d| d.as_secs()), Some(40));

    // Still within the grace period at 40 s.
    assert!(
        sync(&mut controller, &mut cluster, at(40))
            .stages
            .is_empty()
    );
    sync(&mut controller, &mut cluster, at(41));
    let stored = cluster.cache.get_typed::<Node>("", "n1").unwrap().clone();
    let ready = stored
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("Unknown", Some("NodeStatusUnknown"))
    );
    let taints = stored.spec.unwrap().taints.unwrap();
    let effects: Vec<(&str, &str)> = taints
        .iter()
        .map(|t| (t.key.as_str(), t.effect.as_str()))
        .collect();
    assert_eq!(
        effects,
        [
            (TAINT_UNREACHABLE, "NoSchedule"),
            (TAINT_UNREACHABLE, "NoExecute")
        ]
    );

    let deleted = |plan: &corral_core::Plan| -> Vec<String> {
        plan.actions()
            .filter_map(|a| match a {
                Action::Delete { key, .. } => Some(key.name.clone()),
                _ => None,
            })
            .collect()
    };
    let plan = sync(&mut controller, &mut cluster, at(100));
    assert!(deleted(&plan).is_empty());
    assert_eq!(plan.requeue_after.map(|d| d.as_secs()), Some(1));
    assert_eq!(
        deleted(&sync(&mut controller, &mut cluster, at(101))),
        ["short"]
    );
    assert!(deleted(&sync(&mut controller, &mut cluster, at(340))).is_empty());
    assert_eq!(
        deleted(&sync(&mut controller, &mut cluster, at(341))),
        ["default-toleration"]
    );
    assert!(
        cluster
            .events
            .iter()
            .any(|e| e.reason == "TaintManagerEviction")
    );
}

#[test]
fn a_node_that_keeps_renewing_stays_ready_without_taints() {
    let mut cluster = TestCluster::new();
    let mut controller = NodeLifecycleController::new(LifecycleConfig::default());
    for step in 0..10u64 {
        let now = at(step * 10);
        let event = cluster.put(node(now).into(), now);
        let _ = controller.handle_event(&event, None, &cluster.cache, now);
        assert!(sync(&mut controller, &mut cluster, now).stages.is_empty());
    }
    let stored: Arc<KubeObject> = cluster
        .cache
        .get(&ObjectKey::cluster(ResourceKind::Node, "n1"))
        .unwrap()
        .clone();
    assert!(
        stored
            .as_typed::<Node>()
            .unwrap()
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .is_none()
    );
}
