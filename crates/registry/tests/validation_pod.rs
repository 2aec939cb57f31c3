//! Goal: Pod creates and updates fail with upstream's exact causes, and pod updates may
//! change only what upstream allows (images, active deadline, added tolerations).
//! Method: table-driven cases over a minimal valid pod, through the registry facade.

mod support;

use corral_api::ResourceKind;
use corral_core::Subresource;
use serde_json::{Value, json};
use support::{assert_causes, create_errors, created, merge, update_errors};

fn pod(patch: Value) -> Value {
    let base = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}
    });
    merge(base, &patch)
}

fn spec(patch: Value) -> Value {
    json!({"spec": patch})
}

fn container(patch: Value) -> Value {
    spec(json!({"containers": [merge(json!({"name": "web", "image": "nginx:1.27"}), &patch)]}))
}

#[test]
fn a_minimal_pod_is_valid() {
    assert_causes(
        "minimal",
        &create_errors(ResourceKind::Pod, pod(json!({}))),
        &[],
    );
}

#[test]
fn pod_create_errors_match_upstream() {
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "no containers",
            spec(json!({"containers": []})),
            vec!["spec.containers: Required value"],
        ),
        (
            "unknown restart policy",
            spec(json!({"restartPolicy": "Sometimes"})),
            vec![
                "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            ],
        ),
        (
            "unknown dns policy",
            spec(json!({"dnsPolicy": "Custom"})),
            vec![
                "spec.dnsPolicy: Unsupported value: \"Custom\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
            ],
        ),
        (
            "image with whitespace",
            container(json!({"image": " nginx"})),
            vec![
                "spec.containers[0].image: Invalid value: \" nginx\": must not have leading or trailing whitespace",
            ],
        ),
        (
            "port out of range",
            container(json!({"ports": [{"containerPort": 70000}]})),
            vec![
                "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            ],
        ),
        (
            "unknown protocol",
            container(json!({"ports": [{"containerPort": 80, "protocol": "HTTP"}]})),
            vec![
                "spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            ],
        ),
        (
            "duplicate port names",
            container(
                json!({"ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 81, "name": "http"}]}),
            ),
            vec!["spec.containers[0].ports[1].name: Duplicate value: \"http\""],
        ),
        (
            "negative memory request",
            container(json!({"resources": {"requests": {"memory": "-1"}}})),
            vec![
                "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0",
            ],
        ),
        (
            "requests above limits",
            container(
                json!({"resources": {"limits": {"memory": "1Gi"}, "requests": {"memory": "2Gi"}}}),
            ),
            vec![
                "spec.containers[0].resources.requests: Invalid value: \"2Gi\": must be less than or equal to memory limit of 1Gi",
            ],
        ),
        (
            "unknown resource",
            container(json!({"resources": {"limits": {"gpu": "1"}}})),
            vec![
                "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified",
                "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
                "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified",
                "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
            ],
        ),
        (
            "negative probe period",
            container(
                json!({"livenessProbe": {"exec": {"command": ["true"]}, "periodSeconds": -1}}),
            ),
            vec![
                "spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0",
            ],
        ),
        (
            "liveness success threshold",
            container(json!({"livenessProbe": {"tcpSocket": {"port": 80}, "successThreshold": 2}})),
            vec!["spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"],
        ),
        (
            "probe without handler",
            container(json!({"readinessProbe": {"periodSeconds": 5}})),
            vec!["spec.containers[0].readinessProbe: Required value: must specify a handler type"],
        ),
        (
            "probe with two handlers",
            container(
                json!({"readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}}),
            ),
            vec![
                "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
            ],
        ),
        (
            "env value from nothing",
            container(json!({"env": [{"name": "A", "valueFrom": {}}]})),
            vec![
                "spec.containers[0].env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            ],
        ),
        (
            "env field ref to an unknown field",
            container(
                json!({"env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "spec.foo"}}}]}),
            ),
            vec![
                "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: \"spec.foo\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\"",
            ],
        ),
        (
            "volume without name",
            spec(json!({"volumes": [{"emptyDir": {}}]})),
            vec!["spec.volumes[0].name: Required value"],
        ),
        (
            "volume with two sources",
            spec(json!({"volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]})),
            vec!["spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"],
        ),
        (
            "duplicate volumes",
            spec(
                json!({"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]}),
            ),
            vec!["spec.volumes[1].name: Duplicate value: \"v\""],
        ),
        (
            "secret volume without a name",
            spec(json!({"volumes": [{"name": "v", "secret": {}}]})),
            vec!["spec.volumes[0].secret.secretName: Required value"],
        ),
        (
            "duplicate mount paths",
            merge(
                spec(
                    json!({"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}]}),
                ),
                &container(
                    json!({"volumeMounts": [{"name": "a", "mountPath": "/d"}, {"name": "b", "mountPath": "/d"}]}),
                ),
            ),
            vec![
                "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/d\": must be unique",
            ],
        ),
        (
            "sub path escaping the volume",
            merge(
                spec(json!({"volumes": [{"name": "a", "emptyDir": {}}]})),
                &container(
                    json!({"volumeMounts": [{"name": "a", "mountPath": "/d", "subPath": "../etc"}]}),
                ),
            ),
            vec![
                "spec.containers[0].volumeMounts.subPath: Invalid value: \"../etc\": must not contain '..'",
            ],
        ),
        (
            "zero active deadline",
            spec(json!({"activeDeadlineSeconds": 0})),
            vec![
                "spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
            ],
        ),
        (
            "bad hostname",
            spec(json!({"hostname": "Web_1"})),
            vec![
                "spec.hostname: Invalid value: \"Web_1\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            ],
        ),
        (
            "bad node selector key",
            spec(json!({"nodeSelector": {"bad key": "x"}})),
            vec![
                "spec.nodeSelector: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ],
        ),
        (
            "Exists toleration with a value",
            spec(json!({"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]})),
            vec![
                "spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'",
            ],
        ),
        (
            "toleration with an unknown effect",
            spec(
                json!({"tolerations": [{"key": "k", "operator": "Exists", "effect": "Sometimes"}]}),
            ),
            vec![
                "spec.tolerations[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
            ],
        ),
        (
            "toleration seconds without NoExecute",
            spec(
                json!({"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]}),
            ),
            vec![
                "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
            ],
        ),
        (
            "empty toleration key needs Exists",
            spec(json!({"tolerations": [{"operator": "Equal", "value": "x"}]})),
            vec![
                "spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ],
        ),
        (
            "node affinity without terms",
            spec(
                json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}}),
            ),
            vec![
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term",
            ],
        ),
        (
            "spread constraint without skew",
            spec(
                json!({"topologySpreadConstraints": [{"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}]}),
            ),
            vec![
                "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
            ],
        ),
        (
            "ephemeral containers on create",
            spec(json!({"ephemeralContainers": [{"name": "dbg", "image": "busybox"}]})),
            vec!["spec.ephemeralContainers: Forbidden: cannot be set on create"],
        ),
        (
            "bad deletion cost",
            json!({"metadata": {"annotations": {"controller.kubernetes.io/pod-deletion-cost": "x"}}}),
            vec![
                "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]: Invalid value: \"x\": must be a 32bit integer",
            ],
        ),
        (
            "init container with a probe",
            spec(
                json!({"initContainers": [{"name": "init", "image": "busybox", "livenessProbe": {"exec": {"command": ["true"]}}}]}),
            ),
            vec![
                "spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
            ],
        ),
        (
            "init container sharing a name",
            spec(json!({"initContainers": [{"name": "web", "image": "busybox"}]})),
            vec!["spec.initContainers[0].name: Duplicate value: \"web\""],
        ),
    ];
    for (name, patch, expected) in cases {
        assert_causes(
            name,
            &create_errors(ResourceKind::Pod, pod(patch)),
            &expected,
        );
    }
}

#[test]
fn a_negative_grace_period_is_a_warning_not_an_error() {
    let object = support::object(
        ResourceKind::Pod,
        pod(spec(json!({"terminationGracePeriodSeconds": -5}))),
    );
    assert_eq!(
        corral_registry::warnings_on_create(&object),
        vec![
            "spec.terminationGracePeriodSeconds: must be >= 0; negative values are invalid and will be treated as 1"
        ]
    );
    assert_causes(
        "negative grace",
        &create_errors(
            ResourceKind::Pod,
            pod(spec(json!({"terminationGracePeriodSeconds": -5}))),
        ),
        &[],
    );
}

fn pod_update(old_patch: Value, new_patch: Value) -> Vec<String> {
    let stored = created(ResourceKind::Pod, pod(old_patch));
    let new = merge(stored.to_value(), &new_patch);
    let mut new = corral_api::KubeObject::from_value(ResourceKind::Pod, new).unwrap();
    match corral_registry::prepare_update(&mut new, &stored, Subresource::Main) {
        Ok(()) => Vec::new(),
        Err(error) => support::causes(&error),
    }
}

#[test]
fn pod_updates_may_change_only_images_deadlines_and_added_tolerations() {
    assert_causes(
        "image",
        &pod_update(json!({}), container(json!({"image": "nginx:1.28"}))),
        &[],
    );
    assert_causes(
        "add toleration",
        &pod_update(
            json!({}),
            spec(json!({"tolerations": [{"key": "k", "operator": "Exists"}]})),
        ),
        &[],
    );
    assert_causes(
        "set deadline",
        &pod_update(json!({}), spec(json!({"activeDeadlineSeconds": 30}))),
        &[],
    );
    assert_causes(
        "raise deadline",
        &pod_update(
            spec(json!({"activeDeadlineSeconds": 10})),
            spec(json!({"activeDeadlineSeconds": 20})),
        ),
        &[
            "spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value",
        ],
    );
    assert_causes(
        "remove toleration",
        &pod_update(
            spec(json!({"tolerations": [{"key": "k", "operator": "Exists"}]})),
            spec(json!({"tolerations": []})),
        ),
        &[
            "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds",
        ],
    );
    assert_causes(
        "add container",
        &pod_update(
            json!({}),
            spec(
                json!({"containers": [{"name": "web", "image": "a"}, {"name": "b", "image": "b"}]}),
            ),
        ),
        &["spec.containers: Forbidden: pod updates may not add or remove containers"],
    );
    let env = pod_update(
        json!({}),
        container(json!({"env": [{"name": "A", "value": "1"}]})),
    );
    assert_eq!(env.len(), 1, "{env:?}");
    assert!(env[0].starts_with(
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n  core.PodSpec{\n"
    ), "{}", env[0]);
    assert!(
        env[0].contains("+ \tcontainers[0].env: [{\"name\":\"A\",\"value\":\"1\"}]"),
        "{}",
        env[0]
    );
}

#[test]
fn pod_status_writes_keep_the_spec_and_cannot_change_the_node() {
    let stored = created(ResourceKind::Pod, pod(json!({})));
    let new = merge(
        stored.to_value(),
        &json!({"spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}),
    );
    let updated = support::updated(ResourceKind::Pod, &stored, new, Subresource::Status);
    let value = updated.to_value();
    assert_eq!(value["status"]["phase"], "Running");
    assert!(
        value["spec"].get("nodeName").is_none(),
        "status writes keep the stored spec"
    );

    let errors = update_errors(
        ResourceKind::Pod,
        pod(json!({})),
        merge(
            pod(json!({"metadata": {"resourceVersion": "1"}})),
            &json!({"status": {"qosClass": "Guaranteed"}}),
        ),
        Subresource::Status,
    );
    assert_causes(
        "qos",
        &errors,
        &["status.qosClass: Invalid value: \"Guaranteed\": field is immutable"],
    );
}
