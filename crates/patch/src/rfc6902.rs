//! JSON patch (RFC 6902, `application/json-patch+json`), used by `kubectl patch --type=json`.
//!
//! Operations are applied by the `json-patch` crate one at a time on a copy of the
//! object, so a failure leaves nothing half-applied and names the failing operation.
//! Decoding and error wording follow what the apiserver does with evanphx/json-patch v4:
//! a body that is not a list of objects is a 400, more than [`MAX_OPERATIONS`]
//! operations a 413, and any operation that fails (unknown `op`, missing path, failed
//! `test`) a 422 with evanphx's message. Copies are bounded like upstream's
//! `AccumulatedCopySizeLimit`, since each `copy` can double the object.

use ::json_patch::{PatchErrorKind, PatchOperation};
use serde_json::Value;

use crate::PatchError;

/// Upstream `maxJSONPatchOperations`.
pub const MAX_OPERATIONS: usize = 10_000;

/// The most bytes all `copy` operations of one patch may add (the apiserver's
/// `JSONPatchMaxCopyBytes` default).
pub const MAX_COPY_BYTES: usize = 3 * 1024 * 1024;

const KNOWN_OPS: [&str; 6] = ["add", "remove", "replace", "move", "copy", "test"];

/// Apply the JSON patch in `body` to `original`.
pub(crate) fn apply(original: &Value, body: &[u8]) -> Result<Value, PatchError> {
    let ops = decode(body)?;
    if ops.len() > MAX_OPERATIONS {
        return Err(PatchError::TooManyOperations {
            max: MAX_OPERATIONS,
            got: ops.len(),
        });
    }
    let mut doc = original.clone();
    let mut copied_bytes = 0usize;
    for op in ops {
        apply_one(&mut doc, op, &mut copied_bytes)?;
    }
    Ok(doc)
}

/// The body as a list of operation objects (evanphx `DecodePatch`).
fn decode(body: &[u8]) -> Result<Vec<serde_json::Map<String, Value>>, PatchError> {
    let parsed: Value = serde_json::from_slice(body).map_err(|e| PatchError::MalformedBody {
        message: e.to_string(),
    })?;
    let Value::Array(items) = parsed else {
        return Err(unmarshal_error(&parsed, "jsonpatch.Patch"));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(op) => Ok(op),
            other => Err(unmarshal_error(&other, "jsonpatch.Operation")),
        })
        .collect()
}

fn unmarshal_error(v: &Value, go_type: &str) -> PatchError {
    let word = match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    PatchError::MalformedBody {
        message: format!("json: cannot unmarshal {word} into Go value of type {go_type}"),
    }
}

/// Decode and apply one operation.
fn apply_one(
    doc: &mut Value,
    mut raw: serde_json::Map<String, Value>,
    copied_bytes: &mut usize,
) -> Result<(), PatchError> {
    // evanphx reads a missing or non-string `op` as "unknown".
    let kind = raw
        .get("op")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    if !KNOWN_OPS.contains(&kind.as_str()) {
        return Err(failed(format!("Unexpected kind: {kind}")));
    }
    // evanphx treats a missing `value` as JSON null.
    if matches!(kind.as_str(), "add" | "replace" | "test") && !raw.contains_key("value") {
        raw.insert("value".to_string(), Value::Null);
    }
    let op: PatchOperation = serde_json::from_value(Value::Object(raw.clone())).map_err(|_| {
        let part = if raw
            .get("path")
            .and_then(Value::as_str)
            .is_some_and(valid_pointer)
        {
            "from"
        } else {
            "path"
        };
        failed(format!("{kind} operation failed to decode {part}"))
    })?;
    if let PatchOperation::Copy(copy) = &op {
        let size = doc.pointer(copy.from.as_str()).map(copy_size).unwrap_or(0);
        *copied_bytes = copied_bytes.saturating_add(size);
        if *copied_bytes > MAX_COPY_BYTES {
            return Err(failed(format!(
                "Unable to complete the copy, the accumulated size increase of copy is {copied_bytes}, exceeding the limit {MAX_COPY_BYTES}"
            )));
        }
    }
    ::json_patch::patch_unsafe(doc, std::slice::from_ref(&op))
        .map_err(|e| failed(describe(&op, &e.kind)))
}

fn valid_pointer(p: &str) -> bool {
    p.is_empty() || p.starts_with('/')
}

fn copy_size(v: &Value) -> usize {
    serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0)
}

fn failed(message: String) -> PatchError {
    PatchError::JsonPatchFailed { message }
}

