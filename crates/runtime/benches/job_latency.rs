//! Job start latency under load: Job created → its Pod created, with many Jobs and pods
//! already in the store, through the real API service, shared informer and Job
//! controller driver (wall clock, multi-threaded runtime).
//!
//! ```text
//! cargo bench -p corral-runtime --bench job_latency -- \
//!     [--existing 100000] [--active-percent 10] [--rate 100] [--seconds 30] \
//!     [--qps 1000] [--burst 2000] [--all-controllers] [--profile corral|upstream]
//! ```
//!
//! `--profile` picks the controllers' settings (`ControllerManagerConfig::corral()` or
//! `::upstream()`, default `upstream`, the figures before the guards); the client limit is
//! `--qps`/`--burst` either way, so the two profiles are compared at equal limits. To
//! attribute the cost of guard 1 under `corral`: `--detached-max 0` runs detachable plans
//! inline (the driver never detaches), `--blocking-creates` turns the Job controller's
//! `non_blocking_creates` off (no detach marker: creates first, as upstream).
//!
//! Method: the existing Jobs (finished ones with a Succeeded pod, active ones with a
//! Running pod holding the tracking finalizer, all in one namespace) are written straight
//! into the store in batches; then the controller manager starts, lists everything and
//! syncs every Job once (a controller restart). When its queue has drained, new Jobs are
//! created through the API at `--rate` per second for `--seconds`; a watch on pods records
//! when each new Job's pod appears. Latency = pod seen by the watch − start of the Job's
//! create call. The Job controller's mean sync cost during the load phase is reported
//! too, to compare namespaces of different sizes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use corral_api::{KubeObject, ResourceKind, Uid};
use corral_apiserver::ApiService;
use corral_apiserver::service::{ListParams, TypedWatchEvent, UserInfo};
use corral_core::{Clock, SimRng};
use corral_runtime::{
    ClientRateLimit, ControllerManager, ControllerManagerConfig, Profile, SystemClock,
};
use corral_store::{JsonBytes, MemoryBackend, Store, StoreConfig, Txn, TxnOp};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

const NAMESPACE: &str = "default";
const BATCH: usize = 500;

#[derive(Debug, Clone)]
struct Args {
    existing: usize,
    active_percent: usize,
    rate: f64,
    seconds: u64,
    qps: f64,
    burst: u32,
    all_controllers: bool,
    profile: Profile,
    detached_max: Option<usize>,
    blocking_creates: bool,
}

impl Args {
    /// The profile and its variant, for the table.
    fn label(&self) -> String {
        let mut label = self.profile.to_string();
        if let Some(max) = self.detached_max {
            label.push_str(&format!(", detached max {max}"));
        }
        if self.blocking_creates {
            label.push_str(", blocking creates");
        }
        label
    }
}

fn parse_args() -> Args {
    let mut args = Args {
        existing: 100_000,
        active_percent: 10,
        rate: 100.0,
        seconds: 30,
        qps: 1000.0,
        burst: 2000,
        all_controllers: false,
        profile: Profile::Upstream,
        detached_max: None,
        blocking_creates: false,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let mut iter = raw.iter();
    while let Some(flag) = iter.next() {
        let mut value = || iter.next().cloned().unwrap_or_default();
        match flag.as_str() {
            "--existing" => args.existing = value().parse().unwrap_or(args.existing),
            "--active-percent" => {
                args.active_percent = value().parse().unwrap_or(args.active_percent)
            }
            "--rate" => args.rate = value().parse().unwrap_or(args.rate),
            "--seconds" => args.seconds = value().parse().unwrap_or(args.seconds),
            "--qps" => args.qps = value().parse().unwrap_or(args.qps),
            "--burst" => args.burst = value().parse().unwrap_or(args.burst),
            "--all-controllers" => args.all_controllers = true,
            "--profile" => args.profile = value().parse().unwrap_or(args.profile),
            "--detached-max" => args.detached_max = value().parse().ok(),
            "--blocking-creates" => args.blocking_creates = true,
            _ => {} // `--bench` and friends from cargo
        }
    }
    args
}

fn main() {
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(args));
}

fn job_manifest(name: &str) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}],
        }}},
    })
}

fn typed<T: corral_api::TypedObject>(value: Value) -> T {
    T::take(KubeObject::from_value(T::KIND, value).expect("decodes")).expect("kind")
}

