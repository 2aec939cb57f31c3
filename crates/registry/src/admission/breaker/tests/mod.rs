//! Goal: each webhook's circuit opens on repeated failures, refuses calls for a cool-down
//! that doubles per trip, lets a bounded number of probes through when half-open, closes
//! on a probe's success, resets with its configuration, applies results in virtual-time
//! order, stays within its bounds, and is deterministic.
//! Method: a [`Rig`] making calls to one webhook at given virtual times (milliseconds
//! after the epoch) with given outcomes; properties over random operation sequences.

use std::time::Duration;

use corral_core::Timestamp;
use corral_core::clock::{add, epoch};

use super::*;
use crate::admission::types::FailurePolicy;

fn at(ms: u64) -> Timestamp {
    add(epoch(), Duration::from_millis(ms))
}

const S: u64 = 1000;

fn key() -> BreakerKey {
    BreakerKey::new(ConfigurationKind::Mutating, "snowball", "slow.example.com")
}

fn identity(generation: i64) -> ConfigurationIdentity {
    ConfigurationIdentity {
        uid: "uid-1".into(),
        generation,
    }
}

fn timeout() -> FailureReport {
    FailureReport {
        kind: "timeout",
        message: "failed to call webhook: Post \"https://slow/hook?timeout=30s\": context deadline exceeded".into(),
    }
}

/// Calls to one webhook.
struct Rig {
    breakers: WebhookBreakers,
    key: BreakerKey,
    identity: ConfigurationIdentity,
    policy: FailurePolicy,
}

impl Rig {
    fn new(config: BreakerConfig) -> Rig {
        Rig {
            breakers: WebhookBreakers::new(config),
            key: key(),
            identity: identity(1),
            policy: FailurePolicy::Ignore,
        }
    }

    fn admit(&mut self, now: u64) -> Decision {
        let target = CallTarget {
            key: &self.key,
            identity: &self.identity,
            failure_policy: self.policy,
            timeout: Duration::from_secs(30),
        };
        self.breakers.admit(&target, at(now))
    }

    /// A call at `now` lasting `latency` ms, failing with a timeout when `fails`. `Ok(probe)`
    /// when made, `Err(message)` when refused.
    fn call(&mut self, now: u64, latency: u64, fails: bool) -> Result<bool, String> {
        match self.admit(now) {
            Decision::Call(permit) => {
                let probe = permit.is_probe();
                self.breakers.record(
                    permit,
                    CallReport {
                        finished_at: at(now + latency),
                        failure: fails.then(timeout),
                    },
                );
                Ok(probe)
            }
            Decision::Refuse(message) => Err(message),
            Decision::Untracked => Ok(false),
        }
    }

    fn state(&self, now: u64) -> BreakerState {
        self.breakers
            .view(&self.key, at(now))
            .map_or(BreakerState::Closed, |v| v.state)
    }

    fn transitions(&mut self, now: u64) -> Vec<(BreakerPhase, TransitionReason, Timestamp)> {
        self.breakers
            .poll_transitions(at(now))
            .into_iter()
            .map(|t| (t.to, t.reason, t.at))
            .collect()
    }
}

/// Five sequential 30 s timeouts, the last finishing at 150 s.
fn trip(rig: &mut Rig) {
    for i in 0..5 {
        assert_eq!(rig.call(i * 30 * S, 30 * S, true), Ok(false));
    }
}

#[test]
fn breakers_and_flows_can_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<SharedBreakers>();
    send_sync::<crate::admission::AdmissionConfig>();
    send::<crate::admission::AdmissionFlow>();
}

#[test]
fn the_default_config_is_disabled_and_tracks_nothing() {
    let mut rig = Rig::new(BreakerConfig::default());
    for i in 0..20 {
        assert_eq!(rig.admit(i * S), Decision::Untracked);
    }
    assert!(rig.breakers.is_empty());
    assert!(rig.breakers.poll_transitions(at(100 * S)).is_empty());
    assert!(!BreakerConfig::default().enabled);
    assert!(BreakerConfig::corral().enabled);
    assert_eq!(BreakerConfig::corral().validate(), Ok(()));
}

