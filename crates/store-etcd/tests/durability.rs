//! Durability of the etcd backend: reopening sees exactly the acknowledged state under
//! Kubernetes' key layout; an etcd crash fails writes cleanly and a reopen recovers;
//! compaction reaches etcd; batches above etcd's Txn limits are split; prefixes are
//! independent; a prefix holding someone else's keys is refused.
//!
//! Method: a real etcd per test (loopback, random ports, temporary data directory); write
//! through a store, drop it, reopen on the same etcd and prefix, compare; look behind the
//! backend with a raw etcd client.

mod support;

use std::sync::Arc;
use std::time::Duration;

use corral_api::{ObjectKey, ResourceKind, Revision};
use corral_core::SimRng;
use corral_core::clock::epoch;
use corral_store::testing::{SharedBackend, config_map};
use corral_store::{
    Backend, DeleteOptions, JsonBytes, ListRequest, ObjectStore, Representation, Store,
    StoreConfig, StoreError, Txn, TxnOp,
};
use corral_store_etcd::testing::EtcdServer;
use corral_store_etcd::{EtcdBackend, EtcdOptions};
use serde_json::json;
use support::{Raw, etcd_or_skip, etcd_with_or_skip, options};

fn open_with(server: &EtcdServer, options: EtcdOptions) -> ObjectStore<JsonBytes> {
    let backend = EtcdBackend::connect(&[server.endpoint()], options).expect("backend connects");
    ObjectStore::new(Arc::new(
        Store::open(Box::new(backend), StoreConfig::default()).expect("store loads"),
    ))
}

