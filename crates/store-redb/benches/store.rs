//! Store benchmarks (not timed tests): `cargo bench -p corral-store-redb --bench store`.
//!
//! With ~5 KB Pods: resident memory per stored object, label-selector and full lists over
//! 100k objects, durable creates with 64 writer threads on redb, reopen time, and watch
//! delivery latency (commit → poll) with 1,000 cursors. `CORRAL_BENCH_OBJECTS` scales the
//! object count (default 100,000). Figures go to BENCH.md by hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use corral_api::{FieldSelector, KubeObject, LabelSelector, ObjectKey, ResourceKind, Revision};
use corral_core::SimRng;
use corral_core::clock::epoch;
use corral_store::{
    Backend, CommitBatch, JsonBytes, ListRequest, LoadSink, MemoryBackend, ObjectStore,
    Representation, Store, StoreConfig, StoreError, Txn, TxnOp, WatchRequest,
};
use corral_store_redb::RedbBackend;

const LABEL_VALUES: usize = 1_000;
const WRITERS: usize = 64;
const CURSORS: usize = 1_000;
const POLLERS: usize = 2;
const WATCH_COMMITS: usize = 200;

/// A ~5 KB Pod: two containers with env, resources, mounts, probes, and annotations.
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
            "labels": {"app": format!("app-{}", app % LABEL_VALUES), "tier": "web", "team": "batch"},
            "annotations": {"example.com/notes": "n".repeat(600)}},
        "spec": {"containers": [container("main"), container("sidecar")], "nodeName": format!("node-{}", app % 50),
            "restartPolicy": "Never", "volumes": [{"name": "data", "emptyDir": {}}, {"name": "config", "configMap": {"name": "cfg"}}]},
        "status": {"phase": "Running", "podIP": "10.0.0.1"},
    });
    KubeObject::from_value(ResourceKind::Pod, body).expect("bench pod decodes")
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn percentile(samples: &mut [Duration], fraction: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * fraction).round() as usize;
    samples.get(index).copied().unwrap_or_default()
}

fn report(label: &str, samples: &mut [Duration]) {
    let p50 = percentile(samples, 0.50);
    let p99 = percentile(samples, 0.99);
    println!(
        "{label}: p50 {:.3} ms, p99 {:.3} ms ({} samples)",
        ms(p50),
        ms(p99),
        samples.len()
    );
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Counts backend commits, to report transactions per fsync.
struct CountingBackend<B: Backend> {
    inner: B,
    commits: Arc<AtomicU64>,
}

impl<B: Backend> Backend for CountingBackend<B> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn load(&self, sink: &mut LoadSink<'_>) -> Result<Revision, StoreError> {
        self.inner.load(sink)
    }
    fn commit(&self, batch: &CommitBatch<'_>) -> Result<(), StoreError> {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.inner.commit(batch)
    }
    fn needs_values(&self) -> bool {
        self.inner.needs_values()
    }
}

/// The raw disk: median and p99 fdatasync of a 160 KB write (one typical batch).
fn fsync_probe(dir: &std::path::Path) {
    use std::io::Write;
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![7u8; 160 * 1024];
    let mut samples = Vec::new();
    for _ in 0..100 {
        file.write_all(&block).unwrap();
        let started = Instant::now();
        file.sync_data().unwrap();
        samples.push(started.elapsed());
    }
    report("disk: fdatasync after a 160 KB write", &mut samples);
    let _ = std::fs::remove_file(path);
}

/// Builds an in-memory store of `count` pods and reports resident memory per object.
fn memory_per_object(count: usize) -> Arc<Store<JsonBytes>> {
    let before = resident_bytes();
    let store = Arc::new(
        Store::<JsonBytes>::open(Box::new(MemoryBackend), StoreConfig::default()).unwrap(),
    );
    let mut encoded_total = 0u64;
    for index in 0..count {
        let txn = Txn {
            compares: vec![],
            ops: vec![TxnOp::Put(pod(&format!("pod-{index:06}"), index))],
        };
        let outcome = store.txn(txn).unwrap();
        if let corral_store::TxnOutcome::Committed { results, .. } = outcome {
            encoded_total += results[0]
                .as_ref()
                .map_or(0, |v| v.value.json().len() as u64);
        }
    }
    store.compact(store.current_revision()).unwrap();
    let after = resident_bytes();
    let encoded = encoded_total as f64 / count as f64;
    let resident = (after.saturating_sub(before)) as f64 / count as f64;
    println!(
        "memory: {count} pods, encoded JSON {encoded:.0} B/object, resident {resident:.0} B/object, overhead {:.0} B/object",
        resident - encoded
    );
    store
}

