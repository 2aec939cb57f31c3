//! The seam to corral-registry: defaulting, REST strategies and validation
//! (`prepare_create`/`prepare_update`), strict-decoding field checks, default deletion
//! propagation and patch metadata.
//!
//! Every pipeline step that needs per-kind policy calls through this module, so swapping
//! the interim policy below for corral-registry's is a change here only. The interim
//! policy is deliberately small and generic: status-subresource semantics from the
//! resource table, generation bumps on spec changes, the Namespace and Job defaults kubectl
//! output depends on (phase, finalizer, metadata.name label; Job selector and labels), and
//! the Job `restartPolicy` check.

use std::collections::BTreeMap;

use corral_api::k8s_openapi::api::batch::v1::Job;
use corral_api::k8s_openapi::api::core::v1::{
    Namespace, NamespaceSpec, NamespaceStatus, PersistentVolumeClaimStatus, Pod, PodStatus,
};
use corral_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as K8sLabelSelector;
use corral_api::resource::resource_of;
use corral_api::selector::is_dns_subdomain;
use corral_api::{ApiError, FieldError, FieldErrorType, KubeObject, ResourceKind};
use corral_core::Propagation;
use corral_patch::PatchSchema;
use serde_json::Value;

use super::types::Part;

/// Defaults, strategy (`PrepareForCreate`) and validation of a new object. The caller has
/// set `metadata.uid` (Job selector defaulting uses it) and the final name.
pub fn prepare_create(object: &mut KubeObject) -> Result<(), ApiError> {
    let kind = object.kind();
    if has_status_subresource(kind) && kind != ResourceKind::Node {
        reset_status(object);
    }
    if has_spec(kind) {
        object.meta_mut().generation = Some(1);
    }
    match object {
        KubeObject::Namespace(ns) => default_namespace(ns),
        KubeObject::Job(job) => default_job(job),
        KubeObject::Pod(pod) => {
            pod.status = Some(PodStatus {
                phase: Some("Pending".into()),
                ..PodStatus::default()
            });
        }
        KubeObject::PersistentVolumeClaim(claim) => {
            claim.status = Some(PersistentVolumeClaimStatus {
                phase: Some("Pending".into()),
                ..PersistentVolumeClaimStatus::default()
            });
        }
        _ => {}
    }
    validate(object)
}

/// Strategy (`PrepareForUpdate`) and validation of an update of `old` to `new`, for the
/// main resource (status kept from `old`) or the status subresource (only status, labels
/// and annotations taken from `new`).
pub fn prepare_update(new: &mut KubeObject, old: &KubeObject, part: Part) -> Result<(), ApiError> {
    let kind = old.kind();
    let merged = match part {
        Part::Main => keep_status(new.to_value(), &old.to_value(), kind),
        Part::Status => take_status(new.to_value(), old.to_value()),
        Part::Finalize => take_finalizers(new.to_value(), old.to_value()),
    };
    let mut updated = KubeObject::from_value(kind, merged).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if has_spec(kind) && spec_of(&updated) != spec_of(old) {
        let generation = old.meta().generation.unwrap_or(0);
        updated.meta_mut().generation = Some(generation + 1);
    } else {
        updated.meta_mut().generation = old.meta().generation;
    }
    *new = updated;
    validate(new)
}

/// Fields of `raw` the kind does not know, as dotted paths (`spec.foo`,
/// `spec.containers[0].bar`). Found by comparing the body with its typed round trip:
/// whatever the typed decode drops is unknown. Nulls are not reported (kubectl sends
/// `creationTimestamp: null`).
pub fn unknown_fields(kind: ResourceKind, raw: &Value) -> Vec<String> {
    let Ok(object) = KubeObject::from_value(kind, raw.clone()) else {
        return Vec::new();
    };
    let round_trip = object.to_value();
    let mut unknown = Vec::new();
    collect_unknown(raw, &round_trip, "", &mut unknown);
    unknown
}

fn collect_unknown(raw: &Value, known: &Value, path: &str, out: &mut Vec<String>) {
    match (raw, known) {
        (Value::Object(raw), Value::Object(known)) => {
            for (key, value) in raw {
                let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match known.get(key) {
                    Some(known_value) => collect_unknown(value, known_value, &child, out),
                    None if value.is_null() => {}
                    None => out.push(child),
                }
            }
        }
        (Value::Array(raw), Value::Array(known)) => {
            for (index, (value, known_value)) in raw.iter().zip(known).enumerate() {
                collect_unknown(value, known_value, &format!("{path}[{index}]"), out);
            }
        }
        _ => {}
    }
}

