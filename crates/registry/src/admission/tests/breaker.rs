//! Guard 7 in the flow: requests to a webhook that keeps timing out stop waiting for it
//! once its circuit opens — `Ignore` admits at once, `Fail` rejects at once naming the
//! circuit's state — a probe after the cool-down closes it again, a configuration change
//! resets it, and disabled breakers change nothing.
//! Method: requests driven one after another in virtual time ([`drive_at`]) against one
//! [`SharedBreakers`], as the API server or the simulator shares it across requests.

use std::time::Duration;

use corral_core::clock::since;

use super::*;
use crate::admission::breaker::{BreakerPhase, TransitionReason};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn at(seconds: u64) -> Timestamp {
    add(start(), secs(seconds))
}

/// Runs `request` from `now` to its end (webhook latencies advance the request's clock).
fn drive_at(
    request: AdmissionRequest,
    config: &AdmissionConfig,
    state: &TestState,
    now: Timestamp,
    answer: &mut dyn FnMut(&WebhookCall) -> (WebhookResult, Duration),
) -> Driven {
    let mut flow = AdmissionFlow::new(request, config);
    let mut clock = now;
    let (mut calls, mut batches) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        match flow.step(state, clock) {
            AdmissionStep::CallWebhooks(batch) => {
                batches.push(batch.len());
                let mut longest = Duration::ZERO;
                for call in &batch {
                    let (result, latency) = answer(call);
                    longest = longest.max(latency);
                    flow.webhook_result(call.id, result, add(clock, latency));
                }
                clock = add(clock, longest);
                calls.extend(batch);
            }
            AdmissionStep::WaitUntil(t) => clock = t,
            step => {
                return Driven {
                    step,
                    calls,
                    elapsed: since(clock, now),
                    records: flow.records().to_vec(),
                    batches,
                };
            }
        }
    }
    panic!("flow did not finish");
}

fn hanging(call: &WebhookCall) -> (WebhookResult, Duration) {
    (WebhookResult::Failed(CallFailure::Timeout), call.timeout)
}

fn healthy(call: &WebhookCall) -> (WebhookResult, Duration) {
    (allow(call), Duration::from_millis(20))
}

fn snowball(policy: &str) -> TestState {
    let mut state = TestState::new();
    let mut config = mutating_config(
        "snowball",
        vec![mutating("slow.example.com", vec![pod_rule()], policy, 30)],
    );
    config.metadata.uid = Some("uid-snowball".into());
    config.metadata.generation = Some(1);
    state.mutating.push(config);
    state
}

fn guarded() -> (AdmissionConfig, SharedBreakers) {
    let breakers = SharedBreakers::new(BreakerConfig::corral());
    let config = AdmissionConfig {
        webhook_breakers: Some(breakers.clone()),
        ..AdmissionConfig::default()
    };
    (config, breakers)
}

/// Five pods, one after another, each waiting out the 30 s timeout: 0–150 s.
fn five_timeouts(config: &AdmissionConfig, state: &TestState) {
    for i in 0..5u64 {
        let driven = drive_at(
            create(pod("ns", &format!("p{i}")), &format!("req-{i}")),
            config,
            state,
            at(30 * i),
            &mut hanging,
        );
        assert_eq!(driven.elapsed, secs(30), "pod {i} waits the whole timeout");
        assert!(matches!(driven.step, AdmissionStep::Admitted(_)) || driven.rejected().code == 500);
    }
}

