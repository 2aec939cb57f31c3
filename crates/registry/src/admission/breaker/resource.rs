//! What users see: the read-only, cluster-scoped `corral.dev/v1alpha1` resource
//! `webhookbreakers` (kind [`WebhookBreaker`], one per configured webhook, named
//! `<configuration>.<webhook>`), and the breakers' Prometheus samples.
//!
//! ```text
//! $ kubectl get webhookbreakers
//! NAME                        STATE    FAILURES   OPENED   NEXT PROBE   AGE
//! snowball.slow.example.com   Open     0          12s      18s          3d
//! checks.fast.example.com     Closed   0          <none>   <none>       3d
//! ```
//!
//! Computed, never stored: the API server serves [`WebhookBreakers::report`] (every webhook
//! of the configurations in its cache, with its breaker's state, or a fresh closed one for
//! a webhook not called yet).

use corral_core::Timestamp;
use corral_core::clock::truncate_to_seconds;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta, Time};
use serde::{Deserialize, Serialize};

use super::breakers::WebhookBreakers;
use super::machine::{
    BreakerKey, BreakerState, BreakerView, ConfigurationIdentity, ConfigurationKind,
};
use crate::admission::state::AdmissionState;
use crate::admission::types::FailurePolicy;

pub const WEBHOOK_BREAKER_API_VERSION: &str = "corral.dev/v1alpha1";
pub const WEBHOOK_BREAKER_KIND: &str = "WebhookBreaker";
pub const WEBHOOK_BREAKER_LIST_KIND: &str = "WebhookBreakerList";

/// Gauge: 0 closed, 1 half-open, 2 open. Labels `kind`, `configuration`, `webhook`.
pub const METRIC_STATE: &str = "corral_webhook_breaker_state";
/// Gauge: failed calls in a row while closed.
pub const METRIC_CONSECUTIVE_FAILURES: &str = "corral_webhook_breaker_consecutive_failures";
/// Counter: times the circuit opened.
pub const METRIC_TRIPS: &str = "corral_webhook_breaker_trips_total";
/// Counter: calls not made because the circuit was open (or its probe slots busy).
pub const METRIC_REFUSED_CALLS: &str = "corral_webhook_breaker_refused_calls_total";
/// Counter: half-open probe calls let through.
pub const METRIC_PROBES: &str = "corral_webhook_breaker_probes_total";
/// Counter (no labels): transitions dropped because the driver did not poll in time.
pub const METRIC_TRANSITIONS_DROPPED: &str = "corral_webhook_breaker_transitions_dropped_total";

/// `corral.dev/v1alpha1` `WebhookBreaker`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookBreaker {
    pub api_version: String,
    pub kind: String,
    /// `name`: `<configuration>.<webhook>`; `creationTimestamp`: the configuration's.
    pub metadata: ObjectMeta,
    pub status: WebhookBreakerStatus,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookBreakerStatus {
    /// `MutatingWebhookConfiguration` or `ValidatingWebhookConfiguration`.
    pub configuration_kind: String,
    pub configuration: String,
    pub webhook: String,
    /// `Fail` or `Ignore`: what an open circuit does to matching requests.
    pub failure_policy: String,
    /// `Closed`, `Open`, `HalfOpen`, or `Disabled` (breakers off on this server).
    pub state: String,
    /// Failed calls in a row (while closed).
    pub consecutive_failures: u32,
    /// Calls in the failure-ratio window, and how many failed.
    pub recent_calls: u32,
    pub recent_failures: u32,
    /// When the circuit (last) opened; absent while closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened_at: Option<Time>,
    /// When probes may start; absent while closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_probe_at: Option<Time>,
    pub probes_in_flight: u32,
    /// Times the circuit opened (since the configuration's current generation).
    pub trips: u64,
    /// Calls not made because the circuit was open.
    pub refused_calls: u64,
    /// Why the circuit last opened (`5 consecutive timeouts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<Time>,
}

/// `WebhookBreakerList`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookBreakerList {
    pub api_version: String,
    pub kind: String,
    pub metadata: ListMeta,
    pub items: Vec<WebhookBreaker>,
}

impl WebhookBreakerList {
    pub fn new(items: Vec<WebhookBreaker>, resource_version: Option<String>) -> WebhookBreakerList {
        WebhookBreakerList {
            api_version: WEBHOOK_BREAKER_API_VERSION.to_string(),
            kind: WEBHOOK_BREAKER_LIST_KIND.to_string(),
            metadata: ListMeta {
                resource_version,
                ..ListMeta::default()
            },
            items,
        }
    }
}

