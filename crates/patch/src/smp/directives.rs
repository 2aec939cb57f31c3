//! The strategic merge patch directives that act on one map: `$patch` on a map,
//! `$retainKeys`, the key syntax of the parallel lists (`$deleteFromPrimitiveList/<f>`,
//! `$setElementOrder/<f>`), and the clean-up of values copied verbatim from the patch.
//!
//! Upstream copies patch values it does not merge (new keys, new list elements, replaced
//! values) into the result and relies on the typed decoder to drop leftover directive
//! keys. Corral has no typed decoder between the patch and the store, so the clean-up
//! happens here: `$patch` maps are dropped (as upstream's `removeDirectives` does), the
//! other known directive keys are dropped (as the decoder would), and any other
//! `$`-prefixed key is rejected.

use serde_json::{Map, Value};

use super::value::{GO_LIST, go_type_name, render_map};
use crate::PatchError;

pub(crate) const DIRECTIVE_MARKER: &str = "$patch";
pub(crate) const DELETE_DIRECTIVE: &str = "delete";
pub(crate) const REPLACE_DIRECTIVE: &str = "replace";
pub(crate) const MERGE_DIRECTIVE: &str = "merge";
pub(crate) const RETAIN_KEYS_DIRECTIVE: &str = "$retainKeys";
pub(crate) const DELETE_FROM_PRIMITIVE_LIST_PREFIX: &str = "$deleteFromPrimitiveList";
pub(crate) const SET_ELEMENT_ORDER_PREFIX: &str = "$setElementOrder";

/// The field name after a `<prefix>/` directive key (upstream `extractKey`).
pub(crate) fn extract_key(key: &str, prefix: &str) -> Result<String, PatchError> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Ok(field.to_string()),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST_PREFIX => Err(PatchError::PrimitiveListFormat),
        _ => Err(PatchError::SetElementOrderFormat),
    }
}

/// A `$patch` found in a map (upstream `handleDirectiveInMergeMap`): `replace` yields the
/// rest of the patch map, `delete` an empty map; anything else, `merge` included, is an
/// unknown patch type as it is upstream.
pub(crate) fn handle_map_directive(
    directive: Value,
    mut patch: Map<String, Value>,
) -> Result<Map<String, Value>, PatchError> {
    match directive.as_str() {
        Some(REPLACE_DIRECTIVE) => match remove_directives(Value::Object(patch))? {
            Some(Value::Object(rest)) => Ok(rest),
            _ => Ok(Map::new()),
        },
        Some(DELETE_DIRECTIVE) => Ok(Map::new()),
        _ => {
            let shown = directive_text(&directive);
            patch.insert(DIRECTIVE_MARKER.to_string(), directive);
            Err(PatchError::UnknownPatchType {
                directive: shown,
                map: render_map(&patch),
            })
        }
    }
}

/// How upstream's `%s` prints a `$patch` value: strings bare, anything else as JSON.
pub(crate) fn directive_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => super::value::render(other),
    }
}

/// `$retainKeys` (upstream `applyRetainKeysDirective`): every key the patch sets must be
/// listed, and keys of `original` that are not listed are cleared.
pub(crate) fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(directive) = patch.remove(RETAIN_KEYS_DIRECTIVE) else {
        return Ok(());
    };
    let Value::Array(retained) = directive else {
        return Err(PatchError::RetainKeysFormat);
    };
    let is_retained = |key: &str| retained.iter().any(|v| v.as_str() == Some(key));
    let sets_unlisted_key = patch.iter().any(|(k, v)| {
        !v.is_null()
            && !k.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
            && !k.starts_with(SET_ELEMENT_ORDER_PREFIX)
            && !is_retained(k)
    });
    if sets_unlisted_key {
        return Err(PatchError::RetainKeysFormat);
    }
    original.retain(|k, _| is_retained(k));
    Ok(())
}

/// True for the directive keys the typed decoder would silently drop.
fn is_known_directive_key(key: &str) -> bool {
    key == RETAIN_KEYS_DIRECTIVE
        || key.starts_with(SET_ELEMENT_ORDER_PREFIX)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
}

/// Clean a value copied from the patch (upstream `removeDirectives`, extended as the
/// module docs explain). `None` means the value itself was a `$patch` map and must not
/// be kept; list elements that are `$patch` maps are dropped.
pub(crate) fn remove_directives(v: Value) -> Result<Option<Value>, PatchError> {
    match v {
        Value::Object(map) => {
            if map.contains_key(DIRECTIVE_MARKER) {
                return Ok(None);
            }
            let mut out = Map::new();
            for (k, child) in map {
                if is_known_directive_key(&k) {
                    continue;
                }
                if k.starts_with('$') {
                    return Err(PatchError::UnknownDirective { key: k });
                }
                if let Some(clean) = remove_directives(child)? {
                    out.insert(k, clean);
                }
            }
            Ok(Some(Value::Object(out)))
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.extend(remove_directives(item)?);
            }
            Ok(Some(Value::Array(out)))
        }
        scalar => Ok(Some(scalar)),
    }
}

