//! The smaller core kinds: upstream's `ValidateNamespace`, `ValidateNode`,
//! `ValidateServiceAccount`, `ValidatePersistentVolumeClaim`, `ValidatePersistentVolume`
//! (basic), `ValidateResourceQuota`, `ValidateLimitRange`, `ValidateConfigMap`,
//! `ValidateSecret` and their update variants.

use std::collections::BTreeSet;

use corral_api::{FieldError, FieldErrorType, FieldPath};
use k8s_openapi::api::core::v1::{
    ConfigMap, LimitRange, Namespace, Node, PersistentVolume, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, ResourceQuota, ResourceQuotaSpec, Secret, ServiceAccount, Taint,
};

use crate::gofmt;
use crate::names;
use crate::validation::meta::{
    FinalizerRules, immutable_error, immutable_str, invalid_each, kube_finalizer_name, semantic_eq,
    validate_label_name, validate_label_selector, validate_object_meta,
    validate_object_meta_update,
};
use crate::validation::resources::{parse, validate_quantity_value, validate_quota_resource_name};
use crate::validation::scheduling::validate_taint_effect;

/// `core.MaxSecretSize`: 1 MiB, also the ConfigMap limit.
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;

fn meta_path() -> FieldPath {
    FieldPath::root("metadata")
}

/// `ValidateNamespace`.
pub fn validate_namespace(namespace: &Namespace) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &namespace.metadata,
        false,
        names::name_is_dns_label,
        FinalizerRules::Core,
        &meta_path(),
    );
    let path = FieldPath::root("spec").child("finalizers");
    for finalizer in namespace
        .spec
        .iter()
        .flat_map(|s| s.finalizers.iter().flatten())
    {
        errors.extend(validate_finalizer_name(finalizer, &path));
    }
    errors
}

/// `validateFinalizerName`: a qualified name, and a standard one when unprefixed.
fn validate_finalizer_name(value: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = invalid_each(path, value, names::is_qualified_name(value));
    errors.extend(kube_finalizer_name(value, path));
    errors
}

/// `ValidateNamespaceStatusUpdate`.
pub fn validate_namespace_status_update(new: &Namespace, old: &Namespace) -> Vec<FieldError> {
    let mut errors = validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        FinalizerRules::Core,
        &meta_path(),
    );
    let phase = new
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("");
    let path = FieldPath::root("status").child("Phase");
    if new.metadata.deletion_timestamp.is_none() {
        if phase != "Active" {
            errors.push(FieldError::invalid_str(
                path,
                phase,
                "may only be 'Active' if `deletionTimestamp` is empty",
            ));
        }
    } else if phase != "Terminating" {
        errors.push(FieldError::invalid_str(
            path,
            phase,
            "may only be 'Terminating' if `deletionTimestamp` is not empty",
        ));
    }
    errors
}

/// `ValidateNamespaceFinalizeUpdate`.
pub fn validate_namespace_finalize_update(new: &Namespace, old: &Namespace) -> Vec<FieldError> {
    let mut errors = validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        FinalizerRules::Core,
        &meta_path(),
    );
    let path = FieldPath::root("spec").child("finalizers");
    for (i, finalizer) in new
        .spec
        .iter()
        .flat_map(|s| s.finalizers.iter().flatten())
        .enumerate()
    {
        errors.extend(validate_finalizer_name(finalizer, &path.index(i)));
    }
    errors
}

