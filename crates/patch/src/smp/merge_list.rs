//! Merging a patch list into an original list (upstream `mergeSliceHandler`,
//! `mergeSlice`, `mergeSliceWithSpecialElements`, `mergeSliceWithoutSpecialElements`).
//!
//! A list merges only when its field has the `merge` strategy (or the patch key is a
//! `$deleteFromPrimitiveList/` parallel list); otherwise the patch list replaces it.
//! Lists of primitives merge as sets; lists of maps merge element-wise by merge key,
//! honouring `{"$patch": "delete"|"replace"}` elements. The merged list is then put in
//! the patch's order by [`super::order`].
//!
//! Upstream deletes and appends in place on Go slices that share a backing array with
//! the caller's copy of the original list, and `$setElementOrder` later reads that copy
//! as the live order. Its results (pinned by upstream's tests) depend on that, so
//! [`BackingView`] replays the same writes on a copy of the original list.

use serde_json::Value;

use super::directives::{
    DELETE_DIRECTIVE, DIRECTIVE_MARKER, MERGE_DIRECTIVE, REPLACE_DIRECTIVE, atomic_list,
    directive_text, inserted_value,
};
use super::merge_map::merge_map;
use super::order::{
    dedupe_scalars, find_map_in_slice, merge_key_value, normalize_element_order, partition_maps,
    partition_primitives,
};
use super::value::{GO_MAP, Kind, go_type_name, render_map, slice_element_kind};
use crate::PatchError;
use crate::meta::FieldLookup;

/// The original list as upstream's caller sees it through the shared Go backing array:
/// same length as the original, rewritten wherever the merge deleted (shifting left) or
/// appended in place. Disabled (`None`) when nobody reads it.
pub(crate) struct BackingView(Option<Vec<Value>>);

impl BackingView {
    pub(crate) fn of(original: &[Value]) -> Self {
        Self(Some(original.to_vec()))
    }

    fn disabled() -> Self {
        Self(None)
    }

    /// Mirror `local[from..]` into the view, as far as the view (the backing array the
    /// caller can see) reaches. Slots past `local.len()` keep their stale values.
    fn sync_from(&mut self, from: usize, local: &[Value]) {
        if let Some(view) = &mut self.0 {
            let end = local.len().min(view.len());
            if from < end {
                view[from..end].clone_from_slice(&local[from..end]);
            }
        }
    }

    pub(crate) fn into_inner(self) -> Vec<Value> {
        self.0.unwrap_or_default()
    }
}

/// Merge the list under `field` (upstream `mergeSliceHandler`).
pub(crate) fn merge_list_field(
    original: Vec<Value>,
    patch: Vec<Value>,
    field: &str,
    meta: FieldLookup,
    is_delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    merge_list_field_tracked(
        original,
        patch,
        field,
        meta,
        is_delete_list,
        &mut BackingView::disabled(),
    )
}

/// [`merge_list_field`], replaying upstream's in-place writes on `backing`.
pub(crate) fn merge_list_field_tracked(
    original: Vec<Value>,
    patch: Vec<Value>,
    field: &str,
    meta: FieldLookup,
    is_delete_list: bool,
    backing: &mut BackingView,
) -> Result<Vec<Value>, PatchError> {
    // Delete lists are handled the same way whatever the field's strategy is.
    if meta.merges() || is_delete_list {
        merge_slice(original, patch, field, meta, is_delete_list, backing)
    } else {
        atomic_list(field, patch)
    }
}

