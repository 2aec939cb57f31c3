//! The built-in plugins: NamespaceLifecycle, ServiceAccount, LimitRanger, Priority,
//! DefaultTolerationSeconds, and the order they run in relative to webhooks.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LimitRangeItem, LimitRangeSpec, ResourceRequirements};
use serde_json::json;

use super::*;

fn admitted_pod(driven: &Driven) -> Pod {
    match driven.admitted().object.clone() {
        Some(KubeObject::Pod(p)) => p,
        other => panic!("expected a pod, got {other:?}"),
    }
}

#[test]
fn a_missing_service_account_is_upstreams_403() {
    let mut state = TestState::new();
    let mut p = pod("ns", "p");
    p.spec.as_mut().unwrap().service_account_name = Some("robot".into());
    let driven = drive(create(p, "r"), &mut state, &mut no_webhooks);
    let error = driven.rejected();
    assert_eq!(error.code, 403);
    assert_eq!(
        error.message,
        "pods \"p\" is forbidden: error looking up service account ns/robot: serviceaccount \"robot\" not found"
    );
    assert_eq!(
        driven.elapsed,
        Duration::ZERO,
        "non-default accounts are looked up once"
    );
}

#[test]
fn a_generate_name_pod_is_named_by_its_prefix_in_the_refusal() {
    let mut state = TestState::new();
    let mut p = pod("ns", "job-1-x7k2p");
    p.metadata.generate_name = Some("job-1-".into());
    p.spec.as_mut().unwrap().service_account_name = Some("robot".into());
    let mut request = create(p, "r");
    request.name = String::new();
    let driven = drive(request, &mut state, &mut no_webhooks);
    assert_eq!(
        driven.rejected().message,
        "pods \"job-1-\" is forbidden: error looking up service account ns/robot: serviceaccount \"robot\" not found"
    );
}

#[test]
fn a_missing_default_account_is_retried_before_the_403() {
    let mut state = TestState::new();
    state.service_accounts.clear();
    let driven = drive(create(pod("ns", "p"), "r"), &mut state, &mut no_webhooks);
    assert_eq!(
        driven.rejected().message,
        "pods \"p\" is forbidden: error looking up service account ns/default: serviceaccount \"default\" not found"
    );
    assert!(
        driven.elapsed >= ms(900) && driven.elapsed <= ms(1800),
        "9 waits of 100–200 ms: {:?}",
        driven.elapsed
    );

    // The controller creates it meanwhile: admitted.
    let mut state = TestState::new();
    state.service_accounts.clear();
    let driven = drive_with(
        create(pod("ns", "p"), "r"),
        &AdmissionConfig::default(),
        &mut state,
        &mut no_webhooks,
        &mut |state, waits| {
            if waits == 3 {
                state
                    .service_accounts
                    .push(service_account("ns", "default"));
            }
        },
    );
    assert!(matches!(driven.step, AdmissionStep::Admitted(_)));
}

#[test]
fn the_api_access_volume_is_projected_unless_automount_is_off() {
    let mut state = TestState::new();
    let driven = drive(
        create(pod("ns", "p"), "req-7"),
        &mut state,
        &mut no_webhooks,
    );
    let p = admitted_pod(&driven);
    let spec = p.spec.unwrap();
    assert_eq!(spec.service_account_name.as_deref(), Some("default"));
    let volume = &spec.volumes.as_ref().unwrap()[0];
    assert_eq!(
        volume.name,
        format!("kube-api-access-{}", token_volume_suffix("req-7"))
    );
    assert_eq!(volume.name.len(), "kube-api-access-".len() + 5);
    let sources = volume.projected.as_ref().unwrap().sources.as_ref().unwrap();
    assert_eq!(
        sources[0]
            .service_account_token
            .as_ref()
            .unwrap()
            .expiration_seconds,
        Some(3607)
    );
    assert_eq!(
        sources[1].config_map.as_ref().unwrap().name,
        "kube-root-ca.crt"
    );
    let mount = &spec.containers[0].volume_mounts.as_ref().unwrap()[0];
    assert_eq!(mount.mount_path, TOKEN_MOUNT_PATH);
    assert_eq!(mount.read_only, Some(true));

    let mut state = TestState::new();
    state.service_accounts[0].automount_service_account_token = Some(false);
    let p = admitted_pod(&drive(
        create(pod("ns", "p"), "r"),
        &mut state,
        &mut no_webhooks,
    ));
    assert!(p.spec.unwrap().volumes.is_none());
}

