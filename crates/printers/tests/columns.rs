//! Goal: every served resource has the columns kubectl prints for it on a 1.32 cluster, and
//! every row has exactly one cell per column, whatever the object looks like.
//!
//! Method: compare the header lines kubectl derives from the column definitions
//! (upper-cased names; priority-1 columns only with `-o wide`) with the strings kubectl
//! prints; then print an empty object of every stored kind through every resource that
//! serves it, and a wrong-kind object, and count cells.

mod common;

use common::{headers, now, resource};
use corral_api::resource::all_resources;
use corral_api::{Backing, KubeObject, ResourceKind};
use corral_printers::{IncludeObject, PrintOptions, column_definitions, print_row};
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Event, LimitRange, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod,
    ResourceQuota, Secret, ServiceAccount,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde_json::json;

fn assert_headers(group: &str, plural: &str, normal: &str, wide: &str) {
    assert_eq!(
        headers(group, plural),
        (normal.to_string(), wide.to_string()),
        "{group}/{plural}"
    );
}

#[test]
fn batch_headers_are_what_kubectl_prints() {
    assert_headers(
        "batch",
        "jobs",
        "NAME STATUS COMPLETIONS DURATION AGE",
        "CONTAINERS IMAGES SELECTOR",
    );
    assert_headers(
        "batch",
        "cronjobs",
        "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE NEXT RUN AGE",
        "CONTAINERS IMAGES SELECTOR",
    );
}

#[test]
fn core_headers_are_what_kubectl_prints() {
    assert_headers(
        "",
        "pods",
        "NAME READY STATUS RESTARTS AGE",
        "IP NODE NOMINATED NODE READINESS GATES",
    );
    assert_headers(
        "",
        "nodes",
        "NAME STATUS ROLES AGE VERSION",
        "INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME",
    );
    assert_headers("", "namespaces", "NAME STATUS AGE", "");
    assert_headers("", "resourcequotas", "NAME REQUEST LIMIT AGE", "");
    assert_headers("", "serviceaccounts", "NAME SECRETS AGE", "");
    assert_headers("", "configmaps", "NAME DATA AGE", "");
    assert_headers("", "secrets", "NAME TYPE DATA AGE", "");
    assert_headers("", "limitranges", "NAME CREATED AT", "");
    assert_headers(
        "",
        "persistentvolumeclaims",
        "NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE",
        "VOLUMEMODE",
    );
    assert_headers(
        "",
        "persistentvolumes",
        "NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS VOLUMEATTRIBUTESCLASS REASON AGE",
        "VOLUMEMODE",
    );
}

#[test]
fn event_headers_are_what_kubectl_prints_in_both_groups() {
    for group in ["", "events.k8s.io"] {
        assert_headers(
            group,
            "events",
            "LAST SEEN TYPE REASON OBJECT MESSAGE",
            "SUBOBJECT SOURCE FIRST SEEN COUNT NAME",
        );
        // `-o wide` shows every column in definition order.
        let all: Vec<String> = column_definitions(resource(group, "events"))
            .iter()
            .map(|c| c.name.to_uppercase())
            .collect();
        assert_eq!(
            all.join(" "),
            "LAST SEEN TYPE REASON OBJECT SUBOBJECT SOURCE MESSAGE FIRST SEEN COUNT NAME"
        );
    }
}

#[test]
fn other_group_headers_are_what_kubectl_prints() {
    assert_headers("coordination.k8s.io", "leases", "NAME HOLDER AGE", "");
    assert_headers(
        "policy",
        "poddisruptionbudgets",
        "NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE",
        "",
    );
    for plural in [
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
    ] {
        assert_headers(
            "admissionregistration.k8s.io",
            plural,
            "NAME WEBHOOKS AGE",
            "",
        );
    }
    let rbac = "rbac.authorization.k8s.io";
    assert_headers(rbac, "roles", "NAME CREATED AT", "");
    assert_headers(rbac, "clusterroles", "NAME CREATED AT", "");
    assert_headers(
        rbac,
        "rolebindings",
        "NAME ROLE AGE",
        "USERS GROUPS SERVICEACCOUNTS",
    );
    assert_headers(
        rbac,
        "clusterrolebindings",
        "NAME ROLE AGE",
        "USERS GROUPS SERVICEACCOUNTS",
    );
    assert_headers(
        "corral.dev",
        "holdings",
        "NAME PODS CPU MEMORY STATE SINCE",
        "OWNER NODES",
    );
}

