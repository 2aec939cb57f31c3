//! Goal: the production pipeline (`production_service`: the full admission chain, RBAC,
//! ServiceAccount tokens) behaves as upstream's over real HTTPS. Method: a real server on
//! an in-memory store, plus a real HTTPS webhook server started by each test whose paths
//! allow, patch, deny, answer slowly, answer garbage or hang. Webhook timeouts are 1 s;
//! every test runs under an overall bound.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use common::{JSON, Reply, TestClient};
use corral_apiserver::{ProductionOptions, Server, ServerConfig, ServerHandle, production_service};
use corral_store::{JsonBytes, MemoryBackend, Store, StoreConfig};
use http::Method;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Every test finishes within this.
const TEST_BOUND: Duration = Duration::from_secs(60);
const NODE_SECRET: &str = "join-s3cret";

struct Production {
    handle: ServerHandle,
    dir: tempfile::TempDir,
}

impl Production {
    async fn start() -> Production {
        Self::start_with(|_| {}).await
    }

    async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> Production {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Arc::new(
            Store::<JsonBytes>::open(Box::new(MemoryBackend), StoreConfig::default())
                .expect("store opens"),
        );
        let service =
            production_service(store, ProductionOptions::new(dir.path())).expect("service");
        let mut config =
            ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
        config.drain_timeout = Duration::from_secs(2);
        config.node_join_token = Some(NODE_SECRET.into());
        configure(&mut config);
        let handle = Server::start(config, service).await.expect("server starts");
        Production { handle, dir }
    }

    fn admin(&self) -> TestClient {
        let pki = &self.handle.pki;
        TestClient::new(
            self.handle.local_addr,
            &pki.ca_cert_pem,
            Some((&pki.admin_cert_pem, &pki.admin_key_pem)),
            false,
        )
    }

    fn anonymous(&self) -> TestClient {
        TestClient::new(
            self.handle.local_addr,
            &self.handle.pki.ca_cert_pem,
            None,
            false,
        )
    }

    fn with_certificate(&self, cert: &str, key: &str) -> TestClient {
        TestClient::new(
            self.handle.local_addr,
            &self.handle.pki.ca_cert_pem,
            Some((cert, key)),
            false,
        )
    }

    async fn namespace(&self, name: &str) {
        let reply = self
            .admin()
            .post(
                "/api/v1/namespaces",
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
    }
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
}

fn job(name: &str) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox"}]}}}})
}

async fn bearer(
    client: &TestClient,
    method: Method,
    path: &str,
    token: &str,
    body: &Value,
) -> Reply {
    let authorization = format!("Bearer {token}");
    let body = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(body).unwrap()
    };
    client
        .request(
            method,
            path,
            &[
                ("accept", JSON),
                ("content-type", JSON),
                ("authorization", authorization.as_str()),
            ],
            body,
        )
        .await
}

// ---- the webhook server -------------------------------------------------------------

struct Webhooks {
    address: SocketAddr,
    ca_pem: String,
}

impl Webhooks {
    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.address.port())
    }

    fn ca_bundle(&self) -> String {
        STANDARD.encode(self.ca_pem.as_bytes())
    }
}

fn webhook_certificates() -> (
    String,
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    (ca.pem(), leaf.der().clone(), key)
}

async fn answer(path: String, body: Value) -> hyper::Response<Full<Bytes>> {
    let uid = body["request"]["uid"].as_str().unwrap_or("").to_string();
    let review = |response: Value| {
        let text = serde_json::to_vec(&json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response,
        }))
        .unwrap();
        hyper::Response::new(Full::new(Bytes::from(text)))
    };
    match path.as_str() {
        "/allow" => review(json!({"uid": uid, "allowed": true})),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            review(json!({"uid": uid, "allowed": true}))
        }
        "/hang" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            review(json!({"uid": uid, "allowed": true}))
        }
        "/garbage" => hyper::Response::new(Full::new(Bytes::from_static(b"garbage{"))),
        "/patch" => {
            let patch =
                json!([{"op": "add", "path": "/metadata/labels", "value": {"patched": "yes"}}]);
            review(
                json!({"uid": uid, "allowed": true, "patchType": "JSONPatch",
                "patch": STANDARD.encode(serde_json::to_vec(&patch).unwrap())}),
            )
        }
        "/deny" => review(json!({"uid": uid, "allowed": false,
            "status": {"code": 403, "message": "no pods on Fridays"}})),
        _ => hyper::Response::builder()
            .status(404)
            .body(Full::new(Bytes::new()))
            .unwrap(),
    }
}

