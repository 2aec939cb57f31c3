//! Goal: strict field validation finds exactly the fields upstream's strict decoder
//! rejects: none in realistic kubectl bodies (with `status: {}`, `resources: {}`,
//! `creationTimestamp: null`, nulls and empty lists), every bogus field at any depth
//! (inside lists too), and duplicated keys.
//! Method: realistic manifests for every stored kind, then the same with bogus fields
//! injected; messages compared with upstream's wording.

mod support;

use corral_api::{KubeObject, ResourceKind};
use corral_registry::strict;
use serde_json::{Value, json};
use support::realistic;

#[test]
fn realistic_kubectl_bodies_have_no_unknown_fields() {
    for kind in ResourceKind::ALL {
        let body = realistic(*kind);
        assert!(
            KubeObject::from_value(*kind, body.clone()).is_ok(),
            "{kind:?} decodes"
        );
        assert_eq!(
            strict::unknown_fields(*kind, &body),
            Vec::<String>::new(),
            "{kind:?}"
        );
    }
}

#[test]
fn stored_objects_read_back_have_no_unknown_fields() {
    for kind in ResourceKind::ALL {
        let mut object = KubeObject::from_value(*kind, realistic(*kind)).unwrap();
        object.meta_mut().uid = Some("u".into());
        let _ = corral_registry::prepare_create(&mut object);
        let value = object.to_value();
        assert_eq!(
            strict::unknown_fields(*kind, &value),
            Vec::<String>::new(),
            "{kind:?}"
        );
    }
}

#[test]
fn bogus_fields_are_found_at_any_depth() {
    let mut job = realistic(ResourceKind::Job);
    job["spec"]["bogusField"] = json!(1);
    job["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = json!("Always");
    job["spec"]["template"]["spec"]["volumes"][1]["configMap"]["nmae"] = json!("cfg");
    job["metadata"]["labelz"] = json!({"a": "b"});
    job["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["extra"] = json!(null);
    job["status"]["nested"] = json!({"deeper": {"still": true}});
    let mut found = strict::unknown_fields(ResourceKind::Job, &job);
    found.sort();
    assert_eq!(
        found,
        vec![
            "metadata.labelz",
            "spec.bogusField",
            "spec.podFailurePolicy.rules[0].onPodConditions[0].extra",
            "spec.template.spec.containers[0].imagePullPolicyy",
            "spec.template.spec.volumes[1].configMap.nmae",
            "status.nested",
        ]
    );
}

#[test]
fn unknown_top_level_sections_are_reported() {
    let mut config_map = realistic(ResourceKind::ConfigMap);
    config_map["spec"] = json!({});
    config_map["status"] = json!({});
    assert_eq!(
        strict::unknown_fields(ResourceKind::ConfigMap, &config_map),
        vec!["spec", "status"]
    );
}

#[test]
fn strict_messages_use_upstream_wording() {
    let mut job = realistic(ResourceKind::Job);
    job["spec"]["bogusField"] = json!(true);
    let bytes = serde_json::to_vec(&job).unwrap();
    let problems = strict::strict_problems(ResourceKind::Job, &bytes, &job);
    assert_eq!(problems, vec!["unknown field \"spec.bogusField\""]);
    assert_eq!(
        strict::strict_error_message(ResourceKind::Job, &problems),
        "Job in version \"v1\" cannot be handled as a Job: strict decoding error: unknown field \"spec.bogusField\""
    );
}

#[test]
fn duplicate_fields_are_found_in_the_raw_bytes() {
    let body = br#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"a","name":"b"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"x","image":"y"}]}}}}"#;
    let raw: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        strict::strict_problems(ResourceKind::Job, body, &raw),
        vec![
            "duplicate field \"metadata.name\"",
            "duplicate field \"spec.template.spec.containers[0].image\"",
        ]
    );
}

#[test]
fn malformed_bodies_get_upstream_style_decode_errors() {
    let raw = json!({"metadata": {"name": "a"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": 5}]}}}});
    let error = KubeObject::from_value(ResourceKind::Job, raw.clone()).unwrap_err();
    assert_eq!(
        strict::decode_error_message(ResourceKind::Job, &raw, &error),
        "Job in version \"v1\" cannot be handled as a Job: json: cannot unmarshal number 5 into Go struct field Container.spec.template.spec.containers.image of type string"
    );
    let mut bad_quantity = KubeObject::from_value(ResourceKind::Pod, json!({
        "metadata": {"name": "p", "namespace": "d"}, "spec": {"containers": [{"name": "c", "image": "x", "resources": {"limits": {"cpu": "lots"}}}]}
    })).unwrap();
    let error = corral_registry::prepare_create(&mut bad_quantity).unwrap_err();
    assert_eq!(error.code, 400);
    assert_eq!(
        error.message,
        "Pod in version \"v1\" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
}
