//! Walks a decoded message into the JSON kubectl would have sent for the same Go object.
//!
//! The protobuf bytes come from Go structs marshalled by gogo-protobuf, and the JSON
//! kubectl ≤ 1.31 sent came from the same structs through `encoding/json`. So the walk
//! replays "protobuf → Go struct → JSON":
//!
//! * a **message** field on the wire is a non-nil struct or pointer in Go, and Go's
//!   `omitempty` never omits structs: present means emitted (`"status": {}`);
//! * a **scalar** field is on the wire either because it is a non-pointer value (gogo
//!   always writes those, zero or not) or because it is a non-nil pointer. Which of the
//!   two decides whether a zero survives, and the `.proto` files do not say; the
//!   per-field table in [`crate::presence`] does (`backoffLimit: 0` survives,
//!   `hostNetwork: false` does not);
//! * **repeated** fields and **maps** cannot tell nil from empty on the wire; both
//!   decode as nil in Go, which `omitempty` drops and plain fields print as `null`.
//!
//! The well-known wrapper messages get their custom Go JSON forms: `Time`, `MicroTime`,
//! `Duration`, `Quantity`, `IntOrString`, `RawExtension`, `FieldsV1` and the slice
//! wrappers `Verbs`/`ExtraValue`. `bytes` become base64 strings, as `encoding/json` does.

use base64::Engine as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, ReflectMessage, Value};
use serde_json::{Map, Value as Json};

use crate::presence::{self, Policy};
use crate::{ProtobufError, time};

/// How deep `RawExtension`s may nest further `k8s\0` bodies.
const MAX_EMBEDDED_DEPTH: usize = 8;

const TIME: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.Time";
const MICRO_TIME: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime";
const DURATION: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.Duration";
const FIELDS_V1: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1";
const VERBS: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.Verbs";
const QUANTITY: &str = "k8s.io.apimachinery.pkg.api.resource.Quantity";
const INT_OR_STRING: &str = "k8s.io.apimachinery.pkg.util.intstr.IntOrString";
const RAW_EXTENSION: &str = "k8s.io.apimachinery.pkg.runtime.RawExtension";
const AUTHZ_EXTRA_VALUE: &str = "k8s.io.api.authorization.v1.ExtraValue";
const AUTHN_EXTRA_VALUE: &str = "k8s.io.api.authentication.v1.ExtraValue";

/// The JSON of one message, `depth` counting enclosing embedded `k8s\0` bodies.
pub(crate) fn message_json(msg: &DynamicMessage, depth: usize) -> Result<Json, ProtobufError> {
    let descriptor = msg.descriptor();
    match descriptor.full_name() {
        TIME => Ok(match scalar_i64(msg, "seconds") {
            // gogo's Time.Unmarshal treats an empty message as Go's zero time (null).
            None if !any_field_set(msg) => Json::Null,
            seconds => time::time_json(seconds.unwrap_or(0))?,
        }),
        MICRO_TIME => {
            if !any_field_set(msg) {
                return Ok(Json::Null);
            }
            let seconds = scalar_i64(msg, "seconds").unwrap_or(0);
            let nanos = scalar_i64(msg, "nanos").unwrap_or(0);
            time::micro_time_json(seconds, nanos)
        }
        DURATION => Ok(Json::String(time::go_duration_string(
            scalar_i64(msg, "duration").unwrap_or(0),
        ))),
        // Quantity.Marshal always writes its canonical string; a zero Quantity is "0".
        QUANTITY => Ok(Json::String(
            scalar_string(msg, "string").unwrap_or_else(|| "0".to_owned()),
        )),
        INT_OR_STRING => int_or_string(msg),
        RAW_EXTENSION => raw_json(scalar_bytes(msg, "raw"), depth),
        FIELDS_V1 => raw_json(scalar_bytes(msg, "Raw"), depth),
        VERBS | AUTHZ_EXTRA_VALUE | AUTHN_EXTRA_VALUE => string_list(msg),
        _ => object_json(msg, depth),
    }
}

fn object_json(msg: &DynamicMessage, depth: usize) -> Result<Json, ProtobufError> {
    let descriptor = msg.descriptor();
    let message_name = descriptor.full_name();
    let mut object = Map::new();
    for field in descriptor.fields() {
        let policy = presence::field_policy(message_name, field.name());
        let Some(value) = field_json(msg, &field, policy, depth)? else {
            continue;
        };
        match policy {
            Policy::Inline => match value {
                Json::Object(inner) => object.extend(inner),
                other => {
                    return Err(ProtobufError::Malformed(format!(
                        "inline field {message_name}.{} is not an object: {other}",
                        field.name()
                    )));
                }
            },
            Policy::Rename(json_name) => {
                object.insert(json_name.to_owned(), value);
            }
            _ => {
                object.insert(field.name().to_owned(), value);
            }
        }
    }
    Ok(Json::Object(object))
}

/// The JSON value of one field, or `None` when Go's `encoding/json` would omit it.
fn field_json(
    msg: &DynamicMessage,
    field: &FieldDescriptor,
    policy: Policy,
    depth: usize,
) -> Result<Option<Json>, ProtobufError> {
    let present = msg.has_field(field);
    if field.is_map() || field.is_list() {
        if !present {
            return Ok(matches!(policy, Policy::Always | Policy::Nullable).then_some(Json::Null));
        }
        return value_json(&msg.get_field(field), field, depth).map(Some);
    }
    if !present {
        return Ok(match policy {
            Policy::Always => Some(zero_json(field)),
            Policy::Nullable => Some(Json::Null),
            _ => None,
        });
    }
    let value = msg.get_field(field);
    if matches!(policy, Policy::OmitEmpty | Policy::Rename(_)) && is_zero_scalar(&value) {
        return Ok(None);
    }
    value_json(&value, field, depth).map(Some)
}

