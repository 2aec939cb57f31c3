//! Object metadata rules: upstream's `ValidateObjectMeta`/`ValidateObjectMetaUpdate`
//! (`staging/src/k8s.io/apimachinery/pkg/api/validation/objectmeta.go` plus the core
//! wrapper in `pkg/apis/core/validation/validation.go` that also checks legacy
//! finalizer names), labels (`meta/v1/validation.ValidateLabels`), label selectors and
//! the small shared helpers (`ValidateNonnegativeField`, `ValidateImmutableField`).

use std::collections::BTreeMap;

use corral_api::{FieldError, FieldErrorType, FieldPath};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ManagedFieldsEntry, ObjectMeta, OwnerReference,
};

use crate::gofmt;
use crate::names::{self, NameFn};
pub use crate::validation::compare::{
    immutable_error, immutable_json, immutable_opt_int, immutable_opt_str, immutable_str,
    normalize, opt_i64, semantic_eq,
};

/// `apimachineryvalidation.FieldImmutableErrorMsg`.
pub const FIELD_IMMUTABLE: &str = "field is immutable";
/// `IsNegativeErrorMsg`.
pub const IS_NEGATIVE: &str = "must be greater than or equal to 0";
/// `TotalAnnotationSizeLimitB`: 256 KiB over all keys and values.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Which finalizer-name rules apply: core kinds also reject unqualified names other than
/// the standard ones (`kubernetes`, `orphan`, `foregroundDeletion`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinalizerRules {
    Generic,
    Core,
}

/// `ValidateNonnegativeField`.
pub fn nonnegative(value: i64, path: &FieldPath) -> Vec<FieldError> {
    if value < 0 {
        vec![FieldError::invalid_int(path, value, IS_NEGATIVE)]
    } else {
        Vec::new()
    }
}

/// `field.Invalid(path, value, msg)` for every message of a string check.
pub fn invalid_each(path: &FieldPath, value: &str, messages: Vec<String>) -> Vec<FieldError> {
    messages
        .into_iter()
        .map(|msg| FieldError::invalid_str(path, value, msg))
        .collect()
}

