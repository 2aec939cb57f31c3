//! One pod's lifecycle on the node (upstream's pod worker plus `computePodActions`):
//! pull images, run init containers in order, start native sidecars and keep them
//! running, start and restart regular containers per `restartPolicy` with the
//! CrashLoopBackOff ladder, run probes, enforce `activeDeadlineSeconds`, and terminate
//! gracefully (SIGTERM, then SIGKILL after the grace period).
//!
//! [`PodWorker::sync`] is level-triggered: it looks at the container slots and issues
//! whatever commands are missing; every in-flight operation is flagged so a sync never
//! issues a command twice. Time only comes in as `now`; the earliest instant a sync has
//! something new to do is [`PodWorker::next_wakeup`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, Uid};
use corral_core::plan::{EventRecord, EventType, object_reference};
use corral_core::{Timestamp, clock};
use k8s_openapi::api::core::v1::{Container, ObjectReference, Pod, Probe};

use crate::backoff::Backoff;
use crate::env::{ConfigSources, EnvContext, resolve_env};
use crate::resources_helpers::{format_pod, go_duration, is_restartable};
use crate::runtime::{
    ImageAvailability, ImageCatalog, ProbeKind, RuntimeCommand, Signal, pull_policy,
};

/// The pod worker's sync-error requeue (upstream 10 s, here without jitter).
pub const SYNC_ERROR_REQUEUE: Duration = Duration::from_secs(10);
/// How soon a pod waiting for a volume's ConfigMap or Secret is looked at again.
pub const VOLUME_RETRY: Duration = Duration::from_secs(1);

/// The first volume of `pod` whose required ConfigMap or Secret `sources` lacks, with
/// upstream's message.
fn missing_volume_source(
    pod: &k8s_openapi::api::core::v1::Pod,
    sources: &crate::env::ConfigSources,
) -> Option<(String, String)> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let volumes = pod.spec.as_ref()?.volumes.as_ref()?;
    for volume in volumes {
        if let Some(source) = &volume.config_map
            && source.optional != Some(true)
            && !sources
                .config_maps
                .contains_key(&(namespace.to_string(), source.name.clone()))
        {
            return Some((
                volume.name.clone(),
                format!("configmap \"{}\" not found", source.name),
            ));
        }
        if let Some(source) = &volume.secret
            && source.optional != Some(true)
        {
            let name = source.secret_name.clone().unwrap_or_default();
            if !sources
                .secrets
                .contains_key(&(namespace.to_string(), name.clone()))
            {
                return Some((volume.name.clone(), format!("secret \"{name}\" not found")));
            }
        }
    }
    None
}
/// `terminationGracePeriodSeconds` default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// Which list a container comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerKind {
    Init,
    Sidecar,
    Regular,
}

/// How a container instance ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub reason: String,
    pub message: Option<String>,
    pub finished_at: Timestamp,
}

/// One run of a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    pub container_id: String,
    pub image_id: String,
    pub started_at: Timestamp,
    pub exit: Option<Exit>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct ProbeState {
    pub next_due: Option<Timestamp>,
    pub in_flight: bool,
    pub successes: i32,
    pub failures: i32,
}

#[derive(Clone, Debug)]
pub(crate) struct KillState {
    pub kill_at: Timestamp,
    pub kill_sent: bool,
}

/// Everything the worker knows about one container.
#[derive(Clone, Debug)]
pub struct ContainerSlot {
    pub spec: Container,
    pub kind: ContainerKind,
    /// The latest instance.
    pub instance: Option<Instance>,
    /// The instance before it (`lastState`).
    pub previous: Option<Instance>,
    pub restart_count: i32,
    /// Upstream's reason cache: why the container is waiting (`CrashLoopBackOff`, …).
    pub waiting: Option<(String, String)>,
    pub starting: bool,
    /// A pull for the next start finished (lets `Always` start without pulling again).
    pub image_pulled: bool,
    pub started: bool,
    pub ready: bool,
    pub(crate) probes: BTreeMap<ProbeKind, ProbeState>,
    pub(crate) kill: Option<KillState>,
    /// When the current CrashLoopBackOff ends.
    pub(crate) backoff_until: Option<Timestamp>,
}

