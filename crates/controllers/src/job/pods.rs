//! Pod classification as the Job controller sees it: active, ready, terminating, failed,
//! when a pod finished, and the `controller.ActivePods` deletion order.
//!
//! Ports `IsPodActive`/`IsPodTerminating`/`ActivePods` (`pkg/controller/controller_utils.go`),
//! `podutil.IsPodReady`, and `getFinishedTime` (`pkg/controller/job/backoff_utils.go`).
//! Every function tolerates missing status fields: a pod without a status is Pending.

use std::cmp::Ordering;

use corral_core::Timestamp;
use corral_core::clock;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodCondition};

/// `batch.kubernetes.io/job-tracking`: keeps a finished pod until the controller counted it.
pub const JOB_TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";

pub const PHASE_PENDING: &str = "Pending";
pub const PHASE_RUNNING: &str = "Running";
pub const PHASE_SUCCEEDED: &str = "Succeeded";
pub const PHASE_FAILED: &str = "Failed";
pub const PHASE_UNKNOWN: &str = "Unknown";

/// The pod's phase; "" when unset (treated as Pending everywhere, as upstream does).
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

pub fn is_succeeded(pod: &Pod) -> bool {
    phase(pod) == PHASE_SUCCEEDED
}

/// `podutil.IsPodTerminal`.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(phase(pod), PHASE_SUCCEEDED | PHASE_FAILED)
}

pub fn is_being_deleted(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// `controller.IsPodActive`: not terminal and not being deleted.
pub fn is_active(pod: &Pod) -> bool {
    !is_terminal(pod) && !is_being_deleted(pod)
}

/// `controller.IsPodTerminating`: being deleted but not terminal yet.
pub fn is_terminating(pod: &Pod) -> bool {
    !is_terminal(pod) && is_being_deleted(pod)
}

fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// `isPodFailed`: phase Failed, or, unless only failed pods are replaced, being deleted
/// without having succeeded (orphans deleted before reaching a terminal phase).
pub fn is_failed(pod: &Pod, only_replace_failed: bool) -> bool {
    if phase(pod) == PHASE_FAILED {
        return true;
    }
    !only_replace_failed && is_being_deleted(pod) && !is_succeeded(pod)
}

/// `podutil.IsPodReady`: the `Ready` condition is `True`.
pub fn is_ready(pod: &Pod) -> bool {
    condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

/// When a ready pod became ready (`podReadyTime`); `None` when not ready or unknown.
fn ready_time(pod: &Pod) -> Option<Timestamp> {
    let c = condition(pod, "Ready").filter(|c| c.status == "True")?;
    c.last_transition_time.as_ref().map(|t| t.0)
}

pub fn has_tracking_finalizer(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|x| x == JOB_TRACKING_FINALIZER))
}

pub fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or("")
}

pub fn name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or("")
}

fn container_statuses(pod: &Pod) -> &[ContainerStatus] {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[])
}

fn init_container_statuses(pod: &Pod) -> &[ContainerStatus] {
    pod.status
        .as_ref()
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or(&[])
}

/// `maxContainerRestarts`: the highest restart count of the regular containers.
pub fn max_container_restarts(pod: &Pod) -> i32 {
    container_statuses(pod)
        .iter()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0)
}

/// Restarts of all containers, init containers included (`pastBackoffLimitOnFailure`).
pub fn restart_count_sum(pod: &Pod) -> i64 {
    init_container_statuses(pod)
        .iter()
        .chain(container_statuses(pod))
        .map(|c| i64::from(c.restart_count.max(0)))
        .sum()
}

