//! Which webhooks apply to a request: the configurations (sorted by name, webhooks in
//! order) and upstream's `ShouldCallHook` — namespaceSelector
//! (`predicates/namespace/matcher.go`), objectSelector (`predicates/object/matcher.go`)
//! and rules (`predicates/rules/rules.go`, with `*` and `resource/subresource` patterns
//! and scope).

use std::collections::BTreeMap;

use corral_api::{ApiError, GroupResource, KubeObject, LabelSelector};
use k8s_openapi::api::admissionregistration::v1::{RuleWithOperations, WebhookClientConfig};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;

use crate::admission::breaker::ConfigurationIdentity;
use crate::admission::request::AdmissionRequest;
use crate::admission::state::AdmissionState;
use crate::admission::types::{ClientConfig, FailurePolicy, WebhookTarget};

/// One webhook as the dispatcher uses it.
#[derive(Clone, Debug)]
pub struct HookSpec {
    pub configuration: String,
    pub name: String,
    /// Identity for reinvocation: configuration name and position.
    pub uid: String,
    pub rules: Vec<RuleWithOperations>,
    pub namespace_selector: Result<LabelSelector, String>,
    pub object_selector: Result<LabelSelector, String>,
    pub failure_policy: FailurePolicy,
    pub side_effects: String,
    pub timeout_seconds: i32,
    pub reinvoke_if_needed: bool,
    pub client: ClientConfig,
    pub review_versions: Vec<String>,
    /// The configuration's uid and generation: a webhook breaker resets when they change.
    pub identity: ConfigurationIdentity,
}

fn selector(s: Option<&metav1::LabelSelector>) -> Result<LabelSelector, String> {
    match s {
        // An absent selector matches everything (the defaulted `{}`).
        None => Ok(LabelSelector::everything()),
        Some(s) => LabelSelector::from_k8s(Some(s)).map_err(|e| e.to_string()),
    }
}

fn client(config: &WebhookClientConfig) -> ClientConfig {
    let target = match (&config.url, &config.service) {
        (Some(url), _) => WebhookTarget::Url(url.clone()),
        (None, Some(service)) => WebhookTarget::Service {
            namespace: service.namespace.clone(),
            name: service.name.clone(),
            path: service.path.clone(),
            port: service.port.unwrap_or(443),
        },
        (None, None) => WebhookTarget::Url(String::new()),
    };
    ClientConfig {
        target,
        ca_bundle: config.ca_bundle.as_ref().map(|b| b.0.clone()),
    }
}

struct Fields<'a> {
    name: &'a str,
    rules: &'a Option<Vec<RuleWithOperations>>,
    namespace_selector: Option<&'a metav1::LabelSelector>,
    object_selector: Option<&'a metav1::LabelSelector>,
    failure_policy: Option<&'a str>,
    side_effects: &'a str,
    timeout_seconds: Option<i32>,
    reinvocation_policy: Option<&'a str>,
    client_config: &'a WebhookClientConfig,
    review_versions: &'a [String],
}

fn identity(meta: &metav1::ObjectMeta) -> ConfigurationIdentity {
    ConfigurationIdentity {
        uid: meta.uid.clone().unwrap_or_default(),
        generation: meta.generation.unwrap_or(0),
    }
}

fn spec(configuration: &metav1::ObjectMeta, index: usize, f: Fields<'_>) -> HookSpec {
    let identity = identity(configuration);
    let configuration = configuration.name.as_deref().unwrap_or("");
    HookSpec {
        configuration: configuration.to_string(),
        name: f.name.to_string(),
        uid: format!("{configuration}/{index}"),
        rules: f.rules.clone().unwrap_or_default(),
        namespace_selector: selector(f.namespace_selector),
        object_selector: selector(f.object_selector),
        failure_policy: match f.failure_policy {
            Some("Ignore") => FailurePolicy::Ignore,
            _ => FailurePolicy::Fail,
        },
        side_effects: f.side_effects.to_string(),
        timeout_seconds: f.timeout_seconds.unwrap_or(10),
        reinvoke_if_needed: f.reinvocation_policy == Some("IfNeeded"),
        client: client(f.client_config),
        review_versions: f.review_versions.to_vec(),
        identity,
    }
}

/// Every mutating webhook: configurations by name, webhooks in listed order.
pub fn mutating_hooks(state: &dyn AdmissionState) -> Vec<HookSpec> {
    let mut configs = state.mutating_webhook_configurations();
    if configs.is_empty() {
        return Vec::new();
    }
    configs.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut out = Vec::new();
    for config in configs {
        for (i, h) in config.webhooks.iter().flatten().enumerate() {
            out.push(spec(
                &config.metadata,
                i,
                Fields {
                    name: &h.name,
                    rules: &h.rules,
                    namespace_selector: h.namespace_selector.as_ref(),
                    object_selector: h.object_selector.as_ref(),
                    failure_policy: h.failure_policy.as_deref(),
                    side_effects: &h.side_effects,
                    timeout_seconds: h.timeout_seconds,
                    reinvocation_policy: h.reinvocation_policy.as_deref(),
                    client_config: &h.client_config,
                    review_versions: &h.admission_review_versions,
                },
            ));
        }
    }
    out
}

