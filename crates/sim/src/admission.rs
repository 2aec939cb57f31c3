//! The single adapter between the simulator and the registry's admission chain,
//! [`AdmissionFlow`] (namespace lifecycle, LimitRanger, ServiceAccount, priority, default
//! tolerations, mutating webhooks, validation, validating webhooks, ResourceQuota), a
//! sans-IO step machine. The simulator drives it in virtual time: a `CallWebhooks` step
//! becomes latency and an outcome drawn from the scenario's webhook model in force at
//! that instant (a call longer than its `timeoutSeconds` — which the flow clips to what
//! remains of the request — is a `Timeout`); `WaitUntil` advances the request's clock.
//!
//! Creates are admitted when the call starts, so their admission latency delays the write
//! and the answer (and the worker waiting for it); the admitted object and its quota
//! charges are committed atomically when the call lands. Updates and patches are admitted
//! synchronously when they land (their webhooks answer at once: only create latency is
//! modelled). Deletes are not admitted.

use std::collections::BTreeMap;
use std::time::Duration;

use corral_api::{ApiError, KubeObject};
use corral_core::{ObjectCache, SimRng, Subresource, Timestamp, clock};
use corral_registry::admission::{
    AdmissionConfig, AdmissionFlow, AdmissionRequest, AdmissionStep, Admitted, CallFailure,
    WebhookCall, WebhookOutcome as FlowOutcome, WebhookResult,
};
use corral_registry::authz::UserInfo;
use serde_json::json;

use crate::scenario::{Dist, WebhookModel, WebhookOutcome};
use crate::time::{SimTime, offset};

/// Steps one admission may take before it is declared stuck (a bound, not a tuning).
const STEPS_MAX: usize = 10_000;

/// Webhook counters for the summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebhookStats {
    pub calls: u64,
    pub timeouts: u64,
    pub failed_open: u64,
    pub rejections: u64,
    /// Guard 7: calls not made because the webhook's circuit was open (`failurePolicy`
    /// decided at once); not counted in the fields above.
    pub circuit_open: u64,
}

/// A create admitted (or refused) when its call started.
#[derive(Debug)]
pub struct CreateAdmission {
    /// When the chain finished, in virtual time.
    pub finished: Timestamp,
    pub result: Result<Admitted, ApiError>,
    /// Kept for quota retries at commit time.
    pub flow: Box<AdmissionFlow>,
}

/// The simulator's side of admission.
pub struct Admission {
    pub config: AdmissionConfig,
    models: BTreeMap<String, WebhookModel>,
    rng: SimRng,
    start: Timestamp,
    pub stats: WebhookStats,
}

impl Admission {
    pub fn new(
        config: AdmissionConfig,
        models: &[WebhookModel],
        rng: SimRng,
        start: Timestamp,
    ) -> Admission {
        Admission {
            config,
            models: models.iter().map(|m| (m.name.clone(), m.clone())).collect(),
            rng,
            start,
            stats: WebhookStats::default(),
        }
    }

    fn request_uid(&mut self) -> String {
        corral_api::Uid::from_random_bits(self.rng.next_u128()).0
    }

    /// Admits a create starting at `now`, advancing virtual time through webhook calls and
    /// waits.
    pub fn admit_create(
        &mut self,
        object: KubeObject,
        user: &UserInfo,
        cache: &ObjectCache,
        now: Timestamp,
    ) -> CreateAdmission {
        let uid = self.request_uid();
        let mut flow = Box::new(AdmissionFlow::new(
            AdmissionRequest::create(object, user.clone(), &uid),
            &self.config,
        ));
        let (finished, result) = self.drive(&mut flow, cache, now, true);
        CreateAdmission {
            finished,
            result,
            flow,
        }
    }

    /// After a quota conflict at commit time: charge again against the current quotas.
    pub fn retry_quota(
        &mut self,
        admission: &mut CreateAdmission,
        admitted: Admitted,
        cache: &ObjectCache,
        now: Timestamp,
    ) -> Result<Admitted, ApiError> {
        admission.flow.retry_quota(admitted);
        self.drive(&mut admission.flow, cache, now, false).1
    }

    /// Admits an update or patch result synchronously (at the write's landing time).
    pub fn admit_update(
        &mut self,
        new: KubeObject,
        old: &KubeObject,
        subresource: Subresource,
        user: &UserInfo,
        cache: &ObjectCache,
        now: Timestamp,
    ) -> Result<KubeObject, ApiError> {
        let uid = self.request_uid();
        let sub = match subresource {
            Subresource::Main => None,
            Subresource::Status => Some("status"),
        };
        let request = AdmissionRequest::update(new, old.clone(), sub, user.clone(), &uid);
        let mut flow = AdmissionFlow::new(request, &self.config);
        let admitted = self.drive(&mut flow, cache, now, false).1?;
        admitted
            .object
            .ok_or_else(|| ApiError::internal("admission returned no object"))
    }

