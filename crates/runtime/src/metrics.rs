//! Metrics of the drivers (prometheus-client, no global registry). [`RuntimeMetrics`] holds
//! the families; [`RuntimeMetrics::register`] adds them to a registry (the API server's
//! `/metrics` one), [`RuntimeMetrics::render`] encodes them alone.
//!
//! Per controller (label `name` = the queue name, as client-go's workqueue metrics):
//! `corral_workqueue_depth` (ready keys), `corral_workqueue_waiting` (delayed keys),
//! `corral_workqueue_adds_total`, `corral_workqueue_retries_total`,
//! `corral_workqueue_work_duration_seconds` (one sync: reconcile, writes, outcomes),
//! `corral_controller_reconcile_duration_seconds` (the pure decision alone) and
//! `corral_controller_actions_total{result}`. Per informer (label `kind`):
//! `corral_informer_events_total`, `corral_informer_relists_total` and
//! `corral_informer_errors_total{phase}`.
//!
//! Guard 1 (per controller): `corral_workqueue_fresh_depth` (ready keys in the fair queue's
//! fresh lane; 0 for FIFO queues), `corral_controller_detached_outstanding` (detached plan
//! tails running), `corral_controller_detached_total` (tails started),
//! `corral_controller_detached_inline_total` (detachable plans run inline because the cap
//! was reached), `corral_controller_detached_abandoned_total{reason}` (tails answered
//! `Failed` at shutdown or timeout) and `corral_controller_detached_duration_seconds`.
//! Guard 7: `corral_webhook_breaker_transitions_total{kind,configuration,webhook,to,reason}`
//! when the manager polls the webhook breakers ([`crate::breaker_events`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub name: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AbandonLabels {
    pub name: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BreakerTransitionLabels {
    pub kind: String,
    pub configuration: String,
    pub webhook: String,
    pub to: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InformerErrorLabels {
    pub kind: String,
    pub phase: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;
type IntGauge = Gauge<i64, AtomicI64>;

/// 100 µs doubling to about 52 s.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 20))
}

/// The driver metric families. Cloning shares them.
#[derive(Clone, Debug)]
pub struct RuntimeMetrics {
    depth: Family<QueueLabels, IntGauge>,
    waiting: Family<QueueLabels, IntGauge>,
    adds: Family<QueueLabels, Counter>,
    retries: Family<QueueLabels, Counter>,
    work_duration: HistogramFamily<QueueLabels>,
    reconcile_duration: HistogramFamily<QueueLabels>,
    actions: Family<ActionLabels, Counter>,
    fresh: Family<QueueLabels, IntGauge>,
    detached_outstanding: Family<QueueLabels, IntGauge>,
    detached: Family<QueueLabels, Counter>,
    detached_inline: Family<QueueLabels, Counter>,
    detached_abandoned: Family<AbandonLabels, Counter>,
    detached_duration: HistogramFamily<QueueLabels>,
    informer_events: Family<KindLabels, Counter>,
    informer_relists: Family<KindLabels, Counter>,
    informer_errors: Family<InformerErrorLabels, Counter>,
    breaker_transitions: Family<BreakerTransitionLabels, Counter>,
}

impl Default for RuntimeMetrics {
    fn default() -> Self {
        RuntimeMetrics::new()
    }
}

impl RuntimeMetrics {
    pub fn new() -> RuntimeMetrics {
        RuntimeMetrics {
            depth: Family::default(),
            waiting: Family::default(),
            adds: Family::default(),
            retries: Family::default(),
            work_duration: Family::new_with_constructor(duration_histogram),
            reconcile_duration: Family::new_with_constructor(duration_histogram),
            actions: Family::default(),
            fresh: Family::default(),
            detached_outstanding: Family::default(),
            detached: Family::default(),
            detached_inline: Family::default(),
            detached_abandoned: Family::default(),
            detached_duration: Family::new_with_constructor(duration_histogram),
            informer_events: Family::default(),
            informer_relists: Family::default(),
            informer_errors: Family::default(),
            breaker_transitions: Family::default(),
        }
    }

    /// Adds every family to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "corral_workqueue_depth",
            "Keys ready to be processed, per controller queue",
            self.depth.clone(),
        );
        registry.register(
            "corral_workqueue_waiting",
            "Keys waiting for a delayed or rate-limited add",
            self.waiting.clone(),
        );
        registry.register(
            "corral_workqueue_adds",
            "Keys added to a controller queue",
            self.adds.clone(),
        );
        registry.register(
            "corral_workqueue_retries",
            "Rate-limited re-adds after failed syncs",
            self.retries.clone(),
        );
        registry.register(
            "corral_workqueue_work_duration_seconds",
            "Seconds one sync took: reconcile, API writes and outcomes",
            self.work_duration.clone(),
        );
        registry.register(
            "corral_controller_reconcile_duration_seconds",
            "Seconds the pure reconcile decision took",
            self.reconcile_duration.clone(),
        );
        registry.register(
            "corral_controller_actions",
            "Plan actions executed, by result (done, failed, skipped)",
            self.actions.clone(),
        );
        registry.register(
            "corral_workqueue_fresh_depth",
            "Keys ready in the fair queue's fresh lane (guard 1), per controller queue",
            self.fresh.clone(),
        );
        registry.register(
            "corral_controller_detached_outstanding",
            "Detached plan tails running in the background (guard 1)",
            self.detached_outstanding.clone(),
        );
        registry.register(
            "corral_controller_detached",
            "Detached plan tails started (guard 1)",
            self.detached.clone(),
        );
        registry.register(
            "corral_controller_detached_inline",
            "Detachable plans run inline because the outstanding-tail cap was reached",
            self.detached_inline.clone(),
        );
        registry.register(
            "corral_controller_detached_abandoned",
            "Detached tails answered Failed by the driver, by reason (shutdown, timeout)",
            self.detached_abandoned.clone(),
        );
        registry.register(
            "corral_controller_detached_duration_seconds",
            "Seconds a detached plan tail took until it was answered",
            self.detached_duration.clone(),
        );
        registry.register(
            "corral_webhook_breaker_transitions",
            "Webhook circuit breaker phase changes (guard 7), polled by the controller manager",
            self.breaker_transitions.clone(),
        );
        registry.register(
            "corral_informer_events",
            "Watch and list events applied to the shared cache, per kind",
            self.informer_events.clone(),
        );
        registry.register(
            "corral_informer_relists",
            "Complete lists of a kind (first list and re-lists after 410)",
            self.informer_relists.clone(),
        );
        registry.register(
            "corral_informer_errors",
            "Informer failures per kind and phase",
            self.informer_errors.clone(),
        );
    }

    /// The text exposition of these metrics alone.
    pub fn render(&self) -> String {
        let mut registry = Registry::default();
        self.register(&mut registry);
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }

    /// The handles of one controller queue.
    pub fn controller(&self, name: &str) -> ControllerMetrics {
        let labels = QueueLabels {
            name: name.to_string(),
        };
        let action = |result: &str| {
            self.actions.get_or_create_owned(&ActionLabels {
                name: name.to_string(),
                result: result.to_string(),
            })
        };
        ControllerMetrics {
            depth: self.depth.get_or_create_owned(&labels),
            waiting: self.waiting.get_or_create_owned(&labels),
            adds: self.adds.get_or_create_owned(&labels),
            retries: self.retries.get_or_create_owned(&labels),
            work_duration: self.work_duration.get_or_create_owned(&labels),
            reconcile_duration: self.reconcile_duration.get_or_create_owned(&labels),
            actions_done: action("done"),
            actions_failed: action("failed"),
            actions_skipped: action("skipped"),
            fresh: self.fresh.get_or_create_owned(&labels),
            detached_outstanding: self.detached_outstanding.get_or_create_owned(&labels),
            detached: self.detached.get_or_create_owned(&labels),
            detached_inline: self.detached_inline.get_or_create_owned(&labels),
            abandoned_shutdown: self.detached_abandoned.get_or_create_owned(&AbandonLabels {
                name: name.to_string(),
                reason: "shutdown".to_string(),
            }),
            abandoned_timeout: self.detached_abandoned.get_or_create_owned(&AbandonLabels {
                name: name.to_string(),
                reason: "timeout".to_string(),
            }),
            detached_duration: self.detached_duration.get_or_create_owned(&labels),
            totals: Arc::new(SyncTotals::default()),
        }
    }

    /// One polled webhook breaker transition (guard 7).
    pub(crate) fn breaker_transition(&self, labels: BreakerTransitionLabels) {
        self.breaker_transitions.get_or_create(&labels).inc();
    }

    pub(crate) fn informer_event(&self, kind: &str, count: u64) {
        let labels = KindLabels {
            kind: kind.to_string(),
        };
        self.informer_events.get_or_create(&labels).inc_by(count);
    }

    pub(crate) fn informer_relist(&self, kind: &str) {
        let labels = KindLabels {
            kind: kind.to_string(),
        };
        self.informer_relists.get_or_create(&labels).inc();
    }

    pub(crate) fn informer_error(&self, kind: &str, phase: &str) {
        let labels = InformerErrorLabels {
            kind: kind.to_string(),
            phase: phase.to_string(),
        };
        self.informer_errors.get_or_create(&labels).inc();
    }

    /// Complete lists of `kind` so far (tests, diagnostics).
    pub fn relists(&self, kind: &str) -> u64 {
        let labels = KindLabels {
            kind: kind.to_string(),
        };
        self.informer_relists.get(&labels).map_or(0, |c| c.get())
    }
}

