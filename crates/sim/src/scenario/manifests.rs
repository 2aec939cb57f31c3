//! Kubernetes manifests in scenarios: decoded into typed objects with the API server's
//! rules (strict fields, defaulting, validation) so a manifest the API would reject fails
//! before the run, with its file and line.

use std::path::Path;

use corral_api::{KubeObject, ResourceKind, Uid};
use serde_json::Value;

use super::{Manifest, Origin, ScenarioError};

/// Finds the stored kind of an `apiVersion`/`kind` pair.
fn resolve_kind(api_version: &str, kind: &str) -> Option<ResourceKind> {
    ResourceKind::ALL
        .iter()
        .copied()
        .find(|k| k.kind_name() == kind && k.api_version() == api_version)
}

/// Decodes one manifest: kind, strict fields, decoding, default namespace, and a dry run
/// of the registry's create path (defaults, strategy, validation).
pub fn decode_manifest(value: Value, origin: &Origin) -> Result<KubeObject, ScenarioError> {
    let err = |message: String| ScenarioError::at(origin, message);
    let Value::Object(map) = &value else {
        return Err(err(
            "a manifest must be a mapping with apiVersion and kind".into()
        ));
    };
    let text = |field: &str| {
        map.get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (api_version, kind_name) = (text("apiVersion"), text("kind"));
    if api_version.is_empty() || kind_name.is_empty() {
        return Err(err("a manifest needs apiVersion and kind".into()));
    }
    let Some(kind) = resolve_kind(&api_version, &kind_name) else {
        return Err(err(format!(
            "no kind {kind_name:?} is registered for version {api_version:?}"
        )));
    };
    let unknown = corral_registry::strict::unknown_fields(kind, &value);
    if !unknown.is_empty() {
        let fields: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field {f:?}"))
            .collect();
        return Err(err(format!("{kind_name}: {}", fields.join(", "))));
    }
    let mut object = KubeObject::from_value(kind, value).map_err(|e| err(e.to_string()))?;
    if kind.namespaced() && object.namespace().is_empty() {
        object.meta_mut().namespace = Some("default".to_string());
    }
    check_admissible(&object).map_err(err)?;
    Ok(object)
}

/// A dry run of the registry's create path on a copy (uid and name set as the API server
/// would), so invalid manifests are reported at load time.
fn check_admissible(object: &KubeObject) -> Result<(), String> {
    let mut copy = object.clone();
    let meta = copy.meta_mut();
    if meta.name.as_deref().unwrap_or("").is_empty() {
        match meta.generate_name.clone() {
            Some(prefix) if !prefix.is_empty() => meta.name = Some(format!("{prefix}xxxxx")),
            _ => {
                return Err(format!(
                    "{}: metadata.name is required",
                    copy.kind().kind_name()
                ));
            }
        }
    }
    meta.uid = Some(Uid::from_random_bits(0).0);
    corral_registry::prepare_create(&mut copy).map_err(|e| e.message)
}

/// The documents of a manifest file (multi-document YAML, or JSON), each with its line.
pub fn read_manifest_file(path: &Path, shown: &str) -> Result<Vec<Manifest>, ScenarioError> {
    let origin = Origin {
        file: shown.to_string(),
        line: 0,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| ScenarioError::at(&origin, format!("cannot read: {e}")))?;
    let documents: Vec<serde_saphyr::Spanned<Value>> =
        serde_saphyr::from_str_multiple(&text).map_err(|e| super::load::yaml_error(shown, &e))?;
    let mut out = Vec::new();
    for document in documents {
        if document.value.is_null() {
            continue;
        }
        let origin = Origin {
            file: shown.to_string(),
            line: document.referenced.line(),
        };
        let items = match document.value {
            Value::Object(ref map) if map.get("kind").and_then(Value::as_str) == Some("List") => {
                map.get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            }
            other => vec![other],
        };
        for item in items {
            out.push(Manifest {
                object: decode_manifest(item, &origin)?,
                origin: origin.clone(),
            });
        }
    }
    Ok(out)
}

/// Manifest files of a path: the file itself, or every `.yaml`/`.yml`/`.json` file of a
/// directory in name order.
pub fn manifest_paths(path: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut paths: Vec<_> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        })
        .collect();
    paths.sort();
    Ok(paths)
}

/// Replaces `{{i}}` in every string of `value`.
pub fn substitute_index(value: &Value, index: u32) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace("{{i}}", &index.to_string())),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| substitute_index(v, index)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute_index(v, index)))
                .collect(),
        ),
        other => other.clone(),
    }
}
