//! Bearer-token authentication besides client certificates:
//!
//! - [`TokenFile`]: upstream's `--token-auth-file` CSV (`token,user,uid,"group1,group2"`).
//! - [`NodeJoinToken`]: the secret `corral node --token` presents. `SECRET` authenticates
//!   as `system:node:join`, `NAME.SECRET` as `system:node:NAME`; both in `system:nodes`.
//! - [`ServiceAccountTokens`]: signed, expiring ES256 JWTs for ServiceAccounts, issued by
//!   the `serviceaccounts/token` subresource (TokenRequest, `kubectl create token`) and
//!   verified on requests (the account must still exist, with the token's uid). The key
//!   pair lives in `DIR/pki/sa.key` (0600).
//! - [`AuthenticatorChain`]: asks each in turn.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use corral_api::k8s_openapi::api::core::v1::ServiceAccount;
use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_store::{JsonBytes, ObjectStore, Representation, Store};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::http::auth::Authenticator;
use crate::pki::{PkiError, write_file};
use crate::service::UserInfo;

/// The issuer and default audience of ServiceAccount tokens (upstream's defaults).
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// The key file under `DIR/pki/`.
pub const SERVICE_ACCOUNT_KEY: &str = "sa.key";
/// Upstream's default and minimum TokenRequest lifetimes.
pub const DEFAULT_EXPIRATION: Duration = Duration::from_secs(3600);
pub const MIN_EXPIRATION: Duration = Duration::from_secs(600);
/// Longest lifetime granted (upstream `--service-account-max-token-expiration`, unset:
/// no bound; Corral bounds it at one year).
pub const MAX_EXPIRATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// Why a token source could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Format {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("invalid service account key: {0}")]
    Key(String),
}

/// `--token-auth-file`: one `token,user,uid[,"group1,group2"]` line per user.
#[derive(Clone, Debug, Default)]
pub struct TokenFile {
    tokens: HashMap<String, UserInfo>,
}

impl TokenFile {
    pub fn load(path: &Path) -> Result<TokenFile, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|(line, message)| TokenError::Format {
            path: path.to_path_buf(),
            line,
            message,
        })
    }

    /// Parses the CSV text; errors carry the 1-based line.
    pub fn parse(text: &str) -> Result<TokenFile, (usize, String)> {
        let mut tokens = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields = split_csv(line).map_err(|m| (index + 1, m))?;
            if fields.len() < 3 {
                return Err((
                    index + 1,
                    format!("expected at least 3 fields, got {}", fields.len()),
                ));
            }
            if fields[0].is_empty() || fields[1].is_empty() {
                return Err((index + 1, "token and user may not be empty".into()));
            }
            let groups = fields
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let user = UserInfo {
                name: fields[1].clone(),
                uid: fields[2].clone(),
                groups,
            };
            tokens.insert(fields[0].clone(), user);
        }
        Ok(TokenFile { tokens })
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// One CSV record: commas separate fields, double quotes enclose fields with commas
/// (`""` is a quote).
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    fields.push(field);
    Ok(fields.into_iter().map(|f| f.trim().to_string()).collect())
}

impl Authenticator for TokenFile {
    fn authenticate_token(&self, token: &str) -> Option<UserInfo> {
        self.tokens.get(token).cloned()
    }
}

/// The node join secret.
#[derive(Clone)]
pub struct NodeJoinToken {
    secret: String,
}

impl std::fmt::Debug for NodeJoinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeJoinToken(..)")
    }
}

impl NodeJoinToken {
    pub fn new(secret: &str) -> NodeJoinToken {
        NodeJoinToken {
            secret: secret.to_string(),
        }
    }
}

/// Constant-time comparison of secrets.
fn secrets_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Authenticator for NodeJoinToken {
    fn authenticate_token(&self, token: &str) -> Option<UserInfo> {
        if self.secret.is_empty() {
            return None;
        }
        let (name, secret) = match token.rsplit_once('.') {
            Some((name, secret)) if secrets_equal(secret, &self.secret) => (name, secret),
            _ => ("join", token),
        };
        if !secrets_equal(secret, &self.secret) || name.is_empty() {
            return None;
        }
        Some(UserInfo::new(
            &format!("system:node:{name}"),
            &[crate::service::rbac::NODES_GROUP],
        ))
    }
}

/// The `kubernetes.io` claim of a ServiceAccount token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaim {
    pub namespace: String,
    pub serviceaccount: NamedRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<NamedRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedRef {
    pub name: String,
    pub uid: String,
}

/// Upstream's ServiceAccount token claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub iss: String,
    pub sub: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaim,
}

/// An issued token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
}

/// Issues and verifies ServiceAccount JWTs (ES256).
pub struct ServiceAccountTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    audiences: Vec<String>,
    store: Option<ObjectStore<JsonBytes>>,
}

