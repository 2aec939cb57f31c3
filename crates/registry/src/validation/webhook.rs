//! Admission webhook configurations: upstream's
//! `ValidateValidatingWebhookConfiguration`/`ValidateMutatingWebhookConfiguration`
//! (`pkg/apis/admissionregistration/validation`), with `webhook.ValidateWebhookURL` and
//! `ValidateWebhookService` from `k8s.io/apiserver/pkg/util/webhook`.
//!
//! Corral refuses `matchConditions`: it does not evaluate CEL, and calling a webhook whose
//! conditions were ignored would change which requests it sees.

use std::collections::BTreeSet;

use corral_api::{FieldError, FieldErrorType, FieldPath};
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, RuleWithOperations, ValidatingWebhookConfiguration,
    WebhookClientConfig,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::gofmt;
use crate::names;
use crate::validation::meta::{FinalizerRules, validate_label_selector, validate_object_meta};

const FAILURE_POLICIES: &[&str] = &["Fail", "Ignore"];
const MATCH_POLICIES: &[&str] = &["Equivalent", "Exact"];
const ALL_SIDE_EFFECTS: &[&str] = &["None", "NoneOnDryRun", "Some", "Unknown"];
const NO_SIDE_EFFECTS: &[&str] = &["None", "NoneOnDryRun"];
const OPERATIONS: &[&str] = &["*", "CONNECT", "CREATE", "DELETE", "UPDATE"];
const REINVOCATION_POLICIES: &[&str] = &["IfNeeded", "Never"];
const SCOPES: &[&str] = &["*", "Cluster", "Namespaced"];
const REVIEW_VERSIONS: &[&str] = &["v1", "v1beta1"];

/// The fields the two webhook kinds share.
pub struct WebhookView<'a> {
    pub name: &'a str,
    pub rules: &'a [RuleWithOperations],
    pub failure_policy: Option<&'a str>,
    pub match_policy: Option<&'a str>,
    pub side_effects: &'a str,
    pub timeout_seconds: Option<i32>,
    pub namespace_selector: Option<&'a LabelSelector>,
    pub object_selector: Option<&'a LabelSelector>,
    pub reinvocation_policy: Option<&'a str>,
    pub client_config: &'a WebhookClientConfig,
    pub admission_review_versions: &'a [String],
    /// Whether `matchConditions` is set (non-empty).
    pub has_match_conditions: bool,
}

/// Options the update path derives from the old object (`validationOptions`).
#[derive(Clone, Copy, Debug)]
pub struct WebhookOptions {
    pub require_no_side_effects: bool,
    pub require_recognized_review_version: bool,
    pub require_unique_names: bool,
}

impl WebhookOptions {
    pub const STRICT: WebhookOptions = WebhookOptions {
        require_no_side_effects: true,
        require_recognized_review_version: true,
        require_unique_names: true,
    };

    /// The relaxed options upstream uses on update when the old object already broke a rule.
    pub fn for_update(old: &[WebhookView<'_>]) -> WebhookOptions {
        let mut names = BTreeSet::new();
        WebhookOptions {
            require_no_side_effects: old
                .iter()
                .all(|h| NO_SIDE_EFFECTS.contains(&h.side_effects)),
            require_recognized_review_version: old.iter().all(|h| {
                h.admission_review_versions.is_empty()
                    || h.admission_review_versions
                        .iter()
                        .any(|v| REVIEW_VERSIONS.contains(&v.as_str()))
            }),
            require_unique_names: old.iter().all(|h| names.insert(h.name)),
        }
    }
}

/// Views of a validating configuration's webhooks.
pub fn validating_views(config: &ValidatingWebhookConfiguration) -> Vec<WebhookView<'_>> {
    config
        .webhooks
        .iter()
        .flatten()
        .map(|h| WebhookView {
            name: &h.name,
            rules: h.rules.as_deref().unwrap_or_default(),
            failure_policy: h.failure_policy.as_deref(),
            match_policy: h.match_policy.as_deref(),
            side_effects: &h.side_effects,
            timeout_seconds: h.timeout_seconds,
            namespace_selector: h.namespace_selector.as_ref(),
            object_selector: h.object_selector.as_ref(),
            reinvocation_policy: None,
            client_config: &h.client_config,
            admission_review_versions: &h.admission_review_versions,
            has_match_conditions: h.match_conditions.as_ref().is_some_and(|c| !c.is_empty()),
        })
        .collect()
}

