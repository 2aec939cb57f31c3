//! Strict field validation (`fieldValidation=Strict|Warn`) and decode error wording.
//!
//! Upstream decodes request bodies with `sigs.k8s.io/json`'s `UnmarshalStrict`, which
//! reports `unknown field "spec.bogusField"` and `duplicate field "metadata.name"` with
//! full paths. Corral decodes into k8s-openapi structs, which silently drop unknown
//! fields; [`unknown_fields`] recovers them by decoding, re-encoding and comparing the
//! two JSON trees. A field missing from the re-encoded tree is either unknown, or known
//! but dropped because its value was `null` (`"creationTimestamp": null`); a probe decode
//! with the value replaced by `true` tells them apart (a known field of any type but
//! bool fails to decode, a known bool field reappears, an unknown one stays dropped).
//!
//! [`duplicate_fields`] scans the raw bytes, since a parsed tree has already lost them.

use corral_api::{DecodeError, KubeObject, ResourceKind};
use serde_json::Value;

/// Upstream keeps at most 100 strict errors.
const MAX_STRICT_ERRORS: usize = 100;
/// Bounds the probe decodes one body may cost; later candidates count as known.
const MAX_PROBES: usize = 256;
/// Bounds nesting in the byte scanner.
const MAX_DEPTH: usize = 256;
/// Bounds the decode attempts spent locating a decode error.
const MAX_LOCATE_ATTEMPTS: usize = 512;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

