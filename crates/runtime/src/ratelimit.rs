//! The per-controller API client limit: client-go's token bucket (`flowcontrol.
//! NewTokenBucketRateLimiter`, kube-controller-manager's `--kube-api-qps` 20 and
//! `--kube-api-burst` 30). Each request reserves a token and waits until it is due, so
//! concurrent requests queue up in order of reservation. Time is tokio's, so paused-time
//! tests see the pacing exactly.

use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Requests per second and burst of one controller's client.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClientRateLimit {
    /// Sustained requests per second; zero, negative or infinite means unlimited.
    pub qps: f64,
    /// Requests allowed at once after an idle period (at least 1).
    pub burst: u32,
}

impl ClientRateLimit {
    /// kube-controller-manager's defaults: 20 requests/s, burst 30.
    pub const KUBE_CONTROLLER_MANAGER: ClientRateLimit = ClientRateLimit {
        qps: 20.0,
        burst: 30,
    };

    /// Corral's default for batch-heavy clusters (profile `corral`): 500 requests/s, burst
    /// 1 000 per controller. A new Job costs the Job controller about three writes in its
    /// first syncs (pod create, `SuccessfulCreate` event, status) and about three more when
    /// it finishes, so upstream's 20 QPS caps a cluster at about 10 new Jobs/s
    /// (`BENCH.md`) and its backlog grows behind that; 500 QPS sustains 100 new Jobs/s
    /// with room for their completions and retries, and is still a bound: a controller in a
    /// write loop cannot take more than that from the API server. Detached tails (guard 1)
    /// share it.
    pub const CORRAL: ClientRateLimit = ClientRateLimit {
        qps: 500.0,
        burst: 1000,
    };

    pub const UNLIMITED: ClientRateLimit = ClientRateLimit {
        qps: f64::INFINITY,
        burst: 1,
    };

    fn is_unlimited(&self) -> bool {
        !(self.qps.is_finite() && self.qps > 0.0)
    }
}

impl Default for ClientRateLimit {
    /// kube-controller-manager's (the struct's default stays upstream; profile `corral`
    /// picks [`ClientRateLimit::CORRAL`]).
    fn default() -> Self {
        ClientRateLimit::KUBE_CONTROLLER_MANAGER
    }
}

#[derive(Debug)]
struct BucketState {
    /// May go negative: tokens reserved by requests still waiting.
    tokens: f64,
    last: Instant,
}

/// A token bucket with reservations.
#[derive(Debug)]
pub struct TokenBucket {
    limit: ClientRateLimit,
    state: Mutex<BucketState>,
}

/// The longest a single reservation may wait; a bound against a misconfigured rate.
const WAIT_MAX: Duration = Duration::from_secs(3600);

impl TokenBucket {
    pub fn new(limit: ClientRateLimit) -> TokenBucket {
        let burst = f64::from(limit.burst.max(1));
        TokenBucket {
            limit,
            state: Mutex::new(BucketState {
                tokens: burst,
                last: Instant::now(),
            }),
        }
    }

    pub fn limit(&self) -> ClientRateLimit {
        self.limit
    }

    /// Reserves one token; returns how long the caller must wait before using it.
    pub fn reserve(&self) -> Duration {
        if self.limit.is_unlimited() {
            return Duration::ZERO;
        }
        let burst = f64::from(self.limit.burst.max(1));
        let now = Instant::now();
        let mut state = self.state.lock();
        let elapsed = now.saturating_duration_since(state.last).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.limit.qps).min(burst);
        state.last = now;
        state.tokens -= 1.0;
        if state.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64(-state.tokens / self.limit.qps)
                .unwrap_or(WAIT_MAX)
                .min(WAIT_MAX)
        }
    }

    /// Waits for a token.
    pub async fn acquire(&self) {
        let wait = self.reserve();
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_bucket_allows_the_burst_then_paces_at_the_rate() {
        let bucket = TokenBucket::new(ClientRateLimit {
            qps: 20.0,
            burst: 30,
        });
        let start = Instant::now();
        for _ in 0..30 {
            bucket.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst is free");
        for _ in 0..20 {
            bucket.acquire().await;
        }
        let paced = start.elapsed();
        assert!(
            paced >= Duration::from_millis(999) && paced <= Duration::from_millis(1010),
            "20 more requests at 20/s take a second, took {paced:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_reservations_queue_in_order() {
        let bucket = TokenBucket::new(ClientRateLimit {
            qps: 10.0,
            burst: 1,
        });
        let waits: Vec<Duration> = (0..4).map(|_| bucket.reserve()).collect();
        let millis: Vec<u128> = waits.iter().map(|d| (d.as_micros() + 500) / 1000).collect();
        assert_eq!(millis, vec![0, 100, 200, 300]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unlimited_bucket_never_waits() {
        let bucket = TokenBucket::new(ClientRateLimit::UNLIMITED);
        for _ in 0..1000 {
            assert_eq!(bucket.reserve(), Duration::ZERO);
        }
    }
}
