//! Goal: the patches kubectl actually sends to Corral's built-in kinds come out the way
//! kube-apiserver would apply them.
//!
//! Method: realistic objects and the exact bodies kubectl sends for `apply` (re-apply),
//! `taint`, `cordon`/`uncordon`, `patch` and finalizer removal, applied through the
//! public `apply_patch` entry point with the kind's schema from the built-in table.

use corral_patch::{PatchError, PatchSchema, PatchType, apply_patch};
use serde_json::{Value, json};

fn schema(group: &str, kind: &str) -> PatchSchema {
    PatchSchema::for_kind(group, "v1", kind)
        .unwrap_or_else(|| panic!("no schema for {group}/{kind}"))
}

fn smp(original: &Value, patch: Value, schema: PatchSchema) -> Result<Value, PatchError> {
    let body = serde_json::to_vec(&patch).expect("patch serialises");
    apply_patch(original, PatchType::StrategicMerge, &body, schema)
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(|items| items.iter().filter_map(|i| i["name"].as_str()).collect())
        .unwrap_or_default()
}

fn cronjob_with_env() -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "report", "namespace": "default"},
        "spec": {
            "schedule": "*/1 * * * *",
            "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure",
                "containers": [{
                    "name": "main", "image": "busybox",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
                }]
            }}}}
        }
    })
}

#[test]
fn kubectl_reapply_of_a_cronjob_reorders_env_and_deletes_a_variable() {
    let patch = json!({"spec":{"jobTemplate":{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"main"}],"containers":[{"$setElementOrder/env":[{"name":"C"},{"name":"B"}],"env":[{"name":"C","value":"3"},{"$patch":"delete","name":"A"}],"name":"main"}]}}}},"schedule":"*/2 * * * *"}});
    let out = smp(&cronjob_with_env(), patch, schema("batch", "CronJob")).expect("applies");
    let pod_spec = &out["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let env = &pod_spec["containers"][0]["env"];
    assert_eq!(names(env), vec!["C", "B"]);
    assert_eq!(
        env,
        &json!([{"name": "C", "value": "3"}, {"name": "B", "value": "2"}])
    );
    assert_eq!(out["spec"]["schedule"], "*/2 * * * *");
    assert_eq!(pod_spec["containers"][0]["image"], "busybox");
    assert_eq!(pod_spec["restartPolicy"], "OnFailure");
    assert!(
        !out.to_string().contains('$'),
        "no directive may survive: {out}"
    );
}

fn node() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"a": "1"}},
        "spec": {"taints": [{"key": "old", "effect": "NoSchedule"}], "podCIDRs": ["10.0.0.0/24"]},
        "status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady"},
            {"type": "MemoryPressure", "status": "False"}
        ]}
    })
}

#[test]
fn a_taint_list_replaces_the_node_taints_wholesale() {
    // kubectl taint sends the whole new list; taints have no merge strategy.
    let patch = json!({"spec": {"taints": [{"key": "dedicated", "value": "batch", "effect": "NoExecute"}]}});
    let out = smp(&node(), patch, schema("", "Node")).expect("applies");
    assert_eq!(
        out["spec"]["taints"],
        json!([{"key": "dedicated", "value": "batch", "effect": "NoExecute"}])
    );
}

#[test]
fn null_taints_remove_the_list() {
    let out = smp(
        &node(),
        json!({"spec": {"taints": null}}),
        schema("", "Node"),
    )
    .expect("applies");
    assert!(out["spec"].get("taints").is_none());
    assert_eq!(out["spec"]["podCIDRs"], json!(["10.0.0.0/24"]));
}

#[test]
fn cordon_sets_unschedulable_and_uncordon_removes_it() {
    let cordoned = smp(
        &node(),
        json!({"spec": {"unschedulable": true}}),
        schema("", "Node"),
    )
    .expect("cordon");
    assert_eq!(cordoned["spec"]["unschedulable"], true);
    let uncordoned = smp(
        &cordoned,
        json!({"spec": {"unschedulable": null}}),
        schema("", "Node"),
    )
    .expect("uncordon");
    assert!(uncordoned["spec"].get("unschedulable").is_none());
    assert_eq!(uncordoned["spec"]["taints"], node()["spec"]["taints"]);
}

#[test]
fn node_status_conditions_merge_by_type() {
    let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}]}});
    let out = smp(&node(), patch, schema("", "Node")).expect("applies");
    assert_eq!(
        out["status"]["conditions"],
        json!([
            {"type": "Ready", "status": "False", "reason": "KubeletNotReady"},
            {"type": "MemoryPressure", "status": "False"}
        ])
    );
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "p", "namespace": "default", "finalizers": ["a", "b"],
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "u1"}]
        },
        "spec": {
            "containers": [
                {"name": "main", "image": "busybox", "command": ["sh", "-c", "sleep 1"],
                 "env": [{"name": "A", "value": "1"}],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                {"name": "sidecar", "image": "envoy"}
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "tolerations": [{"key": "k", "operator": "Exists"}]
        }
    })
}

