//! Resource names and quantities: upstream's `validateResourceRequirements`,
//! `ValidateResourceQuantityValue`, `validateContainerResourceName`,
//! `ValidateResourceQuotaResourceName` and the `pkg/apis/core/helper` predicates they use
//! (`IsStandardResourceName`, `IsIntegerResourceName`, `IsOvercommitAllowed`, …).

use std::collections::BTreeMap;

use corral_api::{FieldError, FieldErrorType, FieldPath, Quantity};
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;

use crate::names;

const STANDARD_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
];

const STANDARD_QUOTA_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
];

const INTEGER_RESOURCES: &[&str] = &[
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

/// `IsHugePageResourceName`.
pub fn is_huge_page(name: &str) -> bool {
    name.starts_with("hugepages-")
}

fn is_quota_huge_page(name: &str) -> bool {
    is_huge_page(name) || name.starts_with("requests.hugepages-")
}

/// `IsNativeResource`: unprefixed, or in the `kubernetes.io/` namespace.
pub fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// `IsExtendedResourceName`.
pub fn is_extended(name: &str) -> bool {
    if is_native(name) || name.starts_with("requests.") {
        return false;
    }
    names::is_qualified_name(&format!("requests.{name}")).is_empty()
}

/// `IsOvercommitAllowed`.
pub fn is_overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_huge_page(name)
}

/// `IsIntegerResourceName`.
pub fn is_integer_resource(name: &str) -> bool {
    INTEGER_RESOURCES.contains(&name) || is_extended(name)
}

/// `validateResourceName`.
pub fn validate_resource_name(name: &str, path: &FieldPath) -> Vec<FieldError> {
    let errors: Vec<FieldError> = names::is_qualified_name(name)
        .into_iter()
        .map(|m| FieldError::invalid_str(path, name, m))
        .collect();
    if !errors.is_empty() {
        return errors;
    }
    if !(name.contains('/') || STANDARD_RESOURCES.contains(&name) || is_quota_huge_page(name)) {
        return vec![FieldError::invalid_str(
            path,
            name,
            "must be a standard resource type or fully qualified",
        )];
    }
    errors
}

