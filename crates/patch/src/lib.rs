//! L1: applying PATCH bodies the way kube-apiserver does.
//!
//! The three patch types kubectl sends are applied to an object's JSON here:
//! strategic merge patch ([`strategic_merge`], ported from upstream apimachinery because
//! no Rust crate implements it), RFC 7386 merge patch and RFC 6902 JSON patch (both via
//! the `json-patch` crate, with upstream's error classification). Strategic merge needs
//! to know which lists merge and by which key; [`PatchSchema`] carries that metadata for
//! every built-in kind Corral serves, and [`field_patch_meta`] exposes it to the OpenAPI
//! generator as `x-kubernetes-patch-strategy`/`x-kubernetes-patch-merge-key`.
//!
//! Pure and synchronous: no I/O, no clock, no randomness, and no panics on any input.
//! Every error is a [`PatchError`] that knows its HTTP status.

mod error;
mod meta;
mod rfc6902;
mod rfc7386;
mod smp;

use serde_json::Value;

pub use error::PatchError;
pub use meta::{
    BuiltinKind, FieldDesc, FieldPatchMeta, PatchSchema, PatchStrategy, TypeDesc, field_patch_meta,
};
pub use rfc6902::{MAX_COPY_BYTES, MAX_OPERATIONS};
pub use smp::strategic_merge;

/// The deepest a strategic merge patch may nest (maps and lists). Bodies parsed by
/// `serde_json` cannot nest deeper anyway (its recursion limit is 128); the check bounds
/// the merge's recursion for callers passing values they built themselves.
pub const MAX_PATCH_DEPTH: usize = 128;

/// The PATCH flavours, one per `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    StrategicMerge,
    /// `application/apply-patch+yaml` (server-side apply; not supported yet).
    Apply,
}

impl PatchType {
    /// The patch type of a request's `Content-Type`, parameters such as `; charset=utf-8`
    /// ignored like upstream does. `None` for anything else (a 415 at the edge).
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        [Self::Json, Self::Merge, Self::StrategicMerge, Self::Apply]
            .into_iter()
            .find(|t| t.content_type().eq_ignore_ascii_case(media_type))
    }

    /// The media type of this patch type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json-patch+json",
            Self::Merge => "application/merge-patch+json",
            Self::StrategicMerge => "application/strategic-merge-patch+json",
            Self::Apply => "application/apply-patch+yaml",
        }
    }
}

/// Apply `patch_body` of type `patch_type` to `original` and return the patched object.
///
/// `schema` is only consulted for strategic merge patches; pass
/// [`PatchSchema::for_kind`] for built-in kinds and [`PatchSchema::none`] otherwise.
pub fn apply_patch(
    original: &Value,
    patch_type: PatchType,
    patch_body: &[u8],
    schema: PatchSchema,
) -> Result<Value, PatchError> {
    match patch_type {
        PatchType::Json => rfc6902::apply(original, patch_body),
        PatchType::Merge => rfc7386::apply(original, patch_body),
        PatchType::StrategicMerge => {
            let patch: Value =
                serde_json::from_slice(patch_body).map_err(|e| PatchError::MalformedBody {
                    message: e.to_string(),
                })?;
            strategic_merge(original, &patch, schema)
        }
        PatchType::Apply => Err(PatchError::Unsupported { patch_type }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_types_map_to_patch_types_ignoring_parameters() {
        assert_eq!(
            PatchType::from_content_type("application/strategic-merge-patch+json"),
            Some(PatchType::StrategicMerge)
        );
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
            Some(PatchType::Merge)
        );
        assert_eq!(
            PatchType::from_content_type("application/json-patch+json"),
            Some(PatchType::Json)
        );
        assert_eq!(
            PatchType::from_content_type("application/apply-patch+yaml"),
            Some(PatchType::Apply)
        );
        assert_eq!(PatchType::from_content_type("application/json"), None);
        assert_eq!(PatchType::from_content_type(""), None);
    }

    #[test]
    fn server_side_apply_is_not_supported_yet() {
        let err = apply_patch(&json!({}), PatchType::Apply, b"{}", PatchSchema::none())
            .expect_err("unsupported");
        assert_eq!(err.status_code(), 415);
    }

    #[test]
    fn a_strategic_merge_body_that_is_not_json_is_a_bad_request() {
        let err = apply_patch(
            &json!({}),
            PatchType::StrategicMerge,
            b"{nope",
            PatchSchema::none(),
        )
        .expect_err("bad");
        assert!(err.is_bad_request());
        let err = apply_patch(
            &json!({}),
            PatchType::StrategicMerge,
            b"[1]",
            PatchSchema::none(),
        )
        .expect_err("list");
        assert_eq!(
            err.to_string(),
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
    }

    #[test]
    fn a_null_strategic_merge_body_changes_nothing() {
        let original = json!({"a": 1});
        assert_eq!(
            apply_patch(
                &original,
                PatchType::StrategicMerge,
                b"null",
                PatchSchema::none()
            ),
            Ok(original)
        );
    }
}
