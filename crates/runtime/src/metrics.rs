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
    informer_events: Family<KindLabels, Counter>,
    informer_relists: Family<KindLabels, Counter>,
    informer_errors: Family<InformerErrorLabels, Counter>,
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
            informer_events: Family::default(),
            informer_relists: Family::default(),
            informer_errors: Family::default(),
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
            totals: Arc::new(SyncTotals::default()),
        }
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
    totals: Arc<SyncTotals>,
}

/// Exact sync totals (the histograms only expose buckets).
#[derive(Debug, Default)]
struct SyncTotals {
    syncs: AtomicU64,
    work_nanos: AtomicU64,
    reconcile_nanos: AtomicU64,
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl ControllerMetrics {
    pub(crate) fn queue_lengths(&self, ready: usize, waiting: usize) {
        self.depth.set(i64::try_from(ready).unwrap_or(i64::MAX));
        self.waiting.set(i64::try_from(waiting).unwrap_or(i64::MAX));
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
        let text = metrics.render();
        for needle in [
            "corral_workqueue_adds_total{name=\"job\"} 3",
            "corral_workqueue_retries_total{name=\"job\"} 1",
            "corral_workqueue_depth{name=\"job\"} 2",
            "corral_workqueue_waiting{name=\"job\"} 5",
            "corral_workqueue_work_duration_seconds_count{name=\"job\"} 1",
            "corral_informer_relists_total{kind=\"Pod\"} 1",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
        assert_eq!(job.syncs(), 1);
        assert_eq!(job.work_time(), Duration::from_millis(4));
        assert_eq!(metrics.relists("Pod"), 1);
    }
}
