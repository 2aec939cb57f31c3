//! Goal: every other stored kind rejects its common invalid inputs with upstream's
//! causes, and object metadata rules apply to all kinds.
//! Method: one table per kind (at least one case each), through the registry facade.

mod support;

use corral_api::ResourceKind;
use corral_core::Subresource;
use serde_json::{Value, json};
use support::{assert_causes, create_errors, merge, update_errors};

const DNS_LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn check(kind: ResourceKind, base: &Value, cases: Vec<(&str, Value, Vec<String>)>) {
    assert_causes("base", &create_errors(kind, base.clone()), &[]);
    for (name, patch, expected) in cases {
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        assert_causes(
            name,
            &create_errors(kind, merge(base.clone(), &patch)),
            &expected,
        );
    }
}

fn s(text: &str) -> String {
    text.to_string()
}

#[test]
fn namespaces() {
    let base = json!({"metadata": {"name": "team-a"}});
    check(
        ResourceKind::Namespace,
        &base,
        vec![
            (
                "bad name",
                json!({"metadata": {"name": "Team_A"}}),
                vec![format!(
                    "metadata.name: Invalid value: \"Team_A\": {DNS_LABEL}"
                )],
            ),
            (
                "unqualified finalizer",
                json!({"spec": {"finalizers": ["custom"]}}),
                vec![s(
                    "spec.finalizers: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified",
                )],
            ),
        ],
    );
}

