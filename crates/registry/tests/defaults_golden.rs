//! Goal: what the registry stores for the manifests kubectl sends equals what a real
//! cluster returns (`kubectl get -o json`), field for field.
//! Method: each test creates a minimal manifest through `prepare_create` and compares
//! the whole JSON with a golden object written from a Kubernetes 1.32 cluster's output.
//! Server-set fields outside this crate (`resourceVersion`, `creationTimestamp`) are left
//! out, as is Go's `creationTimestamp: null` inside templates (k8s-openapi has no way to
//! serialise an explicit null there).

mod support;

use corral_api::ResourceKind;
use serde_json::{Value, json};
use support::{UID, created};

fn assert_json(actual: &Value, expected: &Value) {
    assert_eq!(
        actual,
        expected,
        "\nactual:   {}\nexpected: {}",
        serde_json::to_string_pretty(actual).unwrap_or_default(),
        serde_json::to_string_pretty(expected).unwrap_or_default()
    );
}

#[test]
fn a_kubectl_job_is_defaulted_like_a_real_cluster() {
    let manifest = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default"},
        "spec": {
            "backoffLimit": 4,
            "template": {"spec": {
                "containers": [{"name": "pi", "image": "perl:5.34.0", "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]}],
                "restartPolicy": "Never"
            }}
        }
    });
    let labels = json!({
        "batch.kubernetes.io/controller-uid": UID,
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": UID,
        "job-name": "pi"
    });
    let expected = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"generation": 1, "labels": labels, "name": "pi", "namespace": "default", "resourceVersion": "1", "uid": UID},
        "spec": {
            "backoffLimit": 4,
            "completionMode": "NonIndexed",
            "completions": 1,
            "parallelism": 1,
            "podReplacementPolicy": "TerminatingOrFailed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": UID}},
            "suspend": false,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{
                        "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"],
                        "image": "perl:5.34.0",
                        "imagePullPolicy": "IfNotPresent",
                        "name": "pi",
                        "resources": {},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File"
                    }],
                    "dnsPolicy": "ClusterFirst",
                    "restartPolicy": "Never",
                    "schedulerName": "default-scheduler",
                    "securityContext": {},
                    "terminationGracePeriodSeconds": 30
                }
            }
        },
        "status": {}
    });
    assert_json(&created(ResourceKind::Job, manifest).to_value(), &expected);
}

#[test]
fn kubectl_create_job_image_defaults_to_always_pull_for_untagged_images() {
    // `kubectl create job hello --image=busybox -- echo hi` (restartPolicy Never).
    let manifest = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "hello", "namespace": "ns"},
        "spec": {"template": {"metadata": {}, "spec": {
            "containers": [{"name": "hello", "image": "busybox", "command": ["echo", "hi"], "resources": {}}],
            "restartPolicy": "Never"
        }}},
        "status": {}
    });
    let stored = created(ResourceKind::Job, manifest).to_value();
    assert_eq!(
        stored["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "Always"
    );
    assert_eq!(stored["spec"]["backoffLimit"], 6);
    assert!(stored["spec"].get("manualSelector").is_none());
}

#[test]
fn a_job_with_a_pod_failure_policy_replaces_only_failed_pods() {
    let manifest = json!({
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {
            "backoffLimitPerIndex": 1, "completionMode": "Indexed", "completions": 3,
            "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]},
            "template": {"spec": {"containers": [{"name": "c", "image": "busybox:1.36"}], "restartPolicy": "Never"}}
        }
    });
    let stored = created(ResourceKind::Job, manifest).to_value();
    assert_eq!(stored["spec"]["podReplacementPolicy"], "Failed");
    assert_eq!(stored["spec"]["backoffLimit"], 2147483647);
    assert_eq!(stored["spec"]["parallelism"], 1);
    assert!(stored["spec"].get("completions").is_some());
    assert_eq!(
        stored["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"],
        "True"
    );
}

#[test]
fn a_kubectl_cronjob_is_defaulted_like_a_real_cluster() {
    let manifest = json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {
            "schedule": "* * * * *",
            "jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "hello", "image": "busybox:1.28", "imagePullPolicy": "IfNotPresent", "command": ["date"]}],
                "restartPolicy": "OnFailure"
            }}}}
        }
    });
    let expected = json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"generation": 1, "name": "hello", "namespace": "default", "resourceVersion": "1", "uid": UID},
        "spec": {
            "concurrencyPolicy": "Allow",
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {
                "metadata": {},
                "spec": {"template": {
                    "metadata": {},
                    "spec": {
                        "containers": [{
                            "command": ["date"],
                            "image": "busybox:1.28",
                            "imagePullPolicy": "IfNotPresent",
                            "name": "hello",
                            "resources": {},
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File"
                        }],
                        "dnsPolicy": "ClusterFirst",
                        "restartPolicy": "OnFailure",
                        "schedulerName": "default-scheduler",
                        "securityContext": {},
                        "terminationGracePeriodSeconds": 30
                    }
                }}
            },
            "schedule": "* * * * *",
            "successfulJobsHistoryLimit": 3,
            "suspend": false
        },
        "status": {}
    });
    assert_json(
        &created(ResourceKind::CronJob, manifest).to_value(),
        &expected,
    );
}