fn list_benchmarks(store: &Store<JsonBytes>, count: usize) {
    let mut rng = SimRng::seed_from_u64(42);
    let selector = |text: &str| LabelSelector::parse(text).unwrap();
    let mut selective = Vec::new();
    for _ in 0..300 {
        let request = ListRequest {
            label_selector: selector(&format!("app=app-{}", rng.below(LABEL_VALUES as u64))),
            ..ListRequest::all(ResourceKind::Pod)
        };
        let started = Instant::now();
        let page = store.list(&request).unwrap();
        selective.push(started.elapsed());
        assert_eq!(page.items.len(), count / LABEL_VALUES);
    }
    report(
        &format!(
            "list by label selector, {} of {count} match",
            count / LABEL_VALUES
        ),
        &mut selective,
    );
    let mut first_page = Vec::new();
    let mut by_field = Vec::new();
    for _ in 0..300 {
        let request = ListRequest {
            label_selector: selector("tier=web"),
            limit: Some(100),
            ..ListRequest::all(ResourceKind::Pod)
        };
        let started = Instant::now();
        assert_eq!(store.list(&request).unwrap().items.len(), 100);
        first_page.push(started.elapsed());
        let request = ListRequest {
            field_selector: FieldSelector::parse(&format!("spec.nodeName=node-{}", rng.below(50)))
                .unwrap(),
            limit: Some(100),
            ..ListRequest::all(ResourceKind::Pod)
        };
        let started = Instant::now();
        store.list(&request).unwrap();
        by_field.push(started.elapsed());
    }
    report(
        "list limit=100, label selector matching all (first page)",
        &mut first_page,
    );
    report(
        "list limit=100, field selector spec.nodeName (1 in 50 match)",
        &mut by_field,
    );
    let mut full = Vec::new();
    let mut full_with_body = Vec::new();
    // One reused buffer, as a server streaming into a socket buffer would; a fresh 500 MB
    // allocation per iteration would measure page faults instead.
    let mut body = Vec::with_capacity(count * 5_100);
    for _ in 0..20 {
        let started = Instant::now();
        let page = store.list(&ListRequest::all(ResourceKind::Pod)).unwrap();
        full.push(started.elapsed());
        body.clear();
        for item in &page.items {
            body.extend_from_slice(JsonBytes::to_bytes(&item.value).as_ref());
            body.push(b',');
        }
        full_with_body.push(started.elapsed());
        assert_eq!(page.items.len(), count);
    }
    report(&format!("full list of {count}"), &mut full);
    report(
        &format!("full list of {count} + copying every object's JSON into one body"),
        &mut full_with_body,
    );
}

