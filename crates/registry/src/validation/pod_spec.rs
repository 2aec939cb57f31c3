//! `ValidatePodSpec` and `ValidatePodTemplateSpec` (`pkg/apis/core/validation`): the
//! spec-level fields, with containers and volumes delegated to their own modules and
//! scheduling fields (tolerations, affinity, spreading) to [`super::scheduling`].

use std::collections::BTreeSet;

use corral_api::{FieldError, FieldErrorType, FieldPath};
use k8s_openapi::api::core::v1::{
    PodDNSConfig, PodSecurityContext, PodSpec, PodTemplateSpec, SeccompProfile,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::names;
use crate::validation::containers::{
    ContainerContext, validate_containers, validate_init_containers,
};
use crate::validation::meta::{invalid_each, validate_annotations, validate_labels};
use crate::validation::resources::{validate_container_resource_name, validate_requirements};
use crate::validation::scheduling;
use crate::validation::volumes::{local_descending_path, validate_volumes};

/// Options upstream derives per request (`PodValidationOptions`).
#[derive(Clone, Copy, Debug, Default)]
pub struct PodOptions {
    /// The spec is a Pod's own, not a template's (`ResourceIsPod`).
    pub resource_is_pod: bool,
}

/// `ValidatePodSpec`.
pub fn validate_pod_spec(
    spec: &PodSpec,
    pod_meta: Option<&ObjectMeta>,
    path: &FieldPath,
    opts: PodOptions,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if spec.termination_grace_period_seconds.is_none() {
        errors.push(FieldError::required(
            path.child("terminationGracePeriodSeconds"),
            "",
        ));
    }
    let host_users = spec.host_users.unwrap_or(true);
    let (volumes, volume_errors) = validate_volumes(
        spec.volumes.as_deref().unwrap_or_default(),
        pod_meta,
        &path.child("volumes"),
    );
    errors.extend(volume_errors);
    let claim_names = resource_claim_names(spec, path, &mut errors);
    let ctx = ContainerContext {
        volumes: &volumes,
        claim_names: &claim_names,
        grace_period: spec.termination_grace_period_seconds,
        host_users,
    };
    errors.extend(validate_containers(
        &spec.containers,
        &ctx,
        &path.child("containers"),
    ));
    let init = spec.init_containers.as_deref().unwrap_or_default();
    errors.extend(validate_init_containers(
        init,
        &spec.containers,
        &ctx,
        &path.child("initContainers"),
    ));
    errors.extend(validate_spec_fields(spec, path, opts));
    errors
}

/// The spec-level fields after the containers, in upstream's order.
fn validate_spec_fields(spec: &PodSpec, path: &FieldPath, opts: PodOptions) -> Vec<FieldError> {
    let mut errors = Vec::new();
    errors.extend(host_network_deps(spec, path, opts));
    errors.extend(validate_restart_policy(
        spec.restart_policy.as_deref(),
        &path.child("restartPolicy"),
    ));
    errors.extend(validate_dns_policy(
        spec.dns_policy.as_deref(),
        &path.child("dnsPolicy"),
    ));
    errors.extend(validate_labels(
        spec.node_selector.as_ref(),
        &path.child("nodeSelector"),
    ));
    errors.extend(validate_pod_security_context(
        spec.security_context.as_ref(),
        spec,
        &path.child("securityContext"),
    ));
    errors.extend(scheduling::validate_affinity(
        spec.affinity.as_ref(),
        &path.child("affinity"),
    ));
    errors.extend(validate_dns_config(
        spec.dns_config.as_ref(),
        spec.dns_policy.as_deref(),
        &path.child("dnsConfig"),
    ));
    errors.extend(validate_gates(spec, path));
    errors.extend(scheduling::validate_topology_spread(
        spec.topology_spread_constraints
            .as_deref()
            .unwrap_or_default(),
        &path.child("topologySpreadConstraints"),
    ));
    errors.extend(validate_names_and_numbers(spec, path));
    errors.extend(scheduling::validate_tolerations(
        spec.tolerations.as_deref().unwrap_or_default(),
        &path.child("tolerations"),
    ));
    errors.extend(validate_host_aliases(spec, &path.child("hostAliases")));
    errors.extend(validate_class_names(spec, path));
    errors.extend(validate_os(spec, &path.child("os")));
    errors
}

/// `validatePodResourceClaims`; returns the declared claim names.
fn resource_claim_names(
    spec: &PodSpec,
    path: &FieldPath,
    errors: &mut Vec<FieldError>,
) -> Vec<String> {
    let mut seen = BTreeSet::new();
    for (i, claim) in spec.resource_claims.iter().flatten().enumerate() {
        let name_path = path.child("resourceClaims").index(i).child("name");
        if claim.name.is_empty() {
            errors.push(FieldError::required(name_path, ""));
        } else if !seen.insert(claim.name.clone()) {
            errors.push(FieldError::duplicate_str(name_path, &claim.name));
        } else {
            errors.extend(invalid_each(
                &name_path,
                &claim.name,
                names::is_dns1123_label(&claim.name),
            ));
        }
    }
    seen.into_iter().collect()
}

/// `validatePodHostNetworkDeps`.
fn host_network_deps(spec: &PodSpec, path: &FieldPath, opts: PodOptions) -> Vec<FieldError> {
    if spec.host_network != Some(true) {
        return Vec::new();
    }
    let mut errors = Vec::new();
    for (i, container) in spec.containers.iter().enumerate() {
        for (j, port) in container.ports.iter().flatten().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if (opts.resource_is_pod || host_port != 0) && host_port != port.container_port {
                errors.push(FieldError::invalid_int(
                    path.child("containers")
                        .index(i)
                        .child("ports")
                        .index(j)
                        .child("hostPort"),
                    i64::from(host_port),
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
    errors
}

/// `validateRestartPolicy`.
fn validate_restart_policy(policy: Option<&str>, path: &FieldPath) -> Vec<FieldError> {
    match policy.unwrap_or("") {
        "Always" | "OnFailure" | "Never" => Vec::new(),
        "" => vec![FieldError::required(path, "")],
        other => vec![FieldError::not_supported(
            path,
            other,
            &["Always", "OnFailure", "Never"],
        )],
    }
}

/// `validateDNSPolicy`.
fn validate_dns_policy(policy: Option<&str>, path: &FieldPath) -> Vec<FieldError> {
    let supported = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
    match policy.unwrap_or("") {
        "" => vec![FieldError::required(path, "")],
        p if supported.contains(&p) => Vec::new(),
        other => vec![FieldError::not_supported(path, other, &supported)],
    }
}

/// `validatePodDNSConfig`.
fn validate_dns_config(
    config: Option<&PodDNSConfig>,
    policy: Option<&str>,
    path: &FieldPath,
) -> Vec<FieldError> {
    if policy == Some("None") {
        match config {
            None => {
                return vec![FieldError::required(
                    path,
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                )];
            }
            Some(c) if c.nameservers.as_deref().unwrap_or_default().is_empty() => {
                return vec![FieldError::required(
                    path.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )];
            }
            Some(_) => {}
        }
    }
    let Some(config) = config else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    let nameservers = config.nameservers.as_deref().unwrap_or_default();
    if nameservers.len() > 3 {
        errors.push(
            FieldError::new(path.child("nameservers"), FieldErrorType::Invalid)
                .value_plain(crate::gofmt::string_slice("string", Some(nameservers)))
                .detail("must not have more than 3 nameservers"),
        );
    }
    for (i, server) in nameservers.iter().enumerate() {
        if !names::is_ip(server) {
            errors.push(FieldError::invalid_str(
                path.child("nameservers").index(i),
                server,
                names::INVALID_IP_MESSAGE,
            ));
        }
    }
    errors.extend(validate_searches(
        config.searches.as_deref().unwrap_or_default(),
        &path.child("searches"),
    ));
    for (i, option) in config.options.iter().flatten().enumerate() {
        if option.name.as_deref().unwrap_or("").is_empty() {
            errors.push(FieldError::required(
                path.child("options").index(i),
                "must not be empty",
            ));
        }
    }
    errors
}

/// The DNS search list: at most 32 entries, each a subdomain (a trailing dot allowed).
fn validate_searches(searches: &[String], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if searches.len() > 32 {
        errors.push(
            FieldError::new(path, FieldErrorType::Invalid)
                .value_plain(crate::gofmt::string_slice("string", Some(searches)))
                .detail("must not have more than 32 search paths"),
        );
    }
    if searches.join(" ").len() > 2048 {
        errors.push(
            FieldError::new(path, FieldErrorType::Invalid)
                .value_plain(crate::gofmt::string_slice("string", Some(searches)))
                .detail(
                    "must not have more than 2048 characters (including spaces) in the search list",
                ),
        );
    }
    for (i, search) in searches.iter().enumerate() {
        if search != "." {
            let trimmed = search.strip_suffix('.').unwrap_or(search);
            errors.extend(invalid_each(
                &path.index(i),
                trimmed,
                names::is_dns1123_subdomain(trimmed),
            ));
        }
    }
    errors
}

/// `validateReadinessGates`, `validateSchedulingGates`, `validateImagePullSecrets`.
fn validate_gates(spec: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, gate) in spec.readiness_gates.iter().flatten().enumerate() {
        let gate_path = path.child("readinessGates").index(i).child("conditionType");
        errors.extend(invalid_each(
            &gate_path,
            &gate.condition_type,
            names::is_qualified_name(&gate.condition_type),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, gate) in spec.scheduling_gates.iter().flatten().enumerate() {
        let gate_path = path.child("schedulingGates").index(i);
        errors.extend(invalid_each(
            &gate_path,
            &gate.name,
            names::is_qualified_name(&gate.name),
        ));
        if !seen.insert(gate.name.clone()) {
            errors.push(FieldError::duplicate_str(&gate_path, &gate.name));
        }
    }
    errors
}

/// Service account, node name, active deadline, hostname and subdomain.
fn validate_names_and_numbers(spec: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(name) = spec
        .service_account_name
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        errors.extend(invalid_each(
            &path.child("serviceAccountName"),
            name,
            names::name_is_dns_subdomain(name, false),
        ));
    }
    if let Some(name) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        errors.extend(invalid_each(
            &path.child("nodeName"),
            name,
            names::name_is_dns_subdomain(name, false),
        ));
    }
    if let Some(seconds) = spec.active_deadline_seconds
        && !(1..=i64::from(i32::MAX)).contains(&seconds)
    {
        errors.push(FieldError::invalid_int(
            path.child("activeDeadlineSeconds"),
            seconds,
            names::inclusive_range_error(1, i64::from(i32::MAX)),
        ));
    }
    for (value, name) in [(&spec.hostname, "hostname"), (&spec.subdomain, "subdomain")] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            errors.extend(invalid_each(
                &path.child(name),
                value,
                names::is_dns1123_label(value),
            ));
        }
    }
    errors
}

/// `ValidateHostAliases`.
fn validate_host_aliases(spec: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, alias) in spec.host_aliases.iter().flatten().enumerate() {
        if !names::is_ip(&alias.ip) {
            errors.push(FieldError::invalid_str(
                path.index(i).child("ip"),
                &alias.ip,
                names::INVALID_IP_MESSAGE,
            ));
        }
        for (j, host) in alias.hostnames.iter().flatten().enumerate() {
            errors.extend(invalid_each(
                &path.index(i).child("hostnames").index(j),
                host,
                names::is_dns1123_subdomain(host),
            ));
        }
    }
    errors
}

/// Priority class, runtime class, preemption policy and overhead.
fn validate_class_names(spec: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(name) = spec
        .priority_class_name
        .as_deref()
        .filter(|n| !n.is_empty())
    {
        errors.extend(invalid_each(
            &path.child("priorityClassName"),
            name,
            names::name_is_dns_subdomain(name, false),
        ));
    }
    if let Some(name) = spec.runtime_class_name.as_deref() {
        errors.extend(invalid_each(
            &path.child("runtimeClassName"),
            name,
            names::name_is_dns_subdomain(name, false),
        ));
    }
    if let Some(policy) = spec.preemption_policy.as_deref() {
        match policy {
            "PreemptLowerPriority" | "Never" => {}
            "" => errors.push(FieldError::required(path.child("preemptionPolicy"), "")),
            other => errors.push(FieldError::not_supported(
                path.child("preemptionPolicy"),
                other,
                &["PreemptLowerPriority", "Never"],
            )),
        }
    }
    if let Some(overhead) = &spec.overhead {
        errors.extend(validate_requirements(
            Some(overhead),
            None,
            validate_container_resource_name,
            &path.child("overhead"),
        ));
    }
    errors
}

/// `validateOS` (the name only; per-OS field restrictions are not ported).
fn validate_os(spec: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    match spec.os.as_ref().map(|os| os.name.as_str()) {
        None | Some("linux") | Some("windows") => Vec::new(),
        Some("") => vec![FieldError::required(path.child("name"), "")],
        Some(other) => vec![FieldError::not_supported(
            path.child("name"),
            other,
            &["linux", "windows"],
        )],
    }
}

/// `validatePodSpecSecurityContext`.
fn validate_pod_security_context(
    context: Option<&PodSecurityContext>,
    spec: &PodSpec,
    path: &FieldPath,
) -> Vec<FieldError> {
    let Some(context) = context else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    let range = || names::inclusive_range_error(0, i64::from(i32::MAX));
    let valid_id = |id: i64| (0..=i64::from(i32::MAX)).contains(&id);
    for (value, name) in [
        (context.fs_group, "fsGroup"),
        (context.run_as_user, "runAsUser"),
        (context.run_as_group, "runAsGroup"),
    ] {
        if let Some(id) = value.filter(|id| !valid_id(*id)) {
            errors.push(FieldError::invalid_int(path.child(name), id, range()));
        }
    }
    for (i, gid) in context.supplemental_groups.iter().flatten().enumerate() {
        if !valid_id(*gid) {
            errors.push(FieldError::invalid_int(
                path.child("supplementalGroups").index(i),
                *gid,
                range(),
            ));
        }
    }
    if spec.share_process_namespace == Some(true) && spec.host_pid == Some(true) {
        errors.push(
            FieldError::new(path.child("shareProcessNamespace"), FieldErrorType::Invalid)
                .value_plain("true")
                .detail("ShareProcessNamespace and HostPID cannot both be enabled"),
        );
    }
    if let Some(policy) = context.fs_group_change_policy.as_deref()
        && policy != "Always"
        && policy != "OnRootMismatch"
    {
        errors.push(FieldError::not_supported(
            path.child("fsGroupChangePolicy"),
            policy,
            &["Always", "OnRootMismatch"],
        ));
    }
    errors.extend(validate_seccomp_profile(
        context.seccomp_profile.as_ref(),
        &path.child("seccompProfile"),
    ));
    errors
}

/// `validateSeccompProfileField`.
pub fn validate_seccomp_profile(
    profile: Option<&SeccompProfile>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let Some(profile) = profile else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    let kinds = ["Localhost", "RuntimeDefault", "Unconfined"];
    match profile.type_.as_str() {
        "" => errors.push(FieldError::required(
            path.child("type"),
            "type is required when seccompProfile is set",
        )),
        kind if !kinds.contains(&kind) => {
            errors.push(FieldError::not_supported(path.child("type"), kind, &kinds))
        }
        _ => {}
    }
    match (profile.type_.as_str(), profile.localhost_profile.as_deref()) {
        ("Localhost", None) => errors.push(FieldError::required(
            path.child("localhostProfile"),
            "must be set when seccomp type is Localhost",
        )),
        ("Localhost", Some(local)) => errors.extend(local_descending_path(
            local,
            &path.child("localhostProfile"),
        )),
        (_, Some(_)) => errors.push(
            FieldError::new(path.child("localhostProfile"), FieldErrorType::Invalid)
                .value_plain(crate::gofmt::json(profile))
                .detail("can only be set when seccomp type is Localhost"),
        ),
        (_, None) => {}
    }
    errors
}

/// `ValidatePodSpecificAnnotations`: mirror pods need a node; deletion cost is an int32.
pub fn validate_pod_annotations(
    meta: &ObjectMeta,
    spec: &PodSpec,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let annotations = meta.annotations.as_ref();
    if let Some(value) = annotations.and_then(|a| a.get("kubernetes.io/config.mirror"))
        && spec.node_name.as_deref().unwrap_or("").is_empty()
    {
        errors.push(FieldError::invalid_str(
            path.key("kubernetes.io/config.mirror"),
            value,
            "must set spec.nodeName if mirror pod annotation is set",
        ));
    }
    if let Some(value) =
        annotations.and_then(|a| a.get("controller.kubernetes.io/pod-deletion-cost"))
        && value.parse::<i32>().is_err()
    {
        errors.push(FieldError::invalid_str(
            path.key("controller.kubernetes.io/pod-deletion-cost"),
            value,
            "must be a 32bit integer",
        ));
    }
    errors
}

/// `ValidatePodTemplateSpec`.
pub fn validate_pod_template_spec(
    template: &PodTemplateSpec,
    path: &FieldPath,
    opts: PodOptions,
) -> Vec<FieldError> {
    let default_meta = ObjectMeta::default();
    let meta = template.metadata.as_ref().unwrap_or(&default_meta);
    let default_spec = PodSpec::default();
    let spec = template.spec.as_ref().unwrap_or(&default_spec);
    let mut errors = validate_labels(meta.labels.as_ref(), &path.child("labels"));
    errors.extend(validate_annotations(
        meta.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errors.extend(validate_pod_annotations(
        meta,
        spec,
        &path.child("annotations"),
    ));
    errors.extend(validate_pod_spec(spec, None, &path.child("spec"), opts));
    if !spec
        .ephemeral_containers
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        errors.push(FieldError::forbidden(
            path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errors
}
