//! Guard 5, the start deadline: a pod of the Job that has not started any container within
//! the deadline after its creation — an image that cannot be pulled, a container that
//! cannot be created, a sandbox stuck in `ContainerCreating`, or (optionally) a pod never
//! scheduled — is failed by the Job controller and deleted, so its node releases it.
//!
//! Upstream leaves such a pod Pending forever: the Job stays `active=1`, the node keeps
//! the pod's requests reserved and quota stays charged (spec §1.9, §7.2,
//! kubernetes/kubernetes#101584). The start deadline is separate from
//! `activeDeadlineSeconds` (a run deadline that also kills healthy slow Jobs).
//!
//! How a pod is failed, following pod GC's `markFailedAndDeletePodWithCondition`:
//! a status patch (phase `Failed`, reason `StartDeadlineExceeded`, a message naming what
//! the pod waited for, and a `corral.dev/StartDeadlineExceeded` pod condition), guarded
//! by the pod's UID and resourceVersion so a pod that started meanwhile is left alone; then
//! a DELETE (Background, UID precondition) that stops the kubelet. The tracking finalizer
//! stays on, so the failure is counted exactly once by the normal accounting (a terminal
//! `Failed` pod with the finalizer) and counts toward `backoffLimit`; the replacement
//! waits for the pod-failure backoff, measured from the condition's time.
//!
//! The condition is deliberately not `DisruptionTarget`: pod failure policies commonly
//! ignore disruptions, and a pod that cannot pull its image is the workload's failure,
//! not a disruption. A policy can still match `corral.dev/StartDeadlineExceeded` with
//! `onPodConditions`.

use std::time::Duration;

use corral_api::{ObjectKey, ResourceKind};
use corral_core::{Action, PatchBody, Subresource, Timestamp, clock};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodCondition};
use serde_json::json;

use super::pods;

/// The pod's `status.reason`, the Job event's reason.
pub const REASON_START_DEADLINE_EXCEEDED: &str = "StartDeadlineExceeded";
/// The pod condition the Job controller sets on a pod it failed.
pub const CONDITION_START_DEADLINE_EXCEEDED: &str = "corral.dev/StartDeadlineExceeded";

/// Longest piece of a kubelet message copied into ours.
const MESSAGE_EXCERPT_MAX: usize = 200;

/// A pod past its start deadline.
#[derive(Clone, Debug)]
pub(crate) struct Expired<'a> {
    pub pod: &'a Pod,
    /// What it waited for, for the messages.
    pub waiting_for: String,
}

/// What the start deadline decided for one sync.
#[derive(Clone, Debug, Default)]
pub(crate) struct StartCheck<'a> {
    /// Active pods to fail and delete.
    pub expired: Vec<Expired<'a>>,
    /// Pods failed earlier whose DELETE did not happen (their patch succeeded, the delete
    /// was skipped or failed): deleted now.
    pub undeleted: Vec<&'a Pod>,
    /// When the next not-started pod reaches its deadline.
    pub next: Option<Duration>,
}

impl StartCheck<'_> {
    pub fn has_work(&self) -> bool {
        !self.expired.is_empty() || !self.undeleted.is_empty()
    }
}

/// Checks the Job's pods against `deadline`.
pub(crate) fn check<'a>(
    pods: &[&'a Pod],
    deadline: Duration,
    include_unscheduled: bool,
    now: Timestamp,
) -> StartCheck<'a> {
    let mut result = StartCheck::default();
    for &pod in pods {
        if failed_by_start_deadline(pod) && !pods::is_being_deleted(pod) {
            result.undeleted.push(pod);
            continue;
        }
        if !pods::is_active(pod) {
            continue;
        }
        let Some(waiting_for) = waiting_for(pod, include_unscheduled) else {
            continue;
        };
        let Some(created) = pod.metadata.creation_timestamp.as_ref() else {
            continue;
        };
        let expiry = clock::add(created.0, deadline);
        if now >= expiry {
            result.expired.push(Expired { pod, waiting_for });
        } else {
            let remaining = clock::since(expiry, now);
            result.next = Some(result.next.map_or(remaining, |n| n.min(remaining)));
        }
    }
    result
}

