//! The one error type of this crate and its mapping to HTTP.
//!
//! Every failure of `apply_patch` is a [`PatchError`]. The API edge turns it into a
//! Kubernetes `Status` exactly once, using [`PatchError::status_code`],
//! [`PatchError::status_reason`], [`PatchError::status_message`] and
//! [`PatchError::status_cause`]. The wording of the `Display` text follows upstream
//! (`k8s.io/apimachinery/pkg/util/mergepatch/errors.go`, `strategicpatch/patch.go`,
//! evanphx/json-patch v4) where practical, with JSON instead of Go's `%v` for values.
//!
//! Status codes follow upstream's `interpretStrategicMergePatchError` and
//! `applyJSPatch`: malformed bodies and malformed directive lists are 400. Patches that
//! are well-formed but cannot be applied are 422; upstream answers some of those with a
//! generic 500 (a plain Go error), which Corral deliberately reports as 422 instead.

use crate::PatchType;

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// The body is not valid JSON, or not the JSON shape the patch type needs. 400.
    #[error("{message}")]
    MalformedBody { message: String },
    /// The stored object handed to the strategic merge is not a JSON object. 400.
    #[error("invalid JSON document")]
    InvalidDocument,
    /// A `$deleteFromPrimitiveList/<field>` key or value is malformed. 400.
    #[error("invalid patch format of primitive list")]
    PrimitiveListFormat,
    /// A `$retainKeys` directive is not a list, or the patch sets keys it does not list. 400.
    #[error("invalid patch format of retainKeys")]
    RetainKeysFormat,
    /// A `$setElementOrder/<field>` key is malformed. 400.
    #[error("invalid patch format of setElementOrder list")]
    SetElementOrderFormat,
    /// A JSON patch has more operations than upstream's limit. 413.
    #[error("The allowed maximum operations in a JSON patch is {max}, got {got}")]
    TooManyOperations { max: usize, got: usize },
    /// The patch type is not served (server-side apply for now). 415.
    #[error(
        "the body of the request was in an unknown format - accepted media types include: \
         application/json-patch+json, application/merge-patch+json, \
         application/strategic-merge-patch+json (got {})",
        patch_type.content_type()
    )]
    Unsupported { patch_type: PatchType },
    /// A JSON patch operation failed (test mismatch, missing path, unknown op, ...). 422.
    #[error("{message}")]
    JsonPatchFailed { message: String },
    /// A JSON merge patch that is a list cannot be applied to an object. 422.
    #[error("a merge patch that is not a JSON object cannot be applied to an object")]
    MergePatchNotObject,
    /// An element of a merge list lacks the list's merge key. 422.
    #[error("map: {map} does not contain declared merge key: {key}")]
    NoMergeKey { map: String, key: String },
    /// A value has the wrong JSON type for where the patch puts it. 422.
    #[error("expected a {expected}, but received a {actual}")]
    BadArgType {
        expected: &'static str,
        actual: &'static str,
    },
    /// A `$patch` directive with a value other than `replace`/`delete` (maps) or
    /// `replace`/`delete`/`merge` (list elements). 422.
    #[error("unknown patch type: {directive} in map: {map}")]
    UnknownPatchType { directive: String, map: String },
    /// `{"$patch": "merge"}` inside a list, which upstream has never implemented. 422.
    #[error("merging lists cannot yet be specified in the patch")]
    MergeDirectiveInList,
    /// A list whose elements are lists. 422.
    #[error("lists of lists are not supported")]
    NoListOfLists,
    /// A merged list mixes element types (e.g. strings and objects). 422.
    #[error("list element types are not identical: {lists}")]
    MixedListElements { lists: String },
    /// `$setElementOrder` names a list that is empty on both sides. 422.
    #[error("no elements in any of the given slices")]
    EmptyLists,
    /// A list of objects is merged but the schema gives it no merge key. 422.
    #[error("cannot merge lists without merge key for {field}")]
    NoMergeKeyForList { field: String },
    /// The items of a merge list are not in the order its `$setElementOrder` gives. 422.
    #[error(
        "the order in patch list:\n{patch_list}\n doesn't match $setElementOrder list:\n{order_list}"
    )]
    ElementOrderMismatch {
        patch_list: String,
        order_list: String,
    },
    /// A merge list of objects contains a non-object element. 422.
    #[error("value for key {index} is not a map")]
    ListItemNotMap { index: usize },
    /// A `$`-prefixed key that is not one of the strategic merge patch directives. 422.
    #[error("unknown patch directive: {key}")]
    UnknownDirective { key: String },
    /// `$patch` inside a list that has no merge strategy (it is replaced wholesale). 422.
    #[error("$patch directive is not allowed in list {field:?}, which has no merge strategy")]
    DirectiveInAtomicList { field: String },
    /// The patch nests deeper than [`crate::MAX_PATCH_DEPTH`]. 422.
    #[error("the patch nests deeper than {max} levels")]
    TooDeep { max: usize },
}

