//! Job pod failure and success policies: upstream's `validatePodFailurePolicy`,
//! `validatePodFailurePolicyRule*` and `validateSuccessPolicy`, plus the
//! `validateIndexesFormat` parser they share with the status checks.

use std::collections::BTreeSet;

use corral_api::{FieldError, FieldErrorType, FieldPath};
use k8s_openapi::api::batch::v1::{
    JobSpec, PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyOnPodConditionsPattern,
    PodFailurePolicyRule, SuccessPolicyRule,
};

use crate::gofmt;
use crate::names;
use crate::validation::meta::{invalid_each, nonnegative};

const MAX_POD_FAILURE_POLICY_RULES: usize = 20;
const MAX_EXIT_CODE_VALUES: usize = 255;
const MAX_POD_CONDITION_PATTERNS: usize = 20;
const MAX_SUCCESS_POLICY_RULES: usize = 20;
const MAX_SUCCEEDED_INDEXES_LENGTH: usize = 64 * 1024;

const ACTIONS: &[&str] = &["Count", "FailIndex", "FailJob", "Ignore"];
const OPERATORS: &[&str] = &["In", "NotIn"];
const STATUSES: &[&str] = &["False", "True", "Unknown"];

/// `field.TooMany(path, actual, max)`.
pub fn too_many(path: &FieldPath, actual: usize, max: usize) -> FieldError {
    let unit = if max == 1 { "item" } else { "items" };
    FieldError::new(path, FieldErrorType::TooMany)
        .value_int(i64::try_from(actual).unwrap_or(i64::MAX))
        .detail(format!("must have at most {max} {unit}"))
}

/// Go's `%q` of a `[]string`: `["a" "b"]`.
fn quoted_list(values: &[&str]) -> String {
    let quoted: Vec<String> = values
        .iter()
        .map(|v| corral_api::validation::go_quote(v))
        .collect();
    format!("[{}]", quoted.join(" "))
}

/// `validatePodFailurePolicy`.
pub fn validate_pod_failure_policy(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let Some(policy) = &spec.pod_failure_policy else {
        return Vec::new();
    };
    let rules_path = path.child("rules");
    let mut errors = Vec::new();
    if policy.rules.len() > MAX_POD_FAILURE_POLICY_RULES {
        errors.push(too_many(
            &rules_path,
            policy.rules.len(),
            MAX_POD_FAILURE_POLICY_RULES,
        ));
    }
    let pod_spec = spec.template.spec.clone().unwrap_or_default();
    let container_names: BTreeSet<String> = pod_spec
        .containers
        .iter()
        .chain(pod_spec.init_containers.iter().flatten())
        .map(|c| c.name.clone())
        .collect();
    for (i, rule) in policy.rules.iter().enumerate() {
        errors.extend(validate_rule(
            spec,
            rule,
            &rules_path.index(i),
            &container_names,
        ));
    }
    errors
}

/// `validatePodFailurePolicyRule`.
fn validate_rule(
    spec: &JobSpec,
    rule: &PodFailurePolicyRule,
    path: &FieldPath,
    containers: &BTreeSet<String>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let action_path = path.child("action");
    match rule.action.as_str() {
        "" => errors.push(FieldError::required(
            &action_path,
            format!("valid values: {}", quoted_list(ACTIONS)),
        )),
        "FailIndex" if spec.backoff_limit_per_index.is_none() => {
            errors.push(FieldError::invalid_str(
                &action_path,
                "FailIndex",
                "requires the backoffLimitPerIndex to be set",
            ));
        }
        action if !ACTIONS.contains(&action) => {
            errors.push(FieldError::not_supported(&action_path, action, ACTIONS))
        }
        _ => {}
    }
    if let Some(on_exit_codes) = &rule.on_exit_codes {
        errors.extend(validate_on_exit_codes(
            on_exit_codes,
            &path.child("onExitCodes"),
            containers,
        ));
    }
    let patterns = rule.on_pod_conditions.as_deref().unwrap_or_default();
    if !patterns.is_empty() {
        errors.extend(validate_on_pod_conditions(
            patterns,
            &path.child("onPodConditions"),
        ));
    }
    let rule_error = |detail: &str| FieldError::new(path, FieldErrorType::Invalid).detail(detail);
    if rule.on_exit_codes.is_some() && !patterns.is_empty() {
        errors.push(rule_error(
            "specifying both OnExitCodes and OnPodConditions is not supported",
        ));
    }
    if rule.on_exit_codes.is_none() && patterns.is_empty() {
        errors.push(rule_error(
            "specifying one of OnExitCodes and OnPodConditions is required",
        ));
    }
    errors
}

