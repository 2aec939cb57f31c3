//! Conformance cases for writes: object semantics (create, update, delete, finalizers,
//! preconditions, dry runs), transactions, revisions, snapshots and failed commits.
//!
//! Goal: any [`Backend`] under [`Store`] behaves as the in-memory twin does. Method: each
//! case opens a store on a fresh backend from the factory, drives it through the public
//! API only, and compares results with upstream's documented behaviour.

use std::sync::Arc;

use corral_api::{ApiError, KubeObject, ObjectKey, ResourceKind, Revision, Uid};
use corral_core::clock::{add, epoch};
use corral_core::{Preconditions, SimRng};

use super::{BackendFactory, FaultyBackend, config_map, pod};
use crate::{
    Compare, DeleteOptions, ListRequest, ObjectStore, Representation, Store, StoreConfig,
    StoreError, Txn, TxnOp, TxnOutcome, Versioned, WatchEvent, WatchRequest,
};

pub(crate) fn open<R: Representation>(factory: &BackendFactory) -> Arc<Store<R>> {
    Arc::new(Store::open(factory(), StoreConfig::default()).expect("a fresh backend opens"))
}

pub(crate) fn objects<R: Representation>(factory: &BackendFactory) -> ObjectStore<R> {
    ObjectStore::new(open::<R>(factory))
}

pub(crate) fn decoded<R: Representation>(versioned: &Versioned<R::Value>) -> Arc<KubeObject> {
    R::decode(&versioned.value).expect("stored values decode")
}

fn rng() -> SimRng {
    SimRng::seed_from_u64(7)
}

fn cm_key(name: &str) -> ObjectKey {
    ObjectKey::new(ResourceKind::ConfigMap, "ns", name)
}

fn with_value(object: &KubeObject, value: &str) -> KubeObject {
    let mut json = object.to_value();
    json["data"]["value"] = value.into();
    KubeObject::from_value(object.kind(), json).expect("edited fixture decodes")
}

fn with_finalizers(object: &KubeObject, finalizers: &[&str]) -> KubeObject {
    let mut object = object.clone();
    object.meta_mut().finalizers = Some(finalizers.iter().map(|f| f.to_string()).collect());
    object
}

pub fn create_then_get_returns_the_stored_object<R: Representation>(factory: &BackendFactory) {
    let store = objects::<R>(factory);
    let created = store
        .create(config_map("ns", "a", "1"), epoch(), &mut rng(), false)
        .unwrap();
    let object = decoded::<R>(&created);
    assert_eq!(created.create_revision, created.mod_revision);
    assert_eq!(object.revision(), Some(created.mod_revision));
    assert_eq!(object.uid().as_str().len(), 36);
    assert_eq!(
        object.meta().creation_timestamp.as_ref().map(|t| t.0),
        Some(epoch())
    );
    let fetched = store.get(&cm_key("a")).unwrap();
    assert_eq!(*decoded::<R>(&fetched), *object);
    assert_eq!(store.store().current_revision(), created.mod_revision);
}

pub fn creating_an_existing_name_is_already_exists<R: Representation>(factory: &BackendFactory) {
    let store = objects::<R>(factory);
    store
        .create(config_map("ns", "a", "1"), epoch(), &mut rng(), false)
        .unwrap();
    let error = store
        .create(config_map("ns", "a", "2"), epoch(), &mut rng(), false)
        .unwrap_err();
    assert_eq!(error, StoreError::AlreadyExists(cm_key("a")));
}

pub fn generate_name_appends_five_characters_and_retries_collisions<R: Representation>(
    factory: &BackendFactory,
) {
    let store = objects::<R>(factory);
    let mut template = config_map("ns", "", "1");
    template.meta_mut().generate_name = Some("gen-".into());
    let first = store
        .create(template.clone(), epoch(), &mut rng(), false)
        .unwrap();
    let first_name = decoded::<R>(&first).name().to_string();
    assert!(
        first_name.starts_with("gen-") && first_name.len() == 9,
        "{first_name}"
    );
    // The same seed draws the same first name again: the store must retry with the next.
    let second = store
        .create(template.clone(), epoch(), &mut rng(), false)
        .unwrap();
    assert_ne!(decoded::<R>(&second).name(), first_name);
    // With a single attempt allowed, the collision is AlreadyExists, as upstream.
    let config = StoreConfig {
        generate_name_attempts: 1,
        ..StoreConfig::default()
    };
    let strict = ObjectStore::<R>::new(Arc::new(Store::open(factory(), config).unwrap()));
    strict
        .create(template.clone(), epoch(), &mut rng(), false)
        .unwrap();
    let error = strict
        .create(template, epoch(), &mut rng(), false)
        .unwrap_err();
    assert!(matches!(error, StoreError::AlreadyExists(_)), "{error:?}");
}

