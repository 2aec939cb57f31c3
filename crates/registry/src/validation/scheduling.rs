//! Scheduling fields of a pod spec: upstream's `ValidateTolerations`,
//! `validateAffinity` (node affinity and pod (anti-)affinity terms),
//! `validateTopologySpreadConstraints` and the node `validateTaintEffect`.

use corral_api::{FieldError, FieldPath};
use k8s_openapi::api::core::v1::{
    Affinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PodAffinityTerm, Toleration,
    TopologySpreadConstraint,
};

use crate::names;
use crate::validation::meta::{invalid_each, validate_label_name, validate_label_selector};

/// `validateTaintEffect`.
pub fn validate_taint_effect(effect: &str, allow_empty: bool, path: &FieldPath) -> Vec<FieldError> {
    if !allow_empty && effect.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    match effect {
        "NoSchedule" | "PreferNoSchedule" | "NoExecute" => Vec::new(),
        other => vec![FieldError::not_supported(
            path,
            other,
            &["NoSchedule", "PreferNoSchedule", "NoExecute"],
        )],
    }
}

/// `ValidateTolerations`.
pub fn validate_tolerations(tolerations: &[Toleration], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, toleration) in tolerations.iter().enumerate() {
        let item = path.index(i);
        let key = toleration.key.as_deref().unwrap_or("");
        let operator = toleration.operator.as_deref().unwrap_or("");
        let effect = toleration.effect.as_deref().unwrap_or("");
        let value = toleration.value.as_deref().unwrap_or("");
        if !key.is_empty() {
            errors.extend(validate_label_name(key, &item.child("key")));
        }
        if key.is_empty() && operator != "Exists" {
            errors.push(FieldError::invalid_str(
                item.child("operator"),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if toleration.toleration_seconds.is_some() && effect != "NoExecute" {
            errors.push(FieldError::invalid_str(
                item.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "Equal" | "" => {
                let messages = names::is_valid_label_value(value);
                if !messages.is_empty() {
                    errors.push(FieldError::invalid_str(
                        item.child("operator"),
                        value,
                        messages.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errors.push(FieldError::invalid_str(
                        item.child("operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errors.push(FieldError::not_supported(
                item.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() {
            errors.extend(validate_taint_effect(effect, true, &item.child("effect")));
        }
    }
    errors
}

/// `validateAffinity`.
pub fn validate_affinity(affinity: Option<&Affinity>, path: &FieldPath) -> Vec<FieldError> {
    let Some(affinity) = affinity else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    if let Some(node) = &affinity.node_affinity {
        let node_path = path.child("nodeAffinity");
        if let Some(required) = &node.required_during_scheduling_ignored_during_execution {
            errors.extend(validate_node_selector(
                required,
                &node_path.child("requiredDuringSchedulingIgnoredDuringExecution"),
            ));
        }
        let preferred_path = node_path.child("preferredDuringSchedulingIgnoredDuringExecution");
        for (i, term) in node
            .preferred_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .enumerate()
        {
            errors.extend(weight(
                term.weight,
                &preferred_path.index(i).child("weight"),
            ));
            errors.extend(validate_node_selector_term(
                &term.preference,
                &preferred_path.index(i).child("preference"),
            ));
        }
    }
    if let Some(pod) = &affinity.pod_affinity {
        errors.extend(pod_affinity_terms(
            pod.required_during_scheduling_ignored_during_execution
                .as_deref(),
            pod.preferred_during_scheduling_ignored_during_execution
                .as_deref(),
            &path.child("podAffinity"),
        ));
    }
    if let Some(pod) = &affinity.pod_anti_affinity {
        errors.extend(pod_affinity_terms(
            pod.required_during_scheduling_ignored_during_execution
                .as_deref(),
            pod.preferred_during_scheduling_ignored_during_execution
                .as_deref(),
            &path.child("podAntiAffinity"),
        ));
    }
    errors
}

fn weight(weight: i32, path: &FieldPath) -> Vec<FieldError> {
    if (1..=100).contains(&weight) {
        Vec::new()
    } else {
        vec![FieldError::invalid_int(
            path,
            i64::from(weight),
            "must be in the range 1-100",
        )]
    }
}

/// `ValidateNodeSelector`.
pub fn validate_node_selector(selector: &NodeSelector, path: &FieldPath) -> Vec<FieldError> {
    let terms_path = path.child("nodeSelectorTerms");
    if selector.node_selector_terms.is_empty() {
        return vec![FieldError::required(
            terms_path,
            "must have at least one node selector term",
        )];
    }
    selector
        .node_selector_terms
        .iter()
        .enumerate()
        .flat_map(|(i, term)| validate_node_selector_term(term, &terms_path.index(i)))
        .collect()
}

/// `ValidateNodeSelectorTerm`.
fn validate_node_selector_term(term: &NodeSelectorTerm, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (j, requirement) in term.match_expressions.iter().flatten().enumerate() {
        errors.extend(node_selector_requirement(
            requirement,
            &path.child("matchExpressions").index(j),
        ));
    }
    for (j, requirement) in term.match_fields.iter().flatten().enumerate() {
        errors.extend(node_field_requirement(
            requirement,
            &path.child("matchFields").index(j),
        ));
    }
    errors
}

/// `ValidateNodeSelectorRequirement`.
fn node_selector_requirement(
    requirement: &NodeSelectorRequirement,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let values = requirement.values.as_deref().unwrap_or_default();
    match requirement.operator.as_str() {
        "In" | "NotIn" if values.is_empty() => errors.push(FieldError::required(
            path.child("values"),
            "must be specified when `operator` is 'In' or 'NotIn'",
        )),
        "Exists" | "DoesNotExist" if !values.is_empty() => errors.push(FieldError::forbidden(
            path.child("values"),
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        )),
        "Gt" | "Lt" if values.len() != 1 => errors.push(FieldError::required(
            path.child("values"),
            "must be specified single value when `operator` is 'Lt' or 'Gt'",
        )),
        "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => {}
        other => errors.push(FieldError::invalid_str(
            path.child("operator"),
            other,
            "not a valid selector operator",
        )),
    }
    errors.extend(validate_label_name(&requirement.key, &path.child("key")));
    for (i, value) in values.iter().enumerate() {
        errors.extend(invalid_each(
            &path.child("values").index(i),
            value,
            names::is_valid_label_value(value),
        ));
    }
    errors
}

/// `ValidateNodeFieldSelectorRequirement`: only `metadata.name` with one value.
fn node_field_requirement(
    requirement: &NodeSelectorRequirement,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let values = requirement.values.as_deref().unwrap_or_default();
    match requirement.operator.as_str() {
        "In" | "NotIn" if values.len() != 1 => errors.push(FieldError::required(
            path.child("values"),
            "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
        )),
        "In" | "NotIn" => {}
        other => errors.push(FieldError::invalid_str(
            path.child("operator"),
            other,
            "not a valid selector operator",
        )),
    }
    if requirement.key != "metadata.name" {
        errors.push(FieldError::invalid_str(
            path.child("key"),
            &requirement.key,
            "not a valid field selector key",
        ));
    } else {
        for (i, value) in values.iter().enumerate() {
            errors.extend(invalid_each(
                &path.child("values").index(i),
                value,
                names::name_is_dns_subdomain(value, false),
            ));
        }
    }
    errors
}

fn pod_affinity_terms(
    required: Option<&[PodAffinityTerm]>,
    preferred: Option<&[k8s_openapi::api::core::v1::WeightedPodAffinityTerm]>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let required_path = path.child("requiredDuringSchedulingIgnoredDuringExecution");
    for (i, term) in required.unwrap_or_default().iter().enumerate() {
        errors.extend(pod_affinity_term(term, &required_path.index(i)));
    }
    let preferred_path = path.child("preferredDuringSchedulingIgnoredDuringExecution");
    for (i, weighted) in preferred.unwrap_or_default().iter().enumerate() {
        errors.extend(weight(
            weighted.weight,
            &preferred_path.index(i).child("weight"),
        ));
        errors.extend(pod_affinity_term(
            &weighted.pod_affinity_term,
            &preferred_path.index(i).child("podAffinityTerm"),
        ));
    }
    errors
}

/// `validatePodAffinityTerm`.
fn pod_affinity_term(term: &PodAffinityTerm, path: &FieldPath) -> Vec<FieldError> {
    let mut errors =
        validate_label_selector(term.label_selector.as_ref(), &path.child("labelSelector"));
    errors.extend(validate_label_selector(
        term.namespace_selector.as_ref(),
        &path.child("namespaceSelector"),
    ));
    for namespace in term.namespaces.iter().flatten() {
        errors.extend(invalid_each(
            &path.child("namespace"),
            namespace,
            names::name_is_dns_label(namespace, false),
        ));
    }
    if term.topology_key.is_empty() {
        errors.push(FieldError::required(
            path.child("topologyKey"),
            "can not be empty",
        ));
    }
    errors.extend(validate_label_name(
        &term.topology_key,
        &path.child("topologyKey"),
    ));
    errors
}

/// `validateTopologySpreadConstraints`.
pub fn validate_topology_spread(
    constraints: &[TopologySpreadConstraint],
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, constraint) in constraints.iter().enumerate() {
        let item = path.index(i);
        if constraint.max_skew <= 0 {
            errors.push(FieldError::invalid_int(
                item.child("maxSkew"),
                i64::from(constraint.max_skew),
                "must be greater than zero",
            ));
        }
        if constraint.topology_key.is_empty() {
            errors.push(FieldError::required(
                item.child("topologyKey"),
                "can not be empty",
            ));
        }
        let action = constraint.when_unsatisfiable.as_str();
        if action != "DoNotSchedule" && action != "ScheduleAnyway" {
            errors.push(FieldError::not_supported(
                item.child("whenUnsatisfiable"),
                action,
                &["DoNotSchedule", "ScheduleAnyway"],
            ));
        }
        let repeated = constraints[i + 1..].iter().any(|other| {
            other.topology_key == constraint.topology_key
                && other.when_unsatisfiable == constraint.when_unsatisfiable
        });
        if repeated {
            errors.push(FieldError::duplicate_str(
                item.child("{topologyKey, whenUnsatisfiable}"),
                format!("{{{}, {}}}", constraint.topology_key, action),
            ));
        }
        if let Some(min_domains) = constraint.min_domains {
            if min_domains <= 0 {
                errors.push(FieldError::invalid_int(
                    item.child("minDomains"),
                    i64::from(min_domains),
                    "must be greater than zero",
                ));
            }
            if action != "DoNotSchedule" {
                errors.push(FieldError::invalid_int(
                    item.child("minDomains"),
                    i64::from(min_domains),
                    format!(
                        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}"
                    ),
                ));
            }
        }
        errors.extend(validate_label_selector(
            constraint.label_selector.as_ref(),
            &item.child("labelSelector"),
        ));
    }
    errors
}
