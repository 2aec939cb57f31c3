//! HTTP benchmarks of the API server (harness = false; see BENCH.md for figures).
//!
//! ```text
//! cargo bench -p corral-apiserver --bench http -- creates [--memory] [--total N] [--workers W]
//! cargo bench -p corral-apiserver --bench http -- latency [--memory] [--rate R] [--seconds S]
//! cargo bench -p corral-apiserver --bench http -- watch [--watchers N] [--events E]
//! cargo bench -p corral-apiserver --bench http -- load-jobs --server URL --kubeconfig PATH --total N
//! ```
//!
//! - `creates`: closed-loop throughput of ~5 KB Job creates over HTTPS/HTTP2 from W
//!   concurrent workers on 8 connections, against the durable redb store (or memory).
//! - `latency`: open-loop creates at a fixed rate; p50/p99/max latency.
//! - `watch`: N watchers (100 streams per HTTP/2 connection), then E commits; the delay
//!   from each durable commit (store listener) to each watcher receiving the event.
//! - `load-jobs`: fills a running server with N Jobs (for the `kubectl get jobs -A` timing
//!   in BENCH.md).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corral_apiserver::{ApiService, Server, ServerConfig};
use corral_store::{Backend, JsonBytes, MemoryBackend, Store, StoreConfig};
use corral_store_redb::RedbBackend;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::Mutex;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::json;
use tokio_rustls::TlsConnector;

/// CPU seconds (user + system) this process has used, from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / 100.0
}

/// The 1-minute load average (other processes sharing the cores skew every figure).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

struct Args(Vec<String>);

impl Args {
    fn value(&self, name: &str, default: u64) -> u64 {
        self.0
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.0.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    fn text(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.0.get(i + 1))
            .cloned()
    }

    fn flag(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }
}

/// A ~5 KB Job.
fn job_body(name: &str) -> Bytes {
    job_with_payload(name, 4200)
}

/// A Job with an annotation of `payload` bytes (0: a plain ~600-byte Job).
fn job_with_payload(name: &str, payload: usize) -> Bytes {
    let body = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": {"bench": "http"}, "annotations": {"payload": "x".repeat(payload)}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "echo hello"]}]}}}
    });
    Bytes::from(serde_json::to_vec(&body).unwrap())
}

struct Connector {
    addr: std::net::SocketAddr,
    tls: TlsConnector,
}

impl Connector {
    fn new(addr: std::net::SocketAddr, ca: &str, cert: &str, key: &str) -> Connector {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
            .map(|c| c.unwrap())
            .collect();
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(
                chain,
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec()];
        Connector {
            addr,
            tls: TlsConnector::from(Arc::new(config)),
        }
    }

    async fn connect(&self) -> SendRequest<Full<Bytes>> {
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let tls = self
            .tls
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .initial_stream_window_size(4 << 20)
            .initial_connection_window_size(16 << 20)
            .handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(connection);
        sender
    }
}

async fn post(sender: &mut SendRequest<Full<Bytes>>, path: &str, body: Bytes) -> u16 {
    let request = Request::post(format!("https://localhost{path}"))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(Full::new(body))
        .unwrap();
    sender.ready().await.unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    status
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn start_server(memory: bool, dir: &std::path::Path) -> corral_apiserver::ServerHandle {
    let backend: Box<dyn Backend> = if memory {
        Box::new(MemoryBackend)
    } else {
        Box::new(RedbBackend::open(dir.join("data")).unwrap())
    };
    let store = Arc::new(Store::<JsonBytes>::open(backend, StoreConfig::default()).unwrap());
    let config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.to_path_buf());
    Server::start(config, ApiService::new(store)).await.unwrap()
}

fn connector_for(handle: &corral_apiserver::ServerHandle) -> Arc<Connector> {
    let pki = &handle.pki;
    Arc::new(Connector::new(
        handle.local_addr,
        &pki.ca_cert_pem,
        &pki.admin_cert_pem,
        &pki.admin_key_pem,
    ))
}

async fn creates(args: &Args) {
    let dir = tempfile::tempdir().unwrap();
    let memory = args.flag("--memory");
    let handle = start_server(memory, dir.path()).await;
    let connector = connector_for(&handle);
    let total = args.value("--total", 30_000);
    let workers = args.value("--workers", 128);
    let mut senders = Vec::new();
    for _ in 0..8 {
        senders.push(connector.connect().await);
    }
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let cpu = cpu_seconds();
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let mut sender = senders[worker as usize % senders.len()].clone();
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let mut failures = 0u64;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return failures;
                }
                if post(&mut sender, common::JOBS, job_body(&format!("job-{i}"))).await != 201 {
                    failures += 1;
                }
            }
        }));
    }
    let mut failures = 0;
    for task in tasks {
        failures += task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let cpu = cpu_seconds() - cpu;
    println!(
        "creates: {total} Jobs (~5 KB) in {:.2}s = {:.0}/s ({} store, {workers} workers, 8 HTTP/2 connections, {failures} failures); CPU {:.0} us/create (server + client)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        if memory { "memory" } else { "redb" },
        cpu * 1e6 / total as f64,
    );
    handle.shutdown().await;
}

