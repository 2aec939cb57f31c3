//! Webhook dispatch: failure policies, timeouts against the request deadline, denials,
//! JSON patches, reinvocation, selectors, rules and parallel validating calls.

use std::time::Duration;

use serde_json::json;

use super::*;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn a_timeout_with_ignore_admits_after_the_full_timeout_with_the_failed_open_annotation() {
    let mut state = TestState::new();
    state.mutating.push(mutating_config(
        "snowball",
        vec![mutating("slow.example.com", vec![pod_rule()], "Ignore", 30)],
    ));
    let driven = drive(create(pod("ns", "p"), "req-1"), &mut state, &mut |call| {
        assert_eq!(call.url, "https://slow.example.com/hook?timeout=30s");
        assert_eq!(call.timeout, secs(30));
        (WebhookResult::Failed(CallFailure::Timeout), call.timeout)
    });
    let admitted = driven.admitted();
    assert_eq!(
        driven.elapsed,
        secs(30),
        "the request waits out the whole timeout"
    );
    assert_eq!(
        admitted
            .audit_annotations
            .get("failed-open.mutation.webhook.admission.k8s.io/round_0_index_0"),
        Some(&"slow.example.com".to_string())
    );
    assert!(matches!(
        driven.records[0].outcome,
        WebhookOutcome::FailedOpen { .. }
    ));
    assert_eq!(driven.records[0].latency(), secs(30));
    assert!(admitted.object.is_some());
}

#[test]
fn a_timeout_with_fail_rejects_with_upstreams_500() {
    let mut state = TestState::new();
    state.mutating.push(mutating_config(
        "c",
        vec![mutating("slow.example.com", vec![pod_rule()], "Fail", 10)],
    ));
    let driven = drive(create(pod("ns", "p"), "req-1"), &mut state, &mut |call| {
        (WebhookResult::Failed(CallFailure::Timeout), call.timeout)
    });
    let error = driven.rejected();
    assert_eq!(error.code, 500);
    assert_eq!(error.reason, corral_api::StatusReason::InternalError);
    assert_eq!(
        error.message,
        "Internal error occurred: failed calling webhook \"slow.example.com\": failed to call webhook: Post \"https://slow.example.com/hook?timeout=10s\": context deadline exceeded"
    );
    assert!(matches!(
        driven.records[0].outcome,
        WebhookOutcome::FailedClosed { .. }
    ));
}

#[test]
fn transport_failures_are_worded_per_failure() {
    for (failure, expected) in [
        (
            CallFailure::ConnectionRefused {
                address: "127.0.0.1:9443".into(),
            },
            "failed to call webhook: Post \"https://w/hook?timeout=10s\": dial tcp 127.0.0.1:9443: connect: connection refused",
        ),
        (
            CallFailure::BadStatus {
                code: 500,
                body: "boom".into(),
            },
            "failed to call webhook: an error on the server (\"boom\") has prevented the request from succeeding",
        ),
        (
            CallFailure::TooLarge { limit: 3 << 20 },
            "failed to call webhook: Post \"https://w/hook?timeout=10s\": response body larger than 3145728 bytes",
        ),
    ] {
        assert_eq!(failure.describe("https://w/hook?timeout=10s"), expected);
    }
}

#[test]
fn an_explicit_denial_rejects_whatever_the_failure_policy() {
    for policy in ["Ignore", "Fail"] {
        let mut state = TestState::new();
        state.mutating.push(mutating_config(
            "c",
            vec![mutating("deny.example.com", vec![pod_rule()], policy, 10)],
        ));
        let driven = drive(create(pod("ns", "p"), "r"), &mut state, &mut |call| {
            (
                respond(
                    call,
                    json!({"allowed": false, "status": {"code": 403, "message": "no pods on Fridays"}}),
                ),
                ms(5),
            )
        });
        let error = driven.rejected();
        assert_eq!(error.code, 403);
        assert_eq!(error.reason, corral_api::StatusReason::Forbidden);
        assert_eq!(
            error.message,
            "admission webhook \"deny.example.com\" denied the request: no pods on Fridays"
        );
    }
    let mut state = TestState::new();
    state.validating.push(validating_config(
        "v",
        vec![validating(
            "quiet.example.com",
            vec![pod_rule()],
            "Ignore",
            10,
        )],
    ));
    let driven = drive(create(pod("ns", "p"), "r"), &mut state, &mut |call| {
        (respond(call, json!({"allowed": false})), ms(5))
    });
    let error = driven.rejected();
    assert_eq!(error.code, 400, "codes below 400 become 400");
    assert_eq!(
        error.message,
        "admission webhook \"quiet.example.com\" denied the request without explanation"
    );
}

