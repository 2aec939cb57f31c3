//! Garbage collector tests.
//!
//! Goal: the three propagation policies carry out as upstream's collector does on a
//! CronJob → Job → Pod chain, and the collector never deletes an object that has a live
//! owner. Method: the shared virtual-time [`Harness`] with the collector alone (the objects
//! are written as their controllers would), plus single-decision checks and a property test
//! over random ownership graphs.

use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::{Action, ObjectCache, Propagation, Reconciler, Timestamp};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use proptest::prelude::*;

use super::classify::{classify_references, is_deleting_dependents};
use super::harness::{Harness, owner_ref, pod_for};
use super::{GarbageCollector, decide};
use crate::cronjob::job_build::controller_ref;
use crate::cronjob::tests::{cron_job, t0};

const NS: &str = "default";

/// CronJob `nightly` → Job `nightly-1` → Pod `nightly-1-pod`, as their controllers write them.
fn chain(harness: &mut Harness) -> (ObjectKey, ObjectKey, ObjectKey) {
    let cron_job_key = harness.put(KubeObject::CronJob(cron_job("nightly", "0 3 * * *")));
    let cj = harness
        .get(&cron_job_key)
        .unwrap()
        .as_typed::<CronJob>()
        .unwrap()
        .clone();
    let job = Job {
        metadata: ObjectMeta {
            name: Some("nightly-1".into()),
            namespace: Some(NS.into()),
            owner_references: Some(vec![controller_ref(&cj)]),
            ..Default::default()
        },
        spec: Some(Default::default()),
        status: None,
    };
    let job_key = harness.put(KubeObject::Job(job));
    let job = harness
        .get(&job_key)
        .unwrap()
        .as_typed::<Job>()
        .unwrap()
        .clone();
    let pod_key = harness.put(KubeObject::Pod(pod_for(&job)));
    (cron_job_key, job_key, pod_key)
}

fn gc_harness() -> Harness {
    let mut harness = Harness::new(t0());
    harness.add(GarbageCollector::default());
    harness
}

#[test]
fn background_deletion_removes_the_owner_at_once_and_the_collector_takes_the_chain() {
    let mut harness = gc_harness();
    let (cron_job, job, pod) = chain(&mut harness);
    harness.delete(&cron_job, Propagation::Background);
    assert!(!harness.exists(&cron_job));
    harness.run_for(Duration::from_secs(1));
    assert!(!harness.exists(&job));
    assert!(!harness.exists(&pod));
    // Owner first, then the Job (its owner dangling), then the pod.
    let order: Vec<&ObjectKey> = harness.removed.iter().map(|(_, k)| k).collect();
    assert_eq!(order, vec![&cron_job, &job, &pod]);
    // Each collector delete was Background with the item's UID and resourceVersion.
    for write in harness.successful_writes("garbage_collector_attempt_to_delete") {
        let Action::Delete {
            propagation,
            preconditions,
            ..
        } = &write.action
        else {
            panic!("unexpected write {:?}", write.action);
        };
        assert_eq!(*propagation, Some(Propagation::Background));
        assert!(preconditions.uid.is_some() && preconditions.resource_version.is_some());
    }
}

#[test]
fn foreground_deletion_removes_dependents_bottom_up_before_the_owner() {
    let mut harness = gc_harness();
    let (cron_job, job, pod) = chain(&mut harness);
    harness.delete(&cron_job, Propagation::Foreground);
    let marked = harness.get(&cron_job).unwrap();
    assert!(
        is_deleting_dependents(marked),
        "the owner waits with its finalizer"
    );
    harness.run_for(Duration::from_secs(1));
    for gone in [&cron_job, &job, &pod] {
        assert!(!harness.exists(gone), "{gone} should be gone");
    }
    let order: Vec<&ObjectKey> = harness.removed.iter().map(|(_, k)| k).collect();
    assert_eq!(order, vec![&pod, &job, &cron_job]);
    // The Job had a dependent of its own, so it was deleted in the foreground too.
    let job_delete = harness
        .successful_writes("garbage_collector_attempt_to_delete")
        .into_iter()
        .find(|w| matches!(&w.action, Action::Delete { key, .. } if key == &job))
        .expect("the collector deleted the Job");
    assert!(matches!(
        job_delete.action,
        Action::Delete {
            propagation: Some(Propagation::Foreground),
            ..
        }
    ));
}

#[test]
fn foreground_deletion_waits_for_a_blocking_dependent_held_by_a_finalizer() {
    let mut harness = gc_harness();
    let (_, job, pod) = chain(&mut harness);
    let mut held = harness.get(&pod).unwrap().clone();
    held.meta_mut().finalizers = Some(vec!["batch.kubernetes.io/job-tracking".into()]);
    harness.put(held);
    harness.delete(&job, Propagation::Foreground);
    harness.run_for(Duration::from_secs(5));
    // The pod is terminating but held: the Job stays, waiting.
    assert!(harness.get(&pod).unwrap().is_being_deleted());
    assert!(is_deleting_dependents(harness.get(&job).unwrap()));
    // The Job controller drops its finalizer: the pod goes, then the Job.
    harness.remove(&pod);
    harness.run_for(Duration::from_secs(1));
    assert!(!harness.exists(&job));
}

