//! Goal: the admission chain behaves as upstream's, driven exactly as the API server and
//! the simulator drive it. Method: a [`TestState`] holding the cluster objects the chain
//! reads, and [`drive`] running a flow in virtual time with canned webhook answers
//! (each answer says how long the call took); mutating calls add up, validating calls
//! overlap.

mod breaker;
mod builtins;
mod quota;
mod webhooks;

use std::collections::BTreeMap;
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::Timestamp;
use corral_core::clock::{add, epoch};
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhook, MutatingWebhookConfiguration, RuleWithOperations, ValidatingWebhook,
    ValidatingWebhookConfiguration, WebhookClientConfig,
};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, LimitRange, Namespace, NamespaceStatus, Pod, PodSpec, PodTemplateSpec,
    ResourceQuota, ResourceQuotaSpec, ResourceQuotaStatus, ServiceAccount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use super::*;
use crate::authz::UserInfo;

/// The objects admission reads.
#[derive(Debug, Default)]
pub struct TestState {
    pub namespaces: Vec<Namespace>,
    pub service_accounts: Vec<ServiceAccount>,
    pub limit_ranges: Vec<LimitRange>,
    pub quotas: Vec<ResourceQuota>,
    pub mutating: Vec<MutatingWebhookConfiguration>,
    pub validating: Vec<ValidatingWebhookConfiguration>,
    pub revision: u64,
}

impl AdmissionState for TestState {
    fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(name))
    }
    fn service_account(&self, namespace: &str, name: &str) -> Option<&ServiceAccount> {
        self.service_accounts.iter().find(|s| {
            s.metadata.namespace.as_deref() == Some(namespace)
                && s.metadata.name.as_deref() == Some(name)
        })
    }
    fn limit_ranges(&self, namespace: &str) -> Vec<&LimitRange> {
        self.limit_ranges
            .iter()
            .filter(|l| l.metadata.namespace.as_deref() == Some(namespace))
            .collect()
    }
    fn resource_quotas(&self, namespace: &str) -> Vec<&ResourceQuota> {
        self.quotas
            .iter()
            .filter(|q| q.metadata.namespace.as_deref() == Some(namespace))
            .collect()
    }
    fn mutating_webhook_configurations(&self) -> Vec<&MutatingWebhookConfiguration> {
        self.mutating.iter().collect()
    }
    fn validating_webhook_configurations(&self) -> Vec<&ValidatingWebhookConfiguration> {
        self.validating.iter().collect()
    }
}

impl TestState {
    /// Namespaces `ns` (and `other`) with their `default` ServiceAccounts.
    pub fn new() -> Self {
        let mut state = TestState::default();
        for ns in ["ns", "other"] {
            state.add_namespace(ns, &[]);
            state.service_accounts.push(service_account(ns, "default"));
        }
        state
    }

    pub fn add_namespace(&mut self, name: &str, labels: &[(&str, &str)]) {
        self.namespaces.push(Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            status: Some(NamespaceStatus {
                phase: Some("Active".into()),
                ..NamespaceStatus::default()
            }),
            ..Namespace::default()
        });
    }

    /// Adds a quota whose status the controller already filled (hard = spec, used = 0).
    pub fn add_quota(&mut self, namespace: &str, name: &str, hard: &[(&str, &str)]) {
        self.revision += 1;
        let hard: BTreeMap<String, WireQuantity> = hard
            .iter()
            .map(|(k, v)| (k.to_string(), WireQuantity(v.to_string())))
            .collect();
        let used = hard
            .keys()
            .map(|k| (k.clone(), WireQuantity("0".into())))
            .collect();
        self.quotas.push(ResourceQuota {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                resource_version: Some(self.revision.to_string()),
                ..ObjectMeta::default()
            },
            spec: Some(ResourceQuotaSpec {
                hard: Some(hard.clone()),
                ..ResourceQuotaSpec::default()
            }),
            status: Some(ResourceQuotaStatus {
                hard: Some(hard),
                used: Some(used),
            }),
        });
    }

    /// Commits quota charges as the store would: each precondition must hold, then the
    /// quotas are replaced and get a new revision. `false` on a conflict (nothing written).
    pub fn commit(&mut self, charges: &[QuotaCharge]) -> bool {
        for charge in charges {
            let key = charge.key();
            let current = self.quotas.iter().find(|q| {
                ObjectKey::new(
                    ResourceKind::ResourceQuota,
                    q.metadata.namespace.as_deref().unwrap_or(""),
                    q.metadata.name.as_deref().unwrap_or(""),
                ) == key
            });
            let current_rv = current.and_then(|q| q.metadata.resource_version.clone());
            if current_rv != Some(charge.revision.0.to_string()) {
                return false;
            }
        }
        for charge in charges {
            self.revision += 1;
            let mut quota = charge.quota.clone();
            quota.metadata.resource_version = Some(self.revision.to_string());
            let slot = self
                .quotas
                .iter_mut()
                .find(|q| {
                    q.metadata.name == quota.metadata.name
                        && q.metadata.namespace == quota.metadata.namespace
                })
                .expect("charged quota exists");
            *slot = quota;
        }
        true
    }

    pub fn used(&self, namespace: &str, name: &str, resource: &str) -> String {
        self.quotas
            .iter()
            .find(|q| {
                q.metadata.namespace.as_deref() == Some(namespace)
                    && q.metadata.name.as_deref() == Some(name)
            })
            .and_then(|q| {
                q.status
                    .as_ref()?
                    .used
                    .as_ref()?
                    .get(resource)
                    .map(|v| v.0.clone())
            })
            .unwrap_or_default()
    }
}

