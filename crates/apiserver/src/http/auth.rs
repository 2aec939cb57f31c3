//! Authentication: the client certificate verified in the TLS handshake (CN = user,
//! O = groups, as upstream's x509 authenticator), then a bearer token through an
//! [`Authenticator`], else anonymous (allowed only when configured, and always for the
//! public health and version endpoints).

use std::collections::HashMap;

use corral_api::{ApiError, StatusReason};
use http::HeaderMap;
use http::header::AUTHORIZATION;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::service::UserInfo;

/// The identity a connection's client certificate proved (set by the accept loop).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerIdentity(pub Option<UserInfo>);

/// Bearer-token authentication.
pub trait Authenticator: Send + Sync {
    /// The user a token belongs to; `None` for an unknown token (401).
    fn authenticate_token(&self, token: &str) -> Option<UserInfo>;
}

/// A fixed token → user table (the admin token of `corral up`).
#[derive(Clone, Debug, Default)]
pub struct StaticTokens {
    tokens: HashMap<String, UserInfo>,
}

impl StaticTokens {
    pub fn new() -> Self {
        StaticTokens::default()
    }

    pub fn with(mut self, token: &str, user: UserInfo) -> Self {
        self.tokens.insert(token.to_string(), user);
        self
    }
}

impl Authenticator for StaticTokens {
    fn authenticate_token(&self, token: &str) -> Option<UserInfo> {
        self.tokens.get(token).cloned()
    }
}

/// The user named by a client certificate: CN is the name, each O a group.
pub fn identity_from_certificate(der: &[u8]) -> Option<UserInfo> {
    let (_, certificate) = X509Certificate::from_der(der).ok()?;
    let subject = certificate.subject();
    let name = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect();
    Some(UserInfo {
        name,
        uid: String::new(),
        groups,
    })
}

/// Who is asking: certificate, token, or anonymous; 401 for a bad token.
pub fn authenticate(
    headers: &HeaderMap,
    peer: Option<&PeerIdentity>,
    tokens: &dyn Authenticator,
) -> Result<UserInfo, ApiError> {
    if let Some(user) = peer.and_then(|p| p.0.clone()) {
        return Ok(authenticated(user));
    }
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(UserInfo::anonymous());
    };
    let text = value.to_str().unwrap_or_default();
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    match token.and_then(|t| tokens.authenticate_token(t)) {
        Some(user) => Ok(authenticated(user)),
        None => Err(unauthorized()),
    }
}

fn authenticated(mut user: UserInfo) -> UserInfo {
    if !user.groups.iter().any(|g| g == "system:authenticated") {
        user.groups.push("system:authenticated".into());
    }
    user
}

/// Upstream's 401 body.
pub fn unauthorized() -> ApiError {
    ApiError::new(StatusReason::Unauthorized, "Unauthorized")
}

/// Paths anonymous users may always read (upstream's `system:public-info-viewer`).
pub fn is_public_path(path: &str) -> bool {
    matches!(path, "/healthz" | "/livez" | "/readyz" | "/version")
        || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_authenticate_and_bad_tokens_are_401() {
        let tokens =
            StaticTokens::new().with("secret", UserInfo::new("admin", &["system:masters"]));
        let mut headers = HeaderMap::new();
        assert!(
            authenticate(&headers, None, &tokens)
                .unwrap()
                .is_anonymous()
        );
        headers.insert(AUTHORIZATION, "Bearer secret".parse().unwrap());
        let user = authenticate(&headers, None, &tokens).unwrap();
        assert_eq!(user.name, "admin");
        assert!(user.groups.contains(&"system:authenticated".to_string()));
        headers.insert(AUTHORIZATION, "Bearer wrong".parse().unwrap());
        assert_eq!(authenticate(&headers, None, &tokens).unwrap_err().code, 401);
    }

    #[test]
    fn a_certificate_identity_wins() {
        let peer = PeerIdentity(Some(UserInfo::new("alice", &["dev"])));
        let user = authenticate(&HeaderMap::new(), Some(&peer), &StaticTokens::new()).unwrap();
        assert_eq!(user.name, "alice");
    }
}