/// `ValidateObjectMeta` for a create (name generation already done by the caller).
pub fn validate_object_meta(
    meta: &ObjectMeta,
    requires_namespace: bool,
    name_fn: NameFn,
    rules: FinalizerRules,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(generate_name) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        errors.extend(invalid_each(
            &path.child("generateName"),
            generate_name,
            name_fn(generate_name, true),
        ));
    }
    match meta.name.as_deref().filter(|n| !n.is_empty()) {
        None => errors.push(FieldError::required(
            path.child("name"),
            "name or generateName is required",
        )),
        Some(name) => errors.extend(invalid_each(
            &path.child("name"),
            name,
            name_fn(name, false),
        )),
    }
    errors.extend(validate_namespace_field(meta, requires_namespace, path));
    errors.extend(nonnegative(
        meta.generation.unwrap_or(0),
        &path.child("generation"),
    ));
    errors.extend(validate_labels(meta.labels.as_ref(), &path.child("labels")));
    errors.extend(validate_annotations(
        meta.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errors.extend(validate_owner_references(
        meta.owner_references.as_deref().unwrap_or_default(),
        &path.child("ownerReferences"),
    ));
    errors.extend(validate_finalizers(
        meta.finalizers.as_deref().unwrap_or_default(),
        &path.child("finalizers"),
    ));
    errors.extend(validate_managed_fields(
        meta.managed_fields.as_deref().unwrap_or_default(),
        &path.child("managedFields"),
    ));
    if rules == FinalizerRules::Core {
        errors.extend(validate_kube_finalizers(meta, path));
    }
    errors
}

fn validate_namespace_field(
    meta: &ObjectMeta,
    requires_namespace: bool,
    path: &FieldPath,
) -> Vec<FieldError> {
    let namespace = meta.namespace.as_deref().unwrap_or("");
    match (requires_namespace, namespace.is_empty()) {
        (true, true) => vec![FieldError::required(path.child("namespace"), "")],
        (true, false) => invalid_each(
            &path.child("namespace"),
            namespace,
            names::name_is_dns_label(namespace, false),
        ),
        (false, false) => vec![FieldError::forbidden(
            path.child("namespace"),
            "not allowed on this type",
        )],
        (false, true) => Vec::new(),
    }
}

/// The core wrapper's `validateKubeFinalizerName` for every finalizer.
fn validate_kube_finalizers(meta: &ObjectMeta, path: &FieldPath) -> Vec<FieldError> {
    let finalizers = meta.finalizers.as_deref().unwrap_or_default();
    finalizers
        .iter()
        .enumerate()
        .filter_map(|(i, f)| kube_finalizer_name(f, &path.child("finalizers").index(i)))
        .collect()
}

/// `validateKubeFinalizerName`.
pub fn kube_finalizer_name(value: &str, path: &FieldPath) -> Option<FieldError> {
    let standard = ["kubernetes", "orphan", "foregroundDeletion"];
    if !value.contains('/') && !standard.contains(&value) {
        return Some(FieldError::invalid_str(
            path,
            value,
            "name is neither a standard finalizer name nor is it fully qualified",
        ));
    }
    None
}

/// `ValidateFinalizers`: qualified names, and not both `orphan` and `foregroundDeletion`.
pub fn validate_finalizers(finalizers: &[String], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for finalizer in finalizers {
        errors.extend(invalid_each(
            path,
            finalizer,
            names::is_qualified_name(finalizer),
        ));
    }
    let has = |f: &str| finalizers.iter().any(|x| x == f);
    if has("orphan") && has("foregroundDeletion") {
        errors.push(
            FieldError::new(path, FieldErrorType::Invalid)
                .value_plain(gofmt::string_slice("string", Some(finalizers)))
                .detail("finalizer orphan and foregroundDeletion cannot be both set"),
        );
    }
    errors
}

/// `ValidateLabels`: every key a qualified name, every value a label value; errors are
/// reported at the map's path, not per key, as upstream does.
pub fn validate_labels(
    labels: Option<&BTreeMap<String, String>>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (key, value) in labels.into_iter().flatten() {
        errors.extend(invalid_each(path, key, names::is_qualified_name(key)));
        errors.extend(invalid_each(
            path,
            value,
            names::is_valid_label_value(value),
        ));
    }
    errors
}

/// `ValidateLabelName`.
pub fn validate_label_name(key: &str, path: &FieldPath) -> Vec<FieldError> {
    invalid_each(path, key, names::is_qualified_name(key))
}

/// `ValidateAnnotations`: keys are qualified names (case-insensitive) and the total size
/// of keys and values is at most 256 KiB.
pub fn validate_annotations(
    annotations: Option<&BTreeMap<String, String>>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut total = 0usize;
    for (key, value) in annotations.into_iter().flatten() {
        errors.extend(invalid_each(
            path,
            key,
            names::is_qualified_name(&key.to_lowercase()),
        ));
        total = total.saturating_add(key.len()).saturating_add(value.len());
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errors.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errors
}

/// `ValidateOwnerReferences`.
pub fn validate_owner_references(
    references: &[OwnerReference],
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut first_controller: Option<String> = None;
    for reference in references {
        errors.extend(validate_owner_reference(reference, path));
        if reference.controller == Some(true) {
            let current = format!("{}/{}", reference.kind, reference.name);
            match &first_controller {
                Some(first) => errors.push(
                    FieldError::new(path, FieldErrorType::Invalid)
                        .value_plain(gofmt::json(&references))
                        .detail(format!(
                            "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                        )),
                ),
                None => first_controller = Some(current),
            }
        }
    }
    errors
}

fn validate_owner_reference(reference: &OwnerReference, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let version = reference.api_version.rsplit('/').next().unwrap_or("");
    if reference.api_version.is_empty() || version.is_empty() {
        errors.push(FieldError::invalid_str(
            path.child("apiVersion"),
            &reference.api_version,
            "version must not be empty",
        ));
    }
    if reference.kind.is_empty() {
        errors.push(FieldError::invalid_str(
            path.child("kind"),
            "",
            "kind must not be empty",
        ));
    }
    if reference.name.is_empty() {
        errors.push(FieldError::invalid_str(
            path.child("name"),
            "",
            "name must not be empty",
        ));
    }
    if reference.uid.is_empty() {
        errors.push(FieldError::invalid_str(
            path.child("uid"),
            "",
            "uid must not be empty",
        ));
    }
    if reference.api_version == "v1" && reference.kind == "Event" {
        errors.push(
            FieldError::new(path, FieldErrorType::Invalid)
                .value_plain(gofmt::json(reference))
                .detail("/v1, Kind=Event is disallowed from being an owner"),
        );
    }
    errors
}

/// `ValidateManagedFields` (operation, fieldsType, manager and subresource lengths).
fn validate_managed_fields(entries: &[ManagedFieldsEntry], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let entry_path = path.index(i);
        let operation = entry.operation.as_deref().unwrap_or("");
        if operation != "Apply" && operation != "Update" {
            errors.push(FieldError::invalid_str(
                entry_path.child("operation"),
                operation,
                "must be `Apply` or `Update`",
            ));
        }
        let fields_type = entry.fields_type.as_deref().unwrap_or("");
        if !fields_type.is_empty() && fields_type != "FieldsV1" {
            errors.push(FieldError::invalid_str(
                entry_path.child("fieldsType"),
                fields_type,
                "must be `FieldsV1`",
            ));
        }
        let manager = entry.manager.as_deref().unwrap_or("");
        if manager.len() > 128 {
            errors.push(FieldError::too_long(entry_path.child("manager"), 128));
        }
        if entry.subresource.as_deref().unwrap_or("").len() > 256 {
            errors.push(FieldError::too_long(entry_path.child("subresource"), 256));
        }
    }
    errors
}

/// `ValidateObjectMetaUpdate` (plus the core wrapper's finalizer-name check).
pub fn validate_object_meta_update(
    new: &ObjectMeta,
    old: &ObjectMeta,
    rules: FinalizerRules,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if old.deletion_timestamp.is_some() {
        errors.extend(no_new_finalizers(new, old, &path.child("finalizers")));
    }
    if new.resource_version.as_deref().unwrap_or("").is_empty() {
        errors.push(FieldError::invalid_str(
            path.child("resourceVersion"),
            "",
            "must be specified for an update",
        ));
    }
    let (new_generation, old_generation) =
        (new.generation.unwrap_or(0), old.generation.unwrap_or(0));
    if new_generation < old_generation {
        errors.push(FieldError::invalid_int(
            path.child("generation"),
            new_generation,
            "must not be decremented",
        ));
    }
    errors.extend(identity_unchanged(new, old, path));
    errors.extend(validate_labels(new.labels.as_ref(), &path.child("labels")));
    errors.extend(validate_annotations(
        new.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errors.extend(validate_owner_references(
        new.owner_references.as_deref().unwrap_or_default(),
        &path.child("ownerReferences"),
    ));
    errors.extend(validate_managed_fields(
        new.managed_fields.as_deref().unwrap_or_default(),
        &path.child("managedFields"),
    ));
    if rules == FinalizerRules::Core {
        errors.extend(validate_kube_finalizers(new, path));
    }
    errors
}

/// The identity and lifecycle fields an update may not change.
fn identity_unchanged(new: &ObjectMeta, old: &ObjectMeta, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    errors.extend(immutable_str(
        new.name.as_deref(),
        old.name.as_deref(),
        &path.child("name"),
    ));
    errors.extend(immutable_str(
        new.namespace.as_deref(),
        old.namespace.as_deref(),
        &path.child("namespace"),
    ));
    errors.extend(immutable_str(
        new.uid.as_deref(),
        old.uid.as_deref(),
        &path.child("uid"),
    ));
    errors.extend(immutable_json(
        &new.creation_timestamp,
        &old.creation_timestamp,
        &path.child("creationTimestamp"),
    ));
    errors.extend(immutable_json(
        &new.deletion_timestamp,
        &old.deletion_timestamp,
        &path.child("deletionTimestamp"),
    ));
    if new.deletion_grace_period_seconds != old.deletion_grace_period_seconds {
        errors.push(immutable_error(
            &path.child("deletionGracePeriodSeconds"),
            opt_i64(new.deletion_grace_period_seconds),
        ));
    }
    errors
}

/// `ValidateNoNewFinalizers`.
fn no_new_finalizers(new: &ObjectMeta, old: &ObjectMeta, path: &FieldPath) -> Vec<FieldError> {
    let old_set: Vec<&String> = old.finalizers.iter().flatten().collect();
    let mut extra: Vec<String> = new
        .finalizers
        .iter()
        .flatten()
        .filter(|f| !old_set.contains(f))
        .cloned()
        .collect();
    extra.sort();
    extra.dedup();
    if extra.is_empty() {
        return Vec::new();
    }
    vec![FieldError::forbidden(
        path,
        format!(
            "no new finalizers can be added if the object is being deleted, found new finalizers {}",
            gofmt::string_slice("string", Some(&extra))
        ),
    )]
}

/// `ValidateLabelSelector` with `AllowInvalidLabelValueInSelector: false`.
pub fn validate_label_selector(
    selector: Option<&LabelSelector>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let Some(selector) = selector else {
        return Vec::new();
    };
    let mut errors = validate_labels(selector.match_labels.as_ref(), &path.child("matchLabels"));
    for (i, requirement) in selector.match_expressions.iter().flatten().enumerate() {
        let req_path = path.child("matchExpressions").index(i);
        let values = requirement.values.as_deref().unwrap_or_default();
        match requirement.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errors.push(FieldError::required(
                req_path.child("values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errors.push(FieldError::forbidden(
                req_path.child("values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errors.push(FieldError::invalid_str(
                req_path.child("operator"),
                other,
                "not a valid selector operator",
            )),
        }
        errors.extend(validate_label_name(
            &requirement.key,
            &req_path.child("key"),
        ));
        for (j, value) in values.iter().enumerate() {
            errors.extend(invalid_each(
                &req_path.child("values").index(j),
                value,
                names::is_valid_label_value(value),
            ));
        }
    }
    errors
}

/// Whether a selector matches a label set (`metav1.LabelSelectorAsSelector` + `Matches`);
/// `None` when the selector does not convert (upstream then skips the check).
pub fn selector_matches(
    selector: Option<&LabelSelector>,
    labels: Option<&BTreeMap<String, String>>,
) -> Option<bool> {
    let selector = corral_api::LabelSelector::from_k8s(selector).ok()?;
    Some(selector.matches_opt(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..ObjectMeta::default()
        }
    }

    fn render(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn missing_name_is_required_unless_generated() {
        let mut m = meta("");
        m.name = None;
        let errs = validate_object_meta(
            &m,
            true,
            names::name_is_dns_subdomain,
            FinalizerRules::Core,
            &FieldPath::root("metadata"),
        );
        assert_eq!(
            render(&errs),
            vec!["metadata.name: Required value: name or generateName is required"]
        );
    }

    #[test]
    fn namespace_rules_follow_scope() {
        let errs = validate_object_meta(
            &meta("a"),
            false,
            names::name_is_dns_subdomain,
            FinalizerRules::Core,
            &FieldPath::root("metadata"),
        );
        assert_eq!(
            render(&errs),
            vec!["metadata.namespace: Forbidden: not allowed on this type"]
        );
    }

    #[test]
    fn bad_labels_and_finalizers_are_reported_at_upstream_paths() {
        let mut m = meta("a");
        m.labels = Some([("bad key".to_string(), "v".to_string())].into());
        m.finalizers = Some(vec!["custom".into()]);
        let errs = render(&validate_object_meta(
            &m,
            true,
            names::name_is_dns_subdomain,
            FinalizerRules::Core,
            &FieldPath::root("metadata"),
        ));
        assert!(
            errs[0].starts_with(
                "metadata.labels: Invalid value: \"bad key\": name part must consist of"
            )
        );
        assert_eq!(
            errs[1],
            "metadata.finalizers[0]: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified"
        );
    }

    #[test]
    fn annotations_over_256_kib_are_too_long() {
        let mut m = meta("a");
        m.annotations = Some([("k".to_string(), "v".repeat(TOTAL_ANNOTATION_SIZE_LIMIT))].into());
        let errs = render(&validate_object_meta(
            &m,
            true,
            names::name_is_dns_subdomain,
            FinalizerRules::Core,
            &FieldPath::root("metadata"),
        ));
        assert_eq!(
            errs,
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
    }

    #[test]
    fn updates_keep_identity_fields() {
        let mut old = meta("a");
        old.uid = Some("u1".into());
        let mut new = meta("b");
        new.uid = Some("u2".into());
        new.resource_version = Some("5".into());
        let errs = render(&validate_object_meta_update(
            &new,
            &old,
            FinalizerRules::Core,
            &FieldPath::root("metadata"),
        ));
        assert_eq!(
            errs,
            vec![
                "metadata.name: Invalid value: \"b\": field is immutable",
                "metadata.uid: Invalid value: \"u2\": field is immutable",
            ]
        );
    }

    #[test]
    fn selector_requirements_are_checked() {
        let selector: LabelSelector = serde_json::from_value(serde_json::json!({
            "matchExpressions": [{"key": "a", "operator": "In"}, {"key": "b", "operator": "Near"}]
        }))
        .unwrap();
        let errs = render(&validate_label_selector(
            Some(&selector),
            &FieldPath::root("spec").child("selector"),
        ));
        assert_eq!(
            errs,
            vec![
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.selector.matchExpressions[1].operator: Invalid value: \"Near\": not a valid selector operator",
            ]
        );
    }
}