/// `validateContainerResourceName`.
pub fn validate_container_resource_name(name: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = validate_resource_name(name, path);
    if !name.contains('/') {
        if !["cpu", "memory", "ephemeral-storage"].contains(&name) && !is_huge_page(name) {
            errors.push(FieldError::invalid_str(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native(name) && !is_extended(name) {
        errors.push(FieldError::invalid_str(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
    errors
}

/// `ValidateResourceQuotaResourceName`.
pub fn validate_quota_resource_name(name: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = validate_resource_name(name, path);
    if !(name.contains('/') || STANDARD_QUOTA_RESOURCES.contains(&name) || is_quota_huge_page(name))
    {
        errors.push(FieldError::invalid_str(
            path,
            name,
            "must be a standard resource for quota",
        ));
    }
    errors
}

/// Parses a wire quantity; unparseable ones are a decode error upstream (reported by
/// [`crate::strict::check_quantities`] before validation runs), so here they count as 0.
pub fn parse(q: &WireQuantity) -> Quantity {
    Quantity::from_wire(q).unwrap_or(Quantity::ZERO)
}

/// `ValidateResourceQuantityValue`: not negative, and whole for integer resources. The
/// bad value prints as the canonical quantity string (`%v` of a `Quantity` Stringer).
pub fn validate_quantity_value(
    resource: &str,
    value: &WireQuantity,
    path: &FieldPath,
) -> Vec<FieldError> {
    let quantity = parse(value);
    let mut errors = Vec::new();
    if quantity.nanos() < 0 {
        errors.push(FieldError::invalid_str(
            path,
            quantity.to_string(),
            crate::validation::meta::IS_NEGATIVE,
        ));
    }
    if is_integer_resource(resource) && quantity.milli_value() % 1000 != 0 {
        errors.push(
            FieldError::new(path, FieldErrorType::Invalid)
                .value_plain(quantity.to_string())
                .detail("must be an integer"),
        );
    }
    errors
}

type ResourceNameFn = fn(&str, &FieldPath) -> Vec<FieldError>;

/// `ValidateContainerResourceRequirements` (`validateResourceRequirements` with container
/// resource names); claims are checked against the pod's claim names.
pub fn validate_container_requirements(
    requirements: Option<&ResourceRequirements>,
    claim_names: &[String],
    path: &FieldPath,
) -> Vec<FieldError> {
    let Some(requirements) = requirements else {
        return Vec::new();
    };
    let mut errors = validate_requirements(
        requirements.limits.as_ref(),
        requirements.requests.as_ref(),
        validate_container_resource_name,
        path,
    );
    for (i, claim) in requirements.claims.iter().flatten().enumerate() {
        if claim.name.is_empty() {
            errors.push(FieldError::required(path.child("claims").index(i), ""));
        } else if !claim_names.contains(&claim.name) {
            let detail = if claim_names.is_empty() {
                "must be one of the names in pod.spec.resourceClaims which is empty".to_string()
            } else {
                format!(
                    "must be one of the names in pod.spec.resourceClaims: {}",
                    claim_names.join(", ")
                )
            };
            errors.push(
                FieldError::new(path.child("claims").index(i), FieldErrorType::NotFound)
                    .value_str(&claim.name)
                    .detail(detail),
            );
        }
    }
    errors
}

/// `validateResourceRequirements`: names, quantities, requests ≤ limits, hugepages rules.
pub fn validate_requirements(
    limits: Option<&BTreeMap<String, WireQuantity>>,
    requests: Option<&BTreeMap<String, WireQuantity>>,
    name_fn: ResourceNameFn,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let (limit_path, request_path) = (path.child("limits"), path.child("requests"));
    let mut has_cpu_or_memory = false;
    let mut has_huge_pages = false;
    for (name, quantity) in limits.into_iter().flatten() {
        let key_path = limit_path.key(name);
        errors.extend(name_fn(name, &key_path));
        errors.extend(validate_quantity_value(name, quantity, &key_path));
        has_huge_pages |= is_huge_page(name);
        has_cpu_or_memory |= name == "cpu" || name == "memory";
    }
    for (name, quantity) in requests.into_iter().flatten() {
        let key_path = request_path.key(name);
        errors.extend(name_fn(name, &key_path));
        errors.extend(validate_quantity_value(name, quantity, &key_path));
        errors.extend(request_within_limit(
            name,
            quantity,
            limits,
            &limit_path,
            &request_path,
        ));
        has_huge_pages |= is_huge_page(name);
        has_cpu_or_memory |= name == "cpu" || name == "memory";
    }
    if has_huge_pages && !has_cpu_or_memory {
        errors.push(FieldError::forbidden(
            path,
            "HugePages require cpu or memory",
        ));
    }
    errors
}

fn request_within_limit(
    name: &str,
    request: &WireQuantity,
    limits: Option<&BTreeMap<String, WireQuantity>>,
    limit_path: &FieldPath,
    request_path: &FieldPath,
) -> Option<FieldError> {
    let request = parse(request);
    match limits.and_then(|l| l.get(name)) {
        Some(limit) => {
            let limit = parse(limit);
            if request != limit && !is_overcommit_allowed(name) {
                Some(FieldError::invalid_str(
                    request_path,
                    request.to_string(),
                    format!("must be equal to {name} limit of {limit}"),
                ))
            } else if request > limit {
                Some(FieldError::invalid_str(
                    request_path,
                    request.to_string(),
                    format!("must be less than or equal to {name} limit of {limit}"),
                ))
            } else {
                None
            }
        }
        None if !is_overcommit_allowed(name) => Some(FieldError::required(
            limit_path,
            "Limit must be set for non overcommitable resources",
        )),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(pairs: &[(&str, &str)]) -> BTreeMap<String, WireQuantity> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), WireQuantity(v.to_string())))
            .collect()
    }

    #[test]
    fn requests_above_limits_are_rejected_with_upstream_wording() {
        let path = FieldPath::root("spec")
            .child("containers")
            .index(0)
            .child("resources");
        let errs = validate_requirements(
            Some(&list(&[("cpu", "1")])),
            Some(&list(&[("cpu", "1500m")])),
            validate_container_resource_name,
            &path,
        );
        assert_eq!(
            errs[0].to_string(),
            "spec.containers[0].resources.requests: Invalid value: \"1500m\": must be less than or equal to cpu limit of 1"
        );
    }

    #[test]
    fn negative_quantities_and_unknown_names_are_rejected() {
        let path = FieldPath::root("r");
        let errs = validate_requirements(
            None,
            Some(&list(&[("memory", "-1Gi"), ("gpu", "1")])),
            validate_container_resource_name,
            &path,
        );
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            text,
            vec![
                "r.requests[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified",
                "r.requests[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
                "r.requests[memory]: Invalid value: \"-1Gi\": must be greater than or equal to 0",
            ]
        );
    }

    #[test]
    fn quota_counts_must_be_integers() {
        let errs = validate_quantity_value(
            "count/jobs.batch",
            &WireQuantity("1500m".into()),
            &FieldPath::root("spec")
                .child("hard")
                .key("count/jobs.batch"),
        );
        assert_eq!(
            errs[0].to_string(),
            "spec.hard[count/jobs.batch]: Invalid value: 1500m: must be an integer"
        );
        assert!(validate_quota_resource_name("storage", &FieldPath::root("x")).len() == 1);
        assert!(validate_quota_resource_name("requests.storage", &FieldPath::root("x")).is_empty());
    }
}
