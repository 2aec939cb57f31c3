//! The virtual API client and server timing: each client (a controller, the scheduler, a
//! kubelet, the scenario's "user") has client-go's token bucket (QPS and burst); a call
//! then takes the modelled API latency plus the webhook phase of admission; a call whose
//! admission outlives the request timeout returns 504 to the client while the write is
//! still persisted when admission finishes ("error but persisted", spec §7.1 step 8);
//! injected faults fail calls with a probability drawn from the seeded generator.
//!
//! Planning a call decides *when* it is persisted and *when* the client hears back; the
//! simulator executes the write against the store at the persist time.

use std::time::Duration;

use corral_api::{ApiError, GroupResource, StatusReason};
use corral_core::{EventRecorder, SimRng};

use crate::profiles::ClientLimits;
use crate::scenario::{Dist, Fault, FaultError};
use crate::time::{NANOS_PER_SECOND, SimTime, nanos};
use crate::world::Op;

pub type ClientId = usize;

/// One API client.
#[derive(Debug)]
pub struct Client {
    pub name: String,
    /// Who the client authenticates as (admission sees it).
    pub user: corral_registry::authz::UserInfo,
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
    faults: Vec<Fault>,
    pub stats: ApiStats,
}

impl Api {
    pub fn new(
        latency: Dist,
        request_timeout: Duration,
        faults: Vec<Fault>,
        rng: &mut SimRng,
    ) -> Api {
        Api {
            clients: Vec::new(),
            latency,
            request_timeout,
            latency_rng: rng.fork("api-latency"),
            fault_rng: rng.fork("api-faults"),
            faults,
            stats: ApiStats::default(),
        }
    }

    /// Registers a client; `None` limits: not rate limited.
    pub fn add_client(&mut self, name: &str, limits: Option<ClientLimits>) -> ClientId {
        self.clients.push(Client {
            user: crate::admission::user_for(name),
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

    /// When a call issued by `client` at `now` may start (the client's rate limiter).
    pub fn start(&mut self, client: ClientId, now: SimTime) -> SimTime {
        self.stats.calls += 1;
        let c = &mut self.clients[client];
        c.calls += 1;
        c.reserve(now)
    }

    /// The API server's own latency for one request (storage and everything but
    /// admission webhooks).
    pub fn base_latency(&mut self) -> SimTime {
        nanos(
            self.latency
                .sample(&mut self.latency_rng)
                .unwrap_or_default(),
        )
    }

    /// The timing of a call that started at `start`, finished admission at `admitted`
    /// (or was refused with `rejection`) and takes `base` more to store: a write that
    /// would land after the request timeout answers 504 at the timeout and still lands
    /// (the handler goes on: "error but persisted").
    pub fn timing(
        &mut self,
        start: SimTime,
        admitted: SimTime,
        base: SimTime,
        rejection: Option<ApiError>,
    ) -> CallPlan {
        if let Some(error) = rejection {
            self.stats.admission_rejections += 1;
            return CallPlan {
                persist_at: None,
                respond_at: admitted + base,
                error: Some(error),
            };
        }
        let persist_at = admitted + base;
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

    /// Applies an injected fault to a plan, if one fires for this call.
    pub fn inject(&mut self, client: ClientId, op: Op<'_>, start: SimTime, plan: &mut CallPlan) {
        if let Some((error, persisted)) = self.injected(client, op, start) {
            self.stats.injected_faults += 1;
            if !persisted {
                plan.persist_at = None;
            }
            plan.error = Some(error);
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
                && (fault.clients.is_empty()
                    || fault
                        .clients
                        .iter()
                        .any(|c| name == c || name.starts_with(&format!("{c}/"))))
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
            user: Default::default(),
            name: "c".into(),
            limits: Some(ClientLimits {
                qps: 20.0,
                burst: 30,
            }),
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
