//! Nodes: upstream `printNode` (`pkg/printers/internalversion/printers.go`).

use std::collections::BTreeSet;

use corral_api::KubeObject;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, NodeStatus, NodeSystemInfo};

use crate::descriptions as doc;
use crate::format::{self, string};
use crate::table::{AGE, Cells, Column, NAME, Printer};

/// `labelNodeRolePrefix`: `node-role.kubernetes.io/<role>` labels name roles.
const LABEL_NODE_ROLE_PREFIX: &str = "node-role.kubernetes.io/";
/// `nodeLabelRole`: the older `kubernetes.io/role=<role>` label.
const NODE_LABEL_ROLE: &str = "kubernetes.io/role";

const COLUMNS: &[Column] = &[
    NAME,
    Column::string("Status", "The status of the node"),
    Column::string("Roles", "The roles of the node"),
    AGE,
    Column::string("Version", doc::NODE_SYSTEM_INFO_KUBELET_VERSION),
    Column::string("Internal-IP", doc::NODE_STATUS_ADDRESSES).wide(),
    Column::string("External-IP", doc::NODE_STATUS_ADDRESSES).wide(),
    Column::string("OS-Image", doc::NODE_SYSTEM_INFO_OS_IMAGE).wide(),
    Column::string("Kernel-Version", doc::NODE_SYSTEM_INFO_KERNEL_VERSION).wide(),
    Column::string(
        "Container-Runtime",
        doc::NODE_SYSTEM_INFO_CONTAINER_RUNTIME_VERSION,
    )
    .wide(),
];

pub(crate) const PRINTER: Printer = Printer {
    columns: COLUMNS,
    cells: node_cells,
};

/// Upstream `printNode`.
fn node_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let node = object.as_typed::<Node>()?;
    let default_status = NodeStatus::default();
    let default_info = NodeSystemInfo::default();
    let status = node.status.as_ref().unwrap_or(&default_status);
    let info = status.node_info.as_ref().unwrap_or(&default_info);
    let roles = find_node_roles(node)
        .into_iter()
        .collect::<Vec<_>>()
        .join(",");
    Some(Cells::new(vec![
        format::name(&node.metadata),
        string(node_status(node, status)),
        string(format::or(&roles, "<none>")),
        format::age(&node.metadata, now),
        string(info.kubelet_version.clone()),
        string(first_address(status, "InternalIP")),
        string(first_address(status, "ExternalIP")),
        string(format::or(&info.os_image, "<unknown>")),
        string(format::or(&info.kernel_version, "<unknown>")),
        string(format::or(&info.container_runtime_version, "<unknown>")),
    ]))
}

/// STATUS: `Ready`/`NotReady` from the Ready condition (the last one listed wins, as in
/// upstream's condition map), `Unknown` without one, then `SchedulingDisabled` for a
/// cordoned node.
fn node_status(node: &Node, status: &NodeStatus) -> String {
    let ready = status
        .conditions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .rev()
        .find(|c| c.type_ == "Ready");
    let mut parts = vec![match ready {
        Some(c) if c.status == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        parts.push("SchedulingDisabled");
    }
    parts.join(",")
}

/// Upstream `findNodeRoles`: the sorted set of `node-role.kubernetes.io/<role>` suffixes
/// and non-empty `kubernetes.io/role` values.
fn find_node_roles(node: &Node) -> BTreeSet<String> {
    let mut roles = BTreeSet::new();
    for (key, value) in node.metadata.labels.iter().flatten() {
        if let Some(role) = key.strip_prefix(LABEL_NODE_ROLE_PREFIX) {
            if !role.is_empty() {
                roles.insert(role.to_string());
            }
        } else if key == NODE_LABEL_ROLE && !value.is_empty() {
            roles.insert(value.clone());
        }
    }
    roles
}

/// Upstream `getNodeInternalIP` and `getNodeExternalIP`: the first address of the type.
fn first_address(status: &NodeStatus, type_: &str) -> String {
    status
        .addresses
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|a| a.type_ == type_)
        .map_or_else(|| "<none>".to_string(), |a| a.address.clone())
}