#[test]
fn column_definitions_carry_upstream_types_formats_and_descriptions() {
    let jobs = column_definitions(resource("batch", "jobs"));
    let json = serde_json::to_value(&jobs[0]).unwrap();
    assert_eq!(json["name"], "Name");
    assert_eq!(json["type"], "string");
    assert_eq!(json["format"], "name");
    assert_eq!(json["priority"], 0);
    assert!(
        json["description"]
            .as_str()
            .unwrap()
            .starts_with("Name must be unique within a namespace.")
    );
    assert_eq!(jobs[1].description, "Status of the job.");
    assert_eq!(jobs[7].priority, 1);
    let default = column_definitions(resource("rbac.authorization.k8s.io", "roles"));
    assert_eq!(
        (default[1].name.as_str(), default[1].type_.as_str()),
        ("Created At", "date")
    );
    let cron = column_definitions(resource("batch", "cronjobs"));
    assert_eq!(
        (cron[3].name.as_str(), cron[3].type_.as_str()),
        ("Suspend", "boolean")
    );
    assert_eq!(
        (cron[4].name.as_str(), cron[4].type_.as_str()),
        ("Active", "integer")
    );
    for info in all_resources() {
        let columns = column_definitions(info);
        assert_eq!(
            columns.iter().filter(|c| c.format == "name").count(),
            1,
            "{}",
            info.resource
        );
        assert!(
            columns.iter().all(|c| !c.description.is_empty()),
            "{}",
            info.resource
        );
    }
}

/// An object of `kind` with every optional field absent.
fn empty_object(kind: ResourceKind) -> KubeObject {
    match kind {
        ResourceKind::Namespace => Namespace::default().into(),
        ResourceKind::Node => Node::default().into(),
        ResourceKind::Pod => Pod::default().into(),
        ResourceKind::Event => Event::default().into(),
        ResourceKind::ServiceAccount => ServiceAccount::default().into(),
        ResourceKind::PersistentVolumeClaim => PersistentVolumeClaim::default().into(),
        ResourceKind::PersistentVolume => PersistentVolume::default().into(),
        ResourceKind::ResourceQuota => ResourceQuota::default().into(),
        ResourceKind::LimitRange => LimitRange::default().into(),
        ResourceKind::ConfigMap => ConfigMap::default().into(),
        ResourceKind::Secret => Secret::default().into(),
        ResourceKind::Job => Job::default().into(),
        ResourceKind::CronJob => CronJob::default().into(),
        ResourceKind::Lease => Lease::default().into(),
        ResourceKind::MutatingWebhookConfiguration => {
            MutatingWebhookConfiguration::default().into()
        }
        ResourceKind::ValidatingWebhookConfiguration => {
            ValidatingWebhookConfiguration::default().into()
        }
        ResourceKind::Role => Role::default().into(),
        ResourceKind::ClusterRole => ClusterRole::default().into(),
        ResourceKind::RoleBinding => RoleBinding::default().into(),
        ResourceKind::ClusterRoleBinding => ClusterRoleBinding::default().into(),
        ResourceKind::PodDisruptionBudget => PodDisruptionBudget::default().into(),
    }
}

#[test]
fn every_row_has_one_cell_per_column_even_for_empty_or_wrong_objects() {
    let options = PrintOptions {
        now: now(),
        include_object: IncludeObject::Metadata,
    };
    for info in all_resources() {
        let width = column_definitions(info).len();
        for kind in ResourceKind::ALL {
            let row = print_row(info, &empty_object(*kind), &options);
            assert_eq!(
                row.cells.len(),
                width,
                "{} with an empty {kind:?}",
                info.resource
            );
        }
    }
}

