//! The driver loop: the only owner of the [`NodeAgentCore`]. It feeds the core its inputs
//! (pods and config objects from the informers, static pods, runtime events, write
//! failures, and its own wakeups), then drains the outputs in the core's order: runtime
//! commands (results known at once are fed straight back), status updates, events, API
//! actions.
//!
//! Two kubelet duties the core leaves to its driver are done here: a pod deleted while
//! already terminal (or never admitted) is finally deleted (grace 0) as upstream's
//! status manager does, and the mirror pod of a removed static pod is deleted without the
//! static pod's uid as precondition (the mirror pod has its own uid).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind, Uid};
use corral_core::events::RecordedEvent;
use corral_core::{Action, EventRecorder, Preconditions, Timestamp};
use corral_node::agent::MIRROR_ANNOTATION;
use corral_node::{NodeAgentCore, RuntimeCommand, RuntimeEvent, TerminationReason};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

use super::informer::InformerEvent;
use super::writer::ApiWriter;
use crate::runtime::{PodContext, ProcessRuntime};

/// Inputs a driver iteration takes at most before draining outputs.
const BATCH_MAX: usize = 512;
/// How long the loop sleeps without a wakeup.
const IDLE: Duration = Duration::from_secs(3600);

/// The driver's channels.
pub(crate) struct DriverInputs {
    pub informer: mpsc::Receiver<InformerEvent>,
    pub static_pods: mpsc::Receiver<Vec<Pod>>,
    pub runtime: mpsc::UnboundedReceiver<RuntimeEvent>,
    pub failures: mpsc::UnboundedReceiver<(Action, corral_api::ApiError)>,
    pub shutdown: watch::Receiver<bool>,
}

pub(crate) struct Driver {
    pub core: NodeAgentCore,
    pub runtime: ProcessRuntime,
    pub writer: Arc<ApiWriter>,
    pub recorder: EventRecorder,
    /// API pods on this node (not mirror pods): uid → key.
    known: HashMap<Uid, ObjectKey>,
    /// Config objects known per kind (for re-lists).
    config_known: HashMap<ResourceKind, HashSet<(String, String)>>,
    /// Static pods by key, as last admitted.
    static_pods: BTreeMap<ObjectKey, Pod>,
    /// Mirror pod keys of static pods being removed.
    static_removed: HashSet<ObjectKey>,
    /// Pods gone from the API whose directory waits for their containers to stop.
    cleanup: HashSet<Uid>,
    /// Final deletes already sent by the driver.
    deletes_sent: HashSet<Uid>,
    last_now: Timestamp,
}

fn command_pod(command: &RuntimeCommand) -> &Uid {
    match command {
        RuntimeCommand::PullImage { pod_uid, .. }
        | RuntimeCommand::StartContainer { pod_uid, .. }
        | RuntimeCommand::KillContainer { pod_uid, .. }
        | RuntimeCommand::RunProbe { pod_uid, .. } => pod_uid,
    }
}

fn is_mirror(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(MIRROR_ANNOTATION))
}

fn pod_key(pod: &Pod) -> ObjectKey {
    ObjectKey::new(
        ResourceKind::Pod,
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default(),
    )
}

fn pod_uid(pod: &Pod) -> Uid {
    Uid(pod.metadata.uid.clone().unwrap_or_default())
}

impl Driver {
    pub fn new(core: NodeAgentCore, runtime: ProcessRuntime, writer: Arc<ApiWriter>) -> Driver {
        Driver {
            core,
            runtime,
            writer,
            recorder: EventRecorder::new(),
            known: HashMap::new(),
            config_known: HashMap::new(),
            static_pods: BTreeMap::new(),
            static_removed: HashSet::new(),
            cleanup: HashSet::new(),
            deletes_sent: HashSet::new(),
            last_now: Timestamp::UNIX_EPOCH,
        }
    }

    /// `now`, never going backwards.
    fn now(&mut self) -> Timestamp {
        let now = Timestamp::now().max(self.last_now);
        self.last_now = now;
        now
    }

