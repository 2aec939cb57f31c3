//! Admission overhead (harness = false):
//!
//! ```text
//! cargo bench -p corral-apiserver --bench admission [-- --creates N]
//! ```
//!
//! In-process pod creates through `ApiService::create` (no HTTP) on an in-memory store,
//! one at a time:
//! 1. `baseline`: the minimal chain (NamespaceLifecycle + the registry step);
//! 2. `chain`: the production chain (`production_service`), no webhooks configured;
//! 3. `chain+webhook`: the production chain with one validating webhook on a local HTTPS
//!    server that allows at once;
//! 4. `webhook alone`: the same AdmissionReview POSTed directly with `WebhookClient`.
//!
//! Reported: mean and p50/p99 per create; the chain's overhead (2 − 1) and the latency a
//! webhook adds beyond its own round trip ((3 − 2) − 4).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use corral_api::resource::find_resource;
use corral_apiserver::service::{DecodedBody, Target, UserInfo, WriteOptions};
use corral_apiserver::{ApiService, ProductionOptions, production_service};
use corral_registry::admission::{
    CallId, ClientConfig, FailurePolicy, WebhookCall, WebhookResult, WebhookTarget,
};
use corral_store::{JsonBytes, MemoryBackend, Store, StoreConfig};
use corral_webhook::{ClientSettings, WebhookClient};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

fn store() -> Arc<Store<JsonBytes>> {
    Arc::new(Store::<JsonBytes>::open(Box::new(MemoryBackend), StoreConfig::default()).unwrap())
}

fn admin() -> UserInfo {
    UserInfo::new("admin", &["system:masters"])
}

async fn create(
    service: &ApiService,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
    body: Value,
) {
    // Every resource the bench creates is served at v1.
    let info = find_resource(group, "v1", resource).expect("resource");
    let target = Target::collection(info, namespace);
    service
        .create(
            &admin(),
            &target,
            DecodedBody::from_value(body),
            &WriteOptions::internal(),
        )
        .await
        .unwrap_or_else(|e| panic!("create {resource}: {e:?}"));
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
}

struct Sample {
    mean: Duration,
    p50: Duration,
    p99: Duration,
}

fn summarize(mut samples: Vec<Duration>) -> Sample {
    samples.sort();
    let total: Duration = samples.iter().sum();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    Sample {
        mean: total / samples.len() as u32,
        p50: at(0.5),
        p99: at(0.99),
    }
}

fn print(label: &str, sample: &Sample) {
    println!(
        "{label:<16} mean {:>9.1} µs   p50 {:>9.1} µs   p99 {:>9.1} µs",
        sample.mean.as_secs_f64() * 1e6,
        sample.p50.as_secs_f64() * 1e6,
        sample.p99.as_secs_f64() * 1e6
    );
}

async fn measure(service: &ApiService, prefix: &str, creates: usize) -> Sample {
    create(
        service,
        "",
        "namespaces",
        None,
        json!({"metadata": {"name": prefix}}),
    )
    .await;
    // Warm-up.
    for i in 0..creates / 10 {
        create(service, "", "pods", Some(prefix), pod(&format!("warm-{i}"))).await;
    }
    let mut samples = Vec::with_capacity(creates);
    for i in 0..creates {
        let started = Instant::now();
        create(service, "", "pods", Some(prefix), pod(&format!("p-{i}"))).await;
        samples.push(started.elapsed());
    }
    summarize(samples)
}

fn certificates() -> (
    String,
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    (
        ca.pem(),
        leaf.der().clone(),
        rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
}

/// A webhook that allows at once; returns its URL and CA.
async fn allow_webhook() -> (String, String) {
    let (ca_pem, cert, key) = certificates();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            // As Go's net package does by default (else delayed ACKs add ~40 ms).
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(
                    |request: hyper::Request<hyper::body::Incoming>| async move {
                        let bytes = request.into_body().collect().await.unwrap().to_bytes();
                        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                        let uid = body["request"]["uid"].clone();
                        let answer = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                        "response": {"uid": uid, "allowed": true}});
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from(serde_json::to_vec(&answer).unwrap()),
                        )))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (format!("https://127.0.0.1:{port}/allow"), ca_pem)
}

async fn direct_calls(url: &str, ca_pem: &str, calls: usize) -> Sample {
    let client = WebhookClient::new(ClientSettings::default());
    let mut samples = Vec::with_capacity(calls);
    for i in 0..calls + calls / 10 {
        let call = WebhookCall {
            id: CallId(0),
            configuration: "bench".into(),
            webhook: "allow.bench.corral.dev".into(),
            mutating: false,
            round: 0,
            client: ClientConfig {
                target: WebhookTarget::Url(url.into()),
                ca_bundle: Some(ca_pem.as_bytes().to_vec()),
            },
            url: format!("{url}?timeout=10s"),
            timeout: Duration::from_secs(10),
            failure_policy: FailurePolicy::Fail,
            review: json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "request": {"uid": format!("u-{i}"), "object": pod("p")}}),
            review_uid: format!("u-{i}"),
            issued_at: corral_core::clock::epoch(),
        };
        let started = Instant::now();
        let result = client.call(&call).await;
        assert!(matches!(result, WebhookResult::Reviewed(_)), "{result:?}");
        if i >= calls / 10 {
            samples.push(started.elapsed());
        }
    }
    summarize(samples)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let creates = args
        .iter()
        .position(|a| a == "--creates")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000usize);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let baseline = ApiService::new(store());
        let base = measure(&baseline, "baseline", creates).await;
        print("baseline", &base);

        let production = production_service(store(), ProductionOptions::new(dir.path())).unwrap();
        let chain = measure(&production, "chain", creates).await;
        print("chain", &chain);

        let (url, ca_pem) = allow_webhook().await;
        let hooked = production_service(store(), ProductionOptions::new(dir.path())).unwrap();
        create(
            &hooked,
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations",
            None,
            json!({"metadata": {"name": "bench"}, "webhooks": [{
                "name": "allow.bench.corral.dev",
                "clientConfig": {"url": url, "caBundle": STANDARD.encode(ca_pem.as_bytes())},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
                "failurePolicy": "Fail", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 10}]}),
        )
        .await;
        let webhook_creates = (creates / 4).max(100);
        let with_webhook = measure(&hooked, "hooked", webhook_creates).await;
        print("chain+webhook", &with_webhook);
        let alone = direct_calls(&url, &ca_pem, webhook_creates).await;
        print("webhook alone", &alone);

        let micros = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "admission chain overhead (no webhooks): {:.1} µs per create (mean), {:.1} µs (p50)",
            micros(chain.mean) - micros(base.mean),
            micros(chain.p50) - micros(base.p50)
        );
        println!(
            "webhook added latency beyond its own round trip: {:.1} µs (mean), {:.1} µs (p50)",
            micros(with_webhook.mean) - micros(chain.mean) - micros(alone.mean),
            micros(with_webhook.p50) - micros(chain.p50) - micros(alone.p50)
        );
    });
}
