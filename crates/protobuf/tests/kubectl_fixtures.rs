//! Goal: `decode` turns the protobuf bodies real kubectl 1.32/1.33 send into exactly the
//! JSON kubectl ≤ 1.31 sent for the same commands.
//!
//! Method: `testdata/kubectl-<version>/` holds bodies captured from the real binaries by
//! `testdata/capture.py` (a fake API server on loopback; see its docstring). Where kubectl
//! can print the same object (`--dry-run=client -o json`), the printed JSON was captured
//! next to the body and is the golden; for the rest (auth, token, typed deletes, debug)
//! the golden is written out below from upstream's Go types.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

fn testdata(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(format!("kubectl-{version}"))
}

fn decode_fixture(version: &str, name: &str) -> Value {
    let path = testdata(version).join(format!("{name}.pb"));
    let body = std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    match corral_protobuf::decode(&body) {
        Ok(decoded) => {
            assert_eq!(
                Some(&Value::from(decoded.kind.clone())),
                decoded.object.get("kind")
            );
            assert_eq!(
                Some(&Value::from(decoded.api_version.clone())),
                decoded.object.get("apiVersion")
            );
            decoded.object
        }
        Err(err) => panic!("{}: {err}", path.display()),
    }
}

/// Compares `actual` with kubectl's JSON, returning the paths that differ. The one
/// allowed difference: a list or map kubectl printed as empty (`[]`/`{}`, a non-nil empty
/// Go value) may decode as `null`, because protobuf cannot tell nil from empty and Go's
/// protobuf decoder produces nil.
fn differences(expected: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for key in e.keys().chain(a.keys().filter(|k| !e.contains_key(*k))) {
                let child = format!("{path}.{key}");
                match (e.get(key), a.get(key)) {
                    (Some(ev), Some(av)) => differences(ev, av, &child, out),
                    (Some(ev), None) => out.push(format!("{child}: missing, expected {ev}")),
                    (None, Some(av)) => out.push(format!("{child}: unexpected {av}")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (index, (ev, av)) in e.iter().zip(a).enumerate() {
                differences(ev, av, &format!("{path}[{index}]"), out);
            }
        }
        (Value::Array(e), Value::Null) if e.is_empty() => {}
        (Value::Object(e), Value::Null) if e.is_empty() => {}
        (e, a) if e == a => {}
        (e, a) => out.push(format!("{path}: expected {e}, got {a}")),
    }
}

fn assert_matches_kubectl_json(version: &str, name: &str) {
    let expected_path = testdata(version).join(format!("{name}.json"));
    let expected: Value = serde_json::from_slice(&std::fs::read(&expected_path).unwrap()).unwrap();
    let actual = decode_fixture(version, name);
    let mut diffs = Vec::new();
    differences(&expected, &actual, "", &mut diffs);
    assert!(
        diffs.is_empty(),
        "kubectl {version} {name} differs from kubectl's JSON:\n{}",
        diffs.join("\n")
    );
}

/// Every captured body that has kubectl's own JSON next to it decodes to that JSON.
#[test]
fn every_body_kubectl_can_print_decodes_to_the_json_kubectl_prints() {
    for version in ["1.32", "1.33"] {
        let mut checked = 0;
        for entry in std::fs::read_dir(testdata(version)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "json") {
                let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
                assert_matches_kubectl_json(version, &name);
                checked += 1;
            }
        }
        assert!(
            checked >= 15,
            "kubectl {version}: only {checked} printable fixtures"
        );
    }
}

#[test]
fn create_job_from_cronjob_keeps_pointer_zeros_and_drops_value_zeros() {
    let job = decode_fixture("1.33", "create_job_from_cronjob");
    let spec = &job["spec"];
    assert_eq!(spec["backoffLimit"], json!(0));
    assert_eq!(spec["suspend"], json!(false));
    assert_eq!(spec["manualSelector"], json!(false));
    assert_eq!(spec["ttlSecondsAfterFinished"], json!(0));
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["terminationGracePeriodSeconds"], json!(0));
    assert_eq!(pod["enableServiceLinks"], json!(false));
    assert!(
        pod.get("hostNetwork").is_none(),
        "non-pointer false is omitted: {pod}"
    );
    let container = &pod["containers"][0];
    assert_eq!(
        container["securityContext"],
        json!({"privileged": false, "runAsNonRoot": false, "runAsUser": 0})
    );
    assert_eq!(container["env"][0], json!({"name": "A"}));
    assert_eq!(
        container["readinessProbe"]["httpGet"]["port"],
        json!("http")
    );
    assert!(
        container["readinessProbe"]
            .get("initialDelaySeconds")
            .is_none()
    );
    assert_eq!(pod["tolerations"][0]["tolerationSeconds"], json!(0));
    assert_eq!(
        pod["volumes"][1],
        json!({"name": "cfg", "configMap": {"name": "cm", "defaultMode": 420, "optional": false}})
    );
    assert_eq!(job["metadata"]["creationTimestamp"], Value::Null);
    assert_eq!(
        job["metadata"]["ownerReferences"],
        json!([{"apiVersion": "batch/v1", "kind": "CronJob", "name": "cj", "uid": "0b7a3a3e-6f1c-4a43-9a43-3f5b7c0e1d22", "controller": true}])
    );
}

