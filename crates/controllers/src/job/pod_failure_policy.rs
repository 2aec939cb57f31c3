//! `spec.podFailurePolicy` (`pkg/controller/job/pod_failure_policy.go`): which rule, if
//! any, a failed pod matches, and what that means for the Job.
//!
//! Rules are tried in order; the first match wins. A rule matches on the exit codes of
//! terminated containers (non-zero only; regular containers first, then init containers)
//! or on pod conditions. Actions: `FailJob` ends the Job with a message naming the
//! container or condition, `Ignore` keeps the failure out of every count, `Count` is the
//! default treatment, `FailIndex` fails the pod's index (Indexed Jobs with a per-index
//! limit).

use k8s_openapi::api::batch::v1::{
    PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement,
    PodFailurePolicyOnPodConditionsPattern,
};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodCondition};

/// The action of the matched rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyAction {
    FailJob,
    Ignore,
    Count,
    FailIndex,
}

impl PolicyAction {
    fn parse(text: &str) -> Option<PolicyAction> {
        match text {
            "FailJob" => Some(PolicyAction::FailJob),
            "Ignore" => Some(PolicyAction::Ignore),
            "Count" => Some(PolicyAction::Count),
            "FailIndex" => Some(PolicyAction::FailIndex),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyAction::FailJob => "FailJob",
            PolicyAction::Ignore => "Ignore",
            PolicyAction::Count => "Count",
            PolicyAction::FailIndex => "FailIndex",
        }
    }
}

/// `matchPodFailurePolicy`'s three results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyMatch {
    /// Present when a `FailJob` rule matched.
    pub fail_job_message: Option<String>,
    /// Whether the failure counts toward `backoffLimit` (and `backoffLimitPerIndex`).
    pub count_failed: bool,
    pub action: Option<PolicyAction>,
}

impl PolicyMatch {
    fn unmatched() -> PolicyMatch {
        PolicyMatch {
            fail_job_message: None,
            count_failed: true,
            action: None,
        }
    }
}

/// Matches a failed pod against the policy; without a policy every failure counts.
pub fn match_pod_failure_policy(policy: Option<&PodFailurePolicy>, pod: &Pod) -> PolicyMatch {
    let Some(policy) = policy else {
        return PolicyMatch::unmatched();
    };
    for (index, rule) in policy.rules.iter().enumerate() {
        // An action this version does not know matches nothing (upstream's switch has no
        // case for it and falls through to the next rule).
        let Some(action) = PolicyAction::parse(&rule.action) else {
            continue;
        };
        let subject = if let Some(requirement) = &rule.on_exit_codes {
            match_on_exit_codes(pod, requirement).map(|status| {
                let code = terminated_exit_code(status);
                format!(
                    "Container {} for pod {}/{} failed with exit code {} matching {} rule at index {}",
                    status.name,
                    pod.metadata.namespace.as_deref().unwrap_or(""),
                    pod.metadata.name.as_deref().unwrap_or(""),
                    code,
                    action.as_str(),
                    index
                )
            })
        } else if let Some(patterns) = &rule.on_pod_conditions {
            match_on_pod_conditions(pod, patterns).map(|condition| {
                format!(
                    "Pod {}/{} has condition {} matching {} rule at index {}",
                    pod.metadata.namespace.as_deref().unwrap_or(""),
                    pod.metadata.name.as_deref().unwrap_or(""),
                    condition.type_,
                    action.as_str(),
                    index
                )
            })
        } else {
            None
        };
        let Some(message) = subject else {
            continue;
        };
        return match action {
            PolicyAction::Ignore => PolicyMatch {
                fail_job_message: None,
                count_failed: false,
                action: Some(action),
            },
            PolicyAction::FailJob => PolicyMatch {
                fail_job_message: Some(message),
                count_failed: true,
                action: Some(action),
            },
            PolicyAction::Count | PolicyAction::FailIndex => PolicyMatch {
                fail_job_message: None,
                count_failed: true,
                action: Some(action),
            },
        };
    }
    PolicyMatch::unmatched()
}

fn terminated_exit_code(status: &ContainerStatus) -> i32 {
    status
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .map_or(0, |t| t.exit_code)
}

/// `matchOnExitCodes`: regular containers first, then init containers.
fn match_on_exit_codes<'a>(
    pod: &'a Pod,
    requirement: &PodFailurePolicyOnExitCodesRequirement,
) -> Option<&'a ContainerStatus> {
    let status = pod.status.as_ref()?;
    let regular = status.container_statuses.as_deref().unwrap_or(&[]);
    let init = status.init_container_statuses.as_deref().unwrap_or(&[]);
    matching_container(regular, requirement).or_else(|| matching_container(init, requirement))
}

/// `getMatchingContainerFromList`: the first terminated, non-zero container that matches.
fn matching_container<'a>(
    statuses: &'a [ContainerStatus],
    requirement: &PodFailurePolicyOnExitCodesRequirement,
) -> Option<&'a ContainerStatus> {
    statuses.iter().find(|status| {
        let Some(terminated) = status.state.as_ref().and_then(|s| s.terminated.as_ref()) else {
            return false;
        };
        let name_matches = requirement
            .container_name
            .as_ref()
            .is_none_or(|n| *n == status.name);
        name_matches
            && terminated.exit_code != 0
            && exit_code_matches(terminated.exit_code, requirement)
    })
}

/// `isOnExitCodesOperatorMatching`; an unknown operator matches nothing.
fn exit_code_matches(code: i32, requirement: &PodFailurePolicyOnExitCodesRequirement) -> bool {
    match requirement.operator.as_str() {
        "In" => requirement.values.contains(&code),
        "NotIn" => !requirement.values.contains(&code),
        _ => false,
    }
}