async fn run(args: Args) {
    println!("args: {args:?}");
    let store =
        Store::<JsonBytes>::open(Box::new(MemoryBackend), StoreConfig::default()).expect("store");
    let api = ApiService::builder(Arc::new(store)).seed(1).build();
    api.ensure_system_namespaces().expect("namespaces");
    let client = api.client(UserInfo::system("bench"));

    let started = Instant::now();
    let template = defaulted_job(&api).await;
    populate(&api, &template, &args);
    println!(
        "populated {} Jobs + {} pods in {:.1} s (store revision {})",
        args.existing,
        args.existing,
        started.elapsed().as_secs_f64(),
        api.store().current_revision()
    );

    let config = manager_config(&args);
    let started = Instant::now();
    let manager = ControllerManager::start(api.clone(), config);
    assert!(manager.wait_for_sync().await);
    let synced = started.elapsed();
    wait_for_drain(&manager).await;
    let job_metrics = manager
        .controller_metrics("job")
        .expect("job controller")
        .clone();
    println!(
        "informer synced in {:.1} s; initial Job syncs drained in {:.1} s ({} syncs)",
        synced.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        job_metrics.syncs()
    );

    let before = (
        job_metrics.syncs(),
        job_metrics.work_time(),
        job_metrics.reconcile_time(),
    );
    let latencies = load(&client, &api, &args).await;
    let after = (
        job_metrics.syncs(),
        job_metrics.work_time(),
        job_metrics.reconcile_time(),
    );
    report(&args, &latencies, before, after);
    println!(
        "profile {}: job queue fair = {}, detached tails started {} (inline at the cap {})",
        args.profile,
        manager.job_controller().is_some_and(|j| j.is_fair()),
        job_metrics.detached_started_total(),
        job_metrics.detached_inline_total(),
    );
    manager.shutdown().await.expect("shutdown");
}

/// A Job as the API server defaults it, read back and deleted before the controllers run.
async fn defaulted_job(api: &ApiService) -> Value {
    let client = api.client(UserInfo::system("bench"));
    let created = client
        .create(&typed::<Job>(job_manifest("template")))
        .await
        .expect("template job");
    client
        .delete::<Job>(NAMESPACE, "template", &Default::default())
        .await
        .expect("delete template");
    KubeObject::from(created).to_value()
}

fn manager_config(args: &Args) -> ControllerManagerConfig {
    let mut profile = ControllerManagerConfig::for_profile(args.profile);
    if let Some(max) = args.detached_max {
        profile.detached_max = max;
    }
    if let (true, Some(job)) = (args.blocking_creates, profile.job.as_mut()) {
        job.guards.non_blocking_creates = false;
    }
    let base = if args.all_controllers {
        ControllerManagerConfig {
            // 12,500-terminated-pod threshold would delete most of the existing pods.
            pod_gc: None,
            ..profile
        }
    } else {
        ControllerManagerConfig {
            job: profile.job.clone(),
            ..ControllerManagerConfig::none()
        }
    };
    base.with_clock(Arc::new(SystemClock))
        .with_client_rate_limit(ClientRateLimit {
            qps: args.qps,
            burst: args.burst,
        })
}

/// Writes the existing Jobs and pods straight into the store, `BATCH` per transaction.
fn populate(api: &ApiService, template: &Value, args: &Args) {
    let mut rng = SimRng::seed_from_u64(42);
    let now = SystemClock.now();
    let active_every = if args.active_percent == 0 {
        usize::MAX
    } else {
        100 / args.active_percent.max(1)
    };
    let mut ops = Vec::with_capacity(BATCH * 2);
    for index in 0..args.existing {
        let name = format!("existing-{index:06}");
        let uid = Uid::from_random_bits(rng.next_u128()).0;
        let active = index % active_every == 0;
        let stamp = serde_json::to_value(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now))
            .unwrap_or(Value::Null);
        let (job, pod) = existing_pair(template, &name, &uid, active, &stamp, &mut rng);
        ops.push(TxnOp::Put(job));
        ops.push(TxnOp::Put(pod));
        if ops.len() >= BATCH * 2 {
            commit(api, std::mem::take(&mut ops));
        }
    }
    if !ops.is_empty() {
        commit(api, ops);
    }
}

fn commit(api: &ApiService, ops: Vec<TxnOp>) {
    api.store()
        .txn(Txn {
            compares: Vec::new(),
            ops,
        })
        .expect("populate commit");
}

fn existing_pair(
    template: &Value,
    name: &str,
    uid: &str,
    active: bool,
    stamp: &Value,
    rng: &mut SimRng,
) -> (KubeObject, KubeObject) {
    let mut job = template.clone();
    job["metadata"]["name"] = json!(name);
    job["metadata"]["uid"] = json!(uid);
    job["metadata"]["creationTimestamp"] = stamp.clone();
    job["metadata"]["resourceVersion"] = Value::Null;
    job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"] = json!(uid);
    let labels = &mut job["spec"]["template"]["metadata"]["labels"];
    for key in ["batch.kubernetes.io/controller-uid", "controller-uid"] {
        labels[key] = json!(uid);
    }
    for key in ["batch.kubernetes.io/job-name", "job-name"] {
        labels[key] = json!(name);
    }
    job["status"] = if active {
        json!({"active": 1, "ready": 0, "terminating": 0, "startTime": stamp, "uncountedTerminatedPods": {}})
    } else {
        json!({"succeeded": 1, "ready": 0, "terminating": 0, "startTime": stamp, "completionTime": stamp,
            "uncountedTerminatedPods": {},
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods", "lastProbeTime": stamp, "lastTransitionTime": stamp},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods", "lastProbeTime": stamp, "lastTransitionTime": stamp}]})
    };
    let pod_labels = job["spec"]["template"]["metadata"]["labels"].clone();
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("{name}-{}", rng.name_suffix(5)),
            "namespace": NAMESPACE,
            "uid": Uid::from_random_bits(rng.next_u128()).0,
            "creationTimestamp": stamp,
            "labels": pod_labels,
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid,
                "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": job["spec"]["template"]["spec"].clone(),
        "status": {"phase": if active { "Running" } else { "Succeeded" }},
    });
    pod["spec"]["nodeName"] = json!("node-1");
    if active {
        pod["metadata"]["finalizers"] = json!(["batch.kubernetes.io/job-tracking"]);
    }
    let job = KubeObject::from_value(ResourceKind::Job, job).expect("job decodes");
    let pod = KubeObject::from_value(ResourceKind::Pod, pod).expect("pod decodes");
    (job, pod)
}

