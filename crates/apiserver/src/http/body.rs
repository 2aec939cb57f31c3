//! Request bodies: read with the 3 MiB limit (413 beyond it, as upstream's
//! `MaxRequestBodyBytes`), then decoded by media type.

use axum::body::Body;
use bytes::Bytes;
use corral_api::{ApiError, StatusReason};
use http::HeaderMap;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::service::{BodyFormat, DecodedBody, decode_body, unsupported_media_type};

/// Upstream's request body limit.
pub const BODY_LIMIT_BYTES: usize = 3 * 1024 * 1024;

fn too_large() -> ApiError {
    ApiError::new(
        StatusReason::RequestEntityTooLarge,
        format!("Request entity too large: limit is {BODY_LIMIT_BYTES}"),
    )
}

/// The whole body, at most [`BODY_LIMIT_BYTES`].
pub async fn read(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT_BYTES as u64) {
        return Err(too_large());
    }
    match Limited::new(body, BODY_LIMIT_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(e) => Err(ApiError::bad_request(format!(
            "cannot read the request body: {e}"
        ))),
    }
}

/// The request's `Content-Type` (empty when absent).
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Reads and decodes an object body (JSON, YAML or protobuf).
pub async fn object(headers: &HeaderMap, body: Body) -> Result<DecodedBody, ApiError> {
    let content_type = content_type(headers);
    let format = BodyFormat::from_content_type(&content_type)
        .ok_or_else(|| unsupported_media_type(&content_type))?;
    let bytes = read(headers, body).await?;
    decode_body(format, &bytes)
}
