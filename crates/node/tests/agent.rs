//! Node agent timelines in virtual time.
//!
//! Goal: the kubelet behaviours of spec §4 and §7.2 (image pull backoff, CrashLoopBackOff,
//! restart policies, init containers, sidecars, probes, deadlines, graceful deletion).
//! Method: a scripted runtime executes the agent's commands (each container follows a
//! behaviour), the harness jumps time to the next wakeup or runtime event, and the tests
//! assert on the recorded commands, statuses and events. No sleeps.

use std::collections::BTreeMap;
use std::time::Duration;

use corral_core::Timestamp;
use corral_core::clock::{self, epoch};
use corral_core::plan::{Action, EventRecord};
use corral_node::runtime::PulledImage;
use corral_node::{
    ImageAvailability, ImageCatalog, NodeAgentCore, NodeConfig, ProbeKind, RuntimeCommand,
    RuntimeEvent, Signal, StatusUpdate,
};
use k8s_openapi::api::core::v1::{Container, ExecAction, Pod, PodSpec, PodStatus, Probe};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

#[derive(Debug)]
struct Catalog;

impl ImageCatalog for Catalog {
    fn resolve(&self, image: &str) -> ImageAvailability {
        if image.starts_with("missing") {
            ImageAvailability::Unknown
        } else if image.starts_with("remote") {
            ImageAvailability::Pullable
        } else {
            ImageAvailability::Present {
                image_id: format!("sha256:{image}"),
            }
        }
    }
}

/// What a container does when started.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// Exits with this code after this many seconds.
    Exit(u64, i32),
    /// Runs until killed; exits 143 on SIGTERM.
    Run,
    /// Runs and ignores SIGTERM (exits 137 on SIGKILL).
    Stubborn,
    /// Killed by the OOM killer after this many seconds.
    Oom(u64),
    /// The command does not exist.
    NotFound,
}

struct Harness {
    agent: NodeAgentCore,
    now: Timestamp,
    behaviours: BTreeMap<String, Behaviour>,
    /// Probe results per (container, kind): true = success; cycles through the list.
    probes: BTreeMap<(String, ProbeKind), Vec<bool>>,
    pending: BTreeMap<(Timestamp, u64), RuntimeEvent>,
    sequence: u64,
    commands: Vec<(u64, RuntimeCommand)>,
    statuses: Vec<(u64, StatusUpdate)>,
    events: Vec<(u64, EventRecord)>,
    actions: Vec<(u64, Action)>,
    running: BTreeMap<String, String>,
    probe_count: BTreeMap<(String, ProbeKind), usize>,
}

impl Harness {
    fn new(behaviours: &[(&str, Behaviour)]) -> Self {
        Harness {
            agent: NodeAgentCore::new(NodeConfig::new("node-1", "10.0.0.1"), Box::new(Catalog)),
            now: epoch(),
            behaviours: behaviours
                .iter()
                .map(|(n, b)| (n.to_string(), *b))
                .collect(),
            probes: BTreeMap::new(),
            pending: BTreeMap::new(),
            sequence: 0,
            commands: Vec::new(),
            statuses: Vec::new(),
            events: Vec::new(),
            actions: Vec::new(),
            running: BTreeMap::new(),
            probe_count: BTreeMap::new(),
        }
    }

    fn t(&self) -> u64 {
        clock::since(self.now, epoch()).as_secs()
    }

    fn schedule(&mut self, after: u64, event: RuntimeEvent) {
        self.sequence += 1;
        self.pending.insert(
            (
                clock::add(self.now, Duration::from_secs(after)),
                self.sequence,
            ),
            event,
        );
    }