pub fn service_account(namespace: &str, name: &str) -> ServiceAccount {
    ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    }
}

pub fn pod(namespace: &str, name: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            uid: Some(format!("uid-{name}")),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "main".into(),
                image: Some("busybox:1.36".into()),
                ..Container::default()
            }],
            restart_policy: Some("Never".into()),
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

pub fn job(namespace: &str, name: &str) -> Job {
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            uid: Some(format!("uid-{name}")),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            template: PodTemplateSpec {
                spec: Some(pod(namespace, name).spec.unwrap()),
                ..PodTemplateSpec::default()
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}

pub fn alice() -> UserInfo {
    UserInfo::new("alice", &["system:authenticated"])
}

pub fn create(object: impl Into<KubeObject>, uid: &str) -> AdmissionRequest {
    let mut object: KubeObject = object.into();
    crate::defaults::apply_defaults(&mut object);
    AdmissionRequest::create(object, alice(), uid)
}

/// A rule for the given operations and `group/resource` patterns (all versions).
pub fn rule(operations: &[&str], groups: &[&str], resources: &[&str]) -> RuleWithOperations {
    let strings = |s: &[&str]| Some(s.iter().map(|x| x.to_string()).collect());
    RuleWithOperations {
        operations: strings(operations),
        api_groups: strings(groups),
        api_versions: strings(&["*"]),
        resources: strings(resources),
        scope: None,
    }
}

pub fn pod_rule() -> RuleWithOperations {
    rule(&["CREATE"], &[""], &["pods"])
}

fn client_config(name: &str) -> WebhookClientConfig {
    WebhookClientConfig {
        url: Some(format!("https://{name}/hook")),
        ..WebhookClientConfig::default()
    }
}

/// A mutating webhook named `name` with `failurePolicy`/`timeoutSeconds` as given.
pub fn mutating(
    name: &str,
    rules: Vec<RuleWithOperations>,
    policy: &str,
    timeout: i32,
) -> MutatingWebhook {
    MutatingWebhook {
        name: name.into(),
        admission_review_versions: vec!["v1".into()],
        client_config: client_config(name),
        failure_policy: Some(policy.into()),
        rules: Some(rules),
        side_effects: "None".into(),
        timeout_seconds: Some(timeout),
        reinvocation_policy: Some("Never".into()),
        ..MutatingWebhook::default()
    }
}

pub fn validating(
    name: &str,
    rules: Vec<RuleWithOperations>,
    policy: &str,
    timeout: i32,
) -> ValidatingWebhook {
    ValidatingWebhook {
        name: name.into(),
        admission_review_versions: vec!["v1".into()],
        client_config: client_config(name),
        failure_policy: Some(policy.into()),
        rules: Some(rules),
        side_effects: "None".into(),
        timeout_seconds: Some(timeout),
        ..ValidatingWebhook::default()
    }
}

pub fn mutating_config(name: &str, hooks: Vec<MutatingWebhook>) -> MutatingWebhookConfiguration {
    MutatingWebhookConfiguration {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        webhooks: Some(hooks),
    }
}

pub fn validating_config(
    name: &str,
    hooks: Vec<ValidatingWebhook>,
) -> ValidatingWebhookConfiguration {
    ValidatingWebhookConfiguration {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        webhooks: Some(hooks),
    }
}

/// A v1 response to `call`.
pub fn respond(call: &WebhookCall, response: Value) -> WebhookResult {
    let mut response = response;
    response["uid"] = call.review_uid.clone().into();
    WebhookResult::Reviewed(json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    }))
}

