//! The admin kubeconfig: cluster, user and context `corral`, with the CA, client
//! certificate and key embedded as base64 data (so the file works wherever it is copied).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::pki::{Pki, PkiError, write_file};

/// The kubeconfig text for `server` (`https://127.0.0.1:6443`).
pub fn render(server: &str, pki: &Pki) -> String {
    let ca = STANDARD.encode(pki.ca_cert_pem.as_bytes());
    let cert = STANDARD.encode(pki.admin_cert_pem.as_bytes());
    let key = STANDARD.encode(pki.admin_key_pem.as_bytes());
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: corral
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: corral-admin
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: corral
  context:
    cluster: corral
    user: corral-admin
current-context: corral
preferences: {{}}
"
    )
}

/// Writes `path` (mode 0600: it holds the admin key).
pub fn write(path: &Path, server: &str, pki: &Pki) -> Result<(), PkiError> {
    write_file(path, &render(server, pki), 0o600)
}

/// The URL clients use for a listen address: unspecified addresses become loopback,
/// IPv6 gets brackets.
pub fn server_url(address: &std::net::SocketAddr) -> String {
    let ip = address.ip();
    let host = if ip.is_unspecified() {
        if ip.is_ipv4() {
            "127.0.0.1".to_string()
        } else {
            "[::1]".to_string()
        }
    } else if ip.is_ipv6() {
        format!("[{ip}]")
    } else {
        ip.to_string()
    };
    format!("https://{host}:{}", address.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_use_loopback_for_unspecified_addresses() {
        assert_eq!(
            server_url(&"0.0.0.0:6443".parse().unwrap()),
            "https://127.0.0.1:6443"
        );
        assert_eq!(server_url(&"[::1]:7".parse().unwrap()), "https://[::1]:7");
    }
}
