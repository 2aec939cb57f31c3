//! Discovery documents, built once from the resource table (`corral_api::resource`):
//! `/version`, legacy `/api`, `/apis`, `/apis/{g}`, `/api/v1`, `/apis/{g}/{v}`, and
//! aggregated discovery (`apidiscovery.k8s.io` v2 and v2beta1, same JSON shape) for
//! `/api` and `/apis`.

use std::collections::BTreeMap;

use corral_api::ResourceInfo;
use corral_api::meta_types::{
    ApiGroupDiscovery, ApiGroupDiscoveryList, ApiResourceDiscovery, ApiSubresourceDiscovery,
    ApiVersionDiscovery, GroupVersionKind,
};
use corral_api::resource::SubresourceInfo;
use corral_api::resource::{all_resources, group_versions};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use crate::http::negotiate::DiscoveryFormat;

/// `/version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": crate::KUBERNETES_MINOR,
        "gitVersion": crate::git_version(),
        "gitCommit": option_env!("CORRAL_GIT_COMMIT").unwrap_or("unknown"),
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    })
}

/// Go's name of the CPU architecture.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

fn resources_of<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ResourceInfo> + 'a {
    all_resources()
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

fn group_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for (group, _) in group_versions() {
        if !group.is_empty() && !names.contains(&group) {
            names.push(group);
        }
    }
    names
}

fn versions_of(group: &str) -> Vec<&'static str> {
    group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(_, v)| v)
        .collect()
}

/// `/api`: `APIVersions`.
pub fn legacy_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": versions_of(""),
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_value(group: &str) -> Value {
    let versions: Vec<Value> = versions_of(group)
        .into_iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": versions, "preferredVersion": preferred})
}