#[test]
fn consecutive_timeouts_open_the_circuit_and_calls_are_refused_with_its_state() {
    let mut rig = Rig::new(BreakerConfig::corral());
    trip(&mut rig);
    // The fifth timeout finished at 150 s; time reaches it with the next call.
    assert_eq!(
        rig.call(150 * S, 1, false),
        Err("circuit open after 5 consecutive timeouts (open since 2026-01-01T00:02:30Z, next probe at 2026-01-01T00:03:00Z)".into())
    );
    assert_eq!(
        rig.state(160 * S),
        BreakerState::Open {
            since: at(150 * S),
            until: at(180 * S)
        }
    );
    let view = rig.breakers.view(&key(), at(160 * S)).unwrap();
    assert_eq!(view.trips, 1);
    assert_eq!(view.refused_calls, 1);
    assert_eq!(view.reason.as_deref(), Some("5 consecutive timeouts"));
    assert!(
        view.last_error
            .unwrap()
            .contains("context deadline exceeded")
    );
    let transitions = rig.breakers.poll_transitions(at(160 * S));
    assert_eq!(transitions.len(), 1);
    let opened = &transitions[0];
    assert_eq!(
        (opened.from, opened.to),
        (BreakerPhase::Closed, BreakerPhase::Open)
    );
    assert_eq!(opened.reason, TransitionReason::ConsecutiveFailures);
    assert_eq!(opened.next_probe_at, Some(at(180 * S)));
    let event = opened.event().unwrap();
    assert_eq!(event.reason, "WebhookCircuitOpen");
    assert_eq!(event.event_type, corral_core::EventType::Warning);
    assert_eq!(
        event.involved.kind.as_deref(),
        Some("MutatingWebhookConfiguration")
    );
    assert_eq!(event.involved.name.as_deref(), Some("snowball"));
    assert_eq!(event.involved.uid.as_deref(), Some("uid-1"));
    assert_eq!(
        event.message,
        "Webhook \"slow.example.com\": circuit open after 5 consecutive timeouts (trip 1); matching requests are admitted without calling it (failurePolicy Ignore) until a probe call succeeds, first at 2026-01-01T00:03:00Z"
    );
}

#[test]
fn after_the_cool_down_one_probe_goes_through_and_its_success_closes_the_circuit() {
    let mut rig = Rig::new(BreakerConfig::corral());
    trip(&mut rig);
    rig.breakers.advance(at(150 * S));
    assert!(rig.call(179 * S, 1, false).is_err());
    assert!(matches!(
        rig.state(180 * S),
        BreakerState::HalfOpen {
            probes_in_flight: 0,
            ..
        }
    ));
    // The probe takes 2 s; meanwhile other calls are refused.
    assert_eq!(rig.call(180 * S, 2 * S, false), Ok(true));
    assert_eq!(
        rig.call(181 * S, 1, false),
        Err("circuit half-open after 5 consecutive timeouts: 1 probe call in flight (open since 2026-01-01T00:02:30Z)".into())
    );
    assert_eq!(rig.state(181 * S).phase(), BreakerPhase::HalfOpen);
    // Time reaches the probe's success: closed, calls resume.
    assert_eq!(rig.call(182 * S, 1, false), Ok(false));
    assert_eq!(rig.state(183 * S), BreakerState::Closed);
    let transitions = rig.breakers.poll_transitions(at(183 * S));
    let phases: Vec<_> = transitions.iter().map(|t| (t.to, t.reason, t.at)).collect();
    assert_eq!(
        phases,
        [
            (
                BreakerPhase::Open,
                TransitionReason::ConsecutiveFailures,
                at(150 * S)
            ),
            (
                BreakerPhase::HalfOpen,
                TransitionReason::CoolDownElapsed,
                at(180 * S)
            ),
            (
                BreakerPhase::Closed,
                TransitionReason::ProbeSucceeded,
                at(182 * S)
            ),
        ]
    );
    assert!(
        transitions[1].event().is_none(),
        "half-open is a metric only"
    );
    let closed = transitions[2].event().unwrap();
    assert_eq!(closed.reason, "WebhookCircuitClosed");
    assert_eq!(closed.event_type, corral_core::EventType::Normal);
    assert_eq!(
        closed.message,
        "Webhook \"slow.example.com\": circuit closed: a probe call succeeded; calls resume"
    );
}