impl std::fmt::Debug for ServiceAccountTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountTokens")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountTokens {
    /// From a PKCS#8 PEM P-256 private key.
    pub fn from_pem(private_key_pem: &str) -> Result<Self, TokenError> {
        let key = rcgen::KeyPair::from_pem(private_key_pem)
            .map_err(|e| TokenError::Key(e.to_string()))?;
        let encoding = EncodingKey::from_ec_pem(key.serialize_pem().as_bytes())
            .map_err(|e| TokenError::Key(e.to_string()))?;
        let decoding = DecodingKey::from_ec_pem(key.public_key_pem().as_bytes())
            .map_err(|e| TokenError::Key(e.to_string()))?;
        Ok(ServiceAccountTokens {
            encoding,
            decoding,
            issuer: DEFAULT_ISSUER.to_string(),
            audiences: vec![DEFAULT_ISSUER.to_string()],
            store: None,
        })
    }

    /// Loads `DIR/pki/sa.key`, creating it on first use.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, TokenError> {
        let dir = data_dir.join("pki");
        std::fs::create_dir_all(&dir).map_err(|source| TokenError::Io {
            path: dir.clone(),
            source,
        })?;
        let path = dir.join(SERVICE_ACCOUNT_KEY);
        let pem = match std::fs::read_to_string(&path) {
            Ok(pem) => pem,
            Err(_) => {
                let key = rcgen::KeyPair::generate().map_err(|e| TokenError::Key(e.to_string()))?;
                let pem = key.serialize_pem();
                write_file(&path, &pem, 0o600)?;
                pem
            }
        };
        Self::from_pem(&pem)
    }

    /// A fresh key (tests).
    pub fn generate() -> Result<Self, TokenError> {
        let key = rcgen::KeyPair::generate().map_err(|e| TokenError::Key(e.to_string()))?;
        Self::from_pem(&key.serialize_pem())
    }

    /// Verified tokens must name an existing ServiceAccount of this store (with the
    /// token's uid).
    pub fn with_store(mut self, store: Arc<Store<JsonBytes>>) -> Self {
        self.store = Some(ObjectStore::new(store));
        self
    }

    /// The API server's audiences (the default of a TokenRequest).
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// Signs a token for `account` valid from `now_unix` for `lifetime` (clamped to
    /// upstream's bounds).
    pub fn issue(
        &self,
        account: &ServiceAccount,
        audiences: &[String],
        lifetime: Duration,
        pod: Option<NamedRef>,
        now_unix: i64,
    ) -> Result<IssuedToken, String> {
        let namespace = account.metadata.namespace.clone().unwrap_or_default();
        let name = account.metadata.name.clone().unwrap_or_default();
        let lifetime = lifetime.clamp(MIN_EXPIRATION, MAX_EXPIRATION);
        let audiences = if audiences.is_empty() {
            self.audiences.clone()
        } else {
            audiences.to_vec()
        };
        let seconds = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims {
            aud: audiences.clone(),
            exp: now_unix.saturating_add(seconds),
            iat: now_unix,
            nbf: now_unix,
            iss: self.issuer.clone(),
            sub: format!("system:serviceaccount:{namespace}:{name}"),
            kubernetes: KubernetesClaim {
                namespace,
                serviceaccount: NamedRef {
                    name,
                    uid: account.metadata.uid.clone().unwrap_or_default(),
                },
                pod,
            },
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &self.encoding)
            .map_err(|e| e.to_string())?;
        Ok(IssuedToken {
            token,
            expires_at: claims.exp,
            audiences,
            expiration_seconds: seconds,
        })
    }

    /// The claims of a valid token (signature, issuer, audience, expiry), else `None`.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[self.issuer.as_str()]);
        validation.set_audience(&self.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }

    /// The account still exists (and is the one the token was issued for).
    fn account_exists(&self, claims: &Claims) -> bool {
        let Some(store) = &self.store else {
            return true;
        };
        let key = ObjectKey::new(
            ResourceKind::ServiceAccount,
            &claims.kubernetes.namespace,
            &claims.kubernetes.serviceaccount.name,
        );
        let Some(stored) = store.get(&key) else {
            return false;
        };
        let Ok(object) = JsonBytes::decode(&stored.value) else {
            return false;
        };
        let uid = match object.as_ref() {
            KubeObject::ServiceAccount(account) => account.metadata.uid.clone(),
            _ => None,
        };
        let expected = &claims.kubernetes.serviceaccount.uid;
        expected.is_empty() || uid.as_deref() == Some(expected.as_str())
    }
}

