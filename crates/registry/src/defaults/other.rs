//! Defaults of the non-core groups: admission webhooks
//! (`pkg/apis/admissionregistration/v1/defaults.go`) and RBAC
//! (`pkg/apis/rbac/v1/defaults.go`).

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, RuleWithOperations, ValidatingWebhookConfiguration,
    WebhookClientConfig,
};
use k8s_openapi::api::rbac::v1::{RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The fields `SetDefaults_{Validating,Mutating}Webhook` fill.
struct HookDefaults<'a> {
    failure_policy: &'a mut Option<String>,
    match_policy: &'a mut Option<String>,
    namespace_selector: &'a mut Option<LabelSelector>,
    object_selector: &'a mut Option<LabelSelector>,
    timeout_seconds: &'a mut Option<i32>,
    rules: &'a mut Option<Vec<RuleWithOperations>>,
    client_config: &'a mut WebhookClientConfig,
}

fn default_hook(hook: HookDefaults<'_>) {
    hook.failure_policy.get_or_insert_with(|| "Fail".into());
    hook.match_policy.get_or_insert_with(|| "Equivalent".into());
    hook.namespace_selector
        .get_or_insert_with(LabelSelector::default);
    hook.object_selector
        .get_or_insert_with(LabelSelector::default);
    hook.timeout_seconds.get_or_insert(10);
    for rule in hook.rules.iter_mut().flatten() {
        rule.scope.get_or_insert_with(|| "*".into());
    }
    if let Some(service) = hook.client_config.service.as_mut() {
        service.port.get_or_insert(443);
    }
}

/// `SetDefaults_ValidatingWebhook` for every webhook.
pub fn default_validating(config: &mut ValidatingWebhookConfiguration) {
    for hook in config.webhooks.iter_mut().flatten() {
        default_hook(HookDefaults {
            failure_policy: &mut hook.failure_policy,
            match_policy: &mut hook.match_policy,
            namespace_selector: &mut hook.namespace_selector,
            object_selector: &mut hook.object_selector,
            timeout_seconds: &mut hook.timeout_seconds,
            rules: &mut hook.rules,
            client_config: &mut hook.client_config,
        });
    }
}

/// `SetDefaults_MutatingWebhook` for every webhook (adds `reinvocationPolicy: Never`).
pub fn default_mutating(config: &mut MutatingWebhookConfiguration) {
    for hook in config.webhooks.iter_mut().flatten() {
        default_hook(HookDefaults {
            failure_policy: &mut hook.failure_policy,
            match_policy: &mut hook.match_policy,
            namespace_selector: &mut hook.namespace_selector,
            object_selector: &mut hook.object_selector,
            timeout_seconds: &mut hook.timeout_seconds,
            rules: &mut hook.rules,
            client_config: &mut hook.client_config,
        });
        hook.reinvocation_policy
            .get_or_insert_with(|| "Never".into());
    }
}

/// `SetDefaults_RoleBinding`/`SetDefaults_ClusterRoleBinding` and `SetDefaults_Subject`.
pub fn default_binding(role_ref: &mut RoleRef, subjects: &mut Option<Vec<Subject>>) {
    if role_ref.api_group.as_deref().unwrap_or("").is_empty() {
        role_ref.api_group = Some(RBAC_GROUP.into());
    }
    for subject in subjects.iter_mut().flatten() {
        if subject.api_group.as_deref().unwrap_or("").is_empty() {
            // ServiceAccount subjects default to the empty group, which Go omits.
            if matches!(subject.kind.as_str(), "User" | "Group") {
                subject.api_group = Some(RBAC_GROUP.into());
            }
        }
    }
}