    fn execute(&mut self, command: &RuntimeCommand) {
        match command.clone() {
            RuntimeCommand::PullImage { pod_uid, image } => {
                let result = if image.starts_with("missing") {
                    Err(format!(
                        "rpc error: code = NotFound desc = failed to resolve reference \"{image}\""
                    ))
                } else {
                    Ok(PulledImage {
                        image_id: format!("sha256:{image}"),
                        size_bytes: 1000,
                    })
                };
                self.schedule(
                    0,
                    RuntimeEvent::ImagePulled {
                        pod_uid,
                        image,
                        result,
                    },
                );
            }
            RuntimeCommand::StartContainer {
                pod_uid,
                container,
                restart_count,
                ..
            } => {
                let name = container.name.clone();
                let id = format!("containerd://{name}-{restart_count}");
                let behaviour = self
                    .behaviours
                    .get(&name)
                    .copied()
                    .unwrap_or(Behaviour::Run);
                if let Behaviour::NotFound = behaviour {
                    let message = "failed to create containerd task: exec: \"nope\": executable file not found in $PATH".to_string();
                    self.schedule(
                        0,
                        RuntimeEvent::ContainerStartFailed {
                            pod_uid,
                            container: name,
                            reason: "StartError".into(),
                            message,
                        },
                    );
                    return;
                }
                self.running.insert(name.clone(), id.clone());
                let image_id = format!("sha256:{}", container.image.unwrap_or_default());
                self.schedule(
                    0,
                    RuntimeEvent::ContainerStarted {
                        pod_uid: pod_uid.clone(),
                        container: name.clone(),
                        container_id: id.clone(),
                        image_id,
                    },
                );
                match behaviour {
                    Behaviour::Exit(after, code) => {
                        self.schedule(after, exited(&pod_uid, &name, &id, code, false))
                    }
                    Behaviour::Oom(after) => {
                        self.schedule(after, exited(&pod_uid, &name, &id, 137, true))
                    }
                    _ => {}
                }
            }
            RuntimeCommand::KillContainer {
                pod_uid,
                container,
                container_id,
                signal,
                ..
            } => {
                let behaviour = self
                    .behaviours
                    .get(&container)
                    .copied()
                    .unwrap_or(Behaviour::Run);
                match (signal, behaviour) {
                    (Signal::Term, Behaviour::Stubborn) => {}
                    (Signal::Term, _) => {
                        self.schedule(0, exited(&pod_uid, &container, &container_id, 143, false))
                    }
                    (Signal::Kill, _) => {
                        self.schedule(0, exited(&pod_uid, &container, &container_id, 137, false))
                    }
                }
            }
            RuntimeCommand::RunProbe {
                pod_uid,
                container,
                container_id,
                kind,
                ..
            } => {
                let results = self
                    .probes
                    .get(&(container.clone(), kind))
                    .cloned()
                    .unwrap_or_else(|| vec![true]);
                let count = self
                    .probe_count
                    .entry((container.clone(), kind))
                    .or_insert(0);
                let success = results[(*count).min(results.len() - 1)];
                *count += 1;
                self.schedule(
                    0,
                    RuntimeEvent::ProbeResult {
                        pod_uid,
                        container,
                        container_id,
                        kind,
                        success,
                        output: "exit status 1".into(),
                    },
                );
            }
        }
    }