/// One Prometheus sample: a metric name, its labels, its value.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakerMetric {
    pub name: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

/// A webhook as its configuration lists it.
pub(super) struct ConfiguredWebhook {
    pub(super) key: BreakerKey,
    pub(super) identity: ConfigurationIdentity,
    pub(super) failure_policy: FailurePolicy,
    pub(super) created: Option<Time>,
}

fn policy(text: Option<&str>) -> FailurePolicy {
    match text {
        Some("Ignore") => FailurePolicy::Ignore,
        _ => FailurePolicy::Fail,
    }
}

fn identity(meta: &ObjectMeta) -> ConfigurationIdentity {
    ConfigurationIdentity {
        uid: meta.uid.clone().unwrap_or_default(),
        generation: meta.generation.unwrap_or(0),
    }
}

/// Every configured webhook: mutating configurations by name, then validating ones,
/// webhooks in listed order.
pub(super) fn configured_webhooks(state: &dyn AdmissionState) -> Vec<ConfiguredWebhook> {
    let mut out = Vec::new();
    let mut mutating = state.mutating_webhook_configurations();
    mutating.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for config in mutating {
        let name = config.metadata.name.as_deref().unwrap_or("");
        for hook in config.webhooks.iter().flatten() {
            out.push(ConfiguredWebhook {
                key: BreakerKey::new(ConfigurationKind::Mutating, name, &hook.name),
                identity: identity(&config.metadata),
                failure_policy: policy(hook.failure_policy.as_deref()),
                created: config.metadata.creation_timestamp.clone(),
            });
        }
    }
    let mut validating = state.validating_webhook_configurations();
    validating.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for config in validating {
        let name = config.metadata.name.as_deref().unwrap_or("");
        for hook in config.webhooks.iter().flatten() {
            out.push(ConfiguredWebhook {
                key: BreakerKey::new(ConfigurationKind::Validating, name, &hook.name),
                identity: identity(&config.metadata),
                failure_policy: policy(hook.failure_policy.as_deref()),
                created: config.metadata.creation_timestamp.clone(),
            });
        }
    }
    out
}

fn time(t: Timestamp) -> Time {
    Time(truncate_to_seconds(t))
}

fn status(view: &BreakerView, enabled: bool) -> WebhookBreakerStatus {
    let (state, opened_at, next_probe_at, probes_in_flight) = match &view.state {
        _ if !enabled => ("Disabled", None, None, 0),
        BreakerState::Closed => ("Closed", None, None, 0),
        BreakerState::Open { since, until } => ("Open", Some(*since), Some(*until), 0),
        BreakerState::HalfOpen {
            since,
            probing_since,
            probes_in_flight,
        } => (
            "HalfOpen",
            Some(*since),
            Some(*probing_since),
            *probes_in_flight,
        ),
    };
    WebhookBreakerStatus {
        configuration_kind: view.key.kind.kind_name().to_string(),
        configuration: view.key.configuration.clone(),
        webhook: view.key.webhook.clone(),
        failure_policy: match view.failure_policy {
            FailurePolicy::Fail => "Fail",
            FailurePolicy::Ignore => "Ignore",
        }
        .to_string(),
        state: state.to_string(),
        consecutive_failures: view.consecutive_failures,
        recent_calls: view.recent_calls,
        recent_failures: view.recent_failures,
        opened_at: opened_at.map(time),
        next_probe_at: next_probe_at.map(time),
        probes_in_flight,
        trips: view.trips,
        refused_calls: view.refused_calls,
        reason: view.reason.clone(),
        last_error: view.last_error.clone(),
        last_error_at: view.last_error_at.map(time),
    }
}

/// A webhook no breaker tracks (yet): closed, nothing counted.
fn fresh_view(webhook: &ConfiguredWebhook) -> BreakerView {
    BreakerView {
        key: webhook.key.clone(),
        identity: webhook.identity.clone(),
        failure_policy: webhook.failure_policy,
        state: BreakerState::Closed,
        consecutive_failures: 0,
        recent_calls: 0,
        recent_failures: 0,
        trips: 0,
        refused_calls: 0,
        probes: 0,
        reason: None,
        last_error: None,
        last_error_at: None,
    }
}

