//! Goal: the REST strategy rules the API layer relies on: generation bumps, status kept
//! on main writes and spec kept on status writes, system metadata preserved, per-kind
//! facts (delete propagation, create-on-update, status subresource), and the
//! events.k8s.io conversion round trip.
//! Method: create objects through the facade, update them, and inspect the results.

mod support;

use corral_api::{KubeObject, ResourceKind};
use corral_core::{Propagation, Subresource};
use corral_registry::conversion;
use serde_json::json;
use support::{created, merge, updated};

fn job() -> serde_json::Value {
    json!({
        "metadata": {"name": "j", "namespace": "default"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}}}
    })
}

#[test]
fn spec_changes_bump_the_generation_and_metadata_changes_do_not() {
    let stored = created(ResourceKind::Job, job());
    assert_eq!(stored.meta().generation, Some(1));
    let spec_change = updated(
        ResourceKind::Job,
        &stored,
        merge(stored.to_value(), &json!({"spec": {"parallelism": 2}})),
        Subresource::Main,
    );
    assert_eq!(spec_change.meta().generation, Some(2));
    let label_change = updated(
        ResourceKind::Job,
        &stored,
        merge(
            stored.to_value(),
            &json!({"metadata": {"labels": {"x": "y"}}}),
        ),
        Subresource::Main,
    );
    assert_eq!(label_change.meta().generation, Some(1));
    let forged = updated(
        ResourceKind::Job,
        &stored,
        merge(stored.to_value(), &json!({"metadata": {"generation": 7}})),
        Subresource::Main,
    );
    assert_eq!(
        forged.meta().generation,
        Some(1),
        "clients cannot set the generation"
    );
}

#[test]
fn main_writes_keep_status_and_status_writes_keep_spec() {
    let stored = created(ResourceKind::Job, job());
    let main = updated(
        ResourceKind::Job,
        &stored,
        merge(
            stored.to_value(),
            &json!({"spec": {"suspend": true}, "status": {"active": 3}}),
        ),
        Subresource::Main,
    );
    assert_eq!(main.to_value()["spec"]["suspend"], true);
    assert_eq!(main.to_value()["status"], json!({}));
    let status = updated(
        ResourceKind::Job,
        &stored,
        merge(
            stored.to_value(),
            &json!({"spec": {"suspend": true}, "status": {"active": 3}}),
        ),
        Subresource::Status,
    );
    assert_eq!(status.to_value()["spec"]["suspend"], false);
    assert_eq!(status.to_value()["status"]["active"], 3);
    assert_eq!(status.meta().generation, Some(1));
}

#[test]
fn updates_keep_uid_creation_time_and_take_the_stored_revision_when_unconditional() {
    let mut stored = created(
        ResourceKind::ConfigMap,
        json!({"metadata": {"name": "c", "namespace": "default"}}),
    );
    stored.meta_mut().creation_timestamp =
        serde_json::from_value(json!("2024-05-01T10:00:00Z")).ok();
    stored.meta_mut().resource_version = Some("42".into());
    let new = json!({"metadata": {"name": "c", "namespace": "default", "creationTimestamp": "2030-01-01T00:00:00Z"}, "data": {"a": "b"}});
    let result = updated(ResourceKind::ConfigMap, &stored, new, Subresource::Main);
    assert_eq!(result.meta().uid, stored.meta().uid);
    assert_eq!(
        result.meta().creation_timestamp,
        stored.meta().creation_timestamp
    );
    assert_eq!(result.meta().resource_version.as_deref(), Some("42"));
}

#[test]
fn cluster_scoped_objects_lose_a_namespace() {
    let node = created(
        ResourceKind::Node,
        json!({"metadata": {"name": "n1", "namespace": "default"}}),
    );
    assert_eq!(node.meta().namespace, None);
}

