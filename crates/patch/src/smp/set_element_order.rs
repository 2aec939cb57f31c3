//! `$setElementOrder/<list>`: the final order of a merged list (upstream
//! `mergePatchIntoOriginal` with `MergeParallelList`).
//!
//! kubectl sends the full desired order of a merge list beside a patch list that only
//! holds changed items. The list is merged first, then put in order: items named by the
//! directive follow it, server-only items keep their place relative to the live list
//! (precedence: `$setElementOrder` > order in the patch list > order in the live list).

use serde_json::{Map, Value};

use super::directives::{
    DIRECTIVE_MARKER, SET_ELEMENT_ORDER_PREFIX, expected_list, extract_key, remove_directives,
};
use super::merge_list::{BackingView, merge_list_field_tracked};
use super::order::{
    extract_to_delete_items, normalize_element_order, partition_maps, partition_primitives,
};
use super::value::{GO_MAP, go_type_name, render_list, slice_element_kind};
use crate::PatchError;
use crate::meta::{FieldLookup, TypeDesc};

/// Process every `$setElementOrder/` key of `patch` with the list it names, writing the
/// ordered result into `original` and removing both keys from `patch`.
pub(crate) fn merge_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    ty: Option<&'static TypeDesc>,
) -> Result<(), PatchError> {
    let mut keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER_PREFIX))
        .cloned()
        .collect();
    keys.sort();
    for key in keys {
        let Some(order_value) = patch.remove(&key) else {
            continue;
        };
        let Value::Array(order) = order_value else {
            return Err(expected_list(&order_value));
        };
        let field = extract_key(&key, SET_ELEMENT_ORDER_PREFIX)?;
        let original_list = take_list(original, &field)?;
        let patch_list = take_list(patch, &field)?;
        let meta = FieldLookup::of(ty, &field);
        if let Some(ordered) = order_list(original_list, patch_list, &order, &field, meta)? {
            original.insert(field, Value::Array(ordered));
        }
    }
    Ok(())
}

/// Remove and return the list under `field`; any other value is an error.
fn take_list(map: &mut Map<String, Value>, field: &str) -> Result<Option<Vec<Value>>, PatchError> {
    match map.remove(field) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(expected_list(&other)),
    }
}

/// Merge one list and order it by `order`. `None` when neither side has the list.
fn order_list(
    original_list: Option<Vec<Value>>,
    patch_list: Option<Vec<Value>>,
    order: &[Value],
    field: &str,
    meta: FieldLookup,
) -> Result<Option<Vec<Value>>, PatchError> {
    let merge_key = meta.merge_key.unwrap_or("");
    validate_patch_with_set_order_list(patch_list.as_deref().unwrap_or(&[]), order, merge_key)?;
    // The element kind comes from the lists as they were before merging; the live order
    // is the original list as upstream's in-place merge leaves it (see `BackingView`).
    let original_items = original_list.as_deref().unwrap_or(&[]);
    let kind = slice_element_kind(&[original_items, patch_list.as_deref().unwrap_or(&[])]);
    let mut backing = BackingView::of(original_items);
    let merged = match (original_list, patch_list) {
        (Some(original), None) => original,
        (None, Some(patch)) => match remove_directives(Value::Array(patch))? {
            Some(Value::Array(cleaned)) => cleaned,
            _ => Vec::new(),
        },
        (Some(original), Some(patch)) => {
            merge_list_field_tracked(original, patch, field, meta, false, &mut backing)?
        }
        (None, None) => return Ok(None),
    };
    let (present, server_only) = if merge_key.is_empty() {
        partition_primitives(merged, order)
    } else {
        partition_maps(merged, order, merge_key)?
    };
    let server_order = backing.into_inner();
    normalize_element_order(present, server_only, order, &server_order, merge_key, kind?).map(Some)
}

/// Upstream `validatePatchWithSetOrderList`: the patch list's items (deletions and other
/// directive items aside) must appear in the directive in the same relative order.
fn validate_patch_with_set_order_list(
    patch_list: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<(), PatchError> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let non_delete = if merge_key.is_empty() {
        patch_list.to_vec()
    } else {
        extract_to_delete_items(patch_list.to_vec())?.0
    };
    let (mut p, mut o) = (0, 0);
    while p < non_delete.len() && o < order.len() {
        if non_delete[p].get(DIRECTIVE_MARKER).is_some() {
            p += 1;
            continue;
        }
        if merge_key_value_equal(&non_delete[p], &order[o], merge_key)? {
            p += 1;
        }
        o += 1;
    }
    if p < non_delete.len() && o >= order.len() {
        return Err(PatchError::ElementOrderMismatch {
            patch_list: render_list(patch_list),
            order_list: render_list(order),
        });
    }
    Ok(())
}

/// Equal items for primitives; equal merge key values for maps (which must have it).
fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool, PatchError> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let key_of = |v: &Value| -> Result<Value, PatchError> {
        let map = v.as_object().ok_or(PatchError::BadArgType {
            expected: GO_MAP,
            actual: go_type_name(v),
        })?;
        map.get(merge_key)
            .cloned()
            .ok_or_else(|| super::order::no_merge_key(v, merge_key))
    };
    Ok(key_of(left)? == key_of(right)?)
}