/// `ValidateNode`.
pub fn validate_node(node: &Node) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &node.metadata,
        false,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &meta_path(),
    );
    let spec = node.spec.clone().unwrap_or_default();
    // Upstream reports taints under "metadata.taints", a long-standing path quirk.
    errors.extend(validate_taints(
        spec.taints.as_deref().unwrap_or_default(),
        &meta_path().child("taints"),
    ));
    errors.extend(validate_node_resources(node));
    let cidrs = spec.pod_cidrs.as_deref().unwrap_or_default();
    let cidrs_path = FieldPath::root("spec").child("podCIDRs");
    for (i, cidr) in cidrs.iter().enumerate() {
        if !names::is_cidr(cidr) {
            errors.push(FieldError::invalid_str(
                cidrs_path.index(i),
                cidr,
                names::INVALID_CIDR_MESSAGE,
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, cidr) in cidrs.iter().enumerate() {
        if !seen.insert(cidr) {
            errors.push(FieldError::duplicate_str(cidrs_path.index(i), cidr));
        }
    }
    if cidrs.len() > 2 {
        errors.push(
            FieldError::new(&cidrs_path, FieldErrorType::Invalid)
                .value_plain(gofmt::string_slice("string", Some(cidrs)))
                .detail("may specify no more than one CIDR for each IP family"),
        );
    }
    errors
}

/// `validateNodeTaints`.
pub fn validate_taints(taints: &[Taint], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut unique = BTreeSet::new();
    for (i, taint) in taints.iter().enumerate() {
        let item = path.index(i);
        errors.extend(validate_label_name(&taint.key, &item.child("key")));
        let value = taint.value.as_deref().unwrap_or("");
        let messages = names::is_valid_label_value(value);
        if !messages.is_empty() {
            errors.push(FieldError::invalid_str(
                item.child("value"),
                value,
                messages.join(";"),
            ));
        }
        errors.extend(validate_taint_effect(
            &taint.effect,
            false,
            &item.child("effect"),
        ));
        if !unique.insert((taint.effect.clone(), taint.key.clone())) {
            let rendered = format!(
                "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:(*v1.Time)(nil)}}",
                corral_api::validation::go_quote(&taint.key),
                corral_api::validation::go_quote(value),
                corral_api::validation::go_quote(&taint.effect)
            );
            errors.push(
                FieldError::new(&item, FieldErrorType::Duplicate)
                    .value_plain(rendered)
                    .detail("taints must be unique by key and effect pair"),
            );
        }
    }
    errors
}

/// `ValidateNodeResources`: capacity and allocatable quantities (paths use `.name`).
fn validate_node_resources(node: &Node) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let status = node.status.clone().unwrap_or_default();
    for (list, name) in [
        (&status.capacity, "capacity"),
        (&status.allocatable, "allocatable"),
    ] {
        for (resource, quantity) in list.iter().flatten() {
            let path = FieldPath::root("status").child(name).child(resource);
            errors.extend(validate_quantity_value(resource, quantity, &path));
        }
    }
    errors
}

/// `ValidateNodeUpdate`.
pub fn validate_node_update(new: &Node, old: &Node) -> Vec<FieldError> {
    let mut errors = validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        FinalizerRules::Core,
        &meta_path(),
    );
    errors.extend(validate_node_resources(new));
    let (spec, old_spec) = (
        new.spec.clone().unwrap_or_default(),
        old.spec.clone().unwrap_or_default(),
    );
    let old_cidrs = old_spec.pod_cidrs.clone().unwrap_or_default();
    if !old_cidrs.is_empty() && spec.pod_cidrs.clone().unwrap_or_default() != old_cidrs {
        errors.push(FieldError::forbidden(
            FieldPath::root("spec").child("podCIDRs"),
            "node updates may not change podCIDR except from \"\" to valid",
        ));
    }
    let old_provider = old_spec.provider_id.as_deref().unwrap_or("");
    if !old_provider.is_empty() && Some(old_provider) != spec.provider_id.as_deref() {
        errors.push(FieldError::forbidden(
            FieldPath::root("spec").child("providerID"),
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    errors.extend(validate_taints(
        spec.taints.as_deref().unwrap_or_default(),
        &meta_path().child("taints"),
    ));
    if spec.external_id != old_spec.external_id {
        errors.push(FieldError::forbidden(
            FieldPath::root("spec").child("externalID"),
            "may not be updated",
        ));
    }
    errors
}

/// `ValidateServiceAccount`.
pub fn validate_service_account(account: &ServiceAccount) -> Vec<FieldError> {
    validate_object_meta(
        &account.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &meta_path(),
    )
}

/// `ValidatePersistentVolumeClaim`.
pub fn validate_pvc(claim: &PersistentVolumeClaim) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &claim.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &meta_path(),
    );
    errors.extend(validate_pvc_spec(
        claim.spec.as_ref(),
        &FieldPath::root("spec"),
    ));
    errors
}

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];

