//! Pod and pod-template defaulting: upstream's `SetDefaults_Pod`, `SetDefaults_PodSpec`,
//! `SetDefaults_Container`, `SetDefaults_Probe`, `SetDefaults_HTTPGetAction`, the volume
//! source defaults and the generated `+default` markers (`pkg/apis/core/v1/defaults.go`,
//! `zz_generated.defaults.go`), plus the v1 conversion of `serviceAccount`.
//!
//! The admission plugins that also fill pod fields upstream (`DefaultTolerationSeconds`,
//! `Priority`, `ServiceAccount`) are [`add_default_tolerations`],
//! [`add_default_priority`] and [`default_service_account`]: admission calls them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, EnvVar, HTTPGetAction, Lifecycle, Pod, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, Toleration, Volume,
};

use crate::defaults::canonical_resource_list;

/// `v1.DefaultTerminationGracePeriodSeconds`.
pub const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;
/// `v1.DefaultSchedulerName`.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
/// `v1.TerminationMessagePathDefault`.
pub const TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";
/// The `0644` file mode of secret, config map, downward API and projected volumes.
const DEFAULT_FILE_MODE: i32 = 0o644;
/// `DefaultTolerationSeconds` admission: how long pods stay on a not-ready or
/// unreachable node.
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;
/// The taints `DefaultTolerationSeconds` tolerates.
pub const TAINT_NODE_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_NODE_UNREACHABLE: &str = "node.kubernetes.io/unreachable";

fn set_if_none<T>(field: &mut Option<T>, value: T) {
    if field.is_none() {
        *field = Some(value);
    }
}

fn set_if_empty(field: &mut Option<String>, value: &str) {
    if field.as_deref().unwrap_or("").is_empty() {
        *field = Some(value.to_string());
    }
}

/// `SetObjectDefaults_Pod`: pod-only defaults, then the spec defaults.
pub fn default_pod(pod: &mut Pod) {
    let spec = pod.spec.get_or_insert_with(PodSpec::default);
    for container in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        requests_from_limits(container);
    }
    set_if_none(&mut spec.enable_service_links, true);
    if spec.host_network == Some(true) {
        for container in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            for port in container.ports.iter_mut().flatten() {
                if port.host_port.unwrap_or(0) == 0 {
                    port.host_port = Some(port.container_port);
                }
            }
        }
    }
    default_pod_spec(spec);
}

/// `SetDefaults_Pod`: requests default to limits, for pods only (not templates).
fn requests_from_limits(container: &mut Container) {
    let Some(resources) = container.resources.as_mut() else {
        return;
    };
    let Some(limits) = resources.limits.clone() else {
        return;
    };
    let requests = resources.requests.get_or_insert_with(BTreeMap::new);
    for (name, value) in limits {
        requests.entry(name).or_insert(value);
    }
}

/// The defaults of a pod template (`SetDefaults_PodSpec` and everything below it).
pub fn default_pod_template(template: &mut PodTemplateSpec) {
    set_if_none(&mut template.metadata, Default::default());
    default_pod_spec(template.spec.get_or_insert_with(PodSpec::default));
}

/// `SetDefaults_PodSpec` and the defaults of every container and volume in it.
pub fn default_pod_spec(spec: &mut PodSpec) {
    set_if_empty(&mut spec.dns_policy, "ClusterFirst");
    set_if_empty(&mut spec.restart_policy, "Always");
    set_if_none(&mut spec.security_context, Default::default());
    set_if_none(
        &mut spec.termination_grace_period_seconds,
        DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS,
    );
    set_if_empty(&mut spec.scheduler_name, DEFAULT_SCHEDULER_NAME);
    convert_service_account(spec);
    for volume in spec.volumes.iter_mut().flatten() {
        default_volume(volume);
    }
    for container in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        default_container(container);
    }
    for container in spec.ephemeral_containers.iter_mut().flatten() {
        set_if_empty(
            &mut container.termination_message_path,
            TERMINATION_MESSAGE_PATH,
        );
        set_if_empty(&mut container.termination_message_policy, "File");
        if container
            .image_pull_policy
            .as_deref()
            .unwrap_or("")
            .is_empty()
        {
            container.image_pull_policy =
                Some(pull_policy_for(container.image.as_deref().unwrap_or("")).to_string());
        }
        default_env(container.env.iter_mut().flatten());
    }
    canonical_resource_list(&mut spec.overhead);
}

/// The v1 ↔ internal conversion of the deprecated `serviceAccount` field: the name
/// comes from `serviceAccount` when `serviceAccountName` is empty, and both read back
/// the same.
fn convert_service_account(spec: &mut PodSpec) {
    if spec
        .service_account_name
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        spec.service_account_name = spec.service_account.clone().filter(|s| !s.is_empty());
    }
    spec.service_account.clone_from(&spec.service_account_name);
}