/// Views of a mutating configuration's webhooks.
pub fn mutating_views(config: &MutatingWebhookConfiguration) -> Vec<WebhookView<'_>> {
    config
        .webhooks
        .iter()
        .flatten()
        .map(|h| WebhookView {
            name: &h.name,
            rules: h.rules.as_deref().unwrap_or_default(),
            failure_policy: h.failure_policy.as_deref(),
            match_policy: h.match_policy.as_deref(),
            side_effects: &h.side_effects,
            timeout_seconds: h.timeout_seconds,
            namespace_selector: h.namespace_selector.as_ref(),
            object_selector: h.object_selector.as_ref(),
            reinvocation_policy: h.reinvocation_policy.as_deref(),
            client_config: &h.client_config,
            admission_review_versions: &h.admission_review_versions,
            has_match_conditions: h.match_conditions.as_ref().is_some_and(|c| !c.is_empty()),
        })
        .collect()
}

/// `validate{Validating,Mutating}WebhookConfiguration`.
pub fn validate_configuration(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    hooks: &[WebhookView<'_>],
    opts: WebhookOptions,
) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        meta,
        false,
        names::name_is_dns_subdomain,
        FinalizerRules::Generic,
        &FieldPath::root("metadata"),
    );
    let mut seen = BTreeSet::new();
    for (i, hook) in hooks.iter().enumerate() {
        let path = FieldPath::root("webhooks").index(i);
        errors.extend(validate_webhook(hook, opts, &path));
        errors.extend(validate_review_versions(
            hook.admission_review_versions,
            opts.require_recognized_review_version,
            &path.child("admissionReviewVersions"),
        ));
        if opts.require_unique_names && !hook.name.is_empty() && !seen.insert(hook.name) {
            errors.push(FieldError::duplicate_str(path.child("name"), hook.name));
        }
    }
    errors
}

/// `validateValidatingWebhook` / `validateMutatingWebhook`.
fn validate_webhook(
    hook: &WebhookView<'_>,
    opts: WebhookOptions,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = fully_qualified_name(hook.name, &path.child("name"));
    for (i, rule) in hook.rules.iter().enumerate() {
        errors.extend(validate_rule(rule, &path.child("rules").index(i)));
    }
    errors.extend(validate_policies(hook, opts, path));
    if let Some(timeout) = hook.timeout_seconds.filter(|t| !(1..=30).contains(t)) {
        errors.push(FieldError::invalid_int(
            path.child("timeoutSeconds"),
            i64::from(timeout),
            "the timeout value must be between 1 and 30 seconds",
        ));
    }
    errors.extend(validate_label_selector(
        hook.namespace_selector,
        &path.child("namespaceSelector"),
    ));
    errors.extend(validate_label_selector(
        hook.object_selector,
        &path.child("objectSelector"),
    ));
    if let Some(policy) = hook
        .reinvocation_policy
        .filter(|p| !REINVOCATION_POLICIES.contains(p))
    {
        errors.push(FieldError::not_supported(
            path.child("reinvocationPolicy"),
            policy,
            REINVOCATION_POLICIES,
        ));
    }
    errors.extend(validate_client_config(
        hook.client_config,
        &path.child("clientConfig"),
    ));
    if hook.has_match_conditions {
        // Corral does not evaluate CEL; accepting the conditions and calling the webhook as
        // if they matched would be a silently partial protocol.
        errors.push(FieldError::forbidden(
            path.child("matchConditions"),
            "matchConditions (CEL) are not supported by Corral",
        ));
    }
    errors
}

/// The enumerated fields: failure and match policies, side effects.
fn validate_policies(
    hook: &WebhookView<'_>,
    opts: WebhookOptions,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(policy) = hook
        .failure_policy
        .filter(|p| !FAILURE_POLICIES.contains(p))
    {
        errors.push(FieldError::not_supported(
            path.child("failurePolicy"),
            policy,
            FAILURE_POLICIES,
        ));
    }
    if let Some(policy) = hook.match_policy.filter(|p| !MATCH_POLICIES.contains(p)) {
        errors.push(FieldError::not_supported(
            path.child("matchPolicy"),
            policy,
            MATCH_POLICIES,
        ));
    }
    let allowed = if opts.require_no_side_effects {
        NO_SIDE_EFFECTS
    } else {
        ALL_SIDE_EFFECTS
    };
    if hook.side_effects.is_empty() {
        errors.push(FieldError::required(
            path.child("sideEffects"),
            format!("must specify one of {}", allowed.join(", ")),
        ));
    } else if !allowed.contains(&hook.side_effects) {
        errors.push(FieldError::not_supported(
            path.child("sideEffects"),
            hook.side_effects,
            allowed,
        ));
    }
    errors
}

