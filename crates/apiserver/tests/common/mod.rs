//! Test harness: a real server (`Server::start` on an in-memory store, port 0, temporary
//! data directory) and a small HTTPS client (rustls with the generated CA and the admin
//! client certificate; HTTP/1.1 or HTTP/2 by ALPN) speaking to it like kubectl does.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use corral_apiserver::{ApiService, Server, ServerConfig, ServerHandle};
use corral_store::{JsonBytes, MemoryBackend, Store, StoreConfig};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tokio_rustls::TlsConnector;

pub const JSON: &str = "application/json";
pub const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// A running server with its temporary directory.
pub struct TestServer {
    pub handle: ServerHandle,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(StoreConfig::default(), |_| {}).await
    }

    pub async fn start_with(
        store_config: StoreConfig,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Arc::new(
            Store::<JsonBytes>::open(Box::new(MemoryBackend), store_config).expect("store opens"),
        );
        let service = ApiService::new(store);
        let mut config =
            ServerConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
        config.drain_timeout = Duration::from_secs(2);
        configure(&mut config);
        let handle = Server::start(config, service).await.expect("server starts");
        TestServer { handle, dir }
    }

    pub fn addr(&self) -> SocketAddr {
        self.handle.local_addr
    }

    pub fn service(&self) -> &ApiService {
        &self.handle.service
    }

    /// A client authenticated as the admin (client certificate).
    pub fn client(&self) -> TestClient {
        TestClient::new(
            self.addr(),
            &self.handle.pki.ca_cert_pem,
            Some((
                &self.handle.pki.admin_cert_pem,
                &self.handle.pki.admin_key_pem,
            )),
            false,
        )
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> TestClient {
        TestClient::new(self.addr(), &self.handle.pki.ca_cert_pem, None, false)
    }

    /// An admin client that negotiates HTTP/2.
    pub fn client_h2(&self) -> TestClient {
        TestClient::new(
            self.addr(),
            &self.handle.pki.ca_cert_pem,
            Some((
                &self.handle.pki.admin_cert_pem,
                &self.handle.pki.admin_key_pem,
            )),
            true,
        )
    }
}

/// A response read completely.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    pub fn warnings(&self) -> Vec<String> {
        self.headers
            .get_all("warning")
            .iter()
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Asserts a `Status` failure with `code` and returns its message.
    pub fn expect_status(&self, code: u16) -> String {
        assert_eq!(self.status.as_u16(), code, "body: {}", self.text());
        let status = self.json();
        assert_eq!(status["kind"], "Status", "{status}");
        assert_eq!(status["code"], code, "{status}");
        assert_eq!(self.header("content-type"), JSON);
        status["message"].as_str().unwrap_or_default().to_string()
    }
}

/// An HTTPS client: one connection per request (simple and enough for tests).
#[derive(Clone)]
pub struct TestClient {
    addr: SocketAddr,
    connector: TlsConnector,
    http2: bool,
}

impl TestClient {
    pub fn new(
        addr: SocketAddr,
        ca_pem: &str,
        identity: Option<(&str, &str)>,
        http2: bool,
    ) -> TestClient {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let mut config = match identity {
            Some((cert, key)) => {
                let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                    .map(|c| c.unwrap())
                    .collect();
                let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = if http2 {
            vec![b"h2".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        TestClient {
            addr,
            connector: TlsConnector::from(Arc::new(config)),
            http2,
        }
    }

    /// Sends a request and returns the response head with its streaming body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> http::Response<Incoming> {
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        let tls = self
            .connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .expect("TLS handshake");
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("https://localhost{path}"));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if !self.http2 {
            builder = builder.header("host", "localhost");
        }
        let request = builder.body(Full::new(Bytes::from(body))).unwrap();
        if self.http2 {
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                    .await
                    .expect("h2 handshake");
            tokio::spawn(connection);
            sender.send_request(request).await.expect("request")
        } else {
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .expect("handshake");
            tokio::spawn(connection);
            sender.send_request(request).await.expect("request")
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        let response = self.send(method, path, headers, body).await;
        let (parts, body) = response.into_parts();
        let body = tokio::time::timeout(Duration::from_secs(30), body.collect())
            .await
            .expect("body in time")
            .expect("body")
            .to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, &[("accept", JSON)], Vec::new())
            .await
    }

    pub async fn get_accept(&self, path: &str, accept: &str) -> Reply {
        self.request(Method::GET, path, &[("accept", accept)], Vec::new())
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.request(
            Method::POST,
            path,
            &[("content-type", JSON), ("accept", JSON)],
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.request(
            Method::PUT,
            path,
            &[("content-type", JSON), ("accept", JSON)],
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    pub async fn patch(&self, path: &str, content_type: &str, body: &str) -> Reply {
        self.request(
            Method::PATCH,
            path,
            &[("content-type", content_type), ("accept", JSON)],
            body.as_bytes().to_vec(),
        )
        .await
    }

    pub async fn delete(&self, path: &str, body: &Value) -> Reply {
        self.request(
            Method::DELETE,
            path,
            &[("content-type", JSON), ("accept", JSON)],
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }
}

/// Reads newline-delimited watch frames from a streaming body.
pub struct FrameReader {
    body: Incoming,
    buffer: Vec<u8>,
}

impl FrameReader {
    pub fn new(response: http::Response<Incoming>) -> FrameReader {
        FrameReader {
            body: response.into_body(),
            buffer: Vec::new(),
        }
    }

    /// The next frame, or `None` at the end of the stream; panics after `limit`.
    pub async fn next(&mut self, limit: Duration) -> Option<Value> {
        tokio::time::timeout(limit, self.next_inner())
            .await
            .expect("watch frame in time")
    }

    async fn next_inner(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Some(serde_json::from_slice(&line).expect("frame is JSON"));
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => panic!("watch body failed: {e}"),
                None => return None,
            }
        }
    }
}

/// A minimal Job manifest.
pub fn job(name: &str, namespace: &str) -> Value {
    serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "test"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox:1.36", "command": ["true"]}]}}}
    })
}

/// A namespace manifest.
pub fn namespace(name: &str) -> Value {
    serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

pub const JOBS: &str = "/apis/batch/v1/namespaces/default/jobs";