/// 64 threads create `count` pods; reports creates/s and creates per backend commit.
fn concurrent_creates(label: &str, backend: Box<dyn Backend>, commits: &AtomicU64, count: usize) {
    let store = ObjectStore::new(Arc::new(
        Store::<JsonBytes>::open(backend, StoreConfig::default()).unwrap(),
    ));
    let templates: Arc<Vec<KubeObject>> = Arc::new((0..LABEL_VALUES).map(|i| pod("", i)).collect());
    let started = Instant::now();
    let threads: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (store, templates) = (store.clone(), Arc::clone(&templates));
            std::thread::spawn(move || {
                let mut rng = SimRng::seed_from_u64(writer as u64);
                for index in (writer..count).step_by(WRITERS) {
                    let mut object = templates[index % LABEL_VALUES].clone();
                    object.meta_mut().name = Some(format!("pod-{index:06}"));
                    store.create(object, epoch(), &mut rng, false).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let elapsed = started.elapsed();
    let batches = commits.load(Ordering::Relaxed);
    println!(
        "{label}, {WRITERS} writer threads: {count} in {:.2} s = {:.0} creates/s, {batches} commits ({:.1} creates per commit)",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64(),
        count as f64 / batches.max(1) as f64
    );
}

fn reopen(dir: &std::path::Path) -> Arc<Store<JsonBytes>> {
    let started = Instant::now();
    let store = Arc::new(
        Store::<JsonBytes>::open(
            Box::new(RedbBackend::open(dir).unwrap()),
            StoreConfig::default(),
        )
        .unwrap(),
    );
    println!(
        "reopen of {} objects from redb: {:.2} s",
        store.stats().objects,
        started.elapsed().as_secs_f64()
    );
    store
}

/// Commit times (from the store's listener) and each poller's progress.
#[derive(Default)]
struct WatchProgress {
    committed: Revision,
    commit_times: Vec<(Revision, Instant)>,
    pollers_at: Vec<Revision>,
}

#[derive(Default)]
struct Signal {
    progress: Mutex<WatchProgress>,
    changed: Condvar,
}

fn watch_latency(store: Arc<Store<JsonBytes>>) {
    let signal = Arc::new(Signal::default());
    let listener_signal = Arc::clone(&signal);
    store.subscribe(Arc::new(move |revision| {
        let now = Instant::now();
        let mut progress = listener_signal.progress.lock().unwrap();
        progress.committed = progress.committed.max(revision);
        progress.commit_times.push((revision, now));
        listener_signal.changed.notify_all();
    }));
    let start = store.current_revision();
    let end = Revision(start.0 + WATCH_COMMITS as u64);
    signal.progress.lock().unwrap().pollers_at = vec![start; POLLERS];
    let pollers: Vec<_> = (0..POLLERS)
        .map(|poller| {
            let mut cursors: Vec<_> = (0..CURSORS / POLLERS)
                .map(|_| {
                    store
                        .watch(WatchRequest::all(ResourceKind::Pod, start))
                        .unwrap()
                })
                .collect();
            let (store, signal) = (Arc::clone(&store), Arc::clone(&signal));
            std::thread::spawn(move || poll_until(&store, &signal, poller, &mut cursors, end))
        })
        .collect();
    for index in 0..WATCH_COMMITS {
        let key = ObjectKey::new(ResourceKind::Pod, "bench", &format!("pod-{index:06}"));
        let mut object = (*JsonBytes::decode(&store.get(&key).unwrap().value).unwrap()).clone();
        object
            .meta_mut()
            .annotations
            .get_or_insert_default()
            .insert("bench/touch".into(), index.to_string());
        store
            .txn(Txn {
                compares: vec![],
                ops: vec![TxnOp::Put(object)],
            })
            .unwrap();
        // One commit at a time: wait until every cursor saw it, so each sample is one
        // isolated delivery, not a queue behind earlier commits.
        let revision = Revision(start.0 + index as u64 + 1);
        let progress = signal.progress.lock().unwrap();
        let _unused = signal
            .changed
            .wait_timeout_while(progress, Duration::from_secs(10), |p| {
                p.pollers_at.iter().any(|r| *r < revision)
            })
            .unwrap();
    }
    let mut samples: Vec<Duration> = pollers
        .into_iter()
        .flat_map(|p| p.join().unwrap())
        .collect();
    report(
        &format!("watch delivery commit -> poll, {CURSORS} cursors, {POLLERS} poller threads"),
        &mut samples,
    );
}

fn poll_until(
    store: &Store<JsonBytes>,
    signal: &Signal,
    poller: usize,
    cursors: &mut [corral_store::WatchCursor],
    end: Revision,
) -> Vec<Duration> {
    let mut samples = Vec::new();
    let mut seen = cursors
        .iter()
        .map(|c| c.position())
        .min()
        .unwrap_or_default();
    while seen < end {
        let commit_times = {
            let progress = signal.progress.lock().unwrap();
            let progress = signal
                .changed
                .wait_while(progress, |p| p.committed <= seen)
                .unwrap();
            progress.commit_times.clone()
        };
        for cursor in cursors.iter_mut() {
            for event in store.poll_watch(cursor, 16).unwrap() {
                let at = commit_times
                    .iter()
                    .find(|(r, _)| *r >= event.revision())
                    .map(|(_, t)| *t);
                if let Some(at) = at {
                    samples.push(at.elapsed());
                }
            }
        }
        seen = cursors
            .iter()
            .map(|c| c.position())
            .min()
            .unwrap_or_default();
        signal.progress.lock().unwrap().pollers_at[poller] = seen;
        signal.changed.notify_all();
    }
    samples
}

fn main() {
    let count: usize = std::env::var("CORRAL_BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!(
        "corral-store bench: {count} objects, pod JSON {} bytes",
        pod("pod-000000", 0).to_json_vec().len()
    );
    let memory_store = memory_per_object(count);
    list_benchmarks(&memory_store, count);
    drop(memory_store);
    let dir = tempfile::tempdir().unwrap();
    fsync_probe(dir.path());
    let commits = Arc::new(AtomicU64::new(0));
    let memory = CountingBackend {
        inner: MemoryBackend,
        commits: Arc::clone(&commits),
    };
    concurrent_creates(
        "creates in memory (CPU ceiling, no disk)",
        Box::new(memory),
        &commits,
        count,
    );
    let commits = Arc::new(AtomicU64::new(0));
    let redb = CountingBackend {
        inner: RedbBackend::open(dir.path()).unwrap(),
        commits: Arc::clone(&commits),
    };
    concurrent_creates("durable creates on redb", Box::new(redb), &commits, count);
    fsync_probe(dir.path());
    let store = reopen(dir.path());
    watch_latency(store);
}