/// Metric handles of one controller, resolved once.
#[derive(Clone, Debug)]
pub struct ControllerMetrics {
    depth: IntGauge,
    waiting: IntGauge,
    adds: Counter,
    retries: Counter,
    work_duration: Histogram,
    reconcile_duration: Histogram,
    actions_done: Counter,
    actions_failed: Counter,
    actions_skipped: Counter,
    fresh: IntGauge,
    detached_outstanding: IntGauge,
    detached: Counter,
    detached_inline: Counter,
    abandoned_shutdown: Counter,
    abandoned_timeout: Counter,
    detached_duration: Histogram,
    totals: Arc<SyncTotals>,
}

/// Exact sync totals (the histograms only expose buckets).
#[derive(Debug, Default)]
struct SyncTotals {
    syncs: AtomicU64,
    work_nanos: AtomicU64,
    reconcile_nanos: AtomicU64,
    detached_answered: AtomicU64,
}

/// Why the driver answered a detached tail itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbandonReason {
    Shutdown,
    Timeout,
}

impl AbandonReason {
    pub fn as_str(self) -> &'static str {
        match self {
            AbandonReason::Shutdown => "shutdown",
            AbandonReason::Timeout => "timeout",
        }
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl ControllerMetrics {
    pub(crate) fn queue_lengths(&self, ready: usize, waiting: usize) {
        self.depth.set(i64::try_from(ready).unwrap_or(i64::MAX));
        self.waiting.set(i64::try_from(waiting).unwrap_or(i64::MAX));
    }

    pub(crate) fn fresh_length(&self, fresh: usize) {
        self.fresh.set(i64::try_from(fresh).unwrap_or(i64::MAX));
    }

    pub(crate) fn detached_outstanding(&self, outstanding: usize) {
        self.detached_outstanding
            .set(i64::try_from(outstanding).unwrap_or(i64::MAX));
    }

    pub(crate) fn detached_started(&self) {
        self.detached.inc();
    }

    pub(crate) fn detached_inline(&self) {
        self.detached_inline.inc();
    }

    pub(crate) fn detached_answered(&self, took: Duration, abandoned: Option<AbandonReason>) {
        self.detached_duration.observe(took.as_secs_f64());
        self.totals
            .detached_answered
            .fetch_add(1, Ordering::Relaxed);
        match abandoned {
            Some(AbandonReason::Shutdown) => {
                self.abandoned_shutdown.inc();
            }
            Some(AbandonReason::Timeout) => {
                self.abandoned_timeout.inc();
            }
            None => {}
        }
    }

    pub(crate) fn added(&self, count: u64) {
        self.adds.inc_by(count);
    }

    pub(crate) fn retried(&self) {
        self.retries.inc();
    }

    pub(crate) fn sync_took(&self, whole: Duration, reconcile: Duration) {
        self.work_duration.observe(whole.as_secs_f64());
        self.reconcile_duration.observe(reconcile.as_secs_f64());
        self.totals.syncs.fetch_add(1, Ordering::Relaxed);
        self.totals
            .work_nanos
            .fetch_add(nanos(whole), Ordering::Relaxed);
        self.totals
            .reconcile_nanos
            .fetch_add(nanos(reconcile), Ordering::Relaxed);
    }

    pub(crate) fn action_results(&self, done: u64, failed: u64, skipped: u64) {
        self.actions_done.inc_by(done);
        self.actions_failed.inc_by(failed);
        self.actions_skipped.inc_by(skipped);
    }

    /// Syncs finished so far.
    pub fn syncs(&self) -> u64 {
        self.totals.syncs.load(Ordering::Relaxed)
    }

    /// Total time of every sync (reconcile, writes, outcomes) so far.
    pub fn work_time(&self) -> Duration {
        Duration::from_nanos(self.totals.work_nanos.load(Ordering::Relaxed))
    }

    /// Total time of the pure reconcile decisions so far.
    pub fn reconcile_time(&self) -> Duration {
        Duration::from_nanos(self.totals.reconcile_nanos.load(Ordering::Relaxed))
    }

    pub fn retries(&self) -> u64 {
        self.retries.get()
    }

    /// Detached plan tails started so far (guard 1).
    pub fn detached_started_total(&self) -> u64 {
        self.detached.get()
    }

    /// Detached plan tails answered through `handle_detached_outcomes` so far.
    pub fn detached_answered_total(&self) -> u64 {
        self.totals.detached_answered.load(Ordering::Relaxed)
    }

    /// Detachable plans run inline because the cap was reached.
    pub fn detached_inline_total(&self) -> u64 {
        self.detached_inline.get()
    }

    /// Detached tails the driver answered `Failed` itself, for `reason`.
    pub fn detached_abandoned_total(&self, reason: AbandonReason) -> u64 {
        match reason {
            AbandonReason::Shutdown => self.abandoned_shutdown.get(),
            AbandonReason::Timeout => self.abandoned_timeout.get(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_families_render_with_their_labels() {
        let metrics = RuntimeMetrics::new();
        let job = metrics.controller("job");
        job.added(3);
        job.retried();
        job.queue_lengths(2, 5);
        job.sync_took(Duration::from_millis(4), Duration::from_micros(50));
        metrics.informer_relist("Pod");
        job.fresh_length(4);
        job.detached_started();
        job.detached_outstanding(1);
        job.detached_inline();
        job.detached_answered(Duration::from_secs(20), Some(AbandonReason::Shutdown));
        metrics.breaker_transition(BreakerTransitionLabels {
            kind: "mutating".into(),
            configuration: "snowball".into(),
            webhook: "slow.example.com".into(),
            to: "Open".into(),
            reason: "ConsecutiveFailures".into(),
        });
        let text = metrics.render();
        for needle in [
            "corral_workqueue_adds_total{name=\"job\"} 3",
            "corral_workqueue_retries_total{name=\"job\"} 1",
            "corral_workqueue_depth{name=\"job\"} 2",
            "corral_workqueue_waiting{name=\"job\"} 5",
            "corral_workqueue_work_duration_seconds_count{name=\"job\"} 1",
            "corral_informer_relists_total{kind=\"Pod\"} 1",
            "corral_workqueue_fresh_depth{name=\"job\"} 4",
            "corral_controller_detached_total{name=\"job\"} 1",
            "corral_controller_detached_outstanding{name=\"job\"} 1",
            "corral_controller_detached_inline_total{name=\"job\"} 1",
            "corral_controller_detached_abandoned_total{name=\"job\",reason=\"shutdown\"} 1",
            "corral_controller_detached_duration_seconds_count{name=\"job\"} 1",
            "corral_webhook_breaker_transitions_total{kind=\"mutating\",configuration=\"snowball\",webhook=\"slow.example.com\",to=\"Open\",reason=\"ConsecutiveFailures\"} 1",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
        assert_eq!(job.syncs(), 1);
        assert_eq!(job.detached_answered_total(), 1);
        assert_eq!(job.detached_abandoned_total(AbandonReason::Shutdown), 1);
        assert_eq!(job.detached_abandoned_total(AbandonReason::Timeout), 0);
        assert_eq!(job.work_time(), Duration::from_millis(4));
        assert_eq!(metrics.relists("Pod"), 1);
    }
}
