//! Pod volumes: upstream's `ValidateVolumes` and `validateVolumeSource` (the common
//! sources in depth, the rest only for "exactly one volume type"), and the path helpers
//! shared with [`super::mounts`].

use std::collections::BTreeMap;

use corral_api::{FieldError, FieldPath};
use k8s_openapi::api::core::v1::{
    DownwardAPIVolumeFile, KeyToPath, ObjectFieldSelector, ProjectedVolumeSource, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::names;
use crate::validation::meta::invalid_each;

const FILE_MODE_ERROR: &str = "must be a number between 0 and 0777 (octal), both inclusive";

/// What the containers need to know about the pod's volumes: name → is it a claim.
pub type VolumeIndex = BTreeMap<String, bool>;

/// `ValidateVolumes`: names are unique DNS labels and each has exactly one valid source.
pub fn validate_volumes(
    volumes: &[Volume],
    pod_meta: Option<&ObjectMeta>,
    path: &FieldPath,
) -> (VolumeIndex, Vec<FieldError>) {
    let mut index = VolumeIndex::new();
    let mut errors = Vec::new();
    for (i, volume) in volumes.iter().enumerate() {
        let volume_path = path.index(i);
        let name_path = volume_path.child("name");
        let mut volume_errors = validate_volume_source(volume, &volume_path, pod_meta);
        if volume.name.is_empty() {
            volume_errors.push(FieldError::required(&name_path, ""));
        } else {
            volume_errors.extend(invalid_each(
                &name_path,
                &volume.name,
                names::is_dns1123_label(&volume.name),
            ));
        }
        if index.contains_key(&volume.name) {
            volume_errors.push(FieldError::duplicate_str(&name_path, &volume.name));
        }
        if volume_errors.is_empty() {
            let is_claim = volume.persistent_volume_claim.is_some() || volume.ephemeral.is_some();
            index.insert(volume.name.clone(), is_claim);
        } else {
            errors.extend(volume_errors);
        }
    }
    (index, errors)
}

/// The set sources of a volume, in upstream's checking order, with their path names.
fn present_sources(volume: &Volume) -> Vec<&'static str> {
    let checks: [(bool, &'static str); 30] = [
        (volume.empty_dir.is_some(), "emptyDir"),
        (volume.host_path.is_some(), "hostPath"),
        (volume.git_repo.is_some(), "gitRepo"),
        (volume.gce_persistent_disk.is_some(), "gcePersistentDisk"),
        (
            volume.aws_elastic_block_store.is_some(),
            "awsElasticBlockStore",
        ),
        (volume.secret.is_some(), "secret"),
        (volume.nfs.is_some(), "nfs"),
        (volume.iscsi.is_some(), "iscsi"),
        (volume.glusterfs.is_some(), "glusterfs"),
        (volume.flocker.is_some(), "flocker"),
        (
            volume.persistent_volume_claim.is_some(),
            "persistentVolumeClaim",
        ),
        (volume.rbd.is_some(), "rbd"),
        (volume.cinder.is_some(), "cinder"),
        (volume.cephfs.is_some(), "cephFS"),
        (volume.quobyte.is_some(), "quobyte"),
        (volume.downward_api.is_some(), "downwarAPI"),
        (volume.fc.is_some(), "fc"),
        (volume.flex_volume.is_some(), "flexVolume"),
        (volume.config_map.is_some(), "configMap"),
        (volume.azure_file.is_some(), "azureFile"),
        (volume.vsphere_volume.is_some(), "vsphereVolume"),
        (
            volume.photon_persistent_disk.is_some(),
            "photonPersistentDisk",
        ),
        (volume.portworx_volume.is_some(), "portworxVolume"),
        (volume.azure_disk.is_some(), "azureDisk"),
        (volume.storageos.is_some(), "storageos"),
        (volume.projected.is_some(), "projected"),
        (volume.scale_io.is_some(), "scaleIO"),
        (volume.csi.is_some(), "csi"),
        (volume.ephemeral.is_some(), "ephemeral"),
        (volume.image.is_some(), "image"),
    ];
    checks
        .iter()
        .filter(|(set, _)| *set)
        .map(|(_, name)| *name)
        .collect()
}

/// `validateVolumeSource`.
fn validate_volume_source(
    volume: &Volume,
    path: &FieldPath,
    pod_meta: Option<&ObjectMeta>,
) -> Vec<FieldError> {
    let sources = present_sources(volume);
    let Some(first) = sources.first() else {
        return vec![FieldError::required(path, "must specify a volume type")];
    };
    let mut errors = validate_one_source(volume, first, path, pod_meta);
    for extra in &sources[1..] {
        errors.push(FieldError::forbidden(
            path.child(extra),
            "may not specify more than 1 volume type",
        ));
    }
    errors
}

fn validate_one_source(
    volume: &Volume,
    source: &str,
    path: &FieldPath,
    pod_meta: Option<&ObjectMeta>,
) -> Vec<FieldError> {
    let source_path = path.child(source);
    let mut errors = Vec::new();
    match source {
        "emptyDir" => errors.extend(empty_dir(volume, &source_path)),
        "hostPath" => errors.extend(host_path(volume, &source_path)),
        "secret" => errors.extend(secret_source(volume, &source_path)),
        "configMap" => errors.extend(config_map_source(volume, &source_path)),
        "persistentVolumeClaim"
            if volume
                .persistent_volume_claim
                .as_ref()
                .is_none_or(|c| c.claim_name.is_empty()) =>
        {
            errors.push(FieldError::required(source_path.child("claimName"), ""));
        }
        "nfs" => errors.extend(nfs(volume, &source_path)),
        "downwarAPI" => errors.extend(downward_api(volume, &path.child("downwardAPI"))),
        "projected" => {
            if let Some(projected) = &volume.projected {
                errors.extend(projected_sources(projected, &source_path));
            }
        }
        "csi" if volume.csi.as_ref().is_none_or(|c| c.driver.is_empty()) => {
            errors.push(FieldError::required(source_path.child("driver"), ""));
        }
        "ephemeral" => errors.extend(ephemeral(volume, &source_path, path, pod_meta)),
        "gitRepo"
            if volume
                .git_repo
                .as_ref()
                .is_none_or(|g| g.repository.is_empty()) =>
        {
            errors.push(FieldError::required(source_path.child("repository"), ""));
        }
        _ => {}
    }
    errors
}

fn empty_dir(volume: &Volume, path: &FieldPath) -> Vec<FieldError> {
    let limit = volume
        .empty_dir
        .as_ref()
        .and_then(|e| e.size_limit.as_ref());
    if limit.is_some_and(|q| crate::validation::resources::parse(q).nanos() < 0) {
        return vec![FieldError::forbidden(
            path.child("sizeLimit"),
            "SizeLimit field must be a valid resource quantity",
        )];
    }
    Vec::new()
}

/// `validateSecretVolumeSource`.
fn secret_source(volume: &Volume, path: &FieldPath) -> Vec<FieldError> {
    let secret = volume.secret.as_ref();
    let mut errors = Vec::new();
    if secret
        .and_then(|s| s.secret_name.as_deref())
        .unwrap_or("")
        .is_empty()
    {
        errors.push(FieldError::required(path.child("secretName"), ""));
    }
    errors.extend(file_mode(
        secret.and_then(|s| s.default_mode),
        &path.child("defaultMode"),
    ));
    errors.extend(key_to_paths(
        secret.and_then(|s| s.items.as_deref()),
        &path.child("items"),
    ));
    errors
}

/// `validateConfigMapVolumeSource`.
fn config_map_source(volume: &Volume, path: &FieldPath) -> Vec<FieldError> {
    let config_map = volume.config_map.as_ref();
    let mut errors = Vec::new();
    if config_map.map(|c| c.name.as_str()).unwrap_or("").is_empty() {
        errors.push(FieldError::required(path.child("name"), ""));
    }
    errors.extend(file_mode(
        config_map.and_then(|c| c.default_mode),
        &path.child("defaultMode"),
    ));
    errors.extend(key_to_paths(
        config_map.and_then(|c| c.items.as_deref()),
        &path.child("items"),
    ));
    errors
}

fn host_path(volume: &Volume, path: &FieldPath) -> Vec<FieldError> {
    let Some(host_path) = &volume.host_path else {
        return Vec::new();
    };
    if host_path.path.is_empty() {
        return vec![FieldError::required(path.child("path"), "")];
    }
    let mut errors = no_backsteps(&host_path.path, &path.child("path"));
    let supported = [
        "",
        "BlockDevice",
        "CharDevice",
        "Directory",
        "DirectoryOrCreate",
        "File",
        "FileOrCreate",
        "Socket",
    ];
    if let Some(kind) = host_path
        .type_
        .as_deref()
        .filter(|k| !supported.contains(k))
    {
        errors.push(FieldError::not_supported(
            path.child("type"),
            kind,
            &supported,
        ));
    }
    errors
}

fn nfs(volume: &Volume, path: &FieldPath) -> Vec<FieldError> {
    let Some(nfs) = &volume.nfs else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    if nfs.server.is_empty() {
        errors.push(FieldError::required(path.child("server"), ""));
    }
    if nfs.path.is_empty() {
        errors.push(FieldError::required(path.child("path"), ""));
    }
    if !nfs.path.starts_with('/') {
        errors.push(FieldError::invalid_str(
            path.child("path"),
            &nfs.path,
            "must be an absolute path",
        ));
    }
    errors
}

fn downward_api(volume: &Volume, path: &FieldPath) -> Vec<FieldError> {
    let Some(source) = &volume.downward_api else {
        return Vec::new();
    };
    let mut errors = file_mode(source.default_mode, &path.child("defaultMode"));
    for file in source.items.iter().flatten() {
        // Upstream reports item errors at the source path, without an index.
        errors.extend(downward_api_file(file, path));
    }
    errors
}

/// `validateDownwardAPIVolumeFile`.
fn downward_api_file(file: &DownwardAPIVolumeFile, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if file.path.is_empty() {
        errors.push(FieldError::required(path.child("path"), ""));
    }
    errors.extend(local_non_reserved_path(&file.path, &path.child("path")));
    match (&file.field_ref, &file.resource_field_ref) {
        (Some(field_ref), resource) => {
            let allowed = [
                "metadata.annotations",
                "metadata.labels",
                "metadata.name",
                "metadata.namespace",
                "metadata.uid",
            ];
            errors.extend(object_field_selector(
                field_ref,
                &allowed,
                &path.child("fieldRef"),
            ));
            if resource.is_some() {
                errors.push(FieldError::invalid_str(
                    path,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                ));
            }
        }
        (None, Some(resource)) => {
            if resource.container_name.as_deref().unwrap_or("").is_empty() {
                errors.push(FieldError::required(
                    path.child("resourceFieldRef").child("containerName"),
                    "",
                ));
            }
        }
        (None, None) => errors.push(FieldError::required(
            path,
            "one of fieldRef and resourceFieldRef is required",
        )),
    }
    errors.extend(file_mode(file.mode, &path.child("mode")));
    errors
}

/// `validateObjectFieldSelector` (subscripted label/annotation paths accepted).
pub fn object_field_selector(
    selector: &ObjectFieldSelector,
    allowed: &[&str],
    path: &FieldPath,
) -> Vec<FieldError> {
    if selector.api_version.as_deref().unwrap_or("").is_empty() {
        return vec![FieldError::required(path.child("apiVersion"), "")];
    }
    if selector.field_path.is_empty() {
        return vec![FieldError::required(path.child("fieldPath"), "")];
    }
    let field_path = selector.field_path.as_str();
    if let Some((base, rest)) = field_path.split_once('[') {
        let subscript = rest.strip_suffix(']').unwrap_or(rest).trim_matches('\'');
        return match base {
            "metadata.annotations" => invalid_each(
                path,
                &subscript.to_lowercase(),
                names::is_qualified_name(&subscript.to_lowercase()),
            ),
            "metadata.labels" => invalid_each(path, subscript, names::is_qualified_name(subscript)),
            _ => vec![FieldError::invalid_str(
                path,
                base,
                "does not support subscript",
            )],
        };
    }
    if !allowed.contains(&field_path) {
        return vec![FieldError::not_supported(
            path.child("fieldPath"),
            field_path,
            allowed,
        )];
    }
    Vec::new()
}

fn projected_sources(projected: &ProjectedVolumeSource, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = file_mode(projected.default_mode, &path.child("defaultMode"));
    for (i, source) in projected.sources.iter().flatten().enumerate() {
        let source_path = path.child("sources").index(i);
        let mut count = 0;
        if let Some(secret) = &source.secret {
            count += 1;
            if secret.name.is_empty() {
                errors.push(FieldError::required(
                    source_path.child("secret").child("name"),
                    "",
                ));
            }
            errors.extend(key_to_paths(
                secret.items.as_deref(),
                &source_path.child("secret").child("items"),
            ));
        }
        if let Some(config_map) = &source.config_map {
            count += 1;
            if config_map.name.is_empty() {
                errors.push(FieldError::required(
                    source_path.child("configMap").child("name"),
                    "",
                ));
            }
            errors.extend(key_to_paths(
                config_map.items.as_deref(),
                &source_path.child("configMap").child("items"),
            ));
        }
        if let Some(token) = &source.service_account_token {
            count += 1;
            errors.extend(service_account_token(
                token,
                &source_path.child("serviceAccountToken"),
            ));
        }
        count += usize::from(source.downward_api.is_some());
        count += usize::from(source.cluster_trust_bundle.is_some());
        count += usize::from(source.pod_certificate.is_some());
        if count > 1 {
            errors.push(FieldError::forbidden(
                &source_path,
                "may not specify more than 1 volume type per source",
            ));
        }
    }
    errors
}

fn service_account_token(
    token: &k8s_openapi::api::core::v1::ServiceAccountTokenProjection,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let expiration = token.expiration_seconds.unwrap_or(3600);
    if expiration < 10 * 60 {
        errors.push(FieldError::invalid_int(
            path.child("expirationSeconds"),
            expiration,
            "may not specify a duration less than 10 minutes",
        ));
    }
    if expiration > 1 << 32 {
        errors.push(FieldError::invalid_int(
            path.child("expirationSeconds"),
            expiration,
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    if token.path.is_empty() {
        errors.push(FieldError::required(path.child("path"), ""));
    }
    errors
}

fn ephemeral(
    volume: &Volume,
    path: &FieldPath,
    volume_path: &FieldPath,
    pod_meta: Option<&ObjectMeta>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    match volume
        .ephemeral
        .as_ref()
        .and_then(|e| e.volume_claim_template.as_ref())
    {
        None => errors.push(FieldError::required(path.child("volumeClaimTemplate"), "")),
        Some(template) => errors.extend(crate::validation::storage::validate_pvc_spec(
            Some(&template.spec),
            &path.child("volumeClaimTemplate").child("spec"),
        )),
    }
    let pod_name = pod_meta.and_then(|m| m.name.as_deref()).unwrap_or("");
    if !pod_name.is_empty() && !volume.name.is_empty() {
        let pvc_name = format!("{pod_name}-{}", volume.name);
        for msg in names::is_dns1123_subdomain(&pvc_name) {
            errors.push(FieldError::invalid_str(
                volume_path.child("name"),
                &volume.name,
                format!(
                    "PVC name {}: {msg}",
                    corral_api::validation::go_quote(&pvc_name)
                ),
            ));
        }
    }
    errors
}

fn file_mode(mode: Option<i32>, path: &FieldPath) -> Vec<FieldError> {
    match mode {
        Some(mode) if !(0..=0o777).contains(&mode) => {
            vec![FieldError::invalid_int(
                path,
                i64::from(mode),
                FILE_MODE_ERROR,
            )]
        }
        _ => Vec::new(),
    }
}

/// `validateKeyToPath` for every item.
fn key_to_paths(items: Option<&[KeyToPath]>, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, item) in items.unwrap_or_default().iter().enumerate() {
        let item_path = path.index(i);
        if item.key.is_empty() {
            errors.push(FieldError::required(item_path.child("key"), ""));
        }
        if item.path.is_empty() {
            errors.push(FieldError::required(item_path.child("path"), ""));
        }
        errors.extend(local_non_reserved_path(
            &item.path,
            &item_path.child("path"),
        ));
        errors.extend(file_mode(item.mode, &item_path.child("mode")));
    }
    errors
}

/// `validatePathNoBacksteps`.
pub fn no_backsteps(target: &str, path: &FieldPath) -> Vec<FieldError> {
    if target
        .replace('\\', "/")
        .split('/')
        .any(|part| part == "..")
    {
        vec![FieldError::invalid_str(
            path,
            target,
            "must not contain '..'",
        )]
    } else {
        Vec::new()
    }
}

/// `validateLocalDescendingPath`.
pub fn local_descending_path(target: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if target.starts_with('/') {
        errors.push(FieldError::invalid_str(
            path,
            target,
            "must be a relative path",
        ));
    }
    errors.extend(no_backsteps(target, path));
    errors
}

/// `ValidateLocalNonReservedPath`.
fn local_non_reserved_path(target: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = local_descending_path(target, path);
    if target.starts_with("..") && !target.starts_with("../") {
        errors.push(FieldError::invalid_str(
            path,
            target,
            "must not start with '..'",
        ));
    }
    errors
}