async fn latency(args: &Args) {
    let dir = tempfile::tempdir().unwrap();
    let memory = args.flag("--memory");
    let handle = start_server(memory, dir.path()).await;
    let connector = connector_for(&handle);
    let rate = args.value("--rate", 5_000);
    let seconds = args.value("--seconds", 6);
    let mut senders = Vec::new();
    for _ in 0..8 {
        senders.push(connector.connect().await);
    }
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = tokio::time::Instant::now();
    let total = rate * seconds;
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        tokio::time::sleep_until(started + interval * i as u32).await;
        let mut sender = senders[i as usize % senders.len()].clone();
        let latencies = Arc::clone(&latencies);
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let status = post(&mut sender, common::JOBS, job_body(&format!("lat-{i}"))).await;
            latencies.lock().push((sent.elapsed(), status));
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let wall = started.elapsed();
    let results = std::mem::take(&mut *latencies.lock());
    let failures = results.iter().filter(|(_, s)| *s != 201).count();
    let mut codes: std::collections::BTreeMap<u16, usize> = std::collections::BTreeMap::new();
    for (_, status) in results.iter() {
        *codes.entry(*status).or_default() += 1;
    }
    let mut sorted: Vec<Duration> = results.iter().map(|(d, _)| *d).collect();
    sorted.sort();
    println!(
        "latency: {total} creates offered at {rate}/s over {:.1}s ({} store): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {failures} failures (codes {codes:?})",
        wall.as_secs_f64(),
        if memory { "memory" } else { "redb" },
        percentile(&sorted, 0.5).as_secs_f64() * 1e3,
        percentile(&sorted, 0.99).as_secs_f64() * 1e3,
        sorted.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    handle.shutdown().await;
}

/// The `resourceVersion` of a watch frame, found without parsing the whole frame (the
/// client shares the machine with the server; full parses would dominate the figure).
fn resource_version(frame: &[u8]) -> u64 {
    let needle = b"\"resourceVersion\":\"";
    let Some(start) = frame.windows(needle.len()).position(|w| w == needle) else {
        return 0;
    };
    frame[start + needle.len()..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0, |n, b| n * 10 + u64::from(b - b'0'))
}

/// Reads watch frames from one stream, reporting (revision, receive instant) of each.
async fn read_watch(
    response: http::Response<hyper::body::Incoming>,
    out: tokio::sync::mpsc::UnboundedSender<(u64, Instant)>,
) {
    let mut body = response.into_body();
    let mut buffer = Vec::new();
    while let Some(Ok(frame)) = body.frame().await {
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buffer.extend_from_slice(&data);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let received = Instant::now();
            let _ = out.send((resource_version(&line), received));
        }
    }
}

/// Opens `count` watches of `path`, 100 per HTTP/2 connection; every received frame
/// arrives on the returned channel as (resourceVersion, receive time).
async fn open_watchers(
    connector: &Connector,
    path: &str,
    count: u64,
) -> tokio::sync::mpsc::UnboundedReceiver<(u64, Instant)> {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let mut connections = Vec::new();
    for i in 0..count {
        if i % 100 == 0 {
            connections.push(connector.connect().await);
        }
        let mut connection = connections.last().unwrap().clone();
        let request = Request::get(format!("https://localhost{path}"))
            .header("accept", "application/json")
            .body(Full::new(Bytes::new()))
            .unwrap();
        connection.ready().await.unwrap();
        let response = connection.send_request(request).await.unwrap();
        tokio::spawn(read_watch(response, sender.clone()));
    }
    receiver
}

