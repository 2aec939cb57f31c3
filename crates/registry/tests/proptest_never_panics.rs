//! Goal: no input, however malformed, makes the registry panic: decoding checks,
//! strict field detection, duplicate scanning, defaulting, strategies and validation.
//! Method: proptest over (a) arbitrary JSON built from real field names and (b)
//! realistic manifests with random subtrees replaced; every entry point runs on each.

mod support;

use corral_api::{KubeObject, ResourceKind};
use corral_core::Subresource;
use corral_registry::strict;
use proptest::prelude::*;
use serde_json::{Map, Value};

const KEYS: &[&str] = &[
    "metadata",
    "name",
    "namespace",
    "labels",
    "annotations",
    "spec",
    "status",
    "template",
    "containers",
    "image",
    "ports",
    "containerPort",
    "resources",
    "limits",
    "requests",
    "cpu",
    "memory",
    "selector",
    "matchLabels",
    "matchExpressions",
    "key",
    "operator",
    "values",
    "parallelism",
    "completions",
    "completionMode",
    "podFailurePolicy",
    "rules",
    "action",
    "onExitCodes",
    "successPolicy",
    "schedule",
    "timeZone",
    "jobTemplate",
    "restartPolicy",
    "volumes",
    "volumeMounts",
    "mountPath",
    "emptyDir",
    "tolerations",
    "effect",
    "webhooks",
    "clientConfig",
    "url",
    "service",
    "sideEffects",
    "roleRef",
    "subjects",
    "kind",
    "hard",
    "scopes",
    "data",
    "finalizers",
    "ownerReferences",
    "uid",
    "env",
    "valueFrom",
    "fieldRef",
    "fieldPath",
    "affinity",
    "nodeAffinity",
    "taints",
    "limits",
    "type",
    "x",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        "[a-zA-Z0-9 ./:_*=@%-]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "1",
            "-1",
            "500m",
            "1Gi",
            "Indexed",
            "Never",
            "Always",
            "In",
            "*/5 * * * *",
            "TZ=UTC * * * * *",
            "busybox",
            ""
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<String, Value>>(),
                )
            }),
        ]
    })
}

fn kind() -> impl Strategy<Value = ResourceKind> {
    prop::sample::select(ResourceKind::ALL.to_vec())
}

/// Every registry entry point on one body.
fn exercise(kind: ResourceKind, body: &Value) {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let _ = strict::duplicate_fields(&bytes);
    let _ = strict::strict_problems(kind, &bytes, body);
    match KubeObject::from_value(kind, body.clone()) {
        Err(error) => {
            let _ = strict::decode_error_message(kind, body, &error);
        }
        Ok(object) => {
            let _ = corral_registry::validate_create(&object);
            let _ = corral_registry::warnings_on_create(&object);
            let mut created = object.clone();
            let _ = corral_registry::prepare_create(&mut created);
            for subresource in [Subresource::Main, Subresource::Status] {
                let mut new = object.clone();
                let _ = corral_registry::prepare_update(&mut new, &created, subresource);
            }
        }
    }
}

/// Replaces the node reached by following `path` (indices taken modulo the width).
fn set_at(value: &mut Value, path: &[usize], replacement: Value) {
    let Some((step, rest)) = path.split_first() else {
        *value = replacement;
        return;
    };
    let child = match value {
        Value::Object(map) if !map.is_empty() => {
            let key = map
                .keys()
                .nth(step % map.len())
                .cloned()
                .unwrap_or_default();
            map.get_mut(&key)
        }
        Value::Array(items) if !items.is_empty() => {
            let len = items.len();
            items.get_mut(step % len)
        }
        _ => None,
    };
    match child {
        Some(child) => set_at(child, rest, replacement),
        None => *value = replacement,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(kind in kind(), body in json_value()) {
        exercise(kind, &body);
    }

    #[test]
    fn mutated_realistic_manifests_never_panic(kind in kind(), path in prop::collection::vec(0usize..16, 0..8), replacement in json_value()) {
        let mut body = support::realistic(kind);
        set_at(&mut body, &path, replacement);
        exercise(kind, &body);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_duplicate_scanner(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = strict::duplicate_fields(&bytes);
    }
}

#[test]
fn deeply_nested_bodies_do_not_overflow() {
    let mut body = String::new();
    for _ in 0..5000 {
        body.push_str("{\"a\":[");
    }
    let _ = strict::duplicate_fields(body.as_bytes());
}
