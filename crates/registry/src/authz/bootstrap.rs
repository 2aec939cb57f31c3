//! The bootstrap RBAC policy (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go`),
//! restricted to the roles Corral's users need and to rules over resources Corral serves
//! (apps, autoscaling, extensions, networking and discovery rules are left out):
//!
//! - `cluster-admin` (everything), bound to the group `system:masters`;
//! - the aggregated `admin`, `edit`, `view` with their `system:aggregate-to-*` parts,
//!   labelled exactly as upstream so user roles can aggregate into them;
//! - `system:basic-user` (self reviews) and `system:discovery` (discovery URLs), bound to
//!   `system:authenticated`; `system:public-info-viewer` (health and version), bound to
//!   `system:authenticated` and `system:unauthenticated`.
//!
//! The API server stores these objects at start-up (creating missing ones) like upstream's
//! bootstrap reconciler; tests and the simulator can use [`super::StaticRbac::with_bootstrap`].

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{
    AggregationRule, ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::user::{ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, SYSTEM_PRIVILEGED_GROUP};

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
pub const AGGREGATE_TO_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
pub const AGGREGATE_TO_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
pub const AGGREGATE_TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];
const READ_WRITE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `rbacv1helpers.NewRule(verbs).Groups(group).Resources(resources)`.
fn rule(verbs: &[&str], group: &str, resources: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(strings(resources)),
        verbs: strings(verbs),
        ..PolicyRule::default()
    }
}

/// `rbacv1helpers.NewRule(verbs).URLs(urls)`.
fn url_rule(verbs: &[&str], urls: &[&str]) -> PolicyRule {
    PolicyRule {
        non_resource_urls: Some(strings(urls)),
        verbs: strings(verbs),
        ..PolicyRule::default()
    }
}

fn bootstrap_meta(name: &str, extra_labels: &[(&str, &str)]) -> ObjectMeta {
    let mut labels = BTreeMap::from([(
        "kubernetes.io/bootstrapping".to_string(),
        "rbac-defaults".to_string(),
    )]);
    for (k, v) in extra_labels {
        labels.insert(k.to_string(), v.to_string());
    }
    ObjectMeta {
        name: Some(name.to_string()),
        labels: Some(labels),
        annotations: Some(BTreeMap::from([(
            "rbac.authorization.kubernetes.io/autoupdate".to_string(),
            "true".to_string(),
        )])),
        ..ObjectMeta::default()
    }
}

fn role(name: &str, labels: &[(&str, &str)], rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: bootstrap_meta(name, labels),
        rules: Some(rules),
        aggregation_rule: None,
    }
}

fn aggregated(name: &str, labels: &[(&str, &str)], selects: &str) -> ClusterRole {
    ClusterRole {
        metadata: bootstrap_meta(name, labels),
        rules: Some(Vec::new()),
        aggregation_rule: Some(AggregationRule {
            cluster_role_selectors: Some(vec![LabelSelector {
                match_labels: Some(BTreeMap::from([(selects.to_string(), "true".to_string())])),
                match_expressions: None,
            }]),
        }),
    }
}