#[test]
fn orphan_deletion_strips_the_owner_reference_and_keeps_the_dependents() {
    let mut harness = gc_harness();
    let (cron_job, job, pod) = chain(&mut harness);
    harness.delete(&job, Propagation::Orphan);
    harness.run_for(Duration::from_secs(1));
    assert!(
        !harness.exists(&job),
        "the orphan finalizer was removed, so the Job is gone"
    );
    assert!(harness.exists(&cron_job));
    let orphan = harness.get(&pod).unwrap();
    assert!(
        orphan.meta().owner_references.is_none(),
        "{:?}",
        orphan.meta().owner_references
    );
}

#[test]
fn a_dependent_with_a_live_owner_keeps_living_and_loses_only_its_dangling_reference() {
    let mut harness = gc_harness();
    let (cron_job, job, pod) = chain(&mut harness);
    let cj = harness.get(&cron_job).unwrap().clone();
    let mut shared = harness.get(&pod).unwrap().clone();
    shared
        .meta_mut()
        .owner_references
        .get_or_insert_with(Vec::new)
        .push(owner_ref(&cj));
    harness.put(shared);
    harness.delete(&job, Propagation::Background);
    harness.run_for(Duration::from_secs(1));
    let survivor = harness.get(&pod).expect("a live owner keeps the pod");
    let owners: Vec<&str> = survivor
        .meta()
        .owner_references
        .iter()
        .flatten()
        .map(|r| r.kind.as_str())
        .collect();
    assert_eq!(owners, vec!["CronJob"]);
}

#[test]
fn an_owner_of_an_unknown_kind_leaves_the_dependent_alone() {
    let mut harness = gc_harness();
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some("owned-by-replicaset".into()),
            namespace: Some(NS.into()),
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: "web-5d4f".into(),
                uid: "rs-uid".into(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: Some(PodSpec::default()),
        status: None,
    };
    let pod = harness.put(KubeObject::Pod(pod));
    harness.run_for(Duration::from_secs(1));
    assert!(harness.exists(&pod));
}

#[test]
fn a_reference_to_a_same_named_owner_with_another_uid_is_dangling() {
    let mut harness = gc_harness();
    let (owner, job, _) = chain(&mut harness);
    // The CronJob is deleted and re-created under the same name: a new UID.
    harness.remove(&owner);
    harness.put(KubeObject::CronJob(cron_job("nightly", "0 3 * * *")));
    harness.run_for(Duration::from_secs(1));
    assert!(harness.exists(&owner));
    assert!(!harness.exists(&job));
}

// ---------------------------------------------------------------------------------------
// Property: the collector never deletes an object that has a live (solid) owner.

#[derive(Clone, Debug)]
struct Node {
    kind: ResourceKind,
    /// Indices of owners among earlier nodes, or `None` for a reference to a missing owner.
    owners: Vec<Option<usize>>,
    block: bool,
    state: Lifecycle,
}

#[derive(Clone, Copy, Debug)]
enum Lifecycle {
    Live,
    Foreground,
    Orphan,
    Terminating,
}

fn node_strategy(index: usize) -> impl Strategy<Value = Node> {
    let kinds = prop_oneof![
        Just(ResourceKind::CronJob),
        Just(ResourceKind::Job),
        Just(ResourceKind::Pod),
        Just(ResourceKind::ConfigMap)
    ];
    let owner = if index == 0 {
        Just(None).boxed()
    } else {
        prop_oneof![3 => (0..index).prop_map(Some), 1 => Just(None)].boxed()
    };
    let lifecycle = prop_oneof![6 => Just(Lifecycle::Live), 1 => Just(Lifecycle::Foreground), 1 => Just(Lifecycle::Orphan), 1 => Just(Lifecycle::Terminating)];
    (
        kinds,
        prop::collection::vec(owner, 0..3),
        any::<bool>(),
        lifecycle,
    )
        .prop_map(|(kind, owners, block, state)| Node {
            kind,
            owners,
            block,
            state,
        })
}

fn graph_strategy() -> impl Strategy<Value = Vec<Node>> {
    (1usize..12).prop_flat_map(|n| (0..n).map(node_strategy).collect::<Vec<_>>())
}