#[test]
fn a_json_patch_is_applied_and_the_object_redecoded() {
    let mut state = TestState::new();
    state.mutating.push(mutating_config(
        "c",
        vec![mutating("label.example.com", vec![pod_rule()], "Fail", 10)],
    ));
    let driven = drive(create(pod("ns", "p"), "r"), &mut state, &mut |call| {
        let review = &call.review["request"];
        assert_eq!(review["operation"], "CREATE");
        assert_eq!(
            review["kind"],
            json!({"group": "", "version": "v1", "kind": "Pod"})
        );
        assert_eq!(review["namespace"], "ns");
        assert_eq!(review["userInfo"]["username"], "alice");
        assert!(review["oldObject"].is_null());
        assert!(
            review["object"]["metadata"].get("uid").is_none(),
            "storage has not set the uid yet"
        );
        (
            patch(
                call,
                json!([
                    {"op": "add", "path": "/metadata/labels", "value": {"team": "a"}},
                    {"op": "add", "path": "/spec/nodeSelector", "value": {"disk": "ssd"}}
                ]),
            ),
            ms(3),
        )
    });
    let admitted = driven.admitted();
    let KubeObject::Pod(pod) = admitted.object.as_ref().unwrap() else {
        panic!()
    };
    assert_eq!(pod.metadata.labels.as_ref().unwrap()["team"], "a");
    assert_eq!(
        pod.spec.as_ref().unwrap().node_selector.as_ref().unwrap()["disk"],
        "ssd"
    );
    assert_eq!(
        pod.metadata.uid.as_deref(),
        Some("uid-p"),
        "system fields survive the patch"
    );
    assert_eq!(driven.records[0].outcome, WebhookOutcome::Mutated);
    assert!(
        admitted.audit_annotations["mutation.webhook.admission.k8s.io/round_0_index_0"]
            .contains("\"mutated\":true")
    );
    assert!(
        admitted
            .audit_annotations
            .contains_key("patch.webhook.admission.k8s.io/round_0_index_0")
    );
}

#[test]
fn a_patch_that_breaks_the_object_is_rejected_and_nothing_is_admitted() {
    for (operations, fragment) in [
        (
            json!([{"op": "replace", "path": "/spec", "value": "not a spec"}]),
            "Internal error occurred: ",
        ),
        (
            json!([{"op": "remove", "path": "/metadata/labels/missing"}]),
            "Internal error occurred: ",
        ),
        (
            json!([{"op": "add", "path": "/kind", "value": "Job"}]),
            "Internal error occurred: ",
        ),
    ] {
        let mut state = TestState::new();
        // Ignore does not help: a patch that cannot be applied is not a call failure.
        state.mutating.push(mutating_config(
            "c",
            vec![mutating(
                "broken.example.com",
                vec![pod_rule()],
                "Ignore",
                10,
            )],
        ));
        let driven = drive(create(pod("ns", "p"), "r"), &mut state, &mut |call| {
            (patch(call, operations.clone()), ms(1))
        });
        let error = driven.rejected();
        assert_eq!(error.code, 500, "{operations}");
        assert!(error.message.starts_with(fragment), "{}", error.message);
    }
}