impl WebhookBreakers {
    /// One [`WebhookBreaker`] per webhook configured in `state` (mutating configurations
    /// by name, then validating ones; webhooks in listed order), as of `now`. A breaker
    /// kept for an older version of its configuration shows as fresh (it resets on its
    /// next call). If a mutating and a validating configuration of the same name list a
    /// webhook of the same name, the validating one's entry is named
    /// `<configuration>.<webhook>.validating`.
    pub fn report(&self, state: &dyn AdmissionState, now: Timestamp) -> Vec<WebhookBreaker> {
        let enabled = self.config().enabled;
        let mut names = std::collections::BTreeSet::new();
        configured_webhooks(state)
            .iter()
            .map(|webhook| {
                let view = self
                    .view(&webhook.key, now)
                    .filter(|v| v.identity == webhook.identity)
                    .unwrap_or_else(|| fresh_view(webhook));
                let mut name = webhook.key.name();
                if !names.insert(name.clone()) {
                    name.push_str(".validating");
                    names.insert(name.clone());
                }
                WebhookBreaker {
                    api_version: WEBHOOK_BREAKER_API_VERSION.to_string(),
                    kind: WEBHOOK_BREAKER_KIND.to_string(),
                    metadata: ObjectMeta {
                        name: Some(name),
                        creation_timestamp: webhook.created.clone(),
                        ..ObjectMeta::default()
                    },
                    status: status(&view, enabled),
                }
            })
            .collect()
    }

    /// One entry of [`Self::report`] by name (`None`: 404).
    pub fn get(
        &self,
        state: &dyn AdmissionState,
        name: &str,
        now: Timestamp,
    ) -> Option<WebhookBreaker> {
        self.report(state, now)
            .into_iter()
            .find(|b| b.metadata.name.as_deref() == Some(name))
    }

    /// Samples of every breaker held, as of `now` (counters restart when a breaker is reset
    /// or forgotten; Prometheus treats that as a counter reset).
    pub fn metrics(&self, now: Timestamp) -> Vec<BreakerMetric> {
        let mut samples = Vec::new();
        for view in self.views(now) {
            let labels = vec![
                ("kind", view.key.kind.label().to_string()),
                ("configuration", view.key.configuration.clone()),
                ("webhook", view.key.webhook.clone()),
            ];
            for (name, value) in [
                (METRIC_STATE, view.state.phase().gauge()),
                (
                    METRIC_CONSECUTIVE_FAILURES,
                    f64::from(view.consecutive_failures),
                ),
                (METRIC_TRIPS, view.trips as f64),
                (METRIC_REFUSED_CALLS, view.refused_calls as f64),
                (METRIC_PROBES, view.probes as f64),
            ] {
                samples.push(BreakerMetric {
                    name,
                    labels: labels.clone(),
                    value,
                });
            }
        }
        samples.push(BreakerMetric {
            name: METRIC_TRANSITIONS_DROPPED,
            labels: Vec::new(),
            value: self.transitions_dropped() as f64,
        });
        samples
    }
}

#[cfg(test)]
mod tests {
    //! Goal: `kubectl get webhookbreakers` lists every configured webhook with its circuit's
    //! state, and the breakers follow their configurations. Method: the admission tests'
    //! cluster state, a breaker tripped by five timeouts, the served JSON.

    use std::time::Duration;

    use corral_core::clock::{add, epoch};
    use serde_json::json;

    use super::super::{BreakerConfig, CallReport, CallTarget, Decision, FailureReport};
    use super::*;
    use crate::admission::tests::{
        TestState, mutating, mutating_config, pod_rule, validating, validating_config,
    };

    fn state() -> TestState {
        let mut state = TestState::new();
        let mut m = mutating_config(
            "snowball",
            vec![mutating("slow.example.com", vec![pod_rule()], "Ignore", 30)],
        );
        m.metadata.uid = Some("u1".into());
        m.metadata.generation = Some(1);
        m.metadata.creation_timestamp = Some(Time(epoch()));
        state.mutating.push(m);
        state.validating.push(validating_config(
            "snowball",
            vec![
                validating("slow.example.com", vec![pod_rule()], "Fail", 10),
                validating("other.example.com", vec![pod_rule()], "Fail", 10),
            ],
        ));
        state
    }

    fn trip(breakers: &mut WebhookBreakers) {
        let key = BreakerKey::new(ConfigurationKind::Mutating, "snowball", "slow.example.com");
        let identity = ConfigurationIdentity {
            uid: "u1".into(),
            generation: 1,
        };
        for i in 0..5 {
            let now = add(epoch(), Duration::from_secs(i));
            let target = CallTarget {
                key: &key,
                identity: &identity,
                failure_policy: FailurePolicy::Ignore,
                timeout: Duration::from_secs(30),
            };
            let Decision::Call(permit) = breakers.admit(&target, now) else {
                panic!()
            };
            breakers.record(
                permit,
                CallReport {
                    finished_at: now,
                    failure: Some(FailureReport {
                        kind: "timeout",
                        message: "deadline".into(),
                    }),
                },
            );
        }
    }

