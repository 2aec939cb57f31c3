//! Pods: upstream `printPod` (`pkg/printers/internalversion/printers.go`), the most
//! looked-at row in Kubernetes. READY counts ready running containers plus started sidecars
//! (restartable init containers); STATUS walks init containers, then app containers from
//! last to first, then deletion; RESTARTS adds "(X ago)" from the latest termination.

use corral_api::KubeObject;
use corral_api::meta_types::TableRowCondition;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStatus, Pod, PodCondition, PodSpec, PodStatus,
};

use crate::descriptions as doc;
use crate::duration::{human_duration, since};
use crate::format::{self, string};
use crate::table::{AGE, Cells, Column, NAME, Printer};

const COLUMNS: &[Column] = &[
    NAME,
    Column::string(
        "Ready",
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    Column::string(
        "Status",
        "The aggregate status of the containers in this pod.",
    ),
    Column::string(
        "Restarts",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    Column::string("IP", doc::POD_STATUS_POD_IP).wide(),
    Column::string("Node", doc::POD_SPEC_NODE_NAME).wide(),
    Column::string("Nominated Node", doc::POD_STATUS_NOMINATED_NODE_NAME).wide(),
    Column::string("Readiness Gates", doc::POD_SPEC_READINESS_GATES).wide(),
];

pub(crate) const PRINTER: Printer = Printer {
    columns: COLUMNS,
    cells: pod_cells,
};

/// `node.NodeUnreachablePodReason`: the node controller's reason for pods on a lost node.
const NODE_UNREACHABLE_POD_REASON: &str = "NodeLost";

/// What the READY, STATUS and RESTARTS cells are computed from.
#[derive(Debug, Default)]
struct Summary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: i64,
    last_restart: Option<Timestamp>,
}

/// Upstream `printPod`.
fn pod_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let pod = object.as_typed::<Pod>()?;
    let default_spec = PodSpec::default();
    let default_status = PodStatus::default();
    let spec = pod.spec.as_ref().unwrap_or(&default_spec);
    let status = pod.status.as_ref().unwrap_or(&default_status);
    let summary = summarize(pod, spec, status);
    let mut cells = Cells::new(vec![
        format::name(&pod.metadata),
        string(format!("{}/{}", summary.ready, summary.total)),
        string(summary.reason.clone()),
        string(restarts_cell(&summary, now)),
        format::age(&pod.metadata, now),
    ]);
    cells
        .cells
        .extend(wide_cells(spec, status).into_iter().map(string));
    cells.conditions = row_conditions(status);
    Some(cells)
}

/// Succeeded and Failed pods carry a `Completed` row condition (`podSuccessConditions`,
/// `podFailedConditions`).
fn row_conditions(status: &PodStatus) -> Vec<TableRowCondition> {
    let (reason, message) = match status.phase.as_deref() {
        Some("Succeeded") => ("Succeeded", "The pod has completed successfully."),
        Some("Failed") => ("Failed", "The pod failed."),
        _ => return Vec::new(),
    };
    vec![TableRowCondition {
        type_: "Completed".into(),
        status: "True".into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
    }]
}

/// RESTARTS: the count, with "(X ago)" when a last termination time is known.
fn restarts_cell(summary: &Summary, now: Timestamp) -> String {
    match summary.last_restart {
        Some(last) if summary.restarts != 0 => {
            format!(
                "{} ({} ago)",
                summary.restarts,
                human_duration(since(now, last))
            )
        }
        _ => summary.restarts.to_string(),
    }
}

/// The status walk of `printPod`: phase or reason, init containers, app containers,
/// deletion.
fn summarize(pod: &Pod, spec: &PodSpec, status: &PodStatus) -> Summary {
    let phase = format::text(status.phase.as_ref());
    let mut reason = format::or(format::text(status.reason.as_ref()), phase);
    let conditions = status.conditions.as_deref().unwrap_or_default();
    if conditions
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated"))
    {
        reason = "SchedulingGated".into();
    }
    let init_specs = spec.init_containers.as_deref().unwrap_or_default();
    let sidecars = init_specs
        .iter()
        .filter(|c| is_restartable(Some(c)))
        .count();
    let mut summary = Summary {
        total: spec.containers.len() + sidecars,
        reason,
        ..Summary::default()
    };
    let init = walk_init_containers(init_specs, status, &mut summary);
    if !init.initializing || condition_is_true(conditions, "Initialized") {
        summary.restarts = init.sidecar_restarts;
        summary.last_restart = init.sidecar_last_restart;
        walk_app_containers(status, conditions, &mut summary);
    }
    if pod.metadata.deletion_timestamp.is_some() {
        if status.reason.as_deref() == Some(NODE_UNREACHABLE_POD_REASON) {
            summary.reason = "Unknown".into();
        } else if !matches!(phase, "Succeeded" | "Failed") {
            summary.reason = "Terminating".into();
        }
    }
    summary
}

/// What the init-container walk leaves for the app-container walk.
#[derive(Debug, Default)]
struct InitWalk {
    initializing: bool,
    sidecar_restarts: i64,
    sidecar_last_restart: Option<Timestamp>,
}

