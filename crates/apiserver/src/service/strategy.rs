//! The seam to corral-registry: defaulting, REST strategies and validation
//! (`prepare_create`/`prepare_update`), strict-decoding field checks, default deletion
//! propagation and patch metadata. Every pipeline step that needs per-kind policy calls
//! through this module, so the pipeline names the registry in one place.

use corral_api::{ApiError, KubeObject, ResourceKind};
use corral_core::{Propagation, Subresource};
use corral_patch::PatchSchema;
use corral_registry::validation::validate_namespace_finalize_update;
use serde_json::Value;

use super::types::Part;

/// Defaults, strategy (`PrepareForCreate`) and validation of a new object; returns the
/// strategy's create warnings. The caller has set `metadata.uid` (Job selector defaulting
/// uses it), `creationTimestamp` and the final name.
pub fn prepare_create(object: &mut KubeObject) -> Result<Vec<String>, ApiError> {
    corral_registry::prepare_create(object)?;
    Ok(corral_registry::warnings_on_create(object))
}

/// Strategy (`PrepareForUpdate`) and validation of an update of `old` to `new`: the main
/// resource (status kept from `old`), the status subresource (spec kept), or a namespace's
/// `finalize` subresource (only `spec.finalizers` change).
pub fn prepare_update(new: &mut KubeObject, old: &KubeObject, part: Part) -> Result<(), ApiError> {
    match part {
        Part::Main => corral_registry::prepare_update(new, old, Subresource::Main),
        Part::Status => corral_registry::prepare_update(new, old, Subresource::Status),
        Part::Finalize => prepare_finalize(new, old),
    }
}

fn prepare_finalize(new: &mut KubeObject, old: &KubeObject) -> Result<(), ApiError> {
    corral_registry::strategy::prepare_for_finalize(new, old);
    let errors = match (new.as_typed(), old.as_typed()) {
        (Some(n), Some(o)) => validate_namespace_finalize_update(n, o),
        _ => return Err(ApiError::method_not_allowed()),
    };
    if errors.is_empty() {
        Ok(())
    } else {
        Err(corral_registry::invalid(new, &errors))
    }
}

/// Fields of `raw` the kind does not know, as dotted paths (`spec.foo`,
/// `spec.containers[0].bar`).
pub fn unknown_fields(kind: ResourceKind, raw: &Value) -> Vec<String> {
    corral_registry::strict::unknown_fields(kind, raw)
}

/// The propagation policy of a delete that names none (upstream's
/// `DefaultGarbageCollectionPolicy`: batch/v1 Jobs orphan, for compatibility).
pub fn default_propagation(kind: ResourceKind) -> Propagation {
    corral_registry::default_propagation(kind)
}

/// `AllowCreateOnUpdate`: whether a PUT to a missing object creates it.
pub fn allow_create_on_update(kind: ResourceKind) -> bool {
    corral_registry::allow_create_on_update(kind)
}

/// Strategic-merge metadata of a kind.
pub fn patch_schema(kind: ResourceKind) -> PatchSchema {
    PatchSchema::for_kind(kind.group(), kind.version(), kind.kind_name())
        .unwrap_or_else(PatchSchema::none)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_reported_with_paths() {
        let raw = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "a", "creationTimestamp": null, "bogus": 1},
            "spec": {"bogusField": 1, "template": {"spec": {"containers": [{"name": "c", "what": 2}]}}},
            "status": {}
        });
        assert_eq!(
            unknown_fields(ResourceKind::Job, &raw),
            vec![
                "metadata.bogus",
                "spec.bogusField",
                "spec.template.spec.containers[0].what"
            ]
        );
    }

    #[test]
    fn job_creation_defaults_the_selector_from_the_uid() {
        let mut job = KubeObject::from_value(
            ResourceKind::Job,
            json!({"metadata": {"name": "j", "namespace": "n", "uid": "u1"}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}),
        )
        .unwrap();
        prepare_create(&mut job).unwrap();
        let value = job.to_value();
        assert_eq!(
            value["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
            "u1"
        );
        assert_eq!(
            value["spec"]["template"]["metadata"]["labels"]["job-name"],
            "j"
        );
        assert_eq!(value["metadata"]["generation"], 1);
    }

    #[test]
    fn jobs_without_a_valid_restart_policy_are_invalid() {
        let mut job = KubeObject::from_value(
            ResourceKind::Job,
            json!({"metadata": {"name": "j", "namespace": "n", "uid": "u"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
        )
        .unwrap();
        let err = prepare_create(&mut job).unwrap_err();
        assert_eq!(err.code, 422);
        assert!(
            err.message.contains("spec.template.spec.restartPolicy"),
            "{}",
            err.message
        );
    }
}
