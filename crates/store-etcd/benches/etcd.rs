//! etcd backend benchmark (not a timed test):
//! `cargo bench -p corral-store-etcd --features etcd --bench etcd`.
//!
//! Durable creates of ~5 KB Pods with 64 concurrent writers (and with one), through
//! `ObjectStore` + `EtcdBackend` (group commit: one etcd Txn per batch), against etcd
//! alone doing Kubernetes' create Txn (`If mod_revision(key) == 0 Then Put Else Get`)
//! from 64 concurrent tasks on one client; then the time to reopen (load) the store.
//! Each figure gets a fresh etcd (loopback, temporary data directory, fsync on).
//! `CORRAL_BENCH_OBJECTS` sets the creates per figure (default 20,000). Figures go to
//! BENCH.md by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use corral_api::{KubeObject, ResourceKind};
use corral_core::SimRng;
use corral_core::clock::epoch;
use corral_store::{JsonBytes, ObjectStore, Store, StoreConfig};
use corral_store_etcd::testing::EtcdServer;
use corral_store_etcd::{EtcdBackend, EtcdOptions};
use etcd_client::{Client, Compare, CompareOp, Txn, TxnOp};

const WRITERS: usize = 64;

/// A ~5 KB Pod: two containers with env, resources, mounts, probes, and annotations (the
/// same shape as corral-store-redb's benchmark).
fn pod(name: &str, app: usize) -> KubeObject {
    let env: Vec<_> = (0..24)
        .map(|i| serde_json::json!({"name": format!("SETTING_{i:02}"), "value": format!("value-{i:02}-{}", "v".repeat(24))}))
        .collect();
    let container = |container_name: &str| {
        serde_json::json!({
            "name": container_name, "image": "registry.example.com/team/app:1.2.3",
            "command": ["/bin/app", "--serve", "--port=8080"], "env": env,
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
            "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "config", "mountPath": "/etc/app"}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5},
        })
    };
    let body = serde_json::json!({
        "metadata": {"name": name, "namespace": "bench",
            "labels": {"app": format!("app-{}", app % 1000), "tier": "web", "team": "batch"},
            "annotations": {"example.com/notes": "n".repeat(600)}},
        "spec": {"containers": [container("main"), container("sidecar")], "nodeName": format!("node-{}", app % 50),
            "restartPolicy": "Never", "volumes": [{"name": "data", "emptyDir": {}}, {"name": "config", "configMap": {"name": "cfg"}}]},
        "status": {"phase": "Running", "podIP": "10.0.0.1"},
    });
    KubeObject::from_value(ResourceKind::Pod, body).expect("bench pod decodes")
}

/// A ~250-byte ConfigMap: the regime where etcd is bound by Txns, not bytes.
fn config_map(i: usize) -> KubeObject {
    let body = serde_json::json!({
        "metadata": {"name": format!("cm-{i}"), "namespace": "bench", "labels": {"app": format!("app-{}", i % 1000)}},
        "data": {"key": format!("value-{i}"), "mode": "batch"},
    });
    KubeObject::from_value(ResourceKind::ConfigMap, body).expect("bench config map decodes")
}

fn big_pod(i: usize) -> KubeObject {
    pod(&format!("pod-{i}"), i)
}

/// Builds the `i`th object of a figure.
type Make = fn(usize) -> KubeObject;

fn open_store(server: &EtcdServer) -> (Arc<ObjectStore<JsonBytes>>, Duration) {
    let started = Instant::now();
    let backend =
        EtcdBackend::connect(&[server.endpoint()], EtcdOptions::default()).expect("connects");
    let store = Store::open(Box::new(backend), StoreConfig::default()).expect("loads");
    (
        Arc::new(ObjectStore::new(Arc::new(store))),
        started.elapsed(),
    )
}

fn etcd_revision(server: &EtcdServer) -> i64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = Client::connect([server.endpoint()], None).await.unwrap();
        let response = client.kv_client().get("/", None).await.unwrap();
        response.header().unwrap().revision()
    })
}

