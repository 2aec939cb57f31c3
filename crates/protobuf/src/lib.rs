//! L1: decoding of Kubernetes protobuf request bodies into the JSON object model.
//!
//! kubectl ≥ 1.32 sends `Content-Type: application/vnd.kubernetes.protobuf` bodies for
//! every request made through the generated typed clientset (`create job`, every `create
//! <generator>`, `auth can-i`, `auth whoami`, typed deletes, `debug`). Corral's API server
//! speaks JSON internally, so [`decode`] turns such a body into exactly the JSON kubectl
//! 1.31 sent for the same command, and the normal JSON path takes it from there.
//!
//! The messages come from upstream's `generated.proto` files, vendored under `proto/`
//! and compiled to a descriptor set at build time (`build.rs`, pure-Rust `protox`); the
//! bodies are decoded with `prost-reflect` and walked into JSON (module `json`) using
//! Kubernetes' Go JSON conventions (see modules `json` and `presence` for the field rules).
//!
//! Pure and synchronous: no I/O, no clock, no randomness, and no panics on any input.

mod envelope;
mod error;
mod json;
mod kinds;
mod presence;
#[cfg(test)]
mod tests;
mod time;

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage};

pub use envelope::MAGIC;
pub use error::ProtobufError;
pub use kinds::supported_kinds;

/// The encoded `FileDescriptorSet` of the vendored protos (built by `build.rs`).
const DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/k8s_descriptor_set.bin"));

/// The media type of Kubernetes protobuf bodies.
pub const PROTOBUF_MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// A decoded protobuf body.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// `typeMeta.apiVersion` from the envelope, e.g. `batch/v1`.
    pub api_version: String,
    /// `typeMeta.kind` from the envelope, e.g. `Job`.
    pub kind: String,
    /// The object as kubectl would have sent it in JSON, including `apiVersion` and `kind`.
    pub object: serde_json::Value,
}

/// Decodes a Kubernetes protobuf body (`k8s\0` + `runtime.Unknown`) into JSON.
pub fn decode(body: &[u8]) -> Result<Decoded, ProtobufError> {
    decode_at_depth(body, 0)
}

/// Whether a `Content-Type` header value names Kubernetes protobuf
/// (`application/vnd.kubernetes.protobuf`, any parameters, any case).
pub fn is_protobuf_content_type(ct: &str) -> bool {
    let essence = ct.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(PROTOBUF_MEDIA_TYPE)
}

/// [`decode`] for a body nested `depth` `RawExtension`s deep.
pub(crate) fn decode_at_depth(body: &[u8], depth: usize) -> Result<Decoded, ProtobufError> {
    let envelope = envelope::parse(body)?;
    if !envelope.content_encoding.is_empty() {
        return Err(ProtobufError::ContentEncodingUnsupported(
            envelope.content_encoding,
        ));
    }
    let mut object = match envelope.content_type.as_str() {
        // Unset means the raw bytes use the envelope's own encoding, protobuf.
        "" => decode_raw(&envelope, depth)?,
        ct if is_protobuf_content_type(ct) => decode_raw(&envelope, depth)?,
        ct if is_json_content_type(ct) => serde_json::from_slice(envelope.raw).map_err(|err| {
            ProtobufError::Malformed(format!("raw JSON object is invalid: {err}"))
        })?,
        ct => {
            return Err(ProtobufError::Malformed(format!(
                "unsupported raw content type {ct:?}"
            )));
        }
    };
    let serde_json::Value::Object(fields) = &mut object else {
        return Err(ProtobufError::Malformed(
            "the object is not a JSON object".into(),
        ));
    };
    fields.insert("apiVersion".into(), envelope.api_version.clone().into());
    fields.insert("kind".into(), envelope.kind.clone().into());
    Ok(Decoded {
        api_version: envelope.api_version,
        kind: envelope.kind,
        object,
    })
}

fn decode_raw(
    envelope: &envelope::Envelope<'_>,
    depth: usize,
) -> Result<serde_json::Value, ProtobufError> {
    let unknown_kind = || ProtobufError::UnknownKind {
        api_version: envelope.api_version.clone(),
        kind: envelope.kind.clone(),
    };
    let name =
        kinds::message_for(&envelope.api_version, &envelope.kind).ok_or_else(unknown_kind)?;
    let descriptor = pool().get_message_by_name(&name).ok_or_else(unknown_kind)?;
    let message = DynamicMessage::decode(descriptor, envelope.raw).map_err(|err| {
        ProtobufError::Malformed(format!("{} does not decode: {err}", envelope.kind))
    })?;
    json::message_json(&message, depth)
}

fn is_json_content_type(ct: &str) -> bool {
    let essence = ct.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// The descriptor pool of the vendored protos, decoded once.
fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| match DescriptorPool::decode(DESCRIPTOR_SET) {
        Ok(pool) => pool,
        // The set is produced by build.rs from files in this crate: a failure here is
        // a build defect, caught by every test.
        Err(err) => panic!("embedded descriptor set does not decode: {err}"),
    })
}
