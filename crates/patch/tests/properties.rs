//! Goal: properties that must hold for every input, not just the golden cases.
//!
//! Method: proptest with its deterministic default seed source (failures persist as
//! regression seeds). (1) Without metadata and without directives or lists of objects,
//! a strategic merge patch is exactly an RFC 7386 merge patch. (2) No body of any patch
//! type, however malformed or hostile, makes the crate panic; it returns `Ok` or a
//! `PatchError`. Generated keys mix real field names and every directive so the
//! strategic merge paths are all reached.

use corral_patch::{PatchSchema, PatchType, apply_patch, strategic_merge};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..3).prop_map(Value::from),
        (-2.0f64..2.0).prop_map(Value::from),
        "[a-c]{0,2}".prop_map(Value::String),
    ]
}

/// JSON values whose lists hold only scalars, with plain (non-`$`) keys.
fn plain_json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(scalar(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-d]", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn plain_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-d]", plain_json(), 0..5)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// Keys that reach every branch of the strategic merge: Pod field names, merge keys
/// and all directives, well-formed and malformed.
const KEYS: &[&str] = &[
    "metadata",
    "spec",
    "containers",
    "env",
    "name",
    "value",
    "finalizers",
    "volumes",
    "emptyDir",
    "ownerReferences",
    "uid",
    "tolerations",
    "$patch",
    "$retainKeys",
    "$setElementOrder/containers",
    "$setElementOrder/env",
    "$setElementOrder/finalizers",
    "$deleteFromPrimitiveList/finalizers",
    "$deleteFromPrimitiveList/env",
    "$setElementOrder",
    "$bogus",
];

fn directive_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        scalar(),
        prop::sample::select(vec!["delete", "replace", "merge", "A", "B", "main"])
            .prop_map(Value::from),
    ]
}

fn hostile_json() -> impl Strategy<Value = Value> {
    directive_scalar().prop_recursive(5, 64, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..4).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

fn hostile_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(prop::sample::select(KEYS), hostile_json(), 0..4).prop_map(|m| {
        Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<Map<_, _>>(),
        )
    })
}

fn json_patch_op() -> impl Strategy<Value = Value> {
    let op = prop::sample::select(vec![
        "add", "remove", "replace", "move", "copy", "test", "bogus",
    ]);
    let path = prop::sample::select(vec![
        "", "/", "/a", "/a/0", "/a/-", "/b/c", "/a/1/x", "a", "/~2", "/0",
    ]);
    (op, path.clone(), path, plain_json(), any::<bool>()).prop_map(
        |(op, path, from, value, with_value)| {
            let mut m = Map::new();
            m.insert("op".into(), Value::from(op));
            m.insert("path".into(), Value::from(path));
            m.insert("from".into(), Value::from(from));
            if with_value {
                m.insert("value".into(), value);
            }
            Value::Object(m)
        },
    )
}

fn pod_schema() -> PatchSchema {
    PatchSchema::for_kind("", "v1", "Pod").expect("pod schema")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn without_metadata_a_strategic_merge_is_a_json_merge_patch(original in plain_object(), patch in plain_object()) {
        let mut expected = original.clone();
        json_patch::merge(&mut expected, &patch);
        prop_assert_eq!(strategic_merge(&original, &patch, PatchSchema::none()), Ok(expected));
    }

    #[test]
    fn arbitrary_json_patch_bodies_never_panic(original in plain_object(), ops in prop::collection::vec(json_patch_op(), 0..6)) {
        let body = serde_json::to_vec(&ops).unwrap_or_default();
        let _ = apply_patch(&original, PatchType::Json, &body, PatchSchema::none());
    }

    #[test]
    fn arbitrary_bytes_never_panic_any_patch_type(original in plain_object(), body in prop::collection::vec(any::<u8>(), 0..64)) {
        for patch_type in [PatchType::Json, PatchType::Merge, PatchType::StrategicMerge, PatchType::Apply] {
            let _ = apply_patch(&original, patch_type, &body, pod_schema());
        }
    }

    #[test]
    fn hostile_strategic_merge_patches_never_panic(original in hostile_object(), patch in hostile_object()) {
        for schema in [pod_schema(), PatchSchema::none()] {
            let _ = strategic_merge(&original, &patch, schema);
        }
    }

    #[test]
    fn a_successful_strategic_merge_leaves_no_directive_behind(original in plain_object(), patch in hostile_object()) {
        // The original is clean, so any `$` key in the result would come from the patch.
        if let Ok(merged) = strategic_merge(&original, &patch, pod_schema()) {
            prop_assert!(!has_dollar_key(&merged), "directive leaked: {}", merged);
        }
    }
}

fn has_dollar_key(v: &Value) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, child)| k.starts_with('$') || has_dollar_key(child)),
        Value::Array(items) => items.iter().any(has_dollar_key),
        _ => false,
    }
}