#[test]
fn a_failed_probe_reopens_with_a_doubled_cool_down_up_to_the_cap() {
    let mut rig = Rig::new(BreakerConfig::corral());
    trip(&mut rig);
    let mut now = 150 * S;
    let mut cool = 30 * S;
    for trip_number in 2..=6u64 {
        now += cool;
        assert_eq!(
            rig.call(now, 30 * S, true),
            Ok(true),
            "probe of trip {trip_number}"
        );
        now += 30 * S;
        rig.breakers.advance(at(now));
        cool = (cool * 2).min(300 * S);
        assert_eq!(
            rig.state(now),
            BreakerState::Open {
                since: at(now),
                until: at(now + cool)
            },
            "trip {trip_number}"
        );
        let view = rig.breakers.view(&key(), at(now)).unwrap();
        assert_eq!(view.trips, trip_number);
        assert_eq!(
            view.reason.as_deref(),
            Some("a failed probe call (timeout)")
        );
    }
    assert_eq!(cool, 300 * S, "capped at 5 minutes");
    // A success closes and the next trip starts from 30 s again.
    now += cool;
    assert_eq!(rig.call(now, 10, false), Ok(true));
    rig.breakers.advance(at(now + 10));
    for i in 0..5 {
        rig.call(now + 10 + i * 30 * S, 30 * S, true).unwrap();
    }
    let end = now + 10 + 150 * S;
    rig.breakers.advance(at(end));
    assert_eq!(
        rig.state(end),
        BreakerState::Open {
            since: at(end),
            until: at(end + 30 * S)
        }
    );
}

#[test]
fn a_success_breaks_a_run_of_failures() {
    let mut rig = Rig::new(BreakerConfig {
        failure_ratio: None,
        ..BreakerConfig::corral()
    });
    for i in 0..4 {
        rig.call(i * S, 10, true).unwrap();
    }
    rig.call(4 * S, 10, false).unwrap();
    for i in 5..9 {
        rig.call(i * S, 10, true).unwrap();
    }
    rig.breakers.advance(at(10 * S));
    let view = rig.breakers.view(&key(), at(10 * S)).unwrap();
    assert_eq!(
        (view.state, view.consecutive_failures),
        (BreakerState::Closed, 4)
    );
    rig.call(10 * S, 10, true).unwrap();
    rig.breakers.advance(at(11 * S));
    assert_eq!(rig.state(11 * S).phase(), BreakerPhase::Open);
}

#[test]
fn a_failure_ratio_over_the_window_opens_the_circuit() {
    let mut rig = Rig::new(BreakerConfig::corral());
    // Every other call fails: never 5 in a row, but 10 of the last 20.
    for i in 0..19 {
        assert!(rig.call(i * S, 10, i % 2 == 0).is_ok());
    }
    rig.breakers.advance(at(19 * S));
    assert_eq!(rig.state(19 * S), BreakerState::Closed);
    let view = rig.breakers.view(&key(), at(19 * S)).unwrap();
    assert_eq!((view.recent_calls, view.recent_failures), (19, 10));
    assert!(rig.call(19 * S, 10, false).is_ok());
    rig.breakers.advance(at(20 * S));
    assert_eq!(rig.state(20 * S).phase(), BreakerPhase::Open);
    assert_eq!(
        rig.breakers
            .view(&key(), at(20 * S))
            .unwrap()
            .reason
            .as_deref(),
        Some("10 failed calls out of the last 20")
    );
}