#[test]
fn webhooks_see_the_pod_after_the_built_in_plugins() {
    let mut state = TestState::new();
    state.mutating.push(mutating_config(
        "c",
        vec![mutating("m", vec![pod_rule()], "Fail", 10)],
    ));
    drive(create(pod("ns", "p"), "r"), &mut state, &mut |call| {
        let spec = &call.review["request"]["object"]["spec"];
        assert_eq!(spec["serviceAccountName"], "default");
        assert_eq!(spec["priority"], 0);
        assert_eq!(spec["tolerations"].as_array().unwrap().len(), 2);
        assert!(
            spec["volumes"][0]["name"]
                .as_str()
                .unwrap()
                .starts_with("kube-api-access-")
        );
        (allow(call), ms(1))
    });
}

#[test]
fn a_missing_namespace_is_waited_for_once_then_404() {
    let mut state = TestState::new();
    let driven = drive(
        create(pod("nowhere", "p"), "r"),
        &mut state,
        &mut no_webhooks,
    );
    let error = driven.rejected();
    assert_eq!(error.code, 404);
    assert_eq!(error.message, "namespaces \"nowhere\" not found");
    assert_eq!(driven.elapsed, ms(50));
}

#[test]
fn a_terminating_namespace_refuses_new_content() {
    let mut state = TestState::new();
    state.namespaces[0].status.as_mut().unwrap().phase = Some("Terminating".into());
    let driven = drive(create(job("ns", "j"), "r"), &mut state, &mut no_webhooks);
    let error = driven.rejected();
    assert_eq!(error.code, 403);
    assert_eq!(
        error.message,
        "jobs.batch \"j\" is forbidden: unable to create new content in namespace ns because it is being terminated"
    );
    assert_eq!(
        error.details.as_ref().unwrap().causes[0].reason,
        "NamespaceTerminating"
    );
}

#[test]
fn immortal_namespaces_cannot_be_deleted() {
    let mut state = TestState::new();
    state.add_namespace("default", &[]);
    let stored: KubeObject = state.namespaces.last().unwrap().clone().into();
    let driven = drive(
        AdmissionRequest::delete(stored, alice(), "r"),
        &mut state,
        &mut no_webhooks,
    );
    assert_eq!(
        driven.rejected().message,
        "namespaces \"default\" is forbidden: this namespace may not be deleted"
    );
}

fn limit_range(items: Vec<LimitRangeItem>) -> LimitRange {
    LimitRange {
        metadata: ObjectMeta {
            name: Some("limits".into()),
            namespace: Some("ns".into()),
            ..ObjectMeta::default()
        },
        spec: Some(LimitRangeSpec { limits: items }),
    }
}

fn list(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, WireQuantity>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), WireQuantity(v.to_string())))
            .collect(),
    )
}