/// `SetDefaults_Container` and the defaults of its ports, env, resources and probes.
pub fn default_container(container: &mut Container) {
    if container
        .image_pull_policy
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        container.image_pull_policy =
            Some(pull_policy_for(container.image.as_deref().unwrap_or("")).to_string());
    }
    set_if_empty(
        &mut container.termination_message_path,
        TERMINATION_MESSAGE_PATH,
    );
    set_if_empty(&mut container.termination_message_policy, "File");
    for port in container.ports.iter_mut().flatten() {
        set_if_empty(&mut port.protocol, "TCP");
    }
    default_env(container.env.iter_mut().flatten());
    let resources = container
        .resources
        .get_or_insert_with(ResourceRequirements::default);
    canonical_resource_list(&mut resources.limits);
    canonical_resource_list(&mut resources.requests);
    for probe in [
        &mut container.liveness_probe,
        &mut container.readiness_probe,
        &mut container.startup_probe,
    ]
    .into_iter()
    .flatten()
    {
        default_probe(probe);
    }
    if let Some(lifecycle) = container.lifecycle.as_mut() {
        default_lifecycle(lifecycle);
    }
}

fn default_env<'a>(vars: impl Iterator<Item = &'a mut EnvVar>) {
    for var in vars {
        if let Some(field_ref) = var.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            set_if_empty(&mut field_ref.api_version, "v1");
        }
    }
}

/// `SetDefaults_Probe`, `SetDefaults_HTTPGetAction` and the gRPC `service` default.
fn default_probe(probe: &mut Probe) {
    for (field, value) in [
        (&mut probe.timeout_seconds, 1),
        (&mut probe.period_seconds, 10),
        (&mut probe.success_threshold, 1),
        (&mut probe.failure_threshold, 3),
    ] {
        if field.unwrap_or(0) == 0 {
            *field = Some(value);
        }
    }
    if let Some(http) = probe.http_get.as_mut() {
        default_http_get(http);
    }
    if let Some(grpc) = probe.grpc.as_mut() {
        set_if_none(&mut grpc.service, String::new());
    }
}

fn default_http_get(http: &mut HTTPGetAction) {
    set_if_empty(&mut http.path, "/");
    set_if_empty(&mut http.scheme, "HTTP");
}

fn default_lifecycle(lifecycle: &mut Lifecycle) {
    for handler in [&mut lifecycle.post_start, &mut lifecycle.pre_stop]
        .into_iter()
        .flatten()
    {
        if let Some(http) = handler.http_get.as_mut() {
            default_http_get(http);
        }
    }
}

/// Upstream's pull policy rule: `Always` for `:latest` and untagged images, otherwise
/// `IfNotPresent` (digest-only and unparseable references included).
pub fn pull_policy_for(image: &str) -> &'static str {
    if image_tag(image).as_deref() == Some("latest") {
        "Always"
    } else {
        "IfNotPresent"
    }
}

/// The tag `parsers.ParseImageName` reports: the explicit tag, `latest` when there is
/// neither tag nor digest, `None` for digest-only or invalid references.
fn image_tag(image: &str) -> Option<String> {
    if image.is_empty() || image.contains(char::is_whitespace) {
        return None;
    }
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let (path_start, last) = match name.rfind('/') {
        Some(i) => (i + 1, &name[i + 1..]),
        None => (0, name),
    };
    let (repository_last, tag) = match last.split_once(':') {
        Some((repo, tag)) => (repo, Some(tag)),
        None => (last, None),
    };
    // Repository path components must be lowercase; the registry host may not be.
    let repository = format!("{}{}", &name[..path_start], repository_last);
    let mut components = repository.split('/');
    let first = components.next().unwrap_or("");
    let has_domain = repository.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost");
    let path_ok = repository
        .split('/')
        .skip(usize::from(has_domain))
        .all(|c| !c.is_empty() && !c.bytes().any(|b| b.is_ascii_uppercase()));
    if !path_ok || repository_last.is_empty() || tag.is_some_and(str::is_empty) {
        return None;
    }
    match (tag, digest) {
        (Some(tag), _) => Some(tag.to_string()),
        (None, Some(_)) => None,
        (None, None) => Some("latest".to_string()),
    }
}

