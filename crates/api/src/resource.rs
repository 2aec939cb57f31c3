//! The resource registry: every resource the API serves, with the facts discovery, routing
//! and kubectl need (group, version, plural and singular names, kind, scope, short names,
//! categories, verbs, subresources).
//!
//! Most entries are stored kinds ([`Backing::Stored`]). A few are other views: `events` in
//! `events.k8s.io/v1` shows the same objects as core `events` (upstream keeps one storage
//! for both), review kinds are create-only computations, and Corral's `holdings` are
//! computed from pods and jobs.

use crate::object::ResourceKind;

/// The standard verb set of a stored, writable resource.
pub const VERBS_ALL: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// Verbs of a computed, read-only resource.
pub const VERBS_READ: &[&str] = &["get", "list", "watch"];
/// Verbs of a review-style resource.
pub const VERBS_CREATE: &[&str] = &["create"];
const VERBS_STATUS: &[&str] = &["get", "patch", "update"];

/// How a served resource is backed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    /// Stored as this kind.
    Stored(ResourceKind),
    /// `events.k8s.io/v1` Events: converted to and from stored core/v1 Events.
    EventsV1View,
    /// Computed per request (reviews) or from other objects (holdings); never stored.
    Virtual,
}

/// A subresource as advertised in discovery (`pods/log`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubresourceInfo {
    pub name: &'static str,
    /// Kind of the subresource's request/response body.
    pub kind: &'static str,
    /// Set when the body kind lives in another group (pods/eviction → policy/v1).
    pub group: Option<&'static str>,
    pub version: Option<&'static str>,
    pub verbs: &'static [&'static str],
}

/// Everything discovery says about one served resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    pub group: &'static str,
    pub version: &'static str,
    /// Plural, as in URLs.
    pub resource: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub verbs: &'static [&'static str],
    pub subresources: &'static [SubresourceInfo],
    pub backing: Backing,
}

impl ResourceInfo {
    /// `group/version`, or `version` for the core group.
    pub fn group_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn group_resource(&self) -> crate::status::GroupResource {
        crate::status::GroupResource::new(self.group, self.resource)
    }

    pub fn stored_kind(&self) -> Option<ResourceKind> {
        match self.backing {
            Backing::Stored(kind) => Some(kind),
            Backing::EventsV1View => Some(ResourceKind::Event),
            Backing::Virtual => None,
        }
    }

    pub fn subresource(&self, name: &str) -> Option<&'static SubresourceInfo> {
        self.subresources.iter().find(|s| s.name == name)
    }

    pub fn allows(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }
}

const fn status_of(kind: &'static str) -> SubresourceInfo {
    SubresourceInfo {
        name: "status",
        kind,
        group: None,
        version: None,
        verbs: VERBS_STATUS,
    }
}

const fn sub(
    name: &'static str,
    kind: &'static str,
    verbs: &'static [&'static str],
) -> SubresourceInfo {
    SubresourceInfo {
        name,
        kind,
        group: None,
        version: None,
        verbs,
    }
}

macro_rules! stored {
    ($kind:ident, $singular:literal, [$($short:literal),*], [$($cat:literal),*], [$($subres:expr),*]) => {
        ResourceInfo {
            group: "",
            version: "",
            resource: "",
            singular: $singular,
            kind: "",
            namespaced: false,
            short_names: &[$($short),*],
            categories: &[$($cat),*],
            verbs: VERBS_ALL,
            subresources: &[$($subres),*],
            backing: Backing::Stored(ResourceKind::$kind),
        }
    };
}

/// Stored resources; group, version, plural, kind and scope are filled from the typed
/// kind by [`resolve`] so they cannot drift from k8s-openapi.
const STORED: &[ResourceInfo] = &[
    stored!(
        Namespace,
        "namespace",
        ["ns"],
        [],
        [
            status_of("Namespace"),
            sub("finalize", "Namespace", &["update"])
        ]
    ),
    stored!(Node, "node", ["no"], [], [status_of("Node")]),
    stored!(
        Pod,
        "pod",
        ["po"],
        ["all"],
        [
            status_of("Pod"),
            sub("log", "Pod", &["get"]),
            sub("binding", "Binding", &["create"]),
            SubresourceInfo {
                name: "eviction",
                kind: "Eviction",
                group: Some("policy"),
                version: Some("v1"),
                verbs: &["create"]
            }
        ]
    ),
    stored!(Event, "event", ["ev"], [], []),
    stored!(
        ServiceAccount,
        "serviceaccount",
        ["sa"],
        [],
        [SubresourceInfo {
            name: "token",
            kind: "TokenRequest",
            group: Some("authentication.k8s.io"),
            version: Some("v1"),
            verbs: &["create"]
        }]
    ),
    stored!(
        PersistentVolumeClaim,
        "persistentvolumeclaim",
        ["pvc"],
        [],
        [status_of("PersistentVolumeClaim")]
    ),
    stored!(
        PersistentVolume,
        "persistentvolume",
        ["pv"],
        [],
        [status_of("PersistentVolume")]
    ),
    stored!(
        ResourceQuota,
        "resourcequota",
        ["quota"],
        [],
        [status_of("ResourceQuota")]
    ),
    stored!(LimitRange, "limitrange", ["limits"], [], []),
    stored!(ConfigMap, "configmap", ["cm"], [], []),
    stored!(Secret, "secret", [], [], []),
    stored!(Job, "job", [], ["all"], [status_of("Job")]),
    stored!(CronJob, "cronjob", ["cj"], ["all"], [status_of("CronJob")]),
    stored!(Lease, "lease", [], [], []),
    stored!(
        MutatingWebhookConfiguration,
        "mutatingwebhookconfiguration",
        [],
        ["api-extensions"],
        []
    ),
    stored!(
        ValidatingWebhookConfiguration,
        "validatingwebhookconfiguration",
        [],
        ["api-extensions"],
        []
    ),
    stored!(Role, "role", [], [], []),
    stored!(ClusterRole, "clusterrole", [], [], []),
    stored!(RoleBinding, "rolebinding", [], [], []),
    stored!(ClusterRoleBinding, "clusterrolebinding", [], [], []),
    stored!(
        PodDisruptionBudget,
        "poddisruptionbudget",
        ["pdb"],
        [],
        [status_of("PodDisruptionBudget")]
    ),
];

