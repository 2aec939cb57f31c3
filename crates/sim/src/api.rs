//! The virtual API client and server timing: each client (a controller, the scheduler, a
//! kubelet, the scenario's "user") has client-go's token bucket (QPS and burst); a call
//! then takes the modelled API latency plus the webhook phase of admission; a call whose
//! admission outlives the request timeout returns 504 to the client while the write is
//! still persisted when admission finishes ("error but persisted", spec §7.1 step 8);
//! injected faults fail calls with a probability drawn from the seeded generator.
//!
//! Planning a call decides *when* it is persisted and *when* the client hears back; the
//! simulator executes the write against the store at the persist time.

use std::collections::BTreeMap;
use std::time::Duration;

use corral_api::{ApiError, GroupResource, StatusReason};
use corral_core::{EventRecorder, ObjectCache, SimRng};

use crate::admission::{self, WebhookPlan};
use crate::profiles::ClientLimits;
use crate::scenario::{Dist, Fault, FaultError, WebhookModel};
use crate::time::{NANOS_PER_SECOND, SimTime, nanos};
use crate::world::Op;

pub type ClientId = usize;

/// One API client.
#[derive(Debug)]
pub struct Client {
    pub name: String,
    limits: Option<ClientLimits>,
    tokens: f64,
    last: SimTime,
    /// The client's event recorder (dedup, aggregation, spam filter).
    pub recorder: EventRecorder,
    pub calls: u64,
    /// Total virtual seconds spent waiting for the rate limiter.
    pub throttled_seconds: f64,
}

impl Client {
    /// Takes a token; returns when the call may start (client-go's `Wait`, reserving).
    fn reserve(&mut self, now: SimTime) -> SimTime {
        let Some(limits) = self.limits else {
            return now;
        };
        let elapsed = now.saturating_sub(self.last) as f64 / NANOS_PER_SECOND as f64;
        self.tokens = (self.tokens + elapsed * limits.qps).min(f64::from(limits.burst));
        self.last = self.last.max(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 || limits.qps <= 0.0 {
            return now;
        }
        let wait = -self.tokens / limits.qps;
        self.throttled_seconds += wait;
        now + (wait * NANOS_PER_SECOND as f64) as u64
    }
}

/// When a call lands and what the client sees.
#[derive(Clone, Debug, PartialEq)]
pub struct CallPlan {
    /// When the write reaches the store; `None`: never (rejected or failed).
    pub persist_at: Option<SimTime>,
    /// When the client gets its answer.
    pub respond_at: SimTime,
    /// The error the client sees instead of the write's own outcome.
    pub error: Option<ApiError>,
}

/// Counters for the summary.
#[derive(Clone, Debug, Default)]
pub struct ApiStats {
    pub calls: u64,
    pub webhook_calls: u64,
    pub webhook_timeouts: u64,
    pub failed_open: u64,
    pub admission_rejections: u64,
    pub request_timeouts: u64,
    pub persisted_after_timeout: u64,
    pub injected_faults: u64,
}

pub struct Api {
    pub clients: Vec<Client>,
    latency: Dist,
    pub request_timeout: Duration,
    latency_rng: SimRng,
    fault_rng: SimRng,
    webhook_rng: SimRng,
    faults: Vec<Fault>,
    webhooks: BTreeMap<String, WebhookModel>,
    pub stats: ApiStats,
}

impl Api {
    pub fn new(
        latency: Dist,
        request_timeout: Duration,
        faults: Vec<Fault>,
        webhooks: &[WebhookModel],
        rng: &mut SimRng,
    ) -> Api {
        Api {
            clients: Vec::new(),
            latency,
            request_timeout,
            latency_rng: rng.fork("api-latency"),
            fault_rng: rng.fork("api-faults"),
            webhook_rng: rng.fork("webhooks"),
            faults,
            webhooks: webhooks.iter().map(|w| (w.name.clone(), w.clone())).collect(),
            stats: ApiStats::default(),
        }
    }

    /// Registers a client; `None` limits: not rate limited.
    pub fn add_client(&mut self, name: &str, limits: Option<ClientLimits>) -> ClientId {
        self.clients.push(Client {
            name: name.to_string(),
            limits,
            tokens: limits.map_or(0.0, |l| f64::from(l.burst)),
            last: 0,
            recorder: EventRecorder::new(),
            calls: 0,
            throttled_seconds: 0.0,
        });
        self.clients.len() - 1
    }

