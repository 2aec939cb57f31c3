//! L2: the admission webhook client. [`WebhookClient::call`] performs one
//! [`WebhookCall`] that [`corral_registry::admission::AdmissionFlow`] asked for: an
//! AdmissionReview POSTed over HTTPS (HTTP/1.1), verified against the webhook's
//! `caBundle` (the system roots when it has none), bounded by the call's timeout and the
//! caller's request deadline, with the response body capped (3 MiB by default).
//!
//! Service references (`clientConfig.service`) name `https://<name>.<ns>.svc:<port><path>`.
//! Corral runs no Services, so they resolve through [`ClientSettings::services`] (for
//! example to `127.0.0.1:8443`); the TLS server name stays `<name>.<ns>.svc`, as upstream
//! verifies it. An unmapped reference fails the call (`could not get REST client`).
//!
//! Metrics: every call returns a [`CallReport`] with its latency; an optional
//! [`CallObserver`] sees each finished call (webhook name, outcome, latency).

mod tls;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use corral_registry::admission::{CallFailure, WebhookCall, WebhookResult, WebhookTarget};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

pub use tls::TlsError;

/// Upstream's cap is the API server's; 3 MiB is generous for an AdmissionReview.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 3 * 1024 * 1024;
/// Bytes of a non-200 body kept for the error message (upstream keeps 2 KiB).
const ERROR_BODY_MAX: usize = 2048;

/// A `clientConfig.service` reference.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceKey {
    pub namespace: String,
    pub name: String,
    pub port: i32,
}

/// Client settings.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// Larger bodies fail with [`CallFailure::TooLarge`].
    pub max_response_bytes: usize,
    /// Where service references connect (`host:port`).
    pub services: BTreeMap<ServiceKey, String>,
    /// PEM bundle of trusted roots for webhooks without a `caBundle`; `None`: the system
    /// bundle (`SSL_CERT_FILE`, then the usual Debian/Red Hat paths).
    pub system_roots_pem: Option<Vec<u8>>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            services: BTreeMap::new(),
            system_roots_pem: None,
        }
    }
}

/// One finished call.
#[derive(Clone, Debug, PartialEq)]
pub struct CallReport {
    pub result: WebhookResult,
    pub elapsed: Duration,
}

/// Sees every finished call (per-webhook latency, timeouts, failures).
pub trait CallObserver: Send + Sync {
    fn observe(&self, call: &WebhookCall, report: &CallReport);
}

/// The HTTPS AdmissionReview caller.
pub struct WebhookClient {
    settings: ClientSettings,
    tls: tls::TlsConfigs,
    observer: Option<Arc<dyn CallObserver>>,
}

impl std::fmt::Debug for WebhookClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookClient")
            .field("settings", &self.settings)
            .finish()
    }
}

/// Where to connect and which name the certificate must carry.
struct Target {
    connect: String,
    server_name: String,
    host_header: String,
    path_and_query: String,
}

impl WebhookClient {
    pub fn new(settings: ClientSettings) -> Self {
        let tls = tls::TlsConfigs::new(settings.system_roots_pem.clone());
        WebhookClient {
            settings,
            tls,
            observer: None,
        }
    }

    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Makes the call within its own timeout.
    pub async fn call(&self, call: &WebhookCall) -> WebhookResult {
        self.call_with_deadline(call, None).await.result
    }

    /// Makes the call within its timeout and, if given, the request's deadline.
    pub async fn call_with_deadline(
        &self,
        call: &WebhookCall,
        deadline: Option<Instant>,
    ) -> CallReport {
        let started = Instant::now();
        let mut limit = started + call.timeout;
        if let Some(deadline) = deadline {
            limit = limit.min(deadline);
        }
        let result = match tokio::time::timeout_at(limit, self.exchange(call)).await {
            Ok(result) => result,
            Err(_) => WebhookResult::Failed(CallFailure::Timeout),
        };
        let report = CallReport {
            result,
            elapsed: started.elapsed(),
        };
        tracing::debug!(
            webhook = %call.webhook,
            configuration = %call.configuration,
            elapsed_ms = report.elapsed.as_millis() as u64,
            outcome = match &report.result {
                WebhookResult::Reviewed(_) => "reviewed",
                WebhookResult::Failed(f) => f.kind(),
            },
            "webhook call finished"
        );
        if let Some(observer) = &self.observer {
            observer.observe(call, &report);
        }
        report
    }

