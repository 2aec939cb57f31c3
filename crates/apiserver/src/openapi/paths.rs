//! The `paths` of a per-group-version OpenAPI v3 document, built from the resource table
//! like upstream's: one entry per collection, object and subresource URL, each operation
//! with `x-kubernetes-action` and `x-kubernetes-group-version-kind`, and inline query
//! parameters (kubectl's field-validation verifier looks for an inline `fieldValidation`
//! parameter on the PATCH operation of the kind it writes).
//!
//! PATCH request bodies list JSON patch, merge patch and apply patch, but deliberately not
//! `application/strategic-merge-patch+json`: kubectl computes strategic patches from v3
//! schemas only when that type is listed, and the schemas carry no patch-merge-key
//! extensions; without it kubectl uses its compiled-in types, which are right for every
//! built-in kind Corral serves.

use corral_api::ResourceInfo;
use corral_api::resource::all_resources;
use serde_json::{Map, Value, json};

/// The `components.schemas` name of a served kind (`io.k8s.api.batch.v1.Job`), as
/// k8s-openapi and upstream name them.
pub fn schema_name(group: &str, version: &str, kind: &str) -> String {
    let package = match group {
        "" => "core",
        other => other.split('.').next().unwrap_or(other),
    };
    format!("io.k8s.api.{package}.{version}.{kind}")
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// `Batch`, `AdmissionregistrationV1`… as upstream's operation ids spell groups.
fn group_camel(group: &str, version: &str) -> String {
    let group = if group.is_empty() {
        "core"
    } else {
        group.trim_end_matches(".k8s.io")
    };
    let mut out = String::new();
    for part in group.split('.').chain(std::iter::once(version)) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

fn query(name: &str, type_: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": type_, "uniqueItems": true}})
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

const DRY_RUN: &str = "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed";
const FIELD_MANAGER: &str =
    "fieldManager is a name associated with the actor or entity that is making these changes.";
const FIELD_VALIDATION: &str = "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn (the default) - Strict";

fn write_params() -> Vec<Value> {
    vec![
        query("dryRun", "string", DRY_RUN),
        query("fieldManager", "string", FIELD_MANAGER),
        query("fieldValidation", "string", FIELD_VALIDATION),
    ]
}

fn list_params() -> Vec<Value> {
    [
        ("allowWatchBookmarks", "boolean"),
        ("continue", "string"),
        ("fieldSelector", "string"),
        ("labelSelector", "string"),
        ("limit", "integer"),
        ("resourceVersion", "string"),
        ("resourceVersionMatch", "string"),
        ("timeoutSeconds", "integer"),
        ("watch", "boolean"),
    ]
    .into_iter()
    .map(|(name, type_)| query(name, type_, ""))
    .collect()
}

fn delete_params() -> Vec<Value> {
    vec![
        query("dryRun", "string", DRY_RUN),
        query("gracePeriodSeconds", "integer", ""),
        query("propagationPolicy", "string", ""),
    ]
}

fn content(schema: &str, types: &[&str]) -> Value {
    let map: Map<String, Value> = types
        .iter()
        .map(|t| (t.to_string(), json!({"schema": schema_ref(schema)})))
        .collect();
    Value::Object(map)
}

/// One operation.
struct Op<'a> {
    action: &'a str,
    id_verb: &'a str,
    namespaced: bool,
    kind_suffix: &'a str,
    params: Vec<Value>,
    request: Option<Value>,
    response: &'a str,
}

fn operation(resource: &ResourceInfo, op: Op<'_>) -> Value {
    let scope = if op.namespaced { "Namespaced" } else { "" };
    let mut value = json!({
        "operationId": format!("{}{}{scope}{}{}", op.id_verb, group_camel(resource.group, resource.version), resource.kind, op.kind_suffix),
        "parameters": op.params,
        "responses": {
            "200": {"description": "OK", "content": content(op.response, &["application/json", "application/yaml"])},
            "401": {"description": "Unauthorized"}
        },
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": {"group": resource.group, "version": resource.version, "kind": resource.kind},
    });
    if let Some(request) = op.request {
        value["requestBody"] = json!({"content": request, "required": true});
    }
    value
}

fn patch_body() -> Value {
    content(
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
        &[
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
        ],
    )
}

fn prefix(resource: &ResourceInfo) -> String {
    if resource.group.is_empty() {
        format!("/api/{}", resource.version)
    } else {
        format!("/apis/{}/{}", resource.group, resource.version)
    }
}

/// Builds the paths of one resource.
struct ResourcePaths<'a> {
    resource: &'a ResourceInfo,
    kind: String,
    list_kind: String,
    /// `/api/v1/namespaces/{namespace}/pods` or `/api/v1/nodes`.
    base: String,
    /// Path-level parameters shared by every path of the resource.
    scope_params: Vec<Value>,
}

impl<'a> ResourcePaths<'a> {
    fn new(resource: &'a ResourceInfo) -> Self {
        let kind = schema_name(resource.group, resource.version, resource.kind);
        let mut scope_params = vec![query("pretty", "string", "")];
        let base = if resource.namespaced {
            let scope = "object name and auth scope, such as for teams and projects";
            scope_params.insert(0, path_param("namespace", scope));
            format!(
                "{}/namespaces/{{namespace}}/{}",
                prefix(resource),
                resource.resource
            )
        } else {
            format!("{}/{}", prefix(resource), resource.resource)
        };
        ResourcePaths {
            resource,
            list_kind: format!("{kind}List"),
            kind,
            base,
            scope_params,
        }
    }

    fn op<'o>(
        &'o self,
        action: &'o str,
        id_verb: &'o str,
        params: Vec<Value>,
        request: Option<Value>,
        response: &'o str,
    ) -> Value {
        let op = Op {
            action,
            id_verb,
            namespaced: self.resource.namespaced,
            kind_suffix: "",
            params,
            request,
            response,
        };
        operation(self.resource, op)
    }

    fn named_params(&self) -> Vec<Value> {
        let mut params = self.scope_params.clone();
        params.insert(
            0,
            path_param("name", &format!("name of the {}", self.resource.kind)),
        );
        params
    }

    /// List, create and delete-collection on the collection URL.
    fn collection(&self) -> Value {
        let mut collection = json!({"parameters": self.scope_params});
        if self.resource.allows("list") {
            collection["get"] = self.op("list", "list", list_params(), None, &self.list_kind);
        }
        if self.resource.allows("create") {
            let body = Some(content(&self.kind, &["*/*"]));
            collection["post"] = self.op("post", "create", write_params(), body, &self.kind);
        }
        if self.resource.allows("deletecollection") {
            let mut params = delete_params();
            params.extend(list_params());
            let status = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
            collection["delete"] =
                self.op("deletecollection", "deleteCollection", params, None, status);
        }
        collection
    }

    /// Get, replace, patch and delete on the object URL.
    fn object(&self) -> Value {
        let mut object = json!({"parameters": self.named_params()});
        let verbs: [(&str, &str, &str, Vec<Value>, Option<Value>); 4] = [
            ("get", "get", "read", Vec::new(), None),
            (
                "update",
                "put",
                "replace",
                write_params(),
                Some(content(&self.kind, &["*/*"])),
            ),
            (
                "patch",
                "patch",
                "patch",
                write_params(),
                Some(patch_body()),
            ),
            ("delete", "delete", "delete", delete_params(), None),
        ];
        for (verb, method, id_verb, params, request) in verbs {
            if self.resource.allows(verb) {
                object[method] = self.op(verb, id_verb, params, request, &self.kind);
            }
        }
        object
    }

    /// Read, replace and patch of the status subresource.
    fn status(&self) -> Value {
        let op = |action, id_verb, params, request| {
            let op = Op {
                action,
                id_verb,
                namespaced: self.resource.namespaced,
                kind_suffix: "Status",
                params,
                request,
                response: &self.kind,
            };
            operation(self.resource, op)
        };
        json!({
            "parameters": self.named_params(),
            "get": op("get", "read", Vec::new(), None),
            "put": op("put", "replace", write_params(), Some(content(&self.kind, &["*/*"]))),
            "patch": op("patch", "patch", write_params(), Some(patch_body())),
        })
    }

    /// The list across namespaces of a namespaced resource.
    fn all_namespaces(&self) -> Value {
        let list = Op {
            action: "list",
            id_verb: "list",
            namespaced: false,
            kind_suffix: "ForAllNamespaces",
            params: list_params(),
            request: None,
            response: &self.list_kind,
        };
        json!({"parameters": [query("pretty", "string", "")], "get": operation(self.resource, list)})
    }
}