    fn drain(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(command) = self.agent.poll_runtime_command(self.now) {
                self.commands.push((self.t(), command.clone()));
                self.execute(&command);
                progressed = true;
            }
            while let Some(update) = self.agent.poll_status_update(self.now) {
                self.statuses.push((self.t(), update));
                progressed = true;
            }
            while let Some(event) = self.agent.poll_event(self.now) {
                self.events.push((self.t(), event));
                progressed = true;
            }
            while let Some(action) = self.agent.poll_api_action(self.now) {
                self.actions.push((self.t(), action));
                progressed = true;
            }
            let due: Vec<(Timestamp, u64)> = self
                .pending
                .range(..=(self.now, u64::MAX))
                .map(|(k, _)| *k)
                .collect();
            for key in due {
                let event = self.pending.remove(&key).unwrap();
                self.agent.handle_runtime_event(event, self.now);
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
    }

    /// Runs until `seconds` of virtual time (bounded steps).
    fn run_until(&mut self, seconds: u64) {
        let end = clock::add(epoch(), Duration::from_secs(seconds));
        for _ in 0..100_000 {
            self.drain();
            let next = [
                self.agent.next_wakeup(),
                self.pending.keys().next().map(|(t, _)| *t),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= end => self.now = t.max(self.now),
                _ => {
                    self.now = end;
                    self.drain();
                    return;
                }
            }
        }
        panic!("livelock: step budget exhausted");
    }

    fn add(&mut self, pod: &Pod) {
        self.agent.handle_pod_update(pod, self.now);
    }

    fn last_status(&self) -> PodStatus {
        self.statuses
            .last()
            .expect("a status was written")
            .1
            .status
            .clone()
    }

    fn command_times(&self, filter: impl Fn(&RuntimeCommand) -> bool) -> Vec<u64> {
        self.commands
            .iter()
            .filter(|(_, c)| filter(c))
            .map(|(t, _)| *t)
            .collect()
    }

    fn event_count(&self, reason: &str) -> usize {
        self.events
            .iter()
            .filter(|(_, e)| e.reason == reason)
            .count()
    }
}

fn exited(pod_uid: &corral_api::Uid, name: &str, id: &str, code: i32, oom: bool) -> RuntimeEvent {
    RuntimeEvent::ContainerExited {
        pod_uid: pod_uid.clone(),
        container: name.to_string(),
        container_id: id.to_string(),
        exit_code: code,
        signal: None,
        oom_killed: oom,
    }
}

fn container(name: &str, image: &str) -> Container {
    Container {
        name: name.into(),
        image: Some(image.into()),
        ..Default::default()
    }
}

fn pod(restart_policy: &str, containers: Vec<Container>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("p".into()),
            namespace: Some("ns".into()),
            uid: Some("uid-1".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some("node-1".into()),
            restart_policy: Some(restart_policy.into()),
            containers,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn phase(status: &PodStatus) -> &str {
    status.phase.as_deref().unwrap_or("")
}

fn main_state(status: &PodStatus) -> k8s_openapi::api::core::v1::ContainerStatus {
    status.container_statuses.as_ref().unwrap()[0].clone()
}

fn is_start(c: &RuntimeCommand) -> bool {
    matches!(c, RuntimeCommand::StartContainer { .. })
}

#[test]
fn a_missing_image_is_pulled_at_0_10_30_70_150_310_then_every_300_seconds_and_the_pod_stays_pending()
 {
    let mut h = Harness::new(&[]);
    h.add(&pod("Never", vec![container("main", "missing:1")]));
    h.run_until(1000);
    let pulls = h.command_times(|c| matches!(c, RuntimeCommand::PullImage { .. }));
    assert_eq!(pulls, [0, 10, 30, 70, 150, 310, 610, 910]);
    let status = h.last_status();
    assert_eq!(phase(&status), "Pending");
    let waiting = main_state(&status).state.unwrap().waiting.unwrap();
    assert_eq!(waiting.reason.as_deref(), Some("ImagePullBackOff"));
    assert_eq!(
        waiting.message.as_deref(),
        Some("Back-off pulling image \"missing:1\"")
    );
    // Both waiting reasons were reported along the way.
    let reasons: Vec<String> = h
        .statuses
        .iter()
        .filter_map(|(_, u)| {
            main_state(&u.status)
                .state
                .unwrap()
                .waiting
                .and_then(|w| w.reason)
        })
        .collect();
    assert!(reasons.contains(&"ErrImagePull".to_string()));
    assert!(h.events.iter().any(|(_, e)| {
        e.reason == "Failed"
            && e.message
                .starts_with("Failed to pull image \"missing:1\": ")
    }));
    assert!(
        h.events
            .iter()
            .any(|(_, e)| e.reason == "Failed" && e.message == "Error: ErrImagePull")
    );
    assert!(
        h.events
            .iter()
            .any(|(_, e)| e.reason == "BackOff"
                && e.message == "Back-off pulling image \"missing:1\"")
    );
    assert!(
        h.events
            .iter()
            .all(|(_, e)| e.component == "kubelet" && e.host.as_deref() == Some("node-1"))
    );
    assert!(h.commands.iter().all(|(_, c)| !is_start(c)));
}

#[test]
fn crash_loop_restarts_at_0_10_30_70_150_310_seconds_after_the_first_exit() {
    let mut h = Harness::new(&[("main", Behaviour::Exit(0, 1))]);
    h.add(&pod("Always", vec![container("main", "busybox:1")]));
    h.run_until(700);
    let starts = h.command_times(is_start);
    assert_eq!(starts, [0, 0, 10, 30, 70, 150, 310, 610]);
    let status = h.last_status();
    assert_eq!(phase(&status), "Running");
    let main = main_state(&status);
    let waiting = main.state.unwrap().waiting.unwrap();
    assert_eq!(waiting.reason.as_deref(), Some("CrashLoopBackOff"));
    assert_eq!(
        waiting.message.as_deref(),
        Some("back-off 5m0s restarting failed container=main pod=p_ns(uid-1)")
    );
    assert_eq!(main.restart_count, 7);
    assert_eq!(
        main.last_state
            .unwrap()
            .terminated
            .unwrap()
            .reason
            .as_deref(),
        Some("Error")
    );
    assert!(h.events.iter().any(|(_, e)| e.reason == "BackOff"
        && e.message == "Back-off restarting failed container main in pod p_ns(uid-1)"));
}

#[test]
fn on_failure_restart_counts_rise_one_per_restart_while_the_pod_stays_running() {
    let mut h = Harness::new(&[("main", Behaviour::Exit(0, 1))]);
    h.add(&pod("OnFailure", vec![container("main", "busybox:1")]));
    h.run_until(320);
    let counts: Vec<i32> = h
        .statuses
        .iter()
        .map(|(_, u)| main_state(&u.status).restart_count)
        .collect();
    let mut distinct = counts.clone();
    distinct.dedup();
    assert_eq!(distinct, [0, 1, 2, 3, 4, 5, 6]);
    assert!(
        h.statuses
            .iter()
            .skip(1)
            .all(|(_, u)| matches!(phase(&u.status), "Running" | "Pending"))
    );
    assert_eq!(phase(&h.last_status()), "Running");
}

#[test]
fn on_failure_pods_that_exit_zero_succeed() {
    let mut h = Harness::new(&[("main", Behaviour::Exit(5, 0))]);
    h.add(&pod("OnFailure", vec![container("main", "busybox:1")]));
    h.run_until(60);
    let status = h.last_status();
    assert_eq!(phase(&status), "Succeeded");
    let terminated = main_state(&status).state.unwrap().terminated.unwrap();
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (0, Some("Completed"))
    );
}

#[test]
fn never_with_exit_one_fails_the_pod_without_restarting() {
    let mut h = Harness::new(&[("main", Behaviour::Exit(3, 1))]);
    h.add(&pod("Never", vec![container("main", "busybox:1")]));
    h.run_until(100);
    assert_eq!(h.command_times(is_start), [0]);
    let status = h.last_status();
    assert_eq!(phase(&status), "Failed");
    let main = main_state(&status);
    assert_eq!(main.state.unwrap().terminated.unwrap().exit_code, 1);
    let ready = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("False", Some("PodFailed"))
    );
}

#[test]
fn an_oom_killed_container_reports_reason_oom_killed() {
    let mut h = Harness::new(&[("main", Behaviour::Oom(2))]);
    h.add(&pod("Never", vec![container("main", "busybox:1")]));
    h.run_until(10);
    let terminated = main_state(&h.last_status())
        .state
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (137, Some("OOMKilled"))
    );
}

