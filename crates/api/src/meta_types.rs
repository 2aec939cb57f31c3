//! API types that k8s-openapi does not generate because they are not in upstream's
//! OpenAPI document: `meta.k8s.io/v1` Table and PartialObjectMetadata, and
//! `apidiscovery.k8s.io/v2` aggregated discovery.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::{Deserialize, Serialize};

/// `meta.k8s.io/v1` Table: what `kubectl get` prints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    pub kind: String,
    pub api_version: String,
    pub metadata: ListMeta,
    pub column_definitions: Vec<TableColumnDefinition>,
    pub rows: Vec<TableRow>,
}

impl Table {
    pub fn new(columns: Vec<TableColumnDefinition>, rows: Vec<TableRow>) -> Table {
        Table {
            kind: "Table".into(),
            api_version: "meta.k8s.io/v1".into(),
            metadata: ListMeta::default(),
            column_definitions: columns,
            rows,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableColumnDefinition {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i32,
}

impl TableColumnDefinition {
    pub fn new(name: &str, type_: &str, format: &str, description: &str, priority: i32) -> Self {
        TableColumnDefinition {
            name: name.into(),
            type_: type_.into(),
            format: format.into(),
            description: description.into(),
            priority,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableRow {
    pub cells: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<TableRowCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableRowCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `meta.k8s.io/v1` PartialObjectMetadata: a Table row's object by default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartialObjectMetadata {
    pub kind: String,
    pub api_version: String,
    pub metadata: ObjectMeta,
}

impl PartialObjectMetadata {
    pub fn new(metadata: ObjectMeta) -> Self {
        PartialObjectMetadata {
            kind: "PartialObjectMetadata".into(),
            api_version: "meta.k8s.io/v1".into(),
            metadata,
        }
    }
}

/// `apidiscovery.k8s.io/v2` (and v2beta1, same shape) APIGroupDiscoveryList.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiGroupDiscoveryList {
    pub kind: String,
    pub api_version: String,
    pub metadata: ListMeta,
    pub items: Vec<ApiGroupDiscovery>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiGroupDiscovery {
    pub metadata: ObjectMeta,
    pub versions: Vec<ApiVersionDiscovery>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiVersionDiscovery {
    pub version: String,
    pub resources: Vec<ApiResourceDiscovery>,
    pub freshness: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiResourceDiscovery {
    pub resource: String,
    pub response_kind: GroupVersionKind,
    pub scope: String,
    pub singular_resource: String,
    pub verbs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub short_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subresources: Vec<ApiSubresourceDiscovery>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiSubresourceDiscovery {
    pub subresource: String,
    pub response_kind: GroupVersionKind,
    pub verbs: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupVersionKind {
    pub group: String,
    pub version: String,
    pub kind: String,
}
