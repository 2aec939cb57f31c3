//! Guard 7, the webhook breaker: when a webhook keeps timing out or failing, stop calling
//! it for a cool-down instead of making every matched request wait out its timeout.
//!
//! Upstream calls a hanging webhook for every matched request: each one waits the full
//! `timeoutSeconds` (spec §6.4). With 30 s per pod creation and 5 Job workers, pod creation
//! is capped at 10 pods per minute cluster-wide (the snowball, spec §7.1). A breaker per
//! webhook counts failed calls; past a threshold its circuit *opens*: the flow answers the
//! webhook's calls itself with [`crate::admission::CallFailure::CircuitOpen`], and
//! `failurePolicy` decides as for any failed call — `Ignore` admits at once (with upstream's
//! `failed-open…` audit annotation), `Fail` rejects at once with a message naming the
//! webhook and the circuit's state. After a cool-down the circuit is *half-open*: a few
//! probe calls go through; a success closes it, a failure opens it again for twice as long.
//!
//! # Pieces
//!
//! - [`BreakerConfig`]: every knob. `Default` is upstream (disabled), [`BreakerConfig::corral`]
//!   is what `corral up` runs.
//! - [`WebhookBreakers`]: the state of every webhook's breaker, shared by all requests of a
//!   server (or of a simulated world) through [`SharedBreakers`], which the flow finds in
//!   [`crate::admission::AdmissionConfig::webhook_breakers`].
//! - [`BreakerTransition`]: opened / half-open / closed records, drained by the driver with
//!   [`WebhookBreakers::poll_transitions`] and turned into events and metrics.
//! - [`WebhookBreaker`]: the read-only `corral.dev/v1alpha1` resource `kubectl get
//!   webhookbreakers` shows ([`WebhookBreakers::report`]).
//!
//! # Time
//!
//! No clock is read: `now` comes with every call. Results are applied in virtual-time
//! order: a result whose `finished_at` lies beyond the latest `now` the breakers were told
//! about waits until time reaches it. The simulator, which works out a create's whole
//! admission when the create starts, therefore sees the circuit open when the failures
//! *finish*, not when they are computed; the API server, whose results finish at about
//! `now`, sees them at once.

mod breakers;
mod machine;
mod resource;
mod transition;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use self::breakers::WebhookBreakers;
pub use self::machine::{
    BreakerKey, BreakerState, BreakerView, CallReport, CallTarget, ConfigurationIdentity,
    ConfigurationKind, Decision, FailureReport, Permit,
};
pub use self::resource::{
    BreakerMetric, METRIC_CONSECUTIVE_FAILURES, METRIC_PROBES, METRIC_REFUSED_CALLS, METRIC_STATE,
    METRIC_TRANSITIONS_DROPPED, METRIC_TRIPS, WEBHOOK_BREAKER_API_VERSION, WEBHOOK_BREAKER_KIND,
    WEBHOOK_BREAKER_LIST_KIND, WebhookBreaker, WebhookBreakerList, WebhookBreakerStatus,
};
pub use self::transition::{
    BreakerPhase, BreakerTransition, EVENT_COMPONENT, REASON_CLOSED, REASON_OPEN, TransitionReason,
};

/// Trip on a share of failed calls among the last `window` calls (once `window` calls
/// were seen since the circuit last closed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailureRatio {
    /// Open when at least this percentage of the window failed (1–100).
    pub failed_percent: u32,
    /// How many recent calls the ratio is taken over (1–1 000).
    pub window: u32,
}