/// `ValidatePersistentVolumeClaimSpec`.
pub fn validate_pvc_spec(
    spec: Option<&PersistentVolumeClaimSpec>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let default_spec = PersistentVolumeClaimSpec::default();
    let spec = spec.unwrap_or(&default_spec);
    let mut errors = Vec::new();
    let modes = spec.access_modes.as_deref().unwrap_or_default();
    if modes.is_empty() {
        errors.push(FieldError::required(
            path.child("accessModes"),
            "at least 1 access mode is required",
        ));
    }
    errors.extend(validate_label_selector(
        spec.selector.as_ref(),
        &path.child("selector"),
    ));
    let (mut rwop, mut other) = (false, false);
    for mode in modes {
        if !ACCESS_MODES.contains(&mode.as_str()) {
            errors.push(FieldError::not_supported(
                path.child("accessModes"),
                mode,
                ACCESS_MODES,
            ));
        }
        if mode == "ReadWriteOncePod" {
            rwop = true;
        } else if ACCESS_MODES.contains(&mode.as_str()) {
            other = true;
        }
    }
    if rwop && other {
        errors.push(FieldError::forbidden(
            path.child("accessModes"),
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
    let storage_path = path.child("resources").key("storage");
    match spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
    {
        None => errors.push(FieldError::required(storage_path, "")),
        Some(quantity) if parse(quantity).nanos() <= 0 => {
            errors.push(FieldError::invalid_str(
                storage_path,
                parse(quantity).to_string(),
                "must be greater than zero",
            ));
        }
        Some(quantity) => {
            errors.extend(validate_quantity_value("storage", quantity, &storage_path))
        }
    }
    if let Some(class) = spec.storage_class_name.as_deref().filter(|c| !c.is_empty()) {
        errors.extend(invalid_each(
            &path.child("storageClassName"),
            class,
            names::name_is_dns_subdomain(class, false),
        ));
    }
    if let Some(mode) = spec.volume_mode.as_deref()
        && mode != "Block"
        && mode != "Filesystem"
    {
        errors.push(FieldError::not_supported(
            path.child("volumeMode"),
            mode,
            &["Block", "Filesystem"],
        ));
    }
    errors
}

/// `ValidatePersistentVolumeClaimUpdate`: the spec is immutable except the storage
/// request of a bound claim and a first `volumeName`.
pub fn validate_pvc_update(
    new: &PersistentVolumeClaim,
    old: &PersistentVolumeClaim,
) -> Vec<FieldError> {
    let mut errors = validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        FinalizerRules::Core,
        &meta_path(),
    );
    errors.extend(validate_pvc(new));
    let (mut new_spec, mut old_spec) = (
        new.spec.clone().unwrap_or_default(),
        old.spec.clone().unwrap_or_default(),
    );
    if old_spec.volume_name.as_deref().unwrap_or("").is_empty() {
        old_spec.volume_name.clone_from(&new_spec.volume_name);
    }
    let storage = |s: &PersistentVolumeClaimSpec| {
        s.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .cloned()
    };
    let (new_size, old_size) = (storage(&new_spec), storage(&old_spec));
    let bound = new.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    if bound {
        if let (Some(requests), Some(old_size)) = (
            new_spec
                .resources
                .as_mut()
                .and_then(|r| r.requests.as_mut()),
            old_size.clone(),
        ) {
            requests.insert("storage".into(), old_size);
        }
        new_spec
            .volume_attributes_class_name
            .clone_from(&old_spec.volume_attributes_class_name);
    }
    if !semantic_eq(&new_spec, &old_spec) {
        let diff =
            crate::validation::diff::render(&old_spec, &new_spec, "core.PersistentVolumeClaimSpec");
        errors.push(FieldError::forbidden(
            FieldPath::root("spec"),
            format!("spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{diff}"),
        ));
    }
    if let (Some(new_size), Some(old_size)) = (new_size, old_size) {
        let capacity = old
            .status
            .as_ref()
            .and_then(|s| s.capacity.as_ref())
            .and_then(|c| c.get("storage"))
            .map(parse);
        if parse(&new_size) < parse(&old_size) && capacity.is_none_or(|c| parse(&new_size) <= c) {
            errors.push(FieldError::forbidden(
                FieldPath::root("spec")
                    .child("resources")
                    .child("requests")
                    .child("storage"),
                "field can not be less than status.capacity",
            ));
        }
    }
    errors
}

/// `ValidatePersistentVolume`, reduced to metadata, capacity, access modes and the
/// reclaim policy (volume sources are not checked).
pub fn validate_pv(volume: &PersistentVolume) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &volume.metadata,
        false,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &meta_path(),
    );
    let spec = volume.spec.clone().unwrap_or_default();
    let path = FieldPath::root("spec");
    if spec.access_modes.as_deref().unwrap_or_default().is_empty() {
        errors.push(FieldError::required(path.child("accessModes"), ""));
    }
    match spec.capacity.as_ref().and_then(|c| c.get("storage")) {
        None => errors.push(FieldError::required(path.child("capacity"), "")),
        Some(q) => errors.extend(validate_quantity_value(
            "storage",
            q,
            &path.child("capacity").key("storage"),
        )),
    }
    let policies = ["Delete", "Recycle", "Retain"];
    if let Some(policy) = spec
        .persistent_volume_reclaim_policy
        .as_deref()
        .filter(|p| !policies.contains(p))
    {
        errors.push(FieldError::not_supported(
            path.child("persistentVolumeReclaimPolicy"),
            policy,
            &policies,
        ));
    }
    errors
}

