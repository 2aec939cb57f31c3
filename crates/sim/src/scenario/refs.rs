//! Object references in scenario files: `cronjob/NS/NAME`, `job/NS/NAME`, `pod/NS/NAME`,
//! `namespace/NS`, `node/NAME` (plural and short kind names are accepted too).

use std::fmt;

use corral_api::{ObjectKey, ResourceKind};

/// A parsed reference.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ObjectRef {
    Object(ObjectKey),
    Namespace(String),
}

impl ObjectRef {
    pub fn parse(text: &str) -> Result<ObjectRef, String> {
        let parts: Vec<&str> = text.trim().split('/').collect();
        let kind = match parts[0].to_ascii_lowercase().as_str() {
            "cronjob" | "cronjobs" | "cj" => ResourceKind::CronJob,
            "job" | "jobs" => ResourceKind::Job,
            "pod" | "pods" | "po" => ResourceKind::Pod,
            "node" | "nodes" | "no" => ResourceKind::Node,
            "namespace" | "namespaces" | "ns" => ResourceKind::Namespace,
            other => {
                return Err(format!(
                    "unknown kind {other:?} in {text:?}: expected cronjob, job, pod, node or namespace"
                ));
            }
        };
        let bad = || {
            format!(
                "invalid reference {text:?}: expected KIND/NAMESPACE/NAME (KIND/NAME for nodes and namespaces)"
            )
        };
        match (kind, parts.len()) {
            (ResourceKind::Namespace, 2) if !parts[1].is_empty() => {
                Ok(ObjectRef::Namespace(parts[1].to_string()))
            }
            (ResourceKind::Node, 2) if !parts[1].is_empty() => {
                Ok(ObjectRef::Object(ObjectKey::cluster(kind, parts[1])))
            }
            (ResourceKind::Namespace | ResourceKind::Node, _) => Err(bad()),
            (_, 3) if !parts[1].is_empty() && !parts[2].is_empty() => {
                Ok(ObjectRef::Object(ObjectKey::new(kind, parts[1], parts[2])))
            }
            _ => Err(bad()),
        }
    }

    pub fn key(&self) -> Option<&ObjectKey> {
        match self {
            ObjectRef::Object(key) => Some(key),
            ObjectRef::Namespace(_) => None,
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectRef::Object(key) if key.namespace.is_empty() => {
                write!(
                    f,
                    "{}/{}",
                    key.kind.kind_name().to_ascii_lowercase(),
                    key.name
                )
            }
            ObjectRef::Object(key) => write!(
                f,
                "{}/{}/{}",
                key.kind.kind_name().to_ascii_lowercase(),
                key.namespace,
                key.name
            ),
            ObjectRef::Namespace(ns) => write!(f, "namespace/{ns}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_with_kind_aliases() {
        assert_eq!(
            ObjectRef::parse("cj/default/minutely").unwrap().to_string(),
            "cronjob/default/minutely"
        );
        assert_eq!(
            ObjectRef::parse("namespace/a").unwrap(),
            ObjectRef::Namespace("a".into())
        );
        assert_eq!(ObjectRef::parse("node/n1").unwrap().to_string(), "node/n1");
        for bad in ["cronjob/x", "widget/a/b", "job//x", "namespace/a/b"] {
            assert!(ObjectRef::parse(bad).is_err(), "{bad}");
        }
    }
}