/// `getFinishedTime`: when a pod finished, by the first source that knows.
///
/// 1. all containers terminated: the latest `finishedAt`;
/// 2. (guard 5) a pod the Job controller failed for its start deadline: when it did;
/// 3. a `Ready=False` condition: its transition time (the kubelet sets it on termination);
/// 4. a deletion timestamp: minus the grace period (orphans deleted by pod GC);
/// 5. the creation time (a pod nobody ever ran).
pub fn finished_time(pod: &Pod) -> Timestamp {
    if let Some(t) = finish_time_from_containers(pod) {
        return t;
    }
    if let Some(t) = super::start_deadline::failed_at(pod) {
        return t;
    }
    if let Some(t) = condition(pod, "Ready")
        .filter(|c| c.status == "False")
        .and_then(|c| c.last_transition_time.as_ref())
    {
        return t.0;
    }
    if let Some(deleted) = &pod.metadata.deletion_timestamp {
        let grace = pod
            .metadata
            .deletion_grace_period_seconds
            .unwrap_or(0)
            .max(0);
        return clock::sub(
            deleted.0,
            std::time::Duration::from_secs(grace.unsigned_abs()),
        );
    }
    pod.metadata
        .creation_timestamp
        .as_ref()
        .map_or(Timestamp::UNIX_EPOCH, |t| t.0)
}

fn finish_time_from_containers(pod: &Pod) -> Option<Timestamp> {
    let mut latest: Option<Timestamp> = None;
    for status in container_statuses(pod) {
        let terminated = status.state.as_ref()?.terminated.as_ref()?;
        let finished = terminated.finished_at.as_ref()?.0;
        latest = Some(latest.map_or(finished, |l| l.max(finished)));
    }
    latest
}

