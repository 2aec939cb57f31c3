//! The etcd key and value layout: Kubernetes' registry paths under a configurable
//! prefix, a small text header on every value, and two bookkeeping keys.
//!
//! Keys are what kube-apiserver writes (`pkg/kubeapiserver/default_storage_factory_builder.go`
//! and each `pkg/registry/*/storage`): `<prefix>/<resource>/<namespace>/<name>` for
//! namespaced kinds and `<prefix>/<resource>/<name>` for cluster-scoped ones, where
//! `<resource>` is the plural, except where upstream kept a historical name. Of the kinds
//! Corral stores only Nodes differ: they live under `minions` (upstream's
//! `SpecialDefaultResourcePrefixes` also renames services, endpoints,
//! replicationcontrollers and ingresses, which Corral does not store). Both Event APIs
//! share `events`, as upstream's cohabitating resources do. The default prefix is
//! upstream's `/registry`, so `etcdctl get --prefix /registry/jobs/` reads as it would on
//! a Kubernetes cluster.
//!
//! Values are `corral/v1 <create revision> <mod revision>\n` followed by the object's JSON
//! (whose `resourceVersion` is the mod revision). The revisions are Corral's, not etcd's
//! (see the crate docs for why they differ); the header keeps them without parsing the
//! JSON, is readable in `etcdctl` output, and tells Corral's values apart from
//! kube-apiserver's (protobuf values start with `k8s\0`, JSON values with `{`).
//!
//! Bookkeeping lives under `<prefix>/_corral/`, a segment no resource or API group can
//! take (both are DNS names, which have no `_`): `revision` holds Corral's durable
//! revision in decimal, and `lock` names the instance that owns the prefix.

use corral_api::{ObjectKey, ResourceKind, Revision};
use corral_store::{StoreError, StoredObject};

/// Upstream's default etcd prefix (`--etcd-prefix`).
pub const DEFAULT_PREFIX: &str = "/registry";

/// The first bytes of every value Corral writes.
pub const VALUE_MAGIC: &str = "corral/v1 ";

const META_SEGMENT: &str = "_corral";

/// The registry path segment of `kind`: the plural, or upstream's historical name.
pub fn resource_segment(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Node => "minions",
        other => other.plural(),
    }
}

fn kind_of_segment(segment: &str) -> Option<ResourceKind> {
    ResourceKind::ALL
        .iter()
        .copied()
        .find(|kind| resource_segment(*kind) == segment)
}

/// Checks a prefix: absolute, no trailing slash, no empty segment (`/registry`,
/// `/tenants/a/registry`).
pub fn validate_prefix(prefix: &str) -> Result<(), String> {
    let problem = if !prefix.starts_with('/') {
        Some("must start with '/'")
    } else if prefix.len() > 1 && prefix.ends_with('/') {
        Some("must not end with '/'")
    } else if prefix.len() == 1 {
        Some("must name at least one segment (the default is /registry)")
    } else if prefix[1..].split('/').any(str::is_empty) {
        Some("must not contain an empty segment")
    } else if prefix.chars().any(|c| c.is_control()) {
        Some("must not contain control characters")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(format!("etcd prefix {prefix:?} {problem}")),
        None => Ok(()),
    }
}

/// The key layout of one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    prefix: String,
}