impl Authenticator for ServiceAccountTokens {
    fn authenticate_token(&self, token: &str) -> Option<UserInfo> {
        // JWTs have three dot-separated parts; skip the decode for anything else.
        if token.bytes().filter(|b| *b == b'.').count() != 2 {
            return None;
        }
        let claims = self.verify(token)?;
        let namespace = &claims.kubernetes.namespace;
        let name = &claims.kubernetes.serviceaccount.name;
        if claims.sub != format!("system:serviceaccount:{namespace}:{name}")
            || !self.account_exists(&claims)
        {
            return None;
        }
        Some(UserInfo {
            name: claims.sub.clone(),
            uid: claims.kubernetes.serviceaccount.uid.clone(),
            groups: vec![
                "system:serviceaccounts".to_string(),
                format!("system:serviceaccounts:{namespace}"),
            ],
        })
    }
}

/// Asks each authenticator in order; the first that knows the token wins.
#[derive(Default)]
pub struct AuthenticatorChain {
    members: Vec<Arc<dyn Authenticator>>,
}

impl std::fmt::Debug for AuthenticatorChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthenticatorChain")
            .field("members", &self.members.len())
            .finish()
    }
}

impl AuthenticatorChain {
    pub fn new() -> Self {
        AuthenticatorChain::default()
    }

    pub fn push(&mut self, member: Arc<dyn Authenticator>) {
        self.members.push(member);
    }
}

impl Authenticator for AuthenticatorChain {
    fn authenticate_token(&self, token: &str) -> Option<UserInfo> {
        self.members
            .iter()
            .find_map(|m| m.authenticate_token(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn token_files_parse_upstreams_csv() {
        let file =
            TokenFile::parse("t1,alice,1001,\"dev,ops\"\n\n# comment\nt2,bob,1002\n").unwrap();
        let alice = file.authenticate_token("t1").unwrap();
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.uid, "1001");
        assert_eq!(alice.groups, vec!["dev", "ops"]);
        assert!(file.authenticate_token("t2").unwrap().groups.is_empty());
        assert!(file.authenticate_token("t3").is_none());
        assert_eq!(TokenFile::parse("t1,alice").unwrap_err().0, 1);
        assert!(TokenFile::parse("t1,alice,1,\"dev").is_err());
    }

    #[test]
    fn join_tokens_name_the_node_when_prefixed() {
        let join = NodeJoinToken::new("s3cret");
        assert_eq!(
            join.authenticate_token("s3cret").unwrap().name,
            "system:node:join"
        );
        let named = join.authenticate_token("worker-1.s3cret").unwrap();
        assert_eq!(named.name, "system:node:worker-1");
        assert_eq!(named.groups, vec!["system:nodes"]);
        assert!(join.authenticate_token("worker-1.wrong").is_none());
        assert!(join.authenticate_token("nope").is_none());
    }

    fn account() -> ServiceAccount {
        ServiceAccount {
            metadata: ObjectMeta {
                name: Some("default".into()),
                namespace: Some("team".into()),
                uid: Some("u-1".into()),
                ..ObjectMeta::default()
            },
            ..ServiceAccount::default()
        }
    }

    fn now() -> i64 {
        jiff::Timestamp::now().as_second()
    }

    #[test]
    fn service_account_tokens_verify_and_expire() {
        let tokens = ServiceAccountTokens::generate().unwrap();
        let issued = tokens
            .issue(&account(), &[], DEFAULT_EXPIRATION, None, now())
            .unwrap();
        assert_eq!(issued.expiration_seconds, 3600);
        let user = tokens.authenticate_token(&issued.token).unwrap();
        assert_eq!(user.name, "system:serviceaccount:team:default");
        assert_eq!(
            user.groups,
            vec!["system:serviceaccounts", "system:serviceaccounts:team"]
        );
        // Issued two hours ago for the minimum lifetime: expired.
        let old = tokens
            .issue(&account(), &[], MIN_EXPIRATION, None, now() - 7200)
            .unwrap();
        assert!(tokens.authenticate_token(&old.token).is_none());
        // Another key's token, and another audience, are refused.
        let other = ServiceAccountTokens::generate().unwrap();
        let foreign = other
            .issue(&account(), &[], DEFAULT_EXPIRATION, None, now())
            .unwrap();
        assert!(tokens.authenticate_token(&foreign.token).is_none());
        let vault = tokens
            .issue(
                &account(),
                &["vault".into()],
                DEFAULT_EXPIRATION,
                None,
                now(),
            )
            .unwrap();
        assert!(tokens.authenticate_token(&vault.token).is_none());
    }

    #[test]
    fn the_key_is_kept_in_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let first = ServiceAccountTokens::load_or_create(dir.path()).unwrap();
        let second = ServiceAccountTokens::load_or_create(dir.path()).unwrap();
        let issued = first
            .issue(&account(), &[], DEFAULT_EXPIRATION, None, now())
            .unwrap();
        assert!(second.authenticate_token(&issued.token).is_some());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("pki").join(SERVICE_ACCOUNT_KEY))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
