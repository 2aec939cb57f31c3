//! Strategic merge patch, apply side only: a port of the server half of upstream
//! `k8s.io/apimachinery/pkg/util/strategicpatch/patch.go` (`StrategicMergeMapPatch`).
//!
//! kubectl computes strategic merge patches; the server only applies them, so there is
//! no diff side here. Maps merge recursively and `null` deletes a key; lists follow the
//! patch metadata of their field ([`crate::meta`]); the directives `$patch`,
//! `$retainKeys`, `$deleteFromPrimitiveList/<f>` and `$setElementOrder/<f>` are honoured
//! and any other `$` key is rejected. Values copied verbatim from the patch are cleaned
//! of directives ([`directives`] explains why Corral does that here).
//!
//! Recursion follows the patch, and the patch's depth is checked once up front against
//! [`crate::MAX_PATCH_DEPTH`], so no input can exhaust the stack.

mod directives;
mod merge_list;
mod merge_map;
mod order;
mod set_element_order;
mod value;

use serde_json::Value;

use crate::{MAX_PATCH_DEPTH, PatchError, PatchSchema};

/// Apply the strategic merge patch `patch` to `original` using `schema`'s list strategies.
///
/// Both must be JSON objects. `original` is not modified; the merged object is returned.
pub fn strategic_merge(
    original: &Value,
    patch: &Value,
    schema: PatchSchema,
) -> Result<Value, PatchError> {
    let Value::Object(original) = original else {
        return Err(PatchError::InvalidDocument);
    };
    // Go decodes a `null` body into an untouched empty map: an empty patch.
    if patch.is_null() {
        return Ok(Value::Object(original.clone()));
    }
    let Value::Object(patch_map) = patch else {
        return Err(PatchError::MalformedBody {
            message: format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_type_word(patch)
            ),
        });
    };
    if value::nests_deeper_than(patch, MAX_PATCH_DEPTH) {
        return Err(PatchError::TooDeep {
            max: MAX_PATCH_DEPTH,
        });
    }
    let merged = merge_map::merge_map(original.clone(), patch_map.clone(), schema.type_desc())?;
    Ok(Value::Object(merged))
}

/// How Go's `encoding/json` names a JSON value in an unmarshal type error.
fn json_type_word(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