/// What a pod that has not started is waiting for; `None` once any container started, or
/// for an unscheduled pod unless `include_unscheduled`.
pub fn waiting_for(pod: &Pod, include_unscheduled: bool) -> Option<String> {
    if started(pod) {
        return None;
    }
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty());
    let statuses: Vec<&ContainerStatus> = all_container_statuses(pod).collect();
    let scheduled = condition(pod, "PodScheduled").is_some_and(|c| c.status == "True");
    // Only a kubelet reports container statuses, so they also prove the pod was bound.
    let bound = node.is_some() || scheduled || !statuses.is_empty();
    if !bound {
        if !include_unscheduled {
            return None;
        }
        let why = condition(pod, "PodScheduled")
            .and_then(|c| c.message.as_deref())
            .map(|m| format!(": {}", excerpt(m)))
            .unwrap_or_default();
        return Some(format!("the pod was not scheduled{why}"));
    }
    for container in &statuses {
        let Some(waiting) = container.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = waiting.reason.as_deref().unwrap_or("Waiting");
        let detail = waiting
            .message
            .as_deref()
            .map(|m| format!(" ({})", excerpt(m)))
            .unwrap_or_default();
        return Some(format!(
            "container {:?} is waiting: {reason}{detail}",
            container.name
        ));
    }
    Some(match node {
        Some(node) => format!("the pod is bound to node {node} but no container was created"),
        None => "the pod is scheduled but no container was created".to_string(),
    })
}

/// Whether any container (init or regular) ever ran.
fn started(pod: &Pod) -> bool {
    if matches!(
        pods::phase(pod),
        pods::PHASE_RUNNING | pods::PHASE_SUCCEEDED | pods::PHASE_FAILED
    ) {
        return true;
    }
    all_container_statuses(pod).any(|c| {
        let ran_now = c
            .state
            .as_ref()
            .is_some_and(|s| s.running.is_some() || s.terminated.is_some());
        let ran_before = c
            .last_state
            .as_ref()
            .is_some_and(|s| s.terminated.is_some());
        ran_now || ran_before || c.restart_count > 0 || c.started == Some(true)
    })
}

fn all_container_statuses(pod: &Pod) -> impl Iterator<Item = &ContainerStatus> {
    let status = pod.status.as_ref();
    status
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or(&[])
        .iter()
        .chain(
            status
                .and_then(|s| s.container_statuses.as_deref())
                .unwrap_or(&[]),
        )
}

fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

fn excerpt(text: &str) -> String {
    if text.chars().count() <= MESSAGE_EXCERPT_MAX {
        return text.to_string();
    }
    let cut: String = text.chars().take(MESSAGE_EXCERPT_MAX).collect();
    format!("{cut}…")
}

/// Whether the Job controller failed this pod for its start deadline.
pub fn failed_by_start_deadline(pod: &Pod) -> bool {
    pods::phase(pod) == pods::PHASE_FAILED
        && pod.status.as_ref().and_then(|s| s.reason.as_deref())
            == Some(REASON_START_DEADLINE_EXCEEDED)
}