async fn start_webhooks() -> Webhooks {
    let (ca_pem, cert, key) = webhook_certificates();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(
                    |request: hyper::Request<hyper::body::Incoming>| async move {
                        let path = request.uri().path().to_string();
                        let bytes = request.into_body().collect().await.unwrap().to_bytes();
                        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                        Ok::<_, std::convert::Infallible>(answer(path, body).await)
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Webhooks { address, ca_pem }
}

fn hook(name: &str, url: &str, ca_bundle: &str, failure_policy: &str) -> Value {
    json!({
        "name": name,
        "clientConfig": {"url": url, "caBundle": ca_bundle},
        "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
        "failurePolicy": failure_policy,
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": 1,
    })
}

async fn validating(server: &Production, name: &str, hooks: Vec<Value>) {
    let reply = server
        .admin()
        .post(
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
            &json!({"apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": name}, "webhooks": hooks}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
}

async fn mutating(server: &Production, name: &str, hooks: Vec<Value>) {
    let reply = server
        .admin()
        .post(
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            &json!({"apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                "metadata": {"name": name}, "webhooks": hooks}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
}

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_BOUND, test)
        .await
        .expect("the test finished within its bound");
}

// ---- webhooks -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_webhook_with_ignore_admits_after_its_timeout_and_with_fail_rejects() {
    bounded(async {
        let server = Production::start().await;
        let hooks = start_webhooks().await;
        server.namespace("team").await;
        validating(
            &server,
            "slow",
            vec![hook("slow.example.com", &hooks.url("/slow"), &hooks.ca_bundle(), "Ignore")],
        )
        .await;
        let started = Instant::now();
        let reply = server.admin().post("/api/v1/namespaces/team/pods", &pod("p1")).await;
        let elapsed = started.elapsed();
        assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
        assert!(elapsed >= Duration::from_millis(950), "waited the timeout: {elapsed:?}");
        assert!(elapsed < Duration::from_millis(2900), "not the webhook's 3 s: {elapsed:?}");

        validating(
            &server,
            "slow-fail",
            vec![hook("slow-fail.example.com", &hooks.url("/slow"), &hooks.ca_bundle(), "Fail")],
        )
        .await;
        let reply = server.admin().post("/api/v1/namespaces/team/pods", &pod("p2")).await;
        let message = reply.expect_status(500);
        assert_eq!(
            message,
            format!(
                "Internal error occurred: failed calling webhook \"slow-fail.example.com\": failed to call webhook: Post \"{}?timeout=1s\": context deadline exceeded",
                hooks.url("/slow")
            )
        );

        let metrics = server.admin().get("/metrics").await.text();
        assert!(
            metrics.contains("apiserver_admission_webhook_admission_duration_seconds_count{name=\"slow.example.com\",type=\"validating\",operation=\"CREATE\",rejected=\"false\"} 2"),
            "{metrics}"
        );
        assert!(metrics.contains("corral_admission_webhook_timeouts_total{name=\"slow-fail.example.com\",type=\"validating\"} 1"), "{metrics}");
        assert!(metrics.contains("apiserver_admission_webhook_rejection_count_total{name=\"slow-fail.example.com\",type=\"validating\",operation=\"CREATE\",error_type=\"calling_webhook_error\",rejection_code=\"500\"} 1"), "{metrics}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_refused_and_hanging_webhooks_never_wedge_the_server() {
    bounded(async {
        let server = Production::start().await;
        let hooks = start_webhooks().await;
        server.namespace("team").await;
        // A port nobody listens on.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let refused = format!("https://127.0.0.1:{}/allow", closed.local_addr().unwrap().port());
        drop(closed);
        validating(
            &server,
            "broken-open",
            vec![
                hook("garbage.example.com", &hooks.url("/garbage"), &hooks.ca_bundle(), "Ignore"),
                hook("refused.example.com", &refused, &hooks.ca_bundle(), "Ignore"),
                hook("hang.example.com", &hooks.url("/hang"), &hooks.ca_bundle(), "Ignore"),
            ],
        )
        .await;
        // Validating webhooks run in parallel: the request waits one timeout, not three.
        let started = Instant::now();
        let pods = (0..4).map(|i| {
            let client = server.admin();
            async move {
                client
                    .post("/api/v1/namespaces/team/pods", &pod(&format!("p{i}")))
                    .await
            }
        });
        let reads = async {
            // The server keeps answering reads while admission waits on webhooks.
            let read_started = Instant::now();
            let reply = server.admin().get("/api/v1/namespaces").await;
            assert_eq!(reply.status.as_u16(), 200);
            read_started.elapsed()
        };
        let (replies, read_latency) = tokio::join!(futures::future::join_all(pods), reads);
        for reply in &replies {
            assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
        }
        assert!(read_latency < Duration::from_millis(900), "reads are not blocked: {read_latency:?}");
        assert!(started.elapsed() < Duration::from_millis(2500), "{:?}", started.elapsed());

        // With failurePolicy Fail, each failure becomes upstream's 500.
        validating(
            &server,
            "broken-closed",
            vec![hook("garbage-fail.example.com", &hooks.url("/garbage"), &hooks.ca_bundle(), "Fail")],
        )
        .await;
        let reply = server.admin().post("/api/v1/namespaces/team/pods", &pod("q1")).await;
        let message = reply.expect_status(500);
        assert!(
            message.starts_with("Internal error occurred: failed calling webhook \"garbage-fail.example.com\": failed to call webhook: "),
            "{message}"
        );
        let reply = server.admin().get("/api/v1/namespaces/team/pods").await;
        assert_eq!(reply.json()["items"].as_array().unwrap().len(), 4);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutating_webhooks_patch_is_applied_and_a_denial_is_upstreams_message() {
    bounded(async {
        let server = Production::start().await;
        let hooks = start_webhooks().await;
        server.namespace("team").await;
        mutating(
            &server,
            "labeller",
            vec![hook(
                "labeller.example.com",
                &hooks.url("/patch"),
                &hooks.ca_bundle(),
                "Fail",
            )],
        )
        .await;
        let reply = server
            .admin()
            .post("/api/v1/namespaces/team/pods", &pod("p1"))
            .await;
        assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
        assert_eq!(reply.json()["metadata"]["labels"]["patched"], "yes");
        let stored = server.admin().get("/api/v1/namespaces/team/pods/p1").await;
        assert_eq!(stored.json()["metadata"]["labels"]["patched"], "yes");

        validating(
            &server,
            "friday",
            vec![hook(
                "friday.example.com",
                &hooks.url("/deny"),
                &hooks.ca_bundle(),
                "Ignore",
            )],
        )
        .await;
        let reply = server
            .admin()
            .post("/api/v1/namespaces/team/pods", &pod("p2"))
            .await;
        let message = reply.expect_status(403);
        assert_eq!(
            message,
            "admission webhook \"friday.example.com\" denied the request: no pods on Fridays"
        );
    })
    .await;
}

// ---- quota and ServiceAccount admission ------------------------------------------------

async fn quota(server: &Production, namespace: &str, hard: Value) {
    let reply = server
        .admin()
        .post(
            &format!("/api/v1/namespaces/{namespace}/resourcequotas"),
            &json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
                "spec": {"hard": hard.clone()}}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
    // What the resourcequota controller (not running here) does first: copy `hard` into
    // the status with nothing used.
    let mut stored = reply.json();
    let used: serde_json::Map<String, Value> = hard
        .as_object()
        .unwrap()
        .keys()
        .map(|k| (k.clone(), json!("0")))
        .collect();
    stored["status"] = json!({"hard": hard, "used": used});
    let reply = server
        .admin()
        .put(
            &format!("/api/v1/namespaces/{namespace}/resourcequotas/q/status"),
            &stored,
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_third_job_exceeds_a_count_quota_of_two_and_other_namespaces_are_unaffected() {
    bounded(async {
        let server = Production::start().await;
        server.namespace("team").await;
        server.namespace("other").await;
        quota(&server, "team", json!({"count/jobs.batch": "2"})).await;
        let admin = server.admin();
        for name in ["j1", "j2"] {
            let reply = admin.post("/apis/batch/v1/namespaces/team/jobs", &job(name)).await;
            assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
        }
        let reply = admin.post("/apis/batch/v1/namespaces/team/jobs", &job("j3")).await;
        assert_eq!(
            reply.expect_status(403),
            "jobs.batch \"j3\" is forbidden: exceeded quota: q, requested: count/jobs.batch=1, used: count/jobs.batch=2, limited: count/jobs.batch=2"
        );
        for name in ["j1", "j2", "j3"] {
            let reply = admin.post("/apis/batch/v1/namespaces/other/jobs", &job(name)).await;
            assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
        }
        let quota = admin.get("/api/v1/namespaces/team/resourcequotas/q").await.json();
        assert_eq!(quota["status"]["used"]["count/jobs.batch"], "2");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_pod_creations_never_exceed_a_quota_of_ten() {
    bounded(async {
        let server = Production::start().await;
        server.namespace("team").await;
        quota(&server, "team", json!({"pods": "10"})).await;
        let creations = (0..50).map(|i| {
            let client = server.admin();
            async move {
                client
                    .post("/api/v1/namespaces/team/pods", &pod(&format!("p{i}")))
                    .await
            }
        });
        let replies = futures::future::join_all(creations).await;
        let created = replies.iter().filter(|r| r.status.as_u16() == 201).count();
        for reply in replies.iter().filter(|r| r.status.as_u16() != 201) {
            let message = reply.expect_status(403);
            assert!(
                message.contains(
                    "exceeded quota: q, requested: pods=1, used: pods=10, limited: pods=10"
                ),
                "{message}"
            );
        }
        assert_eq!(created, 10, "exactly the quota is admitted");
        let pods = server
            .admin()
            .get("/api/v1/namespaces/team/pods")
            .await
            .json();
        assert_eq!(pods["items"].as_array().unwrap().len(), 10);
        let quota = server
            .admin()
            .get("/api/v1/namespaces/team/resourcequotas/q")
            .await
            .json();
        assert_eq!(quota["status"]["used"]["pods"], "10");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_naming_a_missing_service_account_is_upstreams_403() {
    bounded(async {
        let server = Production::start().await;
        server.namespace("team").await;
        let mut body = pod("p1");
        body["spec"]["serviceAccountName"] = json!("robot");
        let reply = server.admin().post("/api/v1/namespaces/team/pods", &body).await;
        assert_eq!(
            reply.expect_status(403),
            "pods \"p1\" is forbidden: error looking up service account team/robot: serviceaccount \"robot\" not found"
        );
        // The default account exists: its token volume is mounted.
        let reply = server.admin().post("/api/v1/namespaces/team/pods", &pod("p2")).await;
        assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
        assert_eq!(reply.json()["spec"]["serviceAccountName"], "default");
    })
    .await;
}

// ---- authentication and authorization ------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_credentials_are_401() {
    bounded(async {
        let server = Production::start().await;
        let reply = server.anonymous().get("/api/v1/namespaces").await;
        assert_eq!(reply.expect_status(401), "Unauthorized");
        let reply = bearer(
            &server.anonymous(),
            Method::GET,
            "/api/v1/pods",
            "wrong",
            &Value::Null,
        )
        .await;
        assert_eq!(reply.expect_status(401), "Unauthorized");
        // Health stays public.
        assert_eq!(
            server.anonymous().get("/healthz").await.status.as_u16(),
            200
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_restricted_user_can_do_everything_in_its_namespace_and_nothing_elsewhere() {
    bounded(async {
        let server = Production::start().await;
        server.namespace("team").await;
        server.namespace("other").await;
        let request = corral_apiserver::kubeconfig::UserRequest {
            data_dir: server.dir.path().to_path_buf(),
            user: "alice".into(),
            group: None,
            namespace: "team".into(),
            role: "admin".into(),
            server: None,
        };
        let text = corral_apiserver::kubeconfig::issue_user(&request).await.expect("kubeconfig");
        assert!(text.contains("namespace: team"));
        assert!(text.contains("current-context: alice@corral"));
        let field = |name: &str| {
            let encoded = text
                .lines()
                .find_map(|l| l.trim().strip_prefix(name))
                .unwrap()
                .trim();
            String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap()
        };
        let alice = server.with_certificate(
            &field("client-certificate-data:"),
            &field("client-key-data:"),
        );
        // Everything in its namespace.
        let reply = alice.post("/api/v1/namespaces/team/pods", &pod("p1")).await;
        assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
        assert_eq!(alice.get("/api/v1/namespaces/team/pods/p1").await.status.as_u16(), 200);
        assert_eq!(alice.get("/api/v1/namespaces/team/pods").await.status.as_u16(), 200);
        let watch = alice
            .send(Method::GET, "/api/v1/namespaces/team/pods?watch=1&timeoutSeconds=1", &[("accept", JSON)], Vec::new())
            .await;
        assert_eq!(watch.status().as_u16(), 200);
        drop(watch);
        let reply = alice.post("/apis/batch/v1/namespaces/team/jobs", &job("j1")).await;
        assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());

        // Nothing in another.
        let message = alice.get("/api/v1/namespaces/other/pods/p1").await.expect_status(403);
        assert_eq!(message, "pods \"p1\" is forbidden: User \"alice\" cannot get resource \"pods\" in API group \"\" in the namespace \"other\"");
        let message = alice.get("/api/v1/namespaces/other/pods").await.expect_status(403);
        assert_eq!(message, "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"other\"");
        let watch = alice.get("/api/v1/namespaces/other/pods?watch=1").await;
        assert_eq!(
            watch.expect_status(403),
            "pods is forbidden: User \"alice\" cannot watch resource \"pods\" in API group \"\" in the namespace \"other\""
        );
        let message = alice.post("/api/v1/namespaces/other/pods", &pod("p1")).await.expect_status(403);
        assert_eq!(message, "pods is forbidden: User \"alice\" cannot create resource \"pods\" in API group \"\" in the namespace \"other\"");
        let message = alice.get("/api/v1/namespaces/other/pods/p1/log").await.expect_status(403);
        assert!(message.contains("cannot get resource \"pods/log\""), "{message}");
        let message = alice.get("/api/v1/pods").await.expect_status(403);
        assert!(message.ends_with("at the cluster scope"), "{message}");

        // auth can-i answers from the same policy.
        let review = alice
            .post(
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                &json!({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                    "spec": {"resourceAttributes": {"verb": "delete", "resource": "pods", "namespace": "other"}}}),
            )
            .await;
        assert_eq!(review.status.as_u16(), 201, "{}", review.text());
        assert_eq!(review.json()["status"]["allowed"], false);
        let review = alice
            .post(
                "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                &json!({"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
                    "spec": {"namespace": "team"}}),
            )
            .await;
        let rules = review.json()["status"]["resourceRules"].to_string();
        assert!(rules.contains("\"pods\""), "{rules}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_token_from_token_request_authenticates() {
    bounded(async {
        let server = Production::start().await;
        server.namespace("team").await;
        // What `kubectl create token default -n team` sends.
        let reply = server
            .admin()
            .post(
                "/api/v1/namespaces/team/serviceaccounts/default/token",
                &json!({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                    "metadata": {"creationTimestamp": null},
                    "spec": {"audiences": null, "expirationSeconds": null, "boundObjectRef": null},
                    "status": {"token": "", "expirationTimestamp": null}}),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 201, "{}", reply.text());
        let answer = reply.json();
        assert_eq!(answer["spec"]["expirationSeconds"], 3600);
        let token = answer["status"]["token"].as_str().unwrap().to_string();
        assert!(!token.is_empty());
        let client = server.anonymous();
        let whoami = bearer(
            &client,
            Method::POST,
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            &token,
            &json!({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1"}),
        )
        .await;
        assert_eq!(whoami.status.as_u16(), 201, "{}", whoami.text());
        let info = &whoami.json()["status"]["userInfo"];
        assert_eq!(info["username"], "system:serviceaccount:team:default");
        let groups = info["groups"].to_string();
        assert!(groups.contains("system:serviceaccounts:team"), "{groups}");
        // Authenticated, but RBAC grants the account nothing on pods.
        let reply = bearer(
            &client,
            Method::GET,
            "/api/v1/namespaces/team/pods",
            &token,
            &Value::Null,
        )
        .await;
        assert!(
            reply
                .expect_status(403)
                .contains("User \"system:serviceaccount:team:default\" cannot list")
        );
        // A too-short lifetime is upstream's 422; a missing account is 404.
        let reply = server
            .admin()
            .post(
                "/api/v1/namespaces/team/serviceaccounts/default/token",
                &json!({"spec": {"expirationSeconds": 60}}),
            )
            .await;
        assert!(
            reply
                .expect_status(422)
                .contains("may not specify a duration less than 10 minutes")
        );
        let reply = server
            .admin()
            .post(
                "/api/v1/namespaces/team/serviceaccounts/ghost/token",
                &json!({}),
            )
            .await;
        assert_eq!(
            reply.expect_status(404),
            "serviceaccounts \"ghost\" not found"
        );
        // Deleting the account revokes its tokens.
        let reply = server
            .admin()
            .delete(
                "/api/v1/namespaces/team/serviceaccounts/default",
                &json!({}),
            )
            .await;
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.text());
        let reply = bearer(
            &client,
            Method::GET,
            "/api/v1/namespaces/team/pods",
            &token,
            &Value::Null,
        )
        .await;
        reply.expect_status(401);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_join_token_authenticates_a_node() {
    bounded(async {
        let server = Production::start().await;
        let client = server.anonymous();
        let token = format!("worker-1.{NODE_SECRET}");
        let reply = bearer(&client, Method::GET, "/api/v1/pods", &token, &Value::Null).await;
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.text());
        let whoami = bearer(
            &client,
            Method::POST,
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            &token,
            &json!({}),
        )
        .await;
        assert_eq!(
            whoami.json()["status"]["userInfo"]["username"],
            "system:node:worker-1"
        );
        // Nodes may not read secrets' neighbours such as roles.
        let reply = bearer(
            &client,
            Method::GET,
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            &token,
            &Value::Null,
        )
        .await;
        reply.expect_status(403);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_serving_certificate_is_served_without_a_restart() {
    bounded(async {
        let server =
            Production::start_with(|c| c.cert_reload_interval = Duration::from_millis(100)).await;
        let before = served_certificate(&server).await;
        let rotated = corral_apiserver::pki::Pki::rotate(
            server.dir.path(),
            &corral_apiserver::pki::serving_names(&[]),
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = served_certificate(&server).await;
            if now != before {
                let expected = rustls::pki_types::CertificateDer::pem_slice_iter(
                    rotated.serving_cert_pem.as_bytes(),
                )
                .next()
                .unwrap()
                .unwrap();
                assert_eq!(now, expected.as_ref().to_vec());
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the new certificate was not picked up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The old admin certificate still authenticates (same CA).
        assert_eq!(
            server
                .admin()
                .get("/api/v1/namespaces")
                .await
                .status
                .as_u16(),
            200
        );
    })
    .await;
}

use rustls::pki_types::pem::PemObject;

/// The leaf certificate the server presents now.
async fn served_certificate(server: &Production) -> Vec<u8> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        rustls::pki_types::CertificateDer::pem_slice_iter(server.handle.pki.ca_cert_pem.as_bytes())
    {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(server.handle.local_addr)
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0]
        .as_ref()
        .to_vec()
}
