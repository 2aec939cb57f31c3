//! JSON merge patch (RFC 7386, `application/merge-patch+json`), used by
//! `kubectl patch --type=merge`, `label`, `annotate` and `apply` for unknown kinds.
//!
//! The merge itself is `json_patch::merge`. What this module adds is upstream's
//! classification of bodies (evanphx/json-patch `MergePatch` as called by the apiserver):
//! invalid JSON, `null` and scalars are `Invalid JSON Patch` (400); a list would turn the
//! object into a list, which upstream's decoder then rejects (422).

use serde_json::Value;

use crate::PatchError;

/// evanphx/json-patch's `errBadJSONPatch`, returned as a 400 by the apiserver.
const BAD_JSON_PATCH: &str = "Invalid JSON Patch";

/// Apply the merge patch in `body` to `original`.
pub(crate) fn apply(original: &Value, body: &[u8]) -> Result<Value, PatchError> {
    let patch: Value = serde_json::from_slice(body).map_err(|_| bad_patch())?;
    match patch {
        Value::Object(_) => {
            let mut doc = original.clone();
            json_patch::merge(&mut doc, &patch);
            Ok(doc)
        }
        Value::Array(_) => Err(PatchError::MergePatchNotObject),
        _ => Err(bad_patch()),
    }
}

fn bad_patch() -> PatchError {
    PatchError::MalformedBody {
        message: BAD_JSON_PATCH.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_merge_and_null_removes_an_annotation() {
        let original = json!({"metadata": {"labels": {"a": "1"}, "annotations": {"x": "y"}}});
        let out = apply(
            &original,
            br#"{"metadata":{"labels":{"b":"2"},"annotations":{"x":null}}}"#,
        );
        assert_eq!(
            out,
            Ok(json!({"metadata": {"labels": {"a": "1", "b": "2"}, "annotations": {}}}))
        );
    }

    #[test]
    fn lists_are_replaced_wholesale() {
        let original = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let out = apply(&original, br#"{"spec":{"containers":[{"name":"c"}]}}"#);
        assert_eq!(out, Ok(json!({"spec": {"containers": [{"name": "c"}]}})));
    }

    #[test]
    fn bodies_that_are_not_json_objects_are_rejected() {
        let original = json!({"a": 1});
        for body in [&b"{"[..], b"null", b"5", b"\"s\"", b""] {
            let err = apply(&original, body).expect_err("must fail");
            assert!(err.is_bad_request(), "{body:?}: {err}");
            assert_eq!(err.to_string(), BAD_JSON_PATCH);
        }
        assert_eq!(
            apply(&original, b"[1]"),
            Err(PatchError::MergePatchNotObject)
        );
    }
}
