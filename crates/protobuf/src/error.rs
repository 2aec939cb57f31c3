//! The crate's one error type. The API server maps every variant to a `400 BadRequest`
//! (or `415` for [`ProtobufError::UnknownKind`] / [`ProtobufError::ContentEncodingUnsupported`])
//! `Status` at its edge; nothing here knows about HTTP.

/// Why a protobuf request body could not be turned into JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    /// The body does not start with the 4 magic bytes `k8s\0`.
    #[error("protobuf body does not start with the k8s\\0 magic bytes")]
    BadMagic,
    /// The body ends in the middle of the magic bytes or of a protobuf field.
    #[error("protobuf body is truncated")]
    Truncated,
    /// The envelope names a type this crate has no message for.
    #[error("no protobuf decoder for kind {kind:?} in version {api_version:?}")]
    UnknownKind {
        /// `typeMeta.apiVersion` of the envelope, e.g. `apps/v1`.
        api_version: String,
        /// `typeMeta.kind` of the envelope, e.g. `Deployment`.
        kind: String,
    },
    /// The bytes are not a valid encoding of the named message, or cannot be
    /// represented in Kubernetes' JSON (for example a time outside years 0–9999).
    #[error("malformed protobuf body: {0}")]
    Malformed(String),
    /// `runtime.Unknown.contentEncoding` names an encoding (such as gzip) that Corral
    /// does not implement; upstream clients never set it.
    #[error("unsupported protobuf content encoding {0:?}")]
    ContentEncodingUnsupported(String),
}