#[test]
fn with_ignore_an_open_circuit_admits_at_once_and_a_probe_closes_it() {
    let state = snowball("Ignore");
    let (config, breakers) = guarded();
    five_timeouts(&config, &state);

    // Open: the next pods are admitted at once, without a webhook step.
    for (i, t) in [(5u64, 150u64), (6, 170)] {
        let driven = drive_at(
            create(pod("ns", &format!("p{i}")), &format!("req-{i}")),
            &config,
            &state,
            at(t),
            &mut no_webhooks,
        );
        assert!(driven.batches.is_empty(), "no CallWebhooks step");
        assert_eq!(driven.elapsed, Duration::ZERO);
        let admitted = driven.admitted();
        assert_eq!(
            admitted
                .audit_annotations
                .get("failed-open.mutation.webhook.admission.k8s.io/round_0_index_0"),
            Some(&"slow.example.com".to_string())
        );
        assert_eq!(
            admitted
                .audit_annotations
                .get("circuit-open.mutation.webhook.admission.corral.dev/round_0_index_0"),
            Some(&"slow.example.com".to_string())
        );
        let record = &driven.records[0];
        assert!(record.circuit_open);
        assert_eq!(record.latency(), Duration::ZERO);
        let WebhookOutcome::FailedOpen { failure } = &record.outcome else {
            panic!("{:?}", record.outcome)
        };
        assert_eq!(
            failure,
            "circuit open after 5 consecutive timeouts (open since 2026-01-01T00:02:30Z, next probe at 2026-01-01T00:03:00Z)"
        );
    }

    // After the 30 s cool-down one request probes the (now healthy) webhook.
    let probe = drive_at(
        create(pod("ns", "p7"), "req-7"),
        &config,
        &state,
        at(180),
        &mut healthy,
    );
    assert_eq!(probe.batches, [1]);
    assert!(!probe.records[0].circuit_open);
    let after = drive_at(
        create(pod("ns", "p8"), "req-8"),
        &config,
        &state,
        at(181),
        &mut healthy,
    );
    assert_eq!(after.batches, [1], "closed: called as usual");

    let transitions = breakers.lock().poll_transitions(at(181));
    let phases: Vec<_> = transitions
        .iter()
        .map(|t| (t.from, t.to, t.reason))
        .collect();
    assert_eq!(
        phases,
        [
            (
                BreakerPhase::Closed,
                BreakerPhase::Open,
                TransitionReason::ConsecutiveFailures
            ),
            (
                BreakerPhase::Open,
                BreakerPhase::HalfOpen,
                TransitionReason::CoolDownElapsed
            ),
            (
                BreakerPhase::HalfOpen,
                BreakerPhase::Closed,
                TransitionReason::ProbeSucceeded
            ),
        ]
    );
    assert_eq!(transitions[0].key.configuration, "snowball");
    assert_eq!(transitions[0].configuration_uid, "uid-snowball");
}

#[test]
fn with_fail_an_open_circuit_rejects_at_once_naming_the_webhook_and_its_state() {
    let state = snowball("Fail");
    let (config, _breakers) = guarded();
    five_timeouts(&config, &state);
    let driven = drive_at(
        create(pod("ns", "p5"), "req-5"),
        &config,
        &state,
        at(155),
        &mut no_webhooks,
    );
    assert_eq!(driven.elapsed, Duration::ZERO);
    let error = driven.rejected();
    assert_eq!(error.code, 500);
    assert_eq!(
        error.message,
        "Internal error occurred: failed calling webhook \"slow.example.com\": circuit open after 5 consecutive timeouts (open since 2026-01-01T00:02:30Z, next probe at 2026-01-01T00:03:00Z)"
    );
    assert!(matches!(
        driven.records[0].outcome,
        WebhookOutcome::FailedClosed { .. }
    ));
}

#[test]
fn validating_webhooks_are_skipped_one_by_one() {
    let mut state = TestState::new();
    state.validating.push(validating_config(
        "v",
        vec![
            validating("fast.example.com", vec![pod_rule()], "Fail", 10),
            validating("slow.example.com", vec![pod_rule()], "Ignore", 10),
        ],
    ));
    let (config, _breakers) = guarded();
    let mut answer = |call: &WebhookCall| {
        if call.webhook.starts_with("slow") {
            hanging(call)
        } else {
            healthy(call)
        }
    };
    for i in 0..5u64 {
        let driven = drive_at(
            create(pod("ns", &format!("p{i}")), "r"),
            &config,
            &state,
            at(10 * i),
            &mut answer,
        );
        assert_eq!(driven.batches, [2]);
    }
    let driven = drive_at(
        create(pod("ns", "p5"), "r"),
        &config,
        &state,
        at(50),
        &mut answer,
    );
    assert_eq!(driven.batches, [1], "only the healthy webhook is called");
    assert_eq!(driven.webhooks_called(), ["fast.example.com"]);
    assert_eq!(driven.elapsed, Duration::from_millis(20));
    assert!(
        driven
            .admitted()
            .audit_annotations
            .contains_key("failed-open.validating.webhook.admission.k8s.io/round_0_index_1")
    );
    assert!(
        driven
            .admitted()
            .audit_annotations
            .contains_key("circuit-open.validating.webhook.admission.corral.dev/round_0_index_1")
    );
}