fn render(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Paths of the fields in `raw` that the kind's typed struct does not know, in
/// upstream's notation (`spec.template.spec.containers[0].imagePullPolicyy`). Empty for
/// bodies that do not decode at all (their decode error is reported instead).
pub fn unknown_fields(kind: ResourceKind, raw: &Value) -> Vec<String> {
    let Ok(object) = KubeObject::from_value(kind, raw.clone()) else {
        return Vec::new();
    };
    let encoded = object.to_value();
    let mut candidates = Vec::new();
    collect_missing(raw, &encoded, &mut Vec::new(), &mut candidates);
    let mut unknown = Vec::new();
    for (i, path) in candidates.iter().enumerate() {
        if unknown.len() >= MAX_STRICT_ERRORS {
            break;
        }
        if i < MAX_PROBES && !is_known(kind, raw, path) {
            unknown.push(render(path));
        }
    }
    unknown
}

/// Walks `raw` and `encoded` together, collecting the paths of keys `encoded` lacks.
fn collect_missing(
    raw: &Value,
    encoded: &Value,
    path: &mut Vec<Segment>,
    out: &mut Vec<Vec<Segment>>,
) {
    match (raw, encoded) {
        (Value::Object(raw_map), Value::Object(encoded_map)) => {
            for (key, raw_value) in raw_map {
                path.push(Segment::Key(key.clone()));
                match encoded_map.get(key) {
                    Some(encoded_value) => collect_missing(raw_value, encoded_value, path, out),
                    None => out.push(path.clone()),
                }
                path.pop();
            }
        }
        (Value::Array(raw_items), Value::Array(encoded_items)) => {
            for (i, (raw_item, encoded_item)) in raw_items.iter().zip(encoded_items).enumerate() {
                path.push(Segment::Index(i));
                collect_missing(raw_item, encoded_item, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// The probe: replace the value at `path` by `true` and decode again.
fn is_known(kind: ResourceKind, raw: &Value, path: &[Segment]) -> bool {
    let mut probe = raw.clone();
    let Some(slot) = value_at_mut(&mut probe, path) else {
        return true;
    };
    *slot = Value::Bool(true);
    match KubeObject::from_value(kind, probe) {
        Err(_) => true,
        Ok(object) => {
            let encoded = object.to_value();
            value_at(&encoded, path).is_some()
        }
    }
}

fn value_at<'a>(value: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    path.iter().try_fold(value, |node, segment| match segment {
        Segment::Key(key) => node.as_object()?.get(key),
        Segment::Index(i) => node.as_array()?.get(*i),
    })
}

fn value_at_mut<'a>(value: &'a mut Value, path: &[Segment]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |node, segment| match segment {
        Segment::Key(key) => node.as_object_mut()?.get_mut(key),
        Segment::Index(i) => node.as_array_mut()?.get_mut(*i),
    })
}

/// The `unknown field "…"` messages (one per field; also the `Warn` mode warnings).
pub fn unknown_field_messages(fields: &[String]) -> Vec<String> {
    fields
        .iter()
        .map(|f| format!("unknown field {}", corral_api::validation::go_quote(f)))
        .collect()
}

/// The `duplicate field "…"` messages.
pub fn duplicate_field_messages(fields: &[String]) -> Vec<String> {
    fields
        .iter()
        .map(|f| format!("duplicate field {}", corral_api::validation::go_quote(f)))
        .collect()
}

/// Every strict problem of a body: duplicates (from the bytes) then unknown fields.
pub fn strict_problems(kind: ResourceKind, bytes: &[u8], raw: &Value) -> Vec<String> {
    let mut problems = duplicate_field_messages(&duplicate_fields(bytes));
    problems.extend(unknown_field_messages(&unknown_fields(kind, raw)));
    problems.truncate(MAX_STRICT_ERRORS);
    problems
}

/// The 400 message for `fieldValidation=Strict`: `Job in version "v1" cannot be handled
/// as a Job: strict decoding error: unknown field "spec.bogusField", …`.
pub fn strict_error_message(kind: ResourceKind, problems: &[String]) -> String {
    format!(
        "{}strict decoding error: {}",
        handled_prefix(kind),
        problems.join(", ")
    )
}

fn handled_prefix(kind: ResourceKind) -> String {
    format!(
        "{0} in version \"{1}\" cannot be handled as a {0}: ",
        kind.kind_name(),
        kind.version()
    )
}

/// Paths of object keys that occur twice in the same object of a JSON document.
/// Malformed input yields whatever was found before the error; nothing panics.
pub fn duplicate_fields(bytes: &[u8]) -> Vec<String> {
    let mut scanner = Scanner {
        bytes,
        pos: 0,
        found: Vec::new(),
    };
    let mut path = Vec::new();
    scanner.value(&mut path, 0);
    scanner.found
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
    found: Vec<String>,
}

impl Scanner<'_> {
    fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes.get(self.pos) {
            if b.is_ascii_whitespace() {
                self.pos += 1;
            } else {
                return Some(b);
            }
        }
        None
    }

    /// Scans one value; returns false on malformed input (scanning stops).
    fn value(&mut self, path: &mut Vec<Segment>, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        match self.peek() {
            Some(b'{') => self.object(path, depth),
            Some(b'[') => self.array(path, depth),
            Some(b'"') => self.string().is_some(),
            Some(_) => {
                while let Some(&b) = self.bytes.get(self.pos) {
                    if matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace() {
                        break;
                    }
                    self.pos += 1;
                }
                true
            }
            None => false,
        }
    }

    fn object(&mut self, path: &mut Vec<Segment>, depth: usize) -> bool {
        self.pos += 1;
        let mut keys: Vec<String> = Vec::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return true;
        }
        loop {
            let Some(key) = self.string() else {
                return false;
            };
            if self.peek() != Some(b':') {
                return false;
            }
            self.pos += 1;
            path.push(Segment::Key(key.clone()));
            if keys.contains(&key) && self.found.len() < MAX_STRICT_ERRORS {
                let rendered = render(path);
                if !self.found.contains(&rendered) {
                    self.found.push(rendered);
                }
            } else {
                keys.push(key);
            }
            let ok = self.value(path, depth + 1);
            path.pop();
            if !ok {
                return false;
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    fn array(&mut self, path: &mut Vec<Segment>, depth: usize) -> bool {
        self.pos += 1;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return true;
        }
        let mut index = 0;
        loop {
            path.push(Segment::Index(index));
            let ok = self.value(path, depth + 1);
            path.pop();
            if !ok {
                return false;
            }
            index += 1;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    /// A JSON string starting at the current position, unescaped.
    fn string(&mut self) -> Option<String> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let start = self.pos + 1;
        let mut end = start;
        let mut escaped = false;
        while let Some(&b) = self.bytes.get(end) {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                break;
            }
            end += 1;
        }
        if end >= self.bytes.len() {
            return None;
        }
        self.pos = end + 1;
        let literal = self.bytes.get(start - 1..=end)?;
        serde_json::from_slice::<String>(literal).ok()
    }
}