/// Waits until the Job controller has had nothing ready or in progress for 2 s.
async fn wait_for_drain(manager: &corral_runtime::ControllerManagerHandle) {
    let mut quiet_since: Option<Instant> = None;
    loop {
        let busy = manager
            .queue_stats()
            .iter()
            .any(|(_, stats)| !stats.is_idle());
        match (busy, quiet_since) {
            (true, _) => quiet_since = None,
            (false, None) => quiet_since = Some(Instant::now()),
            (false, Some(since)) if since.elapsed() >= Duration::from_secs(2) => return,
            (false, Some(_)) => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates Jobs at the configured rate; returns each Job's create-to-pod latency.
async fn load(
    client: &corral_apiserver::ApiClient,
    api: &ApiService,
    args: &Args,
) -> Vec<Duration> {
    let count = (args.rate * args.seconds as f64).round() as usize;
    let (seen_sender, mut seen) = mpsc::channel::<(String, Instant)>(count.max(1));
    let watch_params = ListParams {
        resource_version: Some(api.store().current_revision()),
        ..ListParams::default()
    };
    let mut watch = client
        .watch::<Pod>(Some(NAMESPACE), &watch_params)
        .await
        .expect("pod watch");
    let watcher = tokio::spawn(async move {
        while let Some(Ok(event)) = watch.next().await {
            if let TypedWatchEvent::Added(pod) = event {
                let job = pod
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("job-name"))
                    .cloned()
                    .unwrap_or_default();
                if job.starts_with("load-")
                    && seen_sender.send((job, Instant::now())).await.is_err()
                {
                    return;
                }
            }
        }
    });
    let interval = Duration::from_secs_f64(1.0 / args.rate.max(0.001));
    let origin = Instant::now();
    let mut starts: HashMap<String, Instant> = HashMap::with_capacity(count);
    for index in 0..count {
        tokio::time::sleep_until(origin + interval * index as u32).await;
        let name = format!("load-{index:06}");
        starts.insert(name.clone(), Instant::now());
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(error) = client.create(&typed::<Job>(job_manifest(&name))).await {
                eprintln!("create {name}: {error}");
            }
        });
    }
    let mut latencies = Vec::with_capacity(count);
    let deadline = Instant::now() + Duration::from_secs(600);
    while latencies.len() < count {
        match tokio::time::timeout_at(deadline, seen.recv()).await {
            Ok(Some((job, at))) => {
                if let Some(start) = starts.remove(&job) {
                    latencies.push(at.saturating_duration_since(start));
                }
            }
            _ => break,
        }
    }
    watcher.abort();
    if latencies.len() < count {
        println!("WARNING: only {} of {count} pods seen", latencies.len());
    }
    latencies
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(
    args: &Args,
    latencies: &[Duration],
    before: (u64, Duration, Duration),
    after: (u64, Duration, Duration),
) {
    let mut sorted = latencies.to_vec();
    sorted.sort();
    let syncs = after.0.saturating_sub(before.0).max(1);
    let work = (after.1.saturating_sub(before.1)) / syncs as u32;
    let reconcile = (after.2.saturating_sub(before.2)) / syncs as u32;
    println!(
        "latency (Job create → pod seen), {} Jobs at {}/s: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        sorted.len(),
        args.rate,
        millis(percentile(&sorted, 50.0)),
        millis(percentile(&sorted, 90.0)),
        millis(percentile(&sorted, 99.0)),
        millis(sorted.last().copied().unwrap_or_default()),
    );
    println!(
        "job controller during load: {} syncs, mean sync {:.3} ms (reconcile alone {:.1} µs)",
        syncs,
        millis(work),
        reconcile.as_secs_f64() * 1e6,
    );
    println!(
        "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.3} | {:.1} |",
        args.label(),
        args.existing,
        args.rate,
        args.qps,
        millis(percentile(&sorted, 50.0)),
        millis(percentile(&sorted, 99.0)),
        millis(sorted.last().copied().unwrap_or_default()),
        millis(work),
        reconcile.as_secs_f64() * 1e6,
    );
}
