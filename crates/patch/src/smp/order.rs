//! The final order of a merged list (upstream `normalizeElementOrder` and helpers).
//!
//! Items named by the patch (or by `$setElementOrder`) follow the patch's order; items
//! only the server has keep their relative order and are interleaved by their position
//! in the live list. The sort is a port of Go's `sort.SliceStable` (insertion sort in
//! blocks of 20, then SymMerge) because upstream's comparator is not a strict order when
//! an item is missing from the order list, so only the same algorithm gives the same
//! answer in those corner cases.

use serde_json::Value;

use super::directives::{DELETE_DIRECTIVE, DIRECTIVE_MARKER};
use super::value::{GO_MAP, Kind, go_type_name, render};
use crate::PatchError;

/// The value an item is identified by: its merge key for maps, itself otherwise.
/// `None` plays the role of Go's `nil`, which equals another `nil`.
fn order_key<'a>(item: &'a Value, merge_key: &str, kind: Kind) -> Option<&'a Value> {
    match kind {
        Kind::Map => item.as_object().and_then(|m| m.get(merge_key)),
        _ => Some(item),
    }
}

/// Upstream `index`: the position of the first item in `list` identified like `item`.
fn index(list: &[Value], item: &Value, merge_key: &str, kind: Kind) -> Option<usize> {
    let key = order_key(item, merge_key, kind);
    list.iter()
        .position(|candidate| order_key(candidate, merge_key, kind) == key)
}

/// Sort `patch` by `patch_order` and `server_only` by `server_order`, then interleave.
pub(crate) fn normalize_element_order(
    patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    let patch = normalize_slice_order(patch, patch_order, merge_key, kind)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    Ok(merge_sorted_slice(
        server_only,
        patch,
        server_order,
        merge_key,
        kind,
    ))
}

/// Upstream `normalizeSliceOrder`: stable-sort by position in `order`; `$patch: delete`
/// items go last.
fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Result<Vec<Value>, PatchError> {
    let (mut keep, to_delete) = if kind == Kind::Map {
        validate_merge_key_in_lists(merge_key, &[&to_sort, order])?;
        extract_to_delete_items(to_sort)?
    } else {
        (to_sort, Vec::new())
    };
    let ranks = keep
        .iter()
        .map(|item| index(order, item, merge_key, kind))
        .collect();
    go_stable_sort(&mut Sorter {
        items: &mut keep,
        ranks,
    });
    keep.extend(to_delete);
    Ok(keep)
}

/// Upstream `mergeSortedSlice`: insert each `left` (server-only) item before the first
/// `right` (patch) item that comes after it in `server_order`.
fn merge_sorted_slice(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    kind: Kind,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    while let (Some(l), Some(r)) = (left.peek(), right.peek()) {
        let li = index(server_order, l, merge_key, kind);
        let ri = index(server_order, r, merge_key, kind);
        let take_left = matches!((li, ri), (Some(a), Some(b)) if a < b);
        out.extend(if take_left { left.next() } else { right.next() });
    }
    out.extend(left);
    out.extend(right);
    out
}

/// Split scalars into those present in `by` and the rest, keeping order.
pub(crate) fn partition_primitives(list: Vec<Value>, by: &[Value]) -> (Vec<Value>, Vec<Value>) {
    list.into_iter().partition(|v| by.contains(v))
}

/// Split maps into those whose merge key value appears in `by` and the rest.
pub(crate) fn partition_maps(
    list: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let (mut present, mut server_only) = (Vec::new(), Vec::new());
    for item in list {
        let key_value = merge_key_value(&item, merge_key)?;
        if find_map_in_slice(by, merge_key, key_value)?.is_some() {
            present.push(item);
        } else {
            server_only.push(item);
        }
    }
    Ok((present, server_only))
}

/// The merge key value of a list item, which must be a map carrying the key.
pub(crate) fn merge_key_value<'a>(
    item: &'a Value,
    merge_key: &str,
) -> Result<&'a Value, PatchError> {
    let map = item.as_object().ok_or(PatchError::BadArgType {
        expected: GO_MAP,
        actual: go_type_name(item),
    })?;
    map.get(merge_key)
        .ok_or_else(|| no_merge_key(item, merge_key))
}

