//! RBAC: upstream's `ValidateRole`, `ValidateClusterRole`, `ValidatePolicyRule`,
//! `ValidateRoleBinding`, `ValidateClusterRoleBinding`, `ValidateRoleBindingSubject` and
//! the `roleRef` immutability of binding updates (`pkg/apis/rbac/validation`), plus
//! Corral's verb check ([`crate::authz::validate_rules`]) on Role and ClusterRole rules.

use corral_api::{FieldError, FieldErrorType, FieldPath};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::gofmt;
use crate::names;
use crate::validation::meta::{
    FinalizerRules, invalid_each, validate_label_selector, validate_object_meta,
};

const GROUP: &str = "rbac.authorization.k8s.io";

/// `ValidateRole` (`namespaced`) / the rules part of `ValidateClusterRole`.
pub fn validate_role(meta: &ObjectMeta, rules: &[PolicyRule], namespaced: bool) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        meta,
        namespaced,
        names::name_is_path_segment,
        FinalizerRules::Generic,
        &FieldPath::root("metadata"),
    );
    for (i, rule) in rules.iter().enumerate() {
        errors.extend(validate_policy_rule(
            rule,
            namespaced,
            &FieldPath::root("rules").index(i),
        ));
    }
    // Corral's addition: unknown verbs (`gett`) are refused instead of granting nothing.
    errors.extend(crate::authz::validate_rules(
        rules,
        &FieldPath::root("rules"),
    ));
    errors
}

/// `ValidateClusterRole`.
pub fn validate_cluster_role(role: &ClusterRole) -> Vec<FieldError> {
    let mut errors = validate_role(
        &role.metadata,
        role.rules.as_deref().unwrap_or_default(),
        false,
    );
    if let Some(aggregation) = &role.aggregation_rule {
        let path = FieldPath::root("aggregationRule").child("clusterRoleSelectors");
        let selectors = aggregation
            .cluster_role_selectors
            .as_deref()
            .unwrap_or_default();
        if selectors.is_empty() {
            errors.push(FieldError::required(
                &path,
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            ));
        }
        for (i, selector) in selectors.iter().enumerate() {
            errors.extend(validate_label_selector(Some(selector), &path.index(i)));
        }
    }
    errors
}

/// `ValidatePolicyRule`.
fn validate_policy_rule(rule: &PolicyRule, namespaced: bool, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if rule.verbs.is_empty() {
        errors.push(FieldError::required(
            path.child("verbs"),
            "verbs must contain at least one value",
        ));
    }
    let urls = rule.non_resource_urls.as_deref().unwrap_or_default();
    let (groups, resources, names) = (
        rule.api_groups.as_deref().unwrap_or_default(),
        rule.resources.as_deref().unwrap_or_default(),
        rule.resource_names.as_deref().unwrap_or_default(),
    );
    if !urls.is_empty() {
        let url_error = |detail: &str| {
            FieldError::new(path.child("nonResourceURLs"), FieldErrorType::Invalid)
                .value_plain(gofmt::string_slice("string", Some(urls)))
                .detail(detail)
        };
        if namespaced {
            errors.push(url_error(
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if !groups.is_empty() || !resources.is_empty() || !names.is_empty() {
            errors.push(url_error(
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errors;
    }
    if groups.is_empty() {
        errors.push(FieldError::required(
            path.child("apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if resources.is_empty() {
        errors.push(FieldError::required(
            path.child("resources"),
            "resource rules must supply at least one resource",
        ));
    }
    errors
}

/// `ValidateRoleBinding` (`namespaced`) / `ValidateClusterRoleBinding`.
pub fn validate_binding(
    meta: &ObjectMeta,
    role_ref: &RoleRef,
    subjects: &[Subject],
    namespaced: bool,
) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        meta,
        namespaced,
        names::name_is_path_segment,
        FinalizerRules::Generic,
        &FieldPath::root("metadata"),
    );
    let ref_path = FieldPath::root("roleRef");
    let api_group = role_ref.api_group.as_deref().unwrap_or("");
    if api_group != GROUP {
        errors.push(FieldError::not_supported(
            ref_path.child("apiGroup"),
            api_group,
            &[GROUP],
        ));
    }
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !kinds.contains(&role_ref.kind.as_str()) {
        errors.push(FieldError::not_supported(
            ref_path.child("kind"),
            &role_ref.kind,
            kinds,
        ));
    }
    if role_ref.name.is_empty() {
        errors.push(FieldError::required(ref_path.child("name"), ""));
    } else {
        errors.extend(invalid_each(
            &ref_path.child("name"),
            &role_ref.name,
            names::path_segment_name(&role_ref.name),
        ));
    }
    for (i, subject) in subjects.iter().enumerate() {
        errors.extend(validate_subject(
            subject,
            namespaced,
            &FieldPath::root("subjects").index(i),
        ));
    }
    errors
}

/// `ValidateRoleBindingSubject`.
fn validate_subject(subject: &Subject, namespaced: bool, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if subject.name.is_empty() {
        errors.push(FieldError::required(path.child("name"), ""));
    }
    let api_group = subject.api_group.as_deref().unwrap_or("");
    match subject.kind.as_str() {
        "ServiceAccount" => {
            if !subject.name.is_empty() {
                errors.extend(invalid_each(
                    &path.child("name"),
                    &subject.name,
                    names::name_is_dns_subdomain(&subject.name, false),
                ));
            }
            if !api_group.is_empty() {
                errors.push(FieldError::not_supported(
                    path.child("apiGroup"),
                    api_group,
                    &[""],
                ));
            }
            if !namespaced && subject.namespace.as_deref().unwrap_or("").is_empty() {
                errors.push(FieldError::required(path.child("namespace"), ""));
            }
        }
        "User" | "Group" => {
            if api_group != GROUP {
                errors.push(FieldError::not_supported(
                    path.child("apiGroup"),
                    api_group,
                    &[GROUP],
                ));
            }
        }
        other => errors.push(FieldError::not_supported(
            path.child("kind"),
            other,
            &["ServiceAccount", "User", "Group"],
        )),
    }
    errors
}

/// The `roleRef` rule of `ValidateRoleBindingUpdate`/`ValidateClusterRoleBindingUpdate`.
pub fn validate_role_ref_update(new: &RoleRef, old: &RoleRef) -> Vec<FieldError> {
    if new == old {
        return Vec::new();
    }
    let rendered = format!(
        "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
        corral_api::validation::go_quote(new.api_group.as_deref().unwrap_or("")),
        corral_api::validation::go_quote(&new.kind),
        corral_api::validation::go_quote(&new.name)
    );
    vec![
        FieldError::new(FieldPath::root("roleRef"), FieldErrorType::Invalid)
            .value_plain(rendered)
            .detail("cannot change roleRef"),
    ]
}