/// The message of a body that does not decode into the kind, as upstream words it:
/// `Job in version "v1" cannot be handled as a Job: json: cannot unmarshal string into
/// Go struct field JobSpec.spec.parallelism of type int32`. The failing field is found by
/// removing fields until the body decodes; the Go struct and type names are derived
/// from the path and serde's expectation (an approximation of Go's reflection names).
pub fn decode_error_message(kind: ResourceKind, raw: &Value, error: &DecodeError) -> String {
    let detail = match error {
        DecodeError::WrongType { message, .. } => {
            return format!("{}{message}", handled_prefix(kind));
        }
        DecodeError::NotAnObject => {
            "json: cannot unmarshal non-object into Go value of type struct".to_string()
        }
        DecodeError::Malformed { message, .. } => match locate_failure(kind, raw) {
            Some(path) => go_type_error(kind, raw, &path, message),
            None => message.clone(),
        },
    };
    format!("{}{detail}", handled_prefix(kind))
}

/// The 400 message for a body that is not JSON at all. Upstream fails while sniffing
/// the kind (`couldn't get version/kind; json parse error: …`) with Go's syntax error
/// text; serde's wording is kept except for the common truncated-body case.
pub fn json_syntax_error_message(error: &serde_json::Error) -> String {
    let detail = if error.is_eof() {
        "unexpected end of JSON input".to_string()
    } else {
        error.to_string()
    };
    format!("couldn't get version/kind; json parse error: {detail}")
}

/// The deepest path whose removal makes the body decode.
fn locate_failure(kind: ResourceKind, raw: &Value) -> Option<Vec<Segment>> {
    let mut attempts = 0usize;
    let mut path: Vec<Segment> = Vec::new();
    loop {
        let node = value_at(raw, &path)?;
        let children: Vec<Segment> = match node {
            Value::Object(map) => map.keys().map(|k| Segment::Key(k.clone())).collect(),
            Value::Array(items) => (0..items.len()).map(Segment::Index).collect(),
            _ => return (!path.is_empty()).then_some(path),
        };
        let mut descended = false;
        for child in children {
            attempts += 1;
            if attempts > MAX_LOCATE_ATTEMPTS {
                return (!path.is_empty()).then_some(path);
            }
            let mut candidate = path.clone();
            candidate.push(child);
            let mut trial = raw.clone();
            remove_at(&mut trial, &candidate);
            if KubeObject::from_value(kind, trial).is_ok() {
                path = candidate;
                descended = true;
                break;
            }
        }
        if !descended {
            return (!path.is_empty()).then_some(path);
        }
    }
}

fn remove_at(value: &mut Value, path: &[Segment]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    match (value_at_mut(value, parent), last) {
        (Some(Value::Object(map)), Segment::Key(key)) => {
            map.remove(key);
        }
        (Some(Value::Array(items)), Segment::Index(i)) if *i < items.len() => {
            items.remove(*i);
        }
        _ => {}
    }
}

/// Go's `UnmarshalTypeError` text for the value at `path`.
fn go_type_error(kind: ResourceKind, raw: &Value, path: &[Segment], serde_message: &str) -> String {
    let json_type = match value_at(raw, path) {
        Some(Value::String(_)) => "string".to_string(),
        Some(Value::Number(n)) => format!("number {n}"),
        Some(Value::Bool(_)) => "bool".to_string(),
        Some(Value::Array(_)) => "array".to_string(),
        Some(Value::Object(_)) => "object".to_string(),
        Some(Value::Null) | None => "null".to_string(),
    };
    let names: Vec<&str> = path
        .iter()
        .filter_map(|s| match s {
            Segment::Key(k) => Some(k.as_str()),
            Segment::Index(_) => None,
        })
        .collect();
    let Some(go_type) = go_type_from_serde(serde_message) else {
        return format!("json: {serde_message}");
    };
    let parent = struct_name(kind, &names[..names.len().saturating_sub(1)]);
    format!(
        "json: cannot unmarshal {json_type} into Go struct field {parent}.{} of type {go_type}",
        names.join(".")
    )
}

