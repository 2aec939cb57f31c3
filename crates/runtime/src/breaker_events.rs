//! Guard 7's event loop (`docs/guards.md`, "Webhook breaker", driver contract item 4):
//! every second, poll the webhook breakers' transitions and turn each into
//! `corral_webhook_breaker_transitions_total{kind,configuration,webhook,to,reason}` and,
//! when it has one, an Event through an [`EventSink`] (`Warning WebhookCircuitOpen`,
//! `Normal WebhookCircuitClosed` on the webhook configuration; cluster-scoped, so the Event
//! lands in namespace `default`, as upstream's).
//!
//! The breakers themselves live in the API service's admission (`AdmissionConfig::
//! webhook_breakers`); this loop only reads what they recorded, so whichever component
//! holds the same [`SharedBreakers`] may run it. The controller manager runs it when
//! [`ControllerManagerConfig::webhook_breakers`] is set, writing the Events as
//! `system:webhook-breaker` through an ordinary [`PlanExecutor`] (its recorder's dedup and
//! spam filter, its client rate limit). If the API service polls the breakers itself
//! (e.g. after each admission batch), leave that field `None`: transitions are drained by
//! `poll_transitions`, so two pollers would split them between them.
//!
//! [`ControllerManagerConfig::webhook_breakers`]: crate::ControllerManagerConfig::webhook_breakers

use std::sync::Arc;
use std::time::Duration;

use corral_core::{Action, Clock, EventRecord};
use corral_registry::admission::SharedBreakers;
use corral_registry::admission::breaker::BreakerTransition;
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::time::MissedTickBehavior;

use crate::execute::PlanExecutor;
use crate::metrics::{BreakerTransitionLabels, RuntimeMetrics};
use crate::signal::Shutdown;

/// How often transitions are polled by default (the contract asks for at least every
/// second).
pub const BREAKER_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Where the loop records Events.
pub trait EventSink: Send + Sync {
    /// Records `event`; failures are the sink's to log (events never fail anything).
    fn record<'a>(&'a self, event: &'a EventRecord) -> BoxFuture<'a, ()>;
}

impl EventSink for PlanExecutor {
    fn record<'a>(&'a self, event: &'a EventRecord) -> BoxFuture<'a, ()> {
        async move {
            // `Action::Event` goes through the executor's recorder; a failed write is
            // logged there and reported as done.
            self.execute_action(&Action::Event(event.clone())).await;
        }
        .boxed()
    }
}

/// The poll loop of one server's breakers.
pub struct BreakerEvents {
    breakers: SharedBreakers,
    sink: Arc<dyn EventSink>,
    clock: Arc<dyn Clock>,
    metrics: RuntimeMetrics,
    interval: Duration,
}

impl std::fmt::Debug for BreakerEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakerEvents")
            .field("breakers", &self.breakers)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl BreakerEvents {
    /// `interval` is clamped to at least 10 ms.
    pub fn new(
        breakers: SharedBreakers,
        sink: Arc<dyn EventSink>,
        clock: Arc<dyn Clock>,
        metrics: RuntimeMetrics,
        interval: Duration,
    ) -> BreakerEvents {
        BreakerEvents {
            breakers,
            sink,
            clock,
            metrics,
            interval: interval.max(Duration::from_millis(10)),
        }
    }

    /// One poll: every transition since the last one becomes a metric and, when it has
    /// one, an Event. Returns the number of transitions.
    pub async fn poll(&self) -> usize {
        let now = self.clock.now();
        // The lock is a std mutex: released at the end of this statement, never held
        // across an await.
        let transitions = self.breakers.lock().poll_transitions(now);
        for transition in &transitions {
            self.metrics.breaker_transition(labels(transition));
            tracing::info!(
                webhook = %transition.key.webhook,
                configuration = %transition.key.configuration,
                from = transition.from.as_str(),
                to = transition.to.as_str(),
                reason = transition.reason.as_str(),
                "webhook circuit breaker transition"
            );
            if let Some(event) = transition.event() {
                self.sink.record(&event).await;
            }
        }
        transitions.len()
    }

    /// Polls every `interval` until shutdown, then once more (so a transition recorded
    /// just before shutdown still gets its Event).
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = shutdown.wait() => {
                    self.poll().await;
                    return;
                }
                _ = ticker.tick() => {
                    self.poll().await;
                }
            }
        }
    }
}

fn labels(transition: &BreakerTransition) -> BreakerTransitionLabels {
    BreakerTransitionLabels {
        kind: transition.key.kind.label().to_string(),
        configuration: transition.key.configuration.clone(),
        webhook: transition.key.webhook.clone(),
        to: transition.to.as_str().to_string(),
        reason: transition.reason.as_str().to_string(),
    }
}