#[test]
fn mixed_failures_are_described_by_kind() {
    let mut rig = Rig::new(BreakerConfig::corral());
    for i in 0..5u64 {
        let Decision::Call(permit) = rig.admit(i * S) else {
            panic!()
        };
        let kind = if i < 3 {
            "timeout"
        } else {
            "connection_refused"
        };
        rig.breakers.record(
            permit,
            CallReport {
                finished_at: at(i * S),
                failure: Some(FailureReport {
                    kind,
                    message: "x".into(),
                }),
            },
        );
    }
    assert_eq!(
        rig.breakers
            .view(&key(), at(5 * S))
            .unwrap()
            .reason
            .as_deref(),
        Some("5 consecutive failed calls (2 refused connections, 3 timeouts)")
    );
}

#[test]
fn results_of_calls_issued_before_a_trip_do_not_count_afterwards() {
    let mut rig = Rig::new(BreakerConfig::corral());
    // A slow success issued at 0 lands after the circuit opened, then after it half-opened:
    // it neither closes the circuit nor counts as a probe.
    let Decision::Call(early) = rig.admit(0) else {
        panic!()
    };
    for i in 0..5 {
        rig.call(i * S, 10, true).unwrap();
    }
    rig.breakers.advance(at(5 * S));
    assert_eq!(rig.state(5 * S).phase(), BreakerPhase::Open);
    assert_eq!(rig.call(40 * S, 60 * S, true), Ok(true), "the probe");
    rig.breakers.record(
        early,
        CallReport {
            finished_at: at(41 * S),
            failure: None,
        },
    );
    rig.breakers.advance(at(41 * S));
    assert_eq!(rig.state(41 * S).phase(), BreakerPhase::HalfOpen);
}

#[test]
fn a_configuration_change_resets_the_breaker_and_closes_an_open_circuit() {
    let mut rig = Rig::new(BreakerConfig::corral());
    trip(&mut rig);
    rig.breakers.advance(at(150 * S));
    rig.transitions(150 * S);
    rig.identity = identity(2);
    assert_eq!(rig.call(151 * S, 10, false), Ok(false), "called at once");
    let view = rig.breakers.view(&key(), at(152 * S)).unwrap();
    assert_eq!((view.trips, view.state), (0, BreakerState::Closed));
    let transitions = rig.breakers.poll_transitions(at(152 * S));
    assert_eq!(transitions.len(), 1);
    assert_eq!(
        transitions[0].reason,
        TransitionReason::ConfigurationChanged
    );
    assert_eq!(
        transitions[0].message(),
        "Webhook \"slow.example.com\": circuit closed: the configuration changed (generation 2); calls resume"
    );
    // A late result of the old generation is ignored.
    let mut old = Rig::new(BreakerConfig::corral());
    let Decision::Call(stale) = old.admit(0) else {
        panic!()
    };
    old.identity = identity(3);
    old.call(S, 10, false).unwrap();
    old.breakers.record(
        stale,
        CallReport {
            finished_at: at(2 * S),
            failure: Some(timeout()),
        },
    );
    old.breakers.advance(at(3 * S));
    assert_eq!(
        old.breakers
            .view(&key(), at(3 * S))
            .unwrap()
            .consecutive_failures,
        0
    );
}

#[test]
fn results_wait_for_virtual_time_to_reach_their_finish() {
    // The simulator works out a create's whole admission when it starts: five creates
    // started a second apart report their 30 s timeouts at once. Calls started before the
    // first timeout finishes are still made, as they would be.
    let mut rig = Rig::new(BreakerConfig::corral());
    for i in 0..5 {
        assert_eq!(rig.call(i * S, 30 * S, true), Ok(false));
    }
    assert_eq!(rig.breakers.pending_results(), 5);
    for i in 5..34 {
        assert_eq!(rig.call(i * S, 30 * S, true), Ok(false), "call at {i}s");
    }
    // At 34 s the fifth timeout (started at 4 s) has finished.
    assert!(rig.call(34 * S, 30 * S, true).is_err());
    assert_eq!(
        rig.transitions(34 * S),
        [(
            BreakerPhase::Open,
            TransitionReason::ConsecutiveFailures,
            at(34 * S)
        )]
    );
}