/// When the Job controller failed the pod (its condition's transition time): the pod's
/// finish time for the pod-failure backoff.
pub fn failed_at(pod: &Pod) -> Option<Timestamp> {
    condition(pod, CONDITION_START_DEADLINE_EXCEEDED)
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// The pod's status message.
pub(crate) fn pod_message(deadline: Duration, waiting_for: &str) -> String {
    format!(
        "Pod did not start any container within {}s of its creation: {waiting_for}",
        deadline.as_secs()
    )
}

/// The Job event's message.
pub(crate) fn job_event_message(pod: &Pod, deadline: Duration, waiting_for: &str) -> String {
    format!(
        "Failed pod {}: it did not start any container within {}s of its creation: {waiting_for}",
        pods::name(pod),
        deadline.as_secs()
    )
}

/// The status patch that fails the pod. The UID and resourceVersion make it a no-op
/// (a conflict) if the pod changed since the decision, e.g. a container just started.
pub(crate) fn fail_pod_action(pod: &Pod, message: &str, now: Timestamp) -> Action {
    let stamp = clock::truncate_to_seconds(now).to_string();
    Action::Patch {
        key: ObjectKey::new(
            ResourceKind::Pod,
            pod.metadata.namespace.as_deref().unwrap_or(""),
            pods::name(pod),
        ),
        subresource: Subresource::Status,
        patch: PatchBody::Strategic(json!({
            "metadata": {
                "uid": pod.metadata.uid,
                "resourceVersion": pod.metadata.resource_version,
            },
            "status": {
                "phase": pods::PHASE_FAILED,
                "reason": REASON_START_DEADLINE_EXCEEDED,
                "message": message,
                "conditions": [{
                    "type": CONDITION_START_DEADLINE_EXCEEDED,
                    "status": "True",
                    "reason": REASON_START_DEADLINE_EXCEEDED,
                    "message": message,
                    "lastTransitionTime": stamp,
                }],
            },
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_core::clock::{add, epoch};
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateRunning, ContainerStateWaiting, PodSpec, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn pod(node: Option<&str>, waiting: Option<&str>, running: bool) -> Pod {
        let state = if running {
            ContainerState {
                running: Some(ContainerStateRunning::default()),
                ..Default::default()
            }
        } else {
            ContainerState {
                waiting: waiting.map(|r| ContainerStateWaiting {
                    reason: Some(r.into()),
                    message: Some("Back-off pulling image \"nope\"".into()),
                }),
                ..Default::default()
            }
        };
        let statuses = (waiting.is_some() || running).then(|| {
            vec![ContainerStatus {
                name: "main".into(),
                state: Some(state),
                ..Default::default()
            }]
        });
        Pod {
            metadata: ObjectMeta {
                name: Some("p".into()),
                creation_timestamp: Some(Time(epoch())),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: node.map(String::from),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some("Pending".into()),
                container_statuses: statuses,
                ..Default::default()
            }),
        }
    }

    #[test]
    fn a_pod_waiting_on_its_image_is_reported_and_a_running_one_is_not() {
        assert_eq!(
            waiting_for(&pod(Some("n1"), Some("ImagePullBackOff"), false), false).as_deref(),
            Some(
                "container \"main\" is waiting: ImagePullBackOff (Back-off pulling image \"nope\")"
            )
        );
        assert_eq!(waiting_for(&pod(Some("n1"), None, true), false), None);
        assert_eq!(
            waiting_for(&pod(Some("n1"), None, false), false).as_deref(),
            Some("the pod is bound to node n1 but no container was created")
        );
    }

    #[test]
    fn unscheduled_pods_are_covered_only_on_request() {
        let unbound = pod(None, None, false);
        assert_eq!(waiting_for(&unbound, false), None);
        assert_eq!(
            waiting_for(&unbound, true).as_deref(),
            Some("the pod was not scheduled")
        );
    }

    #[test]
    fn the_check_expires_pods_at_the_deadline_and_schedules_the_next_one() {
        let stuck = pod(Some("n1"), Some("ErrImagePull"), false);
        let mut young = pod(Some("n1"), Some("ContainerCreating"), false);
        young.metadata.creation_timestamp = Some(Time(add(epoch(), Duration::from_secs(100))));
        let pods = [&stuck, &young];
        let deadline = Duration::from_secs(600);
        let before = check(
            &pods,
            deadline,
            false,
            add(epoch(), Duration::from_secs(599)),
        );
        assert!(!before.has_work());
        assert_eq!(before.next, Some(Duration::from_secs(1)));
        let at = check(
            &pods,
            deadline,
            false,
            add(epoch(), Duration::from_secs(600)),
        );
        assert_eq!(at.expired.len(), 1);
        assert_eq!(at.next, Some(Duration::from_secs(100)));
    }
}