pub fn update_with_a_stale_resource_version_is_a_conflict<R: Representation>(
    factory: &BackendFactory,
) {
    let store = objects::<R>(factory);
    let created = store
        .create(config_map("ns", "a", "1"), epoch(), &mut rng(), false)
        .unwrap();
    let base = decoded::<R>(&created);
    store
        .update(with_value(&base, "2"), epoch(), false)
        .unwrap();
    let error = store
        .update(with_value(&base, "3"), epoch(), false)
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
    let mut unconditional = with_value(&base, "4");
    unconditional.meta_mut().resource_version = None;
    let outcome = store.update(unconditional, epoch(), false).unwrap();
    assert!(outcome.changed);
    let mut garbage = with_value(&base, "5");
    garbage.meta_mut().resource_version = Some("12x".into());
    assert!(matches!(
        store.update(garbage, epoch(), false),
        Err(StoreError::InvalidRevision(_))
    ));
    let missing = config_map("ns", "missing", "1");
    assert_eq!(
        store.update(missing, epoch(), false).unwrap_err(),
        StoreError::NotFound(cm_key("missing"))
    );
}

pub fn update_preserves_system_fields<R: Representation>(factory: &BackendFactory) {
    let store = objects::<R>(factory);
    let created = decoded::<R>(
        &store
            .create(config_map("ns", "a", "1"), epoch(), &mut rng(), false)
            .unwrap(),
    );
    let mut forged = with_value(&created, "2");
    forged.meta_mut().uid = Some("forged".into());
    forged.meta_mut().creation_timestamp = None;
    let updated = decoded::<R>(&store.update(forged, epoch(), false).unwrap().value);
    assert_eq!(updated.uid(), created.uid());
    assert_eq!(
        updated.meta().creation_timestamp,
        created.meta().creation_timestamp
    );
    assert_eq!(updated.to_value()["data"]["value"], "2");
}

pub fn a_no_op_update_keeps_the_revision_and_emits_no_event<R: Representation>(
    factory: &BackendFactory,
) {
    let store = objects::<R>(factory);
    let created = store
        .create(config_map("ns", "a", "1"), epoch(), &mut rng(), false)
        .unwrap();
    let revision = store.store().current_revision();
    let mut cursor = store
        .watch(WatchRequest::all(ResourceKind::ConfigMap, revision))
        .unwrap();
    let outcome = store
        .update((*decoded::<R>(&created)).clone(), epoch(), false)
        .unwrap();
    assert!(!outcome.changed);
    assert_eq!(outcome.value.mod_revision, created.mod_revision);
    assert_eq!(store.store().current_revision(), revision);
    assert!(store.poll_watch(&mut cursor, 10).unwrap().is_empty());
}

pub fn delete_preconditions_fail_with_upstreams_message<R: Representation>(
    factory: &BackendFactory,
) {
    let store = objects::<R>(factory);
    let created = store
        .create(config_map("ns", "a", "1"), epoch(), &mut rng(), false)
        .unwrap();
    let uid = decoded::<R>(&created).uid();
    let wrong_uid = DeleteOptions {
        preconditions: Preconditions {
            uid: Some(Uid::from("other")),
            resource_version: None,
        },
        grace_period_seconds: None,
    };
    let error = store
        .delete(&cm_key("a"), &wrong_uid, epoch(), false)
        .unwrap_err();
    let StoreError::PreconditionFailed { message, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        message,
        &format!("Precondition failed: UID in precondition: other, UID in object meta: {uid}")
    );
    assert_eq!(
        error
            .to_api_error(&corral_api::GroupResource::new("", "configmaps"))
            .code,
        409
    );
    let stale = DeleteOptions {
        preconditions: Preconditions {
            uid: Some(uid),
            resource_version: Some(Revision(created.mod_revision.0 + 100)),
        },
        grace_period_seconds: None,
    };
    assert!(matches!(
        store.delete(&cm_key("a"), &stale, epoch(), false),
        Err(StoreError::PreconditionFailed { .. })
    ));
    let outcome = store
        .delete(&cm_key("a"), &DeleteOptions::default(), epoch(), false)
        .unwrap();
    assert!(outcome.deleted);
    assert!(store.get(&cm_key("a")).is_none());
    let error = store
        .delete(&cm_key("a"), &DeleteOptions::default(), epoch(), false)
        .unwrap_err();
    assert_eq!(error, StoreError::NotFound(cm_key("a")));
}

