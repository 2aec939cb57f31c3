//! RoleBindings and ClusterRoleBindings: upstream `printRoleBinding` and
//! `printClusterRoleBinding` (`pkg/printers/internalversion/printers.go`). Roles and
//! ClusterRoles have no upstream printer and use the default table.

use corral_api::KubeObject;
use jiff::Timestamp;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::descriptions as doc;
use crate::format::{self, string};
use crate::table::{AGE, Cells, Column, NAME, Printer};

const ROLE_BINDING_COLUMNS: &[Column] = &[
    NAME,
    Column::string("Role", doc::ROLE_BINDING_ROLE_REF),
    AGE,
    Column::string("Users", "Users in the roleBinding").wide(),
    Column::string("Groups", "Groups in the roleBinding").wide(),
    Column::string("ServiceAccounts", "ServiceAccounts in the roleBinding").wide(),
];

pub(crate) const ROLE_BINDING_PRINTER: Printer = Printer {
    columns: ROLE_BINDING_COLUMNS,
    cells: role_binding_cells,
};

const CLUSTER_ROLE_BINDING_COLUMNS: &[Column] = &[
    NAME,
    Column::string("Role", doc::CLUSTER_ROLE_BINDING_ROLE_REF),
    AGE,
    Column::string("Users", "Users in the clusterRoleBinding").wide(),
    Column::string("Groups", "Groups in the clusterRoleBinding").wide(),
    Column::string(
        "ServiceAccounts",
        "ServiceAccounts in the clusterRoleBinding",
    )
    .wide(),
];

pub(crate) const CLUSTER_ROLE_BINDING_PRINTER: Printer = Printer {
    columns: CLUSTER_ROLE_BINDING_COLUMNS,
    cells: cluster_role_binding_cells,
};

/// Upstream `printRoleBinding`.
fn role_binding_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let binding = object.as_typed::<RoleBinding>()?;
    Some(binding_cells(
        &binding.metadata,
        &binding.role_ref,
        binding.subjects.as_deref(),
        now,
    ))
}

/// Upstream `printClusterRoleBinding`.
fn cluster_role_binding_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let binding = object.as_typed::<ClusterRoleBinding>()?;
    Some(binding_cells(
        &binding.metadata,
        &binding.role_ref,
        binding.subjects.as_deref(),
        now,
    ))
}

/// NAME, ROLE (`Kind/name`), AGE, then the wide USERS, GROUPS, SERVICEACCOUNTS.
fn binding_cells(
    meta: &ObjectMeta,
    role_ref: &RoleRef,
    subjects: Option<&[Subject]>,
    now: Timestamp,
) -> Cells {
    let (users, groups, service_accounts) = subjects_strings(subjects.unwrap_or_default());
    Cells::new(vec![
        format::name(meta),
        string(format!("{}/{}", role_ref.kind, role_ref.name)),
        format::age(meta, now),
        string(users.join(", ")),
        string(groups.join(", ")),
        string(service_accounts.join(", ")),
    ])
}

/// Upstream `rbac.SubjectsStrings`: user names, group names and `namespace/name` of service
/// accounts (other kinds are dropped from the table).
fn subjects_strings(subjects: &[Subject]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut service_accounts = Vec::new();
    for subject in subjects {
        match subject.kind.as_str() {
            "ServiceAccount" => service_accounts.push(format!(
                "{}/{}",
                format::text(subject.namespace.as_ref()),
                subject.name
            )),
            "User" => users.push(subject.name.clone()),
            "Group" => groups.push(subject.name.clone()),
            _ => {}
        }
    }
    (users, groups, service_accounts)
}
