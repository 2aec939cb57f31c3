//! ResourceQuota admission: object counts, compute resources, scopes, the exact refusal
//! messages, isolation between namespaces, and that charges committed with store
//! preconditions never overshoot under any interleaving.

use k8s_openapi::api::core::v1::ResourceRequirements;
use proptest::prelude::*;

use super::*;

/// Admits and commits like the API server: on a quota conflict, charge again.
fn create_and_commit(
    state: &mut TestState,
    object: impl Into<KubeObject>,
    uid: &str,
) -> Result<(), corral_api::ApiError> {
    let mut flow = AdmissionFlow::new(create(object, uid), &AdmissionConfig::default());
    let now = start();
    loop {
        match flow.step(state, now) {
            AdmissionStep::Admitted(admitted) => {
                if state.commit(&admitted.quota) {
                    return Ok(());
                }
                flow.retry_quota(admitted);
            }
            AdmissionStep::Rejected(error) => return Err(error),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_job_count_quota_refuses_the_third_job_with_upstreams_message() {
    let mut state = TestState::new();
    state.add_quota("ns", "q", &[("count/jobs.batch", "2")]);
    create_and_commit(&mut state, job("ns", "j1"), "1").unwrap();
    create_and_commit(&mut state, job("ns", "j2"), "2").unwrap();
    assert_eq!(state.used("ns", "q", "count/jobs.batch"), "2");
    let error = create_and_commit(&mut state, job("ns", "j3"), "3").unwrap_err();
    assert_eq!(error.code, 403);
    assert_eq!(
        error.message,
        "jobs.batch \"j3\" is forbidden: exceeded quota: q, requested: count/jobs.batch=1, used: count/jobs.batch=2, limited: count/jobs.batch=2"
    );
    assert_eq!(
        state.used("ns", "q", "count/jobs.batch"),
        "2",
        "a refusal charges nothing"
    );
    // Other namespaces are unaffected.
    create_and_commit(&mut state, job("other", "j3"), "4").unwrap();
    // Pods are not jobs.
    create_and_commit(&mut state, pod("ns", "p"), "5").unwrap();
}

fn with_cpu(mut p: Pod, request: &str) -> Pod {
    p.spec.as_mut().unwrap().containers[0].resources = Some(ResourceRequirements {
        requests: Some([("cpu".to_string(), WireQuantity(request.into()))].into()),
        ..ResourceRequirements::default()
    });
    p
}

#[test]
fn compute_quotas_sum_requests_and_require_them() {
    let mut state = TestState::new();
    state.add_quota("ns", "compute", &[("requests.cpu", "1"), ("pods", "10")]);
    create_and_commit(&mut state, with_cpu(pod("ns", "a"), "600m"), "1").unwrap();
    assert_eq!(state.used("ns", "compute", "requests.cpu"), "600m");
    assert_eq!(state.used("ns", "compute", "pods"), "1");
    let error = create_and_commit(&mut state, with_cpu(pod("ns", "b"), "500m"), "2").unwrap_err();
    assert_eq!(
        error.message,
        "pods \"b\" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1"
    );
    let error = create_and_commit(&mut state, pod("ns", "c"), "3").unwrap_err();
    assert_eq!(
        error.message,
        "pods \"c\" is forbidden: failed quota: compute: must specify requests.cpu for: main"
    );
}

#[test]
fn scoped_quotas_count_only_their_pods() {
    let mut state = TestState::new();
    state.add_quota("ns", "best-effort", &[("pods", "1")]);
    state.quotas[0].spec.as_mut().unwrap().scopes = Some(vec!["BestEffort".into()]);
    create_and_commit(&mut state, pod("ns", "a"), "1").unwrap();
    create_and_commit(&mut state, with_cpu(pod("ns", "b"), "100m"), "2").unwrap();
    let error = create_and_commit(&mut state, pod("ns", "c"), "3").unwrap_err();
    assert!(
        error.message.contains(
            "exceeded quota: best-effort, requested: pods=1, used: pods=1, limited: pods=1"
        ),
        "{}",
        error.message
    );
    // A scoped quota never matches other kinds.
    state.add_quota("ns", "jobs-terminating", &[("count/jobs.batch", "0")]);
    state.quotas[1].spec.as_mut().unwrap().scopes = Some(vec!["Terminating".into()]);
    create_and_commit(&mut state, job("ns", "j"), "4").unwrap();
}

#[test]
fn a_quota_without_usage_is_status_unknown_and_one_without_hard_is_not_enforced_yet() {
    let mut state = TestState::new();
    state.add_quota("ns", "fresh", &[("count/jobs.batch", "5")]);
    state.quotas[0].status.as_mut().unwrap().used = None;
    let error = create_and_commit(&mut state, job("ns", "j"), "1").unwrap_err();
    assert_eq!(
        error.message,
        "jobs.batch \"j\" is forbidden: status unknown for quota: fresh, resources: count/jobs.batch"
    );
    // Upstream: until the controller copies spec.hard into status.hard the quota matches nothing.
    state.quotas[0].status = None;
    create_and_commit(&mut state, job("ns", "j"), "2").unwrap();
}

#[test]
fn a_quota_with_an_unparsable_quantity_fails_closed_without_panicking() {
    let mut state = TestState::new();
    state.add_quota("ns", "bad", &[("count/jobs.batch", "two")]);
    let error = create_and_commit(&mut state, job("ns", "j"), "1").unwrap_err();
    assert_eq!(error.code, 500);
    assert!(
        error
            .message
            .contains("resourcequota bad: count/jobs.batch=\"two\""),
        "{}",
        error.message
    );
}

#[test]
fn a_validating_webhook_refusal_charges_no_quota() {
    let mut state = TestState::new();
    state.add_quota("ns", "q", &[("count/pods", "5")]);
    state.validating.push(validating_config(
        "v",
        vec![validating("no", vec![pod_rule()], "Fail", 10)],
    ));
    let driven = drive(create(pod("ns", "p"), "r"), &mut state, &mut |call| {
        (respond(call, serde_json::json!({"allowed": false})), ms(1))
    });
    assert_eq!(driven.rejected().code, 400);
    assert_eq!(state.used("ns", "q", "count/pods"), "0");
}

#[test]
fn dry_runs_are_checked_but_not_charged() {
    let mut state = TestState::new();
    state.add_quota("ns", "q", &[("count/pods", "5")]);
    let mut request = create(pod("ns", "p"), "r");
    request.dry_run = true;
    let driven = drive(request, &mut state, &mut no_webhooks);
    assert!(driven.admitted().quota.is_empty());
}

#[test]
fn a_conflicting_commit_is_charged_again_from_the_fresh_quota() {
    let mut state = TestState::new();
    state.add_quota("ns", "q", &[("count/pods", "1")]);
    let config = AdmissionConfig::default();
    let mut a = AdmissionFlow::new(create(pod("ns", "a"), "a"), &config);
    let mut b = AdmissionFlow::new(create(pod("ns", "b"), "b"), &config);
    let (AdmissionStep::Admitted(first), AdmissionStep::Admitted(second)) =
        (a.step(&state, start()), b.step(&state, start()))
    else {
        panic!("both admitted against the same quota revision");
    };
    assert!(state.commit(&first.quota));
    assert!(
        !state.commit(&second.quota),
        "the second charge's precondition fails"
    );
    b.retry_quota(second);
    let error = match b.step(&state, start()) {
        AdmissionStep::Rejected(e) => e,
        other => panic!("{other:?}"),
    };
    assert!(error.message.contains(
        "exceeded quota: q, requested: count/pods=1, used: count/pods=1, limited: count/pods=1"
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any interleaving of "admit" and "commit" steps of concurrent creations: the
    /// committed pods never exceed the quota, and status.used equals what was committed.
    #[test]
    fn concurrent_admissions_never_overshoot(limit in 0u32..5, creations in 1usize..8, schedule in proptest::collection::vec(0usize..8, 1..200)) {
        let mut state = TestState::new();
        state.add_quota("ns", "q", &[("count/pods", &limit.to_string()), ("pods", "100")]);
        let config = AdmissionConfig { quota_conflict_retries: 1000, ..AdmissionConfig::default() };
        let mut flows: Vec<AdmissionFlow> = (0..creations)
            .map(|i| AdmissionFlow::new(create(pod("ns", &format!("p{i}")), &format!("u{i}")), &config))
            .collect();
        let mut admitted: Vec<Option<Admitted>> = vec![None; creations];
        let mut done = vec![false; creations];
        let mut committed = 0u32;
        let mut refused = 0u32;
        let mut turn = |i: usize, flows: &mut Vec<AdmissionFlow>, state: &mut TestState, committed: &mut u32, refused: &mut u32| {
            if done[i] { return; }
            match admitted[i].take() {
                None => match flows[i].step(state, start()) {
                    AdmissionStep::Admitted(a) => admitted[i] = Some(a),
                    AdmissionStep::Rejected(e) => {
                        assert!(e.message.contains("exceeded quota"), "{}", e.message);
                        *refused += 1;
                        done[i] = true;
                    }
                    other => panic!("unexpected {other:?}"),
                },
                Some(a) => {
                    if state.commit(&a.quota) {
                        *committed += 1;
                        done[i] = true;
                    } else {
                        flows[i].retry_quota(a);
                    }
                }
            }
        };
        for i in schedule {
            turn(i % creations, &mut flows, &mut state, &mut committed, &mut refused);
        }
        // Drain in order so every creation finishes.
        for _ in 0..(4 * creations + 4) {
            for i in 0..creations {
                turn(i, &mut flows, &mut state, &mut committed, &mut refused);
            }
        }
        prop_assert_eq!(committed + refused, creations as u32);
        prop_assert_eq!(committed, limit.min(creations as u32));
        prop_assert_eq!(state.used("ns", "q", "count/pods"), committed.to_string());
        prop_assert_eq!(state.used("ns", "q", "pods"), committed.to_string());
    }
}