#[test]
fn a_finalizer_is_removed_with_a_parallel_deletion_list() {
    let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}});
    let out = smp(&pod(), patch, schema("", "Pod")).expect("applies");
    assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
}

#[test]
fn finalizers_merge_as_a_set_in_patch_order() {
    let out = smp(
        &pod(),
        json!({"metadata": {"finalizers": ["c", "a"]}}),
        schema("", "Pod"),
    )
    .expect("applies");
    // Upstream puts the patch's items in the patch's order and keeps server-only "b".
    assert_eq!(out["metadata"]["finalizers"], json!(["c", "a", "b"]));
}

#[test]
fn owner_references_merge_by_uid() {
    let patch = json!({"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "u2"}]}});
    let out = smp(&pod(), patch, schema("", "Pod")).expect("applies");
    let uids: Vec<&str> = out["metadata"]["ownerReferences"]
        .as_array()
        .map(|l| l.iter().filter_map(|o| o["uid"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(uids, vec!["u2", "u1"]);
}

#[test]
fn containers_merge_by_name_and_env_by_name() {
    let patch = json!({"spec": {"containers": [{"name": "main", "image": "alpine", "env": [{"name": "B", "value": "2"}]}]}});
    let out = smp(&pod(), patch, schema("", "Pod")).expect("applies");
    let containers = &out["spec"]["containers"];
    assert_eq!(names(containers), vec!["main", "sidecar"]);
    assert_eq!(containers[0]["image"], "alpine");
    assert_eq!(names(&containers[0]["env"]), vec!["B", "A"]);
    assert_eq!(containers[0]["command"], json!(["sh", "-c", "sleep 1"]));
}

#[test]
fn command_args_and_tolerations_are_replaced_wholesale() {
    let patch = json!({"spec": {
        "containers": [{"name": "main", "command": ["echo"], "args": ["hi"]}],
        "tolerations": [{"key": "other", "operator": "Exists"}]
    }});
    let out = smp(&pod(), patch, schema("", "Pod")).expect("applies");
    assert_eq!(out["spec"]["containers"][0]["command"], json!(["echo"]));
    assert_eq!(out["spec"]["containers"][0]["args"], json!(["hi"]));
    assert_eq!(
        out["spec"]["tolerations"],
        json!([{"key": "other", "operator": "Exists"}])
    );
}

#[test]
fn a_container_is_deleted_by_name_with_a_delete_directive() {
    let patch = json!({"spec": {"containers": [{"$patch": "delete", "name": "sidecar"}]}});
    let out = smp(&pod(), patch, schema("", "Pod")).expect("applies");
    assert_eq!(names(&out["spec"]["containers"]), vec!["main"]);
}

#[test]
fn a_replace_directive_makes_the_patch_list_the_whole_container_list() {
    let patch =
        json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}});
    let out = smp(&pod(), patch, schema("", "Pod")).expect("applies");
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "only", "image": "x"}])
    );
}

#[test]
fn a_delete_directive_empties_a_map() {
    let original = json!({"spec": {"affinity": {"nodeAffinity": {"x": 1}}, "containers": []}});
    let out = smp(
        &original,
        json!({"spec": {"affinity": {"$patch": "delete"}}}),
        schema("", "Pod"),
    )
    .expect("applies");
    assert_eq!(out["spec"]["affinity"], json!({}));
}

#[test]
fn retain_keys_switches_a_volume_source() {
    // kubectl apply turning an emptyDir volume into a configMap volume.
    let patch = json!({"spec": {
        "$setElementOrder/volumes": [{"name": "data"}],
        "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}, "name": "data"}]
    }});
    let out = smp(&pod(), patch, schema("", "Pod")).expect("applies");
    assert_eq!(
        out["spec"]["volumes"],
        json!([{"name": "data", "configMap": {"name": "cm"}}])
    );
}

#[test]
fn a_new_container_is_stored_without_directives_or_nulls() {
    let patch = json!({"spec": {"containers": [{
        "name": "extra", "image": "x", "resources": null,
        "$setElementOrder/env": [{"name": "E"}], "env": [{"name": "E", "value": "1"}]
    }]}});
    let out = smp(&pod(), patch, schema("", "Pod")).expect("applies");
    let added = &out["spec"]["containers"][0];
    assert_eq!(
        added,
        &json!({"name": "extra", "image": "x", "env": [{"name": "E", "value": "1"}]})
    );
}

