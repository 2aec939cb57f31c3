//! Online snapshots: `GET /corral/snapshot` streams a consistent point-in-time snapshot
//! of the running store (the format of `corral_store::write_snapshot`), and [`download`]
//! is the client `corral snapshot save` uses, authenticated by the admin kubeconfig.
//!
//! Only members of `system:masters` may take a snapshot: it holds every Secret.
//!
//! The store copies references to every current object under its read lock (one
//! revision, nothing half-committed: writes become visible only once durable) and then
//! encodes without the lock, on the blocking pool, into a bounded channel that the
//! response body drains; a slow client holds back the encoder, not the store. If anything
//! fails mid-stream the body ends with an error (the connection or HTTP/2 stream is reset),
//! and the file's trailing checksum is missing, so a partial download is never mistaken
//! for a snapshot.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use corral_api::{ApiError, StatusReason};
use http::StatusCode;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::http::HttpState;
use crate::http::respond::{self, RequestLabels};
use crate::service::UserInfo;

/// Where the snapshot is served.
pub const SNAPSHOT_PATH: &str = "/corral/snapshot";
/// The group whose members may take snapshots.
pub const ADMIN_GROUP: &str = "system:masters";
/// The response's content type.
pub const CONTENT_TYPE: &str = "application/vnd.corral.snapshot";

/// Bytes per body chunk.
const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks buffered between the encoder and the connection.
const CHUNKS_IN_FLIGHT: usize = 8;
/// How long the client waits for the TCP connection and the TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the client waits for the next chunk before giving up.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The handler of `GET /corral/snapshot` (the HTTP front authenticated the caller and put
/// its [`UserInfo`] in the request's extensions).
pub async fn serve(State(state): State<HttpState>, request: Request) -> Response {
    let labels = RequestLabels {
        verb: "get",
        resource: "snapshot".to_string(),
    };
    let user = request.extensions().get::<UserInfo>().cloned();
    if let Err(error) = authorize(user.as_ref()) {
        return respond::labelled(respond::error(&error), labels);
    }
    let store = Arc::clone(state.service().store());
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut writer = ChannelWriter {
            sender,
            buffer: Vec::with_capacity(CHUNK_BYTES),
        };
        let result = store
            .snapshot(&mut writer)
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|info| writer.flush().map(|()| info));
        match result {
            Ok(info) => tracing::info!(
                revision = %info.revision,
                objects = info.object_count,
                bytes = info.size_bytes,
                "snapshot served"
            ),
            Err(error) => {
                tracing::warn!(%error, "snapshot aborted");
                let _ = writer.sender.blocking_send(Err(error));
            }
        }
    });
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    let response = respond::with_body(StatusCode::OK, CONTENT_TYPE, Body::from_stream(stream));
    respond::labelled(response, labels)
}

/// 403 unless `user` is an admin.
fn authorize(user: Option<&UserInfo>) -> Result<(), ApiError> {
    match user {
        Some(user) if user.groups.iter().any(|g| g == ADMIN_GROUP) => Ok(()),
        Some(user) => Err(ApiError::new(
            StatusReason::Forbidden,
            format!(
                "forbidden: User \"{}\" cannot get path \"{SNAPSHOT_PATH}\": snapshots are for members of {ADMIN_GROUP}",
                user.name
            ),
        )),
        None => Err(crate::http::auth::unauthorized()),
    }
}

/// A `Write` that sends `CHUNK_BYTES` pieces down a bounded channel (blocking: it runs on
/// the blocking pool). A closed channel (the client went away) is a broken pipe, which
/// stops the snapshot.
struct ChannelWriter {
    sender: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send_buffer(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES));
        self.sender
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send_buffer()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send_buffer()
    }
}

/// Why [`download`] failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("cannot read kubeconfig {}: {message}", path.display())]
    Kubeconfig { path: PathBuf, message: String },
    #[error("cannot connect to {server}: {message}")]
    Connect { server: String, message: String },
    #[error("the server refused the snapshot ({code}): {message}")]
    Refused { code: u16, message: String },
    #[error("the snapshot download from {server} broke off: {message}")]
    Transfer { server: String, message: String },
    #[error("cannot write the snapshot: {0}")]
    Write(std::io::Error),
}