pub fn allow(call: &WebhookCall) -> WebhookResult {
    respond(call, json!({"allowed": true}))
}

/// An allowing response with a JSON patch.
pub fn patch(call: &WebhookCall, operations: Value) -> WebhookResult {
    let bytes = serde_json::to_vec(&operations).unwrap();
    let encoded = serde_json::to_value(k8s_openapi::ByteString(bytes)).unwrap();
    respond(
        call,
        json!({"allowed": true, "patchType": "JSONPatch", "patch": encoded}),
    )
}

/// How a drive ended, and the calls made on the way.
#[derive(Debug)]
pub struct Driven {
    pub step: AdmissionStep,
    pub calls: Vec<WebhookCall>,
    /// Virtual time spent.
    pub elapsed: Duration,
    pub records: Vec<WebhookRecord>,
    /// CallWebhooks batch sizes, in order.
    pub batches: Vec<usize>,
}

impl Driven {
    pub fn admitted(&self) -> &Admitted {
        match &self.step {
            AdmissionStep::Admitted(a) => a,
            other => panic!("expected Admitted, got {other:?}"),
        }
    }

    pub fn rejected(&self) -> &corral_api::ApiError {
        match &self.step {
            AdmissionStep::Rejected(e) => e,
            other => panic!("expected Rejected, got {other:?}"),
        }
    }

    pub fn webhooks_called(&self) -> Vec<String> {
        self.calls.iter().map(|c| c.webhook.clone()).collect()
    }
}

pub fn start() -> Timestamp {
    epoch()
}

/// Runs `request` to its end. `answer(call)` gives each call's result and latency;
/// `state_at_wait` may change the state when the flow waits.
pub fn drive_with(
    request: AdmissionRequest,
    config: &AdmissionConfig,
    state: &mut TestState,
    answer: &mut dyn FnMut(&WebhookCall) -> (WebhookResult, Duration),
    on_wait: &mut dyn FnMut(&mut TestState, u32),
) -> Driven {
    let mut flow = AdmissionFlow::new(request, config);
    let mut now = start();
    let mut calls = Vec::new();
    let mut batches = Vec::new();
    let mut waits = 0;
    for _ in 0..1000 {
        match flow.step(state, now) {
            AdmissionStep::CallWebhooks(batch) => {
                batches.push(batch.len());
                let mut longest = Duration::ZERO;
                let mut results = Vec::new();
                for call in &batch {
                    let (result, latency) = answer(call);
                    longest = longest.max(latency);
                    results.push((call.id, result, latency));
                }
                for (id, result, latency) in results {
                    flow.webhook_result(id, result, add(now, latency));
                }
                now = add(now, longest);
                calls.extend(batch);
            }
            AdmissionStep::WaitUntil(t) => {
                waits += 1;
                on_wait(state, waits);
                now = t;
            }
            step => {
                return Driven {
                    step,
                    calls,
                    elapsed: corral_core::clock::since(now, start()),
                    records: flow.records().to_vec(),
                    batches,
                };
            }
        }
    }
    panic!("flow did not finish within 1000 steps");
}

pub fn drive(
    request: AdmissionRequest,
    state: &mut TestState,
    answer: &mut dyn FnMut(&WebhookCall) -> (WebhookResult, Duration),
) -> Driven {
    drive_with(
        request,
        &AdmissionConfig::default(),
        state,
        answer,
        &mut |_, _| {},
    )
}

pub fn no_webhooks(call: &WebhookCall) -> (WebhookResult, Duration) {
    panic!("unexpected webhook call {}", call.webhook)
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
