//! Prometheus metrics (prometheus-client, text exposition at `/metrics`):
//! `apiserver_request_total{verb,resource,code}`, the
//! `apiserver_request_duration_seconds{verb,resource}` histogram, and gauges read at
//! scrape time: store revision, stored objects, history versions, open watches; and the
//! admission webhooks' metrics ([`WebhookMetrics`]), fed by the admission chain.

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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookDurationLabels {
    pub name: String,
    /// `admit` (mutating) or `validating`, as upstream.
    pub r#type: String,
    pub operation: String,
    pub rejected: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookRejectionLabels {
    pub name: String,
    pub r#type: String,
    pub operation: String,
    /// `calling_webhook_error` (failurePolicy Fail), `no_error` (an explicit denial).
    pub error_type: String,
    pub rejection_code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    pub name: String,
    pub r#type: String,
}

/// Upstream's webhook latency buckets (seconds).
const WEBHOOK_BUCKETS: &[f64] = &[0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 10.0, 25.0];

fn webhook_histogram() -> Histogram {
    Histogram::new(WEBHOOK_BUCKETS.iter().copied())
}

/// Per-webhook metrics (upstream `apiserver_admission_webhook_*`), plus Corral's timeout
/// counter. Cheap to clone: every family is shared.
#[derive(Clone, Debug)]
pub struct WebhookMetrics {
    pub durations: Family<WebhookDurationLabels, Histogram, fn() -> Histogram>,
    pub rejections: Family<WebhookRejectionLabels, Counter>,
    pub fail_open: Family<WebhookLabels, Counter>,
    pub timeouts: Family<WebhookLabels, Counter>,
}

impl WebhookMetrics {
    fn new() -> WebhookMetrics {
        WebhookMetrics {
            durations: Family::new_with_constructor(webhook_histogram),
            rejections: Family::default(),
            fail_open: Family::default(),
            timeouts: Family::default(),
        }
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(
            "apiserver_admission_webhook_admission_duration_seconds",
            "Admission webhook latency in seconds, by name, type (admit or validating), operation and whether it rejected",
            self.durations.clone(),
        );
        registry.register(
            "apiserver_admission_webhook_rejection_count",
            "Admission webhook rejections, by name, type, operation, error type and code",
            self.rejections.clone(),
        );
        registry.register(
            "apiserver_admission_webhook_fail_open_count",
            "Admission webhook calls that failed and were ignored (failurePolicy Ignore)",
            self.fail_open.clone(),
        );
        registry.register(
            "corral_admission_webhook_timeouts",
            "Admission webhook calls that timed out",
            self.timeouts.clone(),
        );
    }
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
    webhooks: WebhookMetrics,
    /// Other components' registries (controllers, scheduler), added after start.
    extra: parking_lot::Mutex<Vec<Registry>>,
    /// Samples computed at scrape time (holdings, webhook breakers), already in the text
    /// format (`# HELP`, `# TYPE`, samples).
    computed: parking_lot::Mutex<Vec<ComputedMetrics>>,
}

/// A source of samples computed at scrape time, rendering the text format.
pub type ComputedMetrics = std::sync::Arc<dyn Fn() -> String + Send + Sync>;

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
        let webhooks = WebhookMetrics::new();
        webhooks.register(&mut registry);
        Metrics {
            registry,
            requests,
            durations,
            revision,
            objects,
            history,
            watchers,
            webhooks,
            extra: parking_lot::Mutex::new(Vec::new()),
            computed: parking_lot::Mutex::new(Vec::new()),
        }
    }

    /// Adds families registered by another component (`register` fills a registry).
    pub fn add_registry(&self, register: impl FnOnce(&mut Registry)) {
        let mut registry = Registry::default();
        register(&mut registry);
        self.extra.lock().push(registry);
    }

    /// Adds samples computed at every scrape.
    pub fn add_computed(&self, source: ComputedMetrics) {
        self.computed.lock().push(source);
    }

    /// The admission webhook families, for the admission chain to record into.
    pub fn webhooks(&self) -> WebhookMetrics {
        self.webhooks.clone()
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
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut out = String::new();
        let mut encoded = encode_registry(&mut out, &self.registry);
        for registry in self.extra.lock().iter() {
            encoded = encoded.and_then(|()| encode_registry(&mut out, registry));
        }
        if encoded.is_err() {
            out.clear();
        }
        for source in self.computed.lock().iter() {
            out.push_str(&source());
        }
        if encode_eof(&mut out).is_err() {
            out.clear();
        }
        out
    }
}
