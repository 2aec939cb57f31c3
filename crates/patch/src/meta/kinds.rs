//! The top-level kinds Corral serves and the descriptor each one is rooted at.
//!
//! A fixed slice, not a map, so iteration order (OpenAPI output) never varies.

use super::core_v1::{
    CONFIG_MAP, EVENT, LIMIT_RANGE, NAMESPACE, NODE, PERSISTENT_VOLUME, PERSISTENT_VOLUME_CLAIM,
    POD, RESOURCE_QUOTA, SECRET, SERVICE_ACCOUNT,
};
use super::groups::{
    CLUSTER_ROLE, CLUSTER_ROLE_BINDING, CRON_JOB, EVENTS_EVENT, JOB, LEASE,
    MUTATING_WEBHOOK_CONFIGURATION, POD_DISRUPTION_BUDGET, ROLE, ROLE_BINDING,
    VALIDATING_WEBHOOK_CONFIGURATION,
};
use super::{PatchSchema, TypeDesc};

/// One served kind: group (core is `""`), version, kind and its schema root.
#[derive(Debug)]
pub struct BuiltinKind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    ty: &'static TypeDesc,
}

impl BuiltinKind {
    const fn new(
        group: &'static str,
        version: &'static str,
        kind: &'static str,
        ty: &'static TypeDesc,
    ) -> Self {
        Self {
            group,
            version,
            kind,
            ty,
        }
    }

    pub fn schema(&self) -> PatchSchema {
        PatchSchema::from_type(self.ty)
    }
}

pub(super) static BUILTIN_KINDS: &[BuiltinKind] = &[
    BuiltinKind::new("", "v1", "Pod", &POD),
    BuiltinKind::new("", "v1", "Node", &NODE),
    BuiltinKind::new("", "v1", "Namespace", &NAMESPACE),
    BuiltinKind::new("", "v1", "Event", &EVENT),
    BuiltinKind::new("", "v1", "ServiceAccount", &SERVICE_ACCOUNT),
    BuiltinKind::new("", "v1", "PersistentVolumeClaim", &PERSISTENT_VOLUME_CLAIM),
    BuiltinKind::new("", "v1", "PersistentVolume", &PERSISTENT_VOLUME),
    BuiltinKind::new("", "v1", "ResourceQuota", &RESOURCE_QUOTA),
    BuiltinKind::new("", "v1", "LimitRange", &LIMIT_RANGE),
    BuiltinKind::new("", "v1", "ConfigMap", &CONFIG_MAP),
    BuiltinKind::new("", "v1", "Secret", &SECRET),
    BuiltinKind::new("batch", "v1", "Job", &JOB),
    BuiltinKind::new("batch", "v1", "CronJob", &CRON_JOB),
    BuiltinKind::new("coordination.k8s.io", "v1", "Lease", &LEASE),
    BuiltinKind::new(
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        &MUTATING_WEBHOOK_CONFIGURATION,
    ),
    BuiltinKind::new(
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        &VALIDATING_WEBHOOK_CONFIGURATION,
    ),
    BuiltinKind::new("rbac.authorization.k8s.io", "v1", "Role", &ROLE),
    BuiltinKind::new(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        &CLUSTER_ROLE,
    ),
    BuiltinKind::new(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        &ROLE_BINDING,
    ),
    BuiltinKind::new(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        &CLUSTER_ROLE_BINDING,
    ),
    BuiltinKind::new(
        "policy",
        "v1",
        "PodDisruptionBudget",
        &POD_DISRUPTION_BUDGET,
    ),
    BuiltinKind::new("events.k8s.io", "v1", "Event", &EVENTS_EVENT),
];

pub(super) fn lookup(group: &str, version: &str, kind: &str) -> Option<&'static TypeDesc> {
    BUILTIN_KINDS
        .iter()
        .find(|k| k.group == group && k.version == version && k.kind == kind)
        .map(|k| k.ty)
}
