//! Defaults of the core kinds other than pods: upstream's `SetDefaults_Namespace`,
//! `SetDefaults_NamespaceStatus`, `SetDefaults_NodeStatus`,
//! `SetDefaults_PersistentVolumeClaim(Spec)`, `SetDefaults_PersistentVolume`,
//! `SetDefaults_Secret` (with the v1 `stringData` conversion), `SetDefaults_LimitRangeItem`
//! and the resource-list rounding of quotas and nodes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, Namespace, NamespaceStatus, Node, PersistentVolume,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeStatus, ResourceQuota,
    Secret,
};

use crate::defaults::canonical_resource_list;

/// `v1.LabelMetadataName`, set on every namespace to its own name.
pub const LABEL_METADATA_NAME: &str = "kubernetes.io/metadata.name";

/// `SetDefaults_Namespace` and `SetDefaults_NamespaceStatus`.
pub fn default_namespace(namespace: &mut Namespace) {
    if let Some(name) = namespace.metadata.name.clone().filter(|n| !n.is_empty()) {
        namespace
            .metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(LABEL_METADATA_NAME.into(), name);
    }
    let status = namespace
        .status
        .get_or_insert_with(NamespaceStatus::default);
    if status.phase.as_deref().unwrap_or("").is_empty() {
        status.phase = Some("Active".into());
    }
}

/// `SetDefaults_NodeStatus` plus resource-list rounding.
pub fn default_node(node: &mut Node) {
    let Some(status) = node.status.as_mut() else {
        return;
    };
    canonical_resource_list(&mut status.capacity);
    canonical_resource_list(&mut status.allocatable);
    if status.allocatable.is_none() && status.capacity.is_some() {
        status.allocatable.clone_from(&status.capacity);
    }
}

/// `SetDefaults_PersistentVolumeClaimSpec`.
pub fn default_pvc_spec(spec: &mut PersistentVolumeClaimSpec) {
    if spec.volume_mode.is_none() {
        spec.volume_mode = Some("Filesystem".into());
    }
    if let Some(resources) = spec.resources.as_mut() {
        canonical_resource_list(&mut resources.limits);
        canonical_resource_list(&mut resources.requests);
    }
}

/// `SetDefaults_PersistentVolumeClaim` (status phase `Pending`) and its spec.
pub fn default_pvc(claim: &mut PersistentVolumeClaim) {
    default_pvc_spec(claim.spec.get_or_insert_with(Default::default));
    let status = claim.status.get_or_insert_with(Default::default);
    if status.phase.as_deref().unwrap_or("").is_empty() {
        status.phase = Some("Pending".into());
    }
    canonical_resource_list(&mut status.capacity);
}

/// `SetDefaults_PersistentVolume`.
pub fn default_pv(volume: &mut PersistentVolume) {
    let status = volume
        .status
        .get_or_insert_with(PersistentVolumeStatus::default);
    if status.phase.as_deref().unwrap_or("").is_empty() {
        status.phase = Some("Pending".into());
    }
    let spec = volume.spec.get_or_insert_with(Default::default);
    if spec
        .persistent_volume_reclaim_policy
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        spec.persistent_volume_reclaim_policy = Some("Retain".into());
    }
    if spec.volume_mode.is_none() {
        spec.volume_mode = Some("Filesystem".into());
    }
    canonical_resource_list(&mut spec.capacity);
}

/// `SetDefaults_Secret`, after the v1 conversion that folds `stringData` into `data`.
pub fn default_secret(secret: &mut Secret) {
    if let Some(string_data) = secret.string_data.take() {
        let data = secret.data.get_or_insert_with(BTreeMap::new);
        for (key, value) in string_data {
            data.insert(key, k8s_openapi::ByteString(value.into_bytes()));
        }
    }
    if secret.type_.as_deref().unwrap_or("").is_empty() {
        secret.type_ = Some("Opaque".into());
    }
}

/// Resource-list rounding of a quota's hard limits and usage.
pub fn default_resource_quota(quota: &mut ResourceQuota) {
    if let Some(spec) = quota.spec.as_mut() {
        canonical_resource_list(&mut spec.hard);
    }
    if let Some(status) = quota.status.as_mut() {
        canonical_resource_list(&mut status.hard);
        canonical_resource_list(&mut status.used);
    }
}

/// `SetDefaults_LimitRangeItem` for every item.
pub fn default_limit_range(limit_range: &mut LimitRange) {
    for item in limit_range
        .spec
        .iter_mut()
        .flat_map(|s| s.limits.iter_mut())
    {
        default_limit_range_item(item);
    }
}

/// Container items: a missing default limit is the max, a missing default request is
/// the default limit, else the min. Empty maps stay absent (Go omits them).
fn default_limit_range_item(item: &mut LimitRangeItem) {
    for list in [
        &mut item.max,
        &mut item.min,
        &mut item.default,
        &mut item.default_request,
        &mut item.max_limit_request_ratio,
    ] {
        canonical_resource_list(list);
    }
    if item.type_ != "Container" {
        return;
    }
    let mut defaults = item.default.clone().unwrap_or_default();
    for (key, value) in item.max.iter().flatten() {
        defaults.entry(key.clone()).or_insert_with(|| value.clone());
    }
    let mut requests = item.default_request.clone().unwrap_or_default();
    for (key, value) in defaults.iter().chain(item.min.iter().flatten()) {
        requests.entry(key.clone()).or_insert_with(|| value.clone());
    }
    item.default = (!defaults.is_empty())
        .then_some(defaults)
        .or(item.default.take());
    item.default_request = (!requests.is_empty())
        .then_some(requests)
        .or(item.default_request.take());
}