pub fn finalizers_keep_a_deleted_object_until_the_last_one_is_removed<R: Representation>(
    factory: &BackendFactory,
) {
    let store = objects::<R>(factory);
    let object = with_finalizers(&config_map("ns", "a", "1"), &["x", "y"]);
    store.create(object, epoch(), &mut rng(), false).unwrap();
    let later = add(epoch(), std::time::Duration::from_secs(5));
    let marked = store
        .delete(&cm_key("a"), &DeleteOptions::default(), later, false)
        .unwrap();
    assert!(!marked.deleted);
    let marked_object = decoded::<R>(&marked.value);
    assert_eq!(
        marked_object
            .meta()
            .deletion_timestamp
            .as_ref()
            .map(|t| t.0),
        Some(later)
    );
    // Deleting again changes nothing.
    let again = store
        .delete(&cm_key("a"), &DeleteOptions::default(), later, false)
        .unwrap();
    assert_eq!(again.value.mod_revision, marked.value.mod_revision);
    // An update cannot clear deletionTimestamp; removing one finalizer keeps the object.
    let mut one_left = with_finalizers(&marked_object, &["y"]);
    one_left.meta_mut().deletion_timestamp = None;
    let outcome = store.update(one_left, later, false).unwrap();
    assert!(!outcome.deleted);
    assert!(decoded::<R>(&outcome.value).is_being_deleted());
    let outcome = store
        .update(
            with_finalizers(&decoded::<R>(&outcome.value), &[]),
            later,
            false,
        )
        .unwrap();
    assert!(outcome.deleted && outcome.changed);
    assert!(store.get(&cm_key("a")).is_none());
}

pub fn graceful_delete_marks_and_a_zero_grace_delete_removes<R: Representation>(
    factory: &BackendFactory,
) {
    let store = objects::<R>(factory);
    store
        .create(
            pod("ns", "p", &[], "n1", "Running"),
            epoch(),
            &mut rng(),
            false,
        )
        .unwrap();
    let key = ObjectKey::new(ResourceKind::Pod, "ns", "p");
    let graceful = DeleteOptions {
        grace_period_seconds: Some(30),
        ..DeleteOptions::default()
    };
    let marked = store.delete(&key, &graceful, epoch(), false).unwrap();
    assert!(!marked.deleted);
    let meta = decoded::<R>(&marked.value).meta().clone();
    assert_eq!(meta.deletion_grace_period_seconds, Some(30));
    assert_eq!(
        meta.deletion_timestamp.map(|t| t.0),
        Some(add(epoch(), std::time::Duration::from_secs(30)))
    );
    let now = DeleteOptions {
        grace_period_seconds: Some(0),
        ..DeleteOptions::default()
    };
    assert!(store.delete(&key, &now, epoch(), false).unwrap().deleted);
    assert!(store.get(&key).is_none());
}

pub fn dry_runs_write_nothing<R: Representation>(factory: &BackendFactory) {
    let store = objects::<R>(factory);
    let created = store
        .create(config_map("ns", "a", "1"), epoch(), &mut rng(), false)
        .unwrap();
    let revision = store.store().current_revision();
    store
        .create(config_map("ns", "b", "1"), epoch(), &mut rng(), true)
        .unwrap();
    assert!(store.get(&cm_key("b")).is_none());
    let dry = store
        .update(with_value(&decoded::<R>(&created), "2"), epoch(), true)
        .unwrap();
    assert!(dry.changed);
    assert_eq!(decoded::<R>(&dry.value).to_value()["data"]["value"], "2");
    assert!(
        store
            .delete(&cm_key("a"), &DeleteOptions::default(), epoch(), true)
            .unwrap()
            .deleted
    );
    assert_eq!(store.store().current_revision(), revision);
    assert_eq!(
        decoded::<R>(&store.get(&cm_key("a")).unwrap()).to_value()["data"]["value"],
        "1"
    );
    let error = store
        .create(config_map("ns", "a", "1"), epoch(), &mut rng(), true)
        .unwrap_err();
    assert!(matches!(error, StoreError::AlreadyExists(_)));
}