/// The paths of one resource (collection, object, status; for namespaced resources also
/// the all-namespaces list).
fn resource_paths(resource: &ResourceInfo, paths: &mut Map<String, Value>) {
    let builder = ResourcePaths::new(resource);
    paths.insert(builder.base.clone(), builder.collection());
    if resource.allows("get") || resource.allows("patch") {
        paths.insert(format!("{}/{{name}}", builder.base), builder.object());
    }
    if resource.subresource("status").is_some() {
        paths.insert(
            format!("{}/{{name}}/status", builder.base),
            builder.status(),
        );
    }
    if resource.namespaced && resource.allows("list") {
        paths.insert(
            format!("{}/{}", prefix(resource), resource.resource),
            builder.all_namespaces(),
        );
    }
}

/// The `paths` object of the document for one group-version.
pub fn paths(group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    for resource in all_resources()
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        resource_paths(resource, &mut paths);
    }
    Value::Object(paths)
}

/// The document key of a group-version (`api/v1`, `apis/batch/v1`).
pub fn document_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The kinds whose schemas a group-version document needs (its resources' kinds and list
/// kinds), as (schema name, group, version, kind).
pub fn document_kinds(group: &str, version: &str) -> Vec<(String, String)> {
    let mut kinds = Vec::new();
    for resource in all_resources()
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        kinds.push((
            schema_name(group, version, resource.kind),
            resource.kind.to_string(),
        ));
        if resource.allows("list") {
            kinds.push((
                schema_name(group, version, &format!("{}List", resource.kind)),
                format!("{}List", resource.kind),
            ));
        }
    }
    kinds.sort();
    kinds.dedup();
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_patch_carries_gvk_and_an_inline_field_validation_parameter() {
        let paths = paths("batch", "v1");
        let patch = &paths["/apis/batch/v1/namespaces/{namespace}/jobs/{name}"]["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Job");
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(
            patch["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_none()
        );
        assert_eq!(patch["operationId"], "patchBatchV1NamespacedJob");
    }

    #[test]
    fn core_and_cluster_scoped_paths() {
        let paths = paths("", "v1");
        assert!(paths.get("/api/v1/nodes/{name}").is_some());
        assert!(
            paths
                .get("/api/v1/namespaces/{namespace}/pods/{name}/status")
                .is_some()
        );
        assert!(paths.get("/api/v1/pods").is_some());
        assert_eq!(schema_name("", "v1", "Pod"), "io.k8s.api.core.v1.Pod");
        assert_eq!(
            schema_name("admissionregistration.k8s.io", "v1", "X"),
            "io.k8s.api.admissionregistration.v1.X"
        );
    }
}
