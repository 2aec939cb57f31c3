//! Containers: upstream's `validateContainers`, `validateInitContainers`,
//! `validateContainerCommon`, `validateContainerPorts`, `ValidateEnv`, `ValidateEnvFrom`,
//! `validatePullPolicy`; probes, lifecycle handlers and security contexts are in
//! [`super::probes`].

use std::collections::BTreeSet;

use corral_api::{FieldError, FieldPath};
use k8s_openapi::api::core::v1::{Container, ContainerPort, EnvFromSource, EnvVar};

use crate::names;
use crate::validation::meta::invalid_each;
use crate::validation::mounts::validate_container_mounts;
use crate::validation::probes::{validate_lifecycle, validate_probes, validate_security_context};
use crate::validation::resources::validate_container_requirements;
use crate::validation::volumes::{VolumeIndex, object_field_selector};

/// What container checks need from the pod spec.
pub struct ContainerContext<'a> {
    pub volumes: &'a VolumeIndex,
    pub claim_names: &'a [String],
    pub grace_period: Option<i64>,
    pub host_users: bool,
}

/// `validateContainers`: at least one, each valid, names unique, host ports not clashing.
pub fn validate_containers(
    containers: &[Container],
    ctx: &ContainerContext<'_>,
    path: &FieldPath,
) -> Vec<FieldError> {
    if containers.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut errors = Vec::new();
    let mut names_seen = BTreeSet::new();
    for (i, container) in containers.iter().enumerate() {
        let item = path.index(i);
        errors.extend(validate_container_common(container, ctx, &item));
        if !names_seen.insert(container.name.clone()) {
            errors.push(FieldError::duplicate_str(
                item.child("name"),
                &container.name,
            ));
        }
        if let Some(lifecycle) = &container.lifecycle {
            errors.extend(validate_lifecycle(
                lifecycle,
                ctx.grace_period,
                &item.child("lifecycle"),
            ));
        }
        errors.extend(validate_probes(container, ctx.grace_period, &item));
        if container.restart_policy.is_some() {
            errors.push(FieldError::forbidden(
                item.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errors.extend(host_port_conflicts(containers, path));
    errors
}

/// `validateInitContainers`.
pub fn validate_init_containers(
    init_containers: &[Container],
    regular: &[Container],
    ctx: &ContainerContext<'_>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut names_seen: BTreeSet<String> = regular.iter().map(|c| c.name.clone()).collect();
    for (i, container) in init_containers.iter().enumerate() {
        let item = path.index(i);
        errors.extend(validate_container_common(container, ctx, &item));
        let restart_always = match container.restart_policy.as_deref() {
            None => false,
            Some("Always") => true,
            Some(other) => {
                errors.push(FieldError::not_supported(
                    item.child("restartPolicy"),
                    other,
                    &["Always"],
                ));
                false
            }
        };
        if names_seen.contains(&container.name) {
            errors.push(FieldError::duplicate_str(
                item.child("name"),
                &container.name,
            ));
        } else if !container.name.is_empty() {
            names_seen.insert(container.name.clone());
        }
        errors.extend(host_port_conflicts(std::slice::from_ref(container), path));
        if restart_always {
            if let Some(lifecycle) = &container.lifecycle {
                errors.extend(validate_lifecycle(
                    lifecycle,
                    ctx.grace_period,
                    &item.child("lifecycle"),
                ));
            }
            errors.extend(validate_probes(container, ctx.grace_period, &item));
        } else {
            errors.extend(forbid_init_container_probes(container, &item));
        }
    }
    errors
}

fn forbid_init_container_probes(container: &Container, item: &FieldPath) -> Vec<FieldError> {
    let detail = "may not be set for init containers without restartPolicy=Always";
    [
        ("lifecycle", container.lifecycle.is_some()),
        ("livenessProbe", container.liveness_probe.is_some()),
        ("readinessProbe", container.readiness_probe.is_some()),
        ("startupProbe", container.startup_probe.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(name, _)| FieldError::forbidden(item.child(name), detail))
    .collect()
}

/// `validateContainerCommon`.
fn validate_container_common(
    container: &Container,
    ctx: &ContainerContext<'_>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name_path = path.child("name");
    if container.name.is_empty() {
        errors.push(FieldError::required(&name_path, ""));
    } else {
        errors.extend(invalid_each(
            &name_path,
            &container.name,
            names::is_dns1123_label(&container.name),
        ));
    }
    if container.image.as_deref().unwrap_or("").is_empty() {
        errors.push(FieldError::required(path.child("image"), ""));
    }
    match container
        .termination_message_policy
        .as_deref()
        .unwrap_or("")
    {
        "File" | "FallbackToLogsOnError" => {}
        "" => errors.push(FieldError::required(
            path.child("terminationMessagePolicy"),
            "",
        )),
        other => errors.push(FieldError::not_supported(
            path.child("terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    errors.extend(validate_ports(
        container.ports.as_deref().unwrap_or_default(),
        &path.child("ports"),
    ));
    errors.extend(validate_env(
        container.env.as_deref().unwrap_or_default(),
        &path.child("env"),
    ));
    errors.extend(validate_env_from(
        container.env_from.as_deref().unwrap_or_default(),
        &path.child("envFrom"),
    ));
    errors.extend(validate_container_mounts(container, ctx.volumes, path));
    errors.extend(validate_pull_policy(
        container.image_pull_policy.as_deref(),
        &path.child("imagePullPolicy"),
    ));
    errors.extend(validate_container_requirements(
        container.resources.as_ref(),
        ctx.claim_names,
        &path.child("resources"),
    ));
    errors.extend(validate_security_context(
        container.security_context.as_ref(),
        ctx.host_users,
        &path.child("securityContext"),
    ));
    errors
}

/// `validateContainerPorts`.
pub fn validate_ports(ports: &[ContainerPort], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut port_names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let item = path.index(i);
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let messages = names::is_valid_port_name(name);
            if !messages.is_empty() {
                errors.extend(invalid_each(&item.child("name"), name, messages));
            } else if !port_names.insert(name.to_string()) {
                errors.push(FieldError::duplicate_str(item.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errors.push(FieldError::required(item.child("containerPort"), ""));
        } else {
            for msg in names::is_valid_port_num(i64::from(port.container_port)) {
                errors.push(FieldError::invalid_int(
                    item.child("containerPort"),
                    i64::from(port.container_port),
                    msg,
                ));
            }
        }
        if let Some(host_port) = port.host_port.filter(|p| *p != 0) {
            for msg in names::is_valid_port_num(i64::from(host_port)) {
                errors.push(FieldError::invalid_int(
                    item.child("hostPort"),
                    i64::from(host_port),
                    msg,
                ));
            }
        }
        match port.protocol.as_deref().unwrap_or("") {
            "" => errors.push(FieldError::required(item.child("protocol"), "")),
            "TCP" | "UDP" | "SCTP" => {}
            other => errors.push(FieldError::not_supported(
                item.child("protocol"),
                other,
                &["SCTP", "TCP", "UDP"],
            )),
        }
    }
    errors
}

/// `AccumulateUniqueHostPorts` over a set of containers.
fn host_port_conflicts(containers: &[Container], path: &FieldPath) -> Vec<FieldError> {
    let mut seen = BTreeSet::new();
    let mut errors = Vec::new();
    for (ci, container) in containers.iter().enumerate() {
        for (pi, port) in container.ports.iter().flatten().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{}",
                port.protocol.as_deref().unwrap_or(""),
                port.host_ip.as_deref().unwrap_or(""),
                host_port
            );
            if !seen.insert(key.clone()) {
                errors.push(FieldError::duplicate_str(
                    path.index(ci).child("ports").index(pi).child("hostPort"),
                    key,
                ));
            }
        }
    }
    errors
}

/// `ValidateEnv` (relaxed names, the default from 1.32).
pub fn validate_env(vars: &[EnvVar], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, var) in vars.iter().enumerate() {
        let item = path.index(i);
        if var.name.is_empty() {
            errors.push(FieldError::required(item.child("name"), ""));
        } else {
            errors.extend(invalid_each(
                &item.child("name"),
                &var.name,
                names::is_relaxed_env_var_name(&var.name),
            ));
        }
        errors.extend(validate_env_value_from(var, &item.child("valueFrom")));
    }
    errors
}

/// `validEnvDownwardAPIFieldPathExpressions`, sorted as `sets.List` prints them.
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// `validateEnvVarValueFrom`.
fn validate_env_value_from(var: &EnvVar, path: &FieldPath) -> Vec<FieldError> {
    let Some(source) = &var.value_from else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    let mut count = 0;
    if let Some(field_ref) = &source.field_ref {
        count += 1;
        errors.extend(object_field_selector(
            field_ref,
            ENV_FIELD_PATHS,
            &path.child("fieldRef"),
        ));
    }
    if let Some(resource) = &source.resource_field_ref {
        count += 1;
        if resource.resource.is_empty() {
            errors.push(FieldError::required(
                path.child("resourceFieldRef").child("resource"),
                "",
            ));
        }
    }
    if let Some(selector) = &source.config_map_key_ref {
        count += 1;
        errors.extend(key_selector(
            &selector.name,
            &selector.key,
            &path.child("configMapKeyRef"),
        ));
    }
    if let Some(selector) = &source.secret_key_ref {
        count += 1;
        errors.extend(key_selector(
            &selector.name,
            &selector.key,
            &path.child("secretKeyRef"),
        ));
    }
    count += usize::from(source.file_key_ref.is_some());
    if count == 0 {
        errors.push(FieldError::invalid_str(path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
    } else if !var.value.as_deref().unwrap_or("").is_empty() {
        errors.push(FieldError::invalid_str(
            path,
            "",
            "may not be specified when `value` is not empty",
        ));
    } else if count > 1 {
        errors.push(FieldError::invalid_str(
            path,
            "",
            "may not have more than one field specified at a time",
        ));
    }
    errors
}

/// `validateConfigMapKeySelector` / `validateSecretKeySelector`.
fn key_selector(name: &str, key: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = invalid_each(
        &path.child("name"),
        name,
        names::name_is_dns_subdomain(name, false),
    );
    if key.is_empty() {
        errors.push(FieldError::required(path.child("key"), ""));
    } else {
        errors.extend(invalid_each(
            &path.child("key"),
            key,
            names::is_config_map_key(key),
        ));
    }
    errors
}

/// `ValidateEnvFrom`.
fn validate_env_from(sources: &[EnvFromSource], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let item = path.index(i);
        if let Some(prefix) = source.prefix.as_deref().filter(|p| !p.is_empty()) {
            errors.extend(invalid_each(
                &item.child("prefix"),
                prefix,
                names::is_relaxed_env_var_name(prefix),
            ));
        }
        let mut count = 0;
        for (set, name, child) in [
            (
                source.config_map_ref.is_some(),
                source.config_map_ref.as_ref().map(|c| c.name.as_str()),
                "configMapRef",
            ),
            (
                source.secret_ref.is_some(),
                source.secret_ref.as_ref().map(|s| s.name.as_str()),
                "secretRef",
            ),
        ] {
            if !set {
                continue;
            }
            count += 1;
            let name = name.unwrap_or("");
            let name_path = item.child(child).child("name");
            if name.is_empty() {
                errors.push(FieldError::required(name_path, ""));
            } else {
                errors.extend(invalid_each(
                    &name_path,
                    name,
                    names::name_is_dns_subdomain(name, true),
                ));
            }
        }
        if count == 0 {
            errors.push(FieldError::invalid_str(
                path,
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if count > 1 {
            errors.push(FieldError::invalid_str(
                path,
                "",
                "may not have more than one field specified at a time",
            ));
        }
    }
    errors
}

/// `validatePullPolicy`.
fn validate_pull_policy(policy: Option<&str>, path: &FieldPath) -> Vec<FieldError> {
    match policy.unwrap_or("") {
        "Always" | "IfNotPresent" | "Never" => Vec::new(),
        "" => vec![FieldError::required(path, "")],
        other => vec![FieldError::not_supported(
            path,
            other,
            &["Always", "IfNotPresent", "Never"],
        )],
    }
}
