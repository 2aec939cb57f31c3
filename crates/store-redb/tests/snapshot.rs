//! Snapshot files: a save/restore round trip reproduces the store, and corrupt, truncated
//! or misplaced restores are refused with clear errors.

use std::sync::Arc;

use corral_api::ResourceKind;
use corral_core::SimRng;
use corral_core::clock::epoch;
use corral_store::testing::{config_map, pod};
use corral_store::{JsonBytes, ListRequest, ObjectStore, Store, StoreConfig, StoreError};
use corral_store_redb::{RedbBackend, RedbError, snapshot};

fn open_store(dir: &std::path::Path) -> ObjectStore<JsonBytes> {
    let backend = RedbBackend::open(dir).expect("data directory opens");
    ObjectStore::new(Arc::new(
        Store::open(Box::new(backend), StoreConfig::default()).expect("store loads"),
    ))
}

fn everything(
    store: &ObjectStore<JsonBytes>,
) -> Vec<(
    ResourceKind,
    Vec<corral_store::Versioned<corral_store::EncodedObject>>,
)> {
    [ResourceKind::ConfigMap, ResourceKind::Pod]
        .into_iter()
        .map(|kind| (kind, store.list(&ListRequest::all(kind)).unwrap().items))
        .collect()
}

/// A snapshot file of a small store, and what the store held.
fn saved_snapshot(
    dir: &std::path::Path,
) -> (
    std::path::PathBuf,
    corral_store::SnapshotInfo,
    Vec<(
        ResourceKind,
        Vec<corral_store::Versioned<corral_store::EncodedObject>>,
    )>,
) {
    let store = open_store(&dir.join("source"));
    let mut rng = SimRng::seed_from_u64(5);
    for index in 0..20 {
        store
            .create(
                config_map("ns", &format!("c{index}"), "v"),
                epoch(),
                &mut rng,
                false,
            )
            .unwrap();
        store
            .create(
                pod("ns", &format!("p{index}"), &[("app", "x")], "n1", "Running"),
                epoch(),
                &mut rng,
                false,
            )
            .unwrap();
    }
    let path = dir.join("snap.corral");
    let info = snapshot::save(store.store(), &path).unwrap();
    (path, info, everything(&store))
}

#[test]
fn a_saved_snapshot_restores_the_same_objects_at_the_same_revision() {
    let dir = tempfile::tempdir().unwrap();
    let (path, info, contents) = saved_snapshot(dir.path());
    assert_eq!(info.object_count, 40);
    assert_eq!(snapshot::status(&path).unwrap(), info);
    let target = dir.path().join("restored");
    assert_eq!(snapshot::restore(&path, &target).unwrap(), info);
    let restored = open_store(&target);
    assert_eq!(restored.store().current_revision(), info.revision);
    assert_eq!(everything(&restored), contents);
    assert!(!dir.path().join("snap.corral.tmp").exists());
}

#[test]
fn corrupt_or_truncated_snapshots_are_refused_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (path, info, _) = saved_snapshot(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x40;
    let cases = [
        ("flipped", flipped),
        ("truncated", bytes[..bytes.len() - 100].to_vec()),
        ("no checksum", bytes[..bytes.len() - 4].to_vec()),
        ("header only", bytes[..20].to_vec()),
        ("trailing", [bytes.clone(), b"x".to_vec()].concat()),
        ("empty", Vec::new()),
    ];
    for (label, content) in cases {
        let broken = dir
            .path()
            .join(format!("{}.corral", label.replace(' ', "-")));
        std::fs::write(&broken, content).unwrap();
        let error = snapshot::status(&broken).unwrap_err();
        assert!(
            matches!(error, RedbError::Store(StoreError::Corrupt(_))),
            "{label}: {error:?}"
        );
        let target = dir
            .path()
            .join(format!("target-{}", label.replace(' ', "-")));
        assert!(snapshot::restore(&broken, &target).is_err(), "{label}");
        assert!(
            !target.exists(),
            "{label}: a refused restore creates nothing"
        );
    }
    assert_eq!(snapshot::status(&path).unwrap().checksum, info.checksum);
}

#[test]
fn restoring_into_a_non_empty_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _, _) = saved_snapshot(dir.path());
    let error = snapshot::restore(&path, &dir.path().join("source")).unwrap_err();
    assert!(
        matches!(error, RedbError::TargetNotEmpty { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("is not empty"));
}

#[test]
fn snapshots_stream_to_any_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    store
        .create(
            config_map("ns", "a", "1"),
            epoch(),
            &mut SimRng::seed_from_u64(1),
            false,
        )
        .unwrap();
    let mut buffer = Vec::new();
    let info = snapshot::write(store.store(), &mut buffer).unwrap();
    assert_eq!(info.size_bytes, buffer.len() as u64);
    assert_eq!(&buffer[..16], corral_store::SNAPSHOT_MAGIC);
}