/// evanphx/json-patch v4's wording for a failed operation.
fn describe(op: &PatchOperation, kind: &PatchErrorKind) -> String {
    let path = op.path().as_str();
    match (op, kind) {
        (PatchOperation::Test(_), PatchErrorKind::TestFailed) => {
            format!("testing value {path} failed: test failed")
        }
        (PatchOperation::Test(_), _) => {
            format!("test operation does not apply: is missing path: {path}: missing value")
        }
        (PatchOperation::Add(_), _) => {
            format!("add operation does not apply: doc is missing path: \"{path}\": missing value")
        }
        (PatchOperation::Remove(_), _) => {
            format!(
                "remove operation does not apply: doc is missing path: \"{path}\": missing value"
            )
        }
        (PatchOperation::Replace(_), _) => {
            format!("replace operation does not apply: doc is missing key: {path}: missing value")
        }
        (PatchOperation::Move(m), PatchErrorKind::CannotMoveInsideItself) => {
            format!(
                "move operation does not apply: cannot move {} into itself at {path}",
                m.from.as_str()
            )
        }
        (PatchOperation::Move(m), PatchErrorKind::InvalidFromPointer) => {
            format!(
                "move operation does not apply: doc is missing from path: {}: missing value",
                m.from.as_str()
            )
        }
        (PatchOperation::Copy(c), PatchErrorKind::InvalidFromPointer) => {
            format!(
                "copy operation does not apply: doc is missing from path: {}: missing value",
                c.from.as_str()
            )
        }
        (PatchOperation::Move(_) | PatchOperation::Copy(_), _) => {
            let name = if matches!(op, PatchOperation::Move(_)) {
                "move"
            } else {
                "copy"
            };
            format!(
                "{name} operation does not apply: doc is missing destination path: {path}: missing value"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(original: Value, body: &str) -> Result<Value, PatchError> {
        apply(&original, body.as_bytes())
    }

    #[test]
    fn operations_apply_in_order() {
        let out = run(
            json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1}}),
            r#"[{"op":"test","path":"/spec/replicas","value":1},
                {"op":"replace","path":"/spec/replicas","value":3},
                {"op":"add","path":"/metadata/labels/b","value":"2"},
                {"op":"remove","path":"/metadata/labels/a"},
                {"op":"copy","from":"/metadata/labels","path":"/metadata/annotations"},
                {"op":"move","from":"/spec/replicas","path":"/spec/parallelism"}]"#,
        );
        assert_eq!(
            out,
            Ok(
                json!({"metadata": {"labels": {"b": "2"}, "annotations": {"b": "2"}}, "spec": {"parallelism": 3}})
            )
        );
    }

    #[test]
    fn a_failed_test_is_invalid_with_evanphx_wording() {
        let err = run(json!({"a": 1}), r#"[{"op":"test","path":"/a","value":2}]"#)
            .expect_err("test fails");
        assert_eq!(err.status_code(), 422);
        assert_eq!(err.to_string(), "testing value /a failed: test failed");
    }

    #[test]
    fn missing_paths_and_unknown_ops_are_invalid() {
        let err =
            run(json!({}), r#"[{"op":"replace","path":"/a","value":2}]"#).expect_err("missing");
        assert_eq!(
            err.to_string(),
            "replace operation does not apply: doc is missing key: /a: missing value"
        );
        let err = run(json!({}), r#"[{"op":"add","path":"/a/b","value":2}]"#)
            .expect_err("missing parent");
        assert_eq!(
            err.to_string(),
            "add operation does not apply: doc is missing path: \"/a/b\": missing value"
        );
        let err = run(json!({}), r#"[{"op":"frobnicate","path":"/a"}]"#).expect_err("unknown op");
        assert_eq!(err.to_string(), "Unexpected kind: frobnicate");
        let err = run(json!({}), r#"[{"path":"/a"}]"#).expect_err("no op");
        assert_eq!(err.to_string(), "Unexpected kind: unknown");
        let err = run(json!({}), r#"[{"op":"add","value":1}]"#).expect_err("no path");
        assert_eq!(err.to_string(), "add operation failed to decode path");
        assert!(err.status_code() == 422);
    }

    #[test]
    fn a_failing_operation_leaves_no_partial_result() {
        let original = json!({"a": 1});
        let err = run(
            original.clone(),
            r#"[{"op":"add","path":"/b","value":2},{"op":"test","path":"/a","value":9}]"#,
        );
        assert!(err.is_err());
    }

    #[test]
    fn bodies_that_are_not_operation_lists_are_bad_requests() {
        for body in ["{", "{}", "[1]", "null", ""] {
            let err = run(json!({}), body).expect_err(body);
            assert!(err.is_bad_request(), "{body}: {err}");
        }
        let err = run(json!({}), "{}").expect_err("object");
        assert_eq!(
            err.to_string(),
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
        );
    }

    #[test]
    fn more_than_ten_thousand_operations_are_too_large() {
        let body = format!(
            "[{}]",
            vec![r#"{"op":"test","path":"","value":{}}"#; MAX_OPERATIONS + 1].join(",")
        );
        let err = run(json!({}), &body).expect_err("too many");
        assert_eq!(err.status_code(), 413);
    }

    #[test]
    fn repeated_copies_stop_at_the_copy_budget() {
        let big = "x".repeat(1024 * 1024);
        let ops: Vec<String> = (0..4)
            .map(|i| format!(r#"{{"op":"copy","from":"/a","path":"/c{i}"}}"#))
            .collect();
        let err = run(json!({ "a": big }), &format!("[{}]", ops.join(","))).expect_err("budget");
        assert!(
            err.to_string().starts_with("Unable to complete the copy"),
            "{err}"
        );
    }
}
