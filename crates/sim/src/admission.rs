//! The single adapter between the simulator's virtual API client and admission.
//!
//! TODO(admission): `corral_registry::admission::AdmissionFlow` (the sans-IO admission
//! step machine: namespace lifecycle, ServiceAccount, LimitRange, mutating webhooks,
//! validation, validating webhooks, ResourceQuota with atomic charges) is being written.
//! Until it compiles, writes go through the registry's `prepare_create`/`prepare_update`
//! only, and [`plan_webhooks`] stands in for the flow's `CallWebhooks` steps with an
//! interim rule match (operations, API groups and resources of each webhook's rules;
//! namespace and object selectors are not evaluated). When the flow lands, this file is
//! the only one to change: `plan_webhooks` becomes "step the flow, model each
//! `WebhookCall` with the scenario's webhook model, feed `webhook_result` back", and the
//! ServiceAccount and quota rejections of spec §7.2 follow from the flow.

use std::collections::BTreeMap;
use std::time::Duration;

use corral_api::{ApiError, KubeObject, ResourceKind, StatusReason};
use corral_core::{Action, ObjectCache, SimRng, Subresource};
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, RuleWithOperations, ValidatingWebhookConfiguration,
};

use crate::scenario::{Dist, WebhookModel, WebhookOutcome};
use crate::time::{SimTime, nanos};
use crate::world::Op;

/// Whether the complete admission chain (ServiceAccount, quota, namespace lifecycle)
/// runs. False until `AdmissionFlow` is integrated; tests of the rows of spec §7.2 that
/// need it check this flag.
pub const ADMISSION_CHAIN_COMPLETE: bool = false;

/// Defaults, strategy and validation of a create (the registry's create path).
pub fn admit_create(object: &mut KubeObject) -> Result<(), ApiError> {
    corral_registry::prepare_create(object)
}

/// Defaults, strategy and validation of an update or patch result.
pub fn admit_update(new: &mut KubeObject, old: &KubeObject, subresource: Subresource) -> Result<(), ApiError> {
    corral_registry::prepare_update(new, old, subresource)
}

/// What the webhook phase of one request costs and decides.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebhookPlan {
    /// Virtual time spent calling webhooks.
    pub latency: Duration,
    /// A denial, or a failure under `failurePolicy: Fail`.
    pub rejection: Option<ApiError>,
    pub calls: u32,
    /// Calls that failed (timeout or error) under `failurePolicy: Ignore`.
    pub failed_open: u32,
    pub timeouts: u32,
}

/// One matched webhook.
struct Matched<'a> {
    name: &'a str,
    timeout: Duration,
    fail_closed: bool,
}

fn operation(op: Op<'_>) -> Option<(&'static str, ResourceKind, bool)> {
    match op {
        Op::Action(Action::Create { object }) => Some(("CREATE", object.kind(), false)),
        Op::Action(Action::Update { object, subresource }) => {
            Some(("UPDATE", object.kind(), *subresource == Subresource::Status))
        }
        Op::Action(Action::Patch { key, subresource, .. }) => {
            Some(("UPDATE", key.kind, *subresource == Subresource::Status))
        }
        Op::Action(Action::Delete { key, .. }) => Some(("DELETE", key.kind, false)),
        Op::PodStatus(_) => Some(("UPDATE", ResourceKind::Pod, true)),
        Op::Action(Action::Event(_)) => None,
    }
}

/// Interim rule match (see the module comment).
fn rule_matches(rules: Option<&Vec<RuleWithOperations>>, verb: &str, kind: ResourceKind, status: bool) -> bool {
    let resource = if status {
        format!("{}/status", kind.plural())
    } else {
        kind.plural().to_string()
    };
    let any = |list: &Option<Vec<String>>, value: &str| {
        list.as_ref().is_some_and(|l| l.iter().any(|x| x == "*" || x == value))
    };
    rules.into_iter().flatten().any(|rule| {
        any(&rule.operations, verb)
            && any(&rule.api_groups, kind.group())
            && (any(&rule.resources, &resource) || (status && any(&rule.resources, "*/status")))
    })
}

