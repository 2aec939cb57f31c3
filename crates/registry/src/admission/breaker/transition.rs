//! [`BreakerTransition`]: a circuit opened, went half-open or closed, and why — the record
//! drivers turn into an Event on the webhook configuration ([`BreakerTransition::event`])
//! and into metrics.

use corral_core::{EventRecord, EventType, Timestamp};
use k8s_openapi::api::core::v1::ObjectReference;

use super::machine::{BreakerKey, show};
use crate::admission::types::FailurePolicy;

/// `source.component` of the breaker's events.
pub const EVENT_COMPONENT: &str = "webhook-breaker";

/// Event reasons.
pub const REASON_OPEN: &str = "WebhookCircuitOpen";
pub const REASON_CLOSED: &str = "WebhookCircuitClosed";

/// A circuit's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BreakerPhase {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerPhase {
    /// `Closed`, `Open`, `HalfOpen` (the resource's `status.state`).
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerPhase::Closed => "Closed",
            BreakerPhase::Open => "Open",
            BreakerPhase::HalfOpen => "HalfOpen",
        }
    }

    /// The `corral_webhook_breaker_state` gauge: 0 closed, 1 half-open, 2 open.
    pub fn gauge(self) -> f64 {
        match self {
            BreakerPhase::Closed => 0.0,
            BreakerPhase::HalfOpen => 1.0,
            BreakerPhase::Open => 2.0,
        }
    }
}

/// Why a circuit changed phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TransitionReason {
    /// Closed → Open: `consecutive_failures` failed calls in a row.
    ConsecutiveFailures,
    /// Closed → Open: the failure ratio over the window was reached.
    FailureRatio,
    /// HalfOpen → Open: a probe failed; the cool-down doubles.
    ProbeFailed,
    /// Open → HalfOpen: the cool-down passed (recorded when the next call arrives).
    CoolDownElapsed,
    /// HalfOpen → Closed.
    ProbeSucceeded,
    /// Open or HalfOpen → Closed: the configuration's uid or generation changed.
    ConfigurationChanged,
}

impl TransitionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionReason::ConsecutiveFailures => "ConsecutiveFailures",
            TransitionReason::FailureRatio => "FailureRatio",
            TransitionReason::ProbeFailed => "ProbeFailed",
            TransitionReason::CoolDownElapsed => "CoolDownElapsed",
            TransitionReason::ProbeSucceeded => "ProbeSucceeded",
            TransitionReason::ConfigurationChanged => "ConfigurationChanged",
        }
    }
}

/// One phase change of one webhook's circuit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakerTransition {
    pub key: BreakerKey,
    pub configuration_uid: String,
    pub failure_policy: FailurePolicy,
    /// When it happened (a result's finish time, or the end of the cool-down).
    pub at: Timestamp,
    pub from: BreakerPhase,
    pub to: BreakerPhase,
    pub reason: TransitionReason,
    /// In words: `5 consecutive timeouts`, `a probe call succeeded`, …
    pub detail: String,
    /// When probes may start (opened and half-open transitions).
    pub next_probe_at: Option<Timestamp>,
    /// Trips of this breaker so far (since its configuration version).
    pub trips: u64,
    /// `half_open_probes`.
    pub probes_allowed: u32,
}

impl BreakerTransition {
    /// The event message.
    pub fn message(&self) -> String {
        let webhook = corral_api::validation::go_quote(&self.key.webhook);
        match self.to {
            BreakerPhase::Open => {
                let effect = match self.failure_policy {
                    FailurePolicy::Ignore => {
                        "matching requests are admitted without calling it (failurePolicy Ignore)"
                    }
                    FailurePolicy::Fail => "matching requests are rejected (failurePolicy Fail)",
                };
                let first_probe = self
                    .next_probe_at
                    .map(|t| format!(", first at {}", show(t)))
                    .unwrap_or_default();
                format!(
                    "Webhook {webhook}: circuit open after {} (trip {}); {effect} until a probe call succeeds{first_probe}",
                    self.detail, self.trips
                )
            }
            BreakerPhase::HalfOpen => format!(
                "Webhook {webhook}: circuit half-open after {}: letting {} probe call{} through",
                self.detail,
                self.probes_allowed,
                if self.probes_allowed == 1 { "" } else { "s" }
            ),
            BreakerPhase::Closed => format!(
                "Webhook {webhook}: circuit closed: {}; calls resume",
                self.detail
            ),
        }
    }

    /// The Event a driver records on the webhook configuration: `Warning
    /// WebhookCircuitOpen` when the circuit opens (again), `Normal WebhookCircuitClosed` when
    /// it closes (good news is `Normal`, as upstream's recovery events are). Half-open has
    /// no event: it is a metric only.
    pub fn event(&self) -> Option<EventRecord> {
        let (event_type, reason) = match self.to {
            BreakerPhase::Open => (EventType::Warning, REASON_OPEN),
            BreakerPhase::Closed => (EventType::Normal, REASON_CLOSED),
            BreakerPhase::HalfOpen => return None,
        };
        let kind = self.key.kind.resource_kind();
        Some(EventRecord {
            involved: ObjectReference {
                api_version: Some(kind.api_version().to_string()),
                kind: Some(kind.kind_name().to_string()),
                name: Some(self.key.configuration.clone()),
                uid: (!self.configuration_uid.is_empty()).then(|| self.configuration_uid.clone()),
                ..ObjectReference::default()
            },
            event_type,
            reason: reason.to_string(),
            message: self.message(),
            component: EVENT_COMPONENT.to_string(),
            host: None,
        })
    }
}
