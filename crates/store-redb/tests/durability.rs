//! Durability of the redb backend within one process: reopening sees exactly the
//! acknowledged state, the data directory admits one process at a time, and a failed
//! commit leaves the file at the last acknowledged revision.
//!
//! Method: write through a store, drop it, reopen the directory, compare.

use std::sync::Arc;

use corral_api::{ObjectKey, ResourceKind, Revision};
use corral_core::SimRng;
use corral_core::clock::epoch;
use corral_store::testing::SharedBackend;
use corral_store::testing::{FaultyBackend, config_map};
use corral_store::{
    DeleteOptions, JsonBytes, ListRequest, ObjectStore, Representation, Store, StoreConfig,
    StoreError, Txn, TxnOp, WatchRequest,
};
use corral_store_redb::{RedbBackend, RedbError};

fn open_store(dir: &std::path::Path) -> ObjectStore<JsonBytes> {
    let backend = RedbBackend::open(dir).expect("data directory opens");
    ObjectStore::new(Arc::new(
        Store::open(Box::new(backend), StoreConfig::default()).expect("store loads"),
    ))
}

fn names(store: &ObjectStore<JsonBytes>) -> Vec<String> {
    let page = store
        .list(&ListRequest::all(ResourceKind::ConfigMap))
        .unwrap();
    page.items
        .iter()
        .map(|v| JsonBytes::decode(&v.value).unwrap().name().to_string())
        .collect()
}

#[test]
fn reopening_sees_every_acknowledged_write_and_continues_the_revision() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = SimRng::seed_from_u64(3);
    let (revision, created) = {
        let store = open_store(dir.path());
        let created = store
            .create(config_map("ns", "a", "1"), epoch(), &mut rng, false)
            .unwrap();
        store
            .create(config_map("ns", "b", "1"), epoch(), &mut rng, false)
            .unwrap();
        let key = ObjectKey::new(ResourceKind::ConfigMap, "ns", "b");
        store
            .delete(&key, &DeleteOptions::default(), epoch(), false)
            .unwrap();
        (store.store().current_revision(), created)
    };
    let store = open_store(dir.path());
    assert_eq!(store.store().current_revision(), revision);
    assert_eq!(
        store.store().compacted_revision(),
        revision,
        "history does not survive a restart"
    );
    assert_eq!(names(&store), vec!["a"]);
    let reloaded = store
        .get(&ObjectKey::new(ResourceKind::ConfigMap, "ns", "a"))
        .unwrap();
    assert_eq!(reloaded, created);
    let older = WatchRequest::all(ResourceKind::ConfigMap, Revision(revision.0 - 1));
    assert!(matches!(
        store.watch(older),
        Err(StoreError::Compacted { .. })
    ));
    let next = store
        .create(config_map("ns", "c", "1"), epoch(), &mut rng, false)
        .unwrap();
    assert_eq!(next.mod_revision, revision.next());
}

#[test]
fn a_second_open_of_the_same_data_directory_is_refused_with_the_holders_pid() {
    let dir = tempfile::tempdir().unwrap();
    let _first = RedbBackend::open(dir.path()).unwrap();
    let error = RedbBackend::open(dir.path()).unwrap_err();
    let RedbError::DataDirInUse { pid, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*pid, Some(std::process::id()));
    assert!(
        error
            .to_string()
            .contains("is in use by another corral process"),
        "{error}"
    );
    drop(_first);
    assert!(
        RedbBackend::open(dir.path()).is_ok(),
        "the lock is released with the backend"
    );
}

#[test]
fn a_failed_commit_leaves_the_file_at_the_last_acknowledged_revision() {
    let dir = tempfile::tempdir().unwrap();
    let acknowledged = {
        let faulty = Arc::new(FaultyBackend::new(Box::new(
            RedbBackend::open(dir.path()).unwrap(),
        )));
        let store = Store::<JsonBytes>::open(
            Box::new(SharedBackend(Arc::clone(&faulty))),
            StoreConfig::default(),
        )
        .unwrap();
        let put = |name: &str| Txn {
            compares: vec![],
            ops: vec![TxnOp::Put(config_map("ns", name, "1"))],
        };
        store.txn(put("a")).unwrap();
        faulty.fail_after(0);
        assert!(matches!(store.txn(put("b")), Err(StoreError::Io(_))));
        assert!(matches!(store.txn(put("c")), Err(StoreError::ReadOnly(_))));
        store.current_revision()
    };
    let store = open_store(dir.path());
    assert_eq!(store.store().current_revision(), acknowledged);
    assert_eq!(names(&store), vec!["a"]);
}

#[test]
fn a_database_file_that_is_not_redb_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(corral_store_redb::DATABASE_FILE_NAME),
        b"definitely not a database",
    )
    .unwrap();
    let error = RedbBackend::open(dir.path()).unwrap_err();
    assert!(
        matches!(error, RedbError::Database { .. } | RedbError::Io { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("corral.redb"), "{error}");
}
