//! Resource quotas and limit ranges: upstream's `ValidateResourceQuota` (spec, scopes,
//! scope selectors, status), `ValidateResourceQuotaUpdate` and `ValidateLimitRange`
//! (items in [`super::limit_range`]).

use std::collections::BTreeSet;

use corral_api::{FieldError, FieldErrorType, FieldPath};
use k8s_openapi::api::core::v1::{LimitRange, ResourceQuota, ResourceQuotaSpec};

use crate::gofmt;
use crate::names;
use crate::validation::meta::{
    FinalizerRules, immutable_error, validate_object_meta, validate_object_meta_update,
};
use crate::validation::resources::{validate_quantity_value, validate_quota_resource_name};

fn meta_path() -> FieldPath {
    FieldPath::root("metadata")
}

const QUOTA_SCOPES: &[&str] = &[
    "BestEffort",
    "CrossNamespacePodAffinity",
    "NotBestEffort",
    "NotTerminating",
    "PriorityClass",
    "Terminating",
    "VolumeAttributesClass",
];
const POD_COMPUTE: &[&str] = &[
    "cpu",
    "limits.cpu",
    "limits.memory",
    "memory",
    "requests.cpu",
    "requests.memory",
];

/// `IsResourceQuotaScopeValidForResource`.
fn scope_valid_for(scope: &str, resource: &str) -> bool {
    match scope {
        "Terminating"
        | "NotTerminating"
        | "NotBestEffort"
        | "PriorityClass"
        | "CrossNamespacePodAffinity" => resource == "pods" || POD_COMPUTE.contains(&resource),
        "BestEffort" => resource == "pods",
        _ => true,
    }
}

/// `ValidateResourceQuota`.
pub fn validate_resource_quota(quota: &ResourceQuota) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &quota.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &meta_path(),
    );
    errors.extend(validate_quota_spec(
        &quota.spec.clone().unwrap_or_default(),
        &FieldPath::root("spec"),
    ));
    errors.extend(validate_quota_status(quota));
    errors
}

/// `ValidateResourceQuotaStatus`.
pub fn validate_quota_status(quota: &ResourceQuota) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let status = quota.status.clone().unwrap_or_default();
    for (list, name) in [(&status.hard, "hard"), (&status.used, "used")] {
        for (resource, quantity) in list.iter().flatten() {
            let path = FieldPath::root("status").child(name).key(resource);
            errors.extend(validate_quota_resource_name(resource, &path));
            errors.extend(validate_quantity_value(resource, quantity, &path));
        }
    }
    errors
}

/// `ValidateResourceQuotaSpec`.
fn validate_quota_spec(spec: &ResourceQuotaSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (resource, quantity) in spec.hard.iter().flatten() {
        let key_path = path.child("hard").key(resource);
        errors.extend(validate_quota_resource_name(resource, &key_path));
        errors.extend(validate_quantity_value(resource, quantity, &key_path));
    }
    let scopes = spec.scopes.as_deref().unwrap_or_default();
    let rendered = gofmt::string_slice("core.ResourceQuotaScope", spec.scopes.as_deref());
    let scopes_error = |detail: &str| {
        FieldError::new(path.child("scopes"), FieldErrorType::Invalid)
            .value_plain(rendered.clone())
            .detail(detail)
    };
    for scope in scopes {
        if !QUOTA_SCOPES.contains(&scope.as_str()) {
            errors.push(scopes_error("unsupported scope"));
        }
        for resource in spec.hard.iter().flatten().map(|(k, _)| k) {
            let standard =
                !resource.contains('/') && validate_quota_resource_name(resource, path).is_empty();
            if standard && !scope_valid_for(scope, resource) {
                errors.push(scopes_error("unsupported scope applied to resource"));
            }
        }
    }
    let has = |s: &str| scopes.iter().any(|x| x == s);
    for (a, b) in [
        ("BestEffort", "NotBestEffort"),
        ("Terminating", "NotTerminating"),
    ] {
        if has(a) && has(b) {
            errors.push(scopes_error("conflicting scopes"));
        }
    }
    errors.extend(validate_scope_selector(spec, path));
    errors
}

/// `validateScopedResourceSelectorRequirement`.
fn validate_scope_selector(spec: &ResourceQuotaSpec, path: &FieldPath) -> Vec<FieldError> {
    let Some(selector) = &spec.scope_selector else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    let expressions_path = path.child("scopeSelector").child("matchExpressions");
    for requirement in selector.match_expressions.iter().flatten() {
        if !QUOTA_SCOPES.contains(&requirement.scope_name.as_str()) {
            errors.push(FieldError::invalid_str(
                expressions_path.child("scopeName"),
                &requirement.scope_name,
                "unsupported scope",
            ));
        }
        let values = requirement.values.as_deref().unwrap_or_default();
        let exists_only = [
            "BestEffort",
            "NotBestEffort",
            "Terminating",
            "NotTerminating",
            "CrossNamespacePodAffinity",
        ];
        if exists_only.contains(&requirement.scope_name.as_str())
            && requirement.operator != "Exists"
        {
            errors.push(FieldError::invalid_str(
                expressions_path.child("operator"),
                &requirement.operator,
                "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
            ));
        }
        match requirement.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errors.push(FieldError::required(
                expressions_path.child("values"),
                "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errors.push(
                FieldError::new(expressions_path.child("values"), FieldErrorType::Invalid)
                    .value_plain(gofmt::string_slice("string", Some(values)))
                    .detail("must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"),
            ),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errors.push(FieldError::invalid_str(expressions_path.child("operator"), other, "not a valid selector operator")),
        }
    }
    errors
}

/// `ValidateResourceQuotaUpdate`: scopes may not change.
pub fn validate_resource_quota_update(new: &ResourceQuota, old: &ResourceQuota) -> Vec<FieldError> {
    let mut errors = validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        FinalizerRules::Core,
        &meta_path(),
    );
    let spec = new.spec.clone().unwrap_or_default();
    errors.extend(validate_quota_spec(&spec, &FieldPath::root("spec")));
    let scopes = |q: &ResourceQuota| -> BTreeSet<String> {
        q.spec
            .iter()
            .flat_map(|s| s.scopes.iter().flatten().cloned())
            .collect()
    };
    if scopes(new) != scopes(old) {
        errors.push(immutable_error(
            &FieldPath::root("spec").child("scopes"),
            gofmt::string_slice("core.ResourceQuotaScope", spec.scopes.as_deref()),
        ));
    }
    errors
}

/// `ValidateLimitRange`.
pub fn validate_limit_range(limit_range: &LimitRange) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &limit_range.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &meta_path(),
    );
    let path = FieldPath::root("spec").child("limits");
    let mut types = BTreeSet::new();
    for (i, item) in limit_range
        .spec
        .iter()
        .flat_map(|s| s.limits.iter())
        .enumerate()
    {
        errors.extend(crate::validation::limit_range::validate_item(
            item,
            &path.index(i),
            &mut types,
        ));
    }
    errors
}
