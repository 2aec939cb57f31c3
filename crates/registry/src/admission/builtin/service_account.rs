//! ServiceAccount admission (`plugin/pkg/admission/serviceaccount/admission.go`) for pod
//! creates: default the account to `default`, require it to exist (403 `error looking up
//! service account <ns>/<sa>: serviceaccount "<sa>" not found`), mount the projected
//! API-access volume (`kube-api-access-<5 chars>`) unless automount is off, copy the
//! account's image pull secrets, and enforce mountable secrets when the account asks.
//! The token itself is issued by the API server when the kubelet asks for it (L2).

use k8s_openapi::api::core::v1::{
    ConfigMapProjection, DownwardAPIProjection, DownwardAPIVolumeFile, KeyToPath,
    LocalObjectReference, ObjectFieldSelector, Pod, PodSpec, ProjectedVolumeSource, ServiceAccount,
    ServiceAccountTokenProjection, Volume, VolumeMount, VolumeProjection,
};

use crate::defaults::pod::default_service_account;

pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
pub const VOLUME_NAME_PREFIX: &str = "kube-api-access-";
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
pub const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";
pub const ENFORCE_MOUNTABLE_SECRETS_ANNOTATION: &str = "kubernetes.io/enforce-mountable-secrets";
/// `serviceaccount.WarnOnlyBoundTokenExpirationSeconds`: 1 h + 7 s.
pub const TOKEN_EXPIRATION_SECONDS: i64 = 3607;

pub fn is_mirror_pod(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(MIRROR_POD_ANNOTATION))
}

/// The account a pod runs as, after defaulting.
pub fn account_name(pod: &mut Pod) -> String {
    let spec = pod.spec.get_or_insert_with(PodSpec::default);
    default_service_account(spec);
    spec.service_account_name.clone().unwrap_or_default()
}

/// The restrictions on mirror pods (upstream `Validate` for mirror pods).
pub fn check_mirror_pod(pod: &Pod) -> Result<(), String> {
    let Some(spec) = &pod.spec else {
        return Ok(());
    };
    if spec
        .service_account_name
        .as_deref()
        .is_some_and(|s| !s.is_empty())
    {
        return Err("a mirror pod may not reference service accounts".into());
    }
    let references_secret = spec.volumes.iter().flatten().any(|v| v.secret.is_some())
        || spec
            .image_pull_secrets
            .as_ref()
            .is_some_and(|s| !s.is_empty())
        || spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .any(|c| {
                c.env.iter().flatten().any(|e| {
                    e.value_from
                        .as_ref()
                        .is_some_and(|v| v.secret_key_ref.is_some())
                }) || c.env_from.iter().flatten().any(|e| e.secret_ref.is_some())
            });
    if references_secret {
        return Err("a mirror pod may not reference secrets".into());
    }
    let projects_token = spec.volumes.iter().flatten().any(|v| {
        v.projected.as_ref().is_some_and(|p| {
            p.sources
                .iter()
                .flatten()
                .any(|s| s.service_account_token.is_some())
        })
    });
    if projects_token {
        return Err("a mirror pod may not use ServiceAccountToken volume projections".into());
    }
    Ok(())
}

/// `shouldAutomount`: the pod's preference, then the account's, then yes.
fn should_automount(account: &ServiceAccount, spec: &PodSpec) -> bool {
    spec.automount_service_account_token
        .or(account.automount_service_account_token)
        .unwrap_or(true)
}

/// The mutating half: token volume and image pull secrets. `suffix` is the 5-character
/// name suffix (upstream draws it at random; the flow derives it from the request uid).
pub fn mutate(pod: &mut Pod, account: &ServiceAccount, mount_token: bool, suffix: &str) {
    let spec = pod.spec.get_or_insert_with(PodSpec::default);
    if mount_token && should_automount(account, spec) {
        mount_service_account_token(spec, suffix);
    }
    let pod_has_pull_secrets = spec
        .image_pull_secrets
        .as_ref()
        .is_some_and(|s| !s.is_empty());
    let account_secrets = account.image_pull_secrets.as_deref().unwrap_or_default();
    if !pod_has_pull_secrets && !account_secrets.is_empty() {
        spec.image_pull_secrets = Some(
            account_secrets
                .iter()
                .map(|s| LocalObjectReference {
                    name: s.name.clone(),
                })
                .collect(),
        );
    }
}