/// The init-container loop of `printPod`: counts restarts, readies started sidecars, and
/// stops at the first init container that has not finished, naming its state
/// (`Init:<reason>`, `Init:ExitCode:N`, `Init:Signal:N`, `Init:i/n`).
fn walk_init_containers(
    specs: &[Container],
    status: &PodStatus,
    summary: &mut Summary,
) -> InitWalk {
    let mut walk = InitWalk::default();
    let statuses = status
        .init_container_statuses
        .as_deref()
        .unwrap_or_default();
    for (index, container) in statuses.iter().enumerate() {
        let restartable = is_restartable(find_spec(specs, &container.name));
        let restart_count = i64::from(container.restart_count);
        let finished_at = last_termination(container);
        summary.restarts += restart_count;
        summary.last_restart = later(summary.last_restart, finished_at);
        if restartable {
            walk.sidecar_restarts += restart_count;
            walk.sidecar_last_restart = later(walk.sidecar_last_restart, finished_at);
        }
        let state = container.state.as_ref();
        let terminated = state.and_then(|s| s.terminated.as_ref());
        if terminated.is_some_and(|t| t.exit_code == 0) {
            continue;
        }
        if restartable && container.started == Some(true) {
            if container.ready {
                summary.ready += 1;
            }
            continue;
        }
        summary.reason = init_reason(state, index, specs.len());
        walk.initializing = true;
        break;
    }
    walk
}

/// STATUS for an init container that has not finished: its failure (`Init:<reason>`,
/// `Init:Signal:N`, `Init:ExitCode:N`), its waiting reason, or progress (`Init:i/n`).
fn init_reason(state: Option<&ContainerState>, index: usize, init_containers: usize) -> String {
    let waiting_reason = state
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.as_deref())
        .filter(|r| !r.is_empty() && *r != "PodInitializing");
    match (state.and_then(|s| s.terminated.as_ref()), waiting_reason) {
        (Some(t), _) => match (t.reason.as_deref().filter(|r| !r.is_empty()), t.signal) {
            (Some(reason), _) => format!("Init:{reason}"),
            (None, Some(signal)) if signal != 0 => format!("Init:Signal:{signal}"),
            (None, _) => format!("Init:ExitCode:{}", t.exit_code),
        },
        (None, Some(reason)) => format!("Init:{reason}"),
        (None, None) => format!("Init:{index}/{init_containers}"),
    }
}

/// The app-container loop of `printPod`, last container first: the first container (from
/// the end) with a waiting or terminated reason names the STATUS of the earlier ones.
fn walk_app_containers(status: &PodStatus, conditions: &[PodCondition], summary: &mut Summary) {
    let statuses = status.container_statuses.as_deref().unwrap_or_default();
    let mut has_running = false;
    for container in statuses.iter().rev() {
        summary.restarts += i64::from(container.restart_count);
        summary.last_restart = later(summary.last_restart, last_termination(container));
        let state = container.state.as_ref();
        let waiting = state.and_then(|s| s.waiting.as_ref());
        let terminated = state.and_then(|s| s.terminated.as_ref());
        if let Some(reason) = waiting
            .and_then(|w| w.reason.as_deref())
            .filter(|r| !r.is_empty())
        {
            summary.reason = reason.into();
        } else if let Some(t) = terminated {
            summary.reason = match (t.reason.as_deref().filter(|r| !r.is_empty()), t.signal) {
                (Some(reason), _) => reason.into(),
                (None, Some(signal)) if signal != 0 => format!("Signal:{signal}"),
                (None, _) => format!("ExitCode:{}", t.exit_code),
            };
        } else if container.ready && state.is_some_and(|s| s.running.is_some()) {
            has_running = true;
            summary.ready += 1;
        }
    }
    // A pod whose last container completed while another still runs is not "Completed"
    // (`hasPodReadyCondition`: any Ready=True condition).
    if summary.reason == "Completed" && has_running {
        let ready = conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        summary.reason = if ready {
            "Running".into()
        } else {
            "NotReady".into()
        };
    }
}

/// The wide cells: IP, NODE, NOMINATED NODE, READINESS GATES.
fn wide_cells(spec: &PodSpec, status: &PodStatus) -> [String; 4] {
    let gates = spec.readiness_gates.as_deref().unwrap_or_default();
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = status.conditions.as_deref().unwrap_or_default();
        let ready = gates
            .iter()
            .filter(|gate| {
                conditions
                    .iter()
                    .find(|c| c.type_ == gate.condition_type)
                    .is_some_and(|c| c.status == "True")
            })
            .count();
        format!("{ready}/{}", gates.len())
    };
    [
        format::or(pod_ip(status), "<none>"),
        format::or(format::text(spec.node_name.as_ref()), "<none>"),
        format::or(format::text(status.nominated_node_name.as_ref()), "<none>"),
        readiness_gates,
    ]
}

/// The first pod IP. Decoding a v1 Pod into upstream's internal type makes `podIP`
/// authoritative over `podIPs[0]` (`Convert_v1_PodStatus_To_core_PodStatus`).
fn pod_ip(status: &PodStatus) -> &str {
    match status.pod_ip.as_deref().filter(|ip| !ip.is_empty()) {
        Some(ip) => ip,
        None => status
            .pod_ips
            .as_deref()
            .and_then(|ips| ips.first())
            .map_or("", |ip| ip.ip.as_str()),
    }
}

/// `podutil.IsRestartableInitContainer`: an init container with `restartPolicy: Always`.
fn is_restartable(container: Option<&Container>) -> bool {
    container.is_some_and(|c| c.restart_policy.as_deref() == Some("Always"))
}

/// The spec of a named init container (upstream indexes them in a map: the last one wins).
fn find_spec<'a>(specs: &'a [Container], name: &str) -> Option<&'a Container> {
    specs.iter().rev().find(|c| c.name == name)
}

/// `lastState.terminated.finishedAt`, unless it is Go's zero time.
fn last_termination(container: &ContainerStatus) -> Option<Timestamp> {
    let terminated = container
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref());
    format::non_zero(terminated.and_then(|t| t.finished_at.as_ref()))
}

fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    a.max(b)
}

/// `isPodInitializedConditionTrue`: the first condition of the type decides.
fn condition_is_true(conditions: &[PodCondition], type_: &str) -> bool {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .is_some_and(|c| c.status == "True")
}
