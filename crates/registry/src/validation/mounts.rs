//! Volume mounts and devices of one container: upstream's `ValidateVolumeMounts` (names
//! must match pod volumes, unique mount paths, sub-paths, propagation, recursive
//! read-only) and `ValidateVolumeDevices`.

use std::collections::{BTreeMap, BTreeSet};

use corral_api::{FieldError, FieldErrorType, FieldPath};
use k8s_openapi::api::core::v1::{Container, VolumeMount};

use crate::validation::volumes::{VolumeIndex, local_descending_path, no_backsteps};

/// `ValidateVolumeMounts` and `ValidateVolumeDevices` for one container.
pub fn validate_container_mounts(
    container: &Container,
    volumes: &VolumeIndex,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mounts = container.volume_mounts.as_deref().unwrap_or_default();
    let devices = container.volume_devices.as_deref().unwrap_or_default();
    let device_names: BTreeMap<&str, &str> = devices
        .iter()
        .map(|d| (d.name.as_str(), d.device_path.as_str()))
        .collect();
    let mut errors = Vec::new();
    let mut mount_points = BTreeSet::new();
    let mounts_path = path.child("volumeMounts");
    for (i, mount) in mounts.iter().enumerate() {
        errors.extend(validate_mount(
            mount,
            volumes,
            &device_names,
            &mut mount_points,
            container,
            &mounts_path,
            i,
        ));
    }
    let mount_names: BTreeMap<&str, &str> = mounts
        .iter()
        .map(|m| (m.name.as_str(), m.mount_path.as_str()))
        .collect();
    errors.extend(validate_devices(
        container,
        volumes,
        &mount_names,
        &path.child("volumeDevices"),
    ));
    errors
}

fn validate_mount(
    mount: &VolumeMount,
    volumes: &VolumeIndex,
    devices: &BTreeMap<&str, &str>,
    mount_points: &mut BTreeSet<String>,
    container: &Container,
    mounts_path: &FieldPath,
    i: usize,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let item = mounts_path.index(i);
    if mount.name.is_empty() {
        errors.push(FieldError::required(item.child("name"), ""));
    }
    if !volumes.contains_key(&mount.name) {
        errors.push(
            FieldError::new(item.child("name"), FieldErrorType::NotFound).value_str(&mount.name),
        );
    }
    if mount.mount_path.is_empty() {
        errors.push(FieldError::required(item.child("mountPath"), ""));
    }
    if !mount_points.insert(mount.mount_path.clone()) {
        errors.push(FieldError::invalid_str(
            item.child("mountPath"),
            &mount.mount_path,
            "must be unique",
        ));
    }
    if devices.contains_key(mount.name.as_str()) {
        errors.push(FieldError::invalid_str(
            item.child("name"),
            &mount.name,
            "must not already exist in volumeDevices",
        ));
    }
    if devices.values().any(|p| *p == mount.mount_path) {
        errors.push(FieldError::invalid_str(
            item.child("mountPath"),
            &mount.mount_path,
            "must not already exist as a path in volumeDevices",
        ));
    }
    errors.extend(sub_paths(mount, &item, mounts_path));
    errors.extend(mount_propagation(
        mount,
        container,
        &mounts_path.child("mountPropagation"),
    ));
    errors.extend(recursive_read_only(
        mount,
        &mounts_path.child("recursiveReadOnly"),
    ));
    errors
}

/// The `subPath`/`subPathExpr` rules; upstream reports path errors at the list's path,
/// without the index.
fn sub_paths(mount: &VolumeMount, item: &FieldPath, mounts_path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let sub_path = mount.sub_path.as_deref().unwrap_or("");
    let sub_path_expr = mount.sub_path_expr.as_deref().unwrap_or("");
    if !sub_path.is_empty() {
        errors.extend(local_descending_path(
            sub_path,
            &mounts_path.child("subPath"),
        ));
    }
    if !sub_path_expr.is_empty() {
        if !sub_path.is_empty() {
            errors.push(FieldError::invalid_str(
                item.child("subPathExpr"),
                sub_path_expr,
                "subPathExpr and subPath are mutually exclusive",
            ));
        }
        errors.extend(local_descending_path(
            sub_path_expr,
            &mounts_path.child("subPathExpr"),
        ));
    }
    errors
}