    #[test]
    fn every_configured_webhook_is_listed_with_its_circuit() {
        let state = state();
        let mut breakers = WebhookBreakers::new(BreakerConfig::corral());
        trip(&mut breakers);
        let now = add(epoch(), Duration::from_secs(10));
        let items = breakers.report(&state, now);
        let names: Vec<_> = items
            .iter()
            .map(|b| b.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "snowball.slow.example.com",
                "snowball.slow.example.com.validating",
                "snowball.other.example.com"
            ]
        );
        let value = serde_json::to_value(&items[0]).unwrap();
        assert_eq!(
            value,
            json!({
                "apiVersion": "corral.dev/v1alpha1", "kind": "WebhookBreaker",
                "metadata": {"name": "snowball.slow.example.com", "creationTimestamp": "2026-01-01T00:00:00Z"},
                "status": {
                    "configurationKind": "MutatingWebhookConfiguration", "configuration": "snowball",
                    "webhook": "slow.example.com", "failurePolicy": "Ignore", "state": "Open",
                    "consecutiveFailures": 0, "recentCalls": 0, "recentFailures": 0,
                    "openedAt": "2026-01-01T00:00:04Z", "nextProbeAt": "2026-01-01T00:00:34Z",
                    "probesInFlight": 0, "trips": 1, "refusedCalls": 0,
                    "reason": "5 consecutive timeouts", "lastError": "deadline",
                    "lastErrorAt": "2026-01-01T00:00:04Z"
                }
            })
        );
        let back: WebhookBreaker = serde_json::from_value(value).unwrap();
        assert_eq!(back, items[0]);
        assert_eq!(items[1].status.state, "Closed");
        assert_eq!(items[1].status.failure_policy, "Fail");
        assert_eq!(
            items[1].status.configuration_kind,
            "ValidatingWebhookConfiguration"
        );
        let later = add(epoch(), Duration::from_secs(40));
        assert_eq!(
            breakers
                .get(&state, "snowball.slow.example.com", later)
                .unwrap()
                .status
                .state,
            "HalfOpen"
        );
        assert!(breakers.get(&state, "missing", now).is_none());
        let list = serde_json::to_value(WebhookBreakerList::new(items, Some("7".into()))).unwrap();
        assert_eq!(list["kind"], "WebhookBreakerList");
        assert_eq!(list["metadata"]["resourceVersion"], "7");

        let disabled = WebhookBreakers::new(BreakerConfig::default());
        assert!(
            disabled
                .report(&state, now)
                .iter()
                .all(|b| b.status.state == "Disabled")
        );
    }

    #[test]
    fn metrics_carry_state_trips_and_refusals() {
        let mut breakers = WebhookBreakers::new(BreakerConfig::corral());
        trip(&mut breakers);
        let now = add(epoch(), Duration::from_secs(10));
        let samples = breakers.metrics(now);
        let state = samples.iter().find(|s| s.name == METRIC_STATE).unwrap();
        assert_eq!(state.value, 2.0);
        assert_eq!(
            state.labels,
            [
                ("kind", "mutating".to_string()),
                ("configuration", "snowball".to_string()),
                ("webhook", "slow.example.com".to_string())
            ]
        );
        assert_eq!(
            samples
                .iter()
                .find(|s| s.name == METRIC_TRIPS)
                .unwrap()
                .value,
            1.0
        );
        assert_eq!(samples.last().unwrap().name, METRIC_TRANSITIONS_DROPPED);
    }

    #[test]
    fn breakers_follow_their_configurations() {
        let mut state = state();
        let mut breakers = WebhookBreakers::new(BreakerConfig::corral());
        trip(&mut breakers);
        let now = add(epoch(), Duration::from_secs(10));
        breakers.poll_transitions(now);
        state.mutating[0].metadata.generation = Some(2);
        breakers.sync_configurations(&state, now);
        let transitions = breakers.poll_transitions(now);
        assert_eq!(transitions.len(), 1);
        assert_eq!(transitions[0].to, super::super::BreakerPhase::Closed);
        assert_eq!(breakers.len(), 1);
        state.mutating.clear();
        breakers.sync_configurations(&state, now);
        assert!(
            breakers.is_empty(),
            "a deleted webhook's breaker is forgotten"
        );
    }
}
