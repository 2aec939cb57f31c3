//! One webhook's breaker — a Closed → Open → HalfOpen → Closed state machine — and the
//! vocabulary around it: keys, permits, call reports, views.
//!
//! A breaker's counts belong to one version of its configuration (uid and generation): a
//! new version resets it. Every state change bumps the breaker's epoch; a result counts
//! only in the epoch its permit was issued in, so calls issued before a trip cannot close
//! or re-trip the circuit later.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use corral_api::ResourceKind;
use corral_core::Timestamp;
use corral_core::clock::{add, since, truncate_to_seconds};

use super::BreakerConfig;
use super::transition::{BreakerPhase, TransitionReason};
use crate::admission::types::FailurePolicy;

/// Which kind of configuration a webhook is listed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigurationKind {
    Mutating,
    Validating,
}

impl ConfigurationKind {
    pub fn of(mutating: bool) -> ConfigurationKind {
        if mutating {
            ConfigurationKind::Mutating
        } else {
            ConfigurationKind::Validating
        }
    }

    /// `MutatingWebhookConfiguration` / `ValidatingWebhookConfiguration`.
    pub fn kind_name(self) -> &'static str {
        self.resource_kind().kind_name()
    }

    pub fn resource_kind(self) -> ResourceKind {
        match self {
            ConfigurationKind::Mutating => ResourceKind::MutatingWebhookConfiguration,
            ConfigurationKind::Validating => ResourceKind::ValidatingWebhookConfiguration,
        }
    }

    /// `mutating` / `validating` (metric labels).
    pub fn label(self) -> &'static str {
        match self {
            ConfigurationKind::Mutating => "mutating",
            ConfigurationKind::Validating => "validating",
        }
    }
}

/// Identifies one webhook's breaker.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BreakerKey {
    pub kind: ConfigurationKind,
    pub configuration: String,
    pub webhook: String,
}

impl BreakerKey {
    pub fn new(kind: ConfigurationKind, configuration: &str, webhook: &str) -> BreakerKey {
        BreakerKey {
            kind,
            configuration: configuration.to_string(),
            webhook: webhook.to_string(),
        }
    }

    /// `<configuration>.<webhook>`, the `WebhookBreaker` resource's name.
    pub fn name(&self) -> String {
        format!("{}.{}", self.configuration, self.webhook)
    }
}

/// The version of the configuration a breaker's counts belong to.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigurationIdentity {
    pub uid: String,
    pub generation: i64,
}

/// What the flow knows about a call it is about to make.
#[derive(Clone, Copy, Debug)]
pub struct CallTarget<'a> {
    pub key: &'a BreakerKey,
    pub identity: &'a ConfigurationIdentity,
    pub failure_policy: FailurePolicy,
    /// The call's effective timeout: probe deadlines and slow calls are measured by it.
    pub timeout: Duration,
}

/// The breaker's answer to "may this call be made?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Make it, and report its result with the permit.
    Call(Permit),
    /// Breakers are disabled: make it, nothing to report.
    Untracked,
    /// Do not make it; answer it with `CallFailure::CircuitOpen(<this text>)`.
    Refuse(String),
}

/// Leave to make one call. Hand it back with the call's result
/// ([`super::WebhookBreakers::record`]) or, when no result will come, to
/// [`super::WebhookBreakers::release`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permit {
    pub(super) key: BreakerKey,
    pub(super) identity: ConfigurationIdentity,
    pub(super) epoch: u64,
    pub(super) probe: Option<u64>,
    pub(super) issued_at: Timestamp,
    pub(super) timeout: Duration,
    pub(super) probe_deadline: Option<Timestamp>,
}

impl Permit {
    pub fn key(&self) -> &BreakerKey {
        &self.key
    }

    /// A half-open probe call.
    pub fn is_probe(&self) -> bool {
        self.probe.is_some()
    }

    pub fn issued_at(&self) -> Timestamp {
        self.issued_at
    }

    /// A probe's slot is freed at this time if its result has not come.
    pub fn probe_deadline(&self) -> Option<Timestamp> {
        self.probe_deadline
    }
}

/// Why a call failed, for the breaker (and `status.lastError`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureReport {
    /// `CallFailure::kind` (`timeout`, `connection_refused`, …), `invalid_response`, or
    /// `slow`.
    pub kind: &'static str,
    pub message: String,
}

/// How a permitted call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallReport {
    pub finished_at: Timestamp,
    /// `None`: the webhook answered (allowed, denied or patched — all healthy answers).
    pub failure: Option<FailureReport>,
}

/// A breaker's state as seen from outside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    /// Calls are refused until `until`.
    Open {
        since: Timestamp,
        until: Timestamp,
    },
    /// Probes may go through (the circuit has been open since `since`, probes allowed from
    /// `probing_since`).
    HalfOpen {
        since: Timestamp,
        probing_since: Timestamp,
        probes_in_flight: u32,
    },
}

