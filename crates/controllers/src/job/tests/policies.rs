//! Pod failure policy (FailJob, Ignore, FailIndex) and success policy, end to end.

use k8s_openapi::api::batch::v1::{
    PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement,
    PodFailurePolicyOnPodConditionsPattern, PodFailurePolicyRule, SuccessPolicy, SuccessPolicyRule,
};

use super::harness::*;
use crate::job::indexed::completion_index;

fn on_exit_codes(action: &str, codes: &[i32]) -> PodFailurePolicyRule {
    PodFailurePolicyRule {
        action: action.into(),
        on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
            container_name: None,
            operator: "In".into(),
            values: codes.to_vec(),
        }),
        on_pod_conditions: None,
    }
}

fn on_condition(action: &str, type_: &str) -> PodFailurePolicyRule {
    PodFailurePolicyRule {
        action: action.into(),
        on_exit_codes: None,
        on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
            type_: type_.into(),
            status: Some("True".into()),
        }]),
    }
}

#[test]
fn fail_job_on_an_exit_code_fails_the_job_at_the_first_matching_pod() {
    let mut h = Harness::new(all_exit(5, 42));
    h.submit(job_with("pfp", |s| {
        s.pod_replacement_policy = Some("Failed".into());
        s.pod_failure_policy = Some(PodFailurePolicy {
            rules: vec![on_exit_codes("FailJob", &[42])],
        });
    }));
    h.run_until_finished("pfp", secs(600));
    assert_eq!(h.created.len(), 1, "one pod");
    assert_eq!(
        h.finished_condition("pfp"),
        Some(("Failed".into(), "PodFailurePolicy".into()))
    );
    let expected = format!(
        "Container main for pod ns/{} failed with exit code 42 matching FailJob rule at index 0",
        h.created[0].0
    );
    let failed = h
        .status("pfp")
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Failed")
        .unwrap();
    assert_eq!(failed.message.as_deref(), Some(expected.as_str()));
    assert_eq!(h.events("PodFailurePolicy")[0].message, expected);
    assert_eq!(h.status("pfp").failed, Some(1));
    assert_eq!(h.condition_types("pfp"), vec!["FailureTarget", "Failed"]);
}

#[test]
fn ignore_on_a_disruption_condition_does_not_count_the_failure() {
    let script: Script = Box::new(|ordinal, _| match ordinal {
        0 => Behaviour::Disrupted {
            run: secs(5),
            condition: "DisruptionTarget",
        },
        _ => Behaviour::Exit {
            run: secs(5),
            exit_code: 0,
        },
    });
    let mut h = Harness::new(script);
    h.submit(job_with("ign", |s| {
        s.backoff_limit = Some(0);
        s.pod_replacement_policy = Some("Failed".into());
        s.pod_failure_policy = Some(PodFailurePolicy {
            rules: vec![
                on_condition("Ignore", "DisruptionTarget"),
                on_exit_codes("Count", &[1]),
            ],
        });
    }));
    h.run_until_finished("ign", secs(600));
    assert_eq!(
        h.finished_condition("ign"),
        Some(("Complete".into(), "CompletionsReached".into()))
    );
    let status = h.status("ign");
    assert_eq!(
        (status.succeeded, status.failed),
        (Some(1), None),
        "the disruption is not a failure"
    );
    assert_eq!(h.created.len(), 2);
    // The ignored failure still delays the replacement (upstream feeds every failed pod to
    // the backoff record).
    assert_eq!(h.replacement_delays(), vec![10]);
}

#[test]
fn fail_index_fails_the_index_without_retrying_it() {
    let script: Script = Box::new(|_, pod| Behaviour::Exit {
        run: secs(5),
        exit_code: if completion_index(pod) == Some(1) {
            3
        } else {
            0
        },
    });
    let mut h = Harness::new(script);
    h.submit(job_with("fi", |s| {
        s.completion_mode = Some("Indexed".into());
        s.completions = Some(3);
        s.parallelism = Some(3);
        s.backoff_limit_per_index = Some(2);
        s.backoff_limit = None;
        s.pod_replacement_policy = Some("Failed".into());
        s.pod_failure_policy = Some(PodFailurePolicy {
            rules: vec![on_exit_codes("FailIndex", &[3])],
        });
    }));
    h.run_until_finished("fi", secs(600));
    assert_eq!(h.created.len(), 3, "index 1 is not retried");
    assert_eq!(
        h.finished_condition("fi"),
        Some(("Failed".into(), "FailedIndexes".into()))
    );
    let status = h.status("fi");
    assert_eq!(status.failed_indexes.as_deref(), Some("1"));
    assert_eq!(status.completed_indexes.as_deref(), Some("0,2"));
    assert_eq!((status.succeeded, status.failed), (Some(2), Some(1)));
    assert_eq!(
        h.events("FailedIndexes")[0].message,
        "Job has failed indexes"
    );
}

#[test]
fn a_met_success_policy_completes_the_job_and_deletes_the_rest() {
    let script: Script = Box::new(|_, pod| {
        if completion_index(pod) == Some(0) {
            Behaviour::Exit {
                run: secs(10),
                exit_code: 0,
            }
        } else {
            Behaviour::Run
        }
    });
    let mut h = Harness::new(script);
    h.submit(job_with("sp", |s| {
        s.completion_mode = Some("Indexed".into());
        s.completions = Some(5);
        s.parallelism = Some(5);
        s.success_policy = Some(SuccessPolicy {
            rules: vec![SuccessPolicyRule {
                succeeded_indexes: Some("0".into()),
                succeeded_count: None,
            }],
        });
    }));
    h.run_until_finished("sp", secs(600));
    assert_eq!(
        h.finished_condition("sp"),
        Some(("Complete".into(), "SuccessPolicy".into()))
    );
    let status = h.status("sp");
    let conditions = status.conditions.clone().unwrap();
    assert_eq!(conditions[0].type_, "SuccessCriteriaMet");
    assert_eq!(
        conditions[0].message.as_deref(),
        Some("Matched rules at index 0")
    );
    assert_eq!(status.completed_indexes.as_deref(), Some("0"));
    assert_eq!(status.succeeded, Some(1));
    assert_eq!(
        h.events("SuccessfulDelete").len(),
        4,
        "the other indexes are stopped"
    );
    assert_eq!(h.created.len(), 5);
    assert!(
        h.pods()
            .iter()
            .all(|p| !crate::job::pods::has_tracking_finalizer(p))
    );
}