pub fn guaranteed_update_passes_mutate_errors_and_checks_preconditions<R: Representation>(
    factory: &BackendFactory,
) {
    let store = objects::<R>(factory);
    store
        .create(config_map("ns", "a", "1"), epoch(), &mut rng(), false)
        .unwrap();
    let refusal = ApiError::bad_request("no");
    let error = store
        .guaranteed_update(
            &cm_key("a"),
            &Preconditions::default(),
            epoch(),
            false,
            &mut |_| Err(refusal.clone()),
        )
        .unwrap_err();
    assert_eq!(error, StoreError::Rejected(refusal));
    let wrong = Preconditions {
        uid: Some(Uid::from("nope")),
        resource_version: None,
    };
    let error = store
        .guaranteed_update(&cm_key("a"), &wrong, epoch(), false, &mut |o| Ok(o.clone()))
        .unwrap_err();
    assert!(matches!(error, StoreError::PreconditionFailed { .. }));
    let outcome = store
        .guaranteed_update(
            &cm_key("a"),
            &Preconditions::default(),
            epoch(),
            false,
            &mut |o| Ok(with_value(o, "9")),
        )
        .unwrap();
    assert!(outcome.changed);
    assert_eq!(
        decoded::<R>(&outcome.value).to_value()["data"]["value"],
        "9"
    );
}

pub fn transactions_are_all_or_nothing<R: Representation>(factory: &BackendFactory) {
    let store = open::<R>(factory);
    let put = |name: &str| TxnOp::Put(config_map("ns", name, "1"));
    let ok = store
        .txn(Txn {
            compares: vec![],
            ops: vec![put("a"), put("b")],
        })
        .unwrap();
    let TxnOutcome::Committed { revision, results } = ok else {
        panic!("{ok:?}")
    };
    assert_eq!(results.len(), 2);
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_some_and(|v| v.mod_revision == revision))
    );
    let failed = store
        .txn(Txn {
            compares: vec![Compare::Present(cm_key("a")), Compare::Absent(cm_key("b"))],
            ops: vec![put("c")],
        })
        .unwrap();
    assert_eq!(failed, TxnOutcome::CompareFailed { index: 1 });
    let missing = store.txn(Txn {
        compares: vec![],
        ops: vec![put("d"), TxnOp::Delete(cm_key("zz"))],
    });
    assert_eq!(missing.unwrap_err(), StoreError::NotFound(cm_key("zz")));
    let twice = store.txn(Txn {
        compares: vec![],
        ops: vec![put("e"), TxnOp::Delete(cm_key("e"))],
    });
    assert!(matches!(twice, Err(StoreError::InvalidKey(_))));
    assert!(store.get(&cm_key("c")).is_none() && store.get(&cm_key("d")).is_none());
    assert_eq!(store.current_revision(), revision);
    let deleted = store
        .txn(Txn {
            compares: vec![Compare::ModRevision(cm_key("a"), revision)],
            ops: vec![TxnOp::Delete(cm_key("a")), TxnOp::Delete(cm_key("b"))],
        })
        .unwrap();
    let TxnOutcome::Committed {
        revision: deleted_at,
        results,
    } = deleted
    else {
        panic!("{deleted:?}")
    };
    let last = results[0].as_ref().unwrap();
    assert_eq!(last.mod_revision, deleted_at);
    assert_eq!(decoded::<R>(last).revision(), Some(deleted_at));
    assert_eq!(
        store
            .list(&ListRequest::all(ResourceKind::ConfigMap))
            .unwrap()
            .items
            .len(),
        0
    );
}

pub fn every_transaction_takes_exactly_the_next_revision<R: Representation>(
    factory: &BackendFactory,
) {
    let store = open::<R>(factory);
    let start = store.current_revision();
    for index in 0..20u64 {
        let outcome = store
            .txn(Txn {
                compares: vec![],
                ops: vec![TxnOp::Put(config_map("ns", "a", &index.to_string()))],
            })
            .unwrap();
        let TxnOutcome::Committed { revision, .. } = outcome else {
            panic!()
        };
        assert_eq!(revision, Revision(start.0 + index + 1));
    }
    let compares_only = store
        .txn(Txn {
            compares: vec![Compare::Present(cm_key("a"))],
            ops: vec![],
        })
        .unwrap();
    assert_eq!(
        compares_only,
        TxnOutcome::Committed {
            revision: Revision(start.0 + 20),
            results: vec![]
        }
    );
    let versioned = store.get(&cm_key("a")).unwrap();
    assert_eq!(versioned.create_revision, Revision(start.0 + 1));
    assert_eq!(versioned.mod_revision, Revision(start.0 + 20));
}

