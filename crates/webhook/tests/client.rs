//! Goal: the client turns every way a webhook can behave into the right
//! [`WebhookResult`], within bounded time. Method: a real HTTPS server on 127.0.0.1 (CA and
//! serving certificate from rcgen, tokio-rustls, hyper) whose paths answer slowly, with
//! garbage, with a patch, with the wrong uid, with an oversize body, or never; plus a
//! closed port and an untrusted certificate. Timeouts are 1 s; every test is bounded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use corral_registry::admission::{
    CallFailure, CallId, ClientConfig, FailurePolicy, WebhookCall, WebhookResult, WebhookTarget,
};
use corral_webhook::{CallObserver, CallReport, ClientSettings, ServiceKey, WebhookClient};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

struct Server {
    address: SocketAddr,
    ca_pem: String,
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
    let leaf_params = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "hook.webhooks.svc".to_string(),
    ])
    .unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    (ca.pem(), leaf.der().clone(), key)
}

async fn respond(path: String, body: Value) -> hyper::Response<Full<Bytes>> {
    let uid = body["request"]["uid"].as_str().unwrap_or("").to_string();
    let review = |response: Value| {
        let text = serde_json::to_vec(&json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": response,
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
            tokio::time::sleep(Duration::from_secs(30)).await;
            review(json!({"uid": uid, "allowed": true}))
        }
        "/garbage" => hyper::Response::new(Full::new(Bytes::from_static(b"garbage{"))),
        "/patch" => review(json!({
            "uid": uid, "allowed": true, "patchType": "JSONPatch",
            // [{"op":"add","path":"/metadata/labels","value":{"a":"b"}}]
            "patch": "W3sib3AiOiJhZGQiLCJwYXRoIjoiL21ldGFkYXRhL2xhYmVscyIsInZhbHVlIjp7ImEiOiJiIn19XQ==",
        })),
        "/wrong-uid" => review(json!({"uid": "not-yours", "allowed": true})),
        "/oversize" => hyper::Response::new(Full::new(Bytes::from(vec![b' '; 4 * 1024 * 1024]))),
        _ => {
            let mut response = hyper::Response::new(Full::new(Bytes::from_static(b"boom")));
            *response.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}

async fn start_server() -> Server {
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
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(
                    |request: hyper::Request<hyper::body::Incoming>| async move {
                        let path = request.uri().path().to_string();
                        assert!(request.uri().query().unwrap_or("").starts_with("timeout="));
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        Ok::<_, std::convert::Infallible>(respond(path, body).await)
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Server { address, ca_pem }
}

fn call(url: String, ca: Option<&str>, timeout: Duration) -> WebhookCall {
    WebhookCall {
        id: CallId(0),
        configuration: "c".into(),
        webhook: "w.example.com".into(),
        mutating: true,
        round: 0,
        client: ClientConfig {
            target: WebhookTarget::Url(url.clone()),
            ca_bundle: ca.map(|c| c.as_bytes().to_vec()),
        },
        url,
        timeout,
        failure_policy: FailurePolicy::Fail,
        review: json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u-1"}}),
        review_uid: "u-1".into(),
        issued_at: corral_core::clock::epoch(),
    }
}

fn url(server: &Server, path: &str) -> String {
    format!(
        "https://localhost:{}{path}?timeout=1s",
        server.address.port()
    )
}

async fn bounded<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .expect("test bounded to 10 s")
}

#[tokio::test]
async fn a_healthy_webhook_is_reviewed_and_a_patch_comes_back_verbatim() {
    let server = start_server().await;
    let client = WebhookClient::new(ClientSettings::default());
    let result = bounded(client.call(&call(
        url(&server, "/allow"),
        Some(&server.ca_pem),
        Duration::from_secs(1),
    )))
    .await;
    let WebhookResult::Reviewed(body) = result else {
        panic!("{result:?}")
    };
    assert_eq!(body["response"]["uid"], "u-1");
    assert_eq!(body["response"]["allowed"], true);

    let result = bounded(client.call(&call(
        url(&server, "/patch"),
        Some(&server.ca_pem),
        Duration::from_secs(1),
    )))
    .await;
    let WebhookResult::Reviewed(body) = result else {
        panic!("{result:?}")
    };
    assert_eq!(body["response"]["patchType"], "JSONPatch");
}

#[tokio::test]
async fn slow_and_hanging_webhooks_time_out_on_time() {
    let server = start_server().await;
    let client = WebhookClient::new(ClientSettings::default());
    for path in ["/slow", "/hang"] {
        let started = std::time::Instant::now();
        let report = bounded(client.call_with_deadline(
            &call(
                url(&server, path),
                Some(&server.ca_pem),
                Duration::from_secs(1),
            ),
            None,
        ))
        .await;
        assert_eq!(
            report.result,
            WebhookResult::Failed(CallFailure::Timeout),
            "{path}"
        );
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(950) && took < Duration::from_secs(3),
            "{path}: {took:?}"
        );
    }
    // The request deadline cuts a call short of its own timeout.
    let started = std::time::Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    let report = bounded(client.call_with_deadline(
        &call(
            url(&server, "/hang"),
            Some(&server.ca_pem),
            Duration::from_secs(5),
        ),
        Some(deadline),
    ))
    .await;
    assert_eq!(report.result, WebhookResult::Failed(CallFailure::Timeout));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn garbage_errors_wrong_uids_and_oversize_bodies_are_reported_as_such() {
    let server = start_server().await;
    let client = WebhookClient::new(ClientSettings::default());
    let ca = Some(server.ca_pem.as_str());
    let result =
        bounded(client.call(&call(url(&server, "/garbage"), ca, Duration::from_secs(1)))).await;
    assert!(
        matches!(result, WebhookResult::Failed(CallFailure::Malformed(_))),
        "{result:?}"
    );

    let result =
        bounded(client.call(&call(url(&server, "/error"), ca, Duration::from_secs(1)))).await;
    assert_eq!(
        result,
        WebhookResult::Failed(CallFailure::BadStatus {
            code: 500,
            body: "boom".into()
        })
    );

    let result =
        bounded(client.call(&call(url(&server, "/oversize"), ca, Duration::from_secs(5)))).await;
    assert_eq!(
        result,
        WebhookResult::Failed(CallFailure::TooLarge {
            limit: 3 * 1024 * 1024
        })
    );

    // The client delivers the body; the admission flow checks the uid.
    let result = bounded(client.call(&call(
        url(&server, "/wrong-uid"),
        ca,
        Duration::from_secs(1),
    )))
    .await;
    let WebhookResult::Reviewed(body) = result else {
        panic!("{result:?}")
    };
    assert_eq!(body["response"]["uid"], "not-yours");
}

#[tokio::test]
async fn refused_connections_and_untrusted_certificates_fail_fast() {
    let server = start_server().await;
    let client = WebhookClient::new(ClientSettings {
        system_roots_pem: Some(certificates().0.into_bytes()),
        ..ClientSettings::default()
    });
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let result = bounded(client.call(&call(
        format!("https://127.0.0.1:{port}/x?timeout=1s"),
        Some(&server.ca_pem),
        Duration::from_secs(1),
    )))
    .await;
    assert_eq!(
        result,
        WebhookResult::Failed(CallFailure::ConnectionRefused {
            address: format!("127.0.0.1:{port}")
        })
    );
    // No caBundle: the (test) system roots do not know the server's CA.
    let result =
        bounded(client.call(&call(url(&server, "/allow"), None, Duration::from_secs(1)))).await;
    assert_eq!(
        result,
        WebhookResult::Failed(CallFailure::Tls(
            "tls: failed to verify certificate: x509: certificate signed by unknown authority"
                .into()
        ))
    );
}

struct Counting(std::sync::Mutex<Vec<(String, Duration)>>);

impl CallObserver for Counting {
    fn observe(&self, call: &WebhookCall, report: &CallReport) {
        self.0
            .lock()
            .unwrap()
            .push((call.webhook.clone(), report.elapsed));
    }
}

#[tokio::test]
async fn service_references_resolve_through_the_table_and_are_observed() {
    let server = start_server().await;
    let observer = Arc::new(Counting(std::sync::Mutex::new(Vec::new())));
    let services = BTreeMap::from([(
        ServiceKey {
            namespace: "webhooks".into(),
            name: "hook".into(),
            port: 443,
        },
        server.address.to_string(),
    )]);
    let client = WebhookClient::new(ClientSettings {
        services,
        ..ClientSettings::default()
    })
    .with_observer(observer.clone());
    let mut c = call(
        "https://hook.webhooks.svc:443/allow?timeout=1s".into(),
        Some(&server.ca_pem),
        Duration::from_secs(1),
    );
    c.client.target = WebhookTarget::Service {
        namespace: "webhooks".into(),
        name: "hook".into(),
        path: Some("/allow".into()),
        port: 443,
    };
    let result = bounded(client.call(&c)).await;
    assert!(matches!(result, WebhookResult::Reviewed(_)), "{result:?}");
    assert_eq!(observer.0.lock().unwrap().len(), 1);

    c.client.target = WebhookTarget::Service {
        namespace: "webhooks".into(),
        name: "unknown".into(),
        path: None,
        port: 443,
    };
    let result = bounded(client.call(&c)).await;
    let WebhookResult::Failed(CallFailure::Unresolved(message)) = result else {
        panic!("{result:?}")
    };
    assert!(message.contains("webhooks/unknown:443"));
}
