//! Continue tokens: opaque to clients, `base64url(JSON {v, kind, rv, ns, name})` inside.
//!
//! A token says "the list of `kind` read at revision `rv`, resumed after key
//! (`ns`, `name`)". `rv = -1` means "at the latest revision": upstream hands such a token
//! out with the 410 for an expired token, so a client may knowingly continue with an
//! inconsistent list.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use corral_api::{ObjectKey, ResourceKind, Revision};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::key::StoreKey;

const TOKEN_VERSION: &str = "corral/v1";
/// Tokens longer than this are rejected before decoding (names are bounded, so a real
/// token is far shorter).
const TOKEN_LENGTH_MAX: usize = 4096;

#[derive(Serialize, Deserialize)]
struct TokenBody {
    v: String,
    kind: String,
    rv: i64,
    ns: String,
    name: String,
}

/// A decoded continue token.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ContinueToken {
    /// `None`: continue at the latest revision.
    pub revision: Option<Revision>,
    pub after: StoreKey,
}

pub(crate) fn encode(revision: Option<Revision>, after: &StoreKey) -> String {
    let body = TokenBody {
        v: TOKEN_VERSION.to_string(),
        kind: after.kind().kind_name().to_string(),
        rv: revision.map_or(-1, |r| i64::try_from(r.0).unwrap_or(i64::MAX)),
        ns: after.namespace().to_string(),
        name: after.name().to_string(),
    };
    // Serialising a struct of strings and an integer cannot fail.
    let json = serde_json::to_vec(&body).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes `text` for a list of `kind` in `namespace` (None: all namespaces).
pub(crate) fn decode(
    text: &str,
    kind: ResourceKind,
    namespace: Option<&str>,
) -> Result<ContinueToken, StoreError> {
    let invalid = |why: &str| StoreError::InvalidContinue(why.to_string());
    if text.len() > TOKEN_LENGTH_MAX {
        return Err(invalid("token is too long"));
    }
    let json = URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| invalid("not base64"))?;
    let body: TokenBody =
        serde_json::from_slice(&json).map_err(|_| invalid("not a continue token"))?;
    if body.v != TOKEN_VERSION {
        return Err(invalid("unsupported token version"));
    }
    if body.kind != kind.kind_name() {
        return Err(invalid("token belongs to a list of another kind"));
    }
    if namespace.is_some_and(|n| n != body.ns) {
        return Err(invalid("token belongs to a list of another namespace"));
    }
    let revision = match body.rv {
        -1 => None,
        rv if rv > 0 => Some(Revision(rv as u64)),
        _ => return Err(invalid("token has an invalid revision")),
    };
    let after = StoreKey::new(&ObjectKey::new(kind, &body.ns, &body.name))
        .map_err(|_| invalid("token names an invalid key"))?;
    Ok(ContinueToken { revision, after })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_check_their_scope() {
        let key = StoreKey::new(&ObjectKey::new(ResourceKind::Pod, "ns", "p-7")).unwrap();
        let token = encode(Some(Revision(42)), &key);
        let decoded = decode(&token, ResourceKind::Pod, None).unwrap();
        assert_eq!(decoded.revision, Some(Revision(42)));
        assert_eq!(decoded.after, key);
        assert!(decode(&token, ResourceKind::Pod, Some("ns")).is_ok());
        assert!(decode(&token, ResourceKind::Pod, Some("other")).is_err());
        assert!(decode(&token, ResourceKind::Job, None).is_err());
        let latest = encode(None, &key);
        assert_eq!(
            decode(&latest, ResourceKind::Pod, None).unwrap().revision,
            None
        );
    }

    #[test]
    fn malformed_tokens_are_invalid_continue_errors() {
        let garbage =
            URL_SAFE_NO_PAD.encode(br#"{"v":"corral/v1","kind":"Pod","rv":0,"ns":"a","name":"b"}"#);
        let slash = URL_SAFE_NO_PAD
            .encode(br#"{"v":"corral/v1","kind":"Pod","rv":3,"ns":"a","name":"b/c"}"#);
        for text in [
            "",
            "%%%",
            "e30",
            garbage.as_str(),
            slash.as_str(),
            &"A".repeat(5000),
        ] {
            assert!(
                matches!(
                    decode(text, ResourceKind::Pod, None),
                    Err(StoreError::InvalidContinue(_))
                ),
                "{text:?}"
            );
        }
    }
}