/// The breaker's knobs. `Default` is upstream: disabled, every call is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Off: calls are never refused and nothing is tracked (upstream). Default `false`;
    /// `corral()`: `true`.
    pub enabled: bool,
    /// Open after this many failed calls in a row; 0 turns the trigger off. Default 5.
    pub consecutive_failures: u32,
    /// Open on a failure ratio over recent calls; `None` turns the trigger off. Default
    /// `Some(50 % of 20 calls)`.
    pub failure_ratio: Option<FailureRatio>,
    /// A call that took longer than this percentage of its timeout counts as failed even
    /// if it answered. Default `None`: answers count as successes however slow, because
    /// an open circuit skips an `Ignore` webhook's mutations and denials, and a slow webhook
    /// that still answers is doing its job.
    pub slow_call_percent: Option<u32>,
    /// How long the circuit stays open after its first trip. Default 30 s.
    pub cool_down: Duration,
    /// Each trip without a close in between doubles the cool-down, up to this. Default 5 min.
    pub cool_down_max: Duration,
    /// Probe calls let through at once while half-open (≥ 1). Default 1.
    pub half_open_probes: u32,
    /// A probe whose result never comes (its request was abandoned) frees its slot this
    /// long after its call's timeout. Default 5 s.
    pub probe_grace: Duration,
    /// Breakers kept (one per webhook called); beyond it the least recently used closed
    /// one is forgotten. Default 4 096.
    pub max_breakers: usize,
    /// Transitions kept until the driver polls them; beyond it the oldest are dropped
    /// (and counted). Default 1 024.
    pub max_transitions: usize,
    /// Results waiting for time to reach their `finished_at`; beyond it the earliest is
    /// applied at once. Default 65 536.
    pub max_pending_results: usize,
}

impl Default for BreakerConfig {
    /// Disabled; the other knobs as in [`BreakerConfig::corral`], so turning `enabled` on
    /// is all a profile needs.
    fn default() -> Self {
        let mut config = BreakerConfig::corral();
        config.enabled = false;
        config
    }
}

impl BreakerConfig {
    /// What `corral up` runs: enabled, open after 5 consecutive failures or half of the
    /// last 20 calls failing, 30 s cool-down doubling to 5 min, one probe at a time.
    pub fn corral() -> BreakerConfig {
        BreakerConfig {
            enabled: true,
            consecutive_failures: 5,
            failure_ratio: Some(FailureRatio {
                failed_percent: 50,
                window: 20,
            }),
            slow_call_percent: None,
            cool_down: Duration::from_secs(30),
            cool_down_max: Duration::from_secs(300),
            half_open_probes: 1,
            probe_grace: Duration::from_secs(5),
            max_breakers: 4096,
            max_transitions: 1024,
            max_pending_results: 65_536,
        }
    }

    /// The knobs' bounds; `Err` lists what is out of range.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.half_open_probes == 0 {
            problems.push("half_open_probes must be at least 1".to_string());
        }
        if let Some(ratio) = self.failure_ratio {
            if !(1..=100).contains(&ratio.failed_percent) {
                problems.push("failure_ratio.failed_percent must be 1-100".to_string());
            }
            if !(1..=1000).contains(&ratio.window) {
                problems.push("failure_ratio.window must be 1-1000".to_string());
            }
        }
        if self
            .slow_call_percent
            .is_some_and(|p| !(1..=100).contains(&p))
        {
            problems.push("slow_call_percent must be 1-100".to_string());
        }
        if self.cool_down.is_zero() || self.cool_down > self.cool_down_max {
            problems.push("cool_down must be positive and at most cool_down_max".to_string());
        }
        if self.max_breakers == 0 || self.max_transitions == 0 || self.max_pending_results == 0 {
            problems.push(
                "max_breakers, max_transitions and max_pending_results must be positive"
                    .to_string(),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// The breakers of one server (or one simulated world), shared by every request's flow.
/// Cloning shares; the lock is held only inside the flow's own calls, never across a
/// webhook call.
#[derive(Clone)]
pub struct SharedBreakers(Arc<Mutex<WebhookBreakers>>);

impl SharedBreakers {
    /// Panics if `config` is out of bounds ([`BreakerConfig::validate`]).
    pub fn new(config: BreakerConfig) -> SharedBreakers {
        SharedBreakers(Arc::new(Mutex::new(WebhookBreakers::new(config))))
    }

    /// The breakers, for the driver (transitions, metrics, the `webhookbreakers` resource).
    /// A poisoned lock is taken over: the state is plain data, always consistent between
    /// calls.
    pub fn lock(&self) -> MutexGuard<'_, WebhookBreakers> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for SharedBreakers {
    // Never locks: Debug may run while the lock is held.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SharedBreakers")
            .field(&Arc::as_ptr(&self.0))
            .finish()
    }
}
