//! Properties over random call schedules: half-open never has more than
//! `half_open_probes` probes in flight (counted from outside, in virtual time), and the
//! same schedule always yields the same transitions.

use std::time::Duration;

use corral_core::Timestamp;
use proptest::prelude::*;

use super::super::*;
use super::{Rig, at, timeout};

/// One step of a random schedule against one webhook.
#[derive(Clone, Debug)]
enum Op {
    /// Time passes by this many ms, then a call is attempted: `Some((latency ms, fails))`
    /// reports at once (possibly finishing in the future), `None` keeps it outstanding.
    Call(u64, Option<(u64, bool)>),
    /// Report (or, with `false`, release) the oldest outstanding permit, finishing now.
    Finish(bool, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..20_000, proptest::option::of((0u64..35_000, any::<bool>()))).prop_map(|(d, r)| Op::Call(d, r)),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(report, fails)| Op::Finish(report, fails)),
    ]
}

/// Runs `ops`; returns the transitions. Checks after every step that no more than
/// `half_open_probes` probes are in flight, counted from outside: probe permits neither
/// released nor finished by `now`, whose deadline has not passed.
fn run(ops: &[Op], probes: u32) -> Vec<BreakerTransition> {
    let config = BreakerConfig {
        half_open_probes: probes,
        cool_down: Duration::from_secs(5),
        ..BreakerConfig::corral()
    };
    let mut rig = Rig::new(config);
    let mut now = 0u64;
    let mut outstanding: Vec<Permit> = Vec::new();
    // Probe permits with their finish time (`None`: not reported), `false` once released.
    let mut probes_out: Vec<(Permit, Option<Timestamp>)> = Vec::new();
    let mut transitions = Vec::new();
    for op in ops {
        match op {
            Op::Call(delay, result) => {
                now += delay;
                if let Decision::Call(permit) = rig.admit(now) {
                    if permit.is_probe() {
                        probes_out.push((permit.clone(), None));
                    }
                    match result {
                        Some((latency, fails)) => {
                            let finished = at(now + latency);
                            if let Some(p) = probes_out.iter_mut().find(|(p, _)| *p == permit) {
                                p.1 = Some(finished);
                            }
                            rig.breakers.record(
                                permit,
                                CallReport {
                                    finished_at: finished,
                                    failure: fails.then(timeout),
                                },
                            );
                        }
                        None => outstanding.push(permit),
                    }
                }
            }
            Op::Finish(report, fails) => {
                if outstanding.is_empty() {
                    continue;
                }
                let permit = outstanding.remove(0);
                let index = probes_out.iter().position(|(p, _)| *p == permit);
                if *report {
                    if let Some(i) = index {
                        probes_out[i].1 = Some(at(now));
                    }
                    rig.breakers.record(
                        permit,
                        CallReport {
                            finished_at: at(now),
                            failure: fails.then(timeout),
                        },
                    );
                } else {
                    if let Some(i) = index {
                        probes_out.remove(i);
                    }
                    rig.breakers.release(permit);
                }
            }
        }
        let t = at(now);
        let in_flight = probes_out
            .iter()
            .filter(|(p, finished)| {
                finished.is_none_or(|f| f > t) && p.probe_deadline().is_some_and(|d| d >= t)
            })
            .count();
        assert!(
            in_flight <= probes as usize,
            "{in_flight} probes in flight at {now} ms"
        );
        if let BreakerState::HalfOpen {
            probes_in_flight, ..
        } = rig.state(now)
        {
            assert!(probes_in_flight <= probes);
        }
        transitions.extend(rig.breakers.poll_transitions(t));
    }
    transitions
}

proptest! {
    #[test]
    fn half_open_never_lets_more_than_k_probes_through(
        ops in proptest::collection::vec(op(), 1..200),
        probes in 1u32..4,
    ) {
        run(&ops, probes);
    }

    #[test]
    fn the_same_operations_give_the_same_transitions(
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        prop_assert_eq!(run(&ops, 2), run(&ops, 2));
    }
}