/// Drop `null` map values at every depth (upstream `discardNullValuesFromPatch`): a
/// `null` in a value that has nothing to delete means "absent".
pub(crate) fn discard_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, child| !child.is_null());
            map.values_mut().for_each(discard_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// A patch value stored where the original had nothing (or a value of another type).
pub(crate) fn inserted_value(mut v: Value) -> Result<Option<Value>, PatchError> {
    discard_nulls(&mut v);
    remove_directives(v)
}

/// A list that replaces the original wholesale because its field has no merge strategy.
/// `$patch` elements make no sense there and are rejected; nested directives are cleaned.
pub(crate) fn atomic_list(field: &str, items: Vec<Value>) -> Result<Vec<Value>, PatchError> {
    if items
        .iter()
        .any(|item| item.get(DIRECTIVE_MARKER).is_some())
    {
        return Err(PatchError::DirectiveInAtomicList {
            field: field.to_string(),
        });
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.extend(remove_directives(item)?);
    }
    Ok(out)
}

/// `expected a []interface {}, but received a <type>` for a value that must be a list.
pub(crate) fn expected_list(actual: &Value) -> PatchError {
    PatchError::BadArgType {
        expected: GO_LIST,
        actual: go_type_name(actual),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn directive_keys_need_a_slash_and_the_exact_prefix() {
        assert_eq!(
            extract_key("$setElementOrder/env", SET_ELEMENT_ORDER_PREFIX),
            Ok("env".into())
        );
        assert_eq!(
            extract_key("$setElementOrderX/env", SET_ELEMENT_ORDER_PREFIX),
            Err(PatchError::SetElementOrderFormat)
        );
        assert_eq!(
            extract_key(
                "$deleteFromPrimitiveList",
                DELETE_FROM_PRIMITIVE_LIST_PREFIX
            ),
            Err(PatchError::PrimitiveListFormat)
        );
    }

    #[test]
    fn retain_keys_clears_unlisted_original_keys() {
        let mut original = obj(json!({"a": 1, "b": 2, "c": 3}));
        let mut patch = obj(json!({"$retainKeys": ["a", "c"], "c": 4, "b": null}));
        apply_retain_keys(&mut original, &mut patch).expect("valid");
        assert_eq!(Value::Object(original), json!({"a": 1, "c": 3}));
        assert!(!patch.contains_key(RETAIN_KEYS_DIRECTIVE));
    }

    #[test]
    fn retain_keys_rejects_a_patch_setting_an_unlisted_key() {
        let mut original = obj(json!({"a": 1}));
        let mut patch = obj(json!({"$retainKeys": ["a"], "b": 2}));
        assert_eq!(
            apply_retain_keys(&mut original, &mut patch),
            Err(PatchError::RetainKeysFormat)
        );
        let mut patch = obj(json!({"$retainKeys": "a"}));
        assert_eq!(
            apply_retain_keys(&mut original, &mut patch),
            Err(PatchError::RetainKeysFormat)
        );
    }

    #[test]
    fn copied_values_lose_directives_and_nulls() {
        let v = json!({"a": null, "b": {"$patch": "delete"}, "c": [{"$patch": "replace"}, {"x": 1, "$retainKeys": ["x"]}]});
        assert_eq!(inserted_value(v), Ok(Some(json!({"c": [{"x": 1}]}))));
        assert_eq!(
            inserted_value(json!({"$patch": "replace", "a": 1})),
            Ok(None)
        );
        assert_eq!(
            inserted_value(json!({"$bogus": 1})),
            Err(PatchError::UnknownDirective {
                key: "$bogus".into()
            })
        );
    }

    #[test]
    fn patch_directives_in_atomic_lists_are_rejected() {
        let err = atomic_list("tolerations", vec![json!({"$patch": "replace"})]);
        assert_eq!(
            err,
            Err(PatchError::DirectiveInAtomicList {
                field: "tolerations".into()
            })
        );
    }

    #[test]
    fn a_map_directive_other_than_replace_or_delete_is_unknown() {
        let err = handle_map_directive(json!("merge"), obj(json!({"a": 1})));
        assert!(
            matches!(err, Err(PatchError::UnknownPatchType { ref directive, .. }) if directive == "merge")
        );
        assert_eq!(
            handle_map_directive(json!("delete"), obj(json!({"a": 1}))),
            Ok(Map::new())
        );
        assert_eq!(
            handle_map_directive(json!("replace"), obj(json!({"a": 1}))),
            Ok(obj(json!({"a": 1})))
        );
    }
}
