//! Pod start benchmark (release, `harness = false`).
//!
//! Goal: (1) latency from a pod bound to the node (created with `spec.nodeName`) to its
//! Running status seen on a watch, with real processes, at 50, 100 and 200 starts/s;
//! (2) sustained throughput of short-lived pods (`true`) from creation to Succeeded.
//! Method: a real `ApiService` (memory store) and the in-process node agent; a watch on
//! the node's pods timestamps phase changes; finished pods are deleted (grace 0) as a
//! TTL or pod GC would, so the node does not accumulate them.
//!
//! Run: `cargo bench -p corral-agent --bench pod_start` (`-- --quick` for a short run).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_agent::{AgentConfig, NodeAgent, RoutingLogSource};
use corral_api::resource::resource_of;
use corral_api::{KubeObject, ResourceKind};
use corral_apiserver::service::{DeleteParams, ListOptions, Target, UserInfo, WatchObject};
use corral_apiserver::{ApiClient, ApiService};
use corral_store::{MemoryBackend, Store, StoreConfig};
use k8s_openapi::api::core::v1::Pod;
use parking_lot::Mutex;
use serde_json::json;

#[derive(Default)]
struct Seen {
    created: HashMap<String, Instant>,
    running: HashMap<String, Duration>,
    succeeded: HashMap<String, Duration>,
    failed: usize,
}

fn pod(node: &str, name: &str, command: &[&str]) -> Pod {
    let value = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node, "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "main", "image": "busybox:1.36", "command": command}]}
    });
    KubeObject::from_value(ResourceKind::Pod, value)
        .unwrap()
        .into_typed()
        .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Watches the node's pods: records Running/Succeeded times and deletes finished pods.
fn spawn_watcher(service: &ApiService, client: &ApiClient, node: &str, seen: Arc<Mutex<Seen>>) {
    let target = Target::collection(resource_of(ResourceKind::Pod), None);
    let options = ListOptions {
        field_selector: format!("spec.nodeName={node}"),
        resource_version: Some(service.store().current_revision().to_string()),
        ..Default::default()
    };
    let mut stream = service.watch(&target, &options).unwrap();
    let client = client.clone();
    tokio::spawn(async move {
        while let Some(item) = stream.next().await {
            let WatchObject::Object(encoded) = item.object else {
                continue;
            };
            let Ok(object) = KubeObject::from_json_slice(ResourceKind::Pod, encoded.json()) else {
                continue;
            };
            let Some(pod) = object.as_typed::<Pod>() else {
                continue;
            };
            if pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let name = pod.metadata.name.clone().unwrap_or_default();
            let phase = pod
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default();
            let now = Instant::now();
            let mut seen = seen.lock();
            let Some(created) = seen.created.get(&name).copied() else {
                continue;
            };
            match phase.as_str() {
                "Running" => {
                    seen.running.entry(name).or_insert(now - created);
                }
                "Succeeded" | "Failed" => {
                    if phase == "Failed" {
                        seen.failed += 1;
                    }
                    if seen.succeeded.insert(name.clone(), now - created).is_none() {
                        let client = client.clone();
                        tokio::spawn(async move {
                            let params = DeleteParams {
                                grace_period_seconds: Some(0),
                                ..Default::default()
                            };
                            let _ = client.delete::<Pod>("default", &name, &params).await;
                        });
                    }
                }
                _ => {}
            }
        }
    });
}

async fn latency_phase(
    client: &ApiClient,
    node: &str,
    seen: &Arc<Mutex<Seen>>,
    rate: u32,
    seconds: u32,
) {
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let start = Instant::now();
    let mut names = Vec::new();
    for i in 0..total {
        let due = start + interval * i;
        tokio::time::sleep_until(due.into()).await;
        let name = format!("lat-{rate}-{i}");
        names.push(name.clone());
        seen.lock().created.insert(name.clone(), Instant::now());
        let client = client.clone();
        let pod = pod(node, &name, &["sleep", "0.3"]);
        tokio::spawn(async move {
            client.create(&pod).await.expect("create");
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = {
            let s = seen.lock();
            names.iter().all(|n| s.succeeded.contains_key(n))
        };
        if done || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s = seen.lock();
    let mut latencies: Vec<Duration> = names
        .iter()
        .filter_map(|n| s.running.get(n).copied())
        .collect();
    latencies.sort();
    let missing = names.len() - latencies.len();
    println!(
        "start latency at {rate:>3}/s x {seconds}s: n={} p50={:.1}ms p90={:.1}ms p99={:.1}ms max={:.1}ms (Running not observed: {missing})",
        latencies.len(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.9).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

async fn throughput_phase(
    client: &ApiClient,
    node: &str,
    seen: &Arc<Mutex<Seen>>,
    seconds: u64,
    creators: usize,
) {
    let start = Instant::now();
    let window = Duration::from_secs(seconds);
    let before = seen.lock().succeeded.len();
    let mut tasks = Vec::new();
    for worker in 0..creators {
        let client = client.clone();
        let seen = Arc::clone(seen);
        let node = node.to_string();
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while start.elapsed() < window {
                // Keep the node's backlog bounded: wait while too many pods are unfinished.
                loop {
                    let backlog = {
                        let s = seen.lock();
                        s.created.len() - s.succeeded.len()
                    };
                    if backlog < 400 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                let name = format!("tp-{worker}-{i}");
                i += 1;
                seen.lock().created.insert(name.clone(), Instant::now());
                client
                    .create(&pod(&node, &name, &["true"]))
                    .await
                    .expect("create");
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let created_all = seen.lock().created.len();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.lock().succeeded.len() < created_all && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = start.elapsed();
    let s = seen.lock();
    let finished = s.succeeded.len() - before;
    let mut latencies: Vec<Duration> = s
        .succeeded
        .iter()
        .filter(|(n, _)| n.starts_with("tp-"))
        .map(|(_, d)| *d)
        .collect();
    latencies.sort();
    println!(
        "sustained short-lived pods ({creators} creators, {seconds}s of creation): {finished} pods to Succeeded in {:.2}s = {:.0} pods/s; create→Succeeded p50={:.0}ms p99={:.0}ms; failed={}",
        elapsed.as_secs_f64(),
        finished as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        s.failed,
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let node = "bench-node".to_string();
        let mut config = AgentConfig::new(&node, dir.path().join("data"));
        config.capacity.pods = Some(100_000);
        let logs = Arc::new(RoutingLogSource::new().with_local_node(&node, &config.data_dir));
        let store = Arc::new(Store::open(Box::new(MemoryBackend), StoreConfig::default()).unwrap());
        let service = ApiService::builder(store).log_source(logs.clone()).build();
        logs.attach(service.clone());
        service.ensure_system_namespaces().unwrap();
        let client = service.client(UserInfo::system("bench"));
        let agent = NodeAgent::start_local(&service, config).await.unwrap();
        println!(
            "host: {} cpus; {}",
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            agent.capabilities().describe()
        );
        let load = || {
            std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        println!("load average at start: {}", load());
        let seen = Arc::new(Mutex::new(Seen::default()));
        spawn_watcher(&service, &client, &node, Arc::clone(&seen));
        let seconds = if quick { 2 } else { 5 };
        for rate in [50, 100, 200] {
            latency_phase(&client, &node, &seen, rate, seconds).await;
        }
        throughput_phase(&client, &node, &seen, if quick { 3 } else { 10 }, 16).await;
        println!("load average at end: {}", load());
        agent.shutdown().await;
    });
}