/// What [`download`] needs from a kubeconfig: the current context's server and
/// credentials.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// `https://host:port`.
    pub server: String,
    pub ca_pem: Option<String>,
    pub client_cert_pem: Option<String>,
    pub client_key_pem: Option<String>,
    pub token: Option<String>,
    pub insecure_skip_tls_verify: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Kubeconfig {
    #[serde(default)]
    clusters: Vec<Named<Cluster>>,
    #[serde(default)]
    users: Vec<Named<User>>,
    #[serde(default)]
    contexts: Vec<Named<Context>>,
    #[serde(default)]
    current_context: String,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "user", alias = "context")]
    value: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster {
    server: String,
    certificate_authority_data: Option<String>,
    certificate_authority: Option<PathBuf>,
    #[serde(default)]
    insecure_skip_tls_verify: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct User {
    client_certificate_data: Option<String>,
    client_certificate: Option<PathBuf>,
    client_key_data: Option<String>,
    client_key: Option<PathBuf>,
    token: Option<String>,
}

#[derive(Deserialize)]
struct Context {
    cluster: String,
    user: String,
}

impl Endpoint {
    /// Reads the current context of the kubeconfig at `path`.
    pub fn from_kubeconfig(path: &Path) -> Result<Endpoint, DownloadError> {
        let fail = |message: String| DownloadError::Kubeconfig {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let config: Kubeconfig =
            serde_saphyr::from_slice(&text).map_err(|e| fail(e.to_string()))?;
        let context = config
            .contexts
            .iter()
            .find(|c| c.name == config.current_context)
            .or_else(|| {
                config
                    .contexts
                    .first()
                    .filter(|_| config.contexts.len() == 1)
            })
            .ok_or_else(|| fail(format!("no context {:?}", config.current_context)))?;
        let cluster = config
            .clusters
            .iter()
            .find(|c| c.name == context.value.cluster)
            .ok_or_else(|| fail(format!("no cluster {:?}", context.value.cluster)))?;
        let user = config
            .users
            .iter()
            .find(|u| u.name == context.value.user)
            .ok_or_else(|| fail(format!("no user {:?}", context.value.user)))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let material = |data: &Option<String>, file: &Option<PathBuf>, what: &str| {
            if let Some(data) = data {
                let bytes = STANDARD
                    .decode(data.trim())
                    .map_err(|e| fail(format!("{what}-data is not base64: {e}")))?;
                return String::from_utf8(bytes)
                    .map(Some)
                    .map_err(|_| fail(format!("{what}-data is not PEM text")));
            }
            match file {
                Some(file) => std::fs::read_to_string(base.join(file))
                    .map(Some)
                    .map_err(|e| fail(format!("{what} {}: {e}", file.display()))),
                None => Ok(None),
            }
        };
        Ok(Endpoint {
            server: cluster.value.server.trim_end_matches('/').to_string(),
            ca_pem: material(
                &cluster.value.certificate_authority_data,
                &cluster.value.certificate_authority,
                "certificate-authority",
            )?,
            client_cert_pem: material(
                &user.value.client_certificate_data,
                &user.value.client_certificate,
                "client-certificate",
            )?,
            client_key_pem: material(
                &user.value.client_key_data,
                &user.value.client_key,
                "client-key",
            )?,
            token: user.value.token.clone(),
            insecure_skip_tls_verify: cluster.value.insecure_skip_tls_verify,
        })
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let builder = if self.insecure_skip_tls_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        } else {
            let mut roots = rustls::RootCertStore::empty();
            let ca = self
                .ca_pem
                .as_deref()
                .ok_or("the kubeconfig names no certificate authority")?;
            for certificate in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots
                    .add(certificate.map_err(|e| format!("certificate authority: {e}"))?)
                    .map_err(|e| format!("certificate authority: {e}"))?;
            }
            builder.with_root_certificates(roots)
        };
        let mut config = match (&self.client_cert_pem, &self.client_key_pem) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("client certificate: {e}"))?;
                let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                    .map_err(|e| format!("client key: {e}"))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("client certificate: {e}"))?
            }
            _ => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// `host:port` and the TLS server name of `server`.
    fn address(&self) -> Result<(String, ServerName<'static>), String> {
        let rest = self
            .server
            .strip_prefix("https://")
            .ok_or("the server URL is not https://")?;
        let authority = rest.split('/').next().unwrap_or(rest);
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, port),
            _ => (authority, "443"),
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(bare.to_string()).map_err(|e| e.to_string())?;
        Ok((format!("{host}:{port}"), name))
    }
}

