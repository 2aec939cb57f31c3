//! ResourceQuota controller tests.
//!
//! Goal: status mirrors spec.hard and the exact usage of the namespace's objects; events
//! queue only the quotas they can affect; a terminating pod stops counting on time.
//! Method: a [`TestCluster`] cache, direct `handle_event`/`reconcile` calls, and the plan
//! executed back into the cluster.

use std::collections::BTreeMap;
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::{Action, ChangeKind, ObjectEvent, Reconciler, SyncResult};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Container, Pod, PodSpec, PodStatus, ResourceQuota, ResourceQuotaSpec, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::{ResourceQuotaConfig, ResourceQuotaController};
use crate::testing::TestCluster;

fn t0() -> corral_core::Timestamp {
    corral_core::clock::epoch()
}

fn meta(namespace: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(namespace.into()),
        ..ObjectMeta::default()
    }
}

fn quota(namespace: &str, name: &str, hard: &[(&str, &str)]) -> ResourceQuota {
    ResourceQuota {
        metadata: meta(namespace, name),
        spec: Some(ResourceQuotaSpec {
            hard: Some(
                hard.iter()
                    .map(|(k, v)| (k.to_string(), WireQuantity(v.to_string())))
                    .collect(),
            ),
            ..ResourceQuotaSpec::default()
        }),
        status: None,
    }
}

fn pod(namespace: &str, name: &str, cpu: Option<&str>, phase: &str) -> Pod {
    Pod {
        metadata: meta(namespace, name),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "main".into(),
                resources: cpu.map(|c| ResourceRequirements {
                    requests: Some([("cpu".to_string(), WireQuantity(c.into()))].into()),
                    ..ResourceRequirements::default()
                }),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            phase: Some(phase.into()),
            ..PodStatus::default()
        }),
    }
}

fn job(namespace: &str, name: &str) -> Job {
    Job {
        metadata: meta(namespace, name),
        ..Job::default()
    }
}

fn qkey(name: &str) -> ObjectKey {
    ObjectKey::new(ResourceKind::ResourceQuota, "ns", name)
}

fn status_of(
    cluster: &TestCluster,
    name: &str,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let q = cluster
        .cache
        .get_typed::<ResourceQuota>("ns", name)
        .unwrap();
    let s = q.status.clone().unwrap_or_default();
    let flat = |m: Option<BTreeMap<String, WireQuantity>>| {
        m.unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect()
    };
    (flat(s.hard), flat(s.used))
}

/// Reconciles `key` and executes the plan; returns the plan's requeue.
fn sync(
    controller: &mut ResourceQuotaController,
    cluster: &mut TestCluster,
    key: &ObjectKey,
) -> (usize, Option<Duration>) {
    let plan = controller.reconcile(&cluster.cache, key, t0());
    let (outcomes, _) = cluster.execute(&plan, t0());
    assert!(matches!(
        controller.handle_outcomes(key, &plan, &outcomes, t0()),
        SyncResult::Done { .. }
    ));
    (plan.action_count(), plan.requeue_after)
}

#[test]
fn status_mirrors_hard_and_counts_the_namespace_exactly() {
    let mut cluster = TestCluster::new();
    cluster.put(pod("ns", "running", Some("500m"), "Running").into(), t0());
    cluster.put(pod("ns", "pending", Some("250m"), "Pending").into(), t0());
    cluster.put(pod("ns", "done", Some("1"), "Succeeded").into(), t0());
    cluster.put(pod("other", "elsewhere", Some("1"), "Running").into(), t0());
    for j in ["a", "b", "c"] {
        cluster.put(job("ns", j).into(), t0());
    }
    cluster.put(
        quota(
            "ns",
            "q",
            &[
                ("count/jobs.batch", "5"),
                ("pods", "10"),
                ("count/pods", "10"),
                ("requests.cpu", "4"),
                ("configmaps", "3"),
            ],
        )
        .into(),
        t0(),
    );
    let mut controller = ResourceQuotaController::default();
    let (writes, requeue) = sync(&mut controller, &mut cluster, &qkey("q"));
    assert_eq!(writes, 1);
    assert_eq!(
        requeue,
        Some(Duration::from_secs(300)),
        "full resync every 5 minutes"
    );
    let (hard, used) = status_of(&cluster, "q");
    assert_eq!(hard["count/jobs.batch"], "5");
    assert_eq!(used["count/jobs.batch"], "3");
    assert_eq!(
        used["count/pods"], "3",
        "count/pods counts finished pods too"
    );
    assert_eq!(used["pods"], "2", "pods counts only non-terminal pods");
    assert_eq!(used["requests.cpu"], "750m");
    assert_eq!(used["configmaps"], "0");
    // Already exact: no write.
    let (writes, _) = sync(&mut controller, &mut cluster, &qkey("q"));
    assert_eq!(writes, 0);
}

