//! Selectable fields per kind: what `--field-selector` may name, and each field's value,
//! as upstream's per-registry `GetAttrs`/`ToSelectableFields` define them.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod, Secret};

use crate::object::{KubeObject, ResourceKind};
use crate::selector::{FieldSelector, SelectorError};

const META: &[&str] = &["metadata.name", "metadata.namespace"];
const POD: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];
const EVENT: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];
const JOB: &[&str] = &["metadata.name", "metadata.namespace", "status.successful"];
const NODE: &[&str] = &["metadata.name", "metadata.namespace", "spec.unschedulable"];
const NAMESPACE: &[&str] = &["metadata.name", "metadata.namespace", "status.phase"];
const SECRET: &[&str] = &["metadata.name", "metadata.namespace", "type"];

/// The field labels a kind supports in field selectors.
pub fn selectable_fields(kind: ResourceKind) -> &'static [&'static str] {
    match kind {
        ResourceKind::Pod => POD,
        ResourceKind::Event => EVENT,
        ResourceKind::Job => JOB,
        ResourceKind::Node => NODE,
        ResourceKind::Namespace => NAMESPACE,
        ResourceKind::Secret => SECRET,
        _ => META,
    }
}

/// Rejects selectors naming fields the kind does not support, with upstream's message
/// (`field label not supported: spec.bogus`).
pub fn check_field_selector(
    kind: ResourceKind,
    selector: &FieldSelector,
) -> Result<(), SelectorError> {
    let supported = selectable_fields(kind);
    for r in &selector.requirements {
        if !supported.contains(&r.field.as_str()) {
            return Err(SelectorError(format!(
                "field label not supported: {}",
                r.field
            )));
        }
    }
    Ok(())
}

/// The value of one selectable field; `None` when the kind does not support the field.
/// Unset string fields read as empty, booleans as `true`/`false`, as upstream.
pub fn field_value(object: &KubeObject, field: &str) -> Option<String> {
    let meta = object.meta();
    match field {
        "metadata.name" => return Some(meta.name.clone().unwrap_or_default()),
        "metadata.namespace" => return Some(meta.namespace.clone().unwrap_or_default()),
        _ => {}
    }
    match object {
        KubeObject::Pod(pod) => pod_field(pod, field),
        KubeObject::Event(event) => event_field(event, field),
        KubeObject::Job(job) => job_field(job, field),
        KubeObject::Node(node) => node_field(node, field),
        KubeObject::Namespace(ns) => namespace_field(ns, field),
        KubeObject::Secret(secret) => secret_field(secret, field),
        _ => None,
    }
}

/// All selectable fields with their values, for indexes that keep them precomputed.
pub fn field_values(object: &KubeObject) -> Vec<(&'static str, String)> {
    selectable_fields(object.kind())
        .iter()
        .filter_map(|f| field_value(object, f).map(|v| (*f, v)))
        .collect()
}

fn s(v: &Option<String>) -> Option<String> {
    Some(v.clone().unwrap_or_default())
}

fn pod_field(pod: &Pod, field: &str) -> Option<String> {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    match field {
        "spec.nodeName" => s(&spec.and_then(|x| x.node_name.clone())),
        "spec.restartPolicy" => s(&spec.and_then(|x| x.restart_policy.clone())),
        "spec.schedulerName" => s(&spec.and_then(|x| x.scheduler_name.clone())),
        "spec.serviceAccountName" => s(&spec.and_then(|x| x.service_account_name.clone())),
        "spec.hostNetwork" => Some(
            spec.and_then(|x| x.host_network)
                .unwrap_or(false)
                .to_string(),
        ),
        "status.phase" => s(&status.and_then(|x| x.phase.clone())),
        "status.podIP" => s(&status.and_then(|x| x.pod_ip.clone())),
        "status.nominatedNodeName" => s(&status.and_then(|x| x.nominated_node_name.clone())),
        _ => None,
    }
}

fn event_field(event: &Event, field: &str) -> Option<String> {
    let o = &event.involved_object;
    match field {
        "involvedObject.kind" => s(&o.kind),
        "involvedObject.namespace" => s(&o.namespace),
        "involvedObject.name" => s(&o.name),
        "involvedObject.uid" => s(&o.uid),
        "involvedObject.apiVersion" => s(&o.api_version),
        "involvedObject.resourceVersion" => s(&o.resource_version),
        "involvedObject.fieldPath" => s(&o.field_path),
        "reason" => s(&event.reason),
        "reportingComponent" => s(&event.reporting_component),
        "source" => s(&event.source.as_ref().and_then(|x| x.component.clone())),
        "type" => s(&event.type_),
        _ => None,
    }
}

fn job_field(job: &Job, field: &str) -> Option<String> {
    match field {
        "status.successful" => Some(
            job.status
                .as_ref()
                .and_then(|x| x.succeeded)
                .unwrap_or(0)
                .to_string(),
        ),
        _ => None,
    }
}

fn node_field(node: &Node, field: &str) -> Option<String> {
    match field {
        "spec.unschedulable" => Some(
            node.spec
                .as_ref()
                .and_then(|x| x.unschedulable)
                .unwrap_or(false)
                .to_string(),
        ),
        _ => None,
    }
}

fn namespace_field(ns: &Namespace, field: &str) -> Option<String> {
    match field {
        "status.phase" => s(&ns.status.as_ref().and_then(|x| x.phase.clone())),
        _ => None,
    }
}

fn secret_field(secret: &Secret, field: &str) -> Option<String> {
    match field {
        "type" => s(&secret.type_),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, PodStatus};

    #[test]
    fn pod_fields_read_unset_values_as_empty() {
        let pod: KubeObject = Pod {
            spec: Some(PodSpec {
                node_name: Some("n1".into()),
                ..Default::default()
            }),
            status: Some(PodStatus::default()),
            ..Default::default()
        }
        .into();
        assert_eq!(field_value(&pod, "spec.nodeName").as_deref(), Some("n1"));
        assert_eq!(field_value(&pod, "status.phase").as_deref(), Some(""));
        assert_eq!(
            field_value(&pod, "spec.hostNetwork").as_deref(),
            Some("false")
        );
        assert_eq!(field_value(&pod, "spec.bogus"), None);
    }

    #[test]
    fn unsupported_field_labels_are_rejected_with_upstreams_message() {
        let sel = FieldSelector::parse("spec.bogus=1").unwrap();
        let err = check_field_selector(ResourceKind::Pod, &sel).unwrap_err();
        assert_eq!(err.0, "field label not supported: spec.bogus");
        let ok = FieldSelector::parse("metadata.name=x").unwrap();
        assert!(check_field_selector(ResourceKind::CronJob, &ok).is_ok());
    }
}
