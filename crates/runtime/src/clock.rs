//! Clocks for the drivers. Pure cores receive `now`; the runtime reads it from a
//! [`Clock`]:
//!
//! - [`SystemClock`] (the API server's): the wall clock, for production;
//! - [`TokioClock`]: a wall-clock origin plus tokio's monotonic clock, so a test that
//!   pauses or advances tokio time (`tokio::time::pause()`, `advance()`,
//!   `#[tokio::test(start_paused = true)]`) moves `now` for the API server and every
//!   controller together, and the work queue's delays fire exactly when `now` reaches them.

use std::time::Duration;

use corral_core::{Clock, Timestamp, clock};
use tokio::time::Instant;

pub use corral_apiserver::service::SystemClock;

/// `origin + (tokio now − start)`: wall-clock timestamps that follow tokio's clock.
#[derive(Clone, Debug)]
pub struct TokioClock {
    origin: Timestamp,
    start: Instant,
}

impl TokioClock {
    /// A clock reading `origin` now and advancing with tokio's clock from here on.
    pub fn new(origin: Timestamp) -> TokioClock {
        TokioClock {
            origin,
            start: Instant::now(),
        }
    }

    /// A clock reading the wall clock now (production start-up with tokio timers).
    pub fn starting_now() -> TokioClock {
        TokioClock::new(Timestamp::now())
    }

    /// How far tokio's clock has moved since the clock was made.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        clock::add(self.origin, self.start.elapsed())
    }
}

/// How long to sleep until `at` as seen by `clock` (zero when it has passed).
pub fn until(clock: &dyn Clock, at: Timestamp) -> Duration {
    clock::since(at, clock.now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_moves_with_paused_tokio_time() {
        let clock = TokioClock::new(clock::epoch());
        assert_eq!(clock.now(), clock::epoch());
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(
            clock::since(clock.now(), clock::epoch()),
            Duration::from_secs(90)
        );
        let later = clock::add(clock::epoch(), Duration::from_secs(100));
        assert_eq!(until(&clock, later), Duration::from_secs(10));
    }
}