#[test]
fn auth_can_i_sends_a_self_subject_access_review() {
    for version in ["1.32", "1.33"] {
        assert_eq!(
            decode_fixture(version, "auth_can_i_create_jobs"),
            json!({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                   "metadata": {"creationTimestamp": null},
                   "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "group": "batch", "resource": "jobs"}},
                   "status": {"allowed": false}})
        );
        assert_eq!(
            decode_fixture(version, "auth_can_i_subresource")["spec"],
            json!({"resourceAttributes": {"namespace": "kube-system", "verb": "get", "resource": "pods", "subresource": "log"}})
        );
        assert_eq!(
            decode_fixture(version, "auth_can_i_non_resource")["spec"],
            json!({"nonResourceAttributes": {"path": "/logs", "verb": "get"}})
        );
    }
}

#[test]
fn auth_can_i_list_sends_a_self_subject_rules_review() {
    assert_eq!(
        decode_fixture("1.33", "auth_can_i_list"),
        json!({"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
               "metadata": {"creationTimestamp": null}, "spec": {"namespace": "default"},
               "status": {"resourceRules": null, "nonResourceRules": null, "incomplete": false}})
    );
}

#[test]
fn auth_whoami_sends_a_self_subject_review() {
    assert_eq!(
        decode_fixture("1.33", "auth_whoami"),
        json!({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
               "metadata": {"creationTimestamp": null}, "status": {"userInfo": {}}})
    );
}

#[test]
fn create_token_sends_a_token_request() {
    assert_eq!(
        decode_fixture("1.33", "create_token"),
        json!({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
               "metadata": {"creationTimestamp": null}, "spec": {"audiences": null},
               "status": {"token": "", "expirationTimestamp": null}})
    );
    assert_eq!(
        decode_fixture("1.32", "create_token_audiences")["spec"],
        json!({"audiences": ["aud1", "aud2"], "expirationSeconds": 600})
    );
}

#[test]
fn drain_without_eviction_sends_delete_options_with_a_zero_grace_period() {
    for version in ["1.32", "1.33"] {
        assert_eq!(
            decode_fixture(version, "drain_delete_options"),
            json!({"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})
        );
    }
}

#[test]
fn debug_node_sends_a_host_pod() {
    let pod = decode_fixture("1.33", "debug_node");
    assert_eq!(pod["kind"], json!("Pod"));
    let name = pod["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("node-debugger-n1-"), "{name}");
    assert_eq!(
        pod["spec"],
        json!({"containers": [{"name": "debugger", "image": "busybox", "resources": {}, "terminationMessagePolicy": "File",
                               "volumeMounts": [{"name": "host-root", "mountPath": "/host"}]}],
               "hostIPC": true, "hostNetwork": true, "hostPID": true, "nodeName": "n1", "restartPolicy": "Never",
               "tolerations": [{"operator": "Exists"}],
               "volumes": [{"name": "host-root", "hostPath": {"path": "/"}}]})
    );
}

/// Every captured body is asserted somewhere above; a new capture must get a golden.
#[test]
fn every_fixture_is_covered() {
    let explicit = [
        "auth_can_i_create_jobs",
        "auth_can_i_subresource",
        "auth_can_i_non_resource",
        "auth_can_i_list",
        "auth_whoami",
        "create_token",
        "create_token_audiences",
        "drain_delete_options",
        "debug_node",
    ];
    for version in ["1.32", "1.33"] {
        for entry in std::fs::read_dir(testdata(version)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "pb") {
                let name = path.file_stem().unwrap().to_str().unwrap();
                let has_json = path.with_extension("json").exists();
                assert!(
                    has_json || explicit.contains(&name),
                    "kubectl {version} fixture {name} has no golden"
                );
                // Every fixture decodes, whether or not it has a golden of its own.
                decode_fixture(version, name);
            }
        }
    }
}