#[test]
fn nodes() {
    let base = json!({"metadata": {"name": "node-1"}});
    check(
        ResourceKind::Node,
        &base,
        vec![
            (
                "taint without effect",
                json!({"spec": {"taints": [{"key": "k"}]}}),
                vec![s("metadata.taints[0].effect: Required value")],
            ),
            (
                "taint with an unknown effect",
                json!({"spec": {"taints": [{"key": "k", "effect": "Never"}]}}),
                vec![s(
                    "metadata.taints[0].effect: Unsupported value: \"Never\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                )],
            ),
            (
                "duplicate taints",
                json!({"spec": {"taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "value": "v", "effect": "NoSchedule"}]}}),
                vec![s(
                    "metadata.taints[1]: Duplicate value: core.Taint{Key:\"k\", Value:\"v\", Effect:\"NoSchedule\", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair",
                )],
            ),
            (
                "bad pod CIDR",
                json!({"spec": {"podCIDRs": ["10.0.0.0/33"]}}),
                vec![s(
                    "spec.podCIDRs[0]: Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                )],
            ),
            (
                "negative capacity",
                json!({"status": {"capacity": {"cpu": "-1"}}}),
                vec![
                    s(
                        "status.capacity.cpu: Invalid value: \"-1\": must be greater than or equal to 0",
                    ),
                    s(
                        "status.allocatable.cpu: Invalid value: \"-1\": must be greater than or equal to 0",
                    ),
                ],
            ),
        ],
    );
    let old = json!({"metadata": {"name": "node-1"}, "spec": {"podCIDRs": ["10.0.0.0/24"]}});
    let new = json!({"metadata": {"name": "node-1", "resourceVersion": "1"}, "spec": {"podCIDRs": ["10.1.0.0/24"]}});
    assert_causes(
        "pod CIDR change",
        &update_errors(ResourceKind::Node, old, new, Subresource::Main),
        &[
            "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid",
        ],
    );
}

#[test]
fn resource_quotas() {
    let base = json!({"metadata": {"name": "q", "namespace": "default"}, "spec": {"hard": {"pods": "10", "requests.cpu": "4", "count/jobs.batch": "5"}}});
    check(
        ResourceKind::ResourceQuota,
        &base,
        vec![
            (
                "unknown resource",
                json!({"spec": {"hard": {"gpu": "1"}}}),
                vec![
                    s(
                        "spec.hard[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified",
                    ),
                    s(
                        "spec.hard[gpu]: Invalid value: \"gpu\": must be a standard resource for quota",
                    ),
                ],
            ),
            (
                "fractional count",
                json!({"spec": {"hard": {"pods": "1.5"}}}),
                vec![s(
                    "spec.hard[pods]: Invalid value: 1500m: must be an integer",
                )],
            ),
            (
                "negative quantity",
                json!({"spec": {"hard": {"requests.cpu": "-1"}}}),
                vec![s(
                    "spec.hard[requests.cpu]: Invalid value: \"-1\": must be greater than or equal to 0",
                )],
            ),
            (
                "conflicting scopes",
                json!({"spec": {"scopes": ["BestEffort", "NotBestEffort"], "hard": {"requests.cpu": null, "count/jobs.batch": null}}}),
                vec![s(
                    "spec.scopes: Invalid value: []core.ResourceQuotaScope{\"BestEffort\", \"NotBestEffort\"}: conflicting scopes",
                )],
            ),
            (
                "scope not valid for a resource",
                json!({"spec": {"scopes": ["BestEffort"], "hard": {"count/jobs.batch": null}}}),
                vec![s(
                    "spec.scopes: Invalid value: []core.ResourceQuotaScope{\"BestEffort\"}: unsupported scope applied to resource",
                )],
            ),
        ],
    );
    let old =
        json!({"metadata": {"name": "q", "namespace": "default"}, "spec": {"hard": {"pods": "1"}}});
    let new = json!({"metadata": {"name": "q", "namespace": "default", "resourceVersion": "1"}, "spec": {"hard": {"pods": "1"}, "scopes": ["Terminating"]}});
    assert_causes(
        "scopes are immutable",
        &update_errors(ResourceKind::ResourceQuota, old, new, Subresource::Main),
        &[
            "spec.scopes: Invalid value: []core.ResourceQuotaScope{\"Terminating\"}: field is immutable",
        ],
    );
}

#[test]
fn service_accounts() {
    let base = json!({"metadata": {"name": "builder", "namespace": "default"}});
    check(
        ResourceKind::ServiceAccount,
        &base,
        vec![
            (
                "bad name",
                json!({"metadata": {"name": "Builder"}}),
                vec![s(
                    "metadata.name: Invalid value: \"Builder\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                )],
            ),
            (
                "missing namespace",
                json!({"metadata": {"namespace": null}}),
                vec![s("metadata.namespace: Required value")],
            ),
        ],
    );
}

#[test]
fn persistent_volume_claims() {
    let base = json!({"metadata": {"name": "data", "namespace": "default"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    check(
        ResourceKind::PersistentVolumeClaim,
        &base,
        vec![
            (
                "no access modes or storage",
                json!({"spec": {"accessModes": null, "resources": null}}),
                vec![
                    s("spec.accessModes: Required value: at least 1 access mode is required"),
                    s("spec.resources[storage]: Required value"),
                ],
            ),
            (
                "unknown access mode",
                json!({"spec": {"accessModes": ["ReadSometimes"]}}),
                vec![s(
                    "spec.accessModes: Unsupported value: \"ReadSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
                )],
            ),
            (
                "zero storage",
                json!({"spec": {"resources": {"requests": {"storage": "0"}}}}),
                vec![s(
                    "spec.resources[storage]: Invalid value: \"0\": must be greater than zero",
                )],
            ),
            (
                "RWOP with others",
                json!({"spec": {"accessModes": ["ReadWriteOncePod", "ReadWriteOnce"]}}),
                vec![s(
                    "spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
                )],
            ),
        ],
    );
    let new = merge(
        base.clone(),
        &json!({"metadata": {"resourceVersion": "1"}, "spec": {"accessModes": ["ReadWriteMany"]}}),
    );
    let errors = update_errors(
        ResourceKind::PersistentVolumeClaim,
        base,
        new,
        Subresource::Main,
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n"));
}

#[test]
fn config_maps_and_secrets() {
    let base =
        json!({"metadata": {"name": "cfg", "namespace": "default"}, "data": {"app.yaml": "x"}});
    check(
        ResourceKind::ConfigMap,
        &base,
        vec![
            (
                "bad key",
                json!({"data": {"bad key": "v"}}),
                vec![s(
                    "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                )],
            ),
            (
                "dot-dot key",
                json!({"data": {"..x": "v"}}),
                vec![s(
                    "data[..x]: Invalid value: \"..x\": must not start with '..'",
                )],
            ),
            (
                "over 1 MiB",
                json!({"data": {"big": "x".repeat(1024 * 1024 + 1)}}),
                vec![s(": Too long: may not be more than 1048576 bytes")],
            ),
        ],
    );
    let secret = json!({"metadata": {"name": "tls", "namespace": "default"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "YQ==", "tls.key": "Yg=="}});
    check(
        ResourceKind::Secret,
        &secret,
        vec![
            (
                "tls without a key",
                json!({"data": {"tls.key": null}}),
                vec![s("data[tls.key]: Required value")],
            ),
            (
                "service account token without annotation",
                json!({"type": "kubernetes.io/service-account-token", "data": null}),
                vec![s(
                    "metadata.annotations[kubernetes.io/service-account.name]: Required value",
                )],
            ),
        ],
    );
    let old = json!({"metadata": {"name": "s", "namespace": "default"}, "immutable": true, "data": {"a": "YQ=="}});
    let new = json!({"metadata": {"name": "s", "namespace": "default", "resourceVersion": "1"}, "immutable": true, "data": {"a": "Yg=="}, "type": "Opaque"});
    assert_causes(
        "immutable secret",
        &update_errors(ResourceKind::Secret, old, new, Subresource::Main),
        &["data: Forbidden: field is immutable when `immutable` is set"],
    );
}

#[test]
fn limit_ranges() {
    let base = json!({"metadata": {"name": "l", "namespace": "default"}, "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}}]}});
    check(
        ResourceKind::LimitRange,
        &base,
        vec![
            (
                "min above max",
                json!({"spec": {"limits": [{"type": "Container", "min": {"cpu": "3"}, "max": {"cpu": "2"}}]}}),
                vec![
                    s(
                        "spec.limits[0].min[cpu]: Invalid value: 3: min value 3 is greater than max value 2",
                    ),
                    s(
                        "spec.limits[0].defaultRequest[cpu]: Invalid value: 2: min value 3 is greater than default request value 2",
                    ),
                    s(
                        "spec.limits[0].default[cpu]: Invalid value: 3: min value 3 is greater than default value 2",
                    ),
                ],
            ),
            (
                "unknown type",
                json!({"spec": {"limits": [{"type": "Thing"}]}}),
                vec![s(
                    "spec.limits[0].type: Invalid value: \"Thing\": must be a standard limit type or fully qualified",
                )],
            ),
            (
                "pod defaults",
                json!({"spec": {"limits": [{"type": "Pod", "default": {"cpu": "1"}}]}}),
                vec![s(
                    "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'",
                )],
            ),
        ],
    );
}

#[test]
fn leases() {
    let base = json!({"metadata": {"name": "node-1", "namespace": "kube-node-lease"}, "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40}});
    check(
        ResourceKind::Lease,
        &base,
        vec![
            (
                "zero duration",
                json!({"spec": {"leaseDurationSeconds": 0}}),
                vec![s(
                    "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                )],
            ),
            (
                "negative transitions",
                json!({"spec": {"leaseTransitions": -1}}),
                vec![s(
                    "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
                )],
            ),
        ],
    );
}

#[test]
fn webhook_configurations() {
    let base = json!({"metadata": {"name": "checks"}, "webhooks": [{
        "name": "check.example.com", "admissionReviewVersions": ["v1"], "sideEffects": "None",
        "clientConfig": {"url": "https://hooks.example.com/check"},
        "rules": [{"operations": ["CREATE"], "apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["jobs"]}]
    }]});
    let hook = |patch: Value| -> Value {
        let first = merge(base["webhooks"][0].clone(), &patch);
        json!({"webhooks": [first]})
    };
    check(
        ResourceKind::ValidatingWebhookConfiguration,
        &base,
        vec![
            (
                "unqualified name",
                hook(json!({"name": "check"})),
                vec![s(
                    "webhooks[0].name: Invalid value: \"check\": should be a domain with at least three segments separated by dots",
                )],
            ),
            (
                "no side effects",
                hook(json!({"sideEffects": null})),
                vec![s(
                    "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
                )],
            ),
            (
                "side effects Some",
                hook(json!({"sideEffects": "Some"})),
                vec![s(
                    "webhooks[0].sideEffects: Unsupported value: \"Some\": supported values: \"None\", \"NoneOnDryRun\"",
                )],
            ),
            (
                "no review versions",
                hook(json!({"admissionReviewVersions": []})),
                vec![s(
                    "webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1",
                )],
            ),
            (
                "unknown review version",
                hook(json!({"admissionReviewVersions": ["v2"]})),
                vec![s(
                    "webhooks[0].admissionReviewVersions: Invalid value: []string{\"v2\"}: must include at least one of v1, v1beta1",
                )],
            ),
            (
                "timeout too long",
                hook(json!({"timeoutSeconds": 31})),
                vec![s(
                    "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds",
                )],
            ),
            (
                "no client config",
                hook(json!({"clientConfig": {"url": null}})),
                vec![s(
                    "webhooks[0].clientConfig: Required value: exactly one of url or service is required",
                )],
            ),
            (
                "plain http",
                hook(json!({"clientConfig": {"url": "http://hooks.example.com"}})),
                vec![s(
                    "webhooks[0].clientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]",
                )],
            ),
            (
                "unknown operation",
                hook(
                    json!({"rules": [{"operations": ["PATCH"], "apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["jobs"]}]}),
                ),
                vec![s(
                    "webhooks[0].rules[0].operations[0]: Unsupported value: \"PATCH\": supported values: \"*\", \"CONNECT\", \"CREATE\", \"DELETE\", \"UPDATE\"",
                )],
            ),
            (
                "unknown failure policy",
                hook(json!({"failurePolicy": "Maybe"})),
                vec![s(
                    "webhooks[0].failurePolicy: Unsupported value: \"Maybe\": supported values: \"Fail\", \"Ignore\"",
                )],
            ),
            (
                "match conditions (CEL) are refused, not ignored",
                hook(
                    json!({"matchConditions": [{"name": "not-system", "expression": "!request.userInfo.username.startsWith('system:')"}]}),
                ),
                vec![s(
                    "webhooks[0].matchConditions: Forbidden: matchConditions (CEL) are not supported by Corral",
                )],
            ),
            (
                "duplicate names",
                json!({"webhooks": [base["webhooks"][0].clone(), base["webhooks"][0].clone()]}),
                vec![s(
                    "webhooks[1].name: Duplicate value: \"check.example.com\"",
                )],
            ),
        ],
    );
    let mutating = merge(
        base.clone(),
        &hook(json!({"reinvocationPolicy": "Sometimes"})),
    );
    assert_causes(
        "reinvocation",
        &create_errors(ResourceKind::MutatingWebhookConfiguration, mutating),
        &[
            "webhooks[0].reinvocationPolicy: Unsupported value: \"Sometimes\": supported values: \"IfNeeded\", \"Never\"",
        ],
    );
    let conditioned = merge(
        base.clone(),
        &hook(json!({"matchConditions": [{"name": "c", "expression": "true"}]})),
    );
    assert_causes(
        "mutating match conditions",
        &create_errors(ResourceKind::MutatingWebhookConfiguration, conditioned),
        &[
            "webhooks[0].matchConditions: Forbidden: matchConditions (CEL) are not supported by Corral",
        ],
    );
    let empty = merge(base.clone(), &hook(json!({"matchConditions": []})));
    assert_causes(
        "an empty list is no condition",
        &create_errors(ResourceKind::MutatingWebhookConfiguration, empty),
        &[],
    );
}

#[test]
fn rbac() {
    let role = json!({"metadata": {"name": "reader", "namespace": "default"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
    check(
        ResourceKind::Role,
        &role,
        vec![
            (
                "no verbs",
                json!({"rules": [{"apiGroups": [""], "resources": ["pods"]}]}),
                vec![s(
                    "rules[0].verbs: Required value: verbs must contain at least one value",
                )],
            ),
            (
                "no resources",
                json!({"rules": [{"apiGroups": [""], "verbs": ["get"]}]}),
                vec![s(
                    "rules[0].resources: Required value: resource rules must supply at least one resource",
                )],
            ),
            (
                "non-resource URL in a namespaced role",
                json!({"rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]}),
                vec![s(
                    "rules[0].nonResourceURLs: Invalid value: []string{\"/healthz\"}: namespaced rules cannot apply to non-resource URLs",
                )],
            ),
            (
                "unknown verb",
                json!({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "gett"]}]}),
                vec![s(
                    "rules[0].verbs[1]: Unsupported value: \"gett\": supported values: \"*\", \"approve\", \"attest\", \"bind\", \"create\", \"delete\", \"deletecollection\", \"escalate\", \"get\", \"impersonate\", \"list\", \"patch\", \"sign\", \"update\", \"use\", \"watch\"",
                )],
            ),
            (
                "slash in name",
                json!({"metadata": {"name": "a/b"}}),
                vec![s(
                    "metadata.name: Invalid value: \"a/b\": may not contain '/'",
                )],
            ),
        ],
    );
    let cluster_role = json!({"metadata": {"name": "viewer"}, "rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["list"]}]});
    assert_causes(
        "cluster role with a verb HTTP has not",
        &create_errors(ResourceKind::ClusterRole, cluster_role),
        &[
            "rules[0].verbs[0]: Unsupported value: \"list\": supported values: \"*\", \"delete\", \"get\", \"head\", \"options\", \"patch\", \"post\", \"put\"",
        ],
    );
    let binding = json!({"metadata": {"name": "b", "namespace": "default"}, "roleRef": {"kind": "Role", "name": "reader"}, "subjects": [{"kind": "User", "name": "alice"}]});
    check(
        ResourceKind::RoleBinding,
        &binding,
        vec![
            (
                "unknown role kind",
                json!({"roleRef": {"kind": "Thing"}}),
                vec![s(
                    "roleRef.kind: Unsupported value: \"Thing\": supported values: \"Role\", \"ClusterRole\"",
                )],
            ),
            (
                "unknown subject kind",
                json!({"subjects": [{"kind": "Robot", "name": "r"}]}),
                vec![s(
                    "subjects[0].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
                )],
            ),
        ],
    );
    let cluster_binding = json!({"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "view"}, "subjects": [{"kind": "ServiceAccount", "name": "sa"}]});
    assert_causes(
        "service account without namespace",
        &create_errors(ResourceKind::ClusterRoleBinding, cluster_binding),
        &["subjects[0].namespace: Required value"],
    );
    let new = merge(
        binding.clone(),
        &json!({"metadata": {"resourceVersion": "1"}, "roleRef": {"name": "writer"}}),
    );
    assert_causes(
        "roleRef is immutable",
        &update_errors(ResourceKind::RoleBinding, binding, new, Subresource::Main),
        &[
            "roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", Name:\"writer\"}: cannot change roleRef",
        ],
    );
}

#[test]
fn pod_disruption_budgets_and_events() {
    let pdb = json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "x"}}}});
    check(
        ResourceKind::PodDisruptionBudget,
        &pdb,
        vec![
            (
                "over 100%",
                json!({"spec": {"minAvailable": "150%"}}),
                vec![s(
                    "spec.minAvailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%",
                )],
            ),
            (
                "negative",
                json!({"spec": {"minAvailable": -1}}),
                vec![s(
                    "spec.minAvailable: Invalid value: -1: must be greater than or equal to 0",
                )],
            ),
        ],
    );
    let event = json!({"metadata": {"name": "e", "namespace": "default"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}, "reason": "Started"});
    check(
        ResourceKind::Event,
        &event,
        vec![(
            "namespace mismatch",
            json!({"involvedObject": {"namespace": "other"}}),
            vec![s(
                "involvedObject.namespace: Invalid value: \"other\": does not match event.namespace",
            )],
        )],
    );
}

#[test]
fn object_metadata_rules_apply_to_every_kind() {
    let base = json!({"metadata": {"name": "cfg", "namespace": "default"}});
    check(
        ResourceKind::ConfigMap,
        &base,
        vec![
            (
                "owner reference without uid",
                json!({"metadata": {"ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "j"}]}}),
                vec![s(
                    "metadata.ownerReferences.uid: Invalid value: \"\": uid must not be empty",
                )],
            ),
            (
                "annotation key with two slashes",
                json!({"metadata": {"annotations": {"a/b/c": "x"}}}),
                vec![s(
                    "metadata.annotations: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                )],
            ),
            (
                "label value too long",
                json!({"metadata": {"labels": {"a": "v".repeat(64)}}}),
                vec![format!(
                    "metadata.labels: Invalid value: \"{}\": must be no more than 63 characters",
                    "v".repeat(64)
                )],
            ),
            (
                "conflicting finalizers",
                json!({"metadata": {"finalizers": ["orphan", "foregroundDeletion"]}}),
                vec![s(
                    "metadata.finalizers: Invalid value: []string{\"orphan\", \"foregroundDeletion\"}: finalizer orphan and foregroundDeletion cannot be both set",
                )],
            ),
        ],
    );
    let new = json!({"metadata": {"name": "cfg", "namespace": "default", "uid": "other", "resourceVersion": "1"}});
    assert_causes(
        "uid is immutable",
        &update_errors(ResourceKind::ConfigMap, base, new, Subresource::Main),
        &["metadata.uid: Invalid value: \"other\": field is immutable"],
    );
}