/// The propagation policy of a delete that names none (upstream's
/// `DefaultGarbageCollectionPolicy`: batch/v1 Jobs orphan, for compatibility).
pub fn default_propagation(kind: ResourceKind) -> Propagation {
    match kind {
        ResourceKind::Job => Propagation::Orphan,
        _ => Propagation::Background,
    }
}

/// Strategic-merge metadata of a kind.
pub fn patch_schema(kind: ResourceKind) -> PatchSchema {
    PatchSchema::for_kind(kind.group(), kind.version(), kind.kind_name()).unwrap_or_else(PatchSchema::none)
}

fn has_status_subresource(kind: ResourceKind) -> bool {
    resource_of(kind).subresource("status").is_some()
}

fn has_spec(kind: ResourceKind) -> bool {
    has_status_subresource(kind)
}

fn spec_of(object: &KubeObject) -> Value {
    object.to_value().get("spec").cloned().unwrap_or(Value::Null)
}

fn reset_status(object: &mut KubeObject) {
    let mut value = object.to_value();
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
    }
    if let Ok(reset) = KubeObject::from_value(object.kind(), value) {
        *object = reset;
    }
}

fn keep_status(mut new: Value, old: &Value, kind: ResourceKind) -> Value {
    if !has_status_subresource(kind) {
        return new;
    }
    if let Some(map) = new.as_object_mut() {
        match old.get("status") {
            Some(status) => map.insert("status".into(), status.clone()),
            None => map.remove("status"),
        };
    }
    new
}

fn take_status(new: Value, mut old: Value) -> Value {
    if let Some(map) = old.as_object_mut() {
        match new.get("status") {
            Some(status) => map.insert("status".into(), status.clone()),
            None => map.remove("status"),
        };
        for field in ["labels", "annotations"] {
            let value = new.pointer(&format!("/metadata/{field}")).cloned();
            if let Some(Value::Object(meta)) = map.get_mut("metadata") {
                match value {
                    Some(v) => meta.insert(field.into(), v),
                    None => meta.remove(field),
                };
            }
        }
    }
    old
}

fn take_finalizers(new: Value, mut old: Value) -> Value {
    let finalizers = new.pointer("/spec/finalizers").cloned();
    if let Some(map) = old.as_object_mut() {
        let spec = map.entry("spec").or_insert_with(|| Value::Object(Default::default()));
        if let Some(spec) = spec.as_object_mut() {
            match finalizers {
                Some(f) => spec.insert("finalizers".into(), f),
                None => spec.remove("finalizers"),
            };
        }
    }
    old
}

fn default_namespace(ns: &mut Namespace) {
    let name = ns.metadata.name.clone().unwrap_or_default();
    ns.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert("kubernetes.io/metadata.name".into(), name);
    let spec = ns.spec.get_or_insert_with(NamespaceSpec::default);
    if spec.finalizers.is_none() {
        spec.finalizers = Some(vec!["kubernetes".into()]);
    }
    ns.status = Some(NamespaceStatus {
        phase: Some("Active".into()),
        ..NamespaceStatus::default()
    });
}

/// Job selector and label defaulting (upstream `jobStrategy.PrepareForCreate` and
/// `generateSelector`), plus the scalar defaults `describe` prints.
fn default_job(job: &mut Job) {
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let name = job.metadata.name.clone().unwrap_or_default();
    let Some(spec) = job.spec.as_mut() else { return };
    if spec.parallelism.is_none() {
        spec.parallelism = Some(1);
    }
    if spec.completions.is_none() && spec.parallelism == Some(1) {
        spec.completions = Some(1);
    }
    spec.backoff_limit.get_or_insert(6);
    spec.completion_mode.get_or_insert_with(|| "NonIndexed".into());
    spec.suspend.get_or_insert(false);
    spec.pod_replacement_policy.get_or_insert_with(|| "TerminatingOrFailed".into());
    if spec.manual_selector != Some(true) {
        let labels = spec.template.metadata.get_or_insert_with(Default::default).labels.get_or_insert_with(BTreeMap::new);
        for key in ["batch.kubernetes.io/controller-uid", "controller-uid"] {
            labels.insert(key.into(), uid.clone());
        }
        for key in ["batch.kubernetes.io/job-name", "job-name"] {
            labels.insert(key.into(), name.clone());
        }
        spec.selector = Some(K8sLabelSelector {
            match_labels: Some([("batch.kubernetes.io/controller-uid".to_string(), uid)].into()),
            match_expressions: None,
        });
    }
}

