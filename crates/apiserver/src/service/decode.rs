//! Request bodies: JSON (with duplicate-field detection), YAML and — through one seam —
//! Kubernetes protobuf, decoded to JSON values; then strict field validation and the typed
//! decode, with upstream's error wording.
//!
//! Every failure is an [`ApiError`] with a 4xx code; nothing here panics on any input.

use std::fmt;

use corral_api::{ApiError, DecodeError, KubeObject, ResourceKind, StatusReason};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::strategy;
use super::types::{DecodedBody, FieldValidation};

/// The media type of a request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Yaml,
    Protobuf,
}

/// The media types accepted for object bodies, as upstream lists them in its 415.
pub const ACCEPTED_BODY_TYPES: &str =
    "application/json, application/yaml, application/vnd.kubernetes.protobuf";

impl BodyFormat {
    /// The format of a `Content-Type` (parameters ignored); an empty type reads as JSON.
    pub fn from_content_type(content_type: &str) -> Option<BodyFormat> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "" | "application/json" | "*/*" => Some(BodyFormat::Json),
            "application/yaml" | "application/x-yaml" | "text/yaml" => Some(BodyFormat::Yaml),
            "application/vnd.kubernetes.protobuf" => Some(BodyFormat::Protobuf),
            _ => None,
        }
    }
}

/// 415 for a body in a media type the server does not read.
pub fn unsupported_media_type(content_type: &str) -> ApiError {
    ApiError::new(
        StatusReason::UnsupportedMediaType,
        format!(
            "the body of the request was in an unknown format - accepted media types include: {ACCEPTED_BODY_TYPES} (got {content_type:?})"
        ),
    )
}

/// Decodes a body to a JSON value.
pub fn decode_body(format: BodyFormat, bytes: &[u8]) -> Result<DecodedBody, ApiError> {
    match format {
        BodyFormat::Json => decode_json(bytes),
        BodyFormat::Yaml => decode_yaml(bytes),
        BodyFormat::Protobuf => decode_protobuf_body(bytes).map(DecodedBody::from_value),
    }
}

/// A Kubernetes protobuf body (`k8s\0` + `runtime.Unknown`): kubectl ≥ 1.32 sends
/// typed-client bodies (create generators, `create job --from`, `auth can-i`, typed
/// deletes) this way (spec §3.3). corral-protobuf turns it into the JSON kubectl would
/// have sent.
pub fn decode_protobuf_body(bytes: &[u8]) -> Result<Value, ApiError> {
    corral_protobuf::decode(bytes)
        .map(|decoded| decoded.object)
        .map_err(|e| match e {
            corral_protobuf::ProtobufError::UnknownKind { .. } => ApiError::new(
                StatusReason::UnsupportedMediaType,
                format!("{e}; send this object as application/json"),
            ),
            other => ApiError::bad_request(other.to_string()),
        })
}

/// JSON, recording keys that appear twice in one object (Go's strict decoder reports them;
/// serde_json keeps the last silently).
pub fn decode_json(bytes: &[u8]) -> Result<DecodedBody, ApiError> {
    let mut duplicates = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let seed = TrackingValue {
        path: String::new(),
        duplicates: &mut duplicates,
    };
    let value = seed
        .deserialize(&mut deserializer)
        .and_then(|v| deserializer.end().map(|()| v))
        .map_err(|e| ApiError::bad_request(format!("json parse error: {e}")))?;
    Ok(DecodedBody {
        value,
        duplicate_fields: duplicates,
    })
}

fn decode_yaml(bytes: &[u8]) -> Result<DecodedBody, ApiError> {
    let value: Value = serde_saphyr::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!("yaml parse error: {}", first_line(&e.to_string())))
    })?;
    Ok(DecodedBody::from_value(value))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// A `serde_json::Value` builder that records duplicate keys with their paths.
struct TrackingValue<'a> {
    path: String,
    duplicates: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for TrackingValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl<'de> Visitor<'de> for TrackingValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let seed = TrackingValue {
                path: format!("{}[{}]", self.path, items.len()),
                duplicates: &mut *self.duplicates,
            };
            match seq.next_element_seed(seed)? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = child_path(&self.path, &key);
            let seed = TrackingValue {
                path: path.clone(),
                duplicates: &mut *self.duplicates,
            };
            let value = map.next_value_seed(seed)?;
            if object.insert(key, value).is_some() {
                self.duplicates.push(path);
            }
        }
        Ok(Value::Object(object))
    }
}

/// Decodes a body to `kind` and lists its unknown and duplicated fields, as upstream words
/// them (`unknown field "spec.foo"`, `duplicate field "spec.bar"`); no list with
/// `fieldValidation=Ignore`. The typed object is decoded once: its re-encoding tells
/// whether anything was dropped, and only then does the registry's exact (and costlier)
/// unknown-field analysis run.
pub fn decode_checked(
    kind: ResourceKind,
    body: DecodedBody,
    mode: FieldValidation,
) -> Result<(KubeObject, Vec<String>), ApiError> {
    if mode == FieldValidation::Ignore {
        return Ok((decode_object(kind, body.value)?, Vec::new()));
    }
    let object = decode_object(kind, body.value.clone())?;
    let mut problems: Vec<String> = body
        .duplicate_fields
        .iter()
        .map(|path| format!("duplicate field \"{path}\""))
        .collect();
    if drops_something(&body.value, &object.to_value()) {
        problems.extend(
            strategy::unknown_fields(kind, &body.value)
                .into_iter()
                .map(|path| format!("unknown field \"{path}\"")),
        );
    }
    Ok((object, problems))
}