impl Layout {
    /// `prefix` must pass [`validate_prefix`].
    pub fn new(prefix: &str) -> Result<Layout, String> {
        validate_prefix(prefix)?;
        Ok(Layout {
            prefix: prefix.to_string(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>/`: every key of this layout starts with it.
    pub fn range_start(&self) -> Vec<u8> {
        format!("{}/", self.prefix).into_bytes()
    }

    /// The exclusive end of the range of every key under the prefix (`<prefix>0`: `0`
    /// follows `/`).
    pub fn range_end(&self) -> Vec<u8> {
        format!("{}0", self.prefix).into_bytes()
    }

    /// Corral's durable revision, in decimal.
    pub fn revision_key(&self) -> Vec<u8> {
        format!("{}/{META_SEGMENT}/revision", self.prefix).into_bytes()
    }

    /// The owner of the prefix, attached to the owner's lease.
    pub fn lock_key(&self) -> Vec<u8> {
        format!("{}/{META_SEGMENT}/lock", self.prefix).into_bytes()
    }

    /// `/registry/jobs/ns/x`, `/registry/minions/node-1`.
    pub fn object_key(&self, key: &ObjectKey) -> Vec<u8> {
        let segment = resource_segment(key.kind);
        if key.namespace.is_empty() {
            format!("{}/{segment}/{}", self.prefix, key.name).into_bytes()
        } else {
            format!("{}/{segment}/{}/{}", self.prefix, key.namespace, key.name).into_bytes()
        }
    }

    /// What a key under the prefix is.
    pub fn classify(&self, raw: &[u8]) -> Result<KeyRole, StoreError> {
        let text = std::str::from_utf8(raw).map_err(|_| {
            StoreError::Corrupt(format!(
                "etcd key {:?} is not UTF-8",
                String::from_utf8_lossy(raw)
            ))
        })?;
        let foreign = |why: &str| {
            StoreError::Corrupt(format!(
                "etcd key {text:?} is not a Corral object ({why}); the prefix {} must hold Corral's objects only",
                self.prefix
            ))
        };
        let rest = text
            .strip_prefix(self.prefix.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| foreign("outside the prefix"))?;
        let (segment, path) = rest.split_once('/').ok_or_else(|| foreign("no name"))?;
        if segment == META_SEGMENT {
            return Ok(match path {
                "revision" => KeyRole::Revision,
                "lock" => KeyRole::Lock,
                _ => KeyRole::OtherMeta,
            });
        }
        let kind = kind_of_segment(segment)
            .ok_or_else(|| foreign(&format!("Corral stores no resource {segment:?}")))?;
        let parts: Vec<&str> = path.split('/').collect();
        let key = match (kind.namespaced(), parts.as_slice()) {
            (true, [namespace, name]) => ObjectKey::new(kind, namespace, name),
            (false, [name]) => ObjectKey::cluster(kind, name),
            (true, _) => return Err(foreign("a namespaced kind needs <namespace>/<name>")),
            (false, _) => return Err(foreign("a cluster-scoped kind needs <name> only")),
        };
        Ok(KeyRole::Object(key))
    }
}

/// A key under the prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyRole {
    Object(ObjectKey),
    Revision,
    Lock,
    /// Another bookkeeping key (a later version's); ignored.
    OtherMeta,
}

/// `corral/v1 <create> <mod>\n<json>`.
pub fn encode_value(create_revision: Revision, mod_revision: Revision, json: &[u8]) -> Vec<u8> {
    let header = format!("{VALUE_MAGIC}{} {}\n", create_revision.0, mod_revision.0);
    let mut bytes = Vec::with_capacity(header.len() + json.len());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(json);
    bytes
}

/// The inverse of [`encode_value`]; `Corrupt` with the key's name when malformed.
pub fn decode_value(
    key: ObjectKey,
    raw_key: &[u8],
    bytes: &[u8],
) -> Result<StoredObject, StoreError> {
    let corrupt = |why: String| {
        StoreError::Corrupt(format!(
            "etcd value of {}: {why}",
            String::from_utf8_lossy(raw_key)
        ))
    };
    let Some(rest) = bytes.strip_prefix(VALUE_MAGIC.as_bytes()) else {
        let why = if bytes.starts_with(b"k8s\0") {
            "a protobuf value written by kube-apiserver, not by Corral".to_string()
        } else {
            "it does not start with the Corral header".to_string()
        };
        return Err(corrupt(why));
    };
    let newline = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| corrupt("the header has no end".into()))?;
    let header = std::str::from_utf8(&rest[..newline])
        .map_err(|_| corrupt("the header is not text".into()))?;
    let mut numbers = header.split(' ').map(str::parse::<u64>);
    let (Some(Ok(create)), Some(Ok(modified)), None) =
        (numbers.next(), numbers.next(), numbers.next())
    else {
        return Err(corrupt(format!("malformed header {header:?}")));
    };
    Ok(StoredObject {
        key,
        create_revision: Revision(create),
        mod_revision: Revision(modified),
        bytes: rest[newline + 1..].to_vec(),
    })
}

/// Parses the revision key's value.
pub fn decode_revision(bytes: &[u8]) -> Result<Revision, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .map(Revision)
        .ok_or_else(|| {
            StoreError::Corrupt(format!(
                "Corral's revision key holds {:?}, not a decimal revision",
                String::from_utf8_lossy(bytes)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout::new(DEFAULT_PREFIX).unwrap()
    }

    #[test]
    fn keys_follow_upstreams_registry_paths() {
        let layout = layout();
        for kind in ResourceKind::ALL {
            let key = if kind.namespaced() {
                ObjectKey::new(*kind, "ns", "x")
            } else {
                ObjectKey::cluster(*kind, "x")
            };
            let raw = layout.object_key(&key);
            // corral-store words its storage errors with upstream's path: same layout.
            assert_eq!(
                String::from_utf8(raw.clone()).unwrap(),
                corral_store::registry_path(&key)
            );
            assert_eq!(layout.classify(&raw).unwrap(), KeyRole::Object(key));
        }
        let job = ObjectKey::new(ResourceKind::Job, "ns", "x");
        assert_eq!(layout.object_key(&job), b"/registry/jobs/ns/x");
        let node = ObjectKey::cluster(ResourceKind::Node, "n1");
        assert_eq!(layout.object_key(&node), b"/registry/minions/n1");
    }

    #[test]
    fn every_key_sorts_inside_the_prefix_range() {
        let layout = Layout::new("/corral/a").unwrap();
        let (start, end) = (layout.range_start(), layout.range_end());
        let keys = [
            layout.revision_key(),
            layout.lock_key(),
            layout.object_key(&ObjectKey::new(ResourceKind::Pod, "ns", "p")),
        ];
        for key in keys {
            assert!(key >= start && key < end, "{key:?}");
        }
        // A sibling prefix that extends this one's last segment is outside.
        let sibling = Layout::new("/corral/ab").unwrap();
        assert!(sibling.revision_key() >= end || sibling.revision_key() < start);
    }

    #[test]
    fn bookkeeping_and_foreign_keys_are_told_apart() {
        let layout = layout();
        assert_eq!(
            layout.classify(&layout.revision_key()).unwrap(),
            KeyRole::Revision
        );
        assert_eq!(layout.classify(&layout.lock_key()).unwrap(), KeyRole::Lock);
        for foreign in [
            &b"/registry/services/specs/default/kubernetes"[..],
            b"/registry/nodes/n1",
            b"/registry/jobs/x",
            b"/registry/minions/ns/n1",
            b"/registry/jobs",
            b"/other/jobs/ns/x",
        ] {
            let error = layout.classify(foreign).unwrap_err();
            assert!(matches!(error, StoreError::Corrupt(_)), "{error}");
            assert!(
                error.to_string().contains("Corral's objects only"),
                "{error}"
            );
        }
    }

    #[test]
    fn prefixes_are_validated() {
        for good in ["/registry", "/tenants/a/registry", "/x"] {
            assert!(validate_prefix(good).is_ok(), "{good}");
        }
        for bad in ["", "/", "registry", "/registry/", "/a//b", "/a\nb"] {
            assert!(validate_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_round_trip_and_foreign_values_are_named() {
        let key = ObjectKey::new(ResourceKind::Pod, "ns", "p");
        let raw = layout().object_key(&key);
        let value = encode_value(Revision(3), Revision(9), b"{\"a\":1}");
        assert!(value.starts_with(b"corral/v1 3 9\n{"));
        let stored = decode_value(key.clone(), &raw, &value).unwrap();
        assert_eq!(
            (stored.create_revision, stored.mod_revision, stored.bytes),
            (Revision(3), Revision(9), b"{\"a\":1}".to_vec())
        );
        for bad in [
            &b"k8s\0\n\x0f"[..],
            b"{\"kind\":\"Pod\"}",
            b"corral/v1 3\n{}",
            b"corral/v1 3 x\n{}",
            b"corral/v1 3 9",
        ] {
            assert!(matches!(
                decode_value(key.clone(), &raw, bad),
                Err(StoreError::Corrupt(_))
            ));
        }
        let protobuf = decode_value(key, &raw, b"k8s\0rest").unwrap_err();
        assert!(protobuf.to_string().contains("kube-apiserver"));
        assert_eq!(decode_revision(b"42").unwrap(), Revision(42));
        assert!(decode_revision(b"-1").is_err());
    }
}
