//! PATCH bodies applied to typed objects, as the API server does (apply the patch to the
//! object's JSON, decode the result). The shapes the cores send thousands of times per
//! simulated minute have typed fast paths that give the same result without JSON: the
//! Job controller's finalizer removal, the scheduler's `PodScheduled` condition and the
//! kubelet's lease renewal. Tests check each fast path against the generic path.

use corral_api::{ApiError, KubeObject, StatusReason};
use corral_core::PatchBody;
use corral_patch::PatchSchema;
use k8s_openapi::api::core::v1::PodCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use serde_json::Value;

const DELETE_FINALIZERS: &str = "$deleteFromPrimitiveList/finalizers";

/// The patched object (not yet defaulted or validated).
pub fn apply_patch(current: &KubeObject, body: &PatchBody) -> Result<KubeObject, ApiError> {
    if let Some(patched) = fast_path(current, body) {
        return Ok(patched);
    }
    apply_generic(current, body)
}

/// The generic path: JSON in, JSON out.
pub fn apply_generic(current: &KubeObject, body: &PatchBody) -> Result<KubeObject, ApiError> {
    let kind = current.kind();
    let original = current.to_value();
    let patched = match body {
        PatchBody::Merge(patch) => {
            let mut value = original;
            json_patch::merge(&mut value, patch);
            value
        }
        PatchBody::Strategic(patch) => {
            let schema = PatchSchema::for_kind(kind.group(), kind.version(), kind.kind_name())
                .unwrap_or_else(PatchSchema::none);
            corral_patch::strategic_merge(&original, patch, schema)
                .map_err(|e| ApiError::new(StatusReason::Invalid, e.to_string()).with_code(422))?
        }
        PatchBody::Json(patch) => {
            let operations: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            let mut value = original;
            json_patch::patch(&mut value, &operations)
                .map_err(|e| ApiError::new(StatusReason::Invalid, e.to_string()).with_code(422))?;
            value
        }
    };
    KubeObject::from_value(kind, patched).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The `metadata.uid` a patch carries (upstream treats it as a precondition).
pub fn patch_uid(body: &PatchBody) -> Option<&str> {
    match body {
        PatchBody::Merge(v) | PatchBody::Strategic(v) => v.get("metadata")?.get("uid")?.as_str(),
        PatchBody::Json(_) => None,
    }
}

/// `{"metadata":{"uid":U},"spec":{"nodeName":N}}`: the scheduler's bind, which drivers
/// route like `pods/binding`. Returns (uid, node).
pub fn binding_of(body: &PatchBody) -> Option<(Option<&str>, &str)> {
    let PatchBody::Merge(Value::Object(map)) = body else {
        return None;
    };
    let spec = map.get("spec")?.as_object()?;
    if spec.len() != 1 || map.keys().any(|k| k != "spec" && k != "metadata") {
        return None;
    }
    let node = spec.get("nodeName")?.as_str()?;
    let uid = map
        .get("metadata")
        .and_then(|m| m.get("uid"))
        .and_then(Value::as_str);
    Some((uid, node))
}

fn only_key<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let map = value.as_object()?;
    (map.len() == 1).then(|| map.get(key)).flatten()
}

fn fast_path(current: &KubeObject, body: &PatchBody) -> Option<KubeObject> {
    match (current, body) {
        (_, PatchBody::Strategic(patch)) if only_key(patch, "metadata").is_some() => {
            let metadata = only_key(patch, "metadata")?;
            let remove = only_key(metadata, DELETE_FINALIZERS)?.as_array()?;
            let mut patched = current.clone();
            if let Some(finalizers) = patched.meta_mut().finalizers.as_mut() {
                finalizers.retain(|f| !remove.iter().any(|r| r.as_str() == Some(f.as_str())));
            }
            Some(patched)
        }
        (KubeObject::Pod(pod), PatchBody::Strategic(patch)) => {
            let conditions = only_key(only_key(patch, "status")?, "conditions")?.as_array()?;
            let [condition] = conditions.as_slice() else {
                return None;
            };
            let condition: PodCondition = serde_json::from_value(condition.clone()).ok()?;
            let mut patched = pod.clone();
            let list = patched
                .status
                .get_or_insert_with(Default::default)
                .conditions
                .get_or_insert_with(Vec::new);
            // Strategic merge orders the patch's elements first, then the server-only ones.
            let merged = match list.iter().position(|c| c.type_ == condition.type_) {
                Some(index) => {
                    let mut existing = list.remove(index);
                    merge_condition(&mut existing, condition);
                    existing
                }
                None => condition,
            };
            list.insert(0, merged);
            Some(patched.into())
        }
        (KubeObject::Lease(lease), PatchBody::Merge(patch)) => {
            let renew = only_key(only_key(patch, "spec")?, "renewTime")?;
            let renew: MicroTime = serde_json::from_value(renew.clone()).ok()?;
            let mut patched = lease.clone();
            patched.spec.get_or_insert_with(Default::default).renew_time = Some(renew);
            Some(patched.into())
        }
        _ => None,
    }
}