impl BreakerState {
    pub fn phase(&self) -> BreakerPhase {
        match self {
            BreakerState::Closed => BreakerPhase::Closed,
            BreakerState::Open { .. } => BreakerPhase::Open,
            BreakerState::HalfOpen { .. } => BreakerPhase::HalfOpen,
        }
    }
}

/// One breaker, as [`super::WebhookBreakers::view`] shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakerView {
    pub key: BreakerKey,
    pub identity: ConfigurationIdentity,
    pub failure_policy: FailurePolicy,
    /// As of the `now` asked about: an open circuit whose cool-down has passed shows as
    /// half-open with no probe in flight (the next matching call is the probe).
    pub state: BreakerState,
    pub consecutive_failures: u32,
    /// Calls in the failure-ratio window, and how many of them failed.
    pub recent_calls: u32,
    pub recent_failures: u32,
    pub trips: u64,
    pub refused_calls: u64,
    pub probes: u64,
    /// Why the circuit last opened.
    pub reason: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
}

/// The internal state.
#[derive(Clone, Debug)]
pub(super) enum State {
    Closed,
    Open {
        since: Timestamp,
        until: Timestamp,
    },
    HalfOpen {
        since: Timestamp,
        probing_since: Timestamp,
    },
}

/// A state change, before it is addressed to its webhook.
pub(super) struct Change {
    pub(super) from: BreakerPhase,
    pub(super) to: BreakerPhase,
    pub(super) at: Timestamp,
    pub(super) reason: TransitionReason,
    pub(super) detail: String,
    pub(super) next_probe_at: Option<Timestamp>,
}

#[derive(Clone, Debug)]
pub(super) struct Breaker {
    pub(super) identity: ConfigurationIdentity,
    pub(super) failure_policy: FailurePolicy,
    pub(super) state: State,
    pub(super) epoch: u64,
    pub(super) next_probe: u64,
    /// Probe calls in flight (deadline by probe id), whichever half-open period let them
    /// through: at most `half_open_probes` at any time.
    pub(super) probes_in_flight: BTreeMap<u64, Timestamp>,
    pub(super) consecutive: u32,
    /// Failure kinds of the current run of consecutive failures.
    pub(super) streak: BTreeMap<&'static str, u32>,
    /// Recent outcomes (`true` = failed), at most the ratio window.
    pub(super) window: VecDeque<bool>,
    pub(super) trips: u64,
    pub(super) trips_in_a_row: u32,
    pub(super) reason: Option<String>,
    pub(super) last_error: Option<(String, Timestamp)>,
    pub(super) refused: u64,
    pub(super) probes: u64,
    pub(super) last_used: Timestamp,
}

impl Breaker {
    pub(super) fn new(
        identity: ConfigurationIdentity,
        failure_policy: FailurePolicy,
        now: Timestamp,
    ) -> Self {
        Breaker {
            identity,
            failure_policy,
            state: State::Closed,
            epoch: 0,
            next_probe: 0,
            probes_in_flight: BTreeMap::new(),
            consecutive: 0,
            streak: BTreeMap::new(),
            window: VecDeque::new(),
            trips: 0,
            trips_in_a_row: 0,
            reason: None,
            last_error: None,
            refused: 0,
            probes: 0,
            last_used: now,
        }
    }

    pub(super) fn phase(&self) -> BreakerPhase {
        match self.state {
            State::Closed => BreakerPhase::Closed,
            State::Open { .. } => BreakerPhase::Open,
            State::HalfOpen { .. } => BreakerPhase::HalfOpen,
        }
    }

    pub(super) fn reason_text(&self) -> &str {
        self.reason.as_deref().unwrap_or("failed calls")
    }

    /// Open (or re-open) the circuit at `at`.
    pub(super) fn open(
        &mut self,
        config: &BreakerConfig,
        at: Timestamp,
        reason: TransitionReason,
        detail: String,
    ) -> Change {
        let from = self.phase();
        self.trips += 1;
        self.trips_in_a_row = self.trips_in_a_row.saturating_add(1);
        let until = add(at, cool_down(config, self.trips_in_a_row));
        self.state = State::Open { since: at, until };
        self.epoch += 1;
        self.consecutive = 0;
        self.streak.clear();
        self.window.clear();
        self.reason = Some(detail.clone());
        Change {
            from,
            to: BreakerPhase::Open,
            at,
            reason,
            detail,
            next_probe_at: Some(until),
        }
    }

    pub(super) fn close(
        &mut self,
        at: Timestamp,
        reason: TransitionReason,
        detail: String,
    ) -> Change {
        let from = self.phase();
        self.state = State::Closed;
        self.epoch += 1;
        self.trips_in_a_row = 0;
        self.consecutive = 0;
        self.streak.clear();
        self.window.clear();
        Change {
            from,
            to: BreakerPhase::Closed,
            at,
            reason,
            detail,
            next_probe_at: None,
        }
    }