async fn watch(args: &Args) {
    let dir = tempfile::tempdir().unwrap();
    let handle = start_server(true, dir.path()).await;
    let connector = connector_for(&handle);
    let watchers = args.value("--watchers", 1_000);
    let events = args.value("--events", 200);
    let commits: Arc<Mutex<HashMap<u64, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let recorder = Arc::clone(&commits);
    handle
        .service
        .store()
        .subscribe(Arc::new(move |revision: corral_api::Revision| {
            recorder.lock().insert(revision.0, Instant::now());
        }));
    let revision = handle.service.store().current_revision();
    let path =
        format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={revision}");
    let mut receiver = open_watchers(&connector, &path, watchers).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut writer = connector.connect().await;
    let cm = |i: u64| {
        Bytes::from(
            serde_json::to_vec(
                &json!({"metadata": {"name": format!("cm-{i}")}, "data": {"k": "v"}}),
            )
            .unwrap(),
        )
    };
    let started = Instant::now();
    for i in 0..events {
        post(&mut writer, "/api/v1/namespaces/default/configmaps", cm(i)).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let expected = (watchers * events) as usize;
    let mut delays = Vec::with_capacity(expected);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while delays.len() < expected {
        let Ok(Some((rv, received))) = tokio::time::timeout_at(deadline, receiver.recv()).await
        else {
            break;
        };
        if let Some(committed) = commits.lock().get(&rv) {
            delays.push(received.saturating_duration_since(*committed));
        }
    }
    delays.sort();
    println!(
        "watch fan-out: {watchers} watchers x {events} commits in {:.1}s, {} deliveries: commit->received p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        started.elapsed().as_secs_f64(),
        delays.len(),
        percentile(&delays, 0.5).as_secs_f64() * 1e3,
        percentile(&delays, 0.99).as_secs_f64() * 1e3,
        delays.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    handle.shutdown().await;
}

/// The create pipeline without HTTP: `ApiService::create` from concurrent tasks.
async fn pipeline(args: &Args) {
    use corral_apiserver::service::{
        BodyFormat, FieldValidation, Target, UserInfo, WriteOptions, decode_body,
    };
    let memory = args.flag("--memory");
    let dir = tempfile::tempdir().unwrap();
    let backend: Box<dyn Backend> = if memory {
        Box::new(MemoryBackend)
    } else {
        Box::new(RedbBackend::open(dir.path()).unwrap())
    };
    let store = Arc::new(Store::<JsonBytes>::open(backend, StoreConfig::default()).unwrap());
    let service = ApiService::new(store);
    service.ensure_system_namespaces().unwrap();
    let total = args.value("--total", 30_000);
    let workers = args.value("--workers", 64);
    let target = Target::collection(
        corral_api::resource::find_resource("batch", "v1", "jobs").unwrap(),
        Some("default"),
    );
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let cpu = cpu_seconds();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (service, target, next) = (service.clone(), target.clone(), Arc::clone(&next));
        tasks.push(tokio::spawn(async move {
            let user = UserInfo::system("bench");
            let options = WriteOptions {
                field_validation: FieldValidation::Strict,
                ..WriteOptions::default()
            };
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return;
                }
                let body = decode_body(BodyFormat::Json, &job_body(&format!("job-{i}"))).unwrap();
                service
                    .create(&user, &target, body, &options)
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let cpu = cpu_seconds() - cpu;
    println!(
        "pipeline: {total} Job creates without HTTP in {:.2}s = {:.0}/s ({} store, {workers} tasks); CPU {:.0} us/create",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        if memory { "memory" } else { "redb" },
        cpu * 1e6 / total as f64,
    );
}

/// Fills a running server (kubeconfig of `corral up`) with Jobs.
async fn load_jobs(args: &Args) {
    let kubeconfig =
        std::fs::read_to_string(args.text("--kubeconfig").expect("--kubeconfig")).unwrap();
    let field = |name: &str| {
        let line = kubeconfig
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .expect(name);
        line.split_once(": ").unwrap().1.trim().to_string()
    };
    use base64::Engine;
    let decode = |v: String| {
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(v).unwrap()).unwrap()
    };
    let server = field("server").trim_start_matches("https://").to_string();
    let connector = Arc::new(Connector::new(
        server.parse().unwrap(),
        &decode(field("certificate-authority-data")),
        &decode(field("client-certificate-data")),
        &decode(field("client-key-data")),
    ));
    let total = args.value("--total", 100_000);
    let namespaces = args.value("--namespaces", 10);
    let payload = args.value("--payload", 0) as usize;
    let mut sender = connector.connect().await;
    for n in 0..namespaces {
        post(
            &mut sender,
            "/api/v1/namespaces",
            Bytes::from(serde_json::to_vec(&common::namespace(&format!("load-{n}"))).unwrap()),
        )
        .await;
    }
    let mut senders = vec![sender];
    for _ in 1..8 {
        senders.push(connector.connect().await);
    }
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..128usize {
        let mut sender = senders[worker % senders.len()].clone();
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return;
                }
                let path = format!("/apis/batch/v1/namespaces/load-{}/jobs", i % namespaces);
                post(
                    &mut sender,
                    &path,
                    job_with_payload(&format!("job-{i}"), payload),
                )
                .await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    println!(
        "loaded {total} Jobs in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    let args = Args(std::env::args().skip(1).collect());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mode = args
        .0
        .iter()
        .find(|a| !a.starts_with('-') && a.parse::<f64>().is_err())
        .cloned()
        .unwrap_or_else(|| "creates".into());
    println!("load average at start: {}", load_average());
    runtime.block_on(async {
        match mode.as_str() {
            "creates" => creates(&args).await,
            "latency" => latency(&args).await,
            "watch" => watch(&args).await,
            "load-jobs" => load_jobs(&args).await,
            "pipeline" => pipeline(&args).await,
            "all" => {
                creates(&args).await;
                latency(&args).await;
                watch(&args).await;
            }
            other => eprintln!("unknown mode {other}"),
        }
    });
    println!("load average at end: {}", load_average());
}