const QUOTA_SCOPES: &[&str] = &[
    "BestEffort",
    "CrossNamespacePodAffinity",
    "NotBestEffort",
    "NotTerminating",
    "PriorityClass",
    "Terminating",
    "VolumeAttributesClass",
];
const POD_COMPUTE: &[&str] = &[
    "cpu",
    "limits.cpu",
    "limits.memory",
    "memory",
    "requests.cpu",
    "requests.memory",
];

/// `IsResourceQuotaScopeValidForResource`.
fn scope_valid_for(scope: &str, resource: &str) -> bool {
    match scope {
        "Terminating"
        | "NotTerminating"
        | "NotBestEffort"
        | "PriorityClass"
        | "CrossNamespacePodAffinity" => resource == "pods" || POD_COMPUTE.contains(&resource),
        "BestEffort" => resource == "pods",
        _ => true,
    }
}

/// `ValidateResourceQuota`.
pub fn validate_resource_quota(quota: &ResourceQuota) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &quota.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &meta_path(),
    );
    errors.extend(validate_quota_spec(
        &quota.spec.clone().unwrap_or_default(),
        &FieldPath::root("spec"),
    ));
    errors.extend(validate_quota_status(quota));
    errors
}

/// `ValidateResourceQuotaStatus`.
pub fn validate_quota_status(quota: &ResourceQuota) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let status = quota.status.clone().unwrap_or_default();
    for (list, name) in [(&status.hard, "hard"), (&status.used, "used")] {
        for (resource, quantity) in list.iter().flatten() {
            let path = FieldPath::root("status").child(name).key(resource);
            errors.extend(validate_quota_resource_name(resource, &path));
            errors.extend(validate_quantity_value(resource, quantity, &path));
        }
    }
    errors
}