fn mount_propagation(
    mount: &VolumeMount,
    container: &Container,
    path: &FieldPath,
) -> Vec<FieldError> {
    let Some(propagation) = mount.mount_propagation.as_deref() else {
        return Vec::new();
    };
    let supported = ["Bidirectional", "HostToContainer", "None"];
    let mut errors = Vec::new();
    if !supported.contains(&propagation) {
        errors.push(FieldError::not_supported(path, propagation, &supported));
    }
    let privileged = container
        .security_context
        .as_ref()
        .and_then(|s| s.privileged)
        == Some(true);
    if propagation == "Bidirectional" && !privileged {
        errors.push(FieldError::forbidden(
            path,
            "Bidirectional mount propagation is available only to privileged containers",
        ));
    }
    errors
}

fn recursive_read_only(mount: &VolumeMount, path: &FieldPath) -> Vec<FieldError> {
    match mount.recursive_read_only.as_deref() {
        None | Some("Disabled") => Vec::new(),
        Some("Enabled") | Some("IfPossible") => {
            let mut errors = Vec::new();
            if mount.read_only != Some(true) {
                errors.push(FieldError::forbidden(
                    path,
                    "may only be specified when readOnly is true",
                ));
            }
            if mount
                .mount_propagation
                .as_deref()
                .is_some_and(|p| p != "None")
            {
                errors.push(FieldError::forbidden(
                    path,
                    "may only be specified when mountPropagation is None or not specified",
                ));
            }
            errors
        }
        Some(other) => vec![FieldError::not_supported(
            path,
            other,
            &["Disabled", "Enabled", "IfPossible"],
        )],
    }
}

fn validate_devices(
    container: &Container,
    volumes: &VolumeIndex,
    mounts: &BTreeMap<&str, &str>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen_paths = BTreeSet::new();
    let mut seen_names = BTreeSet::new();
    for (i, device) in container.volume_devices.iter().flatten().enumerate() {
        let item = path.index(i);
        if device.name.is_empty() {
            errors.push(FieldError::required(item.child("name"), ""));
        }
        if seen_names.contains(&device.name) {
            errors.push(FieldError::invalid_str(
                item.child("name"),
                &device.name,
                "must be unique",
            ));
        }
        match volumes.get(&device.name) {
            Some(false) => errors.push(FieldError::invalid_str(item.child("name"), &device.name, "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode")),
            None => errors.push(FieldError::new(item.child("name"), FieldErrorType::NotFound).value_str(&device.name)),
            Some(true) => {}
        }
        if device.device_path.is_empty() {
            errors.push(FieldError::required(item.child("devicePath"), ""));
        }
        if seen_paths.contains(&device.device_path) {
            errors.push(FieldError::invalid_str(
                item.child("devicePath"),
                &device.device_path,
                "must be unique",
            ));
        }
        if !device.device_path.is_empty() && !no_backsteps(&device.device_path, &item).is_empty() {
            errors.push(FieldError::invalid_str(
                item.child("devicePath"),
                &device.device_path,
                "can not contain backsteps ('..')",
            ));
        } else {
            seen_paths.insert(device.device_path.clone());
        }
        if mounts.contains_key(device.name.as_str()) {
            errors.push(FieldError::invalid_str(
                item.child("name"),
                &device.name,
                "must not already exist in volumeMounts",
            ));
        }
        if mounts.values().any(|p| *p == device.device_path) {
            errors.push(FieldError::invalid_str(
                item.child("devicePath"),
                &device.device_path,
                "must not already exist as a path in volumeMounts",
            ));
        }
        if !device.name.is_empty() {
            seen_names.insert(device.name.clone());
        }
    }
    errors
}