pub(crate) fn no_merge_key(item: &Value, merge_key: &str) -> PatchError {
    PatchError::NoMergeKey {
        map: render(item),
        key: merge_key.to_string(),
    }
}

/// Upstream `findMapInSliceBasedOnKeyValue`: the first map whose merge key equals `value`.
pub(crate) fn find_map_in_slice(
    list: &[Value],
    merge_key: &str,
    value: &Value,
) -> Result<Option<usize>, PatchError> {
    for (index, item) in list.iter().enumerate() {
        let map = item
            .as_object()
            .ok_or(PatchError::ListItemNotMap { index })?;
        if map.get(merge_key) == Some(value) {
            return Ok(Some(index));
        }
    }
    Ok(None)
}

fn validate_merge_key_in_lists(merge_key: &str, lists: &[&[Value]]) -> Result<(), PatchError> {
    for item in lists.iter().flat_map(|l| l.iter()) {
        merge_key_value(item, merge_key)?;
    }
    Ok(())
}

/// Split maps into kept items and `$patch: delete` items.
pub(crate) fn extract_to_delete_items(
    list: Vec<Value>,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let (mut keep, mut delete) = (Vec::new(), Vec::new());
    for item in list {
        let map = item.as_object().ok_or(PatchError::BadArgType {
            expected: GO_MAP,
            actual: go_type_name(&item),
        })?;
        if map.get(DIRECTIVE_MARKER).and_then(Value::as_str) == Some(DELETE_DIRECTIVE) {
            delete.push(item);
        } else {
            keep.push(item);
        }
    }
    Ok((keep, delete))
}

/// Upstream `deduplicateScalars`, including its swap-with-last order.
pub(crate) fn dedupe_scalars(mut s: Vec<Value>) -> Vec<Value> {
    let mut i = 0;
    while i + 1 < s.len() {
        let mut j = i + 1;
        while j < s.len() {
            if s[i] == s[j] {
                // Go: s[j] = s[length]; s = s[:length]; re-check the new s[j].
                s.swap_remove(j);
            } else {
                j += 1;
            }
        }
        i += 1;
    }
    s
}

/// The slice being sorted and each item's position in the order list.
struct Sorter<'a> {
    items: &'a mut Vec<Value>,
    ranks: Vec<Option<usize>>,
}

impl Sorter<'_> {
    /// Upstream's comparator: by rank when both items are ranked, otherwise "less".
    fn less(&self, i: usize, j: usize) -> bool {
        match (self.ranks[i], self.ranks[j]) {
            (Some(a), Some(b)) => a < b,
            _ => true,
        }
    }

    fn swap(&mut self, i: usize, j: usize) {
        self.items.swap(i, j);
        self.ranks.swap(i, j);
    }
}

/// Go's `stable_func` (sort/zsortfunc.go).
fn go_stable_sort(data: &mut Sorter<'_>) {
    let n = data.ranks.len();
    let mut block = 20;
    let (mut a, mut b) = (0, block);
    while b <= n {
        insertion_sort(data, a, b);
        a = b;
        b += block;
    }
    insertion_sort(data, a, n);
    while block < n {
        let (mut a, mut b) = (0, 2 * block);
        while b <= n {
            sym_merge(data, a, a + block, b);
            a = b;
            b += 2 * block;
        }
        let m = a + block;
        if m < n {
            sym_merge(data, a, m, n);
        }
        block *= 2;
    }
}

