//! rustls (ring) client configurations: one per distinct `caBundle`, cached; the system
//! roots for webhooks without one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Why no TLS session could be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("x509: caBundle contains no usable certificate")]
    EmptyBundle,
    #[error("x509: certificate signed by unknown authority (no system roots found)")]
    NoSystemRoots,
    #[error("tls: invalid server name {0:?}")]
    ServerName(String),
    #[error("{0}")]
    Handshake(String),
}

const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

pub(crate) struct TlsConfigs {
    system_pem: Option<Vec<u8>>,
    system: OnceLock<Option<Arc<ClientConfig>>>,
    by_bundle: Mutex<HashMap<Vec<u8>, Arc<ClientConfig>>>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn config_from_pem(pem: &[u8]) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem).flatten() {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(TlsError::EmptyBundle);
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Handshake(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

impl TlsConfigs {
    pub(crate) fn new(system_pem: Option<Vec<u8>>) -> Self {
        TlsConfigs {
            system_pem,
            system: OnceLock::new(),
            by_bundle: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn for_bundle(&self, bundle: Option<&[u8]>) -> Result<Arc<ClientConfig>, TlsError> {
        match bundle.filter(|b| !b.is_empty()) {
            Some(pem) => {
                let mut cache = self.by_bundle.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(config) = cache.get(pem) {
                    return Ok(config.clone());
                }
                let config = config_from_pem(pem)?;
                if cache.len() > 256 {
                    cache.clear();
                }
                cache.insert(pem.to_vec(), config.clone());
                Ok(config)
            }
            None => self
                .system
                .get_or_init(|| {
                    let pem = self.system_pem.clone().or_else(|| {
                        let from_env =
                            std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
                        from_env
                            .into_iter()
                            .chain(SYSTEM_BUNDLES.iter().map(std::path::PathBuf::from))
                            .find_map(|p| std::fs::read(p).ok())
                    })?;
                    config_from_pem(&pem).ok()
                })
                .clone()
                .ok_or(TlsError::NoSystemRoots),
        }
    }
}

/// The TLS handshake, with Go's wording for the common verification failure.
pub(crate) async fn handshake(
    config: Arc<ClientConfig>,
    server_name: &str,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, TlsError> {
    let name = ServerName::try_from(server_name.to_string())
        .map_err(|_| TlsError::ServerName(server_name.to_string()))?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| {
            let text = e.to_string();
            // A candidate issuer with the right name but the wrong key fails as BadSignature;
            // Go reports both as an unknown authority.
            if text.contains("UnknownIssuer") || text.contains("BadSignature") {
                TlsError::Handshake(
                    "tls: failed to verify certificate: x509: certificate signed by unknown authority".into(),
                )
            } else if text.contains("NotValidForName") {
                TlsError::Handshake(format!(
                    "tls: failed to verify certificate: x509: certificate is not valid for {server_name}"
                ))
            } else {
                TlsError::Handshake(format!("tls: {text}"))
            }
        })
}