#[test]
fn a_configuration_change_resets_the_circuit() {
    let mut state = snowball("Fail");
    let (config, breakers) = guarded();
    five_timeouts(&config, &state);
    state.mutating[0].metadata.generation = Some(2);
    let driven = drive_at(
        create(pod("ns", "p5"), "req-5"),
        &config,
        &state,
        at(155),
        &mut healthy,
    );
    assert_eq!(
        driven.batches,
        [1],
        "the fixed configuration is called at once"
    );
    assert!(matches!(driven.step, AdmissionStep::Admitted(_)));
    let reasons: Vec<_> = breakers
        .lock()
        .poll_transitions(at(156))
        .iter()
        .map(|t| t.reason)
        .collect();
    assert_eq!(
        reasons,
        [
            TransitionReason::ConsecutiveFailures,
            TransitionReason::ConfigurationChanged
        ]
    );
}

#[test]
fn disabled_breakers_change_nothing() {
    let state = snowball("Ignore");
    let breakers = SharedBreakers::new(BreakerConfig::default());
    let config = AdmissionConfig {
        webhook_breakers: Some(breakers.clone()),
        ..AdmissionConfig::default()
    };
    for i in 0..10u64 {
        let request = || create(pod("ns", &format!("p{i}")), &format!("req-{i}"));
        let guarded = drive_at(request(), &config, &state, at(30 * i), &mut hanging);
        let plain = drive_at(
            request(),
            &AdmissionConfig::default(),
            &state,
            at(30 * i),
            &mut hanging,
        );
        assert_eq!(guarded.step, plain.step);
        assert_eq!(guarded.records, plain.records);
        assert_eq!(guarded.elapsed, secs(30));
    }
    assert!(breakers.lock().is_empty());
}

#[test]
fn a_dropped_flow_hands_its_probe_back() {
    let state = snowball("Ignore");
    let (config, breakers) = guarded();
    five_timeouts(&config, &state);
    // The probe's request is abandoned mid-call (client gone, server shutting down).
    let mut flow = AdmissionFlow::new(create(pod("ns", "p5"), "req-5"), &config);
    let AdmissionStep::CallWebhooks(calls) = flow.step(&state, at(180)) else {
        panic!("the probe is called")
    };
    assert_eq!(calls.len(), 1);
    let busy = drive_at(
        create(pod("ns", "p6"), "req-6"),
        &config,
        &state,
        at(181),
        &mut no_webhooks,
    );
    assert!(busy.records[0].circuit_open, "the one probe slot is taken");
    drop(flow);
    let probe = drive_at(
        create(pod("ns", "p7"), "req-7"),
        &config,
        &state,
        at(182),
        &mut healthy,
    );
    assert_eq!(probe.batches, [1], "the slot was handed back");
    drop(breakers);
}

#[test]
fn the_same_requests_give_the_same_records_and_transitions() {
    let run = || {
        let state = snowball("Ignore");
        let (config, breakers) = guarded();
        let mut records = Vec::new();
        for i in 0..12u64 {
            let mut answer = |call: &WebhookCall| if i < 7 { hanging(call) } else { healthy(call) };
            let driven = drive_at(
                create(pod("ns", &format!("p{i}")), &format!("req-{i}")),
                &config,
                &state,
                at(20 * i),
                &mut answer,
            );
            records.extend(driven.records);
        }
        let transitions = breakers.lock().poll_transitions(at(1000));
        (records, transitions)
    };
    assert_eq!(run(), run());
}