fn mount_service_account_token(spec: &mut PodSpec, suffix: &str) {
    let existing = spec
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name.starts_with(VOLUME_NAME_PREFIX))
        .map(|v| v.name.clone());
    let has_volume = existing.is_some();
    let volume_name = existing.unwrap_or_else(|| format!("{VOLUME_NAME_PREFIX}{suffix}"));
    let mount = VolumeMount {
        name: volume_name.clone(),
        read_only: Some(true),
        mount_path: TOKEN_MOUNT_PATH.to_string(),
        ..VolumeMount::default()
    };
    let mut needs_volume = false;
    let containers = spec
        .init_containers
        .iter_mut()
        .flatten()
        .chain(spec.containers.iter_mut());
    for container in containers {
        let mounted = container
            .volume_mounts
            .iter()
            .flatten()
            .any(|m| m.mount_path == TOKEN_MOUNT_PATH);
        if !mounted {
            container
                .volume_mounts
                .get_or_insert_with(Vec::new)
                .push(mount.clone());
            needs_volume = true;
        }
    }
    if !has_volume && needs_volume {
        spec.volumes.get_or_insert_with(Vec::new).push(Volume {
            name: volume_name,
            projected: Some(token_volume_source()),
            ..Volume::default()
        });
    }
}

/// `TokenVolumeSource`: the bound token, the cluster CA and the namespace.
pub fn token_volume_source() -> ProjectedVolumeSource {
    ProjectedVolumeSource {
        default_mode: Some(0o644),
        sources: Some(vec![
            VolumeProjection {
                service_account_token: Some(ServiceAccountTokenProjection {
                    path: "token".into(),
                    expiration_seconds: Some(TOKEN_EXPIRATION_SECONDS),
                    ..ServiceAccountTokenProjection::default()
                }),
                ..VolumeProjection::default()
            },
            VolumeProjection {
                config_map: Some(ConfigMapProjection {
                    name: "kube-root-ca.crt".into(),
                    items: Some(vec![KeyToPath {
                        key: "ca.crt".into(),
                        path: "ca.crt".into(),
                        ..KeyToPath::default()
                    }]),
                    optional: None,
                }),
                ..VolumeProjection::default()
            },
            VolumeProjection {
                downward_api: Some(DownwardAPIProjection {
                    items: Some(vec![DownwardAPIVolumeFile {
                        path: "namespace".into(),
                        field_ref: Some(ObjectFieldSelector {
                            api_version: Some("v1".into()),
                            field_path: "metadata.namespace".into(),
                        }),
                        ..DownwardAPIVolumeFile::default()
                    }]),
                }),
                ..VolumeProjection::default()
            },
        ]),
        ..ProjectedVolumeSource::default()
    }
}

/// Go's `strconv.ParseBool` truth values.
fn parse_bool(value: &str) -> bool {
    matches!(value, "1" | "t" | "T" | "TRUE" | "true" | "True")
}

/// The validating half: `limitSecretReferences` when the account enforces mountable
/// secrets.
pub fn validate(pod: &Pod, account: &ServiceAccount) -> Result<(), String> {
    let enforce = account
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ENFORCE_MOUNTABLE_SECRETS_ANNOTATION))
        .is_some_and(|v| parse_bool(v));
    if !enforce {
        return Ok(());
    }
    let account_name = account.metadata.name.as_deref().unwrap_or("");
    let mountable: Vec<&str> = account
        .secrets
        .iter()
        .flatten()
        .filter_map(|s| s.name.as_deref())
        .collect();
    let Some(spec) = &pod.spec else {
        return Ok(());
    };
    for volume in spec.volumes.iter().flatten() {
        if let Some(secret) = &volume.secret {
            let name = secret.secret_name.as_deref().unwrap_or("");
            if !mountable.contains(&name) {
                return Err(format!(
                    "volume with secret.secretName=\"{name}\" is not allowed because service account {account_name} does not reference that secret"
                ));
            }
        }
    }
    for (prefix, containers) in [
        (
            "init container",
            spec.init_containers.as_deref().unwrap_or_default(),
        ),
        ("container", spec.containers.as_slice()),
    ] {
        for container in containers {
            for env in container.env.iter().flatten() {
                let Some(reference) = env
                    .value_from
                    .as_ref()
                    .and_then(|v| v.secret_key_ref.as_ref())
                else {
                    continue;
                };
                if !mountable.contains(&reference.name.as_str()) {
                    return Err(format!(
                        "{prefix} {} with envVar {} referencing secret.secretName=\"{}\" is not allowed because service account {account_name} does not reference that secret",
                        container.name, env.name, reference.name
                    ));
                }
            }
        }
    }
    let pull_secrets: Vec<&str> = account
        .image_pull_secrets
        .iter()
        .flatten()
        .map(|s| s.name.as_str())
        .collect();
    for (i, reference) in spec.image_pull_secrets.iter().flatten().enumerate() {
        if !pull_secrets.contains(&reference.name.as_str()) {
            return Err(format!(
                "imagePullSecrets[{i}].name=\"{}\" is not allowed because service account {account_name} does not reference that imagePullSecret",
                reference.name
            ));
        }
    }
    Ok(())
}