/// `utilvalidation.IsFullyQualifiedName`: a subdomain with at least three segments.
fn fully_qualified_name(name: &str, path: &FieldPath) -> Vec<FieldError> {
    if name.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let messages = names::is_dns1123_subdomain(name);
    if !messages.is_empty() {
        return vec![FieldError::invalid_str(path, name, messages.join(","))];
    }
    if name.split('.').count() < 3 {
        return vec![FieldError::invalid_str(
            path,
            name,
            "should be a domain with at least three segments separated by dots",
        )];
    }
    Vec::new()
}

/// `validateRuleWithOperations` and `validateRule` (subresources allowed).
fn validate_rule(rule: &RuleWithOperations, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let operations = rule.operations.as_deref().unwrap_or_default();
    if operations.is_empty() {
        errors.push(FieldError::required(path.child("operations"), ""));
    }
    if operations.len() > 1 && operations.iter().any(|o| o == "*") {
        errors.push(list_error(
            path.child("operations"),
            "admissionregistration.OperationType",
            operations,
            "if '*' is present, must not specify other operations",
        ));
    }
    for (i, operation) in operations.iter().enumerate() {
        if !OPERATIONS.contains(&operation.as_str()) {
            errors.push(FieldError::not_supported(
                path.child("operations").index(i),
                operation,
                OPERATIONS,
            ));
        }
    }
    let groups = rule.api_groups.as_deref().unwrap_or_default();
    if groups.is_empty() {
        errors.push(FieldError::required(path.child("apiGroups"), ""));
    }
    if groups.len() > 1 && groups.iter().any(|g| g == "*") {
        errors.push(list_error(
            path.child("apiGroups"),
            "string",
            groups,
            "if '*' is present, must not specify other API groups",
        ));
    }
    let versions = rule.api_versions.as_deref().unwrap_or_default();
    if versions.is_empty() {
        errors.push(FieldError::required(path.child("apiVersions"), ""));
    }
    if versions.len() > 1 && versions.iter().any(|v| v == "*") {
        errors.push(list_error(
            path.child("apiVersions"),
            "string",
            versions,
            "if '*' is present, must not specify other API versions",
        ));
    }
    for (i, version) in versions.iter().enumerate() {
        if version.is_empty() {
            errors.push(FieldError::required(path.child("apiVersions").index(i), ""));
        }
    }
    errors.extend(validate_resources(
        rule.resources.as_deref().unwrap_or_default(),
        &path.child("resources"),
    ));
    if let Some(scope) = rule.scope.as_deref().filter(|s| !SCOPES.contains(s)) {
        errors.push(FieldError::not_supported(
            path.child("scope"),
            scope,
            SCOPES,
        ));
    }
    errors
}

fn list_error(path: FieldPath, type_name: &str, values: &[String], detail: &str) -> FieldError {
    FieldError::new(path, FieldErrorType::Invalid)
        .value_plain(gofmt::string_slice(type_name, Some(values)))
        .detail(detail)
}

/// `validateResources`: `x/*`, `*/x`, `*/*` and `*` exclusivity rules.
fn validate_resources(resources: &[String], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if resources.is_empty() {
        errors.push(FieldError::required(path, ""));
    }
    let (mut wildcard_subresources, mut wildcard_resources) = (BTreeSet::new(), BTreeSet::new());
    let (mut double_wildcard, mut single_wildcard, mut plain) = (false, false, false);
    for (i, entry) in resources.iter().enumerate() {
        if entry.is_empty() {
            errors.push(FieldError::required(path.index(i), ""));
            continue;
        }
        double_wildcard |= entry == "*/*";
        single_wildcard |= entry == "*";
        let Some((resource, sub)) = entry.split_once('/') else {
            plain = entry != "*";
            continue;
        };
        if wildcard_subresources.contains(resource) {
            errors.push(FieldError::invalid_str(
                path.index(i),
                entry,
                format!("if '{resource}/*' is present, must not specify {entry}"),
            ));
        }
        if wildcard_resources.contains(sub) {
            errors.push(FieldError::invalid_str(
                path.index(i),
                entry,
                format!("if '*/{sub}' is present, must not specify {entry}"),
            ));
        }
        if sub == "*" {
            wildcard_subresources.insert(resource.to_string());
        }
        if resource == "*" {
            wildcard_resources.insert(sub.to_string());
        }
    }
    if resources.len() > 1 && double_wildcard {
        errors.push(list_error(
            path.clone(),
            "string",
            resources,
            "if '*/*' is present, must not specify other resources",
        ));
    }
    if single_wildcard && plain {
        errors.push(list_error(
            path.clone(),
            "string",
            resources,
            "if '*' is present, must not specify other resources without subresources",
        ));
    }
    errors
}

