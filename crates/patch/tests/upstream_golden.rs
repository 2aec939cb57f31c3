//! Goal: the strategic merge patch behaves exactly like upstream apimachinery.
//!
//! Method: `testdata/upstream_merge_item.json` holds the apply-side cases of upstream's
//! `strategicpatch/patch_test.go` (custom cases, create cases, raw cases, the
//! RawExtension and unknown-field tests), transcribed from its YAML with upstream's
//! expected results. Each case applies its `twoWay` patch to `original` (expecting
//! `twoWayResult`, else `modified`, or `expectedError`) and, when present, its
//! `threeWay` patch to `current` (expecting `result`). The schema is upstream's test
//! type `MergeItem`. Lists are compared in order: upstream compares raw cases byte for
//! byte, so order is part of the contract.
//!
//! The expected values are upstream's, so there is deliberately no switch that rewrites
//! them from this crate's output.

use corral_patch::{FieldDesc, PatchSchema, TypeDesc, strategic_merge};
use serde_json::{Map, Value, json};

/// Upstream's `MergeItem` test struct: the tagged fields only.
static MERGE_ITEM: TypeDesc = TypeDesc::new(
    "mergeItem",
    &[
        FieldDesc::merge_list("mergingList", "name", Some(&MERGE_ITEM)),
        FieldDesc::atomic_list("nonMergingList", &MERGE_ITEM),
        FieldDesc::merge_set("mergingIntList"),
        FieldDesc::merge_list("mergeItemPtr", "name", Some(&MERGE_ITEM)),
        FieldDesc::replace("replacingItem"),
        FieldDesc::retain_keys("retainKeysMap", Some(&RETAIN_KEYS_MERGE_ITEM)),
        FieldDesc::merge_retain_list("retainKeysMergingList", "name", Some(&MERGE_ITEM)),
    ],
);

/// Upstream's `RetainKeysMergeItem`.
static RETAIN_KEYS_MERGE_ITEM: TypeDesc = TypeDesc::new(
    "retainKeysMergeItem",
    &[
        FieldDesc::merge_set("mergingIntList"),
        FieldDesc::merge_list("mergingList", "name", Some(&MERGE_ITEM)),
        FieldDesc::atomic_list("nonMergingList", &MERGE_ITEM),
    ],
);

fn load_cases() -> Vec<Map<String, Value>> {
    let text = include_str!("../testdata/upstream_merge_item.json");
    let cases: Vec<Value> = serde_json::from_str(text).expect("testdata parses");
    cases
        .into_iter()
        .map(|c| match c {
            Value::Object(m) => m,
            other => panic!("case is not an object: {other}"),
        })
        .collect()
}

/// Apply `patch` to `original` and describe any mismatch with `expected`.
fn check(
    desc: &str,
    step: &str,
    original: &Value,
    patch: &Value,
    expected: Result<&Value, &str>,
) -> Option<String> {
    let schema = PatchSchema::from_type(&MERGE_ITEM);
    let actual = strategic_merge(original, patch, schema);
    match (actual, expected) {
        (Ok(got), Ok(want)) if &got == want => None,
        (Err(err), Err(substring)) if err.to_string().contains(substring) => None,
        (got, want) => Some(format!(
            "{desc} [{step}]\n  original: {original}\n  patch:    {patch}\n  want:     {want:?}\n  got:      {got:?}"
        )),
    }
}

#[test]
fn every_upstream_apply_case_produces_upstreams_result() {
    let cases = load_cases();
    let mut failures = Vec::new();
    let mut checks = 0;
    for case in &cases {
        let desc = case["description"].as_str().unwrap_or("?");
        let empty = json!({});
        let original = case.get("original").unwrap_or(&empty);
        let expected = match (
            case.get("twoWayResult").or(case.get("modified")),
            case.get("expectedError"),
        ) {
            (_, Some(err)) => Err(err.as_str().unwrap_or("")),
            (Some(result), None) => Ok(result),
            (None, None) => panic!("{desc}: no expectation"),
        };
        failures.extend(check(desc, "two-way", original, &case["twoWay"], expected));
        checks += 1;
        if let (Some(current), Some(three_way), Some(result)) = (
            case.get("current"),
            case.get("threeWay"),
            case.get("result"),
        ) {
            failures.extend(check(desc, "three-way", current, three_way, Ok(result)));
            checks += 1;
        }
    }
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {checks} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn applying_a_patch_twice_gives_the_same_result_for_upstream_cases() {
    // Strategic merge patches from kubectl are idempotent; a re-apply must not reorder
    // or duplicate list items.
    let schema = PatchSchema::from_type(&MERGE_ITEM);
    for case in load_cases() {
        if case.contains_key("expectedError") {
            continue;
        }
        let desc = case["description"].as_str().unwrap_or("?");
        let empty = json!({});
        let original = case.get("original").unwrap_or(&empty);
        // Upstream's duplicate-key demonstrations are not idempotent by design, and a
        // re-applied atomic list keeps the `null`s the first (inserting) apply dropped.
        if desc.contains("duplicate") || has_null_in_a_list(&case["twoWay"], false) {
            continue;
        }
        let Ok(once) = strategic_merge(original, &case["twoWay"], schema) else {
            continue;
        };
        let twice = strategic_merge(&once, &case["twoWay"], schema);
        assert_eq!(twice.as_ref(), Ok(&once), "{desc}");
    }
}

fn has_null_in_a_list(v: &Value, in_list: bool) -> bool {
    match v {
        Value::Null => in_list,
        Value::Array(items) => items.iter().any(|i| has_null_in_a_list(i, true)),
        Value::Object(map) => map.values().any(|i| has_null_in_a_list(i, in_list)),
        _ => false,
    }
}

#[test]
fn the_deepest_allowed_patch_merges_without_exhausting_a_test_threads_stack() {
    // Each level goes through a merge list (map -> list -> element map), the costliest
    // recursion path; test threads have a 2 MiB stack.
    let depth = corral_patch::MAX_PATCH_DEPTH / 2 - 1;
    let (mut original, mut patch) = (json!({"name": 0}), json!({"name": 0, "value": "x"}));
    for level in 1..depth {
        original = json!({"name": level, "mergingList": [original]});
        patch = json!({"name": level, "mergingList": [patch]});
    }
    let merged =
        strategic_merge(&original, &patch, PatchSchema::from_type(&MERGE_ITEM)).expect("merges");
    assert!(merged.to_string().contains(r#""value":"x""#));
}
