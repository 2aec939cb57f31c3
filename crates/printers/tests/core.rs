//! Goal: the core/v1 printers other than pods and events print upstream's cells: nodes
//! (STATUS, ROLES, wide system info), namespaces, service accounts, config maps, secrets,
//! resource quotas, persistent volume claims and persistent volumes.
//!
//! Method: upstream's `printers_test.go` cases where they exist (`TestPrintNodeStatus`,
//! `TestPrintNodeRole`, `TestPrintNodeOSImage`, `TestPrintPersistentVolumeClaim`,
//! `TestPrintResourceQuota`), with objects written as JSON and ages from a fixed `now`.

mod common;

use common::{ago, object, texts};
use corral_api::ResourceKind;
use serde_json::{Value, json};

fn cells(plural: &str, kind: ResourceKind, json: Value) -> Vec<String> {
    texts(&common::cells("", plural, &object(kind, json)))
}

fn node(metadata: Value, spec: Value, status: Value) -> Vec<String> {
    cells(
        "nodes",
        ResourceKind::Node,
        json!({"metadata": metadata, "spec": spec, "status": status}),
    )
}

#[test]
fn node_status_combines_readiness_and_cordoning() {
    let ready = |status: &str| json!({"conditions": [{"type": "Ready", "status": status}]});
    let status = |spec: Value, st: Value| node(json!({"name": "foo"}), spec, st)[1].clone();
    assert_eq!(status(json!({}), ready("True")), "Ready");
    assert_eq!(
        status(json!({"unschedulable": true}), ready("True")),
        "Ready,SchedulingDisabled"
    );
    assert_eq!(status(json!({}), ready("False")), "NotReady");
    assert_eq!(status(json!({}), ready("Unknown")), "NotReady");
    assert_eq!(
        status(json!({"unschedulable": true}), ready("False")),
        "NotReady,SchedulingDisabled"
    );
    assert_eq!(
        status(
            json!({}),
            json!({"conditions": [{"type": "MemoryPressure", "status": "True"}]})
        ),
        "Unknown"
    );
    assert_eq!(
        status(json!({"unschedulable": true}), json!({})),
        "Unknown,SchedulingDisabled"
    );
}

#[test]
fn node_roles_are_sorted_and_deduplicated() {
    let roles = |labels: Value| {
        node(
            json!({"name": "foo", "labels": labels}),
            json!({}),
            json!({}),
        )[2]
        .clone()
    };
    assert_eq!(roles(json!({})), "<none>");
    assert_eq!(
        roles(
            json!({"node-role.kubernetes.io/foo": "", "node-role.kubernetes.io/bar": "", "node-role.kubernetes.io/": ""})
        ),
        "bar,foo"
    );
    assert_eq!(
        roles(
            json!({"kubernetes.io/role": "node", "node-role.kubernetes.io/node": "", "node-role.kubernetes.io/control-plane": "true"})
        ),
        "control-plane,node"
    );
    assert_eq!(roles(json!({"kubernetes.io/role": ""})), "<none>");
}

#[test]
fn node_wide_cells_show_addresses_and_system_info() {
    let status = json!({
        "conditions": [{"type": "Ready", "status": "True"}],
        "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.0.0.1"},
                      {"type": "InternalIP", "address": "10.0.0.2"}, {"type": "ExternalIP", "address": "1.2.3.4"}],
        "nodeInfo": {"kubeletVersion": "v1.32.0-corral", "osImage": "Debian GNU/Linux 12", "kernelVersion": "6.1.0",
                     "containerRuntimeVersion": "corral://0.1.0", "architecture": "amd64", "bootID": "", "machineID": "",
                     "kubeProxyVersion": "", "operatingSystem": "linux", "systemUUID": ""}});
    assert_eq!(
        node(
            json!({"name": "n1", "creationTimestamp": ago(9 * 86_400)}),
            json!({}),
            status
        ),
        [
            "n1",
            "Ready",
            "<none>",
            "9d",
            "v1.32.0-corral",
            "10.0.0.1",
            "1.2.3.4",
            "Debian GNU/Linux 12",
            "6.1.0",
            "corral://0.1.0"
        ]
    );
    assert_eq!(
        node(json!({"name": "n2"}), json!({}), json!({}))[4..],
        [
            "",
            "<none>",
            "<none>",
            "<unknown>",
            "<unknown>",
            "<unknown>"
        ]
    );
}

