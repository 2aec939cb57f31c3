//! Prometheus metrics (prometheus-client, text exposition at `/metrics`):
//! `apiserver_request_total{verb,resource,code}`, the
//! `apiserver_request_duration_seconds{verb,resource}` histogram, and gauges read at
//! scrape time: store revision, stored objects, history versions, open watches.

use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::service::ApiService;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestCountLabels {
    pub verb: String,
    pub resource: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestDurationLabels {
    pub verb: String,
    pub resource: String,
}

/// Upstream's request-duration buckets (seconds).
const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS.iter().copied())
}

/// The server's metrics registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestCountLabels, Counter>,
    durations: Family<RequestDurationLabels, Histogram, fn() -> Histogram>,
    revision: Gauge<i64, AtomicI64>,
    objects: Gauge<i64, AtomicI64>,
    history: Gauge<i64, AtomicI64>,
    watchers: Gauge<i64, AtomicI64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestCountLabels, Counter>::default();
        let durations =
            Family::<RequestDurationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        let revision = Gauge::<i64, AtomicI64>::default();
        let objects = Gauge::<i64, AtomicI64>::default();
        let history = Gauge::<i64, AtomicI64>::default();
        let watchers = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "apiserver_request",
            "Counter of apiserver requests broken out by verb, resource and HTTP response code",
            requests.clone(),
        );
        registry.register(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb and resource",
            durations.clone(),
        );
        registry.register(
            "corral_store_revision",
            "The store's current revision (the latest resourceVersion)",
            revision.clone(),
        );
        registry.register(
            "apiserver_storage_objects",
            "Number of stored objects",
            objects.clone(),
        );
        registry.register(
            "corral_store_history_versions",
            "Superseded object versions kept for reads at older revisions",
            history.clone(),
        );
        registry.register(
            "apiserver_registered_watchers",
            "Number of currently open watch streams",
            watchers.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            revision,
            objects,
            history,
            watchers,
        }
    }

    /// Records one finished request.
    pub fn observe_request(&self, verb: &str, resource: &str, code: u16, seconds: f64) {
        let count = RequestCountLabels {
            verb: verb.to_string(),
            resource: resource.to_string(),
            code: code.to_string(),
        };
        self.requests.get_or_create(&count).inc();
        let duration = RequestDurationLabels {
            verb: verb.to_string(),
            resource: resource.to_string(),
        };
        self.durations.get_or_create(&duration).observe(seconds);
    }

    /// The text exposition, with the gauges read from `service` now.
    pub fn render(&self, service: &ApiService) -> String {
        let stats = service.store().stats();
        self.revision
            .set(i64::try_from(stats.revision.0).unwrap_or(i64::MAX));
        self.objects
            .set(i64::try_from(stats.objects).unwrap_or(i64::MAX));
        self.history
            .set(i64::try_from(stats.history_versions).unwrap_or(i64::MAX));
        self.watchers.set(service.hub().watcher_count());
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