#[test]
fn a_command_that_cannot_start_is_a_start_error_with_exit_code_128() {
    let mut h = Harness::new(&[("main", Behaviour::NotFound)]);
    h.add(&pod("Never", vec![container("main", "busybox:1")]));
    h.run_until(10);
    let status = h.last_status();
    assert_eq!(phase(&status), "Failed");
    let terminated = main_state(&status).state.unwrap().terminated.unwrap();
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (128, Some("StartError"))
    );
    assert!(
        terminated
            .message
            .unwrap()
            .contains("executable file not found")
    );
}

#[test]
fn a_failed_init_container_under_never_fails_the_pod_and_the_main_container_never_starts() {
    let mut h = Harness::new(&[("init", Behaviour::Exit(1, 2))]);
    let mut p = pod("Never", vec![container("main", "busybox:1")]);
    p.spec.as_mut().unwrap().init_containers = Some(vec![container("init", "busybox:1")]);
    h.add(&p);
    let first = h.agent.poll_status_update(h.now).unwrap().status;
    assert_eq!(
        main_state(&first)
            .state
            .unwrap()
            .waiting
            .unwrap()
            .reason
            .as_deref(),
        Some("PodInitializing")
    );
    h.run_until(30);
    let starts: Vec<String> = h
        .commands
        .iter()
        .filter_map(|(_, c)| match c {
            RuntimeCommand::StartContainer { container, .. } => Some(container.name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(starts, ["init"]);
    let status = h.last_status();
    assert_eq!(phase(&status), "Failed");
    let initialized = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Initialized")
        .unwrap();
    assert_eq!(initialized.status, "False");
    assert_eq!(
        initialized.message.as_deref(),
        Some("containers with incomplete status: [init]")
    );
}

#[test]
fn init_containers_run_in_order_before_the_main_container() {
    let mut h = Harness::new(&[
        ("a", Behaviour::Exit(2, 0)),
        ("b", Behaviour::Exit(3, 0)),
        ("main", Behaviour::Exit(1, 0)),
    ]);
    let mut p = pod("Never", vec![container("main", "busybox:1")]);
    p.spec.as_mut().unwrap().init_containers = Some(vec![
        container("a", "busybox:1"),
        container("b", "busybox:1"),
    ]);
    h.add(&p);
    h.run_until(30);
    let starts: Vec<(u64, String)> = h
        .commands
        .iter()
        .filter_map(|(t, c)| match c {
            RuntimeCommand::StartContainer { container, .. } => Some((*t, container.name.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        starts,
        [
            (0, "a".to_string()),
            (2, "b".to_string()),
            (5, "main".to_string())
        ]
    );
    assert_eq!(phase(&h.last_status()), "Succeeded");
}

#[test]
fn a_native_sidecar_keeps_running_and_is_stopped_after_the_main_container_completes() {
    let mut h = Harness::new(&[("proxy", Behaviour::Run), ("main", Behaviour::Exit(20, 0))]);
    let mut sidecar = container("proxy", "busybox:1");
    sidecar.restart_policy = Some("Always".into());
    let mut p = pod("Never", vec![container("main", "busybox:1")]);
    p.spec.as_mut().unwrap().init_containers = Some(vec![sidecar]);
    h.add(&p);
    h.run_until(10);
    assert_eq!(phase(&h.last_status()), "Running");
    h.run_until(60);
    let kills: Vec<(u64, String)> = h
        .commands
        .iter()
        .filter_map(|(t, c)| match c {
            RuntimeCommand::KillContainer {
                container,
                signal: Signal::Term,
                ..
            } => Some((*t, container.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(kills, [(20, "proxy".to_string())]);
    let status = h.last_status();
    assert_eq!(phase(&status), "Succeeded");
    let ready_to_start = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "PodReadyToStartContainers")
        .unwrap();
    assert_eq!(ready_to_start.status, "False");
}

fn exec_probe(period: i32, failure_threshold: i32) -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(vec!["true".into()]),
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failure_threshold),
        ..Default::default()
    }
}

#[test]
fn a_failing_liveness_probe_kills_and_restarts_the_container() {
    let mut h = Harness::new(&[("main", Behaviour::Run)]);
    h.probes.insert(
        ("main".into(), ProbeKind::Liveness),
        vec![true, false, false, false, true],
    );
    let mut c = container("main", "busybox:1");
    c.liveness_probe = Some(exec_probe(10, 3));
    h.add(&pod("Always", vec![c]));
    h.run_until(45);
    // Probes at 0 (ok), 10, 20, 30 (three failures) → kill at 30, restart at once.
    assert_eq!(
        h.command_times(|c| matches!(c, RuntimeCommand::KillContainer { .. })),
        [30]
    );
    assert_eq!(h.command_times(is_start), [0, 30]);
    assert_eq!(h.event_count("Unhealthy"), 3);
    assert!(h.events.iter().any(|(_, e)| e.reason == "Killing"
        && e.message == "Container main failed liveness probe, will be restarted"));
    assert_eq!(main_state(&h.last_status()).restart_count, 1);
}

#[test]
fn a_readiness_probe_toggles_the_ready_condition() {
    let mut h = Harness::new(&[("main", Behaviour::Run)]);
    h.probes.insert(
        ("main".into(), ProbeKind::Readiness),
        vec![true, false, true],
    );
    let mut c = container("main", "busybox:1");
    c.readiness_probe = Some(exec_probe(10, 1));
    h.add(&pod("Always", vec![c]));
    let ready_at = |h: &Harness, t: u64| {
        let status = &h
            .statuses
            .iter()
            .rfind(|(at, _)| *at <= t)
            .unwrap()
            .1
            .status;
        status
            .conditions
            .clone()
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap()
            .status
    };
    h.run_until(25);
    assert_eq!(ready_at(&h, 0), "True");
    assert_eq!(ready_at(&h, 10), "False");
    assert_eq!(ready_at(&h, 20), "True");
}

#[test]
fn the_active_deadline_fails_the_pod_with_deadline_exceeded() {
    let mut h = Harness::new(&[("main", Behaviour::Run)]);
    let mut p = pod("Never", vec![container("main", "busybox:1")]);
    p.spec.as_mut().unwrap().active_deadline_seconds = Some(30);
    h.add(&p);
    h.run_until(100);
    assert_eq!(
        h.command_times(|c| matches!(c, RuntimeCommand::KillContainer { .. })),
        [30]
    );
    let status = h.last_status();
    assert_eq!(phase(&status), "Failed");
    assert_eq!(status.reason.as_deref(), Some("DeadlineExceeded"));
    assert_eq!(
        status.message.as_deref(),
        Some("Pod was active on the node longer than the specified deadline")
    );
}

#[test]
fn graceful_deletion_sends_sigterm_then_sigkill_after_the_grace_period_then_deletes_with_grace_zero()
 {
    let mut h = Harness::new(&[("main", Behaviour::Stubborn)]);
    let p = pod("Always", vec![container("main", "busybox:1")]);
    h.add(&p);
    h.run_until(10);
    let mut deleting = p.clone();
    deleting.metadata.deletion_timestamp = Some(Time(h.now));
    deleting.metadata.deletion_grace_period_seconds = Some(30);
    h.add(&deleting);
    h.run_until(100);
    let kills: Vec<(u64, Signal)> = h
        .commands
        .iter()
        .filter_map(|(t, c)| match c {
            RuntimeCommand::KillContainer { signal, .. } => Some((*t, *signal)),
            _ => None,
        })
        .collect();
    assert_eq!(kills, [(10, Signal::Term), (40, Signal::Kill)]);
    assert!(
        h.events.iter().any(|(t, e)| *t == 10
            && e.reason == "Killing"
            && e.message == "Stopping container main")
    );
    let deletes: Vec<&(u64, Action)> = h
        .actions
        .iter()
        .filter(|(_, a)| matches!(a, Action::Delete { .. }))
        .collect();
    assert_eq!(deletes.len(), 1);
    assert!(matches!(
        &deletes[0].1,
        Action::Delete {
            grace_period_seconds: Some(0),
            ..
        }
    ));
    assert_eq!(deletes[0].0, 40);
    // The final status (Failed: killed with 137) went out before the delete.
    let last_status_time = h.statuses.last().unwrap().0;
    assert!(last_status_time <= 40);
    assert_eq!(phase(&h.last_status()), "Failed");
}

#[test]
fn statuses_are_written_only_when_something_changed() {
    let mut h = Harness::new(&[("main", Behaviour::Run)]);
    h.add(&pod("Always", vec![container("main", "busybox:1")]));
    h.run_until(1000);
    assert_eq!(
        h.statuses.len(),
        2,
        "ContainerCreating, then Running; heartbeats write no pod status"
    );
    let status = h.last_status();
    assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));
    assert_eq!(status.host_ip.as_deref(), Some("10.0.0.1"));
    assert_eq!(status.pod_ip.as_deref(), Some("10.244.0.2"));
    assert!(h.events.iter().any(|(_, e)| e.reason == "Pulled"
        && e.message == "Container image \"busybox:1\" already present on machine"));
}

#[test]
fn the_agent_renews_its_lease_every_ten_seconds_and_reports_node_status() {
    let mut h = Harness::new(&[]);
    h.run_until(35);
    let lease: Vec<u64> = h
        .actions
        .iter()
        .filter(|(_, a)| {
            a.key()
                .is_some_and(|k| k.kind == corral_api::ResourceKind::Lease)
        })
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(lease, [0, 10, 20, 30]);
    assert!(matches!(h.actions[0].1, Action::Create { .. }));
    assert!(h.actions.iter().any(|(_, a)| matches!(a, Action::Patch { key, .. } if key.kind == corral_api::ResourceKind::Node)));
}

#[test]
fn a_static_pod_runs_and_gets_a_mirror_pod_owned_by_the_node() {
    let mut h = Harness::new(&[("main", Behaviour::Run)]);
    let mut p = pod("Always", vec![container("main", "busybox:1")]);
    p.metadata.uid = None;
    p.spec.as_mut().unwrap().node_name = None;
    h.agent.handle_static_pod(&p, h.now);
    h.run_until(5);
    let mirror = h
        .actions
        .iter()
        .find_map(|(_, a)| match a {
            Action::Create { object } if object.kind() == corral_api::ResourceKind::Pod => {
                Some(object.clone())
            }
            _ => None,
        })
        .expect("a mirror pod is created");
    let meta = mirror.meta();
    assert!(
        meta.annotations
            .as_ref()
            .unwrap()
            .contains_key("kubernetes.io/config.mirror")
    );
    assert_eq!(meta.owner_references.as_ref().unwrap()[0].kind, "Node");
    assert_eq!(phase(&h.last_status()), "Running");
    assert!(h.statuses.last().unwrap().1.uid.is_none());
}

/// Goal: the agent forgets a pod that finished on its own once the pod leaves the API (the
/// Job's history limit or the garbage collector deleted it). Method: a `Never` pod exits 0,
/// its final status is reported, the API removes it; the agent tracks no pod afterwards,
/// issues no `Delete` of its own, and a second finished-then-removed pod goes the same way
/// (a leak would grow by one entry per finished pod, in memory and in every poll's walk).
#[test]
fn a_pod_that_finished_by_itself_is_forgotten_when_it_leaves_the_api() {
    let mut h = Harness::new(&[("main", Behaviour::Exit(5, 0))]);
    for (round, uid) in ["uid-a", "uid-b"].into_iter().enumerate() {
        let mut p = pod("Never", vec![container("main", "busybox:1")]);
        p.metadata.uid = Some(uid.to_string());
        p.metadata.name = Some(format!("finished-{round}"));
        h.add(&p);
        h.run_until(60 * (round as u64 + 1));
        assert_eq!(phase(&h.last_status()), "Succeeded");
        assert_eq!(
            h.agent.pod_count(),
            1,
            "the finished pod is tracked while it exists"
        );
        let key = corral_api::ObjectKey::new(
            corral_api::ResourceKind::Pod,
            p.metadata.namespace.as_deref().unwrap_or("default"),
            p.metadata.name.as_deref().unwrap(),
        );
        let deletes_before = h
            .actions
            .iter()
            .filter(|(_, a)| matches!(a, Action::Delete { .. }))
            .count();
        h.agent.handle_pod_removed(&key, h.now);
        h.drain();
        assert_eq!(h.agent.pod_count(), 0, "round {round}: forgotten");
        assert!(h.agent.next_wakeup().is_none_or(|t| t > h.now));
        let deletes_after = h
            .actions
            .iter()
            .filter(|(_, a)| matches!(a, Action::Delete { .. }))
            .count();
        assert_eq!(
            deletes_before, deletes_after,
            "no Delete for a pod already gone"
        );
    }
}
