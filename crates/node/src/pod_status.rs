//! The status a worker reports (upstream `generateAPIPodStatus` and
//! `convertToAPIContainerStatuses`, plus the status manager's `TerminatePod` defaulting).
//! Times in the status come from the worker's recorded facts (container start and finish,
//! condition transitions), never from "now" alone, so an unchanged pod yields an equal
//! status and no write.

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use corral_core::{Timestamp, clock};

use crate::status::{
    ConditionFacts, containers_ready_condition, get_phase, initialized_condition, owned_by_kubelet,
    qos_class, ready_condition, stamp,
};
use crate::worker::{ContainerKind, ContainerSlot, Instance, PodWorker};

pub const DEADLINE_MESSAGE: &str = "Pod was active on the node longer than the specified deadline";

fn terminated(instance: &Instance) -> Option<ContainerState> {
    let exit = instance.exit.as_ref()?;
    Some(ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: exit.exit_code,
            signal: exit.signal,
            reason: Some(exit.reason.clone()),
            message: exit.message.clone(),
            started_at: Some(Time(instance.started_at)),
            finished_at: Some(Time(exit.finished_at)),
            container_id: non_empty(&instance.container_id),
        }),
        ..Default::default()
    })
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn waiting(reason: &str, message: Option<&str>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_string()),
            message: message.map(str::to_string),
        }),
        ..Default::default()
    }
}

fn container_status(
    slot: &ContainerSlot,
    default_waiting: &str,
    pod_terminal: bool,
) -> ContainerStatus {
    let instance = slot.instance.as_ref();
    let previous_terminated = slot.previous.as_ref().and_then(terminated);
    let (mut state, last_state) = match (&slot.waiting, instance) {
        (Some((reason, message)), _) => {
            let last = instance.and_then(terminated).or(previous_terminated);
            (waiting(reason, Some(message)), last)
        }
        (None, None) => (waiting(default_waiting, None), None),
        (None, Some(i)) if i.exit.is_none() => (
            ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(Time(i.started_at)),
                }),
                ..Default::default()
            },
            previous_terminated,
        ),
        (None, Some(i)) => (terminated(i).unwrap_or_default(), previous_terminated),
    };
    if pod_terminal && slot.kind == ContainerKind::Regular && state.terminated.is_none() {
        // The status manager's TerminatePod: a container without a known end failed.
        state = ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: 137,
                reason: Some("ContainerStatusUnknown".to_string()),
                message: Some(
                    "The container could not be located when the pod was terminated".to_string(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        };
    }
    let running = instance.is_some_and(|i| i.exit.is_none());
    ContainerStatus {
        name: slot.spec.name.clone(),
        image: slot.spec.image.clone().unwrap_or_default(),
        image_id: instance.map(|i| i.image_id.clone()).unwrap_or_default(),
        container_id: instance.and_then(|i| non_empty(&i.container_id)),
        ready: running && slot.ready,
        started: Some(running && slot.started),
        restart_count: slot.restart_count,
        state: Some(state),
        last_state: Some(last_state.unwrap_or_default()),
        ..Default::default()
    }
}

impl PodWorker {
    /// The container statuses (init, regular).
    pub fn container_statuses(&self) -> (Vec<ContainerStatus>, Vec<ContainerStatus>) {
        let has_init = self
            .containers
            .iter()
            .any(|c| c.kind != ContainerKind::Regular);
        let default_waiting = if has_init {
            "PodInitializing"
        } else {
            "ContainerCreating"
        };
        // TerminatePod leaves waiting containers alone when init containers never let the
        // pod initialise: the init failure already explains the pod's failure.
        let initialized = !has_init
            || self
                .containers
                .iter()
                .any(|c| c.kind == ContainerKind::Regular && c.instance.is_some());
        let override_unknown = self.terminal && initialized;
        let mut init = Vec::new();
        let mut regular = Vec::new();
        for slot in &self.containers {
            let status = container_status(slot, default_waiting, override_unknown);
            if slot.kind == ContainerKind::Regular {
                regular.push(status);
            } else {
                init.push(status);
            }
        }
        (init, regular)
    }

    /// The full status, with conditions stamped against `previous` (what was last
    /// reported).
    pub fn status(&self, host_ip: &str, previous: Option<&PodStatus>, now: Timestamp) -> PodStatus {
        let (init, regular) = self.container_statuses();
        let all: Vec<ContainerStatus> = regular.iter().chain(init.iter()).cloned().collect();
        let has_initialized = self
            .containers
            .iter()
            .any(|c| c.kind == ContainerKind::Regular && c.instance.is_some());
        let mut phase = get_phase(&self.pod, &all, self.terminal, has_initialized).to_string();
        let api_status = self.pod.status.as_ref();
        let api_phase = api_status.and_then(|s| s.phase.as_deref());
        let (mut reason, mut message) = (None, None);
        if self.deadline_exceeded {
            phase = "Failed".to_string();
            reason = Some("DeadlineExceeded".to_string());
            message = Some(DEADLINE_MESSAGE.to_string());
        } else if self.terminal
            && !self.static_pod
            && matches!(phase.as_str(), "Pending" | "Running")
        {
            phase = "Failed".to_string();
        }
        if let Some(terminal) = api_phase.filter(|p| matches!(*p, "Succeeded" | "Failed")) {
            phase = terminal.to_string();
        }
        if reason.is_none() && api_phase == Some(phase.as_str()) {
            reason = api_status.and_then(|s| s.reason.clone());
            message = api_status.and_then(|s| s.message.clone());
        }
        let previous_conditions: Vec<PodCondition> = previous
            .and_then(|s| s.conditions.clone())
            .or_else(|| api_status.and_then(|s| s.conditions.clone()))
            .unwrap_or_default();
        let at = Time(clock::truncate_to_seconds(now));
        let mut conditions: Vec<PodCondition> = api_status
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|c| !owned_by_kubelet(&c.type_))
            .collect();
        let sandbox = ConditionFacts {
            type_: "PodReadyToStartContainers",
            status: if self.terminal { "False" } else { "True" },
            reason: None,
            message: None,
        };
        let containers_ready = containers_ready_condition(&self.pod, &all, &phase);
        let facts = [
            sandbox,
            initialized_condition(&self.pod, &all, &phase),
            ready_condition(&containers_ready),
            containers_ready,
            ConditionFacts {
                type_: "PodScheduled",
                status: "True",
                reason: None,
                message: None,
            },
        ];
        for fact in facts {
            conditions.push(stamp(fact, &previous_conditions, at.clone()));
        }
        let host_network = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        let pod_ip = if host_network {
            host_ip.to_string()
        } else {
            self.pod_ip.clone()
        };
        PodStatus {
            phase: Some(phase),
            reason,
            message,
            conditions: Some(conditions),
            host_ip: Some(host_ip.to_string()),
            host_ips: Some(vec![HostIP {
                ip: host_ip.to_string(),
            }]),
            pod_ip: Some(pod_ip.clone()),
            pod_ips: Some(vec![PodIP { ip: pod_ip }]),
            start_time: Some(Time(self.start_time)),
            qos_class: Some(qos_class(&self.pod).to_string()),
            init_container_statuses: (!init.is_empty()).then_some(init),
            container_statuses: Some(regular),
            ..Default::default()
        }
    }
}