#[test]
fn empty_objects_print_upstream_placeholders() {
    let cells = |group: &str, plural: &str, kind| {
        common::texts(&common::cells(group, plural, &empty_object(kind)))
    };
    assert_eq!(
        cells("batch", "jobs", ResourceKind::Job),
        ["", "Running", "0/1", "", "<unknown>", "", "", "<none>"]
    );
    assert_eq!(
        cells("batch", "cronjobs", ResourceKind::CronJob),
        [
            "",
            "",
            "<none>",
            "<unset>",
            "#0",
            "<none>",
            "<none>",
            "<unknown>",
            "",
            "",
            "<none>"
        ]
    );
    assert_eq!(
        cells("", "pods", ResourceKind::Pod),
        [
            "",
            "0/0",
            "",
            "0",
            "<unknown>",
            "<none>",
            "<none>",
            "<none>",
            "<none>"
        ]
    );
    assert_eq!(
        cells("", "nodes", ResourceKind::Node),
        [
            "",
            "Unknown",
            "<none>",
            "<unknown>",
            "",
            "<none>",
            "<none>",
            "<unknown>",
            "<unknown>",
            "<unknown>"
        ]
    );
    assert_eq!(
        cells("", "events", ResourceKind::Event),
        ["<unknown>", "", "", "", "", "", "", "<unknown>", "#1", ""]
    );
    assert_eq!(
        cells("", "limitranges", ResourceKind::LimitRange),
        ["", "0001-01-01T00:00:00Z"]
    );
    // A wrong kind is a caller's mistake: placeholder cells, no panic.
    assert_eq!(
        cells("batch", "jobs", ResourceKind::Pod),
        [
            "",
            "<unknown>",
            "<unknown>",
            "<unknown>",
            "<unknown>",
            "<unknown>",
            "<unknown>",
            "<unknown>"
        ]
    );
}

#[test]
fn corrals_resources_and_the_events_v1_view_are_the_only_non_stored_printers_with_columns() {
    for info in all_resources() {
        let width = column_definitions(info).len();
        match info.backing {
            Backing::Virtual if info.resource == "holdings" => assert_eq!(width, 8),
            Backing::Virtual if info.resource == "webhookbreakers" => assert_eq!(width, 10),
            Backing::Virtual => assert_eq!(width, 2, "{}", info.resource),
            Backing::EventsV1View => assert_eq!(width, 10),
            Backing::Stored(_) => assert!(width >= 2),
        }
    }
}

#[test]
fn extreme_values_print_without_panicking() {
    let far_past = "0001-01-01T00:00:01Z";
    let far_future = "9999-12-30T00:00:00Z"; // near jiff's largest timestamp
    let big = i32::MAX;
    let status = |ts: &str| {
        json!({"name": "c", "image": "", "imageID": "", "ready": true, "restartCount": big, "started": true,
            "state": {"terminated": {"exitCode": i32::MIN, "signal": -1, "finishedAt": ts}},
            "lastState": {"terminated": {"exitCode": 1, "finishedAt": ts}}})
    };
    for ts in [far_past, far_future] {
        let pod = common::object(
            ResourceKind::Pod,
            json!({
            "metadata": {"name": "p", "creationTimestamp": ts, "deletionTimestamp": ts},
            "spec": {"containers": [{"name": "c"}, {"name": "c"}], "initContainers": [{"name": "c", "restartPolicy": "Always"}]},
            "status": {"initContainerStatuses": [status(ts)], "containerStatuses": [status(ts), status(ts)]}}),
        );
        let cells = common::texts(&common::cells("", "pods", &pod));
        assert_eq!(cells.len(), 9);
        assert_eq!(cells[3].split(' ').next(), Some("6442450941"));
        let job = common::object(
            ResourceKind::Job,
            json!({"metadata": {"name": "j", "creationTimestamp": ts},
            "spec": {"template": {}, "completions": big, "parallelism": big},
            "status": {"startTime": far_past, "completionTime": far_future, "succeeded": big}}),
        );
        let cells = common::texts(&common::cells("batch", "jobs", &job));
        assert_eq!(cells[3], "292y");
        let event = common::object(
            ResourceKind::Event,
            json!({"metadata": {"name": "e"}, "involvedObject": {},
            "count": big, "eventTime": ts, "series": {"count": -1, "lastObservedTime": ts}}),
        );
        assert_eq!(
            common::texts(&common::cells("", "events", &event))[8],
            "#-1"
        );
    }
}
