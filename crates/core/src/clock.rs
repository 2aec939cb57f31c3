//! Time as an input. Pure cores never read a clock; they receive `now`. Drivers own a
//! [`Clock`]: the real runtime a system clock (in L2), the simulator and tests a
//! [`ManualClock`].

use std::sync::Mutex;
use std::time::Duration;

/// A point in time, as the API's `metav1.Time` carries it.
pub type Timestamp = jiff::Timestamp;

/// Where drivers get `now` from.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// A clock that moves only when told to: for tests and the simulator.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    pub fn set(&self, t: Timestamp) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = t;
    }

    pub fn advance(&self, d: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now = add(*now, d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `t + d`, saturating at the end of representable time.
pub fn add(t: Timestamp, d: Duration) -> Timestamp {
    let signed = jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX);
    t.checked_add(signed).unwrap_or(Timestamp::MAX)
}

/// `t - d`, saturating at the start of representable time.
pub fn sub(t: Timestamp, d: Duration) -> Timestamp {
    let signed = jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX);
    t.checked_sub(signed).unwrap_or(Timestamp::MIN)
}

/// `later - earlier`, or zero when `later` is not after `earlier`.
pub fn since(later: Timestamp, earlier: Timestamp) -> Duration {
    let d = later.duration_since(earlier);
    if d.is_negative() {
        Duration::ZERO
    } else {
        d.unsigned_abs()
    }
}

/// Whole seconds since the Unix epoch, the resolution of `metav1.Time`.
pub fn truncate_to_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// A fixed, readable epoch for tests and simulations: 2026-01-01T00:00:00Z.
pub fn epoch() -> Timestamp {
    Timestamp::from_second(1_767_225_600).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(epoch());
        assert_eq!(clock.now(), epoch());
        clock.advance(Duration::from_secs(90));
        assert_eq!(since(clock.now(), epoch()), Duration::from_secs(90));
        assert_eq!(since(epoch(), clock.now()), Duration::ZERO);
    }
}