fn object(index: usize, node: &Node, uids: &[String], now: Timestamp) -> KubeObject {
    let mut meta = ObjectMeta {
        name: Some(format!("n{index}")),
        namespace: Some(NS.into()),
        uid: Some(uids[index].clone()),
        resource_version: Some(format!("{}", index + 1)),
        ..Default::default()
    };
    let references: Vec<OwnerReference> = node
        .owners
        .iter()
        .enumerate()
        .map(|(i, owner)| match owner {
            Some(o) => OwnerReference {
                api_version: "v1".into(),
                kind: "Placeholder".into(),
                name: format!("n{o}"),
                uid: uids[*o].clone(),
                controller: Some(i == 0),
                block_owner_deletion: Some(node.block),
            },
            None => OwnerReference {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                name: format!("missing{i}"),
                uid: format!("missing-uid-{index}-{i}"),
                controller: Some(i == 0),
                block_owner_deletion: Some(node.block),
            },
        })
        .collect();
    meta.owner_references = (!references.is_empty()).then_some(references);
    match node.state {
        Lifecycle::Live => {}
        Lifecycle::Foreground => {
            meta.deletion_timestamp = Some(Time(now));
            meta.finalizers = Some(vec!["foregroundDeletion".into()]);
        }
        Lifecycle::Orphan => {
            meta.deletion_timestamp = Some(Time(now));
            meta.finalizers = Some(vec!["orphan".into()]);
        }
        Lifecycle::Terminating => {
            meta.deletion_timestamp = Some(Time(now));
            meta.finalizers = Some(vec!["example.com/hold".into()]);
        }
    }
    let mut object = match node.kind {
        ResourceKind::CronJob => KubeObject::CronJob(CronJob {
            metadata: meta,
            ..Default::default()
        }),
        ResourceKind::Job => KubeObject::Job(Job {
            metadata: meta,
            ..Default::default()
        }),
        ResourceKind::Pod => KubeObject::Pod(Pod {
            metadata: meta,
            ..Default::default()
        }),
        _ => KubeObject::ConfigMap(ConfigMap {
            metadata: meta,
            ..Default::default()
        }),
    };
    object.meta_mut().resource_version = Some(format!("{}", index + 1));
    object
}

/// Builds the cache; owner references get the real kind of the node they point at.
fn build_cache(nodes: &[Node]) -> ObjectCache {
    let uids: Vec<String> = (0..nodes.len()).map(|i| format!("uid-{i}")).collect();
    let mut cache = ObjectCache::new();
    let objects: Vec<KubeObject> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| object(i, n, &uids, t0()))
        .collect();
    for mut object in objects.clone() {
        for reference in object.meta_mut().owner_references.iter_mut().flatten() {
            if let Some(owner) = objects
                .iter()
                .find(|o| o.meta().uid.as_deref() == Some(reference.uid.as_str()))
            {
                reference.kind = owner.kind().kind_name().into();
                reference.api_version = owner.kind().api_version().into();
            }
        }
        cache.upsert(std::sync::Arc::new(object));
    }
    cache
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_collector_never_deletes_an_object_with_a_live_owner(nodes in graph_strategy()) {
        let cache = build_cache(&nodes);
        let mut collector = GarbageCollector::default();
        for object in cache.list(ResourceKind::CronJob)
            .chain(cache.list(ResourceKind::Job))
            .chain(cache.list(ResourceKind::Pod))
            .chain(cache.list(ResourceKind::ConfigMap))
        {
            let plan = collector.reconcile(&cache, &object.key(), t0());
            for action in plan.actions() {
                let Action::Delete { key, .. } = action else { continue };
                let target = cache.get(key).expect("deletes address cached objects");
                let classified = classify_references(&cache, target).expect("resolvable");
                prop_assert!(classified.solid.is_empty(), "deleted {} with live owners {:?}", key, classified.solid);
            }
            // Sanity: the decision function agrees with the reconciler.
            prop_assert_eq!(decide::decide(&cache, object).ok(), Some(plan));
        }
    }

    #[test]
    fn a_full_collection_run_never_deletes_an_object_with_a_live_owner(nodes in graph_strategy()) {
        let cache = build_cache(&nodes);
        let mut harness = gc_harness();
        let violations = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let seen = violations.clone();
        // Checked against the cache at the moment of each write, as a simulator checker.
        harness.checker = Some(Box::new(move |cache: &ObjectCache, _: &'static str, action: &Action| {
            let Action::Delete { key, .. } = action else { return };
            let Some(target) = cache.get(key) else { return };
            if classify_references(cache, target).is_ok_and(|c| !c.solid.is_empty()) {
                seen.borrow_mut().push(key.clone());
            }
        }));
        for object in cache.list(ResourceKind::CronJob)
            .chain(cache.list(ResourceKind::Job))
            .chain(cache.list(ResourceKind::Pod))
            .chain(cache.list(ResourceKind::ConfigMap))
        {
            let mut object = (**object).clone();
            object.meta_mut().resource_version = None;
            harness.put(object);
        }
        harness.run_for(Duration::from_secs(60));
        prop_assert!(violations.borrow().is_empty(), "deleted with live owners: {:?}", violations.borrow());
        // Quiescence: whatever still has owners has a live or waiting one, or is terminating.
        for object in harness.objects(ResourceKind::Pod).into_iter().chain(harness.objects(ResourceKind::Job)) {
            if object.is_being_deleted() || object.meta().owner_references.as_ref().is_none_or(|r| r.is_empty()) {
                continue;
            }
            let classified = classify_references(&harness.cluster.cache, object).expect("resolvable");
            prop_assert!(classified.dangling.is_empty(), "{} kept a dangling owner", object.key());
        }
    }
}