    /// Steps the flow to its end. With `timed`, webhook latencies and waits advance the
    /// request's clock; otherwise everything happens at `now`.
    fn drive(
        &mut self,
        flow: &mut AdmissionFlow,
        cache: &ObjectCache,
        now: Timestamp,
        timed: bool,
    ) -> (Timestamp, Result<Admitted, ApiError>) {
        let mut at = now;
        let records_before = flow.records().len();
        for _ in 0..STEPS_MAX {
            match flow.step(cache, at) {
                AdmissionStep::CallWebhooks(calls) => {
                    let mut latest = at;
                    for call in calls {
                        let (spent, result) = self.model_call(&call, at);
                        let done = if timed { clock::add(at, spent) } else { at };
                        flow.webhook_result(call.id, result, done);
                        latest = latest.max(done);
                    }
                    at = latest;
                }
                // Waits (a missing namespace, the default ServiceAccount's lookups) move the
                // request's clock in both modes, or the flow would wait forever.
                AdmissionStep::WaitUntil(t) => at = at.max(t),
                // The simulator leaves validation to the flow (`caller_prepares` is off).
                AdmissionStep::Prepare => {
                    return (
                        at,
                        Err(ApiError::internal(
                            "admission asked the simulator to prepare the object",
                        )),
                    );
                }
                AdmissionStep::Pending(_) => {
                    return (
                        at,
                        Err(ApiError::internal(
                            "admission is waiting for a webhook result it was given",
                        )),
                    );
                }
                AdmissionStep::Admitted(admitted) => {
                    self.count(flow, records_before);
                    return (at, Ok(admitted));
                }
                AdmissionStep::Rejected(error) => {
                    self.count(flow, records_before);
                    return (at, Err(error));
                }
            }
        }
        (at, Err(ApiError::internal("admission did not finish")))
    }

    fn count(&mut self, flow: &AdmissionFlow, from: usize) {
        for record in &flow.records()[from..] {
            if record.circuit_open {
                self.stats.circuit_open += 1;
                continue;
            }
            self.stats.calls += 1;
            match &record.outcome {
                FlowOutcome::FailedOpen { failure } => {
                    self.stats.failed_open += 1;
                    if failure.contains("deadline") {
                        self.stats.timeouts += 1;
                    }
                }
                FlowOutcome::FailedClosed { failure } => {
                    self.stats.rejections += 1;
                    if failure.contains("deadline") {
                        self.stats.timeouts += 1;
                    }
                }
                FlowOutcome::Rejected { .. } => self.stats.rejections += 1,
                FlowOutcome::Allowed | FlowOutcome::Mutated => {}
            }
        }
    }

    /// One webhook call answered by the scenario's model in force at `at`.
    fn model_call(&mut self, call: &WebhookCall, at: Timestamp) -> (Duration, WebhookResult) {
        let fallback = Dist::Fixed(Duration::from_millis(5));
        let t: SimTime = offset(self.start, at);
        let (dist, outcome) = match self.models.get(&call.webhook) {
            Some(model) => model.at(t),
            None => (&fallback, WebhookOutcome::Allow),
        };
        let latency = dist.sample(&mut self.rng).unwrap_or(Duration::MAX);
        if latency >= call.timeout {
            return (call.timeout, WebhookResult::Failed(CallFailure::Timeout));
        }
        let review = |allowed: bool| {
            let mut response = json!({"uid": call.review_uid, "allowed": allowed});
            if !allowed {
                response["status"] =
                    json!({"code": 403, "message": "denied by the scenario's webhook model"});
            }
            json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
        };
        let result = match outcome {
            WebhookOutcome::Allow => WebhookResult::Reviewed(review(true)),
            WebhookOutcome::Deny => WebhookResult::Reviewed(review(false)),
            WebhookOutcome::Error => WebhookResult::Failed(CallFailure::ConnectionRefused {
                address: format!("{}:443", call.webhook),
            }),
        };
        (latency, result)
    }
}

/// The identity a simulated client runs as.
pub fn user_for(client: &str) -> UserInfo {
    if let Some(node) = client.strip_prefix("kubelet/") {
        return UserInfo::new(
            &format!("system:node:{node}"),
            &["system:nodes", "system:authenticated"],
        );
    }
    match client {
        "user" => UserInfo::new("admin", &["system:masters", "system:authenticated"]),
        "default-scheduler" => UserInfo::new("system:kube-scheduler", &["system:authenticated"]),
        "event-broadcaster" => {
            UserInfo::new("system:kube-controller-manager", &["system:authenticated"])
        }
        controller => UserInfo::new(
            &format!("system:serviceaccount:kube-system:{controller}"),
            &[
                "system:serviceaccounts",
                "system:serviceaccounts:kube-system",
                "system:authenticated",
            ],
        ),
    }
}