/// Whether `raw` has a non-null key somewhere that `known` (its typed re-encoding) lacks.
fn drops_something(raw: &Value, known: &Value) -> bool {
    match (raw, known) {
        (Value::Object(raw), Value::Object(known)) => {
            raw.iter().any(|(key, value)| match known.get(key) {
                Some(known_value) => drops_something(value, known_value),
                None => !value.is_null(),
            })
        }
        (Value::Array(raw), Value::Array(known)) => {
            raw.iter().zip(known).any(|(r, k)| drops_something(r, k))
        }
        _ => false,
    }
}

/// Applies `fieldValidation` to the problems found: Strict fails with upstream's 400,
/// Warn returns them as warnings, Ignore drops them.
pub fn enforce_field_validation(
    kind: ResourceKind,
    mode: FieldValidation,
    problems: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    if problems.is_empty() {
        return Ok(Vec::new());
    }
    match mode {
        FieldValidation::Ignore => Ok(Vec::new()),
        FieldValidation::Warn => Ok(problems),
        FieldValidation::Strict => Err(ApiError::bad_request(format!(
            "{kind_name} in version \"{version}\" cannot be handled as a {kind_name}: strict decoding error: {list}",
            kind_name = kind.kind_name(),
            version = kind.version(),
            list = problems.join(", ")
        ))),
    }
}

/// The typed decode, with upstream's 400 wording for bodies that do not fit the type.
pub fn decode_object(kind: ResourceKind, value: Value) -> Result<KubeObject, ApiError> {
    KubeObject::from_value(kind, value).map_err(|e| match e {
        DecodeError::WrongType { .. } => ApiError::bad_request(e.to_string()),
        DecodeError::Malformed { message, .. } => ApiError::bad_request(format!(
            "{kind_name} in version \"{version}\" cannot be handled as a {kind_name}: {message}",
            kind_name = kind.kind_name(),
            version = kind.version(),
        )),
        DecodeError::NotAnObject => ApiError::bad_request(format!(
            "{kind_name} in version \"{version}\" cannot be handled as a {kind_name}: the body is not a JSON object",
            kind_name = kind.kind_name(),
            version = kind.version(),
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn duplicate_keys_are_reported_with_their_paths() {
        let body =
            decode_json(br#"{"a":1,"spec":{"x":[{"n":1,"n":2}],"y":1,"y":2},"a":3}"#).unwrap();
        assert_eq!(body.duplicate_fields, vec!["spec.x[0].n", "spec.y", "a"]);
        assert_eq!(body.value["a"], 3);
    }

    #[test]
    fn malformed_json_and_trailing_garbage_are_bad_requests() {
        for bad in [&b"{"[..], b"{}x", b"", b"\xff", b"[1,]"] {
            let err = decode_json(bad).unwrap_err();
            assert_eq!(err.code, 400, "{bad:?}");
        }
    }

    #[test]
    fn yaml_bodies_decode_to_the_same_json() {
        let body = decode_body(BodyFormat::Yaml, b"kind: Job\nspec:\n  parallelism: 2\n").unwrap();
        assert_eq!(
            body.value,
            json!({"kind": "Job", "spec": {"parallelism": 2}})
        );
        assert_eq!(
            decode_body(BodyFormat::Yaml, b"a: [").unwrap_err().code,
            400
        );
    }

    #[test]
    fn protobuf_bodies_are_unsupported_for_now() {
        let err = decode_body(BodyFormat::Protobuf, b"k8s\0").unwrap_err();
        assert_eq!(err.code, 415);
    }

    #[test]
    fn strict_validation_fails_and_warn_reports() {
        let problems = vec!["unknown field \"spec.foo\"".to_string()];
        let err =
            enforce_field_validation(ResourceKind::Job, FieldValidation::Strict, problems.clone())
                .unwrap_err();
        assert_eq!(
            err.message,
            "Job in version \"v1\" cannot be handled as a Job: strict decoding error: unknown field \"spec.foo\""
        );
        assert_eq!(
            enforce_field_validation(ResourceKind::Job, FieldValidation::Warn, problems.clone())
                .unwrap(),
            problems
        );
        assert!(
            enforce_field_validation(ResourceKind::Job, FieldValidation::Ignore, problems)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn content_types_map_to_formats() {
        assert_eq!(
            BodyFormat::from_content_type("application/json; charset=utf-8"),
            Some(BodyFormat::Json)
        );
        assert_eq!(
            BodyFormat::from_content_type("application/yaml"),
            Some(BodyFormat::Yaml)
        );
        assert_eq!(BodyFormat::from_content_type("text/plain"), None);
    }
}
