//! Shared helpers for the integration tests: build objects from JSON the way kubectl
//! sends them, run the registry facade, and render errors as kubectl prints causes
//! (`<field>: <message>`).

#![allow(dead_code)]

use corral_api::{ApiError, KubeObject, ResourceKind};
use corral_core::Subresource;
use serde_json::{Value, json};

pub const UID: &str = "11111111-2222-3333-4444-555555555555";

/// RFC 7386 merge, enough to derive test cases from a base manifest.
pub fn merge(mut base: Value, patch: &Value) -> Value {
    match (base.as_object_mut(), patch.as_object()) {
        (Some(target), Some(patch_map)) => {
            for (key, value) in patch_map {
                if value.is_null() {
                    target.remove(key);
                } else {
                    let current = target.remove(key).unwrap_or(Value::Null);
                    target.insert(key.clone(), merge(current, value));
                }
            }
            base
        }
        _ => patch.clone(),
    }
}

/// Decodes `json` as `kind` and fills what the API layer sets before the registry runs.
pub fn object(kind: ResourceKind, json: Value) -> KubeObject {
    let mut object = KubeObject::from_value(kind, json).expect("test manifests decode");
    let meta = object.meta_mut();
    if meta.uid.is_none() {
        meta.uid = Some(UID.to_string());
    }
    object
}

/// `field: message` for every cause of a 422 (how kubectl prints them).
pub fn causes(error: &ApiError) -> Vec<String> {
    error
        .details
        .as_ref()
        .map(|d| {
            d.causes
                .iter()
                .map(|c| format!("{}: {}", c.field, c.message))
                .collect()
        })
        .unwrap_or_default()
}

/// The causes of creating `json`, or an empty list when creation succeeds.
pub fn create_errors(kind: ResourceKind, json: Value) -> Vec<String> {
    let mut object = object(kind, json);
    match corral_registry::prepare_create(&mut object) {
        Ok(()) => Vec::new(),
        Err(error) => {
            assert_eq!(error.code, 422, "unexpected error: {}", error.message);
            causes(&error)
        }
    }
}

/// Creates `json` and returns the stored object; panics if creation fails.
pub fn created(kind: ResourceKind, json: Value) -> KubeObject {
    let mut object = object(kind, json);
    if let Err(error) = corral_registry::prepare_create(&mut object) {
        panic!("create failed: {}", error.message);
    }
    object.meta_mut().resource_version = Some("1".into());
    object
}

/// The causes of replacing the created `old` by `new` (which keeps old's resourceVersion).
pub fn update_errors(
    kind: ResourceKind,
    old: Value,
    new: Value,
    subresource: Subresource,
) -> Vec<String> {
    let old = created(kind, old);
    let mut new = KubeObject::from_value(kind, new).expect("test manifests decode");
    match corral_registry::prepare_update(&mut new, &old, subresource) {
        Ok(()) => Vec::new(),
        Err(error) => causes(&error),
    }
}

/// The stored result of a successful update.
pub fn updated(
    kind: ResourceKind,
    old: &KubeObject,
    new: Value,
    subresource: Subresource,
) -> KubeObject {
    let mut new = KubeObject::from_value(kind, new).expect("test manifests decode");
    if let Err(error) = corral_registry::prepare_update(&mut new, old, subresource) {
        panic!("update failed: {}", error.message);
    }
    new
}

/// The stored object as JSON, for round trips through `merge`.
pub fn json_of(object: &KubeObject) -> Value {
    object.to_value()
}

/// Asserts the exact list of causes, with a readable diff on failure.
#[track_caller]
pub fn assert_causes(name: &str, actual: &[String], expected: &[&str]) {
    let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(actual, expected.as_slice(), "case {name}");
}

