//! URL shapes of the Kubernetes API, parsed into [`ApiPath`] (pure; no lookups of served
//! resources except to tell `namespaces/{name}/status` from `namespaces/{ns}/{resource}`).
//!
//! ```text
//! /api                                   legacy versions
//! /api/v1, /apis/{g}/{v}                 resource list of a group-version
//! /apis, /apis/{g}                       groups, one group
//! {prefix}/{r}[/{name}[/{sub}]]          cluster-scoped, or all namespaces (lists)
//! {prefix}/namespaces/{ns}/{r}[/{name}[/{sub}]]
//! {prefix}/namespaces/{name}/{status|finalize}
//! {prefix}/watch/...                     the legacy watch prefix
//! ```

use corral_api::resource::find_resource;

/// A parsed API path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiPath {
    /// `/api`
    LegacyRoot,
    /// `/apis`
    GroupsRoot,
    /// `/apis/{g}`
    Group(String),
    /// `/api/v1` or `/apis/{g}/{v}`
    GroupVersion {
        group: String,
        version: String,
    },
    Resource(ResourcePath),
    NotFound,
}

/// A path addressing a resource collection, object or subresource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// Reached through the legacy `/watch/` prefix.
    pub legacy_watch: bool,
}

/// Namespace subresources, which share the `namespaces/{x}/{y}` shape with namespaced
/// collections.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Parses `path` (without query). Empty segments (a trailing slash) are ignored, as
/// upstream's router does.
pub fn parse(path: &str) -> ApiPath {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["api"] => ApiPath::LegacyRoot,
        ["apis"] => ApiPath::GroupsRoot,
        ["api", version] => ApiPath::GroupVersion {
            group: String::new(),
            version: version.to_string(),
        },
        ["apis", group] => ApiPath::Group(group.to_string()),
        ["apis", group, version] => ApiPath::GroupVersion {
            group: group.to_string(),
            version: version.to_string(),
        },
        ["api", version, rest @ ..] => parse_resource("", version, rest),
        ["apis", group, version, rest @ ..] => parse_resource(group, version, rest),
        _ => ApiPath::NotFound,
    }
}

fn parse_resource(group: &str, version: &str, rest: &[&str]) -> ApiPath {
    let (legacy_watch, rest) = match rest {
        ["watch", tail @ ..] if !tail.is_empty() => (true, tail),
        _ => (false, rest),
    };
    let mut path = ResourcePath {
        group: group.to_string(),
        version: version.to_string(),
        legacy_watch,
        ..ResourcePath::default()
    };
    let (namespace, tail) = match rest {
        ["namespaces", namespace, tail @ ..]
            if !tail.is_empty() && is_namespaced_collection(group, version, tail) =>
        {
            (Some(namespace.to_string()), tail)
        }
        _ => (None, rest),
    };
    path.namespace = namespace;
    match tail {
        [resource] => path.resource = resource.to_string(),
        [resource, name] => {
            path.resource = resource.to_string();
            path.name = Some(name.to_string());
        }
        [resource, name, subresource] => {
            path.resource = resource.to_string();
            path.name = Some(name.to_string());
            path.subresource = Some(subresource.to_string());
        }
        _ => return ApiPath::NotFound,
    }
    ApiPath::Resource(path)
}

/// `namespaces/{x}/{tail…}` is a namespaced collection unless it is a namespace's own
/// subresource (`namespaces/{name}/status`).
fn is_namespaced_collection(group: &str, version: &str, tail: &[&str]) -> bool {
    let first = tail[0];
    let namespace_subresource =
        group.is_empty() && tail.len() == 1 && NAMESPACE_SUBRESOURCES.contains(&first);
    !namespace_subresource || find_resource(group, version, first).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(path: &str) -> ResourcePath {
        match parse(path) {
            ApiPath::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn discovery_paths() {
        assert_eq!(parse("/api"), ApiPath::LegacyRoot);
        assert_eq!(parse("/apis/"), ApiPath::GroupsRoot);
        assert_eq!(parse("/apis/batch"), ApiPath::Group("batch".into()));
        assert_eq!(
            parse("/api/v1"),
            ApiPath::GroupVersion {
                group: String::new(),
                version: "v1".into()
            }
        );
        assert_eq!(parse("/nope"), ApiPath::NotFound);
    }

    #[test]
    fn namespaced_and_cluster_paths() {
        let r = resource("/apis/batch/v1/namespaces/ns/jobs/j/status");
        assert_eq!(
            (
                r.namespace.as_deref(),
                r.resource.as_str(),
                r.name.as_deref(),
                r.subresource.as_deref()
            ),
            (Some("ns"), "jobs", Some("j"), Some("status"))
        );
        let r = resource("/api/v1/pods");
        assert_eq!((r.namespace, r.name), (None, None));
        let r = resource("/api/v1/namespaces/kube-system");
        assert_eq!(
            (r.resource.as_str(), r.name.as_deref()),
            ("namespaces", Some("kube-system"))
        );
        let r = resource("/api/v1/namespaces/x/status");
        assert_eq!(
            (
                r.resource.as_str(),
                r.name.as_deref(),
                r.subresource.as_deref()
            ),
            ("namespaces", Some("x"), Some("status"))
        );
        let r = resource("/api/v1/namespaces/x/pods");
        assert_eq!(
            (r.namespace.as_deref(), r.resource.as_str()),
            (Some("x"), "pods")
        );
        let r = resource("/api/v1/watch/namespaces/x/pods");
        assert!(r.legacy_watch);
        assert_eq!(
            parse("/api/v1/namespaces/x/pods/p/log/extra"),
            ApiPath::NotFound
        );
    }
}