/// `validatePodFailurePolicyRuleOnExitCodes`.
fn validate_on_exit_codes(
    requirement: &PodFailurePolicyOnExitCodesRequirement,
    path: &FieldPath,
    containers: &BTreeSet<String>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let operator_path = path.child("operator");
    match requirement.operator.as_str() {
        "" => errors.push(FieldError::required(
            &operator_path,
            format!("valid values: {}", quoted_list(OPERATORS)),
        )),
        op if !OPERATORS.contains(&op) => {
            errors.push(FieldError::not_supported(&operator_path, op, OPERATORS))
        }
        _ => {}
    }
    if let Some(name) = requirement.container_name.as_deref()
        && !containers.contains(name)
    {
        errors.push(FieldError::invalid_str(
            path.child("containerName"),
            name,
            "must be one of the container or initContainer names in the pod template",
        ));
    }
    let values_path = path.child("values");
    let values = &requirement.values;
    let rendered = gofmt::int32_slice(values);
    if values.is_empty() {
        errors.push(
            FieldError::new(&values_path, FieldErrorType::Invalid)
                .value_plain("[]int32(nil)")
                .detail("at least one value is required"),
        );
    } else if values.len() > MAX_EXIT_CODE_VALUES {
        errors.push(too_many(&values_path, values.len(), MAX_EXIT_CODE_VALUES));
    }
    let mut seen = BTreeSet::new();
    let mut ordered = true;
    for (j, value) in values.iter().enumerate() {
        let value_path = values_path.index(j);
        if requirement.operator == "In" && *value == 0 {
            errors.push(FieldError::invalid_int(
                &value_path,
                0,
                "must not be 0 for the In operator",
            ));
        }
        if !seen.insert(*value) {
            errors.push(
                FieldError::new(&value_path, FieldErrorType::Duplicate)
                    .value_int(i64::from(*value)),
            );
        }
        if j > 0 && values[j - 1] > *value {
            ordered = false;
        }
    }
    if !ordered {
        errors.push(
            FieldError::new(&values_path, FieldErrorType::Invalid)
                .value_plain(rendered)
                .detail("must be ordered"),
        );
    }
    errors
}

/// `validatePodFailurePolicyRuleOnPodConditions`.
fn validate_on_pod_conditions(
    patterns: &[PodFailurePolicyOnPodConditionsPattern],
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if patterns.len() > MAX_POD_CONDITION_PATTERNS {
        errors.push(too_many(path, patterns.len(), MAX_POD_CONDITION_PATTERNS));
    }
    for (j, pattern) in patterns.iter().enumerate() {
        let pattern_path = path.index(j);
        errors.extend(invalid_each(
            &pattern_path.child("type"),
            &pattern.type_,
            names::is_qualified_name(&pattern.type_),
        ));
        let status_path = pattern_path.child("status");
        match pattern.status.as_deref().unwrap_or("") {
            "" => errors.push(FieldError::required(
                &status_path,
                format!("valid values: {}", quoted_list(STATUSES)),
            )),
            status if !STATUSES.contains(&status) => {
                errors.push(FieldError::not_supported(&status_path, status, STATUSES))
            }
            _ => {}
        }
    }
    errors
}

/// `validateSuccessPolicy`.
pub fn validate_success_policy(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let Some(policy) = &spec.success_policy else {
        return Vec::new();
    };
    let rules_path = path.child("rules");
    let mut errors = Vec::new();
    if policy.rules.is_empty() {
        errors.push(FieldError::required(
            &rules_path,
            "at least one rules must be specified when the successPolicy is specified",
        ));
    }
    if policy.rules.len() > MAX_SUCCESS_POLICY_RULES {
        errors.push(too_many(
            &rules_path,
            policy.rules.len(),
            MAX_SUCCESS_POLICY_RULES,
        ));
    }
    let completions = spec.completions.unwrap_or(0);
    for (i, rule) in policy.rules.iter().enumerate() {
        errors.extend(validate_success_rule(
            rule,
            completions,
            &rules_path.index(i),
        ));
    }
    errors
}