fn validate(object: &KubeObject) -> Result<(), ApiError> {
    let mut errors = validate_meta(object);
    if let KubeObject::Job(job) = object {
        errors.extend(validate_job(job));
    }
    if errors.is_empty() {
        return Ok(());
    }
    let kind = object.kind();
    Err(ApiError::invalid(kind.kind_name(), kind.group(), object.name(), &errors))
}

fn validate_meta(object: &KubeObject) -> Vec<FieldError> {
    let name = object.name();
    if name.is_empty() {
        return vec![FieldError::required("metadata.name", "name or generateName is required")];
    }
    if !is_dns_subdomain(name) {
        return vec![FieldError::invalid_str(
            "metadata.name",
            name,
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        )];
    }
    Vec::new()
}

fn validate_job(job: &Job) -> Vec<FieldError> {
    let path = "spec.template.spec.restartPolicy";
    let Some(spec) = job.spec.as_ref() else {
        return vec![FieldError::required("spec", "")];
    };
    let policy = spec.template.spec.as_ref().and_then(|s| s.restart_policy.as_deref());
    match policy {
        Some("Never") | Some("OnFailure") => Vec::new(),
        None => vec![FieldError::new(path, FieldErrorType::Required).detail("valid values: \"OnFailure\", \"Never\"")],
        Some(other) => vec![FieldError::not_supported(path, other, &["OnFailure", "Never"])],
    }
}

/// Unused until pods get scheduled by the interim policy; kept for symmetry with Jobs.
#[allow(dead_code)]
fn pod_is_bound(pod: &Pod) -> bool {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_found_by_the_typed_round_trip() {
        let raw = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "a", "creationTimestamp": null, "bogus": 1},
            "spec": {"bogusField": 1, "template": {"spec": {"containers": [{"name": "c", "what": 2}]}}},
            "status": {}
        });
        assert_eq!(
            unknown_fields(ResourceKind::Job, &raw),
            vec!["metadata.bogus", "spec.bogusField", "spec.template.spec.containers[0].what"]
        );
    }

    #[test]
    fn job_creation_defaults_the_selector_from_the_uid() {
        let mut job = KubeObject::from_value(
            ResourceKind::Job,
            json!({"metadata": {"name": "j", "uid": "u1"}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": []}}}}),
        )
        .unwrap();
        prepare_create(&mut job).unwrap();
        let value = job.to_value();
        assert_eq!(value["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"], "u1");
        assert_eq!(value["spec"]["template"]["metadata"]["labels"]["job-name"], "j");
        assert_eq!(value["metadata"]["generation"], 1);
    }

    #[test]
    fn jobs_without_a_valid_restart_policy_are_invalid() {
        let mut job = KubeObject::from_value(
            ResourceKind::Job,
            json!({"metadata": {"name": "j", "uid": "u"}, "spec": {"template": {"spec": {"containers": []}}}}),
        )
        .unwrap();
        let err = prepare_create(&mut job).unwrap_err();
        assert_eq!(err.code, 422);
        assert!(err.message.contains("spec.template.spec.restartPolicy"), "{}", err.message);
    }

    #[test]
    fn main_updates_keep_status_and_bump_generation_on_spec_changes() {
        let old = KubeObject::from_value(
            ResourceKind::Job,
            json!({"metadata": {"name": "j", "generation": 1}, "spec": {"parallelism": 1, "template": {"spec": {"restartPolicy": "Never", "containers": []}}}, "status": {"active": 1}}),
        )
        .unwrap();
        let mut new = KubeObject::from_value(
            ResourceKind::Job,
            json!({"metadata": {"name": "j"}, "spec": {"parallelism": 2, "template": {"spec": {"restartPolicy": "Never", "containers": []}}}, "status": {"active": 5}}),
        )
        .unwrap();
        prepare_update(&mut new, &old, Part::Main).unwrap();
        let value = new.to_value();
        assert_eq!(value["status"]["active"], 1);
        assert_eq!(value["metadata"]["generation"], 2);
    }
}
