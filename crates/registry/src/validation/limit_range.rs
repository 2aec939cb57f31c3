//! One `LimitRangeItem`: upstream's per-item loop of `ValidateLimitRange` (type names,
//! resource names, and the min ≤ default request ≤ default ≤ max ordering).

use std::collections::{BTreeMap, BTreeSet};

use corral_api::{FieldError, FieldErrorType, FieldPath, Quantity};
use k8s_openapi::api::core::v1::LimitRangeItem;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;

use crate::names;
use crate::validation::meta::invalid_each;
use crate::validation::resources::{
    is_overcommit_allowed, parse, validate_container_resource_name, validate_resource_name,
};

/// `validateLimitRangeTypeName`.
fn validate_type_name(value: &str, path: &FieldPath) -> Vec<FieldError> {
    let errors = invalid_each(path, value, names::is_qualified_name(value));
    if !errors.is_empty() {
        return errors;
    }
    if !value.contains('/') && !["Pod", "Container", "PersistentVolumeClaim"].contains(&value) {
        return vec![FieldError::invalid_str(
            path,
            value,
            "must be a standard limit type or fully qualified",
        )];
    }
    errors
}

/// `validateLimitRangeResourceName`.
fn validate_name(limit_type: &str, name: &str, path: &FieldPath) -> Vec<FieldError> {
    match limit_type {
        "Pod" | "Container" => validate_container_resource_name(name, path),
        _ => validate_resource_name(name, path),
    }
}

fn invalid_quantity(path: FieldPath, value: Quantity, detail: String) -> FieldError {
    FieldError::new(path, FieldErrorType::Invalid)
        .value_plain(value.to_string())
        .detail(detail)
}

/// The quantities of one item, by resource name.
#[derive(Default)]
struct Bounds {
    min: BTreeMap<String, Quantity>,
    max: BTreeMap<String, Quantity>,
    defaults: BTreeMap<String, Quantity>,
    requests: BTreeMap<String, Quantity>,
    ratios: BTreeMap<String, Quantity>,
}

/// Validates one item; `types` collects the types seen so far for the duplicate check.
pub fn validate_item(
    item: &LimitRangeItem,
    path: &FieldPath,
    types: &mut BTreeSet<String>,
) -> Vec<FieldError> {
    let mut errors = validate_type_name(&item.type_, &path.child("type"));
    if !types.insert(item.type_.clone()) {
        errors.push(FieldError::duplicate_str(path.child("type"), &item.type_));
    }
    let bounds = read_bounds(item, path, &mut errors);
    if item.type_ == "PersistentVolumeClaim"
        && !bounds.min.contains_key("storage")
        && !bounds.max.contains_key("storage")
    {
        errors.push(FieldError::required(
            path.child("limits"),
            "either minimum or maximum storage value is required, but neither was provided",
        ));
    }
    let keys: BTreeSet<&String> = [
        &bounds.max,
        &bounds.min,
        &bounds.defaults,
        &bounds.requests,
        &bounds.ratios,
    ]
    .into_iter()
    .flat_map(|m| m.keys())
    .collect();
    for key in keys {
        errors.extend(check_requests(key, &bounds, path));
        errors.extend(check_defaults(key, &bounds, path));
    }
    errors
}

/// Parses the item's lists (checking resource names); a Pod item may not have defaults.
fn read_bounds(item: &LimitRangeItem, path: &FieldPath, errors: &mut Vec<FieldError>) -> Bounds {
    let read = |list: &Option<BTreeMap<String, WireQuantity>>,
                name: &str,
                errors: &mut Vec<FieldError>| {
        let mut out = BTreeMap::new();
        for (key, quantity) in list.iter().flatten() {
            errors.extend(validate_name(&item.type_, key, &path.child(name).key(key)));
            out.insert(key.clone(), parse(quantity));
        }
        out
    };
    let mut bounds = Bounds {
        max: read(&item.max, "max", errors),
        min: read(&item.min, "min", errors),
        ..Bounds::default()
    };
    if item.type_ == "Pod" {
        for (list, name) in [
            (&item.default, "default"),
            (&item.default_request, "defaultRequest"),
        ] {
            if list.as_ref().is_some_and(|d| !d.is_empty()) {
                errors.push(FieldError::forbidden(
                    path.child(name),
                    "may not be specified when `type` is 'Pod'",
                ));
            }
        }
    } else {
        bounds.defaults = read(&item.default, "default", errors);
        bounds.requests = read(&item.default_request, "defaultRequest", errors);
    }
    bounds.ratios = read(
        &item.max_limit_request_ratio,
        "maxLimitRequestRatio",
        errors,
    );
    bounds
}

/// min ≤ max, and min ≤ default request ≤ max and ≤ default limit.
fn check_requests(key: &str, bounds: &Bounds, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let (lo, hi, def) = (
        bounds.min.get(key),
        bounds.max.get(key),
        bounds.defaults.get(key),
    );
    if let (Some(lo), Some(hi)) = (lo, hi)
        && lo > hi
    {
        errors.push(invalid_quantity(
            path.child("min").key(key),
            *lo,
            format!("min value {lo} is greater than max value {hi}"),
        ));
    }
    let Some(req) = bounds.requests.get(key) else {
        return errors;
    };
    let request_path = || path.child("defaultRequest").key(key);
    if let Some(lo) = lo.filter(|lo| *lo > req) {
        errors.push(invalid_quantity(
            request_path(),
            *req,
            format!("min value {lo} is greater than default request value {req}"),
        ));
    }
    if let Some(hi) = hi.filter(|hi| req > *hi) {
        errors.push(invalid_quantity(
            request_path(),
            *req,
            format!("default request value {req} is greater than max value {hi}"),
        ));
    }
    if let Some(def) = def.filter(|def| req > *def) {
        errors.push(invalid_quantity(
            request_path(),
            *req,
            format!("default request value {req} is greater than default limit value {def}"),
        ));
    }
    errors
}

/// min ≤ default limit ≤ max, ratio ≥ 1, and no overcommit for non-overcommitable resources.
fn check_defaults(key: &str, bounds: &Bounds, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let (lo, hi) = (bounds.min.get(key), bounds.max.get(key));
    let (def, req, ratio) = (
        bounds.defaults.get(key),
        bounds.requests.get(key),
        bounds.ratios.get(key),
    );
    if let Some(def) = def {
        if let Some(lo) = lo.filter(|lo| *lo > def) {
            errors.push(invalid_quantity(
                path.child("default").key(key),
                *lo,
                format!("min value {lo} is greater than default value {def}"),
            ));
        }
        if let Some(hi) = hi.filter(|hi| def > *hi) {
            errors.push(invalid_quantity(
                path.child("default").key(key),
                *hi,
                format!("default value {def} is greater than max value {hi}"),
            ));
        }
    }
    if let Some(ratio) = ratio
        && *ratio < Quantity::from_milli(1000)
    {
        errors.push(invalid_quantity(
            path.child("maxLimitRequestRatio").key(key),
            *ratio,
            format!("ratio {ratio} is less than 1"),
        ));
    }
    if let (Some(def), Some(req)) = (def, req)
        && !is_overcommit_allowed(key)
        && def != req
    {
        errors.push(invalid_quantity(
            path.child("defaultRequest").key(key),
            *req,
            format!("default value {def} must equal to defaultRequest value {req} in {key}"),
        ));
    }
    errors
}