/// The bootstrap ClusterRoles.
pub fn cluster_roles() -> Vec<ClusterRole> {
    vec![
        role(
            "cluster-admin",
            &[],
            vec![rule(&["*"], "*", &["*"]), url_rule(&["*"], &["*"])],
        ),
        role(
            "system:discovery",
            &[],
            vec![url_rule(
                &["get"],
                &[
                    "/livez",
                    "/readyz",
                    "/healthz",
                    "/version",
                    "/version/",
                    "/openapi",
                    "/openapi/*",
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                ],
            )],
        ),
        role(
            "system:basic-user",
            &[],
            vec![
                rule(
                    &["create"],
                    "authorization.k8s.io",
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                rule(
                    &["create"],
                    "authentication.k8s.io",
                    &["selfsubjectreviews"],
                ),
            ],
        ),
        role(
            "system:public-info-viewer",
            &[],
            vec![url_rule(
                &["get"],
                &["/livez", "/readyz", "/healthz", "/version", "/version/"],
            )],
        ),
        aggregated("admin", &[], AGGREGATE_TO_ADMIN),
        aggregated("edit", &[(AGGREGATE_TO_ADMIN, "true")], AGGREGATE_TO_EDIT),
        aggregated("view", &[(AGGREGATE_TO_EDIT, "true")], AGGREGATE_TO_VIEW),
        role(
            "system:aggregate-to-admin",
            &[(AGGREGATE_TO_ADMIN, "true")],
            vec![
                rule(
                    &["create"],
                    "authorization.k8s.io",
                    &["localsubjectaccessreviews"],
                ),
                rule(READ_WRITE, RBAC_GROUP, &["roles", "rolebindings"]),
            ],
        ),
        role(
            "system:aggregate-to-edit",
            &[(AGGREGATE_TO_EDIT, "true")],
            vec![
                rule(
                    READ,
                    "",
                    &[
                        "pods/attach",
                        "pods/proxy",
                        "pods/exec",
                        "pods/portforward",
                        "secrets",
                        "services/proxy",
                    ],
                ),
                rule(&["impersonate"], "", &["serviceaccounts"]),
                rule(
                    WRITE,
                    "",
                    &[
                        "pods",
                        "pods/attach",
                        "pods/proxy",
                        "pods/exec",
                        "pods/portforward",
                    ],
                ),
                rule(
                    WRITE,
                    "",
                    &[
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/proxy",
                        "endpoints",
                        "persistentvolumeclaims",
                        "configmaps",
                        "secrets",
                    ],
                ),
                rule(WRITE, "batch", &["jobs", "cronjobs"]),
                rule(WRITE, "policy", &["poddisruptionbudgets"]),
            ],
        ),
        role(
            "system:aggregate-to-view",
            &[(AGGREGATE_TO_VIEW, "true")],
            vec![
                rule(
                    READ,
                    "",
                    &[
                        "pods",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/status",
                        "endpoints",
                        "persistentvolumeclaims",
                        "persistentvolumeclaims/status",
                        "configmaps",
                    ],
                ),
                rule(
                    READ,
                    "",
                    &[
                        "limitranges",
                        "resourcequotas",
                        "bindings",
                        "events",
                        "pods/status",
                        "resourcequotas/status",
                        "namespaces/status",
                        "replicationcontrollers/status",
                        "pods/log",
                    ],
                ),
                rule(READ, "", &["namespaces"]),
                rule(
                    READ,
                    "batch",
                    &["jobs", "cronjobs", "cronjobs/status", "jobs/status"],
                ),
                rule(
                    READ,
                    "policy",
                    &["poddisruptionbudgets", "poddisruptionbudgets/status"],
                ),
            ],
        ),
    ]
}

fn group_subject(name: &str) -> Subject {
    Subject {
        api_group: Some(RBAC_GROUP.to_string()),
        kind: "Group".to_string(),
        name: name.to_string(),
        namespace: None,
    }
}

fn binding(role: &str, groups: &[&str]) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: bootstrap_meta(role, &[]),
        role_ref: RoleRef {
            api_group: Some(RBAC_GROUP.to_string()),
            kind: "ClusterRole".to_string(),
            name: role.to_string(),
        },
        subjects: Some(groups.iter().map(|g| group_subject(g)).collect()),
    }
}

/// The bootstrap ClusterRoleBindings.
pub fn cluster_role_bindings() -> Vec<ClusterRoleBinding> {
    vec![
        binding("cluster-admin", &[SYSTEM_PRIVILEGED_GROUP]),
        binding("system:discovery", &[ALL_AUTHENTICATED]),
        binding("system:basic-user", &[ALL_AUTHENTICATED]),
        binding(
            "system:public-info-viewer",
            &[ALL_AUTHENTICATED, ALL_UNAUTHENTICATED],
        ),
    ]
}