/// Streams the running server's snapshot into `out`; returns the bytes written. The
/// caller validates the file (checksum) before trusting it.
pub async fn download(
    endpoint: &Endpoint,
    out: &mut (dyn tokio::io::AsyncWrite + Unpin + Send),
) -> Result<u64, DownloadError> {
    let server = endpoint.server.clone();
    let connect_error = |message: String| DownloadError::Connect {
        server: server.clone(),
        message,
    };
    let (address, name) = endpoint.address().map_err(connect_error)?;
    let tls =
        tokio_rustls::TlsConnector::from(Arc::new(endpoint.tls_config().map_err(connect_error)?));
    let connect = async {
        let tcp = tokio::net::TcpStream::connect(&address)
            .await
            .map_err(|e| e.to_string())?;
        tls.connect(name, tcp).await.map_err(|e| e.to_string())
    };
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| connect_error("timed out".into()))?
        .map_err(connect_error)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| connect_error(e.to_string()))?;
    tokio::spawn(connection);
    let mut request = http::Request::get(SNAPSHOT_PATH)
        .header(http::header::HOST, address.as_str())
        .header(http::header::ACCEPT, CONTENT_TYPE);
    if let Some(token) = &endpoint.token {
        request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| connect_error(e.to_string()))?;
    let transfer_error = |message: String| DownloadError::Transfer {
        server: server.clone(),
        message,
    };
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| transfer_error(e.to_string()))?;
    let status = response.status();
    let mut body = response.into_body();
    if status != StatusCode::OK {
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        return Err(DownloadError::Refused {
            code: status.as_u16(),
            message,
        });
    }
    let mut written = 0u64;
    loop {
        let frame = tokio::time::timeout(IDLE_TIMEOUT, body.frame())
            .await
            .map_err(|_| transfer_error("no data for 60 s".into()))?;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| transfer_error(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            out.write_all(&data).await.map_err(DownloadError::Write)?;
            written += data.len() as u64;
        }
    }
    out.flush().await.map_err(DownloadError::Write)?;
    Ok(written)
}

/// `insecure-skip-tls-verify: true`: accepts any server certificate (signatures are still
/// checked, so the handshake is well-formed).
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_may_take_snapshots() {
        assert!(authorize(Some(&UserInfo::new("admin", &[ADMIN_GROUP]))).is_ok());
        let error = authorize(Some(&UserInfo::new("alice", &["dev"]))).unwrap_err();
        assert_eq!(error.code, 403);
        assert!(error.message.contains("alice"), "{}", error.message);
        assert_eq!(authorize(None).unwrap_err().code, 401);
    }

    #[test]
    fn server_urls_split_into_address_and_name() {
        let endpoint = |server: &str| Endpoint {
            server: server.to_string(),
            ca_pem: None,
            client_cert_pem: None,
            client_key_pem: None,
            token: None,
            insecure_skip_tls_verify: false,
        };
        let (address, _) = endpoint("https://127.0.0.1:6443").address().unwrap();
        assert_eq!(address, "127.0.0.1:6443");
        let (address, _) = endpoint("https://[::1]:7").address().unwrap();
        assert_eq!(address, "[::1]:7");
        let (address, _) = endpoint("https://corral.example").address().unwrap();
        assert_eq!(address, "corral.example:443");
        assert!(endpoint("http://x").address().is_err());
    }
}