/// `/apis`: `APIGroupList`.
pub fn group_list() -> Value {
    let groups: Vec<Value> = group_names().into_iter().map(group_value).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{g}`: `APIGroup`; `None` for an unknown group.
pub fn group(name: &str) -> Option<Value> {
    if name.is_empty() || !group_names().contains(&name) {
        return None;
    }
    let mut value = group_value(name);
    value["kind"] = json!("APIGroup");
    value["apiVersion"] = json!("v1");
    Some(value)
}

fn subresource_entry(resource: &ResourceInfo, sub: &SubresourceInfo) -> Value {
    let mut entry = json!({
        "name": format!("{}/{}", resource.resource, sub.name),
        "singularName": "",
        "namespaced": resource.namespaced,
        "kind": sub.kind,
        "verbs": sub.verbs,
    });
    if let (Some(group), Some(version)) = (sub.group, sub.version) {
        entry["group"] = json!(group);
        entry["version"] = json!(version);
    }
    entry
}

/// `/api/v1`, `/apis/{g}/{v}`: `APIResourceList`; `None` for an unknown group-version.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut entries = Vec::new();
    for resource in resources_of(group, version) {
        let mut entry = json!({
            "name": resource.resource,
            "singularName": resource.singular,
            "namespaced": resource.namespaced,
            "kind": resource.kind,
            "verbs": resource.verbs,
        });
        if !resource.short_names.is_empty() {
            entry["shortNames"] = json!(resource.short_names);
        }
        if !resource.categories.is_empty() {
            entry["categories"] = json!(resource.categories);
        }
        entries.push(entry);
        entries.extend(
            resource
                .subresources
                .iter()
                .map(|s| subresource_entry(resource, s)),
        );
    }
    if entries.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": entries}),
    )
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn resource_discovery(resource: &ResourceInfo) -> ApiResourceDiscovery {
    let kind = |group: &str, version: &str, kind: &str| GroupVersionKind {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
    };
    ApiResourceDiscovery {
        resource: resource.resource.into(),
        response_kind: kind(resource.group, resource.version, resource.kind),
        scope: if resource.namespaced {
            "Namespaced"
        } else {
            "Cluster"
        }
        .into(),
        singular_resource: resource.singular.into(),
        verbs: strings(resource.verbs),
        short_names: strings(resource.short_names),
        categories: strings(resource.categories),
        subresources: resource
            .subresources
            .iter()
            .map(|s| ApiSubresourceDiscovery {
                subresource: s.name.into(),
                response_kind: kind(
                    s.group.unwrap_or(resource.group),
                    s.version.unwrap_or(resource.version),
                    s.kind,
                ),
                verbs: strings(s.verbs),
            })
            .collect(),
    }
}

fn group_discovery(group: &str) -> ApiGroupDiscovery {
    let versions = versions_of(group)
        .into_iter()
        .map(|version| ApiVersionDiscovery {
            version: version.into(),
            resources: resources_of(group, version)
                .map(resource_discovery)
                .collect(),
            freshness: "Current".into(),
        })
        .collect();
    ApiGroupDiscovery {
        metadata: ObjectMeta {
            name: Some(group.into()),
            ..ObjectMeta::default()
        },
        versions,
    }
}

/// Aggregated discovery for `/api` (`core`) or `/apis`.
pub fn aggregated(core: bool, format: DiscoveryFormat) -> Value {
    let items = if core {
        vec![group_discovery("")]
    } else {
        group_names().into_iter().map(group_discovery).collect()
    };
    let list = ApiGroupDiscoveryList {
        kind: "APIGroupDiscoveryList".into(),
        api_version: format.api_version().into(),
        metadata: Default::default(),
        items,
    };
    serde_json::to_value(list).unwrap_or(Value::Null)
}

/// Every discovery document, encoded once.
#[derive(Clone, Debug)]
pub struct DiscoveryDocuments {
    pub version: Vec<u8>,
    pub legacy_versions: Vec<u8>,
    pub group_list: Vec<u8>,
    pub groups: BTreeMap<String, Vec<u8>>,
    pub resource_lists: BTreeMap<(String, String), Vec<u8>>,
    /// (core?, format) → aggregated list.
    pub aggregated: BTreeMap<(bool, &'static str), Vec<u8>>,
}

fn encode(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

impl DiscoveryDocuments {
    pub fn build(server_address: &str) -> DiscoveryDocuments {
        let mut groups = BTreeMap::new();
        for name in group_names() {
            if let Some(value) = group(name) {
                groups.insert(name.to_string(), encode(&value));
            }
        }
        let mut resource_lists = BTreeMap::new();
        for (group, version) in group_versions() {
            if let Some(value) = resource_list(group, version) {
                resource_lists.insert((group.to_string(), version.to_string()), encode(&value));
            }
        }
        let mut aggregated_docs = BTreeMap::new();
        for core in [true, false] {
            for format in [
                DiscoveryFormat::AggregatedV2,
                DiscoveryFormat::AggregatedV2Beta1,
            ] {
                aggregated_docs.insert(
                    (core, format.content_type()),
                    encode(&aggregated(core, format)),
                );
            }
        }
        DiscoveryDocuments {
            version: encode(&version()),
            legacy_versions: encode(&legacy_versions(server_address)),
            group_list: encode(&group_list()),
            groups,
            resource_lists,
            aggregated: aggregated_docs,
        }
    }

    /// `/api` or `/apis` in the negotiated format.
    pub fn root(&self, core: bool, format: DiscoveryFormat) -> &[u8] {
        match format {
            DiscoveryFormat::Legacy if core => &self.legacy_versions,
            DiscoveryFormat::Legacy => &self.group_list,
            _ => self
                .aggregated
                .get(&(core, format.content_type()))
                .map_or(&[][..], Vec::as_slice),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_resource_list_advertises_pod_eviction_in_policy() {
        let list = resource_list("", "v1").unwrap();
        let eviction = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "pods/eviction")
            .unwrap();
        assert_eq!(eviction["group"], "policy");
        assert_eq!(eviction["version"], "v1");
        assert_eq!(eviction["kind"], "Eviction");
        let pods = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "pods")
            .unwrap();
        assert_eq!(pods["shortNames"][0], "po");
        assert_eq!(pods["categories"][0], "all");
    }

    #[test]
    fn aggregated_lists_carry_the_requested_version() {
        let v2beta1 = aggregated(false, DiscoveryFormat::AggregatedV2Beta1);
        assert_eq!(v2beta1["apiVersion"], "apidiscovery.k8s.io/v2beta1");
        let batch = v2beta1["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["metadata"]["name"] == "batch")
            .unwrap();
        let jobs = &batch["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "jobs")
            .unwrap()
            .clone();
        assert_eq!(jobs["scope"], "Namespaced");
        assert_eq!(jobs["responseKind"]["kind"], "Job");
        let core = aggregated(true, DiscoveryFormat::AggregatedV2);
        assert_eq!(core["items"][0]["metadata"]["name"], "");
    }

    #[test]
    fn version_reports_minor_32() {
        let v = version();
        assert_eq!(v["major"], "1");
        assert_eq!(v["minor"], "32");
        assert!(
            v["gitVersion"]
                .as_str()
                .unwrap()
                .starts_with("v1.32.0-corral.")
        );
    }
}
