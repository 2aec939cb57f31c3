//! The fake kubelet: a pod's status as a pure function of its scripted [`Behaviour`],
//! its creation time and `now`, with the container states, exit codes, `finishedAt`
//! times, Ready conditions and restart counts the Job controller reads.

use std::time::Duration;

use corral_core::Timestamp;
use corral_core::clock::add;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, Pod, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::job::pods;

/// What the fake kubelet does with a pod, from its creation on.
#[derive(Clone, Debug, PartialEq)]
pub enum Behaviour {
    /// Runs (and is Ready) at once, exits with `exit_code` after `run`.
    Exit { run: Duration, exit_code: i32 },
    /// Runs until deleted.
    Run,
    /// Never starts (an image that cannot be pulled).
    Pending,
    /// `restartPolicy: OnFailure` crash loop: first exit after `run`, restarted in place
    /// at 0, 10, 30, 70, 150, 310 … s after it; the phase stays Running.
    CrashLoop { run: Duration },
    /// Fails after `run` with this pod condition set (e.g. `DisruptionTarget`).
    Disrupted {
        run: Duration,
        condition: &'static str,
    },
}

/// The status the kubelet reports for `pod` at `now`.
pub fn kubelet_status(
    behaviour: &Behaviour,
    pod: &Pod,
    created: Timestamp,
    now: Timestamp,
    grace: Duration,
) -> PodStatus {
    if let Some(current) = pod.status.as_ref().filter(|_| pods::is_terminal(pod)) {
        return current.clone(); // Terminal phases never change.
    }
    if let Some(deleted) = pod.metadata.deletion_timestamp.as_ref() {
        let killed = add(deleted.0, grace);
        if now >= killed {
            return terminated(pods::PHASE_FAILED, 137, killed, created, None);
        }
    }
    match behaviour {
        Behaviour::Pending => PodStatus {
            phase: Some(pods::PHASE_PENDING.into()),
            container_statuses: Some(vec![container(
                ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some("ImagePullBackOff".into()),
                        message: None,
                    }),
                    ..Default::default()
                },
                0,
            )]),
            ..Default::default()
        },
        Behaviour::Run => running(created, 0, true),
        Behaviour::Exit { run, exit_code } => {
            let end = add(created, *run);
            if now < end {
                return running(created, 0, true);
            }
            let phase = if *exit_code == 0 {
                pods::PHASE_SUCCEEDED
            } else {
                pods::PHASE_FAILED
            };
            terminated(phase, *exit_code, end, created, None)
        }
        Behaviour::Disrupted { run, condition } => {
            let end = add(created, *run);
            if now < end {
                return running(created, 0, true);
            }
            terminated(pods::PHASE_FAILED, 137, end, created, Some(condition))
        }
        Behaviour::CrashLoop { run } => {
            let first_exit = add(created, *run);
            if now < first_exit {
                return running(created, 0, true);
            }
            let restarts = crash_loop_restarts(first_exit)
                .into_iter()
                .filter(|t| *t <= now)
                .count();
            running(created, i32::try_from(restarts).unwrap_or(i32::MAX), false)
        }
    }
}

/// Upcoming times at which `kubelet_status` changes, in order.
pub fn transition_times(
    behaviour: &Behaviour,
    pod: &Pod,
    created: Timestamp,
    grace: Duration,
) -> Vec<Timestamp> {
    if pods::is_terminal(pod) {
        return Vec::new();
    }
    let mut times = vec![created];
    if let Some(deleted) = pod.metadata.deletion_timestamp.as_ref() {
        times.push(add(deleted.0, grace));
    }
    match behaviour {
        Behaviour::Exit { run, .. } | Behaviour::Disrupted { run, .. } => {
            times.push(add(created, *run))
        }
        Behaviour::CrashLoop { run } => {
            let first_exit = add(created, *run);
            times.push(first_exit);
            times.extend(crash_loop_restarts(first_exit));
        }
        Behaviour::Run | Behaviour::Pending => {}
    }
    times.sort();
    times
}

/// Restart times of a crash loop: the first at once, then after 10, 20, 40 … s (cap 300).
fn crash_loop_restarts(first_exit: Timestamp) -> Vec<Timestamp> {
    let mut times = vec![first_exit];
    let mut offset = 0u64;
    let mut delay = 10u64;
    for _ in 0..40 {
        offset += delay;
        times.push(add(first_exit, Duration::from_secs(offset)));
        delay = (delay * 2).min(300);
    }
    times
}

fn container(state: ContainerState, restarts: i32) -> ContainerStatus {
    ContainerStatus {
        name: "main".into(),
        image: "busybox".into(),
        image_id: String::new(),
        restart_count: restarts,
        ready: state.running.is_some(),
        state: Some(state),
        ..Default::default()
    }
}

fn ready_condition(status: &str, at: Timestamp) -> PodCondition {
    PodCondition {
        type_: "Ready".into(),
        status: status.into(),
        last_transition_time: Some(Time(at)),
        ..Default::default()
    }
}

fn running(created: Timestamp, restarts: i32, ready: bool) -> PodStatus {
    let state = ContainerState {
        running: Some(ContainerStateRunning {
            started_at: Some(Time(created)),
        }),
        ..Default::default()
    };
    PodStatus {
        phase: Some(pods::PHASE_RUNNING.into()),
        conditions: Some(vec![ready_condition(
            if ready { "True" } else { "False" },
            created,
        )]),
        container_statuses: Some(vec![container(state, restarts)]),
        ..Default::default()
    }
}

fn terminated(
    phase: &str,
    exit_code: i32,
    at: Timestamp,
    created: Timestamp,
    condition: Option<&str>,
) -> PodStatus {
    let state = ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code,
            finished_at: Some(Time(at)),
            started_at: Some(Time(created)),
            reason: Some(if exit_code == 0 { "Completed" } else { "Error" }.into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut conditions = vec![ready_condition("False", at)];
    if let Some(condition) = condition {
        conditions.push(PodCondition {
            type_: condition.into(),
            status: "True".into(),
            last_transition_time: Some(Time(at)),
            ..Default::default()
        });
    }
    PodStatus {
        phase: Some(phase.into()),
        conditions: Some(conditions),
        container_statuses: Some(vec![container(state, 0)]),
        ..Default::default()
    }
}

pub fn container_finished_at(pod: &Pod) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find_map(|c| {
            c.state
                .as_ref()?
                .terminated
                .as_ref()?
                .finished_at
                .as_ref()
                .map(|t| t.0)
        })
}