const fn virtual_resource(
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    verbs: &'static [&'static str],
) -> ResourceInfo {
    ResourceInfo {
        group,
        version,
        resource,
        singular,
        kind,
        namespaced,
        short_names: &[],
        categories: &[],
        verbs,
        subresources: &[],
        backing: Backing::Virtual,
    }
}

/// Corral's own API group.
pub const CORRAL_GROUP: &str = "corral.dev";
pub const CORRAL_VERSION: &str = "v1alpha1";

/// Resources that are not stored kinds.
const OTHERS: &[ResourceInfo] = &[
    ResourceInfo {
        group: "events.k8s.io",
        version: "v1",
        resource: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        verbs: VERBS_ALL,
        subresources: &[],
        backing: Backing::EventsV1View,
    },
    virtual_resource(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        "SelfSubjectAccessReview",
        false,
        VERBS_CREATE,
    ),
    virtual_resource(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "selfsubjectrulesreview",
        "SelfSubjectRulesReview",
        false,
        VERBS_CREATE,
    ),
    virtual_resource(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "subjectaccessreview",
        "SubjectAccessReview",
        false,
        VERBS_CREATE,
    ),
    virtual_resource(
        "authorization.k8s.io",
        "v1",
        "localsubjectaccessreviews",
        "localsubjectaccessreview",
        "LocalSubjectAccessReview",
        true,
        VERBS_CREATE,
    ),
    virtual_resource(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "selfsubjectreview",
        "SelfSubjectReview",
        false,
        VERBS_CREATE,
    ),
    virtual_resource(
        "authentication.k8s.io",
        "v1",
        "tokenreviews",
        "tokenreview",
        "TokenReview",
        false,
        VERBS_CREATE,
    ),
    virtual_resource(
        CORRAL_GROUP,
        CORRAL_VERSION,
        "holdings",
        "holding",
        "Holding",
        true,
        VERBS_READ,
    ),
    virtual_resource(
        CORRAL_GROUP,
        CORRAL_VERSION,
        "webhookbreakers",
        "webhookbreaker",
        "WebhookBreaker",
        false,
        VERBS_READ,
    ),
];

/// Every served resource, with kind-derived fields filled in. Built once.
pub fn all_resources() -> &'static [ResourceInfo] {
    static TABLE: std::sync::OnceLock<Vec<ResourceInfo>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: Vec<ResourceInfo> = STORED
            .iter()
            .map(|info| {
                let Backing::Stored(kind) = info.backing else {
                    return *info;
                };
                let mut filled = *info;
                filled.group = kind.group();
                filled.version = kind.version();
                filled.resource = kind.plural();
                filled.kind = kind.kind_name();
                filled.namespaced = kind.namespaced();
                filled
            })
            .collect();
        table.extend_from_slice(OTHERS);
        table
    })
}

/// Looks up a resource by group, version and plural name (a URL's parts).
pub fn find_resource(group: &str, version: &str, resource: &str) -> Option<&'static ResourceInfo> {
    all_resources()
        .iter()
        .find(|r| r.group == group && r.version == version && r.resource == resource)
}

/// The canonical served resource of a stored kind (for events, the core/v1 one).
pub fn resource_of(kind: ResourceKind) -> &'static ResourceInfo {
    all_resources()
        .iter()
        .find(|r| r.backing == Backing::Stored(kind))
        .expect("every stored kind has a registry entry")
}

/// The served group-versions in discovery order: core first, then groups by name.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for r in all_resources() {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out.sort_by_key(|(group, version)| (!group.is_empty(), *group, *version));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_kind_has_exactly_one_entry() {
        for kind in ResourceKind::ALL {
            let n = all_resources()
                .iter()
                .filter(|r| r.backing == Backing::Stored(*kind))
                .count();
            assert_eq!(n, 1, "{kind:?}");
        }
    }

    #[test]
    fn lookups_find_kubectl_facing_names() {
        let jobs = find_resource("batch", "v1", "jobs").unwrap();
        assert_eq!(jobs.kind, "Job");
        assert!(jobs.namespaced);
        assert_eq!(jobs.categories, &["all"]);
        let cj = find_resource("batch", "v1", "cronjobs").unwrap();
        assert_eq!(cj.short_names, &["cj"]);
        let eviction = find_resource("", "v1", "pods")
            .unwrap()
            .subresource("eviction")
            .unwrap();
        assert_eq!(eviction.group, Some("policy"));
        assert_eq!(
            find_resource("events.k8s.io", "v1", "events")
                .unwrap()
                .backing,
            Backing::EventsV1View
        );
    }

    #[test]
    fn group_versions_list_core_first() {
        let gvs = group_versions();
        assert_eq!(gvs[0], ("", "v1"));
        assert!(gvs.contains(&("batch", "v1")));
    }
}
