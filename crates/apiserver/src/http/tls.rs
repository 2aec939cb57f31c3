//! The TLS accept loop (axum's `serve` has no TLS): TCP accept → rustls handshake (ring
//! provider, ALPN `h2` and `http/1.1`, optional client certificates verified against the
//! cluster CA) → the client certificate's identity as a request extension → hyper-util's
//! auto (HTTP/1.1 + HTTP/2) connection. Shutdown stops accepting, then lets open
//! connections finish (watches close when the service closes them) within a bound.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::auth::{PeerIdentity, identity_from_certificate};

/// A TLS configuration failure.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot parse PEM {what}: {message}")]
    Pem { what: &'static str, message: String },
    #[error("invalid TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    #[error("invalid client CA: {0}")]
    ClientVerifier(String),
}

/// PEM material for the server.
#[derive(Clone, Debug)]
pub struct TlsMaterial {
    pub certificate_chain_pem: String,
    pub private_key_pem: String,
    /// Client certificates signed by this CA authenticate their subject.
    pub client_ca_pem: Option<String>,
}

fn pem_error(what: &'static str) -> impl Fn(rustls::pki_types::pem::Error) -> TlsError {
    move |e| TlsError::Pem {
        what,
        message: e.to_string(),
    }
}

/// The serving certificate, replaceable while the server runs: new handshakes use the
/// latest one, open connections keep theirs (certificate rotation without downtime).
#[derive(Debug)]
pub struct ReloadableCert {
    current: parking_lot::RwLock<Arc<CertifiedKey>>,
}

impl ReloadableCert {
    pub fn new(certificate_chain_pem: &str, private_key_pem: &str) -> Result<Self, TlsError> {
        Ok(ReloadableCert {
            current: parking_lot::RwLock::new(certified_key(
                certificate_chain_pem,
                private_key_pem,
            )?),
        })
    }

    /// Serves `certificate_chain_pem` from the next handshake on.
    pub fn replace(
        &self,
        certificate_chain_pem: &str,
        private_key_pem: &str,
    ) -> Result<(), TlsError> {
        let key = certified_key(certificate_chain_pem, private_key_pem)?;
        *self.current.write() = key;
        Ok(())
    }

    /// The leaf certificate now served (DER).
    pub fn leaf_der(&self) -> Vec<u8> {
        self.current
            .read()
            .cert
            .first()
            .map(|c| c.as_ref().to_vec())
            .unwrap_or_default()
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.current.read()))
    }
}

fn certified_key(chain_pem: &str, key_pem: &str) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error("certificate"))?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(pem_error("private key"))?;
    let signing = rustls::crypto::ring::default_provider()
        .key_provider
        .load_private_key(key)?;
    let key = CertifiedKey::new(chain, signing);
    // A half-rotated pair (new certificate, old key) is refused, not served.
    key.keys_match()?;
    Ok(Arc::new(key))
}

/// A rustls server configuration with the ring provider and ALPN h2/http1.1.
pub fn server_config(material: &TlsMaterial) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let resolver = Arc::new(ReloadableCert::new(
        &material.certificate_chain_pem,
        &material.private_key_pem,
    )?);
    server_config_with_resolver(material.client_ca_pem.as_deref(), resolver)
}

/// Like [`server_config`], serving whatever `resolver` holds at each handshake.
pub fn server_config_with_resolver(
    client_ca_pem: Option<&str>,
    resolver: Arc<ReloadableCert>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let builder = match client_ca_pem {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for certificate in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots.add(certificate.map_err(pem_error("client CA"))?)?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::ClientVerifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `router` on `listener` until `shutdown` turns true, then drains open connections
/// for at most `drain`.
pub async fn serve(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
    drain: Duration,
) {
    let acceptor = TlsAcceptor::from(config);
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http2().max_concurrent_streams(1000);
    let builder = Arc::new(builder);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    let watcher = graceful.watcher();
                    let (acceptor, router, builder) = (acceptor.clone(), router.clone(), Arc::clone(&builder));
                    tokio::spawn(async move {
                        connection(tcp, peer, acceptor, router, builder, watcher).await;
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain period; closing");
    }
}

async fn connection(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    router: Router,
    builder: Arc<Builder<TokioExecutor>>,
    watcher: hyper_util::server::graceful::Watcher,
) {
    let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let identity = PeerIdentity(
        tls.get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| identity_from_certificate(leaf.as_ref())),
    );
    let service = router.map_request(
        move |mut request: axum::extract::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(identity.clone());
            request.map(axum::body::Body::new)
        },
    );
    let connection = builder
        .serve_connection_with_upgrades(TokioIo::new(tls), TowerToHyperService::new(service));
    if let Err(e) = watcher.watch(connection.into_owned()).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