#[test]
fn namespaces_service_accounts_config_maps_and_secrets() {
    let meta = json!({"name": "x", "creationTimestamp": ago(65)});
    assert_eq!(
        cells(
            "namespaces",
            ResourceKind::Namespace,
            json!({"metadata": meta, "status": {"phase": "Active"}})
        ),
        ["x", "Active", "65s"]
    );
    assert_eq!(
        cells(
            "namespaces",
            ResourceKind::Namespace,
            json!({"metadata": meta, "status": {"phase": "Terminating"}})
        )[1],
        "Terminating"
    );
    assert_eq!(
        cells(
            "serviceaccounts",
            ResourceKind::ServiceAccount,
            json!({"metadata": meta})
        ),
        ["x", "#0", "65s"]
    );
    assert_eq!(
        cells(
            "serviceaccounts",
            ResourceKind::ServiceAccount,
            json!({"metadata": meta, "secrets": [{"name": "t"}]})
        )[1],
        "#1"
    );
    let cm = json!({"metadata": meta, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
    assert_eq!(
        cells("configmaps", ResourceKind::ConfigMap, cm),
        ["x", "#3", "65s"]
    );
    let secret = json!({"metadata": meta, "type": "Opaque", "data": {"a": "MQ=="}, "stringData": {"a": "1", "b": "2"}});
    assert_eq!(
        cells("secrets", ResourceKind::Secret, secret),
        ["x", "Opaque", "#2", "65s"]
    );
    let token = json!({"metadata": meta, "type": "kubernetes.io/service-account-token"});
    assert_eq!(
        cells("secrets", ResourceKind::Secret, token)[1..3],
        ["kubernetes.io/service-account-token", "#0"]
    );
}

#[test]
fn resource_quotas_split_requests_and_limits_in_name_order() {
    let quota = json!({"metadata": {"name": "q", "creationTimestamp": ago(10)},
        "status": {
            "hard": {"pods": "10", "cpu": "1", "memory": "1Gi", "limits.cpu": "2", "limits.memory": "2048Mi",
                     "requests.memory": "500Mi", "count/jobs.batch": "5", "limitsx": "3"},
            "used": {"pods": "2", "cpu": "500m", "limits.cpu": "1000m", "count/jobs.batch": "1"}}});
    assert_eq!(
        cells("resourcequotas", ResourceKind::ResourceQuota, quota),
        [
            "q",
            "count/jobs.batch: 1/5, cpu: 500m/1, limitsx: 0/3, memory: 0/1Gi, pods: 2/10, requests.memory: 0/500Mi",
            "limits.cpu: 1/2, limits.memory: 0/2Gi",
            "10s"
        ]
    );
    let empty = json!({"metadata": {"name": "q"}});
    assert_eq!(
        cells("resourcequotas", ResourceKind::ResourceQuota, empty),
        ["q", "", "", "<unknown>"]
    );
}

fn pvc(metadata: Value, spec: Value, status: Value) -> Vec<String> {
    cells(
        "persistentvolumeclaims",
        ResourceKind::PersistentVolumeClaim,
        json!({"metadata": metadata, "spec": spec, "status": status}),
    )
}

#[test]
fn persistent_volume_claims_match_upstream() {
    let bound_status = json!({"phase": "Bound", "capacity": {"storage": "4Gi"}, "accessModes": ["ReadOnlyMany", "ReadWriteOnce"]});
    assert_eq!(
        pvc(
            json!({"name": "test1"}),
            json!({"volumeName": "my-volume", "volumeMode": "Block"}),
            bound_status.clone()
        ),
        [
            "test1",
            "Bound",
            "my-volume",
            "4Gi",
            "RWO,ROX",
            "",
            "<unset>",
            "<unknown>",
            "Block"
        ]
    );
    assert_eq!(
        pvc(
            json!({"name": "test2"}),
            json!({"volumeMode": "Filesystem"}),
            json!({"phase": "Lost", "capacity": {"storage": "4Gi"}, "accessModes": ["ReadWriteOnce"]})
        ),
        [
            "test2",
            "Lost",
            "",
            "",
            "",
            "",
            "<unset>",
            "<unknown>",
            "Filesystem"
        ]
    );
    assert_eq!(
        pvc(
            json!({"name": "test3"}),
            json!({"volumeName": "my-volume", "storageClassName": "fast", "volumeAttributesClassName": "gold"}),
            json!({"phase": "Pending", "accessModes": ["ReadWriteMany", "ReadWriteOncePod"]})
        ),
        [
            "test3",
            "Pending",
            "my-volume",
            "0",
            "RWX,RWOP",
            "fast",
            "gold",
            "<unknown>",
            "<unset>"
        ]
    );
    let deleting = json!({"name": "test4", "deletionTimestamp": ago(1),
        "annotations": {"volume.beta.kubernetes.io/storage-class": "beta"}});
    assert_eq!(
        pvc(deleting, json!({"storageClassName": "fast"}), bound_status)[..6],
        ["test4", "Terminating", "", "", "", "beta"]
    );
}

#[test]
fn persistent_volumes_match_upstream() {
    let pv = json!({"metadata": {"name": "pv1", "creationTimestamp": ago(600)},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
                 "claimRef": {"namespace": "ns", "name": "claim"}, "storageClassName": "standard", "volumeMode": "Filesystem"},
        "status": {"phase": "Bound"}});
    assert_eq!(
        cells("persistentvolumes", ResourceKind::PersistentVolume, pv),
        [
            "pv1",
            "10Gi",
            "RWO",
            "Retain",
            "Bound",
            "ns/claim",
            "standard",
            "<unset>",
            "",
            "10m",
            "Filesystem"
        ]
    );
    let bare = json!({"metadata": {"name": "pv2", "deletionTimestamp": ago(1)}, "status": {"phase": "Failed", "reason": "Recycler"}});
    assert_eq!(
        cells("persistentvolumes", ResourceKind::PersistentVolume, bare),
        [
            "pv2",
            "0",
            "",
            "",
            "Terminating",
            "",
            "",
            "<unset>",
            "Recycler",
            "<unknown>",
            "<unset>"
        ]
    );
}