    fn target(&self, call: &WebhookCall) -> Result<Target, CallFailure> {
        let uri: http::Uri = call
            .url
            .parse()
            .map_err(|e| CallFailure::Unresolved(format!("invalid URL {:?}: {e}", call.url)))?;
        if uri.scheme_str() != Some("https") {
            return Err(CallFailure::Unresolved(format!(
                "webhook URL {:?} is not https",
                call.url
            )));
        }
        let host = uri
            .host()
            .ok_or_else(|| {
                CallFailure::Unresolved(format!("webhook URL {:?} has no host", call.url))
            })?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(443);
        let path_and_query = uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.to_string());
        let host_header = match uri.port_u16() {
            Some(p) => format!("{}:{p}", uri.host().unwrap_or_default()),
            None => uri.host().unwrap_or_default().to_string(),
        };
        let connect = match &call.client.target {
            WebhookTarget::Url(_) => {
                if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                }
            }
            WebhookTarget::Service {
                namespace,
                name,
                port,
                ..
            } => {
                let key = ServiceKey {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    port: *port,
                };
                self.settings.services.get(&key).cloned().ok_or_else(|| {
                    CallFailure::Unresolved(format!(
                        "service \"{namespace}/{name}:{port}\" has no address (Corral resolves service references through its configured table)"
                    ))
                })?
            }
        };
        Ok(Target {
            connect,
            server_name: host,
            host_header,
            path_and_query,
        })
    }

    async fn exchange(&self, call: &WebhookCall) -> WebhookResult {
        match self.exchange_inner(call).await {
            Ok(result) => result,
            Err(failure) => WebhookResult::Failed(failure),
        }
    }

    async fn exchange_inner(&self, call: &WebhookCall) -> Result<WebhookResult, CallFailure> {
        let target = self.target(call)?;
        let tcp = connect(&target.connect).await?;
        let config = self
            .tls
            .for_bundle(call.client.ca_bundle.as_deref())
            .map_err(|e| CallFailure::Tls(e.to_string()))?;
        let stream = tls::handshake(config, &target.server_name, tcp)
            .await
            .map_err(|e| CallFailure::Tls(e.to_string()))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| CallFailure::Connect(e.to_string()))?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let body = serde_json::to_vec(&call.review).unwrap_or_default();
        let request = http::Request::post(target.path_and_query.as_str())
            .header(http::header::HOST, target.host_header.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json, */*")
            .header(http::header::USER_AGENT, "corral-apiserver")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| CallFailure::Connect(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| CallFailure::Connect(format!("{e}")))?;
        let status = response.status().as_u16();
        let limit = self.settings.max_response_bytes;
        let collected = Limited::new(response.into_body(), limit).collect().await;
        driver.abort();
        let bytes = match collected {
            Ok(c) => c.to_bytes(),
            Err(e)
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                return Err(CallFailure::TooLarge { limit });
            }
            Err(e) => return Err(CallFailure::Connect(e.to_string())),
        };
        if status != 200 {
            let text =
                String::from_utf8_lossy(&bytes[..bytes.len().min(ERROR_BODY_MAX)]).into_owned();
            return Err(CallFailure::BadStatus {
                code: status,
                body: text,
            });
        }
        serde_json::from_slice(&bytes)
            .map(WebhookResult::Reviewed)
            .map_err(|e| CallFailure::Malformed(e.to_string()))
    }
}

/// Connects to the first reachable address of `host:port`, worded like Go's dialer.
async fn connect(address: &str) -> Result<TcpStream, CallFailure> {
    let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host(address)
        .await
        .map_err(|e| CallFailure::Connect(format!("dial tcp: lookup {address}: {e}")))?
        .collect();
    let mut last = CallFailure::Connect(format!("dial tcp: lookup {address}: no such host"));
    for addr in addresses {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = CallFailure::ConnectionRefused {
                    address: addr.to_string(),
                };
            }
            Err(e) => last = CallFailure::Connect(format!("dial tcp {addr}: {e}")),
        }
    }
    Err(last)
}
