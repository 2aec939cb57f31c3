//! Pod status rules, ported from upstream: `getPhase` (`pkg/kubelet/kubelet_pods.go`, with
//! the `ContainerRestartRules` gate off), the kubelet-owned conditions
//! (`pkg/kubelet/status/generate.go`) and the QoS class
//! (`pkg/apis/core/v1/helper/qos`). Pure functions over API types, table-tested.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodCondition};

use crate::resources_helpers::is_restartable;

fn status_of<'a>(statuses: &'a [ContainerStatus], name: &str) -> Option<&'a ContainerStatus> {
    statuses.iter().find(|s| s.name == name)
}

fn state_kind(status: &ContainerStatus) -> (bool, bool, bool) {
    let state = status.state.as_ref();
    (
        state.is_some_and(|s| s.running.is_some()),
        state.is_some_and(|s| s.terminated.is_some()),
        state.is_some_and(|s| s.waiting.is_some()),
    )
}

fn terminated_exit(status: &ContainerStatus) -> Option<i32> {
    status
        .state
        .as_ref()?
        .terminated
        .as_ref()
        .map(|t| t.exit_code)
}

fn last_terminated_exit(status: &ContainerStatus) -> Option<i32> {
    status
        .last_state
        .as_ref()?
        .terminated
        .as_ref()
        .map(|t| t.exit_code)
}

/// Upstream `getPhase`. `statuses` holds init and regular container statuses.
pub fn get_phase(
    pod: &Pod,
    statuses: &[ContainerStatus],
    pod_is_terminal: bool,
    pod_has_initialized: bool,
) -> &'static str {
    let Some(spec) = pod.spec.as_ref() else {
        return "Pending";
    };
    let restart_policy = spec.restart_policy.as_deref().unwrap_or("Always");
    let (mut pending_restartable_init, mut pending_regular_init, mut failed_init) = (0, 0, 0);
    for container in spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| !is_restartable(c))
    {
        let Some(status) = status_of(statuses, &container.name) else {
            pending_regular_init += 1;
            continue;
        };
        match state_kind(status) {
            (true, _, _) => pending_regular_init += 1,
            (_, true, _) => {
                if terminated_exit(status) != Some(0) {
                    failed_init += 1;
                }
            }
            (_, _, true) => match last_terminated_exit(status) {
                Some(code) if code != 0 => failed_init += 1,
                Some(_) => {}
                None => pending_regular_init += 1,
            },
            _ => pending_regular_init += 1,
        }
    }
    let (mut unknown, mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0, 0);
    for container in spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| is_restartable(c))
    {
        let Some(status) = status_of(statuses, &container.name) else {
            unknown += 1;
            continue;
        };
        match state_kind(status) {
            (true, _, _) => {
                if status.started != Some(true) {
                    pending_restartable_init += 1;
                }
                running += 1;
            }
            (_, true, _) => {}
            (_, _, true) => {
                if last_terminated_exit(status).is_none() {
                    pending_restartable_init += 1;
                    waiting += 1;
                }
            }
            _ => {
                pending_restartable_init += 1;
                unknown += 1;
            }
        }
    }
    for container in &spec.containers {
        let Some(status) = status_of(statuses, &container.name) else {
            unknown += 1;
            continue;
        };
        match state_kind(status) {
            (true, _, _) => running += 1,
            (_, true, _) => {
                stopped += 1;
                if terminated_exit(status) == Some(0) {
                    succeeded += 1;
                }
            }
            (_, _, true) => {
                if last_terminated_exit(status).is_some() {
                    stopped += 1;
                } else {
                    waiting += 1;
                }
            }
            _ => unknown += 1,
        }
    }
    if failed_init > 0 && restart_policy == "Never" {
        return "Failed";
    }
    if pending_regular_init > 0
        || (pending_restartable_init > 0 && !pod_has_initialized)
        || waiting > 0
    {
        return "Pending";
    }
    if running > 0 && unknown == 0 {
        return "Running";
    }
    if running == 0 && stopped > 0 && unknown == 0 {
        if pod_is_terminal {
            return if stopped == succeeded {
                "Succeeded"
            } else {
                "Failed"
            };
        }
        return match restart_policy {
            "Always" => "Running",
            _ if stopped == succeeded => "Succeeded",
            "Never" => "Failed",
            _ => "Running",
        };
    }
    "Pending"
}