fn timeout_of(seconds: Option<i32>) -> Duration {
    Duration::from_secs(seconds.unwrap_or(10).clamp(1, 30) as u64)
}

/// The webhook phase of a request starting at `start`: mutating webhooks one after
/// another (configurations by name), then validating ones in parallel. A call longer
/// than its `timeoutSeconds` (or than what remains of `budget`, the request timeout) is
/// a timeout; `failurePolicy` decides whether a failed call rejects the request.
pub fn plan_webhooks(
    cache: &ObjectCache,
    models: &BTreeMap<String, WebhookModel>,
    op: Op<'_>,
    start: SimTime,
    budget: Duration,
    rng: &mut SimRng,
) -> WebhookPlan {
    let mut plan = WebhookPlan::default();
    let Some((verb, kind, status)) = operation(op) else {
        return plan;
    };
    if matches!(kind, ResourceKind::Event | ResourceKind::Lease) {
        return plan;
    }
    let mut mutating = Vec::new();
    for config in cache.list_typed::<MutatingWebhookConfiguration>() {
        for hook in config.webhooks.iter().flatten() {
            if rule_matches(hook.rules.as_ref(), verb, kind, status) {
                mutating.push(Matched {
                    name: &hook.name,
                    timeout: timeout_of(hook.timeout_seconds),
                    fail_closed: hook.failure_policy.as_deref() != Some("Ignore"),
                });
            }
        }
    }
    let mut validating = Vec::new();
    for config in cache.list_typed::<ValidatingWebhookConfiguration>() {
        for hook in config.webhooks.iter().flatten() {
            if rule_matches(hook.rules.as_ref(), verb, kind, status) {
                validating.push(Matched {
                    name: &hook.name,
                    timeout: timeout_of(hook.timeout_seconds),
                    fail_closed: hook.failure_policy.as_deref() != Some("Ignore"),
                });
            }
        }
    }
    for hook in &mutating {
        let (at, remaining) = (start + nanos(plan.latency), budget.saturating_sub(plan.latency));
        let spent = call(&mut plan, models, hook, at, remaining, rng);
        plan.latency += spent;
        if plan.rejection.is_some() {
            return plan;
        }
    }
    let before = plan.latency;
    let mut longest = Duration::ZERO;
    for hook in &validating {
        let spent = call(&mut plan, models, hook, start + nanos(before), budget.saturating_sub(before), rng);
        longest = longest.max(spent);
    }
    plan.latency = before + longest;
    plan
}

/// One webhook call: returns the time it took and records its result in `plan`.
fn call(
    plan: &mut WebhookPlan,
    models: &BTreeMap<String, WebhookModel>,
    hook: &Matched,
    at: SimTime,
    remaining: Duration,
    rng: &mut SimRng,
) -> Duration {
    plan.calls += 1;
    let default_latency = Dist::Fixed(Duration::from_millis(5));
    let (dist, outcome) = match models.get(hook.name) {
        Some(model) => model.at(at),
        None => (&default_latency, WebhookOutcome::Allow),
    };
    let deadline = hook.timeout.min(remaining);
    let latency = dist.sample(rng).unwrap_or(Duration::MAX);
    let (spent, failure) = if latency >= deadline {
        plan.timeouts += 1;
        (deadline, Some("context deadline exceeded"))
    } else {
        match outcome {
            WebhookOutcome::Allow => (latency, None),
            WebhookOutcome::Error => (latency, Some("connect: connection refused")),
            WebhookOutcome::Deny => {
                if plan.rejection.is_none() {
                    plan.rejection = Some(ApiError::new(
                        StatusReason::BadRequest,
                        format!("admission webhook {:?} denied the request without explanation", hook.name),
                    ));
                }
                (latency, None)
            }
        }
    };
    if let Some(reason) = failure {
        if hook.fail_closed {
            if plan.rejection.is_none() {
                plan.rejection = Some(ApiError::internal(format!(
                    "failed calling webhook {:?}: failed to call webhook: Post \"https://{}/\": {reason}",
                    hook.name, hook.name
                )));
            }
        } else {
            plan.failed_open += 1;
        }
    }
    spent
}