#[test]
fn namespace_updates_keep_finalizers_and_the_name_label() {
    let stored = created(
        ResourceKind::Namespace,
        json!({"metadata": {"name": "team"}}),
    );
    let new = json!({"metadata": {"name": "team", "labels": {"owner": "me"}}, "spec": {"finalizers": []}});
    let result = updated(ResourceKind::Namespace, &stored, new, Subresource::Main).to_value();
    assert_eq!(result["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(
        result["metadata"]["labels"],
        json!({"kubernetes.io/metadata.name": "team", "owner": "me"})
    );
    assert_eq!(result["status"]["phase"], "Active");
}

#[test]
fn pods_start_pending_with_their_qos_class() {
    let pod = created(
        ResourceKind::Pod,
        json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "100m"}}}]},
            "status": {"phase": "Succeeded"}
        }),
    );
    assert_eq!(
        pod.to_value()["status"],
        json!({"phase": "Pending", "qosClass": "Burstable"})
    );
}

#[test]
fn per_kind_facts_match_upstream_strategies() {
    assert_eq!(
        corral_registry::default_propagation(ResourceKind::Job),
        Propagation::Orphan
    );
    assert_eq!(
        corral_registry::default_propagation(ResourceKind::CronJob),
        Propagation::Background
    );
    assert_eq!(
        corral_registry::default_propagation(ResourceKind::Pod),
        Propagation::Background
    );
    for kind in [
        ResourceKind::Lease,
        ResourceKind::Event,
        ResourceKind::Role,
        ResourceKind::LimitRange,
    ] {
        assert!(corral_registry::allow_create_on_update(kind), "{kind:?}");
    }
    for kind in [
        ResourceKind::Job,
        ResourceKind::Pod,
        ResourceKind::ConfigMap,
        ResourceKind::Namespace,
    ] {
        assert!(!corral_registry::allow_create_on_update(kind), "{kind:?}");
    }
    assert!(corral_registry::has_status_subresource(ResourceKind::Job));
    assert!(!corral_registry::has_status_subresource(
        ResourceKind::ConfigMap
    ));
    assert!(corral_registry::namespace_scoped(ResourceKind::Job));
    assert!(!corral_registry::namespace_scoped(ResourceKind::Node));
    assert!(corral_registry::has_generation(ResourceKind::CronJob));
    assert!(!corral_registry::has_generation(ResourceKind::Pod));
}

#[test]
fn create_errors_are_422_invalid_with_the_qualified_kind() {
    let mut object = support::object(
        ResourceKind::Job,
        merge(job(), &json!({"spec": {"parallelism": -1}})),
    );
    let error = corral_registry::prepare_create(&mut object).unwrap_err();
    assert_eq!(error.code, 422);
    assert_eq!(
        error.message,
        "Job.batch \"j\" is invalid: spec.parallelism: Invalid value: -1: must be greater than or equal to 0"
    );
    let json = error.to_json();
    assert_eq!(json["reason"], "Invalid");
    assert_eq!(json["details"]["kind"], "Job");
    assert_eq!(json["details"]["group"], "batch");
    assert_eq!(json["details"]["causes"][0]["reason"], "FieldValueInvalid");
    assert_eq!(json["details"]["causes"][0]["field"], "spec.parallelism");
}

#[test]
fn events_convert_to_events_v1_and_back() {
    let core: KubeObject = KubeObject::from_value(ResourceKind::Event, json!({
        "metadata": {"name": "j.1", "namespace": "default"},
        "involvedObject": {"apiVersion": "batch/v1", "kind": "Job", "name": "j", "namespace": "default", "uid": "u"},
        "reason": "Completed", "message": "Job completed", "type": "Normal",
        "source": {"component": "job-controller"}, "count": 1,
        "firstTimestamp": "2024-05-01T10:00:00Z", "lastTimestamp": "2024-05-01T10:00:00Z",
        "reportingComponent": "job-controller", "reportingInstance": ""
    })).unwrap();
    let core_event = core
        .as_typed::<k8s_openapi::api::core::v1::Event>()
        .unwrap();
    let v1 = conversion::core_to_events(core_event);
    let v1_json = serde_json::to_value(&v1).unwrap();
    assert_eq!(v1_json["regarding"]["kind"], "Job");
    assert_eq!(v1_json["note"], "Job completed");
    assert_eq!(v1_json["reportingController"], "job-controller");
    assert_eq!(v1_json["deprecatedSource"]["component"], "job-controller");
    assert_eq!(v1_json["deprecatedCount"], 1);
    assert_eq!(&conversion::events_to_core(&v1), core_event);
}