    /// A result of a call made while closed, in this epoch.
    pub(super) fn count(
        &mut self,
        config: &BreakerConfig,
        failure: Option<&FailureReport>,
        at: Timestamp,
    ) -> Option<Change> {
        match failure {
            Some(f) => {
                self.consecutive = self.consecutive.saturating_add(1);
                *self.streak.entry(f.kind).or_default() += 1;
            }
            None => {
                self.consecutive = 0;
                self.streak.clear();
            }
        }
        if let Some(ratio) = config.failure_ratio {
            self.window.push_back(failure.is_some());
            while self.window.len() > ratio.window as usize {
                self.window.pop_front();
            }
        }
        if config.consecutive_failures > 0 && self.consecutive >= config.consecutive_failures {
            let detail = describe_streak(self.consecutive, &self.streak);
            return Some(self.open(config, at, TransitionReason::ConsecutiveFailures, detail));
        }
        let ratio = config.failure_ratio?;
        let failed = self.window.iter().filter(|f| **f).count() as u64;
        let full = self.window.len() == ratio.window as usize;
        if full && failed * 100 >= u64::from(ratio.failed_percent) * u64::from(ratio.window) {
            let detail = format!("{failed} failed calls out of the last {}", ratio.window);
            return Some(self.open(config, at, TransitionReason::FailureRatio, detail));
        }
        None
    }

    /// The state as of `now` (an expired open circuit reads as half-open).
    pub(super) fn state_at(&self, now: Timestamp) -> BreakerState {
        match &self.state {
            State::Closed => BreakerState::Closed,
            State::Open { since, until } if now < *until => BreakerState::Open {
                since: *since,
                until: *until,
            },
            State::Open {
                since,
                until: probing_since,
            }
            | State::HalfOpen {
                since,
                probing_since,
            } => BreakerState::HalfOpen {
                since: *since,
                probing_since: *probing_since,
                probes_in_flight: self
                    .probes_in_flight
                    .values()
                    .filter(|deadline| **deadline >= now)
                    .count() as u32,
            },
        }
    }
}

/// `cool_down · 2^(trips in a row − 1)`, at most `cool_down_max`.
fn cool_down(config: &BreakerConfig, trips_in_a_row: u32) -> Duration {
    let factor = 1u32
        .checked_shl(trips_in_a_row.saturating_sub(1))
        .unwrap_or(u32::MAX);
    config
        .cool_down
        .checked_mul(factor)
        .unwrap_or(config.cool_down_max)
        .min(config.cool_down_max)
}

/// A failure kind in words: (one, several).
pub(super) fn words(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "timeout" => ("timeout", "timeouts"),
        "connection_refused" => ("refused connection", "refused connections"),
        "connect" => ("connection error", "connection errors"),
        "tls" => ("TLS error", "TLS errors"),
        "bad_status" => ("error response", "error responses"),
        "malformed" | "invalid_response" => ("invalid response", "invalid responses"),
        "too_large" => ("oversized response", "oversized responses"),
        "unresolved" => ("unresolvable address", "unresolvable addresses"),
        "slow" => ("slow call", "slow calls"),
        _ => ("failed call", "failed calls"),
    }
}

/// `5 consecutive timeouts`, or `5 consecutive failed calls (3 timeouts, 2 refused
/// connections)`.
fn describe_streak(count: u32, streak: &BTreeMap<&'static str, u32>) -> String {
    if streak.len() == 1
        && let Some(kind) = streak.keys().next()
    {
        let (one, many) = words(kind);
        return if count == 1 {
            format!("1 {one}")
        } else {
            format!("{count} consecutive {many}")
        };
    }
    let parts: Vec<String> = streak
        .iter()
        .map(|(kind, n)| {
            let (one, many) = words(kind);
            format!("{n} {}", if *n == 1 { one } else { many })
        })
        .collect();
    format!("{count} consecutive failed calls ({})", parts.join(", "))
}

/// An instant as messages show it: RFC 3339, whole seconds.
pub(super) fn show(t: Timestamp) -> String {
    truncate_to_seconds(t).to_string()
}

/// The slow-call rule: an answer later than `percent` of the timeout counts as failed.
pub(super) fn classify(
    config: &BreakerConfig,
    permit: &Permit,
    report: &CallReport,
) -> Option<FailureReport> {
    if let Some(failure) = &report.failure {
        return Some(failure.clone());
    }
    let percent = config.slow_call_percent?;
    let latency = since(report.finished_at, permit.issued_at);
    let limit = permit.timeout.mul_f64(f64::from(percent) / 100.0);
    (latency > limit).then(|| FailureReport {
        kind: "slow",
        message: format!(
            "the call took {}ms, more than {percent}% of its {}s timeout",
            latency.as_millis(),
            permit.timeout.as_secs()
        ),
    })
}