/// `ValidateResourceQuotaSpec`.
fn validate_quota_spec(spec: &ResourceQuotaSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (resource, quantity) in spec.hard.iter().flatten() {
        let key_path = path.child("hard").key(resource);
        errors.extend(validate_quota_resource_name(resource, &key_path));
        errors.extend(validate_quantity_value(resource, quantity, &key_path));
    }
    let scopes = spec.scopes.as_deref().unwrap_or_default();
    let rendered = gofmt::string_slice("core.ResourceQuotaScope", spec.scopes.as_deref());
    let scopes_error = |detail: &str| {
        FieldError::new(path.child("scopes"), FieldErrorType::Invalid)
            .value_plain(rendered.clone())
            .detail(detail)
    };
    for scope in scopes {
        if !QUOTA_SCOPES.contains(&scope.as_str()) {
            errors.push(scopes_error("unsupported scope"));
        }
        for resource in spec.hard.iter().flatten().map(|(k, _)| k) {
            let standard =
                !resource.contains('/') && validate_quota_resource_name(resource, path).is_empty();
            if standard && !scope_valid_for(scope, resource) {
                errors.push(scopes_error("unsupported scope applied to resource"));
            }
        }
    }
    let has = |s: &str| scopes.iter().any(|x| x == s);
    for (a, b) in [
        ("BestEffort", "NotBestEffort"),
        ("Terminating", "NotTerminating"),
    ] {
        if has(a) && has(b) {
            errors.push(scopes_error("conflicting scopes"));
        }
    }
    errors.extend(validate_scope_selector(spec, path));
    errors
}

/// `validateScopedResourceSelectorRequirement`.
fn validate_scope_selector(spec: &ResourceQuotaSpec, path: &FieldPath) -> Vec<FieldError> {
    let Some(selector) = &spec.scope_selector else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    let expressions_path = path.child("scopeSelector").child("matchExpressions");
    for requirement in selector.match_expressions.iter().flatten() {
        if !QUOTA_SCOPES.contains(&requirement.scope_name.as_str()) {
            errors.push(FieldError::invalid_str(
                expressions_path.child("scopeName"),
                &requirement.scope_name,
                "unsupported scope",
            ));
        }
        let values = requirement.values.as_deref().unwrap_or_default();
        let exists_only = [
            "BestEffort",
            "NotBestEffort",
            "Terminating",
            "NotTerminating",
            "CrossNamespacePodAffinity",
        ];
        if exists_only.contains(&requirement.scope_name.as_str())
            && requirement.operator != "Exists"
        {
            errors.push(FieldError::invalid_str(
                expressions_path.child("operator"),
                &requirement.operator,
                "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
            ));
        }
        match requirement.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errors.push(FieldError::required(
                expressions_path.child("values"),
                "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errors.push(
                FieldError::new(expressions_path.child("values"), FieldErrorType::Invalid)
                    .value_plain(gofmt::string_slice("string", Some(values)))
                    .detail("must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"),
            ),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errors.push(FieldError::invalid_str(expressions_path.child("operator"), other, "not a valid selector operator")),
        }
    }
    errors
}

/// `ValidateResourceQuotaUpdate`: scopes may not change.
pub fn validate_resource_quota_update(new: &ResourceQuota, old: &ResourceQuota) -> Vec<FieldError> {
    let mut errors = validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        FinalizerRules::Core,
        &meta_path(),
    );
    let spec = new.spec.clone().unwrap_or_default();
    errors.extend(validate_quota_spec(&spec, &FieldPath::root("spec")));
    let scopes = |q: &ResourceQuota| -> BTreeSet<String> {
        q.spec
            .iter()
            .flat_map(|s| s.scopes.iter().flatten().cloned())
            .collect()
    };
    if scopes(new) != scopes(old) {
        errors.push(immutable_error(
            &FieldPath::root("spec").child("scopes"),
            gofmt::string_slice("core.ResourceQuotaScope", spec.scopes.as_deref()),
        ));
    }
    errors
}

/// `ValidateLimitRange`.
pub fn validate_limit_range(limit_range: &LimitRange) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &limit_range.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &meta_path(),
    );
    let path = FieldPath::root("spec").child("limits");
    let mut types = BTreeSet::new();
    for (i, item) in limit_range
        .spec
        .iter()
        .flat_map(|s| s.limits.iter())
        .enumerate()
    {
        errors.extend(crate::validation::limit_range::validate_item(
            item,
            &path.index(i),
            &mut types,
        ));
    }
    errors
}