/// `validateSuccessPolicyRule`.
fn validate_success_rule(
    rule: &SuccessPolicyRule,
    completions: i32,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if rule.succeeded_count.is_none() && rule.succeeded_indexes.is_none() {
        errors.push(FieldError::required(
            path,
            "at least one of succeededCount or succeededIndexes must be specified",
        ));
    }
    let mut total_indexes = 0;
    if let Some(indexes) = &rule.succeeded_indexes {
        let indexes_path = path.child("succeededIndexes");
        if indexes.len() > MAX_SUCCEEDED_INDEXES_LENGTH {
            errors.push(FieldError::too_long(
                &indexes_path,
                MAX_SUCCEEDED_INDEXES_LENGTH,
            ));
        }
        match validate_indexes_format(indexes, completions) {
            Ok(total) => total_indexes = total,
            Err(message) => errors.push(FieldError::invalid_str(
                &indexes_path,
                indexes,
                format!("error parsing succeededIndexes: {message}"),
            )),
        }
    }
    if let Some(count) = rule.succeeded_count {
        let count_path = path.child("succeededCount");
        errors.extend(nonnegative(i64::from(count), &count_path));
        if count > completions {
            errors.push(FieldError::invalid_int(
                &count_path,
                i64::from(count),
                format!("must be less than or equal to {completions} (the number of specified completions)"),
            ));
        }
        if rule.succeeded_indexes.is_some() && count > total_indexes {
            errors.push(FieldError::invalid_int(
                &count_path,
                i64::from(count),
                format!("must be less than or equal to {total_indexes} (the number of indexes in the specified succeededIndexes field)"),
            ));
        }
    }
    errors
}

/// `validateIndexesFormat`: `1,3-5,7`, increasing, below `completions`; returns the count.
pub fn validate_indexes_format(indexes: &str, completions: i32) -> Result<i32, String> {
    if indexes.is_empty() {
        return Ok(0);
    }
    let mut last: Option<i32> = None;
    let mut total: i32 = 0;
    for interval in indexes.split(',') {
        let (x, y) = parse_index_interval(interval, completions)?;
        if let Some(previous) = last.filter(|l| *l >= x) {
            return Err(format!(
                "non-increasing order, previous: {previous}, current: {x}"
            ));
        }
        total = total.saturating_add(y - x + 1);
        last = Some(y);
    }
    Ok(total)
}

/// `parseIndexInterval`.
fn parse_index_interval(interval: &str, completions: i32) -> Result<(i32, i32), String> {
    let limits: Vec<&str> = interval.split('-').collect();
    if limits.len() > 2 {
        return Err(format!(
            "the fragment {} violates the requirement that an index interval can have at most two parts separated by '-'",
            corral_api::validation::go_quote(interval)
        ));
    }
    let parse = |text: &str| -> Result<i32, String> {
        let value: i64 = text.parse().map_err(|_| {
            format!(
                "cannot convert string to integer for index: {}",
                corral_api::validation::go_quote(text)
            )
        })?;
        if value >= i64::from(completions) {
            return Err(format!(
                "too large index: {}",
                corral_api::validation::go_quote(text)
            ));
        }
        i32::try_from(value).map_err(|_| {
            format!(
                "cannot convert string to integer for index: {}",
                corral_api::validation::go_quote(text)
            )
        })
    };
    let x = parse(limits[0])?;
    if let Some(second) = limits.get(1) {
        let y = parse(second)?;
        if x >= y {
            return Err(format!("non-increasing order, previous: {x}, current: {y}"));
        }
        return Ok((x, y));
    }
    Ok((x, x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lists_parse_like_upstream() {
        assert_eq!(validate_indexes_format("0,2-4,6", 10), Ok(5));
        assert_eq!(
            validate_indexes_format("3,1", 10),
            Err("non-increasing order, previous: 3, current: 1".into())
        );
        assert_eq!(
            validate_indexes_format("1-2-3", 10).unwrap_err(),
            "the fragment \"1-2-3\" violates the requirement that an index interval can have at most two parts separated by '-'"
        );
        assert_eq!(
            validate_indexes_format("12", 10),
            Err("too large index: \"12\"".into())
        );
        assert_eq!(
            validate_indexes_format("a", 10),
            Err("cannot convert string to integer for index: \"a\"".into())
        );
    }
}