/// Maps serde's "expected …" to the Go type name.
fn go_type_from_serde(message: &str) -> Option<String> {
    let expected = message.split("expected ").nth(1)?;
    let expected = expected.split(" at line").next().unwrap_or(expected).trim();
    let go = match expected {
        "i32" => "int32",
        "i64" => "int64",
        "u32" => "uint32",
        "u64" => "uint64",
        "f64" => "float64",
        "a boolean" => "bool",
        "a string" => "string",
        "a sequence" => "[]interface {}",
        "a map" => "map[string]string",
        other => return Some(other.trim_start_matches("struct ").to_string()),
    };
    Some(go.to_string())
}

/// The Go struct that holds the last field of `names` (heuristic, by parent name).
fn struct_name(kind: ResourceKind, parents: &[&str]) -> String {
    let Some(last) = parents.last() else {
        return kind.kind_name().to_string();
    };
    let grandparent = parents.len().checked_sub(2).map(|i| parents[i]);
    let name = match (*last, grandparent) {
        ("metadata", _) => "ObjectMeta",
        ("spec", None) => return format!("{}Spec", kind.kind_name()),
        ("status", None) => return format!("{}Status", kind.kind_name()),
        ("spec", Some("template")) => "PodSpec",
        ("spec", Some("jobTemplate")) => "JobSpec",
        ("template", _) => "PodTemplateSpec",
        ("jobTemplate", _) => "JobTemplateSpec",
        ("containers" | "initContainers", _) => "Container",
        ("resources", _) => "ResourceRequirements",
        ("ports", _) => "ContainerPort",
        ("env", _) => "EnvVar",
        ("volumes", _) => "Volume",
        ("volumeMounts", _) => "VolumeMount",
        ("selector", _) => "LabelSelector",
        ("securityContext", Some("spec")) => "PodSecurityContext",
        ("securityContext", _) => "SecurityContext",
        ("livenessProbe" | "readinessProbe" | "startupProbe", _) => "Probe",
        ("tolerations", _) => "Toleration",
        (other, _) => {
            let mut chars = other.chars();
            return chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default();
        }
    };
    name.to_string()
}

/// Quantity fields that hold maps of quantities or one quantity, by JSON key.
const QUANTITY_MAP_KEYS: &[&str] = &[
    "limits",
    "requests",
    "capacity",
    "allocatable",
    "hard",
    "used",
    "overhead",
    "max",
    "min",
    "default",
    "defaultRequest",
    "maxLimitRequestRatio",
    "allocatedResources",
];
const QUANTITY_KEYS: &[&str] = &["sizeLimit", "divisor"];

/// [`check_quantities`] for an update of the stored `old` (already checked when it was
/// written): the JSON walk is skipped when nothing that can hold a quantity changed —
/// the whole object equal, or, for the kinds written most often (pod, Job and CronJob
/// status, node heartbeats, leases), labels, annotations and the quantity-bearing parts
/// equal (typed comparisons, no encoding). A pod's changed status is checked typed: its
/// container statuses' `resources` are the only quantity maps a `PodStatus` has.
pub fn check_quantities_update(new: &KubeObject, old: &KubeObject) -> Option<String> {
    if !quantities_may_differ(new, old) {
        return None;
    }
    if let (KubeObject::Pod(n), KubeObject::Pod(o)) = (new, old)
        && n.spec == o.spec
        && same_maps(&n.metadata, &o.metadata)
    {
        return pod_status_quantities(n.status.as_ref())
            .map(|bad| format!("{}{bad}", handled_prefix(new.kind())));
    }
    check_quantities(new)
}