#[test]
fn an_abandoned_probe_frees_its_slot_when_released_or_after_its_deadline() {
    let mut rig = Rig::new(BreakerConfig::corral());
    trip(&mut rig);
    rig.breakers.advance(at(150 * S));
    let Decision::Call(probe) = rig.admit(180 * S) else {
        panic!()
    };
    assert_eq!(
        probe.probe_deadline(),
        Some(at(215 * S)),
        "timeout + 5 s grace"
    );
    assert!(rig.call(181 * S, 1, false).is_err());
    rig.breakers.release(probe);
    let Decision::Call(lost) = rig.admit(182 * S) else {
        panic!("the slot is free again")
    };
    assert!(lost.is_probe());
    // This probe's result never comes: its slot frees after 182 + 30 + 5 s.
    assert!(rig.call(217 * S, 10, false).is_err());
    assert_eq!(rig.call(218 * S, 10, false), Ok(true));
}

#[test]
fn slow_answers_count_as_failures_only_when_configured() {
    let mut config = BreakerConfig::corral();
    let mut rig = Rig::new(config.clone());
    for i in 0..10 {
        rig.call(i * 30 * S, 20 * S, false).unwrap();
    }
    rig.breakers.advance(at(300 * S));
    assert_eq!(rig.state(300 * S), BreakerState::Closed);
    config.slow_call_percent = Some(50);
    let mut rig = Rig::new(config);
    for i in 0..5 {
        rig.call(i * 30 * S, 20 * S, false).unwrap();
    }
    rig.breakers.advance(at(150 * S));
    let view = rig.breakers.view(&key(), at(150 * S)).unwrap();
    assert_eq!(view.state.phase(), BreakerPhase::Open);
    assert_eq!(view.reason.as_deref(), Some("5 consecutive slow calls"));
    assert_eq!(
        view.last_error.as_deref(),
        Some("the call took 20000ms, more than 50% of its 30s timeout")
    );
}

#[test]
fn breakers_and_unpolled_transitions_are_bounded() {
    let config = BreakerConfig {
        max_breakers: 3,
        max_transitions: 2,
        consecutive_failures: 1,
        ..BreakerConfig::corral()
    };
    let mut breakers = WebhookBreakers::new(config);
    let id = identity(1);
    for i in 0..5u64 {
        let key = BreakerKey::new(
            ConfigurationKind::Validating,
            "v",
            &format!("w{i}.example.com"),
        );
        let target = CallTarget {
            key: &key,
            identity: &id,
            failure_policy: FailurePolicy::Fail,
            timeout: Duration::from_secs(10),
        };
        let Decision::Call(permit) = breakers.admit(&target, at(i * S)) else {
            panic!()
        };
        breakers.record(
            permit,
            CallReport {
                finished_at: at(i * S),
                failure: Some(timeout()),
            },
        );
    }
    assert_eq!(breakers.len(), 3);
    assert_eq!(breakers.transitions_dropped(), 3);
    let kept: Vec<String> = breakers
        .poll_transitions(at(10 * S))
        .iter()
        .map(|t| t.key.webhook.clone())
        .collect();
    assert_eq!(kept, ["w3.example.com", "w4.example.com"]);
}

#[test]
#[should_panic(expected = "half_open_probes must be at least 1")]
fn an_out_of_bounds_config_is_a_programmer_error() {
    let _ = WebhookBreakers::new(BreakerConfig {
        half_open_probes: 0,
        ..BreakerConfig::corral()
    });
}

mod properties;