    /// Runs until shutdown.
    pub async fn run(mut self, mut inputs: DriverInputs) -> Driver {
        let now = self.now();
        self.drain(now);
        loop {
            let sleep = match self.core.next_wakeup() {
                Some(at) => {
                    corral_core::clock::since(at, Timestamp::now()) + Duration::from_millis(1)
                }
                None => IDLE,
            };
            tokio::select! {
                biased;
                _ = inputs.shutdown.changed() => break,
                Some(event) = inputs.runtime.recv() => {
                    let now = self.now();
                    self.core.handle_runtime_event(event, now);
                }
                Some((action, error)) = inputs.failures.recv() => {
                    let now = self.now();
                    self.core.handle_api_failure(&action, &error, now);
                }
                Some(event) = inputs.informer.recv() => {
                    let now = self.now();
                    self.handle_informer(event, now);
                }
                Some(pods) = inputs.static_pods.recv() => {
                    let now = self.now();
                    self.handle_static_pods(pods, now);
                }
                _ = tokio::time::sleep(sleep) => {}
            }
            let now = self.now();
            for _ in 0..BATCH_MAX {
                if let Ok(event) = inputs.runtime.try_recv() {
                    self.core.handle_runtime_event(event, now);
                } else if let Ok(event) = inputs.informer.try_recv() {
                    self.handle_informer(event, now);
                } else if let Ok((action, error)) = inputs.failures.try_recv() {
                    self.core.handle_api_failure(&action, &error, now);
                } else {
                    break;
                }
            }
            self.drain(now);
        }
        self
    }

