//! A minimal HTTPS client for the command-line tools (`corral kubeconfig`): one POST of a
//! JSON body with a client certificate, verified against the cluster CA, bounded by a
//! timeout.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::TlsConnector;

/// Bound on one request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// POSTs `body` to `server` + `path`; returns the status and body.
pub async fn post_json(
    server: &str,
    ca_pem: &str,
    client: (&str, &str),
    path: &str,
    body: &serde_json::Value,
) -> Result<(u16, Bytes), String> {
    tokio::time::timeout(
        REQUEST_TIMEOUT,
        post_inner(server, ca_pem, client, path, body),
    )
    .await
    .map_err(|_| format!("no answer from {server} within {REQUEST_TIMEOUT:?}"))?
}

async fn post_inner(
    server: &str,
    ca_pem: &str,
    (cert_pem, key_pem): (&str, &str),
    path: &str,
    body: &serde_json::Value,
) -> Result<(u16, Bytes), String> {
    let uri: http::Uri = server.parse().map_err(|e| format!("{server}: {e}"))?;
    let host = uri
        .host()
        .ok_or_else(|| format!("{server}: no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(443);
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(certificate.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| e.to_string())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| e.to_string())?;
    let address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let tcp = tokio::net::TcpStream::connect(&address)
        .await
        .map_err(|e| format!("dial tcp {address}: {e}"))?;
    let name = ServerName::try_from(host.clone()).map_err(|e| e.to_string())?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = http::Request::post(path)
        .header(http::header::HOST, format!("{host}:{port}"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(Full::new(Bytes::from(
            serde_json::to_vec(body).unwrap_or_default(),
        )))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    driver.abort();
    Ok((status, bytes))
}