/// Every validating webhook: configurations by name, webhooks in listed order.
pub fn validating_hooks(state: &dyn AdmissionState) -> Vec<HookSpec> {
    let mut configs = state.validating_webhook_configurations();
    if configs.is_empty() {
        return Vec::new();
    }
    configs.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut out = Vec::new();
    for config in configs {
        for (i, h) in config.webhooks.iter().flatten().enumerate() {
            out.push(spec(
                &config.metadata,
                i,
                Fields {
                    name: &h.name,
                    rules: &h.rules,
                    namespace_selector: h.namespace_selector.as_ref(),
                    object_selector: h.object_selector.as_ref(),
                    failure_policy: h.failure_policy.as_deref(),
                    side_effects: &h.side_effects,
                    timeout_seconds: h.timeout_seconds,
                    reinvocation_policy: None,
                    client_config: &h.client_config,
                    review_versions: &h.admission_review_versions,
                },
            ));
        }
    }
    out
}

/// `IsExemptAdmissionConfigurationResource`: webhooks never see webhook configurations.
pub fn is_exempt(request: &AdmissionRequest) -> bool {
    request.resource.group == "admissionregistration.k8s.io"
        && matches!(
            request.resource.kind,
            "ValidatingWebhookConfiguration"
                | "MutatingWebhookConfiguration"
                | "ValidatingAdmissionPolicy"
                | "ValidatingAdmissionPolicyBinding"
                | "MutatingAdmissionPolicy"
                | "MutatingAdmissionPolicyBinding"
        )
}

fn is_namespace_resource(request: &AdmissionRequest) -> bool {
    request.resource.group.is_empty() && request.resource.resource == "namespaces"
}

fn exact_or_wildcard(items: &Option<Vec<String>>, requested: &str) -> bool {
    items.iter().flatten().any(|i| i == "*" || i == requested)
}

/// Upstream `rules.Matcher.Matches`. `namespace` is the attribute namespace (the name of
/// a namespace object itself).
pub fn rule_matches(
    rule: &RuleWithOperations,
    request: &AdmissionRequest,
    namespace: &str,
) -> bool {
    let scope_ok = match rule.scope.as_deref() {
        None | Some("*") => true,
        Some("Namespaced") => !is_namespace_resource(request) && !namespace.is_empty(),
        Some("Cluster") => is_namespace_resource(request) || namespace.is_empty(),
        Some(_) => false,
    };
    let operation_ok = rule
        .operations
        .iter()
        .flatten()
        .any(|o| o == "*" || o == request.operation.as_str());
    let resource_ok = rule.resources.iter().flatten().any(|pattern| {
        let (resource, sub) = pattern.split_once('/').unwrap_or((pattern.as_str(), ""));
        (resource == "*" || resource == request.resource.resource)
            && (sub == "*" || sub == request.subresource())
    });
    scope_ok
        && operation_ok
        && exact_or_wildcard(&rule.api_groups, request.resource.group)
        && exact_or_wildcard(&rule.api_versions, request.resource.version)
        && resource_ok
}

fn labels(object: Option<&KubeObject>) -> Option<&BTreeMap<String, String>> {
    object.and_then(|o| o.meta().labels.as_ref())
}

/// Upstream `ShouldCallHook`: `Ok(true)` when the webhook applies. Selector errors (a
/// missing namespace, an unparsable selector) only matter when a rule matches.
pub fn should_call(
    hook: &HookSpec,
    request: &AdmissionRequest,
    object: Option<&KubeObject>,
    namespace: &str,
    state: &dyn AdmissionState,
) -> Result<bool, ApiError> {
    let namespace_match = match_namespace(hook, request, object, namespace, state);
    if matches!(namespace_match, Ok(false)) {
        return Ok(false);
    }
    let object_match = match &hook.object_selector {
        Err(e) => Err(ApiError::internal(e.clone())),
        Ok(s) if s.is_everything() => Ok(true),
        Ok(s) => Ok((object.is_some() && s.matches_opt(labels(object)))
            || (request.old_object.is_some()
                && s.matches_opt(labels(request.old_object.as_ref())))),
    };
    if matches!(object_match, Ok(false)) {
        return Ok(false);
    }
    if !hook
        .rules
        .iter()
        .any(|r| rule_matches(r, request, namespace))
    {
        return Ok(false);
    }
    namespace_match?;
    object_match?;
    Ok(true)
}

fn match_namespace(
    hook: &HookSpec,
    request: &AdmissionRequest,
    object: Option<&KubeObject>,
    namespace: &str,
    state: &dyn AdmissionState,
) -> Result<bool, ApiError> {
    let is_namespace = is_namespace_resource(request);
    if namespace.is_empty() && !is_namespace {
        // Cluster-scoped objects other than namespaces are never exempted.
        return Ok(true);
    }
    let selector = hook
        .namespace_selector
        .as_ref()
        .map_err(|e| ApiError::internal(e.clone()))?;
    if selector.is_everything() {
        return Ok(true);
    }
    if is_namespace
        && request.subresource().is_empty()
        && matches!(
            request.operation,
            crate::admission::Operation::Create | crate::admission::Operation::Update
        )
    {
        return Ok(selector.matches_opt(labels(object)));
    }
    match state.namespace(namespace) {
        Some(ns) => Ok(selector.matches_opt(ns.metadata.labels.as_ref())),
        None => Err(ApiError::not_found(
            &GroupResource::new("", "namespaces"),
            namespace,
        )),
    }
}