#[test]
fn a_pod_gets_pod_only_defaults_and_a_pending_status() {
    let manifest = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "nginx", "namespace": "default"},
        "spec": {"containers": [{
            "name": "nginx", "image": "nginx:1.27",
            "ports": [{"containerPort": 80}],
            "resources": {"limits": {"cpu": "0.5", "memory": "128Mi"}},
            "livenessProbe": {"httpGet": {"port": 80}},
            "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
        }]}
    });
    let stored = created(ResourceKind::Pod, manifest).to_value();
    let container = &stored["spec"]["containers"][0];
    assert_json(
        &container["resources"],
        &json!({"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "500m", "memory": "128Mi"}}),
    );
    assert_json(
        &container["ports"],
        &json!([{"containerPort": 80, "protocol": "TCP"}]),
    );
    assert_json(
        &container["livenessProbe"],
        &json!({
            "failureThreshold": 3, "httpGet": {"path": "/", "port": 80, "scheme": "HTTP"},
            "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1
        }),
    );
    assert_eq!(
        container["env"][0]["valueFrom"]["fieldRef"]["apiVersion"],
        "v1"
    );
    assert_eq!(stored["spec"]["enableServiceLinks"], true);
    assert_eq!(stored["spec"]["restartPolicy"], "Always");
    assert_json(
        &stored["status"],
        &json!({"phase": "Pending", "qosClass": "Guaranteed"}),
    );
    assert!(stored["metadata"].get("generation").is_none());
}

#[test]
fn admission_style_pod_defaults_add_tolerations_priority_and_service_account() {
    let mut pod: k8s_openapi::api::core::v1::PodSpec =
        serde_json::from_value(json!({"containers": [{"name": "c", "image": "busybox"}]})).unwrap();
    corral_registry::defaults::add_default_tolerations(&mut pod);
    corral_registry::defaults::add_default_priority(&mut pod);
    corral_registry::defaults::default_service_account(&mut pod);
    let value = serde_json::to_value(&pod).unwrap();
    assert_json(
        &value["tolerations"],
        &json!([
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}
        ]),
    );
    assert_eq!(value["priority"], 0);
    assert_eq!(value["preemptionPolicy"], "PreemptLowerPriority");
    assert_eq!(value["serviceAccountName"], "default");
    assert_eq!(value["serviceAccount"], "default");
}

#[test]
fn a_namespace_gets_its_label_finalizer_and_phase() {
    let stored = created(
        ResourceKind::Namespace,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
    )
    .to_value();
    assert_json(
        &stored,
        &json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"labels": {"kubernetes.io/metadata.name": "team-a"}, "name": "team-a", "resourceVersion": "1", "uid": UID},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"}
        }),
    );
}

#[test]
fn webhook_configurations_get_v1_defaults() {
    let manifest = json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "inject"},
        "webhooks": [{
            "name": "inject.example.com",
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "clientConfig": {"service": {"name": "svc", "namespace": "ns"}},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]
        }]
    });
    let stored = created(ResourceKind::MutatingWebhookConfiguration, manifest).to_value();
    assert_json(
        &stored["webhooks"][0],
        &json!({
            "admissionReviewVersions": ["v1"],
            "clientConfig": {"service": {"name": "svc", "namespace": "ns", "port": 443}},
            "failurePolicy": "Fail",
            "matchPolicy": "Equivalent",
            "name": "inject.example.com",
            "namespaceSelector": {},
            "objectSelector": {},
            "reinvocationPolicy": "Never",
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"], "scope": "*"}],
            "sideEffects": "None",
            "timeoutSeconds": 10
        }),
    );
    assert_eq!(stored["metadata"]["generation"], 1);
}

#[test]
fn claims_secrets_quotas_and_bindings_get_their_defaults() {
    let claim = created(ResourceKind::PersistentVolumeClaim, json!({
        "metadata": {"name": "data", "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    })).to_value();
    assert_eq!(claim["spec"]["volumeMode"], "Filesystem");
    assert_json(&claim["status"], &json!({"phase": "Pending"}));

    let secret = created(ResourceKind::Secret, json!({"metadata": {"name": "s", "namespace": "default"}, "stringData": {"password": "hunter2"}})).to_value();
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["data"]["password"], "aHVudGVyMg==");
    assert!(secret.get("stringData").is_none());

    let quota = created(ResourceKind::ResourceQuota, json!({"metadata": {"name": "q", "namespace": "default"}, "spec": {"hard": {"cpu": "1.5", "pods": "10"}}})).to_value();
    assert_json(
        &quota["spec"]["hard"],
        &json!({"cpu": "1500m", "pods": "10"}),
    );

    let binding = created(ResourceKind::RoleBinding, json!({
        "metadata": {"name": "b", "namespace": "default"},
        "roleRef": {"kind": "Role", "name": "r"},
        "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "default", "namespace": "default"}]
    })).to_value();
    assert_eq!(binding["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
    assert_eq!(
        binding["subjects"][0]["apiGroup"],
        "rbac.authorization.k8s.io"
    );
    assert!(binding["subjects"][1].get("apiGroup").is_none());

    let limits = created(ResourceKind::LimitRange, json!({
        "metadata": {"name": "l", "namespace": "default"},
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "64Mi"}}]}
    })).to_value();
    assert_json(
        &limits["spec"]["limits"][0],
        &json!({
            "default": {"cpu": "2"}, "defaultRequest": {"cpu": "2", "memory": "64Mi"},
            "max": {"cpu": "2"}, "min": {"memory": "64Mi"}, "type": "Container"
        }),
    );
}

#[test]
fn defaulting_is_idempotent() {
    let mut object = created(
        ResourceKind::Job,
        json!({
            "metadata": {"name": "x", "namespace": "default"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "OnFailure"}}}
        }),
    );
    let before = object.clone();
    corral_registry::defaults::apply_defaults(&mut object);
    assert_eq!(object, before);
}