#[test]
fn malformed_responses_are_call_failures_subject_to_the_policy() {
    let cases: Vec<(Box<dyn Fn(&WebhookCall) -> WebhookResult>, &str)> = vec![
        (
            Box::new(|_| {
                WebhookResult::Reviewed(
                    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": {"uid": "someone-else", "allowed": true}}),
                )
            }),
            "received invalid webhook response: expected response.uid=",
        ),
        (
            Box::new(|_| {
                WebhookResult::Reviewed(
                    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}),
                )
            }),
            "received invalid webhook response: webhook response was absent",
        ),
        (
            Box::new(|_| WebhookResult::Reviewed(json!([1, 2]))),
            "failed to call webhook: json: cannot unmarshal array",
        ),
        (
            Box::new(|call| respond(call, json!({"allowed": "yes"}))),
            "failed to call webhook: json: cannot unmarshal string into Go struct field AdmissionReview.response.allowed of type bool",
        ),
        (
            Box::new(|call| respond(call, json!({"allowed": true, "patch": "W10="}))),
            "received invalid webhook response: webhook returned response.patch but not response.patchType",
        ),
        (
            Box::new(|call| {
                respond(
                    call,
                    json!({"allowed": true, "patchType": "JSONPatch", "patch": "bm90IGpzb24="}),
                )
            }),
            "received undecodable patch in webhook response",
        ),
        (
            Box::new(|_| {
                WebhookResult::Failed(CallFailure::Malformed(
                    "invalid character 'g' looking for beginning of value".into(),
                ))
            }),
            "failed to call webhook: invalid character 'g'",
        ),
        (
            Box::new(|_| WebhookResult::Failed(CallFailure::TooLarge { limit: 3 << 20 })),
            "response body larger than 3145728 bytes",
        ),
    ];
    for (answer, fragment) in &cases {
        let mut state = TestState::new();
        state.mutating.push(mutating_config(
            "c",
            vec![mutating("m.example.com", vec![pod_rule()], "Fail", 10)],
        ));
        let driven = drive(create(pod("ns", "p"), "r"), &mut state, &mut |call| {
            (answer(call), ms(1))
        });
        let error = driven.rejected();
        assert_eq!(error.code, 500);
        assert!(
            error.message.contains(fragment),
            "{} does not contain {fragment}",
            error.message
        );

        let mut state = TestState::new();
        state.mutating.push(mutating_config(
            "c",
            vec![mutating("m.example.com", vec![pod_rule()], "Ignore", 10)],
        ));
        let driven = drive(create(pod("ns", "p"), "r"), &mut state, &mut |call| {
            (answer(call), ms(1))
        });
        let KubeObject::Pod(pod) = driven.admitted().object.clone().unwrap() else {
            panic!()
        };
        assert!(pod.metadata.labels.is_none(), "nothing half-applied");
    }
}

#[test]
fn reinvocation_calls_if_needed_webhooks_again_after_a_later_change() {
    let mut first = mutating("first.example.com", vec![pod_rule()], "Fail", 10);
    first.reinvocation_policy = Some("IfNeeded".into());
    let second = mutating("second.example.com", vec![pod_rule()], "Fail", 10);
    let mut state = TestState::new();
    state
        .mutating
        .push(mutating_config("a-config", vec![first.clone()]));
    state
        .mutating
        .push(mutating_config("b-config", vec![second.clone()]));
    let label = |call: &WebhookCall, key: &str| {
        let labels = call.review["request"]["object"]["metadata"]["labels"].clone();
        if labels.get(key).is_some() {
            allow(call)
        } else if labels.is_null() {
            patch(
                call,
                json!([{"op": "add", "path": "/metadata/labels", "value": {key: "x"}}]),
            )
        } else {
            patch(
                call,
                json!([{"op": "add", "path": format!("/metadata/labels/{key}"), "value": "x"}]),
            )
        }
    };
    let driven = drive(create(pod("ns", "p"), "r"), &mut state, &mut |call| {
        let key = if call.webhook.starts_with("first") {
            "first"
        } else {
            "second"
        };
        (label(call, key), ms(2))
    });
    assert_eq!(
        driven.webhooks_called(),
        [
            "first.example.com",
            "second.example.com",
            "first.example.com"
        ]
    );
    assert_eq!(driven.calls[2].round, 1);
    assert!(
        driven
            .admitted()
            .audit_annotations
            .contains_key("mutation.webhook.admission.k8s.io/round_1_index_0")
    );

    // With the default `Never`, no second round.
    let mut state = TestState::new();
    first.reinvocation_policy = Some("Never".into());
    state
        .mutating
        .push(mutating_config("a-config", vec![first]));
    state
        .mutating
        .push(mutating_config("b-config", vec![second]));
    let driven = drive(create(pod("ns", "p"), "r"), &mut state, &mut |call| {
        let key = if call.webhook.starts_with("first") {
            "first"
        } else {
            "second"
        };
        (label(call, key), ms(2))
    });
    assert_eq!(
        driven.webhooks_called(),
        ["first.example.com", "second.example.com"]
    );
}