    fn handle_informer(&mut self, event: InformerEvent, now: Timestamp) {
        match event {
            InformerEvent::Listed(ResourceKind::Pod, objects) => {
                let pods: Vec<Pod> = objects.into_iter().filter_map(|o| o.into_typed()).collect();
                let present: HashSet<Uid> = pods.iter().map(pod_uid).collect();
                let gone: Vec<(Uid, ObjectKey)> = self
                    .known
                    .iter()
                    .filter(|(uid, _)| !present.contains(*uid))
                    .map(|(u, k)| (u.clone(), k.clone()))
                    .collect();
                for (uid, key) in gone {
                    self.pod_removed(&uid, &key, now);
                }
                for pod in pods {
                    self.pod_upserted(pod, now);
                }
            }
            InformerEvent::Listed(kind, objects) => {
                let previous = self.config_known.remove(&kind).unwrap_or_default();
                let mut current = HashSet::new();
                for object in objects {
                    current.insert((object.namespace().to_string(), object.name().to_string()));
                    self.config_object(&object, false);
                }
                for (namespace, name) in previous.difference(&current) {
                    let meta = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                        namespace: Some(namespace.clone()),
                        name: Some(name.clone()),
                        ..Default::default()
                    };
                    let object: Option<KubeObject> = match kind {
                        ResourceKind::ConfigMap => Some(
                            k8s_openapi::api::core::v1::ConfigMap {
                                metadata: meta,
                                ..Default::default()
                            }
                            .into(),
                        ),
                        ResourceKind::Secret => Some(
                            k8s_openapi::api::core::v1::Secret {
                                metadata: meta,
                                ..Default::default()
                            }
                            .into(),
                        ),
                        _ => None,
                    };
                    if let Some(object) = object {
                        self.config_object(&object, true);
                    }
                }
                self.config_known.insert(kind, current);
            }
            InformerEvent::Upserted(KubeObject::Pod(pod)) => self.pod_upserted(pod, now),
            InformerEvent::Deleted(KubeObject::Pod(pod)) => {
                if !is_mirror(&pod) {
                    self.pod_removed(&pod_uid(&pod), &pod_key(&pod), now);
                }
            }
            InformerEvent::Upserted(object) => {
                self.config_known
                    .entry(object.kind())
                    .or_default()
                    .insert((object.namespace().to_string(), object.name().to_string()));
                self.config_object(&object, false);
            }
            InformerEvent::Deleted(object) => {
                if let Some(known) = self.config_known.get_mut(&object.kind()) {
                    known.remove(&(object.namespace().to_string(), object.name().to_string()));
                }
                self.config_object(&object, true);
            }
        }
    }

    fn config_object(&mut self, object: &KubeObject, deleted: bool) {
        self.core.handle_config_object(object, deleted);
        self.runtime.objects().apply(object, deleted);
    }

    fn pod_upserted(&mut self, pod: Pod, now: Timestamp) {
        if is_mirror(&pod) {
            return;
        }
        let uid = pod_uid(&pod);
        self.known.insert(uid.clone(), pod_key(&pod));
        let terminal_phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_some_and(|p| p == "Succeeded" || p == "Failed");
        if pod.metadata.deletion_timestamp.is_some() {
            let worker = self.core.worker(&uid);
            let finished = match worker {
                None => terminal_phase,
                Some(w) => w.terminal && w.termination_reason() != Some(TerminationReason::Deleted),
            };
            if finished && self.deletes_sent.insert(uid.clone()) {
                self.writer.submit(Action::Delete {
                    key: pod_key(&pod),
                    preconditions: Preconditions {
                        uid: Some(uid.clone()),
                        resource_version: None,
                    },
                    propagation: None,
                    grace_period_seconds: Some(0),
                });
                return;
            }
        }
        self.core.handle_pod_update(&pod, now);
    }

    fn pod_removed(&mut self, uid: &Uid, key: &ObjectKey, now: Timestamp) {
        self.known.remove(uid);
        self.deletes_sent.remove(uid);
        self.core.handle_pod_removed(key, now);
        self.cleanup.insert(uid.clone());
    }

    fn handle_static_pods(&mut self, pods: Vec<Pod>, now: Timestamp) {
        let node = self.core.config().node_name.clone();
        let mut current = BTreeMap::new();
        for mut pod in pods {
            // The file source names the pod as upstream's does: `<name>-<node>`.
            let name = pod.metadata.name.as_deref().unwrap_or_default();
            pod.metadata.name = Some(corral_node::agent::static_pod_name(name, &node));
            current.insert(pod_key(&pod), pod);
        }
        let removed: Vec<(ObjectKey, Pod)> = self
            .static_pods
            .iter()
            .filter(|(k, _)| !current.contains_key(*k))
            .map(|(k, p)| (k.clone(), p.clone()))
            .collect();
        for (key, mut pod) in removed {
            let grace = pod
                .spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
                .unwrap_or(30);
            pod.metadata.deletion_timestamp = Some(Time(now));
            pod.metadata.deletion_grace_period_seconds = Some(grace);
            self.core.handle_static_pod(&pod, now);
            self.static_removed.insert(key);
        }
        for (key, pod) in &current {
            if self.static_pods.get(key) != Some(pod) {
                self.static_removed.remove(key);
                self.core.handle_static_pod(pod, now);
            }
        }
        self.static_pods = current;
    }

    /// Drains the core's outputs in order.
    pub fn drain(&mut self, now: Timestamp) {
        for _round in 0..1000 {
            let mut immediate = Vec::new();
            while let Some(command) = self.core.poll_runtime_command(now) {
                let worker = self.core.worker(command_pod(&command));
                let context = worker.map(|w| PodContext {
                    pod: &w.pod,
                    pod_ip: &w.pod_ip,
                });
                if let Some(event) = self.runtime.execute(command, context) {
                    immediate.push(event);
                }
            }
            if immediate.is_empty() {
                break;
            }
            for event in immediate {
                self.core.handle_runtime_event(event, now);
            }
        }
        while let Some(update) = self.core.poll_status_update(now) {
            self.writer.submit(update.to_action());
        }
        while let Some(event) = self.core.poll_event(now) {
            match self.recorder.record(&event, now) {
                RecordedEvent::Create(action) => self.writer.event(action, None),
                RecordedEvent::Update { patch, fallback } => {
                    self.writer.event(patch, Some(fallback))
                }
                RecordedEvent::Dropped => {}
            }
        }
        while let Some(action) = self.core.poll_api_action(now) {
            let action = match action {
                Action::Delete {
                    key,
                    preconditions,
                    propagation,
                    grace_period_seconds,
                } => {
                    if let Some(uid) = &preconditions.uid {
                        self.cleanup.insert(uid.clone());
                    }
                    // A removed static pod's mirror has its own uid.
                    let preconditions = if self.static_removed.remove(&key) {
                        Preconditions::default()
                    } else {
                        preconditions
                    };
                    Action::Delete {
                        key,
                        preconditions,
                        propagation,
                        grace_period_seconds,
                    }
                }
                other => other,
            };
            self.writer.submit(action);
        }
        if !self.cleanup.is_empty() {
            let done: Vec<Uid> = self
                .cleanup
                .iter()
                .filter(|uid| {
                    self.core.worker(uid).is_none() && !self.runtime.pod_has_containers(uid)
                })
                .cloned()
                .collect();
            for uid in done {
                self.cleanup.remove(&uid);
                self.runtime.forget_pod(&uid);
            }
        }
    }

    /// Records an event of the agent itself (node events).
    pub fn record(&mut self, record: &corral_core::EventRecord, now: Timestamp) {
        match self.recorder.record(record, now) {
            RecordedEvent::Create(action) => self.writer.event(action, None),
            RecordedEvent::Update { patch, fallback } => self.writer.event(patch, Some(fallback)),
            RecordedEvent::Dropped => {}
        }
    }
}
