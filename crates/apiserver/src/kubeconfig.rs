//! The admin kubeconfig: cluster, user and context `corral`, with the CA, client
//! certificate and key embedded as base64 data (so the file works wherever it is copied).
//! [`issue_user`] is `corral kubeconfig`: a client certificate for a user from the cluster
//! CA, a RoleBinding of `admin`/`edit`/`view` in a namespace (created through the running
//! server as the admin), and a kubeconfig whose context defaults to that namespace.

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

/// A kubeconfig for `user` (context `NAME@corral`, default namespace `namespace`).
pub fn render_user(
    server: &str,
    ca_cert_pem: &str,
    user: &str,
    cert_pem: &str,
    key_pem: &str,
    namespace: &str,
) -> String {
    let ca = STANDARD.encode(ca_cert_pem.as_bytes());
    let cert = STANDARD.encode(cert_pem.as_bytes());
    let key = STANDARD.encode(key_pem.as_bytes());
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: corral
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: {user}
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
contexts:
- name: {user}@corral
  context:
    cluster: corral
    user: {user}
    namespace: {namespace}
current-context: {user}@corral
preferences: {{}}
"
    )
}

/// The `server:` of a kubeconfig written by [`render`].
pub fn server_of(kubeconfig: &str) -> Option<String> {
    kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("server:"))
        .map(|s| s.trim().to_string())
}

/// The ClusterRoles `corral kubeconfig --role` may bind.
pub const USER_ROLES: &[&str] = &["admin", "edit", "view"];

/// What `corral kubeconfig` asks for.
#[derive(Clone, Debug)]
pub struct UserRequest {
    pub data_dir: std::path::PathBuf,
    pub user: String,
    /// An optional group (the certificate's O).
    pub group: Option<String>,
    pub namespace: String,
    pub role: String,
    /// Default: the URL in the admin kubeconfig.
    pub server: Option<String>,
}

/// Why `corral kubeconfig` failed.
#[derive(Debug, thiserror::Error)]
pub enum UserKubeconfigError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("unknown role {0:?}: use admin, edit or view")]
    Role(String),
    #[error("cannot read the admin kubeconfig {path}: {message}")]
    AdminKubeconfig { path: String, message: String },
    #[error("cannot create the RoleBinding: {0}")]
    Binding(String),
}

/// The RoleBinding `corral kubeconfig` creates: `<user>-<role>` in the namespace.
pub fn role_binding(user: &str, namespace: &str, role: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": format!("{user}-{role}"), "namespace": namespace,
                     "labels": {"corral.dev/kubeconfig-user": sanitize_label(user)}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    })
}

fn sanitize_label(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// Issues the user's certificate, binds the role through the running server (as the
/// admin), and returns the kubeconfig text.
pub async fn issue_user(request: &UserRequest) -> Result<String, UserKubeconfigError> {
    if !USER_ROLES.contains(&request.role.as_str()) {
        return Err(UserKubeconfigError::Role(request.role.clone()));
    }
    let pki = Pki::load_or_create(&request.data_dir, &crate::pki::serving_names(&[]))?;
    let admin_path = request.data_dir.join("kubeconfig");
    let server = match &request.server {
        Some(server) => server.clone(),
        None => std::fs::read_to_string(&admin_path)
            .ok()
            .and_then(|text| server_of(&text))
            .ok_or_else(|| UserKubeconfigError::AdminKubeconfig {
                path: admin_path.display().to_string(),
                message: "no server URL (is `corral up` running on this data directory?)".into(),
            })?,
    };
    let (cert, key) = pki.issue_client(&request.user, request.group.as_deref())?;
    let binding = role_binding(&request.user, &request.namespace, &request.role);
    let path = format!(
        "/apis/rbac.authorization.k8s.io/v1/namespaces/{}/rolebindings",
        request.namespace
    );
    let (status, body) = crate::client_tls::post_json(
        &server,
        &pki.ca_cert_pem,
        (&pki.admin_cert_pem, &pki.admin_key_pem),
        &path,
        &binding,
    )
    .await
    .map_err(UserKubeconfigError::Binding)?;
    if status != 201 && status != 409 {
        return Err(UserKubeconfigError::Binding(format!(
            "{status}: {}",
            String::from_utf8_lossy(&body)
        )));
    }
    Ok(render_user(
        &server,
        &pki.ca_cert_pem,
        &request.user,
        &cert,
        &key,
        &request.namespace,
    ))
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