/// `GetPodQOS`: Guaranteed when every container (init included) sets cpu and memory
/// limits equal to their requests; BestEffort when none sets any cpu or memory request or
/// limit; otherwise Burstable.
pub fn qos_class(pod: &Pod) -> &'static str {
    let Some(spec) = pod.spec.as_ref() else {
        return "BestEffort";
    };
    let mut any = false;
    let mut guaranteed = true;
    for container in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        let resources = container.resources.as_ref();
        let requests = resources.and_then(|r| r.requests.as_ref());
        let limits = resources.and_then(|r| r.limits.as_ref());
        for name in ["cpu", "memory"] {
            let request = requests.and_then(|r| r.get(name)).map(parse);
            let limit = limits.and_then(|l| l.get(name)).map(parse);
            if request.is_some_and(|q| !q.is_zero()) || limit.is_some_and(|q| !q.is_zero()) {
                any = true;
            }
            // A missing request defaults to the limit (API defaulting).
            match (request.or(limit), limit) {
                (Some(r), Some(l)) if r == l && !l.is_zero() => {}
                _ => guaranteed = false,
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn parse(q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity) -> corral_api::Quantity {
    corral_api::Quantity::from_wire(q).unwrap_or(corral_api::Quantity::ZERO)
}

/// A condition without times (the caller stamps transition times).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionFacts {
    pub type_: &'static str,
    pub status: &'static str,
    pub reason: Option<String>,
    pub message: Option<String>,
}

impl ConditionFacts {
    fn new(type_: &'static str, status: &'static str) -> Self {
        ConditionFacts {
            type_,
            status,
            reason: None,
            message: None,
        }
    }

    fn with(mut self, reason: &str, message: Option<String>) -> Self {
        self.reason = Some(reason.to_string());
        self.message = message;
        self
    }
}

fn go_list(names: &[String]) -> String {
    format!("[{}]", names.join(" "))
}

/// `GeneratePodInitializedCondition`.
pub fn initialized_condition(
    pod: &Pod,
    statuses: &[ContainerStatus],
    phase: &str,
) -> ConditionFacts {
    let spec = pod.spec.clone().unwrap_or_default();
    let (mut unknown, mut incomplete) = (Vec::new(), Vec::new());
    for container in spec.init_containers.iter().flatten() {
        let Some(status) = status_of(statuses, &container.name) else {
            unknown.push(container.name.clone());
            continue;
        };
        if is_restartable(container) {
            if status.started != Some(true) {
                incomplete.push(container.name.clone());
            }
        } else if terminated_exit(status) != Some(0) {
            incomplete.push(container.name.clone());
        }
    }
    if phase == "Succeeded" && unknown.is_empty() {
        return ConditionFacts::new("Initialized", "True").with("PodCompleted", None);
    }
    let regular_started = spec.containers.iter().any(|c| {
        status_of(statuses, &c.name).is_some_and(|s| {
            let (running, terminated, _) = state_kind(s);
            running
                || terminated
                || s.last_state
                    .as_ref()
                    .is_some_and(|l| l.terminated.is_some())
        })
    });
    if regular_started {
        return ConditionFacts::new("Initialized", "True");
    }
    let mut messages = Vec::new();
    if !unknown.is_empty() {
        messages.push(format!(
            "containers with unknown status: {}",
            go_list(&unknown)
        ));
    }
    if !incomplete.is_empty() {
        messages.push(format!(
            "containers with incomplete status: {}",
            go_list(&incomplete)
        ));
    }
    if messages.is_empty() {
        ConditionFacts::new("Initialized", "True")
    } else {
        ConditionFacts::new("Initialized", "False")
            .with("ContainersNotInitialized", Some(messages.join(", ")))
    }
}

/// `GenerateContainersReadyCondition`.
pub fn containers_ready_condition(
    pod: &Pod,
    statuses: &[ContainerStatus],
    phase: &str,
) -> ConditionFacts {
    let spec = pod.spec.clone().unwrap_or_default();
    let (mut unknown, mut unready) = (Vec::new(), Vec::new());
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| is_restartable(c));
    for container in sidecars.chain(spec.containers.iter()) {
        match status_of(statuses, &container.name) {
            Some(status) if !status.ready => unready.push(container.name.clone()),
            Some(_) => {}
            None => unknown.push(container.name.clone()),
        }
    }
    if phase == "Succeeded" && unknown.is_empty() {
        return ConditionFacts::new("ContainersReady", "False").with("PodCompleted", None);
    }
    if phase == "Failed" {
        return ConditionFacts::new("ContainersReady", "False").with("PodFailed", None);
    }
    let mut messages = Vec::new();
    if !unknown.is_empty() {
        messages.push(format!(
            "containers with unknown status: {}",
            go_list(&unknown)
        ));
    }
    if !unready.is_empty() {
        messages.push(format!(
            "containers with unready status: {}",
            go_list(&unready)
        ));
    }
    if messages.is_empty() {
        ConditionFacts::new("ContainersReady", "True")
    } else {
        ConditionFacts::new("ContainersReady", "False")
            .with("ContainersNotReady", Some(messages.join(", ")))
    }
}

/// `GeneratePodReadyCondition` (no readiness gates): mirrors ContainersReady.
pub fn ready_condition(containers_ready: &ConditionFacts) -> ConditionFacts {
    ConditionFacts {
        type_: "Ready",
        ..containers_ready.clone()
    }
}

/// Condition types the kubelet owns (others, like DisruptionTarget, are preserved).
pub fn owned_by_kubelet(type_: &str) -> bool {
    matches!(
        type_,
        "PodReadyToStartContainers" | "Initialized" | "Ready" | "ContainersReady" | "PodScheduled"
    )
}

/// Stamps transition times: kept from `previous` when the status is unchanged.
pub fn stamp(
    facts: ConditionFacts,
    previous: &[PodCondition],
    now: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> PodCondition {
    let kept = previous
        .iter()
        .find(|c| c.type_ == facts.type_ && c.status == facts.status)
        .and_then(|c| c.last_transition_time.clone());
    PodCondition {
        type_: facts.type_.to_string(),
        status: facts.status.to_string(),
        reason: facts.reason,
        message: facts.message,
        last_transition_time: Some(kept.unwrap_or(now)),
        last_probe_time: None,
        observed_generation: None,
    }
}

/// Names in a set, for deterministic messages.
pub fn sorted(names: impl IntoIterator<Item = String>) -> Vec<String> {
    names
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}