#[test]
fn limit_ranges_default_requests_and_limits_and_enforce_bounds() {
    let mut state = TestState::new();
    state.limit_ranges.push(limit_range(vec![LimitRangeItem {
        type_: "Container".into(),
        default: list(&[("cpu", "500m")]),
        default_request: list(&[("cpu", "250m")]),
        max: list(&[("cpu", "1")]),
        ..LimitRangeItem::default()
    }]));
    let p = admitted_pod(&drive(
        create(pod("ns", "p"), "r"),
        &mut state,
        &mut no_webhooks,
    ));
    let resources = p.spec.as_ref().unwrap().containers[0]
        .resources
        .clone()
        .unwrap();
    assert_eq!(resources.requests.unwrap()["cpu"].0, "250m");
    assert_eq!(resources.limits.unwrap()["cpu"].0, "500m");
    assert_eq!(
        p.metadata.annotations.unwrap()["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu request for container main; cpu limit for container main"
    );

    let mut big = pod("ns", "big");
    big.spec.as_mut().unwrap().containers[0].resources = Some(ResourceRequirements {
        limits: list(&[("cpu", "2")]),
        requests: list(&[("cpu", "2")]),
        ..ResourceRequirements::default()
    });
    let driven = drive(create(big, "r"), &mut state, &mut no_webhooks);
    assert_eq!(
        driven.rejected().message,
        "pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 2"
    );
}

#[test]
fn priority_is_computed_and_explicit_conflicts_refused() {
    let mut state = TestState::new();
    let p = admitted_pod(&drive(
        create(pod("ns", "p"), "r"),
        &mut state,
        &mut no_webhooks,
    ));
    let spec = p.spec.unwrap();
    assert_eq!(spec.priority, Some(0));
    assert_eq!(
        spec.preemption_policy.as_deref(),
        Some("PreemptLowerPriority")
    );
    assert!(spec.tolerations.unwrap().iter().any(|t| t.key.as_deref()
        == Some("node.kubernetes.io/unreachable")
        && t.toleration_seconds == Some(300)));

    let mut p = pod("ns", "p");
    p.spec.as_mut().unwrap().priority_class_name = Some("gold".into());
    assert_eq!(
        drive(create(p, "r"), &mut state, &mut no_webhooks)
            .rejected()
            .message,
        "pods \"p\" is forbidden: no PriorityClass with name gold was found"
    );
    let mut p = pod("ns", "p");
    p.spec.as_mut().unwrap().priority = Some(7);
    assert_eq!(
        drive(create(p, "r"), &mut state, &mut no_webhooks)
            .rejected()
            .message,
        "pods \"p\" is forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name"
    );
}

#[test]
fn object_validation_runs_after_mutation() {
    let mut state = TestState::new();
    state.mutating.push(mutating_config(
        "c",
        vec![mutating("breaks-policy", vec![pod_rule()], "Fail", 10)],
    ));
    let driven = drive(create(pod("ns", "p"), "r"), &mut state, &mut |call| {
        (
            patch(
                call,
                json!([{"op": "replace", "path": "/spec/restartPolicy", "value": "Sometimes"}]),
            ),
            ms(1),
        )
    });
    let error = driven.rejected();
    assert_eq!(error.code, 422);
    assert!(
        error
            .message
            .starts_with("Pod \"p\" is invalid: spec.restartPolicy"),
        "{}",
        error.message
    );
}

/// Goal: with `caller_prepares`, the flow stops once between mutating and validating
/// admission, hands the mutated object to the caller's preparation, keeps its warnings,
/// and a preparation error rejects the request before validating webhooks run.
#[test]
fn a_caller_that_prepares_is_asked_exactly_once_between_mutating_and_validating() {
    let state = TestState::new();
    let config = AdmissionConfig {
        caller_prepares: true,
        ..AdmissionConfig::default()
    };
    let mut flow = AdmissionFlow::new(create(pod("ns", "p"), "r"), &config);
    let mut prepared = 0;
    let step = loop {
        match flow.step(&state, start()) {
            AdmissionStep::Prepare => flow.prepare_with(&mut |object| {
                prepared += 1;
                // Mutating admission already ran: the token volume is there.
                let KubeObject::Pod(pod) = object else {
                    panic!("a pod")
                };
                assert!(pod.spec.as_ref().unwrap().volumes.is_some());
                Ok(vec!["prepared".to_string()])
            }),
            other => break other,
        }
    };
    assert_eq!(prepared, 1);
    match step {
        AdmissionStep::Admitted(admitted) => assert_eq!(admitted.warnings, vec!["prepared"]),
        other => panic!("expected Admitted, got {other:?}"),
    }

    let mut flow = AdmissionFlow::new(create(pod("ns", "p"), "r2"), &config);
    assert_eq!(flow.step(&state, start()), AdmissionStep::Prepare);
    flow.prepare_with(&mut |_| Err(corral_api::ApiError::bad_request("nope")));
    match flow.step(&state, start()) {
        AdmissionStep::Rejected(error) => assert_eq!(error.message, "nope"),
        other => panic!("expected Rejected, got {other:?}"),
    }
}