fn insertion_sort(data: &mut Sorter<'_>, a: usize, b: usize) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && data.less(j, j - 1) {
            data.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// Go's `symMerge_func`: merge the sorted runs `[a, m)` and `[m, b)` in place.
fn sym_merge(data: &mut Sorter<'_>, a: usize, m: usize, b: usize) {
    if m - a == 1 {
        let (mut i, mut j) = (m, b);
        while i < j {
            let h = (i + j) / 2;
            if data.less(h, a) { i = h + 1 } else { j = h }
        }
        for k in a..i.saturating_sub(1) {
            data.swap(k, k + 1);
        }
        return;
    }
    if b - m == 1 {
        let (mut i, mut j) = (a, m);
        while i < j {
            let h = (i + j) / 2;
            if !data.less(m, h) { i = h + 1 } else { j = h }
        }
        let mut k = m;
        while k > i {
            data.swap(k, k - 1);
            k -= 1;
        }
        return;
    }
    let mid = (a + b) / 2;
    let n = mid + m;
    let (mut start, mut r) = if m > mid { (n - b, mid) } else { (a, m) };
    let p = n - 1;
    while start < r {
        let c = (start + r) / 2;
        if !data.less(p - c, c) {
            start = c + 1
        } else {
            r = c
        }
    }
    let end = n - start;
    if start < m && m < end {
        rotate(data, start, m, end);
    }
    if a < start && start < mid {
        sym_merge(data, a, start, mid);
    }
    if mid < end && end < b {
        sym_merge(data, mid, end, b);
    }
}

/// Go's `rotate_func`: swap the blocks `[a, m)` and `[m, b)`.
fn rotate(data: &mut Sorter<'_>, a: usize, m: usize, b: usize) {
    let (mut i, mut j) = (m - a, b - m);
    while i != j {
        if i > j {
            swap_range(data, m - i, m, j);
            i -= j;
        } else {
            swap_range(data, m - i, m + j - i, i);
            j -= i;
        }
    }
    swap_range(data, m - i, m, i);
}

fn swap_range(data: &mut Sorter<'_>, a: usize, b: usize, n: usize) {
    for i in 0..n {
        data.swap(a + i, b + i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sort_by_ranks(ranks: &[Option<usize>]) -> Vec<usize> {
        let mut items: Vec<Value> = (0..ranks.len()).map(|i| json!(i)).collect();
        go_stable_sort(&mut Sorter {
            items: &mut items,
            ranks: ranks.to_vec(),
        });
        items
            .iter()
            .filter_map(Value::as_u64)
            .map(|v| v as usize)
            .collect()
    }

    #[test]
    fn the_stable_sort_orders_ranked_items_and_keeps_ties_in_place() {
        let ranks: Vec<Option<usize>> = [3, 1, 2, 1, 0].into_iter().map(Some).collect();
        assert_eq!(sort_by_ranks(&ranks), vec![4, 1, 3, 2, 0]);
    }

    #[test]
    fn the_stable_sort_matches_a_std_stable_sort_for_long_ranked_lists() {
        // Past 20 items the SymMerge phase runs; with a strict order it must agree with std.
        let ranks: Vec<Option<usize>> = (0..97).map(|i| Some((i * 37) % 11)).collect();
        let mut expected: Vec<usize> = (0..97).collect();
        expected.sort_by_key(|&i| ranks[i]);
        assert_eq!(sort_by_ranks(&ranks), expected);
    }

    #[test]
    fn unranked_items_are_reversed_like_go_does() {
        // Go's comparator says "less" whenever a rank is missing, so insertion sort
        // reverses a short unranked run; upstream shows the same order.
        assert_eq!(sort_by_ranks(&[None, None, None]), vec![2, 1, 0]);
    }

    #[test]
    fn dedupe_keeps_first_occurrences_with_gos_swap_order() {
        assert_eq!(
            dedupe_scalars(vec![json!(1), json!(2), json!(1), json!(3)]),
            vec![json!(1), json!(2), json!(3)]
        );
        assert_eq!(
            dedupe_scalars(vec![json!(1), json!(1), json!(2), json!(3)]),
            vec![json!(1), json!(3), json!(2)]
        );
    }

    #[test]
    fn server_only_items_are_interleaved_by_live_order() {
        let server = vec![json!(1), json!(2), json!(9)];
        let out = normalize_element_order(
            vec![json!(2), json!(1)],
            vec![json!(9)],
            &[json!(2), json!(1)],
            &server,
            "",
            Kind::Number,
        )
        .expect("order");
        assert_eq!(out, vec![json!(2), json!(1), json!(9)]);
    }
}
