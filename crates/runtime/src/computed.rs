//! The computed collections of `corral up` (guards 6 and 7 in `docs/guards.md`):
//! `holdings` from the controllers' shared cache (pods that hold node resources without
//! running, per Job) and `webhookbreakers` from the admission chain's breakers; both also
//! as Prometheus gauges computed at scrape time.

use std::fmt::Write as _;

use corral_api::{ResourceInfo, ResourceKind};
use corral_apiserver::ApiService;
use corral_apiserver::service::{ComputedResources, ListOptions, Target};
use corral_controllers::holdings::{HoldingsReport, PodRequests, compute_holdings};
use corral_core::{ObjectCache, Timestamp};
use corral_registry::admission::breaker::WebhookBreakers;
use corral_registry::admission::{BreakerConfig, SharedBreakers};
use corral_scheduler::resources::pod_object_requests;
use serde_json::Value;

use crate::informer::CacheReader;

/// Serves `holdings` and `webhookbreakers`.
pub struct ClusterComputed {
    cache: CacheReader,
    service: ApiService,
    breakers: Option<SharedBreakers>,
}

impl ClusterComputed {
    /// `cache` must hold pods (the controller manager's shared cache does); `breakers` are
    /// the admission chain's (`None`: every webhook shows as a fresh closed breaker).
    pub fn new(
        cache: CacheReader,
        service: ApiService,
        breakers: Option<SharedBreakers>,
    ) -> ClusterComputed {
        ClusterComputed {
            cache,
            service,
            breakers,
        }
    }

    fn now(&self) -> Timestamp {
        self.service.now()
    }

    /// The holdings of every namespace now.
    pub fn holdings(&self) -> HoldingsReport {
        let now = self.now();
        let cache = self.cache.read();
        compute_holdings(&cache, now, &|pod| {
            let requests = pod_object_requests(pod, false);
            PodRequests {
                milli_cpu: requests.milli_cpu,
                memory: requests.memory,
            }
        })
    }

    /// The webhook configurations as stored now, in a cache the breaker report reads.
    fn webhook_state(&self) -> ObjectCache {
        let mut state = ObjectCache::new();
        for kind in [
            ResourceKind::MutatingWebhookConfiguration,
            ResourceKind::ValidatingWebhookConfiguration,
        ] {
            let target = Target::collection(corral_api::resource::resource_of(kind), None);
            let Ok(page) = self.service.list(&target, &ListOptions::default()) else {
                continue;
            };
            for object in page.objects().unwrap_or_default() {
                state.upsert(object);
            }
        }
        state
    }

    fn breakers_report(&self) -> Vec<Value> {
        let state = self.webhook_state();
        let now = self.now();
        let report = match &self.breakers {
            Some(breakers) => breakers.lock().report(&state, now),
            None => WebhookBreakers::new(BreakerConfig::default()).report(&state, now),
        };
        report
            .iter()
            .filter_map(|b| serde_json::to_value(b).ok())
            .collect()
    }

    /// The Prometheus text of the holdings and breaker gauges.
    pub fn metrics_text(&self) -> String {
        let mut out = String::new();
        let mut declared = std::collections::BTreeSet::new();
        for sample in self.holdings().metrics() {
            write_sample(
                &mut out,
                &mut declared,
                sample.name,
                "gauge",
                &sample.labels,
                sample.value,
            );
        }
        if let Some(breakers) = &self.breakers {
            let samples = breakers.lock().metrics(self.now());
            for sample in samples {
                let kind = if sample.name.ends_with("_total") {
                    "counter"
                } else {
                    "gauge"
                };
                write_sample(
                    &mut out,
                    &mut declared,
                    sample.name,
                    kind,
                    &sample.labels,
                    sample.value,
                );
            }
        }
        out
    }
}

/// One sample in the OpenMetrics text format, declaring the family on first use.
fn write_sample(
    out: &mut String,
    declared: &mut std::collections::BTreeSet<&'static str>,
    name: &'static str,
    kind: &str,
    labels: &[(&'static str, String)],
    value: f64,
) {
    let family = if kind == "counter" {
        name.strip_suffix("_total").unwrap_or(name)
    } else {
        name
    };
    if declared.insert(family) {
        let _ = writeln!(out, "# HELP {family} See docs/guards.md.");
        let _ = writeln!(out, "# TYPE {family} {kind}");
    }
    let labels: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
    }
}

impl ComputedResources for ClusterComputed {
    fn list(&self, resource: &'static ResourceInfo, namespace: Option<&str>) -> Option<Vec<Value>> {
        match resource.resource {
            "holdings" => Some(
                self.holdings()
                    .items(true)
                    .iter()
                    .filter(|h| {
                        namespace.is_none_or(|n| h.metadata.namespace.as_deref() == Some(n))
                    })
                    .filter_map(|h| serde_json::to_value(h).ok())
                    .collect(),
            ),
            "webhookbreakers" => Some(self.breakers_report()),
            _ => None,
        }
    }
}