    /// Plans one write issued by `client` at `now`.
    pub fn plan(&mut self, client: ClientId, op: Op<'_>, cache: &ObjectCache, now: SimTime) -> CallPlan {
        self.stats.calls += 1;
        let start = {
            let c = &mut self.clients[client];
            c.calls += 1;
            c.reserve(now)
        };
        let base = nanos(self.latency.sample(&mut self.latency_rng).unwrap_or_default());
        if let Some((error, persisted)) = self.injected(client, op, start) {
            self.stats.injected_faults += 1;
            let at = start + base;
            return CallPlan {
                persist_at: persisted.then_some(at),
                respond_at: at,
                error: Some(error),
            };
        }
        let webhooks: WebhookPlan = if self.webhooks.is_empty() && !has_webhook_configs(cache) {
            WebhookPlan::default()
        } else {
            admission::plan_webhooks(cache, &self.webhooks, op, start, self.request_timeout, &mut self.webhook_rng)
        };
        self.stats.webhook_calls += u64::from(webhooks.calls);
        self.stats.webhook_timeouts += u64::from(webhooks.timeouts);
        self.stats.failed_open += u64::from(webhooks.failed_open);
        let admitted_at = start + nanos(webhooks.latency);
        if let Some(rejection) = webhooks.rejection {
            self.stats.admission_rejections += 1;
            return CallPlan {
                persist_at: None,
                respond_at: admitted_at + base,
                error: Some(rejection),
            };
        }
        let persist_at = admitted_at + base;
        let deadline = start + nanos(self.request_timeout);
        if persist_at > deadline {
            self.stats.request_timeouts += 1;
            self.stats.persisted_after_timeout += 1;
            return CallPlan {
                persist_at: Some(persist_at),
                respond_at: deadline,
                error: Some(request_timeout_error()),
            };
        }
        CallPlan {
            persist_at: Some(persist_at),
            respond_at: persist_at,
            error: None,
        }
    }

    /// An injected failure for this call, if a fault fires: (error, still persisted).
    fn injected(&mut self, client: ClientId, op: Op<'_>, at: SimTime) -> Option<(ApiError, bool)> {
        if self.faults.is_empty() {
            return None;
        }
        let name = &self.clients[client].name;
        let key = op.key()?;
        let resource = key.kind.plural();
        for fault in &self.faults {
            let applies = fault.from <= at
                && at < fault.until
                && (fault.clients.is_empty() || fault.clients.iter().any(|c| name == c || name.starts_with(&format!("{c}/"))))
                && (fault.verbs.is_empty() || fault.verbs.iter().any(|v| v == op.verb()))
                && (fault.resources.is_empty() || fault.resources.iter().any(|r| r == resource))
                && (!fault.status_only || op.is_status());
            if applies && self.fault_rng.chance(fault.probability) {
                let group = GroupResource::new(key.kind.group(), resource);
                let error = match fault.error {
                    FaultError::Internal => ApiError::internal("etcdserver: request timed out"),
                    FaultError::Timeout => request_timeout_error(),
                    FaultError::Conflict => ApiError::conflict_modified(&group, &key.name),
                    FaultError::TooManyRequests => ApiError::new(
                        StatusReason::TooManyRequests,
                        "the server has received too many requests and has asked us to try again later",
                    ),
                };
                return Some((error, fault.persisted));
            }
        }
        None
    }
}

fn has_webhook_configs(cache: &ObjectCache) -> bool {
    cache.count(corral_api::ResourceKind::MutatingWebhookConfiguration) > 0
        || cache.count(corral_api::ResourceKind::ValidatingWebhookConfiguration) > 0
}

/// kube-apiserver's answer when `--request-timeout` expires.
pub fn request_timeout_error() -> ApiError {
    ApiError::new(
        StatusReason::Timeout,
        "Timeout: request did not complete within requested timeout - context deadline exceeded",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_bucket_allows_a_burst_then_paces_at_qps() {
        let mut client = Client {
            name: "c".into(),
            limits: Some(ClientLimits { qps: 20.0, burst: 30 }),
            tokens: 30.0,
            last: 0,
            recorder: EventRecorder::new(),
            calls: 0,
            throttled_seconds: 0.0,
        };
        let starts: Vec<SimTime> = (0..40).map(|_| client.reserve(0)).collect();
        assert!(starts[..30].iter().all(|s| *s == 0));
        assert_eq!(starts[30], NANOS_PER_SECOND / 20);
        assert_eq!(starts[39], 10 * NANOS_PER_SECOND / 20);
        // After a quiet second the bucket has refilled 20 tokens (minus the 10 owed).
        assert_eq!(client.reserve(2 * NANOS_PER_SECOND), 2 * NANOS_PER_SECOND);
    }
}