fn open(server: &EtcdServer) -> ObjectStore<JsonBytes> {
    open_with(server, options("/registry"))
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

fn node(name: &str) -> corral_api::KubeObject {
    corral_api::KubeObject::from_value(ResourceKind::Node, json!({"metadata": {"name": name}}))
        .unwrap()
}

fn cm_key(name: &str) -> ObjectKey {
    ObjectKey::new(ResourceKind::ConfigMap, "ns", name)
}

#[test]
fn reopening_sees_every_acknowledged_write_and_continues_the_revision() {
    let Some(server) = etcd_or_skip("reopening_sees_every_acknowledged_write") else {
        return;
    };
    let mut rng = SimRng::seed_from_u64(3);
    let (revision, created, updated_node) = {
        let store = open(&server);
        let created = store
            .create(config_map("ns", "a", "1"), epoch(), &mut rng, false)
            .unwrap();
        store
            .create(config_map("ns", "b", "1"), epoch(), &mut rng, false)
            .unwrap();
        store
            .delete(&cm_key("b"), &DeleteOptions::default(), epoch(), false)
            .unwrap();
        store.create(node("n1"), epoch(), &mut rng, false).unwrap();
        let mut relabelled = node("n1");
        relabelled.meta_mut().labels = Some([("zone".to_string(), "a".to_string())].into());
        let updated = store.update(relabelled, epoch(), false).unwrap();
        (store.store().current_revision(), created, updated.value)
    };
    let store = open(&server);
    assert_eq!(store.store().backend_name(), "etcd");
    assert_eq!(store.store().current_revision(), revision);
    assert_eq!(store.store().compacted_revision(), revision);
    assert_eq!(names(&store), vec!["a"]);
    assert_eq!(store.get(&cm_key("a")).unwrap(), created);
    let node_key = ObjectKey::cluster(ResourceKind::Node, "n1");
    assert_eq!(store.get(&node_key).unwrap(), updated_node);
    assert_eq!(
        store.get(&node_key).unwrap().create_revision,
        Revision(revision.0 - 1),
        "the create revision survives an update and a reopen"
    );
    let next = store
        .create(config_map("ns", "c", "1"), epoch(), &mut rng, false)
        .unwrap();
    assert_eq!(next.mod_revision, revision.next());
}

#[test]
fn keys_are_kubernetes_registry_paths_and_values_carry_corrals_revisions() {
    let Some(server) = etcd_or_skip("keys_are_kubernetes_registry_paths") else {
        return;
    };
    let mut rng = SimRng::seed_from_u64(5);
    let store = open(&server);
    let created = store
        .create(config_map("ns", "a", "1"), epoch(), &mut rng, false)
        .unwrap();
    store.create(node("n1"), epoch(), &mut rng, false).unwrap();
    let raw = Raw::connect(&server.endpoint());
    assert_eq!(
        raw.keys("/registry/"),
        vec![
            "/registry/_corral/lock",
            "/registry/_corral/revision",
            "/registry/configmaps/ns/a",
            "/registry/minions/n1",
        ]
    );
    let value = raw.get("/registry/configmaps/ns/a").unwrap();
    let header = format!(
        "corral/v1 {} {}\n",
        created.create_revision, created.mod_revision
    );
    assert!(value.starts_with(header.as_bytes()));
    let json: serde_json::Value = serde_json::from_slice(&value[header.len()..]).unwrap();
    assert_eq!(
        json["metadata"]["resourceVersion"],
        created.mod_revision.to_string()
    );
    assert_eq!(
        raw.get("/registry/_corral/revision").unwrap(),
        store.store().current_revision().to_string().into_bytes()
    );
    let holder = String::from_utf8(raw.get("/registry/_corral/lock").unwrap()).unwrap();
    assert!(
        holder.ends_with(&format!("pid {}", std::process::id())),
        "{holder}"
    );
}

#[test]
fn an_etcd_crash_fails_writes_cleanly_and_a_reopen_recovers() {
    let Some(mut server) = etcd_or_skip("an_etcd_crash_fails_writes_cleanly") else {
        return;
    };
    let mut rng = SimRng::seed_from_u64(7);
    let quick = EtcdOptions {
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        ..options("/registry")
    };
    let acknowledged = {
        let store = open_with(&server, quick.clone());
        for name in ["a", "b"] {
            store
                .create(config_map("ns", name, "1"), epoch(), &mut rng, false)
                .unwrap();
        }
        let acknowledged = store.store().current_revision();
        server.stop();
        let error = store
            .create(config_map("ns", "c", "1"), epoch(), &mut rng, false)
            .unwrap_err();
        assert!(matches!(error, StoreError::Io(_)), "{error:?}");
        assert!(
            error.to_string().contains("etcd at http://127.0.0.1:"),
            "{error}"
        );
        assert!(store.store().is_read_only());
        assert_eq!(names(&store), vec!["a", "b"], "reads keep working");
        server.restart().unwrap();
        let error = store
            .create(config_map("ns", "d", "1"), epoch(), &mut rng, false)
            .unwrap_err();
        assert!(matches!(error, StoreError::ReadOnly(_)), "{error:?}");
        acknowledged
    };
    // If the old instance could not revoke its lease, the reopen waits for it to expire.
    let reopen = EtcdOptions {
        lock_wait: Duration::from_secs(10),
        ..quick
    };
    let store = open_with(&server, reopen);
    assert_eq!(store.store().current_revision(), acknowledged);
    assert_eq!(names(&store), vec!["a", "b"]);
    let next = store
        .create(config_map("ns", "e", "1"), epoch(), &mut rng, false)
        .unwrap();
    assert_eq!(next.mod_revision, acknowledged.next());
}

#[test]
fn compaction_compacts_etcds_history_too() {
    let Some(server) = etcd_or_skip("compaction_compacts_etcds_history_too") else {
        return;
    };
    let mut rng = SimRng::seed_from_u64(9);
    let store = open(&server);
    let raw = Raw::connect(&server.endpoint());
    let first_etcd_revision = raw.revision();
    for value in 0..5 {
        let name = format!("cm-{value}");
        store
            .create(config_map("ns", &name, "1"), epoch(), &mut rng, false)
            .unwrap();
    }
    let latest = store.store().current_revision();
    store.store().compact(Revision(latest.0 - 1)).unwrap();
    let mut kv = raw.client.kv_client();
    let old = etcd_client::GetOptions::new().with_revision(first_etcd_revision);
    let error = raw
        .block_on(kv.get("/registry/configmaps/ns/cm-0", Some(old)))
        .unwrap_err();
    assert!(error.to_string().contains("compacted"), "{error}");
    // etcd keeps the revision holding Corral's state at the compacted revision.
    let kept = etcd_client::GetOptions::new().with_revision(raw.revision() - 1);
    let page = raw
        .block_on(kv.get("/registry/configmaps/ns/cm-3", Some(kept)))
        .unwrap();
    assert_eq!(page.kvs().len(), 1);
    // Compacting at or below what etcd already compacted is not an error.
    store.store().compact(Revision(latest.0 - 2)).unwrap();
    store.store().compact(latest).unwrap();
}

#[test]
fn batches_above_etcds_txn_limits_are_split_between_transactions() {
    let Some(server) = etcd_with_or_skip(
        "batches_above_etcds_txn_limits_are_split",
        &["--max-txn-ops=8"],
    ) else {
        return;
    };
    let limited = EtcdOptions {
        txn_ops_max: 8,
        ..options("/registry")
    };
    let store = Arc::new(open_with(&server, limited.clone()));
    let writers: Vec<_> = (0..16)
        .map(|writer| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut rng = SimRng::seed_from_u64(writer);
                for i in 0..10 {
                    let name = format!("w{writer}-{i}");
                    store
                        .create(config_map("ns", &name, "1"), epoch(), &mut rng, false)
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    // One transaction of more objects than one Txn takes cannot be split: a clear error.
    let puts = (0..8)
        .map(|i| TxnOp::Put(config_map("big", &format!("x{i}"), "1")))
        .collect();
    let error = store
        .store()
        .txn(Txn {
            compares: vec![],
            ops: puts,
        })
        .unwrap_err();
    assert!(error.to_string().contains("--max-txn-ops"), "{error}");
    let revision = store.store().current_revision();
    drop(store);
    let store = open_with(&server, limited);
    assert_eq!(store.store().current_revision(), revision);
    assert_eq!(names(&store).len(), 160);
}

#[test]
fn prefixes_are_independent_stores_in_one_etcd() {
    let Some(server) = etcd_or_skip("prefixes_are_independent_stores_in_one_etcd") else {
        return;
    };
    let mut rng = SimRng::seed_from_u64(11);
    {
        let a = open_with(&server, options("/tenants/a/registry"));
        let b = open_with(&server, options("/tenants/b/registry"));
        a.create(config_map("ns", "only-a", "1"), epoch(), &mut rng, false)
            .unwrap();
        for name in ["only-b", "also-b"] {
            b.create(config_map("ns", name, "1"), epoch(), &mut rng, false)
                .unwrap();
        }
        assert_eq!(a.store().current_revision(), Revision(2));
        assert_eq!(b.store().current_revision(), Revision(3));
    }
    let a = open_with(&server, options("/tenants/a/registry"));
    let b = open_with(&server, options("/tenants/b/registry"));
    assert_eq!(names(&a), vec!["only-a"]);
    assert_eq!(names(&b), vec!["also-b", "only-b"]);
}

#[test]
fn a_prefix_holding_other_keys_is_refused_with_a_clear_error() {
    let Some(server) = etcd_or_skip("a_prefix_holding_other_keys_is_refused") else {
        return;
    };
    let raw = Raw::connect(&server.endpoint());
    raw.put(
        "/registry/services/specs/default/kubernetes",
        b"k8s\0\n\x0fprotobuf",
    );
    let backend = EtcdBackend::connect(&[server.endpoint()], options("/registry")).unwrap();
    let error = Store::<JsonBytes>::open(Box::new(backend), StoreConfig::default()).unwrap_err();
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
    assert!(
        error.to_string().contains("services")
            && error.to_string().contains("Corral's objects only"),
        "{error}"
    );
    // A key Corral knows, with a value kube-apiserver wrote.
    let raw_other = "/other/configmaps/ns/a";
    raw.put(raw_other, b"k8s\0\n\x0fprotobuf");
    let backend = EtcdBackend::connect(&[server.endpoint()], options("/other")).unwrap();
    let shared = Arc::new(backend);
    let error = Store::<JsonBytes>::open(
        Box::new(SharedBackend(Arc::clone(&shared))),
        StoreConfig::default(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("kube-apiserver"), "{error}");
}

#[test]
fn a_load_survives_etcd_compacting_past_its_snapshot() {
    let Some(server) = etcd_or_skip("a_load_survives_etcd_compacting_past_its_snapshot") else {
        return;
    };
    let mut rng = SimRng::seed_from_u64(13);
    let paged = EtcdOptions {
        load_page_size: 5,
        ..options("/registry")
    };
    let revision = {
        let store = open_with(&server, paged.clone());
        for i in 0..12 {
            let name = format!("cm-{i:02}");
            store
                .create(config_map("ns", &name, "1"), epoch(), &mut rng, false)
                .unwrap();
        }
        store.store().current_revision()
    };
    let backend = EtcdBackend::connect(&[server.endpoint()], paged).unwrap();
    let raw = Raw::connect(&server.endpoint());
    let mut loaded = Vec::new();
    let loaded_revision = backend
        .load(&mut |object| {
            if loaded.is_empty() {
                // After the first page: etcd moves on and compacts past the load's snapshot.
                raw.put("/unrelated", b"x");
                raw.compact_now();
            }
            loaded.push(object.key.name);
            Ok(())
        })
        .unwrap();
    assert_eq!(loaded_revision, revision);
    assert_eq!(loaded.len(), 12);
}