#[test]
fn a_job_template_merges_containers_like_a_pod() {
    let job = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}}}});
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "3"}]}}}});
    let out = smp(&job, patch, schema("batch", "Job")).expect("applies");
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "a", "image": "1"}, {"name": "b", "image": "3"}])
    );
}

#[test]
fn an_unknown_kind_treats_every_list_as_atomic() {
    let patch = json!({"spec": {"containers": [{"name": "main", "image": "alpine"}]}});
    let out = smp(&pod(), patch, PatchSchema::none()).expect("applies");
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "main", "image": "alpine"}])
    );
}

#[test]
fn webhook_configurations_merge_webhooks_by_name() {
    let original = json!({"webhooks": [{"name": "a.example.com", "timeoutSeconds": 5}, {"name": "b.example.com"}]});
    let patch = json!({"webhooks": [{"name": "a.example.com", "timeoutSeconds": 10}]});
    let out = smp(
        &original,
        patch,
        schema(
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration",
        ),
    )
    .expect("applies");
    assert_eq!(
        out["webhooks"],
        json!([{"name": "a.example.com", "timeoutSeconds": 10}, {"name": "b.example.com"}])
    );
}

#[test]
fn unknown_dollar_directives_are_invalid() {
    let err = smp(
        &pod(),
        json!({"spec": {"$frobnicate": 1}}),
        schema("", "Pod"),
    )
    .expect_err("rejected");
    assert_eq!(
        err,
        PatchError::UnknownDirective {
            key: "$frobnicate".into()
        }
    );
    assert_eq!(err.status_code(), 422);
}

#[test]
fn a_patch_directive_in_an_atomic_list_is_invalid() {
    let err = smp(
        &pod(),
        json!({"spec": {"tolerations": [{"$patch": "replace"}]}}),
        schema("", "Pod"),
    )
    .expect_err("rejected");
    assert_eq!(
        err,
        PatchError::DirectiveInAtomicList {
            field: "tolerations".into()
        }
    );
    assert_eq!(err.status_code(), 422);
}

#[test]
fn a_merge_directive_is_rejected_as_upstream_does() {
    let err = smp(
        &pod(),
        json!({"spec": {"$patch": "merge"}}),
        schema("", "Pod"),
    )
    .expect_err("map");
    assert!(
        matches!(err, PatchError::UnknownPatchType { ref directive, .. } if directive == "merge"),
        "{err}"
    );
    let err = smp(
        &pod(),
        json!({"spec": {"containers": [{"$patch": "merge"}]}}),
        schema("", "Pod"),
    )
    .expect_err("list");
    assert_eq!(err, PatchError::MergeDirectiveInList);
    assert_eq!(err.status_code(), 422);
}

#[test]
fn malformed_directive_keys_and_values_are_bad_requests() {
    for patch in [
        json!({"spec": {"$setElementOrderX/containers": []}}),
        json!({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}),
        json!({"spec": {"volumes": [{"name": "data", "$retainKeys": "name"}]}}),
        json!({"spec": {"volumes": [{"name": "data", "$retainKeys": ["name"], "hostPath": {"path": "/"}}]}}),
    ] {
        let err = smp(&pod(), patch.clone(), schema("", "Pod")).expect_err("rejected");
        assert!(err.is_bad_request(), "{patch}: {err}");
    }
}

#[test]
fn a_merge_list_element_without_its_key_is_invalid() {
    let err = smp(
        &pod(),
        json!({"spec": {"containers": [{"image": "x"}]}}),
        schema("", "Pod"),
    )
    .expect_err("no key");
    assert!(
        err.to_string()
            .contains("does not contain declared merge key: name"),
        "{err}"
    );
    assert_eq!(err.status_code(), 422);
}

#[test]
fn a_patch_nested_deeper_than_the_limit_is_invalid() {
    let mut deep = json!(1);
    for _ in 0..(corral_patch::MAX_PATCH_DEPTH + 1) {
        deep = json!({ "a": deep });
    }
    let err = corral_patch::strategic_merge(&json!({}), &deep, PatchSchema::none())
        .expect_err("too deep");
    assert_eq!(
        err,
        PatchError::TooDeep {
            max: corral_patch::MAX_PATCH_DEPTH
        }
    );
}

#[test]
fn merge_and_json_patches_work_on_the_same_pod() {
    let merged = apply_patch(
        &pod(),
        PatchType::Merge,
        br#"{"metadata":{"labels":{"x":"y"}}}"#,
        PatchSchema::none(),
    )
    .expect("merge patch");
    assert_eq!(merged["metadata"]["labels"], json!({"x": "y"}));
    let body = br#"[{"op":"replace","path":"/spec/containers/0/image","value":"alpine"}]"#;
    let patched =
        apply_patch(&merged, PatchType::Json, body, PatchSchema::none()).expect("json patch");
    assert_eq!(patched["spec"]["containers"][0]["image"], "alpine");
}