/// Upstream `mergeSlice`.
fn merge_slice(
    original: Vec<Value>,
    patch: Vec<Value>,
    field: &str,
    meta: FieldLookup,
    is_delete_list: bool,
    backing: &mut BackingView,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = slice_element_kind(&[&original, &patch])?;
    let merge_key = meta.merge_key.unwrap_or("");
    let (original, patch, merged) = if kind != Kind::Map {
        if is_delete_list {
            return Ok(delete_from_slice(original, &patch));
        }
        // Upstream appends and de-duplicates ("maybe add a concat mode one day").
        let merged = dedupe_scalars(original.iter().chain(patch.iter()).cloned().collect());
        (original, patch, merged)
    } else {
        if merge_key.is_empty() {
            return Err(PatchError::NoMergeKeyForList {
                field: field.to_string(),
            });
        }
        let (original, patch, replaced) =
            merge_special_elements(original, patch, merge_key, backing)?;
        // After a replace the original is a fresh list, no longer the caller's array.
        let appends_to = if replaced {
            &mut BackingView::disabled()
        } else {
            backing
        };
        let merged = merge_plain_elements(original.clone(), &patch, merge_key, meta, appends_to)?;
        (original, patch, merged)
    };
    let (patch_items, server_only) = if merge_key.is_empty() {
        partition_primitives(merged, &patch)
    } else {
        partition_maps(merged, &patch, merge_key)?
    };
    normalize_element_order(patch_items, server_only, &patch, &original, merge_key, kind)
}

/// Upstream `mergeSliceWithSpecialElements`: apply `$patch` elements and return the
/// updated original, the patch without them, and whether a `replace` was seen.
/// `replace` makes the plain elements the whole list; `delete` removes every original
/// element with that merge key.
fn merge_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
    backing: &mut BackingView,
) -> Result<(Vec<Value>, Vec<Value>, bool), PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let map = item.as_object().ok_or(PatchError::BadArgType {
            expected: GO_MAP,
            actual: go_type_name(&item),
        })?;
        let Some(directive) = map.get(DIRECTIVE_MARKER) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some(DELETE_DIRECTIVE) => {
                let key_value = merge_key_value(&item, merge_key)?;
                let first_removed = find_map_in_slice(&original, merge_key, key_value)?;
                original = delete_matching_entries(original, merge_key, key_value)?;
                if let Some(from) = first_removed {
                    backing.sync_from(from, &original);
                }
            }
            // Keep scanning so the other `$patch` elements are pruned too.
            Some(REPLACE_DIRECTIVE) => replace = true,
            Some(MERGE_DIRECTIVE) => return Err(PatchError::MergeDirectiveInList),
            _ => {
                return Err(PatchError::UnknownPatchType {
                    directive: directive_text(directive),
                    map: render_map(map),
                });
            }
        }
    }
    if replace {
        let mut cleaned = Vec::with_capacity(plain.len());
        for item in plain {
            cleaned.extend(inserted_value(item)?);
        }
        return Ok((cleaned, Vec::new(), true));
    }
    Ok((original, plain, false))
}

/// Remove every element whose merge key equals `key_value`.
fn delete_matching_entries(
    original: Vec<Value>,
    merge_key: &str,
    key_value: &Value,
) -> Result<Vec<Value>, PatchError> {
    // Validate like upstream's search does before dropping anything.
    find_map_in_slice(&original, merge_key, key_value)?;
    Ok(original
        .into_iter()
        .filter(|item| item.get(merge_key) != Some(key_value))
        .collect())
}

/// Upstream `mergeSliceWithoutSpecialElements`: merge each patch element into the first
/// original element with the same merge key, or append it.
fn merge_plain_elements(
    mut original: Vec<Value>,
    patch: &[Value],
    merge_key: &str,
    meta: FieldLookup,
    backing: &mut BackingView,
) -> Result<Vec<Value>, PatchError> {
    for item in patch {
        let key_value = merge_key_value(item, merge_key)?;
        let Value::Object(patch_map) = item.clone() else {
            continue; // merge_key_value already proved it is a map
        };
        match find_map_in_slice(&original, merge_key, key_value)? {
            Some(index) => {
                let Value::Object(original_map) = original[index].take() else {
                    continue; // find_map_in_slice already proved it is a map
                };
                original[index] = Value::Object(merge_map(original_map, patch_map, meta.ty)?);
            }
            None => {
                original.extend(inserted_value(Value::Object(patch_map))?);
                backing.sync_from(original.len().saturating_sub(1), &original);
            }
        }
    }
    Ok(original)
}

/// Upstream `deleteFromSlice`: drop the scalars listed in a parallel deletion list.
fn delete_from_slice(current: Vec<Value>, to_delete: &[Value]) -> Vec<Value> {
    current
        .into_iter()
        .filter(|v| !to_delete.contains(v))
        .collect()
}
