//! Goal: the printers outside the core group print upstream's cells: role bindings, leases,
//! pod disruption budgets and admission webhook configurations; kinds without an upstream
//! printer (roles, cluster roles, limit ranges, computed resources) get the default table.
//!
//! Method: objects written as JSON, printed through the public API, compared cell by cell
//! with what `printers.go` and `rest/table.go` produce for them.

mod common;

use common::{ago, object, texts};
use corral_api::ResourceKind;
use serde_json::{Value, json};

fn cells(group: &str, plural: &str, kind: ResourceKind, json: Value) -> Vec<String> {
    texts(&common::cells(group, plural, &object(kind, json)))
}

const RBAC: &str = "rbac.authorization.k8s.io";

#[test]
fn role_bindings_list_their_subjects_by_kind() {
    let subjects = json!([
        {"kind": "User", "name": "alice", "apiGroup": RBAC},
        {"kind": "Group", "name": "devs", "apiGroup": RBAC},
        {"kind": "ServiceAccount", "name": "builder", "namespace": "ci"},
        {"kind": "User", "name": "bob", "apiGroup": RBAC},
        {"kind": "Robot", "name": "r2"}]);
    let binding = json!({"metadata": {"name": "rb", "creationTimestamp": ago(3600)},
        "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "edit"}, "subjects": subjects});
    assert_eq!(
        cells(RBAC, "rolebindings", ResourceKind::RoleBinding, binding),
        ["rb", "Role/edit", "60m", "alice, bob", "devs", "ci/builder"]
    );
    let cluster = json!({"metadata": {"name": "crb"}, "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"}});
    assert_eq!(
        cells(
            RBAC,
            "clusterrolebindings",
            ResourceKind::ClusterRoleBinding,
            cluster
        ),
        ["crb", "ClusterRole/view", "<unknown>", "", "", ""]
    );
}

#[test]
fn roles_cluster_roles_and_limit_ranges_use_the_default_table() {
    let created = "2024-05-01T08:30:15Z";
    let meta = json!({"name": "r", "namespace": "ns", "creationTimestamp": created});
    assert_eq!(
        cells(RBAC, "roles", ResourceKind::Role, json!({"metadata": meta})),
        ["r", created]
    );
    assert_eq!(
        cells(
            RBAC,
            "clusterroles",
            ResourceKind::ClusterRole,
            json!({"metadata": {"name": "c"}})
        ),
        ["c", "0001-01-01T00:00:00Z"]
    );
    assert_eq!(
        cells(
            "",
            "limitranges",
            ResourceKind::LimitRange,
            json!({"metadata": meta})
        ),
        ["r", created]
    );
}

#[test]
fn leases_show_their_holder() {
    let held = json!({"metadata": {"name": "node-1", "creationTimestamp": ago(5)}, "spec": {"holderIdentity": "node-1"}});
    assert_eq!(
        cells("coordination.k8s.io", "leases", ResourceKind::Lease, held),
        ["node-1", "node-1", "5s"]
    );
    let free = json!({"metadata": {"name": "l"}, "spec": {}});
    assert_eq!(
        cells("coordination.k8s.io", "leases", ResourceKind::Lease, free),
        ["l", "", "<unknown>"]
    );
}

#[test]
fn pod_disruption_budgets_show_bounds_or_n_a() {
    let pdb = |spec: Value, status: Value| {
        cells(
            "policy",
            "poddisruptionbudgets",
            ResourceKind::PodDisruptionBudget,
            json!({"metadata": {"name": "pdb1", "creationTimestamp": ago(1)}, "spec": spec, "status": status}),
        )
    };
    let status = json!({"disruptionsAllowed": 5, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0});
    assert_eq!(
        pdb(json!({"minAvailable": 22}), status.clone()),
        ["pdb1", "22", "N/A", "#5", "1s"]
    );
    assert_eq!(
        pdb(json!({"maxUnavailable": "10%"}), status),
        ["pdb1", "N/A", "10%", "#5", "1s"]
    );
    assert_eq!(
        pdb(json!({}), json!(null)),
        ["pdb1", "N/A", "N/A", "#0", "1s"]
    );
}

#[test]
fn webhook_configurations_count_their_webhooks() {
    let hook = |name: &str| {
        json!({"name": name, "clientConfig": {"url": "https://example.com"},
        "admissionReviewVersions": ["v1"], "sideEffects": "None"})
    };
    let group = "admissionregistration.k8s.io";
    let mutating = json!({"metadata": {"name": "m", "creationTimestamp": ago(120)}, "webhooks": [hook("a.example.com"), hook("b.example.com")]});
    assert_eq!(
        cells(
            group,
            "mutatingwebhookconfigurations",
            ResourceKind::MutatingWebhookConfiguration,
            mutating
        ),
        ["m", "#2", "2m"]
    );
    let validating = json!({"metadata": {"name": "v"}});
    assert_eq!(
        cells(
            group,
            "validatingwebhookconfigurations",
            ResourceKind::ValidatingWebhookConfiguration,
            validating
        ),
        ["v", "#0", "<unknown>"]
    );
}
