//! Which protobuf message decodes which `(apiVersion, kind)`.
//!
//! The list covers every body kubectl 1.27–1.33 sends in protobuf (§3.3 of the kubectl
//! surface spec) plus a few cheap neighbours. `DeleteOptions` is registered in every group
//! version (upstream `metav1.AddToGroupVersion`): the typed client encodes it with the
//! version of the resource being deleted, e.g. `v1` for pods.

use std::sync::OnceLock;

const CORE: &str = "k8s.io.api.core.v1.";
const BATCH: &str = "k8s.io.api.batch.v1.";
const AUTHZ: &str = "k8s.io.api.authorization.v1.";
const AUTHN: &str = "k8s.io.api.authentication.v1.";
const POLICY: &str = "k8s.io.api.policy.v1.";
const RBAC: &str = "k8s.io.api.rbac.v1.";

/// Group versions whose typed clients may send `DeleteOptions`.
const DELETE_OPTIONS_VERSIONS: &[&str] = &[
    "v1",
    "batch/v1",
    "policy/v1",
    "authorization.k8s.io/v1",
    "authentication.k8s.io/v1",
    "rbac.authorization.k8s.io/v1",
    "meta.k8s.io/v1",
];

/// Full name of `meta.v1.DeleteOptions`.
const DELETE_OPTIONS: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions";

/// `(apiVersion, kind, message package prefix)`; the message name equals the kind.
const KINDS: &[(&str, &str, &str)] = &[
    ("batch/v1", "Job", BATCH),
    ("batch/v1", "CronJob", BATCH),
    ("v1", "Namespace", CORE),
    ("v1", "ServiceAccount", CORE),
    ("v1", "ResourceQuota", CORE),
    ("v1", "ConfigMap", CORE),
    ("v1", "Secret", CORE),
    ("v1", "Pod", CORE),
    ("v1", "Service", CORE),
    ("v1", "PersistentVolumeClaim", CORE),
    ("v1", "LimitRange", CORE),
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview", AUTHZ),
    ("authorization.k8s.io/v1", "SelfSubjectRulesReview", AUTHZ),
    ("authorization.k8s.io/v1", "SubjectAccessReview", AUTHZ),
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview", AUTHZ),
    ("authentication.k8s.io/v1", "SelfSubjectReview", AUTHN),
    ("authentication.k8s.io/v1", "TokenRequest", AUTHN),
    ("authentication.k8s.io/v1", "TokenReview", AUTHN),
    ("policy/v1", "Eviction", POLICY),
    ("policy/v1", "PodDisruptionBudget", POLICY),
    ("rbac.authorization.k8s.io/v1", "Role", RBAC),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", RBAC),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", RBAC),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", RBAC),
];

/// The protobuf message that encodes `(api_version, kind)`, if Corral has one.
pub(crate) fn message_for(api_version: &str, kind: &str) -> Option<String> {
    if kind == "DeleteOptions" && DELETE_OPTIONS_VERSIONS.contains(&api_version) {
        return Some(DELETE_OPTIONS.to_owned());
    }
    KINDS
        .iter()
        .find(|(v, k, _)| *v == api_version && *k == kind)
        .map(|(_, k, package)| format!("{package}{k}"))
}

/// Every `(apiVersion, kind)` [`crate::decode`] accepts.
pub fn supported_kinds() -> &'static [(&'static str, &'static str)] {
    static ALL: OnceLock<Vec<(&'static str, &'static str)>> = OnceLock::new();
    ALL.get_or_init(|| {
        KINDS
            .iter()
            .map(|(v, k, _)| (*v, *k))
            .chain(
                DELETE_OPTIONS_VERSIONS
                    .iter()
                    .map(|v| (*v, "DeleteOptions")),
            )
            .collect()
    })
}