pub fn malformed_keys_are_errors_not_panics<R: Representation>(factory: &BackendFactory) {
    let store = objects::<R>(factory);
    for (namespace, name) in [
        ("ns", "a/b"),
        ("ns", ""),
        ("", "x"),
        ("ns", ".."),
        ("n/s", "x"),
    ] {
        let error = store
            .create(config_map(namespace, name, "1"), epoch(), &mut rng(), false)
            .unwrap_err();
        assert!(
            matches!(error, StoreError::InvalidKey(_)),
            "{namespace}/{name}: {error:?}"
        );
        let key = ObjectKey::new(ResourceKind::ConfigMap, namespace, name);
        assert!(store.get(&key).is_none());
        assert!(
            store
                .delete(&key, &DeleteOptions::default(), epoch(), false)
                .is_err()
        );
    }
    let cluster = ObjectKey::new(ResourceKind::Node, "ns", "n");
    assert!(matches!(
        store.store().txn(Txn {
            compares: vec![Compare::Absent(cluster)],
            ops: vec![]
        }),
        Err(StoreError::InvalidKey(_))
    ));
}

pub fn snapshots_hold_every_object_at_one_revision<R: Representation>(factory: &BackendFactory) {
    let store = objects::<R>(factory);
    for name in ["a", "b", "c"] {
        store
            .create(config_map("ns", name, name), epoch(), &mut rng(), false)
            .unwrap();
    }
    let mut bytes = Vec::new();
    let info = store.store().snapshot(&mut bytes).unwrap();
    assert_eq!(info.object_count, 3);
    assert_eq!(info.revision, store.store().current_revision());
    assert_eq!(info.size_bytes, bytes.len() as u64);
    let mut seen = Vec::new();
    let read = crate::read_snapshot(&mut bytes.as_slice(), &mut |object| {
        seen.push(object);
        Ok(())
    })
    .unwrap();
    assert_eq!(read, info);
    let names: Vec<&str> = seen.iter().map(|o| o.key.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    let stored = store.get(&cm_key("b")).unwrap();
    assert_eq!(seen[1].bytes, R::to_bytes(&stored.value).into_owned());
}

pub fn a_failed_commit_keeps_the_store_readable_and_refuses_writes<R: Representation>(
    factory: &BackendFactory,
) {
    let faulty = Arc::new(FaultyBackend::new(factory()));
    let shared = super::SharedBackend(Arc::clone(&faulty));
    let store = ObjectStore::<R>::new(Arc::new(
        Store::open(Box::new(shared), StoreConfig::default()).unwrap(),
    ));
    store
        .create(config_map("ns", "a", "1"), epoch(), &mut rng(), false)
        .unwrap();
    let revision = store.store().current_revision();
    faulty.fail_after(0);
    let mut cursor = store
        .watch(WatchRequest::all(ResourceKind::ConfigMap, revision))
        .unwrap();
    let error = store
        .create(config_map("ns", "b", "1"), epoch(), &mut rng(), false)
        .unwrap_err();
    assert_eq!(error, super::no_space_error());
    assert!(faulty.has_failed() && store.store().is_read_only());
    assert!(store.get(&cm_key("b")).is_none());
    assert_eq!(store.store().current_revision(), revision);
    assert!(store.poll_watch(&mut cursor, 10).unwrap().is_empty());
    let refused = store
        .create(config_map("ns", "c", "1"), epoch(), &mut rng(), false)
        .unwrap_err();
    assert!(matches!(refused, StoreError::ReadOnly(_)), "{refused:?}");
    assert_eq!(
        refused
            .to_api_error(&corral_api::GroupResource::new("", "configmaps"))
            .code,
        503
    );
    assert_eq!(
        store
            .list(&ListRequest::all(ResourceKind::ConfigMap))
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(matches!(
        store.poll_watch(&mut cursor, 1).unwrap().first(),
        None | Some(WatchEvent::Bookmark(_))
    ));
}