impl ContainerSlot {
    fn new(spec: Container, kind: ContainerKind) -> Self {
        ContainerSlot {
            spec,
            kind,
            instance: None,
            previous: None,
            restart_count: 0,
            waiting: None,
            starting: false,
            image_pulled: false,
            started: false,
            ready: false,
            probes: BTreeMap::new(),
            kill: None,
            backoff_until: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn is_running(&self) -> bool {
        self.instance.as_ref().is_some_and(|i| i.exit.is_none())
    }

    pub fn exit(&self) -> Option<&Exit> {
        self.instance.as_ref().and_then(|i| i.exit.as_ref())
    }

    fn probe(&self, kind: ProbeKind) -> Option<&Probe> {
        match kind {
            ProbeKind::Startup => self.spec.startup_probe.as_ref(),
            ProbeKind::Liveness => self.spec.liveness_probe.as_ref(),
            ProbeKind::Readiness => self.spec.readiness_probe.as_ref(),
        }
    }
}

/// Why the pod is being stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TerminationReason {
    /// `deletionTimestamp` is set.
    Deleted,
    /// `activeDeadlineSeconds` passed.
    DeadlineExceeded,
    /// The pod finished by itself (only sidecars remain to stop).
    Completed,
}

#[derive(Clone, Debug)]
pub(crate) struct Termination {
    pub reason: TerminationReason,
    pub grace: Duration,
}

/// The services a sync needs from the node agent.
pub struct SyncContext<'a> {
    pub node_name: &'a str,
    pub host_ip: &'a str,
    pub node_milli_cpu: i64,
    pub node_memory: i64,
    pub catalog: &'a dyn ImageCatalog,
    pub present: &'a mut BTreeMap<String, String>,
    pub restart_backoff: &'a mut Backoff,
    pub image_backoff: &'a mut Backoff,
    pub sources: &'a ConfigSources,
    pub commands: &'a mut VecDeque<RuntimeCommand>,
    pub events: &'a mut VecDeque<EventRecord>,
}

/// One pod on this node.
#[derive(Clone, Debug)]
pub struct PodWorker {
    pub pod: Pod,
    pub key: ObjectKey,
    pub uid: Uid,
    /// From the file source (a static pod, mirrored to the API).
    pub static_pod: bool,
    pub start_time: Timestamp,
    pub pod_ip: String,
    pub containers: Vec<ContainerSlot>,
    pub(crate) pulls_in_flight: BTreeSet<String>,
    pub(crate) termination: Option<Termination>,
    /// Every container stopped after termination: the status is final.
    pub terminal: bool,
    pub deadline_exceeded: bool,
    pub(crate) retry_at: Option<Timestamp>,
    reference: ObjectReference,
}

impl PodWorker {
    pub fn new(pod: Pod, static_pod: bool, pod_ip: String, now: Timestamp) -> Self {
        let object: KubeObject = pod.clone().into();
        let key = object.key();
        let uid = object.uid();
        let spec = pod.spec.clone().unwrap_or_default();
        let mut containers = Vec::new();
        for c in spec.init_containers.iter().flatten() {
            let kind = if is_restartable(c) {
                ContainerKind::Sidecar
            } else {
                ContainerKind::Init
            };
            containers.push(ContainerSlot::new(c.clone(), kind));
        }
        for c in &spec.containers {
            containers.push(ContainerSlot::new(c.clone(), ContainerKind::Regular));
        }
        PodWorker {
            reference: object_reference(&object),
            pod,
            key,
            uid,
            static_pod,
            start_time: clock::truncate_to_seconds(now),
            pod_ip,
            containers,
            pulls_in_flight: BTreeSet::new(),
            termination: None,
            terminal: false,
            deadline_exceeded: false,
            retry_at: None,
        }
    }

    pub fn update_pod(&mut self, pod: Pod) {
        let object: KubeObject = pod.clone().into();
        self.reference = object_reference(&object);
        self.pod = pod;
    }

    pub fn restart_policy(&self) -> &str {
        self.pod
            .spec
            .as_ref()
            .and_then(|s| s.restart_policy.as_deref())
            .unwrap_or("Always")
    }

    pub fn is_terminating(&self) -> bool {
        self.termination.is_some()
    }

    pub fn termination_reason(&self) -> Option<TerminationReason> {
        self.termination.as_ref().map(|t| t.reason)
    }