/// `SetDefaults_Volume` and the source defaults (`defaultMode`, `type`, token expiry).
fn default_volume(volume: &mut Volume) {
    let has_source = volume.empty_dir.is_some()
        || serde_json::to_value(&*volume)
            .ok()
            .and_then(|v| v.as_object().map(|m| m.keys().any(|k| k != "name")))
            .unwrap_or(false);
    if !has_source {
        volume.empty_dir = Some(Default::default());
    }
    if let Some(host_path) = volume.host_path.as_mut() {
        set_if_none(&mut host_path.type_, String::new());
    }
    if let Some(secret) = volume.secret.as_mut() {
        set_if_none(&mut secret.default_mode, DEFAULT_FILE_MODE);
    }
    if let Some(config_map) = volume.config_map.as_mut() {
        set_if_none(&mut config_map.default_mode, DEFAULT_FILE_MODE);
    }
    if let Some(downward) = volume.downward_api.as_mut() {
        set_if_none(&mut downward.default_mode, DEFAULT_FILE_MODE);
        for item in downward.items.iter_mut().flatten() {
            if let Some(field_ref) = item.field_ref.as_mut() {
                set_if_empty(&mut field_ref.api_version, "v1");
            }
        }
    }
    if let Some(projected) = volume.projected.as_mut() {
        set_if_none(&mut projected.default_mode, DEFAULT_FILE_MODE);
        for source in projected.sources.iter_mut().flatten() {
            if let Some(token) = source.service_account_token.as_mut() {
                set_if_none(&mut token.expiration_seconds, 3600);
            }
            for item in source
                .downward_api
                .iter_mut()
                .flat_map(|d| d.items.iter_mut().flatten())
            {
                if let Some(field_ref) = item.field_ref.as_mut() {
                    set_if_empty(&mut field_ref.api_version, "v1");
                }
            }
        }
    }
    if let Some(template) = volume
        .ephemeral
        .as_mut()
        .and_then(|e| e.volume_claim_template.as_mut())
    {
        crate::defaults::core::default_pvc_spec(&mut template.spec);
    }
}

/// The `DefaultTolerationSeconds` admission plugin: pods tolerate `not-ready` and
/// `unreachable` nodes for 300 s unless they already tolerate them.
pub fn add_default_tolerations(spec: &mut PodSpec) {
    let tolerates = |spec: &PodSpec, taint: &str| {
        spec.tolerations.iter().flatten().any(|t| {
            let key = t.key.as_deref().unwrap_or("");
            let effect = t.effect.as_deref().unwrap_or("");
            (key == taint || key.is_empty()) && (effect == "NoExecute" || effect.is_empty())
        })
    };
    for taint in [TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE] {
        if !tolerates(spec, taint) {
            spec.tolerations
                .get_or_insert_with(Vec::new)
                .push(Toleration {
                    effect: Some("NoExecute".into()),
                    key: Some(taint.into()),
                    operator: Some("Exists".into()),
                    toleration_seconds: Some(DEFAULT_TOLERATION_SECONDS),
                    value: None,
                });
        }
    }
}

/// The `Priority` admission plugin when no PriorityClass objects exist: the two system
/// classes get their fixed priorities, everything else priority 0; the preemption
/// policy defaults to `PreemptLowerPriority`. Returns the class name that must exist
/// (for admission to reject unknown ones), if any.
pub fn add_default_priority(spec: &mut PodSpec) -> Option<String> {
    let class = spec.priority_class_name.clone().filter(|c| !c.is_empty());
    let priority = match class.as_deref() {
        Some("system-node-critical") => 2_000_001_000,
        Some("system-cluster-critical") => 2_000_000_000,
        _ => 0,
    };
    spec.priority = Some(priority);
    set_if_empty(&mut spec.preemption_policy, "PreemptLowerPriority");
    class.filter(|c| c != "system-node-critical" && c != "system-cluster-critical")
}

/// The `ServiceAccount` admission plugin's name default: an empty name becomes
/// `default` (both the field and its deprecated alias).
pub fn default_service_account(spec: &mut PodSpec) {
    if spec
        .service_account_name
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        spec.service_account_name = Some("default".into());
    }
    spec.service_account.clone_from(&spec.service_account_name);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_follows_the_tag() {
        for (image, policy) in [
            ("busybox", "Always"),
            ("busybox:latest", "Always"),
            ("busybox:1.36", "IfNotPresent"),
            ("registry.example.com:5000/team/app", "Always"),
            ("registry.example.com:5000/team/app:v2", "IfNotPresent"),
            (
                "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "IfNotPresent",
            ),
            ("busybox:latest@sha256:0123", "Always"),
            ("BusyBox", "IfNotPresent"),
            ("", "IfNotPresent"),
        ] {
            assert_eq!(pull_policy_for(image), policy, "{image}");
        }
    }

    #[test]
    fn default_tolerations_are_added_once() {
        let mut spec = PodSpec::default();
        add_default_tolerations(&mut spec);
        add_default_tolerations(&mut spec);
        let tolerations = spec.tolerations.unwrap();
        assert_eq!(tolerations.len(), 2);
        assert_eq!(tolerations[0].key.as_deref(), Some(TAINT_NODE_NOT_READY));
        assert_eq!(tolerations[1].toleration_seconds, Some(300));
    }

    #[test]
    fn a_toleration_of_everything_suppresses_the_defaults() {
        let mut spec = PodSpec {
            tolerations: Some(vec![Toleration {
                operator: Some("Exists".into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        add_default_tolerations(&mut spec);
        assert_eq!(spec.tolerations.unwrap().len(), 1);
    }

    #[test]
    fn priority_defaults_to_zero_and_preempt_lower_priority() {
        let mut spec = PodSpec::default();
        assert_eq!(add_default_priority(&mut spec), None);
        assert_eq!(spec.priority, Some(0));
        assert_eq!(
            spec.preemption_policy.as_deref(),
            Some("PreemptLowerPriority")
        );
    }
}