/// Orders pods the way `controller.ActivePods` does, earliest-to-delete first:
/// unscheduled < scheduled; Pending < Unknown < Running; not ready < ready; ready for less
/// time < longer; more restarts < fewer; newer < older. Ties fall back to the name so the
/// order is total (upstream's sort is not stable; ours must be deterministic).
pub fn active_pods_order(a: &Pod, b: &Pod) -> Ordering {
    let node_a = node_name(a);
    let node_b = node_name(b);
    if node_a != node_b && (node_a.is_empty() || node_b.is_empty()) {
        return if node_a.is_empty() {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    let by_phase = phase_ordinal(a).cmp(&phase_ordinal(b));
    if by_phase != Ordering::Equal {
        return by_phase;
    }
    let (ready_a, ready_b) = (is_ready(a), is_ready(b));
    if ready_a != ready_b {
        return if ready_a {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    if ready_a {
        let by_ready_time = newer_or_unknown_first(ready_time(a), ready_time(b));
        if by_ready_time != Ordering::Equal {
            return by_ready_time;
        }
    }
    let by_restarts = max_container_restarts(b).cmp(&max_container_restarts(a));
    if by_restarts != Ordering::Equal {
        return by_restarts;
    }
    let created_a = a.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let created_b = b.metadata.creation_timestamp.as_ref().map(|t| t.0);
    newer_or_unknown_first(created_a, created_b).then_with(|| name(a).cmp(name(b)))
}

/// `afterOrZero` as an ordering: an unknown time first, then the later time first.
fn newer_or_unknown_first(a: Option<Timestamp>, b: Option<Timestamp>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => b.cmp(&a),
    }
}

fn node_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

/// `podPhaseToOrdinal`: Pending 0, Unknown 1, Running 2; anything else 0 (Go's map default).
fn phase_ordinal(pod: &Pod) -> u8 {
    match phase(pod) {
        PHASE_UNKNOWN => 1,
        PHASE_RUNNING => 2,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_core::clock::{add, epoch};
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateTerminated, PodSpec, PodStatus,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use std::time::Duration;

    fn at(secs: u64) -> Timestamp {
        add(epoch(), Duration::from_secs(secs))
    }

    fn pod(
        name: &str,
        node: &str,
        phase: &str,
        ready: Option<u64>,
        restarts: i32,
        created: u64,
    ) -> Pod {
        let mut conditions = Vec::new();
        if let Some(t) = ready {
            conditions.push(PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                last_transition_time: Some(Time(at(t))),
                ..Default::default()
            });
        }
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: Some(Time(at(created))),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: (!node.is_empty()).then(|| node.to_string()),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: Some(conditions),
                container_statuses: Some(vec![ContainerStatus {
                    name: "c".into(),
                    restart_count: restarts,
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn active_pods_order_prefers_deleting_the_least_progressed_pods() {
        // Each row: (earlier-to-delete, later-to-delete, why).
        let rows = [
            (
                pod("a", "", "Pending", None, 0, 0),
                pod("b", "n", "Pending", None, 0, 0),
                "unscheduled first",
            ),
            (
                pod("a", "n", "Pending", None, 0, 0),
                pod("b", "n", "Running", None, 0, 0),
                "pending before running",
            ),
            (
                pod("a", "n", "Unknown", None, 0, 0),
                pod("b", "n", "Running", None, 0, 0),
                "unknown before running",
            ),
            (
                pod("a", "n", "Running", None, 0, 0),
                pod("b", "n", "Running", Some(1), 0, 0),
                "not ready first",
            ),
            (
                pod("a", "n", "Running", Some(9), 0, 0),
                pod("b", "n", "Running", Some(1), 0, 0),
                "ready more recently first",
            ),
            (
                pod("a", "n", "Running", None, 5, 0),
                pod("b", "n", "Running", None, 1, 0),
                "more restarts first",
            ),
            (
                pod("a", "n", "Running", None, 0, 9),
                pod("b", "n", "Running", None, 0, 1),
                "younger first",
            ),
            (
                pod("a", "n", "Running", None, 0, 1),
                pod("b", "n", "Running", None, 0, 1),
                "name breaks ties",
            ),
        ];
        for (first, second, why) in rows {
            assert_eq!(active_pods_order(&first, &second), Ordering::Less, "{why}");
            assert_eq!(
                active_pods_order(&second, &first),
                Ordering::Greater,
                "{why} (reversed)"
            );
        }
    }

    #[test]
    fn finished_time_uses_containers_then_ready_false_then_deletion_then_creation() {
        let mut p = pod("a", "n", "Failed", None, 0, 1);
        assert_eq!(finished_time(&p), at(1), "creation time as the last resort");

        p.metadata.deletion_timestamp = Some(Time(at(50)));
        p.metadata.deletion_grace_period_seconds = Some(30);
        assert_eq!(finished_time(&p), at(20), "deletion minus grace");

        p.status.as_mut().unwrap().conditions = Some(vec![PodCondition {
            type_: "Ready".into(),
            status: "False".into(),
            last_transition_time: Some(Time(at(15))),
            ..Default::default()
        }]);
        assert_eq!(finished_time(&p), at(15), "Ready=False transition");

        let terminated = |t: u64| ContainerStatus {
            name: "c".into(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 1,
                    finished_at: Some(Time(at(t))),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        p.status.as_mut().unwrap().container_statuses = Some(vec![terminated(12), terminated(13)]);
        assert_eq!(finished_time(&p), at(13), "latest container finish");

        let running = ContainerStatus {
            name: "d".into(),
            ..Default::default()
        };
        p.status.as_mut().unwrap().container_statuses = Some(vec![terminated(12), running]);
        assert_eq!(
            finished_time(&p),
            at(15),
            "one container still running: not from containers"
        );
    }

    #[test]
    fn classification_follows_phase_and_deletion() {
        let mut p = pod("a", "n", "Running", Some(1), 0, 0);
        assert!(is_active(&p) && is_ready(&p) && !is_terminating(&p));
        p.metadata.deletion_timestamp = Some(Time(at(5)));
        assert!(!is_active(&p) && is_terminating(&p));
        p.status.as_mut().unwrap().phase = Some("Failed".into());
        assert!(!is_active(&p) && !is_terminating(&p) && is_terminal(&p));
        let bare = Pod::default();
        assert!(
            is_active(&bare),
            "a pod without status is pending, hence active"
        );
        assert_eq!(restart_count_sum(&bare), 0);
    }
}
