//! Merging a patch map into an original map (upstream `mergeMap` on the apply path,
//! `MergeParallelList` and `IgnoreUnmatchedNulls` both on).
//!
//! Order of work, as upstream: a `$patch` directive decides the whole map; then
//! `$retainKeys`; then every `$setElementOrder/<list>` together with its list; then the
//! remaining keys one by one. Keys are visited in sorted order (upstream visits them in
//! Go's random map order and its results do not depend on it; sorting keeps ours fixed).

use serde_json::{Map, Value};

use super::directives::{
    DELETE_FROM_PRIMITIVE_LIST_PREFIX, DIRECTIVE_MARKER, apply_retain_keys, extract_key,
    handle_map_directive, inserted_value, remove_directives,
};
use super::merge_list::merge_list_field;
use super::set_element_order::merge_set_element_order;
use super::value::kind;
use crate::PatchError;
use crate::meta::{FieldLookup, TypeDesc};

/// Merge `patch` into `original`; `ty` describes the map's fields (if known).
pub(crate) fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    ty: Option<&'static TypeDesc>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.remove(DIRECTIVE_MARKER) {
        return handle_map_directive(directive, patch);
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order(&mut original, &mut patch, ty)?;
    let mut entries: Vec<(String, Value)> = patch.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, value) in entries {
        merge_entry(&mut original, key, value, ty)?;
    }
    Ok(original)
}

/// Merge one patch key into `original`.
fn merge_entry(
    original: &mut Map<String, Value>,
    key: String,
    patch_value: Value,
    ty: Option<&'static TypeDesc>,
) -> Result<(), PatchError> {
    // A parallel deletion list acts on the list it names.
    let is_delete_list = key.starts_with(DELETE_FROM_PRIMITIVE_LIST_PREFIX);
    let field = if is_delete_list {
        extract_key(&key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)?
    } else {
        key
    };
    if !is_delete_list && field.starts_with('$') {
        return Err(PatchError::UnknownDirective { key: field });
    }
    // `null` deletes; a `null` with nothing to delete is dropped.
    if patch_value.is_null() {
        original.remove(&field);
        return Ok(());
    }
    let same_kind = original
        .get(&field)
        .is_some_and(|v| kind(v) == kind(&patch_value));
    if !same_kind {
        // Nothing (or a value of another type) to merge with: take the patch value.
        if !is_delete_list {
            store(original, field, inserted_value(patch_value)?);
        }
        return Ok(());
    }
    let meta = FieldLookup::of(ty, &field);
    let original_value = original
        .get_mut(&field)
        .map(Value::take)
        .unwrap_or_default();
    let merged = match (original_value, patch_value) {
        (Value::Object(_), Value::Object(p)) if meta.replaces() => {
            remove_directives(Value::Object(p))?
        }
        (Value::Object(o), Value::Object(p)) => Some(Value::Object(merge_map(o, p, meta.ty)?)),
        (Value::Array(o), Value::Array(p)) => Some(Value::Array(merge_list_field(
            o,
            p,
            &field,
            meta,
            is_delete_list,
        )?)),
        (_, scalar) => Some(scalar),
    };
    store(original, field, merged);
    Ok(())
}

/// Put a value under `field`, or remove the field when the value was a directive map.
fn store(original: &mut Map<String, Value>, field: String, value: Option<Value>) {
    match value {
        Some(v) => {
            original.insert(field, v);
        }
        None => {
            original.remove(&field);
        }
    }
}
