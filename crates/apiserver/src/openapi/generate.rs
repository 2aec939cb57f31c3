//! The OpenAPI schema generator (feature `openapi-gen`; binary `corral-openapi-gen`): JSON
//! schemas of every served kind from k8s-openapi's schemars impls, per group-version, with
//! `x-kubernetes-group-version-kind` on the kinds (kubectl explain looks kinds up by it).
//! The output is `openapi/schemas.json`, checked in and embedded by the server.

use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::paths::{document_key, document_kinds};
use corral_api::resource::group_versions;

/// Adds the schemas of the listed types to a generator.
macro_rules! add {
    ($generator:expr, $($ty:ty),* $(,)?) => {{ $( $generator.subschema_for::<$ty>(); )* }};
}

fn add_types(group: &str, version: &str, generator: &mut SchemaGenerator) {
    use k8s_openapi::api;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
    add!(
        generator,
        meta::Status,
        meta::DeleteOptions,
        meta::Patch,
        meta::ListMeta
    );
    match (group, version) {
        ("", "v1") => {
            use api::core::v1::*;
            add!(generator, Namespace, Node, Pod, Event, ServiceAccount);
            add!(generator, PersistentVolumeClaim, PersistentVolume);
            add!(
                generator,
                ResourceQuota,
                LimitRange,
                ConfigMap,
                Secret,
                Binding
            );
            add!(generator, api::policy::v1::Eviction);
        }
        ("batch", "v1") => add!(generator, api::batch::v1::Job, api::batch::v1::CronJob),
        ("coordination.k8s.io", "v1") => add!(generator, api::coordination::v1::Lease),
        ("events.k8s.io", "v1") => add!(generator, api::events::v1::Event),
        ("policy", "v1") => add!(
            generator,
            api::policy::v1::PodDisruptionBudget,
            api::policy::v1::Eviction
        ),
        ("admissionregistration.k8s.io", "v1") => {
            use api::admissionregistration::v1::*;
            add!(
                generator,
                MutatingWebhookConfiguration,
                ValidatingWebhookConfiguration
            );
        }
        ("rbac.authorization.k8s.io", "v1") => {
            use api::rbac::v1::*;
            add!(
                generator,
                Role,
                ClusterRole,
                RoleBinding,
                ClusterRoleBinding
            );
        }
        ("authorization.k8s.io", "v1") => {
            use api::authorization::v1::*;
            add!(
                generator,
                SelfSubjectAccessReview,
                SelfSubjectRulesReview,
                SubjectAccessReview,
                LocalSubjectAccessReview
            );
        }
        ("authentication.k8s.io", "v1") => add!(
            generator,
            api::authentication::v1::SelfSubjectReview,
            api::authentication::v1::TokenReview
        ),
        _ => {}
    }
}

/// Marks the served kinds with their group-version-kind and drops `metadata` from their
/// `required` list (upstream's documents do not require it).
fn annotate(group: &str, version: &str, schemas: &mut Map<String, Value>) {
    for (name, kind) in document_kinds(group, version) {
        let Some(Value::Object(schema)) = schemas.get_mut(&name) else {
            continue;
        };
        schema.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{"group": group, "kind": kind, "version": version}]),
        );
        if let Some(Value::Array(required)) = schema.get_mut("required") {
            required.retain(|r| r != "metadata");
            if required.is_empty() {
                schema.remove("required");
            }
        }
    }
}

/// `<Kind>List` schemas (k8s-openapi has one generic `List<T>` without a schema).
fn add_lists(group: &str, version: &str, schemas: &mut Map<String, Value>) {
    for (name, kind) in document_kinds(group, version) {
        let Some(item) = kind.strip_suffix("List") else {
            continue;
        };
        let item_schema = name.trim_end_matches("List").to_string();
        if schemas.contains_key(&name) || !schemas.contains_key(&item_schema) {
            continue;
        }
        let list = json!({
            "description": format!("{kind} is a list of {item} objects."),
            "type": "object",
            "properties": {
                "apiVersion": {"description": "APIVersion defines the versioned schema of this representation of an object.", "type": "string"},
                "kind": {"description": "Kind is a string value representing the REST resource this object represents.", "type": "string"},
                "items": {"description": format!("List of {item} objects."), "type": "array", "items": {"$ref": format!("#/components/schemas/{item_schema}")}},
                "metadata": {"allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"}], "description": "Standard list metadata."},
            },
            "required": ["items"],
        });
        schemas.insert(name, list);
    }
}

/// The schemas of one group-version's document.
pub fn group_version_schemas(group: &str, version: &str) -> Map<String, Value> {
    let mut generator = SchemaSettings::openapi3().into_generator();
    add_types(group, version, &mut generator);
    let mut schemas: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    add_lists(group, version, &mut schemas);
    annotate(group, version, &mut schemas);
    schemas
}

/// Every document's schemas: `{ "<document key>": { … } }`, keys sorted.
pub fn all_schemas() -> Value {
    let mut all = Map::new();
    for (group, version) in group_versions() {
        all.insert(
            document_key(group, version),
            Value::Object(group_version_schemas(group, version)),
        );
    }
    Value::Object(all)
}

/// The file's text: compact JSON (sorted keys) and a final newline.
pub fn render() -> String {
    let mut text = serde_json::to_string(&all_schemas()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_schemas_are_up_to_date() {
        let checked_in = std::str::from_utf8(super::super::EMBEDDED_SCHEMAS).unwrap();
        assert!(
            checked_in == render(),
            "openapi/schemas.json is stale: run `cargo run -p corral-apiserver --features openapi-gen --bin corral-openapi-gen`"
        );
    }

    #[test]
    fn job_schemas_carry_the_kind_and_field_descriptions() {
        let schemas = group_version_schemas("batch", "v1");
        let job = &schemas["io.k8s.api.batch.v1.Job"];
        assert_eq!(job["x-kubernetes-group-version-kind"][0]["kind"], "Job");
        let backoff = &schemas["io.k8s.api.batch.v1.JobSpec"]["properties"]["backoffLimit"];
        assert!(
            backoff["description"]
                .as_str()
                .unwrap()
                .starts_with("Specifies the number of retries")
        );
    }
}