/// The generic message upstream's `NewGenericServerResponse(422, ...)` puts in `Status.message`.
const INVALID_REQUEST_MESSAGE: &str =
    "the server rejected our request due to an error in our request";

impl PatchError {
    /// The HTTP status code the API edge answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::MalformedBody { .. }
            | Self::InvalidDocument
            | Self::PrimitiveListFormat
            | Self::RetainKeysFormat
            | Self::SetElementOrderFormat => 400,
            Self::TooManyOperations { .. } => 413,
            Self::Unsupported { .. } => 415,
            _ => 422,
        }
    }

    /// True for the 400 errors: the body itself is malformed.
    pub fn is_bad_request(&self) -> bool {
        self.status_code() == 400
    }

    /// The `Status.reason` the API edge reports.
    pub fn status_reason(&self) -> &'static str {
        match self.status_code() {
            400 => "BadRequest",
            413 => "RequestEntityTooLarge",
            415 => "UnsupportedMediaType",
            _ => "Invalid",
        }
    }

    /// The `Status.message`. For 422 upstream reports a generic sentence and puts the
    /// detail into a cause (see [`Self::status_cause`]); kubectl prints that sentence.
    pub fn status_message(&self) -> String {
        match self.status_code() {
            422 => INVALID_REQUEST_MESSAGE.to_string(),
            _ => self.to_string(),
        }
    }

    /// The detail upstream puts into `Status.details.causes[0].message` (cause type
    /// `UnexpectedServerResponse`) for 422 answers; `None` for the other codes.
    pub fn status_cause(&self) -> Option<String> {
        (self.status_code() == 422).then(|| self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_directive_lists_are_bad_requests() {
        for err in [
            PatchError::PrimitiveListFormat,
            PatchError::RetainKeysFormat,
            PatchError::SetElementOrderFormat,
            PatchError::MalformedBody {
                message: "x".into(),
            },
        ] {
            assert!(err.is_bad_request(), "{err}");
            assert_eq!(err.status_reason(), "BadRequest");
            assert_eq!(err.status_cause(), None);
        }
    }

    #[test]
    fn inapplicable_patches_are_invalid_with_the_detail_as_cause() {
        let err = PatchError::JsonPatchFailed {
            message: "testing value /a failed: test failed".into(),
        };
        assert_eq!(err.status_code(), 422);
        assert_eq!(err.status_reason(), "Invalid");
        assert_eq!(err.status_message(), INVALID_REQUEST_MESSAGE);
        assert_eq!(
            err.status_cause().as_deref(),
            Some("testing value /a failed: test failed")
        );
    }

    #[test]
    fn server_side_apply_is_an_unsupported_media_type() {
        let err = PatchError::Unsupported {
            patch_type: PatchType::Apply,
        };
        assert_eq!(err.status_code(), 415);
        assert!(err.to_string().contains("application/apply-patch+yaml"));
    }

    #[test]
    fn too_many_json_patch_operations_is_too_large() {
        let err = PatchError::TooManyOperations {
            max: 10_000,
            got: 10_001,
        };
        assert_eq!(err.status_code(), 413);
        assert_eq!(
            err.to_string(),
            "The allowed maximum operations in a JSON patch is 10000, got 10001"
        );
    }
}
