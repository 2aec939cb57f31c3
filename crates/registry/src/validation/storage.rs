//! Persistent volume claims and volumes: upstream's `ValidatePersistentVolumeClaim`,
//! `ValidatePersistentVolumeClaimSpec`, `ValidatePersistentVolumeClaimUpdate` and a
//! basic `ValidatePersistentVolume`.

use corral_api::{FieldError, FieldPath};
use k8s_openapi::api::core::v1::{
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec,
};

use crate::names;
use crate::validation::meta::{
    FinalizerRules, invalid_each, semantic_eq, validate_label_selector, validate_object_meta,
    validate_object_meta_update,
};
use crate::validation::resources::{parse, validate_quantity_value};

fn meta_path() -> FieldPath {
    FieldPath::root("metadata")
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
    errors.extend(access_modes(modes, path));
    errors.extend(storage_request(spec, path));
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

/// The access-mode values and the `ReadWriteOncePod` exclusivity.
fn access_modes(modes: &[String], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
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
    errors
}

/// `resources.requests.storage`: required and positive.
fn storage_request(spec: &PersistentVolumeClaimSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
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