#[test]
fn events_queue_only_the_quotas_they_affect() {
    let mut cluster = TestCluster::new();
    cluster.put(
        quota("ns", "jobs", &[("count/jobs.batch", "5")]).into(),
        t0(),
    );
    cluster.put(quota("ns", "pods", &[("pods", "5")]).into(), t0());
    let mut controller = ResourceQuotaController::default();
    let keys = |controller: &mut ResourceQuotaController,
                cluster: &TestCluster,
                event: &ObjectEvent,
                previous: Option<&KubeObject>| {
        controller
            .handle_event(event, previous, &cluster.cache, t0())
            .into_iter()
            .map(|e| e.key.name)
            .collect::<Vec<_>>()
    };
    let added = cluster.put(job("ns", "j").into(), t0());
    assert_eq!(keys(&mut controller, &cluster, &added, None), ["jobs"]);
    let added = cluster.put(pod("ns", "p", None, "Running").into(), t0());
    assert_eq!(keys(&mut controller, &cluster, &added, None), ["pods"]);
    let previous: KubeObject = pod("ns", "p", None, "Running").into();
    let finished = cluster.put(pod("ns", "p", None, "Succeeded").into(), t0());
    assert_eq!(
        keys(&mut controller, &cluster, &finished, Some(&previous)),
        ["pods"],
        "a pod turning terminal releases quota"
    );
    let relabelled = cluster.put(pod("ns", "p", None, "Succeeded").into(), t0());
    let previous: KubeObject = pod("ns", "p", None, "Succeeded").into();
    assert!(keys(&mut controller, &cluster, &relabelled, Some(&previous)).is_empty());
    let elsewhere = cluster.put(job("other", "j").into(), t0());
    assert!(keys(&mut controller, &cluster, &elsewhere, None).is_empty());
    // A status-only update of a quota is not a trigger once usage is known.
    sync(&mut controller, &mut cluster, &qkey("jobs"));
    let stored = cluster.cache.get(&qkey("jobs")).unwrap().clone();
    let event = ObjectEvent {
        change: ChangeKind::Modified,
        object: stored.clone(),
        revision: corral_api::Revision(999),
    };
    assert!(
        controller
            .handle_event(&event, Some(&stored), &cluster.cache, t0())
            .is_empty()
    );
}

#[test]
fn a_terminating_pod_counts_until_its_grace_period_ends() {
    let mut cluster = TestCluster::new();
    let mut p = pod("ns", "p", Some("1"), "Running");
    p.metadata.deletion_timestamp = Some(Time(t0()));
    p.metadata.deletion_grace_period_seconds = Some(30);
    cluster.put(p.into(), t0());
    cluster.put(quota("ns", "q", &[("requests.cpu", "4")]).into(), t0());
    let mut controller = ResourceQuotaController::default();
    let (_, requeue) = sync(&mut controller, &mut cluster, &qkey("q"));
    assert_eq!(status_of(&cluster, "q").1["requests.cpu"], "1");
    assert_eq!(requeue, Some(Duration::from_secs(31)));
    let later = corral_core::clock::add(t0(), Duration::from_secs(31));
    let plan = controller.reconcile(&cluster.cache, &qkey("q"), later);
    let Some(Action::Update { object, .. }) = plan.actions().next() else {
        panic!("{plan:?}")
    };
    let used = object
        .as_typed::<ResourceQuota>()
        .unwrap()
        .status
        .clone()
        .unwrap()
        .used
        .unwrap();
    assert_eq!(used["requests.cpu"].0, "0");
}

#[test]
fn scoped_quotas_count_only_matching_pods() {
    let mut cluster = TestCluster::new();
    cluster.put(pod("ns", "be", None, "Running").into(), t0());
    cluster.put(pod("ns", "burst", Some("100m"), "Running").into(), t0());
    let mut q = quota("ns", "q", &[("pods", "5")]);
    q.spec.as_mut().unwrap().scopes = Some(vec!["BestEffort".into()]);
    cluster.put(q.into(), t0());
    let mut controller = ResourceQuotaController::default();
    sync(&mut controller, &mut cluster, &qkey("q"));
    assert_eq!(status_of(&cluster, "q").1["pods"], "1");
}

#[test]
fn an_unparsable_hard_limit_is_a_retry_not_a_panic() {
    let mut cluster = TestCluster::new();
    cluster.put(quota("ns", "bad", &[("pods", "lots")]).into(), t0());
    let mut controller = ResourceQuotaController::new(ResourceQuotaConfig::default());
    let plan = controller.reconcile(&cluster.cache, &qkey("bad"), t0());
    assert_eq!(plan.action_count(), 0);
    let SyncResult::Retry { reason } = controller.handle_outcomes(&qkey("bad"), &plan, &[], t0())
    else {
        panic!()
    };
    assert!(reason.contains("pods=\"lots\""), "{reason}");
}