/// What Go prints for a non-omitempty field that was not on the wire.
fn zero_json(field: &FieldDescriptor) -> Json {
    match field.kind() {
        Kind::String => Json::String(String::new()),
        Kind::Bool => Json::Bool(false),
        Kind::Message(_) | Kind::Bytes => Json::Null,
        _ => Json::from(0),
    }
}

fn is_zero_scalar(value: &Value) -> bool {
    match value {
        Value::Bool(b) => !b,
        Value::I32(n) | Value::EnumNumber(n) => *n == 0,
        Value::I64(n) => *n == 0,
        Value::U32(n) => *n == 0,
        Value::U64(n) => *n == 0,
        Value::F32(n) => *n == 0.0,
        Value::F64(n) => *n == 0.0,
        Value::String(s) => s.is_empty(),
        Value::Bytes(b) => b.is_empty(),
        Value::Message(_) | Value::List(_) | Value::Map(_) => false,
    }
}

fn value_json(value: &Value, field: &FieldDescriptor, depth: usize) -> Result<Json, ProtobufError> {
    Ok(match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::I32(n) | Value::EnumNumber(n) => Json::from(*n),
        Value::I64(n) => Json::from(*n),
        Value::U32(n) => Json::from(*n),
        Value::U64(n) => Json::from(*n),
        Value::F32(n) => float_json(f64::from(*n), field)?,
        Value::F64(n) => float_json(*n, field)?,
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Message(m) => message_json(m, depth)?,
        Value::List(items) => Json::Array(
            items
                .iter()
                .map(|item| value_json(item, field, depth))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(entries) => {
            let value_field = match field.kind() {
                Kind::Message(entry) => entry.map_entry_value_field(),
                _ => {
                    return Err(ProtobufError::Malformed(format!(
                        "map field {} has no entry type",
                        field.name()
                    )));
                }
            };
            let mut object = Map::new();
            for (key, item) in entries {
                object.insert(map_key(key), value_json(item, &value_field, depth)?);
            }
            Json::Object(object)
        }
    })
}

fn float_json(n: f64, field: &FieldDescriptor) -> Result<Json, ProtobufError> {
    serde_json::Number::from_f64(n)
        .map(Json::Number)
        .ok_or_else(|| {
            ProtobufError::Malformed(format!("field {} holds a non-finite number", field.name()))
        })
}

fn map_key(key: &MapKey) -> String {
    match key {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

/// `IntOrString`: `type` 0 is an int (`intVal`), 1 a string (`strVal`).
fn int_or_string(msg: &DynamicMessage) -> Result<Json, ProtobufError> {
    match scalar_i64(msg, "type").unwrap_or(0) {
        0 => Ok(Json::from(scalar_i64(msg, "intVal").unwrap_or(0))),
        1 => Ok(Json::String(
            scalar_string(msg, "strVal").unwrap_or_default(),
        )),
        other => Err(ProtobufError::Malformed(format!(
            "IntOrString has impossible type {other}"
        ))),
    }
}

/// `RawExtension`/`FieldsV1`: the bytes are JSON (or, rarely, another `k8s\0` body).
fn raw_json(raw: Option<Vec<u8>>, depth: usize) -> Result<Json, ProtobufError> {
    let Some(raw) = raw.filter(|raw| !raw.is_empty()) else {
        return Ok(Json::Null);
    };
    if raw.starts_with(&crate::envelope::MAGIC) {
        if depth >= MAX_EMBEDDED_DEPTH {
            return Err(ProtobufError::Malformed(
                "embedded objects nest too deeply".into(),
            ));
        }
        return crate::decode_at_depth(&raw, depth + 1).map(|decoded| decoded.object);
    }
    serde_json::from_slice(&raw)
        .map_err(|err| ProtobufError::Malformed(format!("embedded raw JSON is invalid: {err}")))
}

/// `Verbs`/`ExtraValue` are Go `[]string` types wrapped in a message for protobuf.
fn string_list(msg: &DynamicMessage) -> Result<Json, ProtobufError> {
    let Some(field) = msg.descriptor().get_field_by_name("items") else {
        return Err(ProtobufError::Malformed(
            "string list wrapper without items".into(),
        ));
    };
    if !msg.has_field(&field) {
        return Ok(Json::Null);
    }
    value_json(&msg.get_field(&field), &field, 0)
}

fn any_field_set(msg: &DynamicMessage) -> bool {
    msg.descriptor().fields().any(|field| msg.has_field(&field))
}

fn scalar<T>(
    msg: &DynamicMessage,
    name: &str,
    pick: impl FnOnce(&Value) -> Option<T>,
) -> Option<T> {
    let field = msg.descriptor().get_field_by_name(name)?;
    if !msg.has_field(&field) {
        return None;
    }
    pick(&msg.get_field(&field))
}

fn scalar_i64(msg: &DynamicMessage, name: &str) -> Option<i64> {
    scalar(msg, name, |value| match value {
        Value::I64(n) => Some(*n),
        Value::I32(n) => Some(i64::from(*n)),
        _ => None,
    })
}

fn scalar_string(msg: &DynamicMessage, name: &str) -> Option<String> {
    scalar(msg, name, |value| value.as_str().map(str::to_owned))
}

fn scalar_bytes(msg: &DynamicMessage, name: &str) -> Option<Vec<u8>> {
    scalar(msg, name, |value| value.as_bytes().map(|b| b.to_vec()))
}