    fn pod_name(&self) -> String {
        format_pod(&self.key.name, &self.key.namespace, self.uid.as_str())
    }

    fn event(
        &self,
        ctx: &mut SyncContext<'_>,
        container: Option<&str>,
        event_type: EventType,
        reason: &str,
        message: String,
    ) {
        let mut involved = self.reference.clone();
        if let Some(name) = container {
            let list =
                self.containers
                    .iter()
                    .find(|c| c.name() == name)
                    .map_or("containers", |c| {
                        if c.kind == ContainerKind::Regular {
                            "containers"
                        } else {
                            "initContainers"
                        }
                    });
            involved.field_path = Some(format!("spec.{list}{{{name}}}"));
        }
        ctx.events.push_back(EventRecord {
            involved,
            event_type,
            reason: reason.to_string(),
            message,
            component: "kubelet".to_string(),
            host: Some(ctx.node_name.to_string()),
        });
    }

    fn grace_period(&self) -> Duration {
        let seconds = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds);
        seconds.map_or(DEFAULT_GRACE, |s| Duration::from_secs(s.max(0) as u64))
    }

    /// Decides and issues whatever is missing.
    pub fn sync(&mut self, ctx: &mut SyncContext<'_>, now: Timestamp) {
        if self.terminal {
            return;
        }
        if self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
        }
        if self.termination.is_none() {
            self.check_deadline(ctx, now);
        }
        if self.termination.is_none() && self.pod.metadata.deletion_timestamp.is_some() {
            let grace = self.pod.metadata.deletion_grace_period_seconds.map_or_else(
                || self.grace_period(),
                |s| Duration::from_secs(s.max(0) as u64),
            );
            self.termination = Some(Termination {
                reason: TerminationReason::Deleted,
                grace,
            });
        }
        if self.termination.is_none() && self.finished_by_itself() {
            self.termination = Some(Termination {
                reason: TerminationReason::Completed,
                grace: self.grace_period(),
            });
        }
        if self.termination.is_some() {
            self.drive_termination(ctx, now);
            return;
        }
        self.drive_kills(ctx, now);
        if self.drive_init(ctx, now) {
            for index in 0..self.containers.len() {
                if self.containers[index].kind != ContainerKind::Init {
                    self.drive_container(index, ctx, now);
                }
            }
        }
        self.drive_probes(ctx, now);
    }

    fn check_deadline(&mut self, ctx: &mut SyncContext<'_>, now: Timestamp) {
        let Some(seconds) = self
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.active_deadline_seconds)
        else {
            return;
        };
        let deadline = clock::add(self.start_time, Duration::from_secs(seconds.max(0) as u64));
        if now >= deadline {
            self.deadline_exceeded = true;
            let message =
                "Pod was active on the node longer than the specified deadline".to_string();
            self.event(ctx, None, EventType::Normal, "DeadlineExceeded", message);
            self.termination = Some(Termination {
                reason: TerminationReason::DeadlineExceeded,
                grace: self.grace_period(),
            });
        }
    }

    /// The active deadline, if the pod has one.
    pub fn deadline(&self) -> Option<Timestamp> {
        let seconds = self.pod.spec.as_ref()?.active_deadline_seconds?;
        Some(clock::add(
            self.start_time,
            Duration::from_secs(seconds.max(0) as u64),
        ))
    }

    /// Whether a container would be started again after this exit.
    fn should_restart(&self, slot: &ContainerSlot, exit_code: i32) -> bool {
        match slot.kind {
            ContainerKind::Sidecar => true,
            ContainerKind::Init => exit_code != 0 && self.restart_policy() != "Never",
            ContainerKind::Regular => match self.restart_policy() {
                "Never" => false,
                "OnFailure" => exit_code != 0,
                _ => true,
            },
        }
    }

    /// Upstream terminates a pod whose regular containers all exited for good, and one
    /// whose regular init container failed under `restartPolicy: Never`.
    fn finished_by_itself(&self) -> bool {
        let init_failed = self.containers.iter().any(|c| {
            c.kind == ContainerKind::Init
                && c.exit().is_some_and(|e| e.exit_code != 0)
                && self.restart_policy() == "Never"
        });
        if init_failed {
            return true;
        }
        let regular: Vec<&ContainerSlot> = self
            .containers
            .iter()
            .filter(|c| c.kind == ContainerKind::Regular)
            .collect();
        !regular.is_empty()
            && regular.iter().all(|c| {
                !c.starting
                    && c.exit()
                        .is_some_and(|e| !self.should_restart(c, e.exit_code))
            })
    }

    /// Runs init containers in order; true once every regular init container succeeded
    /// and every sidecar has started.
    fn drive_init(&mut self, ctx: &mut SyncContext<'_>, now: Timestamp) -> bool {
        let regular_started = self
            .containers
            .iter()
            .any(|c| c.kind == ContainerKind::Regular && (c.instance.is_some() || c.starting));
        for index in 0..self.containers.len() {
            let slot = &self.containers[index];
            match slot.kind {
                ContainerKind::Regular => continue,
                ContainerKind::Init => {
                    if slot.exit().is_some_and(|e| e.exit_code == 0) {
                        continue;
                    }
                    if regular_started {
                        continue;
                    }
                    self.drive_container(index, ctx, now);
                    return false;
                }
                ContainerKind::Sidecar => {
                    if slot.is_running() && slot.started {
                        continue;
                    }
                    if regular_started {
                        // After initialisation a crashed sidecar restarts without
                        // blocking the others.
                        continue;
                    }
                    self.drive_container(index, ctx, now);
                    return false;
                }
            }
        }
        true
    }

    fn drive_container(&mut self, index: usize, ctx: &mut SyncContext<'_>, now: Timestamp) {
        let slot = &self.containers[index];
        if slot.starting || slot.kill.is_some() || slot.is_running() {
            return;
        }
        match slot.exit().cloned() {
            None => self.start_container(index, ctx, now),
            Some(exit) => {
                if self.should_restart(slot, exit.exit_code) {
                    self.restart_with_backoff(index, &exit, ctx, now);
                }
            }
        }
    }

    /// `doBackOff`: restart at once, or wait out the ladder measured from the last exit.
    fn restart_with_backoff(
        &mut self,
        index: usize,
        exit: &Exit,
        ctx: &mut SyncContext<'_>,
        now: Timestamp,
    ) {
        let name = self.containers[index].name().to_string();
        let key = format!("{}_{}", self.uid, name);
        if ctx
            .restart_backoff
            .is_in_backoff_since(&key, exit.finished_at, now)
        {
            let delay = ctx.restart_backoff.get(&key);
            let until = clock::add(exit.finished_at, delay);
            if self.containers[index].backoff_until != Some(until) {
                let pod = self.pod_name();
                self.event(
                    ctx,
                    Some(&name),
                    EventType::Warning,
                    "BackOff",
                    format!("Back-off restarting failed container {name} in pod {pod}"),
                );
                let message = format!(
                    "back-off {} restarting failed container={name} pod={pod}",
                    go_duration(delay)
                );
                let slot = &mut self.containers[index];
                slot.waiting = Some(("CrashLoopBackOff".to_string(), message));
                slot.backoff_until = Some(until);
            }
            return;
        }
        ctx.restart_backoff.next(&key, exit.finished_at, now);
        self.containers[index].backoff_until = None;
        self.start_container(index, ctx, now);
    }

    fn start_container(&mut self, index: usize, ctx: &mut SyncContext<'_>, now: Timestamp) {
        if self.retry_at.is_some() {
            return;
        }
        if !self.ensure_image(index, ctx, now) {
            return;
        }
        let name = self.containers[index].name().to_string();
        // Volumes are set up before any container starts: a ConfigMap or Secret a volume
        // requires that the node has not seen (yet) keeps the pod in ContainerCreating
        // with FailedMount events, retried, as upstream's volume manager does.
        if let Some((volume, message)) = missing_volume_source(&self.pod, ctx.sources) {
            self.event(
                ctx,
                None,
                EventType::Warning,
                "FailedMount",
                format!("MountVolume.SetUp failed for volume \"{volume}\" : {message}"),
            );
            self.containers[index].waiting = Some(("ContainerCreating".to_string(), String::new()));
            self.retry_at = Some(clock::add(now, VOLUME_RETRY));
            return;
        }
        let context = EnvContext {
            host_ip: ctx.host_ip,
            pod_ip: &self.pod_ip,
            node_milli_cpu: ctx.node_milli_cpu,
            node_memory: ctx.node_memory,
            sources: ctx.sources,
        };
        let env = match resolve_env(&self.pod, &self.containers[index].spec, &context) {
            Ok(env) => env,
            Err(message) => {
                self.event(
                    ctx,
                    Some(&name),
                    EventType::Warning,
                    "Failed",
                    format!("Error: {message}"),
                );
                self.containers[index].waiting =
                    Some(("CreateContainerConfigError".to_string(), message));
                self.retry_at = Some(clock::add(now, SYNC_ERROR_REQUEUE));
                return;
            }
        };
        let slot = &mut self.containers[index];
        let restart_count = if slot.instance.is_some() {
            slot.restart_count + 1
        } else {
            slot.restart_count
        };
        slot.starting = true;
        slot.image_pulled = false;
        ctx.commands.push_back(RuntimeCommand::StartContainer {
            pod_uid: self.uid.clone(),
            pod: self.key.clone(),
            container: slot.spec.clone(),
            env,
            restart_count,
        });
    }

    /// Whether the image is there; otherwise pulls (or waits out the pull backoff).
    fn ensure_image(&mut self, index: usize, ctx: &mut SyncContext<'_>, now: Timestamp) -> bool {
        let slot = &self.containers[index];
        let name = slot.name().to_string();
        let image = slot.spec.image.clone().unwrap_or_default();
        let policy = pull_policy(&slot.spec).to_string();
        let present = ctx.present.contains_key(&image)
            || matches!(
                ctx.catalog.resolve(&image),
                ImageAvailability::Present { .. }
            );
        if policy == "Never" {
            if present {
                return true;
            }
            let message =
                format!("Container image \"{image}\" is not present with pull policy of Never");
            self.event(
                ctx,
                Some(&name),
                EventType::Warning,
                "ErrImageNeverPull",
                message.clone(),
            );
            self.event(
                ctx,
                Some(&name),
                EventType::Warning,
                "Failed",
                "Error: ErrImageNeverPull".to_string(),
            );
            self.containers[index].waiting = Some(("ErrImageNeverPull".to_string(), message));
            self.retry_at = Some(clock::add(now, SYNC_ERROR_REQUEUE));
            return false;
        }
        let need_pull = if policy == "Always" {
            !slot.image_pulled
        } else {
            !present
        };
        if !need_pull {
            if !slot.image_pulled {
                let message = format!("Container image \"{image}\" already present on machine");
                self.event(ctx, Some(&name), EventType::Normal, "Pulled", message);
            }
            return true;
        }
        if self.pulls_in_flight.contains(&image) {
            return false;
        }
        let key = format!("{}_{}", self.uid, image);
        if ctx.image_backoff.is_in_backoff_since_update(&key, now) {
            let message = format!("Back-off pulling image \"{image}\"");
            if self.containers[index]
                .waiting
                .as_ref()
                .is_none_or(|(r, _)| r != "ImagePullBackOff")
            {
                self.event(
                    ctx,
                    Some(&name),
                    EventType::Normal,
                    "BackOff",
                    message.clone(),
                );
                self.event(
                    ctx,
                    Some(&name),
                    EventType::Warning,
                    "Failed",
                    "Error: ImagePullBackOff".to_string(),
                );
            }
            self.containers[index].waiting = Some(("ImagePullBackOff".to_string(), message));
            return false;
        }
        self.event(
            ctx,
            Some(&name),
            EventType::Normal,
            "Pulling",
            format!("Pulling image \"{image}\""),
        );
        self.pulls_in_flight.insert(image.clone());
        ctx.commands.push_back(RuntimeCommand::PullImage {
            pod_uid: self.uid.clone(),
            image,
        });
        false
    }

    /// A pull finished.
    pub fn handle_pull(
        &mut self,
        image: &str,
        result: Result<(String, u64), String>,
        pull_started: Option<Timestamp>,
        ctx: &mut SyncContext<'_>,
        now: Timestamp,
    ) {
        if !self.pulls_in_flight.remove(image) {
            return;
        }
        let users: Vec<usize> = (0..self.containers.len())
            .filter(|&i| {
                self.containers[i].spec.image.as_deref() == Some(image)
                    && !self.containers[i].is_running()
            })
            .collect();
        let first = users
            .first()
            .map(|&i| self.containers[i].name().to_string());
        match result {
            Ok((image_id, size)) => {
                ctx.present.insert(image.to_string(), image_id);
                let took =
                    go_duration(pull_started.map_or(Duration::ZERO, |t| clock::since(now, t)));
                let message = format!(
                    "Successfully pulled image \"{image}\" in {took} ({took} including waiting). Image size: {size} bytes."
                );
                self.event(ctx, first.as_deref(), EventType::Normal, "Pulled", message);
                for i in users {
                    self.containers[i].image_pulled = true;
                    self.containers[i].waiting = None;
                }
            }
            Err(error) => {
                let key = format!("{}_{}", self.uid, image);
                ctx.image_backoff.next(&key, now, now);
                let message = format!("Failed to pull image \"{image}\": {error}");
                self.event(ctx, first.as_deref(), EventType::Warning, "Failed", message);
                self.event(
                    ctx,
                    first.as_deref(),
                    EventType::Warning,
                    "Failed",
                    "Error: ErrImagePull".to_string(),
                );
                for i in users {
                    self.containers[i].waiting = Some(("ErrImagePull".to_string(), error.clone()));
                }
                self.retry_at = Some(clock::add(now, SYNC_ERROR_REQUEUE));
            }
        }
    }

    /// The runtime started a container.
    pub fn handle_started(
        &mut self,
        name: &str,
        container_id: String,
        image_id: String,
        ctx: &mut SyncContext<'_>,
        now: Timestamp,
    ) {
        let Some(index) = self.containers.iter().position(|c| c.name() == name) else {
            return;
        };
        self.event(
            ctx,
            Some(name),
            EventType::Normal,
            "Created",
            format!("Created container: {name}"),
        );
        self.event(
            ctx,
            Some(name),
            EventType::Normal,
            "Started",
            format!("Started container {name}"),
        );
        let slot = &mut self.containers[index];
        if let Some(old) = slot.instance.take() {
            slot.previous = Some(old);
            slot.restart_count += 1;
        }
        slot.instance = Some(Instance {
            container_id,
            image_id,
            started_at: clock::truncate_to_seconds(now),
            exit: None,
        });
        slot.starting = false;
        slot.waiting = None;
        slot.kill = None;
        slot.started = slot.spec.startup_probe.is_none();
        slot.ready = slot.started && slot.spec.readiness_probe.is_none();
        slot.probes.clear();
        for kind in [
            ProbeKind::Startup,
            ProbeKind::Liveness,
            ProbeKind::Readiness,
        ] {
            if let Some(probe) = slot.probe(kind) {
                let delay =
                    Duration::from_secs(probe.initial_delay_seconds.unwrap_or(0).max(0) as u64);
                slot.probes.insert(
                    kind,
                    ProbeState {
                        next_due: Some(clock::add(now, delay)),
                        ..Default::default()
                    },
                );
            }
        }
    }

    /// The runtime could not start a container: a terminated instance with exit code 128.
    pub fn handle_start_failed(
        &mut self,
        name: &str,
        reason: &str,
        message: &str,
        ctx: &mut SyncContext<'_>,
        now: Timestamp,
    ) {
        let Some(index) = self.containers.iter().position(|c| c.name() == name) else {
            return;
        };
        self.event(
            ctx,
            Some(name),
            EventType::Warning,
            "Failed",
            format!("Error: {message}"),
        );
        let slot = &mut self.containers[index];
        if let Some(old) = slot.instance.take() {
            slot.previous = Some(old);
            slot.restart_count += 1;
        }
        let at = clock::truncate_to_seconds(now);
        slot.instance = Some(Instance {
            container_id: String::new(),
            image_id: String::new(),
            started_at: at,
            exit: Some(Exit {
                exit_code: 128,
                signal: None,
                reason: reason.to_string(),
                message: Some(message.to_string()),
                finished_at: at,
            }),
        });
        slot.starting = false;
        slot.waiting = None;
        slot.started = false;
        slot.ready = false;
    }

    /// A container exited.
    pub fn handle_exited(
        &mut self,
        name: &str,
        container_id: &str,
        exit_code: i32,
        signal: Option<i32>,
        oom_killed: bool,
        now: Timestamp,
    ) {
        let Some(slot) = self.containers.iter_mut().find(|c| c.name() == name) else {
            return;
        };
        let Some(instance) = slot
            .instance
            .as_mut()
            .filter(|i| i.container_id == container_id && i.exit.is_none())
        else {
            return;
        };
        let reason = if oom_killed {
            "OOMKilled"
        } else if exit_code == 0 {
            "Completed"
        } else {
            "Error"
        };
        instance.exit = Some(Exit {
            exit_code,
            signal,
            reason: reason.to_string(),
            message: None,
            finished_at: clock::truncate_to_seconds(now),
        });
        slot.kill = None;
        slot.started = false;
        slot.ready = false;
        slot.probes.clear();
    }

    fn kill(
        &mut self,
        index: usize,
        grace: Duration,
        message: String,
        ctx: &mut SyncContext<'_>,
        now: Timestamp,
    ) {
        let slot = &self.containers[index];
        let Some(instance) = slot.instance.as_ref().filter(|i| i.exit.is_none()) else {
            return;
        };
        if slot.kill.is_some() {
            return;
        }
        let name = slot.name().to_string();
        let container_id = instance.container_id.clone();
        self.event(ctx, Some(&name), EventType::Normal, "Killing", message);
        ctx.commands.push_back(RuntimeCommand::KillContainer {
            pod_uid: self.uid.clone(),
            container: name,
            container_id,
            signal: if grace.is_zero() {
                Signal::Kill
            } else {
                Signal::Term
            },
            grace_period: grace,
        });
        self.containers[index].kill = Some(KillState {
            kill_at: clock::add(now, grace),
            kill_sent: grace.is_zero(),
        });
    }

    /// Sends SIGKILL to containers whose grace period ran out.
    fn drive_kills(&mut self, ctx: &mut SyncContext<'_>, now: Timestamp) {
        for slot in &mut self.containers {
            let Some(kill) = slot.kill.as_mut() else {
                continue;
            };
            let Some(instance) = slot.instance.as_ref().filter(|i| i.exit.is_none()) else {
                continue;
            };
            if !kill.kill_sent && now >= kill.kill_at {
                kill.kill_sent = true;
                ctx.commands.push_back(RuntimeCommand::KillContainer {
                    pod_uid: self.uid.clone(),
                    container: slot.spec.name.clone(),
                    container_id: instance.container_id.clone(),
                    signal: Signal::Kill,
                    grace_period: Duration::ZERO,
                });
            }
        }
    }

    fn drive_termination(&mut self, ctx: &mut SyncContext<'_>, now: Timestamp) {
        let Some(termination) = self.termination.clone() else {
            return;
        };
        // Regular containers first; sidecars once the regular containers are gone, in
        // reverse order (upstream stops sidecars after the main containers).
        let regular_running = self
            .containers
            .iter()
            .any(|c| c.kind != ContainerKind::Sidecar && (c.is_running() || c.starting));
        let order: Vec<usize> = (0..self.containers.len()).rev().collect();
        for index in order {
            let slot = &self.containers[index];
            if slot.kind == ContainerKind::Sidecar && regular_running {
                continue;
            }
            if slot.is_running() && slot.kill.is_none() {
                let message = format!("Stopping container {}", slot.name());
                self.kill(index, termination.grace, message, ctx, now);
            }
        }
        self.drive_kills(ctx, now);
        let busy = self.containers.iter().any(|c| c.is_running() || c.starting);
        if !busy {
            self.terminal = true;
        }
    }

    fn drive_probes(&mut self, ctx: &mut SyncContext<'_>, now: Timestamp) {
        for slot in &mut self.containers {
            let Some(instance) = slot.instance.as_ref().filter(|i| i.exit.is_none()) else {
                continue;
            };
            if slot.kill.is_some() {
                continue;
            }
            let container_id = instance.container_id.clone();
            let kinds: Vec<ProbeKind> = slot.probes.keys().copied().collect();
            for kind in kinds {
                let runnable = match kind {
                    ProbeKind::Startup => !slot.started,
                    _ => slot.started,
                };
                let Some(probe) = slot.probe(kind).cloned() else {
                    continue;
                };
                let Some(state) = slot.probes.get_mut(&kind) else {
                    continue;
                };
                if !runnable || state.in_flight || state.next_due.is_none_or(|t| t > now) {
                    continue;
                }
                let period = Duration::from_secs(probe.period_seconds.unwrap_or(10).max(1) as u64);
                state.in_flight = true;
                state.next_due = Some(clock::add(now, period));
                ctx.commands.push_back(RuntimeCommand::RunProbe {
                    pod_uid: self.uid.clone(),
                    container: slot.spec.name.clone(),
                    container_id: container_id.clone(),
                    kind,
                    timeout: Duration::from_secs(probe.timeout_seconds.unwrap_or(1).max(1) as u64),
                    probe,
                });
            }
        }
    }

    /// A probe finished.
    pub fn handle_probe(
        &mut self,
        name: &str,
        container_id: &str,
        kind: ProbeKind,
        success: bool,
        output: &str,
        ctx: &mut SyncContext<'_>,
        now: Timestamp,
    ) {
        let Some(index) = self.containers.iter().position(|c| c.name() == name) else {
            return;
        };
        let slot = &mut self.containers[index];
        if slot
            .instance
            .as_ref()
            .is_none_or(|i| i.container_id != container_id || i.exit.is_some())
        {
            return;
        }
        let Some(probe) = slot.probe(kind).cloned() else {
            return;
        };
        let Some(state) = slot.probes.get_mut(&kind) else {
            return;
        };
        state.in_flight = false;
        let failure_threshold = probe.failure_threshold.unwrap_or(3).max(1);
        let success_threshold = probe.success_threshold.unwrap_or(1).max(1);
        if success {
            state.failures = 0;
            state.successes += 1;
            match kind {
                ProbeKind::Startup => {
                    slot.started = true;
                    if slot.spec.readiness_probe.is_none() {
                        slot.ready = true;
                    }
                }
                ProbeKind::Readiness if state.successes >= success_threshold => slot.ready = true,
                _ => {}
            }
            return;
        }
        state.successes = 0;
        state.failures += 1;
        let failures = state.failures;
        let message = if output.is_empty() {
            format!("{} probe failed", kind.label())
        } else {
            format!("{} probe failed: {output}", kind.label())
        };
        self.event(ctx, Some(name), EventType::Warning, "Unhealthy", message);
        if failures < failure_threshold {
            return;
        }
        match kind {
            ProbeKind::Readiness => self.containers[index].ready = false,
            ProbeKind::Liveness | ProbeKind::Startup => {
                let what = if kind == ProbeKind::Liveness {
                    "liveness"
                } else {
                    "startup"
                };
                let grace = probe.termination_grace_period_seconds.map_or_else(
                    || self.grace_period(),
                    |s| Duration::from_secs(s.max(0) as u64),
                );
                let message = format!("Container {name} failed {what} probe, will be restarted");
                self.kill(index, grace, message, ctx, now);
            }
        }
    }

    /// The earliest instant a sync would do something new.
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        if self.terminal {
            return None;
        }
        let mut times: Vec<Timestamp> = Vec::new();
        times.extend(self.retry_at);
        if self.termination.is_none() {
            times.extend(self.deadline());
        }
        for slot in &self.containers {
            times.extend(slot.backoff_until.filter(|_| {
                slot.waiting
                    .as_ref()
                    .is_some_and(|(r, _)| r == "CrashLoopBackOff")
            }));
            if let Some(kill) = slot.kill.as_ref().filter(|k| !k.kill_sent) {
                times.push(kill.kill_at);
            }
            if slot.is_running() && slot.kill.is_none() {
                for (kind, state) in &slot.probes {
                    let runnable = if *kind == ProbeKind::Startup {
                        !slot.started
                    } else {
                        slot.started
                    };
                    if runnable && !state.in_flight {
                        times.extend(state.next_due);
                    }
                }
            }
        }
        times.into_iter().min()
    }

    /// The image-pull backoff expiries this pod waits for (owned by the agent's backoff).
    pub fn waiting_images(&self) -> Vec<String> {
        self.containers
            .iter()
            .filter(|c| {
                c.waiting
                    .as_ref()
                    .is_some_and(|(r, _)| r == "ImagePullBackOff" || r == "ErrImagePull")
            })
            .filter_map(|c| c.spec.image.clone())
            .collect()
    }
}