/// `ValidateConfigMap`.
pub fn validate_config_map(config_map: &ConfigMap) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &config_map.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &meta_path(),
    );
    let mut total = 0usize;
    let binary = config_map.binary_data.as_ref();
    for (key, value) in config_map.data.iter().flatten() {
        let path = FieldPath::root("data").key(key);
        errors.extend(invalid_each(&path, key, names::is_config_map_key(key)));
        if binary.is_some_and(|b| b.contains_key(key)) {
            errors.push(FieldError::invalid_str(
                &path,
                key,
                "duplicate of key present in binaryData",
            ));
        }
        total = total.saturating_add(value.len());
    }
    for (key, value) in binary.into_iter().flatten() {
        errors.extend(invalid_each(
            &FieldPath::root("binaryData").key(key),
            key,
            names::is_config_map_key(key),
        ));
        total = total.saturating_add(value.0.len());
    }
    if total > MAX_SECRET_SIZE {
        errors.push(FieldError::too_long(FieldPath::root(""), MAX_SECRET_SIZE));
    }
    errors
}

/// `ValidateConfigMapUpdate` (and the Secret variant): `immutable` locks the data.
pub fn validate_immutable_data<T: serde::Serialize>(
    new_immutable: Option<bool>,
    old_immutable: Option<bool>,
    fields: &[(&str, &T, &T)],
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if old_immutable != Some(true) {
        return errors;
    }
    let detail = "field is immutable when `immutable` is set";
    if new_immutable != Some(true) {
        errors.push(FieldError::forbidden(FieldPath::root("immutable"), detail));
    }
    for (name, new, old) in fields {
        if !semantic_eq(new, old) {
            errors.push(FieldError::forbidden(FieldPath::root(name), detail));
        }
    }
    errors
}

/// `ValidateSecret`.
pub fn validate_secret(secret: &Secret) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &secret.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &meta_path(),
    );
    let data_path = FieldPath::root("data");
    let data = secret.data.clone().unwrap_or_default();
    let mut total = 0usize;
    for (key, value) in &data {
        errors.extend(invalid_each(
            &data_path.key(key),
            key,
            names::is_config_map_key(key),
        ));
        total = total.saturating_add(value.0.len());
    }
    if total > MAX_SECRET_SIZE {
        errors.push(FieldError::too_long(&data_path, MAX_SECRET_SIZE));
    }
    let required = |key: &str| FieldError::required(data_path.key(key), "");
    match secret.type_.as_deref().unwrap_or("") {
        "kubernetes.io/service-account-token" => {
            let annotation = "kubernetes.io/service-account.name";
            if secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(annotation))
                .is_none_or(|v| v.is_empty())
            {
                errors.push(FieldError::required(
                    meta_path().child("annotations").key(annotation),
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" => errors.extend(json_data(&data, ".dockercfg", &data_path)),
        "kubernetes.io/dockerconfigjson" => {
            errors.extend(json_data(&data, ".dockerconfigjson", &data_path))
        }
        "kubernetes.io/basic-auth"
            if !data.contains_key("username") && !data.contains_key("password") =>
        {
            errors.push(required("username"));
            errors.push(required("password"));
        }
        "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(|v| v.0.is_empty()) => {
            errors.push(required("ssh-privatekey"));
        }
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !data.contains_key(key) {
                    errors.push(required(key));
                }
            }
        }
        _ => {}
    }
    errors
}

fn json_data(
    data: &std::collections::BTreeMap<String, k8s_openapi::ByteString>,
    key: &str,
    path: &FieldPath,
) -> Vec<FieldError> {
    match data.get(key) {
        None => vec![FieldError::required(path.key(key), "")],
        Some(bytes) => {
            match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes.0) {
                Ok(_) => Vec::new(),
                Err(error) => vec![FieldError::invalid_str(
                    path.key(key),
                    "<secret contents redacted>",
                    error.to_string(),
                )],
            }
        }
    }
}

/// `ValidateSecretUpdate`.
pub fn validate_secret_update(new: &Secret, old: &Secret) -> Vec<FieldError> {
    let mut errors = validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        FinalizerRules::Core,
        &meta_path(),
    );
    errors.extend(immutable_str(
        new.type_.as_deref(),
        old.type_.as_deref(),
        &FieldPath::root("type"),
    ));
    errors.extend(validate_immutable_data(
        new.immutable,
        old.immutable,
        &[("data", &new.data, &old.data)],
    ));
    errors.extend(validate_secret(new));
    errors
}