/// A strategic merge of one list element: fields present in the patch replace, a `null`
/// field (absent after decoding) is kept only if the patch did not mention it. Decoding
/// loses "mentioned as null", so the patch's explicit `lastProbeTime: null` clears it.
fn merge_condition(existing: &mut PodCondition, patch: PodCondition) {
    existing.status = patch.status;
    existing.last_probe_time = patch.last_probe_time;
    if patch.last_transition_time.is_some() {
        existing.last_transition_time = patch.last_transition_time;
    }
    if patch.message.is_some() {
        existing.message = patch.message;
    }
    if patch.reason.is_some() {
        existing.reason = patch.reason;
    }
    if patch.observed_generation.is_some() {
        existing.observed_generation = patch.observed_generation;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
    use k8s_openapi::api::core::v1::{Pod, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use serde_json::json;

    fn pod() -> KubeObject {
        Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                namespace: Some("ns".into()),
                finalizers: Some(vec![
                    "batch.kubernetes.io/job-tracking".into(),
                    "other".into(),
                ]),
                ..Default::default()
            },
            status: Some(PodStatus {
                phase: Some("Pending".into()),
                conditions: Some(vec![PodCondition {
                    type_: "PodScheduled".into(),
                    status: "False".into(),
                    reason: Some("Unschedulable".into()),
                    message: Some("0/1 nodes".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
        .into()
    }

    #[test]
    fn fast_paths_agree_with_the_generic_path() {
        let bodies = [
            PatchBody::Strategic(
                json!({"metadata": {DELETE_FINALIZERS: ["batch.kubernetes.io/job-tracking"]}}),
            ),
            PatchBody::Strategic(json!({"status": {"conditions": [
                {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-01-01T00:00:05Z"}
            ]}})),
            PatchBody::Strategic(json!({"status": {"conditions": [
                {"type": "Ready", "status": "False", "lastProbeTime": null, "lastTransitionTime": "2026-01-01T00:00:05Z"}
            ]}})),
            PatchBody::Strategic(json!({"status": {"conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/2 nodes", "lastProbeTime": null, "lastTransitionTime": "2026-01-01T00:00:05Z"}
            ]}})),
        ];
        for body in bodies {
            let fast = fast_path(&pod(), &body).expect("fast path applies");
            let generic = apply_generic(&pod(), &body).unwrap();
            assert_eq!(fast, generic, "{body:?}");
        }
        let lease: KubeObject = Lease {
            metadata: ObjectMeta {
                name: Some("n".into()),
                namespace: Some("kube-node-lease".into()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some("n".into()),
                ..Default::default()
            }),
        }
        .into();
        let body = PatchBody::Merge(json!({"spec": {"renewTime": "2026-01-01T00:00:10.000000Z"}}));
        assert_eq!(
            fast_path(&lease, &body).unwrap(),
            apply_generic(&lease, &body).unwrap()
        );
    }

    #[test]
    fn binding_patches_are_recognised() {
        let body = PatchBody::Merge(json!({"metadata": {"uid": "u"}, "spec": {"nodeName": "n1"}}));
        assert_eq!(binding_of(&body), Some((Some("u"), "n1")));
        let other = PatchBody::Merge(json!({"spec": {"nodeName": "n1", "x": 1}}));
        assert_eq!(binding_of(&other), None);
    }
}