/// Creates `total` Pods through the store from `writers` threads; returns creates/s.
fn store_creates(server: &EtcdServer, make: Make, total: usize, writers: usize) -> f64 {
    let (store, _) = open_store(server);
    let before = etcd_revision(server);
    // Objects are built before the clock starts, as etcd alone gets its values.
    let mut shares: Vec<Vec<KubeObject>> = (0..writers).map(|_| Vec::new()).collect();
    for i in 0..total {
        shares[i % writers].push(make(i));
    }
    let started = Instant::now();
    let threads: Vec<_> = shares
        .into_iter()
        .enumerate()
        .map(|(writer, share)| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut rng = SimRng::seed_from_u64(writer as u64);
                for object in share {
                    store
                        .create(object, epoch(), &mut rng, false)
                        .expect("durable create");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("writer finishes");
    }
    let elapsed = started.elapsed();
    let txns = etcd_revision(server) - before;
    let rate = total as f64 / elapsed.as_secs_f64();
    println!(
        "store + etcd backend, {writers} writers: {total} creates in {:.2} s = {rate:.0}/s ({txns} etcd Txns, {:.1} creates per Txn)",
        elapsed.as_secs_f64(),
        total as f64 / txns.max(1) as f64
    );
    rate
}

/// Kubernetes' create Txn from `writers` concurrent tasks on one client; returns creates/s.
fn raw_creates(server: &EtcdServer, make: Make, total: usize, writers: usize) -> f64 {
    let values: Vec<(String, Vec<u8>)> = (0..total)
        .map(|i| {
            let object = make(i);
            let key = format!("/raw/{}/bench/{}", object.kind().plural(), object.name());
            (key, object.to_json_vec())
        })
        .collect();
    let values = Arc::new(values);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let elapsed = runtime.block_on(async {
        let client = Client::connect([server.endpoint()], None).await.unwrap();
        let next = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let tasks: Vec<_> = (0..writers)
            .map(|_| {
                let (client, next, values) =
                    (client.clone(), Arc::clone(&next), Arc::clone(&values));
                tokio::spawn(async move {
                    let mut kv = client.kv_client();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                        if i >= values.len() {
                            break;
                        }
                        let (key, value) = values[i].clone();
                        let txn = Txn::new()
                            .when([Compare::mod_revision(key.clone(), CompareOp::Equal, 0)])
                            .and_then([TxnOp::put(key.clone(), value, None)])
                            .or_else([TxnOp::get(key, None)]);
                        let response = kv.txn(txn).await.expect("create txn");
                        assert!(response.succeeded());
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        started.elapsed()
    });
    let rate = total as f64 / elapsed.as_secs_f64();
    println!(
        "etcd alone (create Txn), {writers} concurrent: {total} creates in {:.2} s = {rate:.0}/s",
        elapsed.as_secs_f64()
    );
    rate
}

/// The figures for one object shape.
fn figures(label: &str, make: Make, total: usize) {
    let bytes = make(0).to_json_vec().len();
    println!("== {total} {label} of {bytes} bytes of JSON per figure");
    let server = EtcdServer::start().expect("etcd starts");
    let raw = raw_creates(&server, make, total, WRITERS);
    drop(server);
    let server = EtcdServer::start().expect("etcd starts");
    let store = store_creates(&server, make, total, WRITERS);
    let (reopened, load_time) = open_store(&server);
    println!(
        "reopen (connect + load {} objects): {:.2} s",
        reopened.store().stats().objects,
        load_time.as_secs_f64()
    );
    drop(reopened);
    drop(server);
    println!(
        "store + etcd vs etcd alone, {WRITERS} writers: {:.2}x",
        store / raw.max(1.0)
    );
}

fn main() {
    let total: usize = std::env::var("CORRAL_BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    if EtcdServer::binary().is_none() {
        println!("SKIP: no `etcd` in PATH (apt-get install etcd-server)");
        return;
    }
    figures("Pods", big_pod, total);
    figures("ConfigMaps", config_map, total);
    let single = (total / 10).max(100);
    println!("== one writer, {single} Pods");
    let server = EtcdServer::start().expect("etcd starts");
    raw_creates(&server, big_pod, single, 1);
    drop(server);
    let server = EtcdServer::start().expect("etcd starts");
    store_creates(&server, big_pod, single, 1);
}