#[test]
fn configurations_run_in_name_order_and_webhooks_in_listed_order() {
    let mut state = TestState::new();
    state.mutating.push(mutating_config(
        "zz",
        vec![mutating("z1", vec![pod_rule()], "Fail", 10)],
    ));
    state.mutating.push(mutating_config(
        "aa",
        vec![
            mutating("a1", vec![pod_rule()], "Fail", 10),
            mutating("a2", vec![pod_rule()], "Fail", 10),
        ],
    ));
    let driven = drive(create(pod("ns", "p"), "r"), &mut state, &mut |call| {
        (allow(call), secs(1))
    });
    assert_eq!(driven.webhooks_called(), ["a1", "a2", "z1"]);
    assert_eq!(
        driven.batches,
        [1, 1, 1],
        "mutating webhooks are called one at a time"
    );
    assert_eq!(driven.elapsed, secs(3), "their latencies add up");
}

#[test]
fn namespace_and_object_selectors_pick_the_requests() {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as K8sSelector;
    let selector = |k: &str, v: &str| K8sSelector {
        match_labels: Some([(k.to_string(), v.to_string())].into()),
        match_expressions: None,
    };
    let mut hook = mutating("prod-only", vec![rule(&["*"], &["*"], &["*"])], "Fail", 10);
    hook.namespace_selector = Some(selector("env", "prod"));
    let mut state = TestState::new();
    state.add_namespace("prod", &[("env", "prod")]);
    state
        .service_accounts
        .push(service_account("prod", "default"));
    state
        .mutating
        .push(mutating_config("c", vec![hook.clone()]));
    let called = |state: &mut TestState, request: AdmissionRequest| {
        drive(request, state, &mut |call| (allow(call), ms(1)))
            .calls
            .len()
    };
    assert_eq!(called(&mut state, create(pod("prod", "p"), "r")), 1);
    assert_eq!(called(&mut state, create(pod("ns", "p"), "r")), 0);
    // Cluster-scoped objects other than namespaces are never exempted by a namespace selector.
    let volume = k8s_openapi::api::core::v1::PersistentVolume {
        metadata: ObjectMeta {
            name: Some("pv1".into()),
            ..ObjectMeta::default()
        },
        ..Default::default()
    };
    let mut request = create(volume, "r");
    request.name = "pv1".into();
    let config = AdmissionConfig {
        run_validation: false,
        ..AdmissionConfig::default()
    };
    let driven = drive_with(
        request,
        &config,
        &mut state,
        &mut |call| (allow(call), ms(1)),
        &mut |_, _| {},
    );
    assert_eq!(driven.calls.len(), 1);
    // A namespace being created is matched by its own labels.
    let ns = |labels: &[(&str, &str)]| Namespace {
        metadata: ObjectMeta {
            name: Some("new".into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    assert_eq!(called(&mut state, create(ns(&[("env", "prod")]), "r")), 1);
    assert_eq!(called(&mut state, create(ns(&[("env", "dev")]), "r")), 0);

    // objectSelector: new or old labels.
    let mut hook = mutating("labelled", vec![rule(&["*"], &[""], &["pods"])], "Fail", 10);
    hook.object_selector = Some(selector("inject", "yes"));
    let mut state = TestState::new();
    state.mutating.push(mutating_config("c", vec![hook]));
    let mut labelled = pod("ns", "p");
    labelled.metadata.labels = Some([("inject".to_string(), "yes".to_string())].into());
    assert_eq!(called(&mut state, create(labelled.clone(), "r")), 1);
    assert_eq!(called(&mut state, create(pod("ns", "q"), "r")), 0);
    let mut stored = labelled.clone();
    stored.metadata.resource_version = Some("5".into());
    let mut update =
        AdmissionRequest::update(pod("ns", "p").into(), stored.into(), None, alice(), "r");
    update.object.as_mut().unwrap().meta_mut().resource_version = Some("5".into());
    let config = AdmissionConfig {
        run_validation: false,
        ..AdmissionConfig::default()
    };
    assert_eq!(
        drive_with(
            update,
            &config,
            &mut state,
            &mut |call| (allow(call), ms(1)),
            &mut |_, _| {}
        )
        .calls
        .len(),
        1,
        "old labels match"
    );
}

#[test]
fn rules_match_operations_groups_resources_subresources_and_scope() {
    let request = |subresource: Option<&str>| {
        let mut r = create(pod("ns", "p"), "r");
        r.subresource = subresource.map(Into::into);
        r
    };
    let matches = |rule: RuleWithOperations, r: &AdmissionRequest| {
        webhook::hooks::rule_matches(&rule, r, "ns")
    };
    let main = request(None);
    let status = request(Some("status"));
    assert!(matches(rule(&["CREATE"], &[""], &["pods"]), &main));
    assert!(!matches(rule(&["UPDATE"], &[""], &["pods"]), &main));
    assert!(matches(rule(&["*"], &["*"], &["*"]), &main));
    assert!(!matches(rule(&["CREATE"], &["batch"], &["pods"]), &main));
    assert!(
        !matches(rule(&["CREATE"], &[""], &["pods"]), &status),
        "pods does not match pods/status"
    );
    assert!(matches(rule(&["CREATE"], &[""], &["pods/status"]), &status));
    assert!(matches(rule(&["CREATE"], &[""], &["pods/*"]), &status));
    assert!(matches(rule(&["CREATE"], &[""], &["*/status"]), &status));
    assert!(!matches(rule(&["CREATE"], &[""], &["*/status"]), &main));
    assert!(
        !matches(rule(&["CREATE"], &[""], &["*"]), &status),
        "`*` means every resource, not subresources"
    );
    assert!(matches(rule(&["CREATE"], &[""], &["*/*"]), &status));
    let mut namespaced = rule(&["CREATE"], &[""], &["pods"]);
    namespaced.scope = Some("Namespaced".into());
    assert!(matches(namespaced.clone(), &main));
    let mut cluster = namespaced;
    cluster.scope = Some("Cluster".into());
    assert!(!matches(cluster, &main));
}

#[test]
fn validating_webhooks_are_called_together_and_the_request_waits_for_the_slowest() {
    let mut state = TestState::new();
    state.validating.push(validating_config(
        "v",
        vec![
            validating("fast.example.com", vec![pod_rule()], "Fail", 10),
            validating("slow.example.com", vec![pod_rule()], "Ignore", 10),
        ],
    ));
    let driven = drive(create(pod("ns", "p"), "r"), &mut state, &mut |call| {
        if call.webhook.starts_with("slow") {
            (WebhookResult::Failed(CallFailure::Timeout), call.timeout)
        } else {
            (allow(call), ms(20))
        }
    });
    assert_eq!(driven.batches, [2], "one step issues every validating call");
    assert_eq!(driven.elapsed, secs(10));
    let admitted = driven.admitted();
    assert_eq!(
        admitted
            .audit_annotations
            .get("failed-open.validating.webhook.admission.k8s.io/round_0_index_1"),
        Some(&"slow.example.com".to_string())
    );
    // Validating webhooks see the object after mutation and preparation (status set).
    assert_eq!(
        driven.calls[0].review["request"]["object"]["status"]["phase"],
        "Pending"
    );
}

#[test]
fn the_request_deadline_clips_webhook_timeouts_and_ends_the_request() {
    let hooks = (0..3)
        .map(|i| mutating(&format!("hang-{i}"), vec![pod_rule()], "Ignore", 30))
        .collect();
    let mut state = TestState::new();
    state.mutating.push(mutating_config("c", hooks));
    let driven = drive(create(pod("ns", "p"), "r"), &mut state, &mut |call| {
        (WebhookResult::Failed(CallFailure::Timeout), call.timeout)
    });
    assert_eq!(driven.calls.len(), 2, "the third webhook is never reached");
    assert_eq!(driven.calls[1].url, "https://hang-1/hook?timeout=30s");
    let error = driven.rejected();
    assert_eq!(error.code, 504);
    assert_eq!(
        error.message,
        "Timeout: request did not complete within requested timeout"
    );
    assert_eq!(driven.elapsed, secs(60));

    // Three webhooks of 25 s: the third gets the 10 s left.
    let hooks = (0..3)
        .map(|i| mutating(&format!("slow-{i}"), vec![pod_rule()], "Ignore", 25))
        .collect();
    let mut state = TestState::new();
    state.mutating.push(mutating_config("c", hooks));
    let driven = drive(create(pod("ns", "p"), "r"), &mut state, &mut |call| {
        (WebhookResult::Failed(CallFailure::Timeout), call.timeout)
    });
    assert_eq!(driven.calls[2].timeout, secs(10));
    assert_eq!(driven.calls[2].url, "https://slow-2/hook?timeout=10s");
    assert_eq!(driven.rejected().code, 504);

    // [1.14]: the handler ignores the deadline and goes on to admit.
    let hooks = (0..3)
        .map(|i| mutating(&format!("hang-{i}"), vec![pod_rule()], "Ignore", 30))
        .collect();
    let mut state = TestState::new();
    state.mutating.push(mutating_config("c", hooks));
    let config = AdmissionConfig {
        enforce_request_deadline: false,
        ..AdmissionConfig::default()
    };
    let driven = drive_with(
        create(pod("ns", "p"), "r"),
        &config,
        &mut state,
        &mut |call| (WebhookResult::Failed(CallFailure::Timeout), call.timeout),
        &mut |_, _| {},
    );
    assert!(matches!(driven.step, AdmissionStep::Admitted(_)));
    assert_eq!(driven.elapsed, secs(90));
}

#[test]
fn dry_runs_refuse_webhooks_with_side_effects_and_charge_nothing() {
    let mut state = TestState::new();
    let mut hook = mutating("effects", vec![pod_rule()], "Ignore", 10);
    hook.side_effects = "Some".into();
    state.mutating.push(mutating_config("c", vec![hook]));
    let mut request = create(pod("ns", "p"), "r");
    request.dry_run = true;
    let driven = drive(request, &mut state, &mut no_webhooks);
    let error = driven.rejected();
    assert_eq!(error.code, 400);
    assert_eq!(
        error.message,
        "admission webhook \"effects\" does not support dry run"
    );
}

#[test]
fn webhook_configurations_themselves_are_never_sent_to_webhooks() {
    let mut state = TestState::new();
    state.mutating.push(mutating_config(
        "c",
        vec![mutating(
            "all",
            vec![rule(&["*"], &["*"], &["*"])],
            "Fail",
            10,
        )],
    ));
    let config = mutating_config("new", vec![]);
    let driven = drive(create(config, "r"), &mut state, &mut no_webhooks);
    assert!(matches!(driven.step, AdmissionStep::Admitted(_)));
}

#[test]
fn service_references_and_v1beta1_reviews_are_supported() {
    let mut hook = mutating("svc.example.com", vec![pod_rule()], "Fail", 10);
    hook.client_config = WebhookClientConfig {
        service: Some(
            k8s_openapi::api::admissionregistration::v1::ServiceReference {
                namespace: "hooks".into(),
                name: "injector".into(),
                path: Some("/mutate".into()),
                port: Some(8443),
            },
        ),
        ..WebhookClientConfig::default()
    };
    hook.admission_review_versions = vec!["v1beta1".into()];
    let mut state = TestState::new();
    state.mutating.push(mutating_config("c", vec![hook]));
    let driven = drive(create(pod("ns", "p"), "r"), &mut state, &mut |call| {
        assert_eq!(
            call.url,
            "https://injector.hooks.svc:8443/mutate?timeout=10s"
        );
        assert_eq!(call.review["apiVersion"], "admission.k8s.io/v1beta1");
        // v1beta1 responses are not checked for uid or kind.
        (
            WebhookResult::Reviewed(json!({"response": {"allowed": true}})),
            ms(1),
        )
    });
    assert!(matches!(driven.step, AdmissionStep::Admitted(_)));
}