fn same_maps(
    new: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    old: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> bool {
    new.labels == old.labels && new.annotations == old.annotations
}

/// Whether `new` may hold a quantity `old` does not (conservative: `true` when unsure).
fn quantities_may_differ(new: &KubeObject, old: &KubeObject) -> bool {
    if !same_maps(new.meta(), old.meta()) {
        return true;
    }
    match (new, old) {
        // Job and CronJob statuses hold no quantities.
        (KubeObject::Job(n), KubeObject::Job(o)) => n.spec != o.spec,
        (KubeObject::CronJob(n), KubeObject::CronJob(o)) => n.spec != o.spec,
        // A lease holds none at all.
        (KubeObject::Lease(_), KubeObject::Lease(_)) => false,
        (KubeObject::Node(n), KubeObject::Node(o)) => {
            n.spec != o.spec
                || n.status.as_ref().map(|s| (&s.capacity, &s.allocatable))
                    != o.status.as_ref().map(|s| (&s.capacity, &s.allocatable))
        }
        _ => new != old,
    }
}

/// The quantity maps of a `PodStatus`: every container status's `resources`.
fn pod_status_quantities(status: Option<&k8s_openapi::api::core::v1::PodStatus>) -> Option<String> {
    let status = status?;
    let lists = [
        status.container_statuses.as_deref(),
        status.init_container_statuses.as_deref(),
        status.ephemeral_container_statuses.as_deref(),
    ];
    lists
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|c| c.resources.as_ref())
        .flat_map(|r| [r.limits.as_ref(), r.requests.as_ref()])
        .flatten()
        .flat_map(|map| map.values())
        .find_map(|q| {
            corral_api::Quantity::parse(&q.0)
                .err()
                .map(|e| e.to_string())
        })
}

/// Upstream rejects malformed quantities while decoding (a 400, not a 422). Returns the
/// full message for the first one found.
pub fn check_quantities(object: &KubeObject) -> Option<String> {
    let value = object.to_value();
    let bad = find_bad_quantity(&value, 0)?;
    Some(format!("{}{bad}", handled_prefix(object.kind())))
}

fn find_bad_quantity(value: &Value, depth: usize) -> Option<String> {
    if depth > MAX_DEPTH {
        return None;
    }
    match value {
        Value::Object(map) => map.iter().find_map(|(key, child)| {
            let check = |v: &Value| match v {
                Value::String(s) => corral_api::Quantity::parse(s).err().map(|e| e.to_string()),
                _ => None,
            };
            if QUANTITY_MAP_KEYS.contains(&key.as_str())
                && let Some(inner) = child.as_object()
                && let Some(error) = inner.values().find_map(check)
            {
                return Some(error);
            }
            if QUANTITY_KEYS.contains(&key.as_str())
                && let Some(error) = check(child)
            {
                return Some(error);
            }
            find_bad_quantity(child, depth + 1)
        }),
        Value::Array(items) => items
            .iter()
            .find_map(|item| find_bad_quantity(item, depth + 1)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn duplicates_are_found_at_their_paths() {
        let body = br#"{"metadata":{"name":"a","name":"b"},"spec":{"list":[{"x":1,"x":2}]}}"#;
        assert_eq!(
            duplicate_fields(body),
            vec!["metadata.name", "spec.list[0].x"]
        );
        assert!(duplicate_fields(br#"{"a":"\"}","b":1}"#).is_empty());
        assert!(duplicate_fields(b"{\"a\":").is_empty());
    }

    #[test]
    fn null_known_fields_are_not_unknown() {
        let raw = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "creationTimestamp": null}, "data": null});
        assert!(unknown_fields(ResourceKind::ConfigMap, &raw).is_empty());
        let raw = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "status": {}});
        assert_eq!(
            unknown_fields(ResourceKind::ConfigMap, &raw),
            vec!["status"]
        );
    }

    #[test]
    fn truncated_bodies_read_like_go() {
        let error = serde_json::from_slice::<Value>(b"{\"a\":").unwrap_err();
        assert_eq!(
            json_syntax_error_message(&error),
            "couldn't get version/kind; json parse error: unexpected end of JSON input"
        );
    }

    #[test]
    fn decode_errors_name_the_field() {
        let raw = json!({"metadata": {"name": "a"}, "spec": {"parallelism": "x", "template": {}}});
        let error = KubeObject::from_value(ResourceKind::Job, raw.clone()).unwrap_err();
        assert_eq!(
            decode_error_message(ResourceKind::Job, &raw, &error),
            "Job in version \"v1\" cannot be handled as a Job: json: cannot unmarshal string into Go struct field JobSpec.spec.parallelism of type int32"
        );
    }
}
