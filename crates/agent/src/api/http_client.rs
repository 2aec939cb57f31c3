//! A minimal HTTPS client for one server: one multiplexed HTTP/2 connection (ALPN `h2`),
//! re-established on demand, or one HTTP/1.1 connection per request when the server
//! does not speak h2. Bearer-token authentication. Used by [`super::RemoteApi`] and by
//! the API server's [`crate::RoutingLogSource`] to reach node log endpoints.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::error::AgentError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client of one HTTPS server.
pub struct HttpsClient {
    host: String,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    token: Option<String>,
    h2: tokio::sync::Mutex<Option<http2::SendRequest<Full<Bytes>>>>,
}

impl std::fmt::Debug for HttpsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsClient")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish()
    }
}

impl HttpsClient {
    /// A client of `server` (`https://host:port`).
    pub fn new(
        server: &str,
        tls: Arc<rustls::ClientConfig>,
        token: Option<String>,
    ) -> Result<HttpsClient, AgentError> {
        let uri: Uri = server
            .parse()
            .map_err(|e| AgentError::Config(format!("server URL {server:?}: {e}")))?;
        if uri.scheme_str() != Some("https") {
            return Err(AgentError::Config(format!(
                "server URL {server:?}: only https is supported"
            )));
        }
        let host = uri
            .host()
            .ok_or_else(|| AgentError::Config(format!("server URL {server:?} has no host")))?
            .to_string();
        Ok(HttpsClient {
            host,
            port: uri.port_u16().unwrap_or(443),
            tls,
            token,
            h2: tokio::sync::Mutex::new(None),
        })
    }

    fn authority(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    async fn connect(&self) -> Result<tokio_rustls::client::TlsStream<TcpStream>, AgentError> {
        let address = self.authority();
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&address))
            .await
            .map_err(|_| AgentError::Http(format!("connect {address}: timed out")))?
            .map_err(|e| AgentError::Http(format!("connect {address}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let connector = TlsConnector::from(Arc::clone(&self.tls));
        tokio::time::timeout(
            CONNECT_TIMEOUT,
            connector.connect(crate::tls::server_name(&self.host), tcp),
        )
        .await
        .map_err(|_| AgentError::Http(format!("TLS handshake with {address}: timed out")))?
        .map_err(|e| AgentError::Tls(format!("handshake with {address}: {e}")))
    }

    /// The shared h2 sender, connecting if needed; `None` when the server chose HTTP/1.1.
    async fn h2_sender(&self) -> Result<Option<http2::SendRequest<Full<Bytes>>>, AgentError> {
        let mut slot = self.h2.lock().await;
        if let Some(sender) = slot.as_ref()
            && !sender.is_closed()
        {
            return Ok(Some(sender.clone()));
        }
        let tls = self.connect().await?;
        if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
            return Ok(None);
        }
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            .timer(hyper_util::rt::TokioTimer::new())
            .keep_alive_interval(Duration::from_secs(30))
            .handshake(TokioIo::new(tls))
            .await
            .map_err(|e| AgentError::Http(format!("h2 handshake: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "api connection ended");
            }
        });
        *slot = Some(sender.clone());
        Ok(Some(sender))
    }

    /// Sends one request; the response is returned whatever its status.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Response<Incoming>, AgentError> {
        let mut last_error = None;
        for _attempt in 0..2 {
            let request = self.build(method.clone(), path_and_query, content_type, body.clone())?;
            let result = match self.h2_sender().await? {
                Some(mut sender) => {
                    if let Err(e) = sender.ready().await {
                        *self.h2.lock().await = None;
                        last_error = Some(AgentError::Http(e.to_string()));
                        continue;
                    }
                    sender.send_request(request).await
                }
                None => {
                    let tls = self.connect().await?;
                    let (mut sender, connection) =
                        hyper::client::conn::http1::handshake(TokioIo::new(tls))
                            .await
                            .map_err(|e| AgentError::Http(e.to_string()))?;
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                    sender.send_request(request).await
                }
            };
            match result {
                Ok(response) => return Ok(response),
                Err(e) => {
                    *self.h2.lock().await = None;
                    last_error = Some(AgentError::Http(e.to_string()));
                }
            }
        }
        Err(last_error.unwrap_or_else(|| AgentError::Http("request failed".into())))
    }

    fn build(
        &self,
        method: Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>, AgentError> {
        let uri = format!("https://{}{path_and_query}", self.authority());
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("corral-node/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(token) = &self.token {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|e| AgentError::Config(e.to_string()))?;
            request = request.header(http::header::AUTHORIZATION, value);
        }
        if let Some(content_type) = content_type {
            request = request.header(http::header::CONTENT_TYPE, content_type);
        }
        request
            .body(Full::new(body))
            .map_err(|e| AgentError::Http(e.to_string()))
    }
}