/// `validateAdmissionReviewVersions`.
fn validate_review_versions(
    versions: &[String],
    require_recognized: bool,
    path: &FieldPath,
) -> Vec<FieldError> {
    if versions.is_empty() {
        return vec![FieldError::required(
            path,
            format!("must specify one of {}", REVIEW_VERSIONS.join(", ")),
        )];
    }
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, version) in versions.iter().enumerate() {
        if !seen.insert(version) {
            errors.push(FieldError::invalid_str(
                path.index(i),
                version,
                "duplicate version",
            ));
            continue;
        }
        for msg in names::is_dns1035_label(version) {
            errors.push(FieldError::invalid_str(path.index(i), version, msg));
        }
    }
    if require_recognized
        && !versions
            .iter()
            .any(|v| REVIEW_VERSIONS.contains(&v.as_str()))
    {
        errors.push(list_error(
            path.clone(),
            "string",
            versions,
            &format!(
                "must include at least one of {}",
                REVIEW_VERSIONS.join(", ")
            ),
        ));
    }
    errors
}

/// Exactly one of `url` and `service`, each valid.
fn validate_client_config(config: &WebhookClientConfig, path: &FieldPath) -> Vec<FieldError> {
    match (&config.url, &config.service) {
        (Some(url), None) => validate_url(url, &path.child("url")),
        (None, Some(service)) => validate_service(
            &service.name,
            &service.namespace,
            service.path.as_deref(),
            service.port.unwrap_or(443),
            &path.child("service"),
        ),
        _ => vec![FieldError::required(
            path,
            "exactly one of url or service is required",
        )],
    }
}

/// `ValidateWebhookURL` with `forceHttps`.
fn validate_url(url: &str, path: &FieldPath) -> Vec<FieldError> {
    const FORM: &str = "; desired format: https://host[/path]";
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let mut errors = Vec::new();
    if scheme != "https" {
        errors.push(FieldError::invalid_str(
            path,
            scheme,
            format!("'https' is the only allowed URL scheme{FORM}"),
        ));
    }
    let (without_fragment, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (without_query, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    let authority = if url.contains("://") {
        without_query.split('/').next().unwrap_or("")
    } else {
        ""
    };
    let (user, host) = authority
        .rsplit_once('@')
        .map_or(("", authority), |(u, h)| (u, h));
    if host.is_empty() {
        errors.push(FieldError::invalid_str(
            path,
            host,
            format!("host must be specified{FORM}"),
        ));
    }
    if !user.is_empty() || authority.contains('@') {
        errors.push(FieldError::invalid_str(
            path,
            user,
            "user information is not permitted in the URL",
        ));
    }
    if !fragment.is_empty() {
        errors.push(FieldError::invalid_str(
            path,
            fragment,
            "fragments are not permitted in the URL",
        ));
    }
    if !query.is_empty() {
        errors.push(FieldError::invalid_str(
            path,
            query,
            "query parameters are not permitted in the URL",
        ));
    }
    errors
}

/// `ValidateWebhookService`.
fn validate_service(
    name: &str,
    namespace: &str,
    service_path: Option<&str>,
    port: i32,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if name.is_empty() {
        errors.push(FieldError::required(
            path.child("name"),
            "service name is required",
        ));
    }
    if namespace.is_empty() {
        errors.push(FieldError::required(
            path.child("namespace"),
            "service namespace is required",
        ));
    }
    let port_errors = names::is_valid_port_num(i64::from(port));
    if !port_errors.is_empty() {
        errors.push(FieldError::invalid_int(
            path.child("port"),
            i64::from(port),
            format!("port is not valid: {}", port_errors.join(", ")),
        ));
    }
    let Some(url_path) = service_path.filter(|p| !p.is_empty() && *p != "/") else {
        return errors;
    };
    let path_field = path.child("path");
    if url_path == "//" {
        errors.push(FieldError::invalid_str(
            &path_field,
            url_path,
            "segment[0] may not be empty",
        ));
        return errors;
    }
    if !url_path.starts_with('/') {
        errors.push(FieldError::invalid_str(
            &path_field,
            url_path,
            "must start with a '/'",
        ));
    }
    let trimmed = url_path.get(1..).unwrap_or("");
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    for (i, step) in trimmed.split('/').enumerate() {
        if step.is_empty() {
            errors.push(FieldError::invalid_str(
                &path_field,
                url_path,
                format!("segment[{i}] may not be empty"),
            ));
            continue;
        }
        for failure in names::is_dns1123_subdomain(step) {
            errors.push(FieldError::invalid_str(
                &path_field,
                url_path,
                format!("segment[{i}]: {failure}"),
            ));
        }
    }
    errors
}