/// `matchOnPodConditions`: the first pod condition matching any pattern (status defaults
/// to `True`, as the API defaults it).
fn match_on_pod_conditions<'a>(
    pod: &'a Pod,
    patterns: &[PodFailurePolicyOnPodConditionsPattern],
) -> Option<&'a PodCondition> {
    let conditions = pod.status.as_ref()?.conditions.as_deref()?;
    conditions.iter().find(|condition| {
        patterns.iter().any(|p| {
            p.type_ == condition.type_ && p.status.as_deref().unwrap_or("True") == condition.status
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::PodFailurePolicyRule;
    use k8s_openapi::api::core::v1::{ContainerState, ContainerStateTerminated, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn exit_rule(
        action: &str,
        operator: &str,
        values: &[i32],
        container: Option<&str>,
    ) -> PodFailurePolicyRule {
        PodFailurePolicyRule {
            action: action.into(),
            on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                container_name: container.map(String::from),
                operator: operator.into(),
                values: values.to_vec(),
            }),
            on_pod_conditions: None,
        }
    }

    fn condition_rule(action: &str, type_: &str) -> PodFailurePolicyRule {
        PodFailurePolicyRule {
            action: action.into(),
            on_exit_codes: None,
            on_pod_conditions: Some(vec![PodFailurePolicyOnPodConditionsPattern {
                type_: type_.into(),
                status: None,
            }]),
        }
    }

    fn failed_pod(exit_codes: &[(&str, i32)], init: &[(&str, i32)], conditions: &[&str]) -> Pod {
        let statuses = |list: &[(&str, i32)]| {
            list.iter()
                .map(|(name, code)| ContainerStatus {
                    name: name.to_string(),
                    state: Some(ContainerState {
                        terminated: Some(ContainerStateTerminated {
                            exit_code: *code,
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .collect::<Vec<_>>()
        };
        Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                namespace: Some("ns".into()),
                ..Default::default()
            },
            status: Some(PodStatus {
                phase: Some("Failed".into()),
                container_statuses: Some(statuses(exit_codes)),
                init_container_statuses: Some(statuses(init)),
                conditions: Some(
                    conditions
                        .iter()
                        .map(|c| PodCondition {
                            type_: c.to_string(),
                            status: "True".into(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn rules_match_in_order_and_return_upstreams_results() {
        struct Row {
            why: &'static str,
            rules: Vec<PodFailurePolicyRule>,
            pod: Pod,
            message: Option<&'static str>,
            count: bool,
            action: Option<PolicyAction>,
        }
        let rows = vec![
            Row {
                why: "FailJob on an exit code names container, code and rule index",
                rules: vec![
                    exit_rule("Count", "In", &[1], None),
                    exit_rule("FailJob", "In", &[42], None),
                ],
                pod: failed_pod(&[("main", 42)], &[], &[]),
                message: Some(
                    "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1",
                ),
                count: true,
                action: Some(PolicyAction::FailJob),
            },
            Row {
                why: "Ignore on a pod condition is not counted",
                rules: vec![condition_rule("Ignore", "DisruptionTarget")],
                pod: failed_pod(&[("main", 137)], &[], &["DisruptionTarget"]),
                message: None,
                count: false,
                action: Some(PolicyAction::Ignore),
            },
            Row {
                why: "FailJob on a pod condition",
                rules: vec![condition_rule("FailJob", "ConfigIssue")],
                pod: failed_pod(&[("main", 1)], &[], &["ConfigIssue"]),
                message: Some(
                    "Pod ns/p has condition ConfigIssue matching FailJob rule at index 0",
                ),
                count: true,
                action: Some(PolicyAction::FailJob),
            },
            Row {
                why: "exit code 0 never matches, even with NotIn",
                rules: vec![exit_rule("FailJob", "NotIn", &[1], None)],
                pod: failed_pod(&[("main", 0), ("side", 0)], &[], &[]),
                message: None,
                count: true,
                action: None,
            },
            Row {
                why: "NotIn matches a code outside the list",
                rules: vec![exit_rule("FailIndex", "NotIn", &[1, 2], None)],
                pod: failed_pod(&[("main", 3)], &[], &[]),
                message: None,
                count: true,
                action: Some(PolicyAction::FailIndex),
            },
            Row {
                why: "the container name restricts the match; init containers are checked too",
                rules: vec![exit_rule("FailJob", "In", &[5], Some("setup"))],
                pod: failed_pod(&[("main", 5)], &[("setup", 5)], &[]),
                message: Some(
                    "Container setup for pod ns/p failed with exit code 5 matching FailJob rule at index 0",
                ),
                count: true,
                action: Some(PolicyAction::FailJob),
            },
            Row {
                why: "an unknown action is skipped",
                rules: vec![
                    exit_rule("Explode", "In", &[1], None),
                    exit_rule("Count", "In", &[1], None),
                ],
                pod: failed_pod(&[("main", 1)], &[], &[]),
                message: None,
                count: true,
                action: Some(PolicyAction::Count),
            },
        ];
        for row in rows {
            let policy = PodFailurePolicy { rules: row.rules };
            let got = match_pod_failure_policy(Some(&policy), &row.pod);
            assert_eq!(got.fail_job_message.as_deref(), row.message, "{}", row.why);
            assert_eq!(got.count_failed, row.count, "{}", row.why);
            assert_eq!(got.action, row.action, "{}", row.why);
        }
        let no_policy = match_pod_failure_policy(None, &failed_pod(&[("main", 1)], &[], &[]));
        assert!(no_policy.count_failed && no_policy.action.is_none());
    }
}