/// A realistic kubectl body of `kind`, as `kubectl create`/`apply` sends it (with the
/// nulls, empty maps and status sections Go clients leave in).
pub fn realistic(kind: ResourceKind) -> Value {
    let meta = |namespaced: bool| {
        let mut m = json!({
            "name": "x", "creationTimestamp": null, "labels": {"app": "x"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}
        });
        if namespaced {
            m["namespace"] = json!("default");
        }
        m
    };
    let pod_spec = json!({
        "containers": [{
            "name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "echo hi"], "args": [],
            "env": [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
            "resources": {}, "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            "livenessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 10},
            "securityContext": {"runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}},
            "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
        }],
        "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420}}],
        "restartPolicy": "Never", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
        "securityContext": {}, "terminationGracePeriodSeconds": 30, "nodeSelector": null, "tolerations": [],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]}]}}}
    });
    let template =
        json!({"metadata": {"creationTimestamp": null, "labels": {"app": "x"}}, "spec": pod_spec});
    let body = match kind {
        ResourceKind::Namespace => {
            json!({"metadata": meta(false), "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        }
        ResourceKind::Node => {
            json!({"metadata": meta(false), "spec": {"taints": [{"key": "k", "effect": "NoSchedule", "timeAdded": null}], "unschedulable": true},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}, "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2024-05-01T10:00:00Z"}],
                "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}], "nodeInfo": {"kubeletVersion": "v1.32.0", "architecture": "amd64", "bootID": "", "containerRuntimeVersion": "", "kernelVersion": "", "kubeProxyVersion": "", "machineID": "", "operatingSystem": "linux", "osImage": "", "systemUUID": ""}}})
        }
        ResourceKind::Pod => {
            json!({"metadata": meta(true), "spec": pod_spec, "status": {"phase": "Running", "containerStatuses": [{"name": "main", "ready": true, "restartCount": 0, "image": "busybox:1.36", "imageID": "", "state": {"running": {"startedAt": "2024-05-01T10:00:00Z"}}}]}})
        }
        ResourceKind::Event => {
            json!({"metadata": meta(true), "involvedObject": {"kind": "Job", "name": "j", "namespace": "default"}, "reason": "SuccessfulCreate",
            "message": "Created pod: j-1", "source": {"component": "job-controller"}, "firstTimestamp": "2024-05-01T10:00:00Z", "lastTimestamp": "2024-05-01T10:00:00Z",
            "count": 1, "type": "Normal", "eventTime": null, "reportingComponent": "", "reportingInstance": ""})
        }
        ResourceKind::ServiceAccount => {
            json!({"metadata": meta(true), "automountServiceAccountToken": false, "imagePullSecrets": [{"name": "reg"}]})
        }
        ResourceKind::PersistentVolumeClaim => {
            json!({"metadata": meta(true), "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": "standard", "volumeMode": "Filesystem"}, "status": {}})
        }
        ResourceKind::PersistentVolume => {
            json!({"metadata": meta(false), "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/pv", "type": ""}, "persistentVolumeReclaimPolicy": "Retain"}, "status": {}})
        }
        ResourceKind::ResourceQuota => {
            json!({"metadata": meta(true), "spec": {"hard": {"pods": "10", "requests.cpu": 4, "count/jobs.batch": "5"}, "scopeSelector": {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}, "status": {}})
        }
        ResourceKind::LimitRange => {
            json!({"metadata": meta(true), "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "250m"}}]}})
        }
        ResourceKind::ConfigMap => {
            json!({"metadata": meta(true), "data": {"app.properties": "a=b\n"}, "binaryData": {"blob": "AAEC"}, "immutable": false})
        }
        ResourceKind::Secret => {
            json!({"metadata": meta(true), "type": "Opaque", "data": {"password": "aHVudGVyMg=="}, "stringData": {"user": "admin"}})
        }
        ResourceKind::Job => {
            json!({"metadata": meta(true), "spec": {"backoffLimit": 4, "ttlSecondsAfterFinished": 100, "template": template,
            "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}}, "status": {}})
        }
        ResourceKind::CronJob => {
            json!({"metadata": meta(true), "spec": {"schedule": "*/5 * * * *", "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid",
            "jobTemplate": {"metadata": {"creationTimestamp": null}, "spec": {"template": template}}}, "status": {}})
        }
        ResourceKind::Lease => {
            json!({"metadata": meta(true), "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40, "renewTime": "2024-05-01T10:00:00.000000Z"}})
        }
        ResourceKind::MutatingWebhookConfiguration
        | ResourceKind::ValidatingWebhookConfiguration => {
            json!({"metadata": meta(false), "webhooks": [{
                "name": "hook.example.com", "admissionReviewVersions": ["v1"], "sideEffects": "None", "timeoutSeconds": 5, "failurePolicy": "Ignore",
                "clientConfig": {"service": {"name": "svc", "namespace": "ns", "path": "/validate", "port": 443}, "caBundle": "AAEC"},
                "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["jobs"], "scope": "Namespaced"}],
                "namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}, "objectSelector": {}
            }]})
        }
        ResourceKind::Role | ResourceKind::ClusterRole => {
            json!({"metadata": meta(kind == ResourceKind::Role), "rules": [{"apiGroups": ["batch"], "resources": ["jobs", "jobs/status"], "verbs": ["get", "list", "watch"]}]})
        }
        ResourceKind::RoleBinding | ResourceKind::ClusterRoleBinding => {
            json!({"metadata": meta(kind == ResourceKind::RoleBinding),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "default"}, {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"}]})
        }
        ResourceKind::PodDisruptionBudget => {
            json!({"metadata": meta(true), "spec": {"maxUnavailable": "25%", "selector": {"matchLabels": {"app": "x"}}}, "status": {"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}})
        }
    };
    let mut body = body;
    body["apiVersion"] = json!(kind.api_version());
    body["kind"] = json!(kind.kind_name());
    body
}
