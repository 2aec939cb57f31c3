//! [`NodeAgentCore`]: the kubelet of one node as a sans-IO state machine (quinn's
//! taxonomy). Inputs: [`handle_pod_update`](NodeAgentCore::handle_pod_update) (API
//! source), [`handle_static_pod`](NodeAgentCore::handle_static_pod) (file source),
//! [`handle_pod_removed`](NodeAgentCore::handle_pod_removed),
//! [`handle_config_object`](NodeAgentCore::handle_config_object),
//! [`handle_runtime_event`](NodeAgentCore::handle_runtime_event) and
//! [`handle_api_failure`](NodeAgentCore::handle_api_failure). Outputs, drained in this
//! order after every input or wakeup: `poll_runtime_command`, `poll_status_update`,
//! `poll_event`, `poll_api_action`; then sleep until `next_wakeup`. Every `poll_*` first
//! runs the syncs due at `now`. Input times must not go backwards.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use corral_api::{ApiError, KubeObject, ObjectKey, ResourceKind, StatusReason, Uid};
use corral_core::plan::{Action, EventRecord, PatchBody, Subresource};
use corral_core::{Timestamp, clock};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use serde_json::json;

use crate::backoff::Backoff;
use crate::env::ConfigSources;
use crate::runtime::{ImageCatalog, RuntimeCommand, RuntimeEvent, fnv1a};
use crate::worker::{PodWorker, SyncContext, TerminationReason};

/// The mirror-pod annotation.
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// Node agent settings.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub node_name: String,
    /// For owner references of mirror pods and the lease.
    pub node_uid: String,
    pub host_ip: String,
    /// Pod IPs are `<prefix><n>`, n cycling 2..=254 (e.g. `10.244.1.`).
    pub pod_ip_prefix: String,
    /// Default `limits.cpu`/`limits.memory` for the downward API.
    pub allocatable_milli_cpu: i64,
    pub allocatable_memory: i64,
    /// `nodeLeaseRenewInterval`-ish: lease renewals.
    pub lease_renew_interval: Duration,
    pub lease_duration_seconds: i32,
    /// `nodeStatusUpdateFrequency`: how often the status is recomputed.
    pub node_status_update_frequency: Duration,
    /// `nodeStatusReportFrequency`: an unchanged status is still written this often.
    pub node_status_report_frequency: Duration,
}

impl NodeConfig {
    pub fn new(node_name: &str, host_ip: &str) -> Self {
        NodeConfig {
            node_name: node_name.to_string(),
            node_uid: String::new(),
            host_ip: host_ip.to_string(),
            pod_ip_prefix: "10.244.0.".to_string(),
            allocatable_milli_cpu: 4000,
            allocatable_memory: 8 << 30,
            lease_renew_interval: Duration::from_secs(10),
            lease_duration_seconds: 40,
            node_status_update_frequency: Duration::from_secs(10),
            node_status_report_frequency: Duration::from_secs(300),
        }
    }
}

/// A status write for one pod.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusUpdate {
    /// The pod (for a static pod: its mirror pod).
    pub key: ObjectKey,
    /// The uid precondition (none for mirror pods, whose uid differs).
    pub uid: Option<Uid>,
    pub status: PodStatus,
}

impl StatusUpdate {
    /// A merge patch of the whole status (lists replaced) with the uid as precondition.
    pub fn to_action(&self) -> Action {
        let mut patch = json!({"status": serde_json::to_value(&self.status).unwrap_or_default()});
        if let Some(uid) = &self.uid {
            patch["metadata"] = json!({"uid": uid.as_str()});
        }
        Action::Patch {
            key: self.key.clone(),
            subresource: Subresource::Status,
            patch: PatchBody::Merge(patch),
        }
    }
}

#[derive(Clone, Debug)]
struct PodEntry {
    worker: PodWorker,
    reported: Option<PodStatus>,
    dirty: bool,
    delete_sent: bool,
    mirror_sent: bool,
}

/// The node agent core.
#[derive(Debug)]
pub struct NodeAgentCore {
    config: NodeConfig,
    catalog: Box<dyn ImageCatalog + Send>,
    present: BTreeMap<String, String>,
    pods: BTreeMap<Uid, PodEntry>,
    restart_backoff: Backoff,
    image_backoff: Backoff,
    sources: ConfigSources,
    pulls_started: BTreeMap<(Uid, String), Timestamp>,
    commands: VecDeque<RuntimeCommand>,
    events: VecDeque<EventRecord>,
    actions: VecDeque<Action>,
    ip_counter: u32,
    lease_created: bool,
    next_lease: Option<Timestamp>,
    next_status: Option<Timestamp>,
    last_status_report: Option<Timestamp>,
    ready_since: Option<Timestamp>,
}

impl NodeAgentCore {
    pub fn new(config: NodeConfig, catalog: Box<dyn ImageCatalog + Send>) -> Self {
        NodeAgentCore {
            config,
            catalog,
            present: BTreeMap::new(),
            pods: BTreeMap::new(),
            restart_backoff: Backoff::kubelet(),
            image_backoff: Backoff::kubelet(),
            sources: ConfigSources::default(),
            pulls_started: BTreeMap::new(),
            commands: VecDeque::new(),
            events: VecDeque::new(),
            actions: VecDeque::new(),
            ip_counter: 0,
            lease_created: false,
            next_lease: None,
            next_status: None,
            last_status_report: None,
            ready_since: None,
        }
    }

    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// A pod's worker, for inspection.
    pub fn worker(&self, uid: &Uid) -> Option<&PodWorker> {
        self.pods.get(uid).map(|e| &e.worker)
    }

    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    fn next_pod_ip(&mut self) -> String {
        let n = 2 + self.ip_counter % 253;
        self.ip_counter = self.ip_counter.wrapping_add(1);
        format!("{}{n}", self.config.pod_ip_prefix)
    }

    /// A pod from the API bound to this node (added or changed).
    pub fn handle_pod_update(&mut self, pod: &Pod, now: Timestamp) {
        if pod.spec.as_ref().and_then(|s| s.node_name.as_deref())
            != Some(self.config.node_name.as_str())
        {
            return;
        }
        if pod
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(MIRROR_ANNOTATION))
        {
            return;
        }
        self.admit_or_update(pod.clone(), false, now);
    }

    /// A pod from the file source (named by the source: upstream's file source calls it
    /// `<name>-<node name in lower case>`, see [`static_pod_name`]). It gets a stable uid
    /// (hash of namespace, name and node) if it has none, and a mirror pod in the API.
    pub fn handle_static_pod(&mut self, pod: &Pod, now: Timestamp) {
        let mut pod = pod.clone();
        let namespace = pod
            .metadata
            .namespace
            .get_or_insert_with(|| "default".to_string())
            .clone();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let node = self.config.node_name.clone();
        if pod.metadata.uid.is_none() {
            let hash = fnv1a(format!("{namespace}/{name}@{node}").as_bytes());
            pod.metadata.uid = Some(format!("{hash:016x}"));
        }
        if let Some(spec) = pod.spec.as_mut() {
            spec.node_name = Some(node);
        }
        self.admit_or_update(pod, true, now);
    }

    fn admit_or_update(&mut self, pod: Pod, static_pod: bool, now: Timestamp) {
        let uid = Uid(pod.metadata.uid.clone().unwrap_or_default());
        if let Some(entry) = self.pods.get_mut(&uid) {
            entry.worker.update_pod(pod);
        } else {
            let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
            if matches!(phase, Some("Succeeded" | "Failed")) {
                return;
            }
            let ip = self.next_pod_ip();
            let worker = PodWorker::new(pod, static_pod, ip, now);
            self.pods.insert(
                uid.clone(),
                PodEntry {
                    worker,
                    reported: None,
                    dirty: true,
                    delete_sent: false,
                    mirror_sent: !static_pod,
                },
            );
        }
        self.sync_pod(&uid, now);
    }

    /// The pod is gone from the API (or the file): stop its containers at once.
    pub fn handle_pod_removed(&mut self, key: &ObjectKey, now: Timestamp) {
        let uids: Vec<Uid> = self
            .pods
            .iter()
            .filter(|(_, e)| &e.worker.key == key && !e.worker.static_pod)
            .map(|(u, _)| u.clone())
            .collect();
        for uid in uids {
            if self.pods.get(&uid).is_some_and(|e| e.worker.terminal) {
                // Its containers stopped before the pod left the API (it finished on its
                // own): nothing is left to stop or report, so forget it now. Keeping it
                // would leak one entry per finished pod for the agent's lifetime.
                self.forget_pod(&uid);
                continue;
            }
            if let Some(entry) = self.pods.get_mut(&uid) {
                let mut pod = entry.worker.pod.clone();
                if pod.metadata.deletion_timestamp.is_none() {
                    pod.metadata.deletion_timestamp =
                        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
                    pod.metadata.deletion_grace_period_seconds = Some(0);
                }
                entry.worker.update_pod(pod);
                entry.delete_sent = true;
            }
            self.sync_pod(&uid, now);
        }
    }

    /// A ConfigMap or Secret the pods on this node may reference.
    pub fn handle_config_object(&mut self, object: &KubeObject, deleted: bool) {
        let key = (object.namespace().to_string(), object.name().to_string());
        match object {
            KubeObject::ConfigMap(map) if !deleted => {
                self.sources.config_maps.insert(key, map.clone());
            }
            KubeObject::ConfigMap(_) => {
                self.sources.config_maps.remove(&key);
            }
            KubeObject::Secret(secret) if !deleted => {
                self.sources.secrets.insert(key, secret.clone());
            }
            KubeObject::Secret(_) => {
                self.sources.secrets.remove(&key);
            }
            _ => {}
        }
    }

    /// Something the runtime observed.
    pub fn handle_runtime_event(&mut self, event: RuntimeEvent, now: Timestamp) {
        let uid = event.pod_uid().clone();
        let Some(mut entry) = self.pods.remove(&uid) else {
            return;
        };
        {
            let (mut ctx, pulls_started) = self.context();
            let worker = &mut entry.worker;
            match event {
                RuntimeEvent::ImagePulled { image, result, .. } => {
                    let started = pulls_started.remove(&(uid.clone(), image.clone()));
                    let result = result.map(|p| (p.image_id, p.size_bytes));
                    worker.handle_pull(&image, result, started, &mut ctx, now);
                }
                RuntimeEvent::ContainerStarted {
                    container,
                    container_id,
                    image_id,
                    ..
                } => {
                    worker.handle_started(&container, container_id, image_id, &mut ctx, now);
                }
                RuntimeEvent::ContainerStartFailed {
                    container,
                    reason,
                    message,
                    ..
                } => {
                    worker.handle_start_failed(&container, &reason, &message, &mut ctx, now);
                }
                RuntimeEvent::ContainerExited {
                    container,
                    container_id,
                    exit_code,
                    signal,
                    oom_killed,
                    ..
                } => {
                    worker.handle_exited(
                        &container,
                        &container_id,
                        exit_code,
                        signal,
                        oom_killed,
                        now,
                    );
                }
                RuntimeEvent::ProbeResult {
                    container,
                    container_id,
                    kind,
                    success,
                    output,
                    ..
                } => {
                    worker.handle_probe(
                        &container,
                        &container_id,
                        kind,
                        success,
                        &output,
                        &mut ctx,
                        now,
                    );
                }
            }
        }
        self.pods.insert(uid.clone(), entry);
        self.sync_pod(&uid, now);
    }

    /// A write from `poll_api_action` or `poll_status_update` failed.
    pub fn handle_api_failure(&mut self, action: &Action, error: &ApiError, now: Timestamp) {
        let Some(key) = action.key() else { return };
        match key.kind {
            ResourceKind::Lease if error.reason == StatusReason::NotFound => {
                self.lease_created = false;
                self.next_lease = Some(now);
            }
            ResourceKind::Pod => {
                // Retry the status write at the next sync.
                for entry in self.pods.values_mut().filter(|e| e.worker.key == key) {
                    entry.reported = None;
                    entry.dirty = true;
                    if matches!(action, Action::Create { .. })
                        && error.reason != StatusReason::AlreadyExists
                    {
                        entry.mirror_sent = false;
                    }
                }
            }
            _ => {}
        }
    }

    fn context(&mut self) -> (SyncContext<'_>, &mut BTreeMap<(Uid, String), Timestamp>) {
        (
            SyncContext {
                node_name: &self.config.node_name,
                host_ip: &self.config.host_ip,
                node_milli_cpu: self.config.allocatable_milli_cpu,
                node_memory: self.config.allocatable_memory,
                catalog: self.catalog.as_ref(),
                present: &mut self.present,
                restart_backoff: &mut self.restart_backoff,
                image_backoff: &mut self.image_backoff,
                sources: &self.sources,
                commands: &mut self.commands,
                events: &mut self.events,
            },
            &mut self.pulls_started,
        )
    }

    fn sync_pod(&mut self, uid: &Uid, now: Timestamp) {
        let Some(mut entry) = self.pods.remove(uid) else {
            return;
        };
        let before = self.commands.len();
        {
            let (mut ctx, _) = self.context();
            entry.worker.sync(&mut ctx, now);
        }
        for command in self.commands.iter().skip(before) {
            if let RuntimeCommand::PullImage { pod_uid, image } = command {
                self.pulls_started
                    .insert((pod_uid.clone(), image.clone()), now);
            }
        }
        let status = entry
            .worker
            .status(&self.config.host_ip, entry.reported.as_ref(), now);
        if entry.reported.as_ref() != Some(&status) {
            entry.dirty = true;
        }
        if entry.worker.static_pod && !entry.mirror_sent {
            entry.mirror_sent = true;
            self.actions.push_back(Action::Create {
                object: mirror_pod(&entry.worker.pod, &self.config).into(),
            });
        }
        self.pods.insert(uid.clone(), entry);
    }

    /// Runs every sync due at `now` (pod timers, heartbeats).
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let due: Vec<Uid> = self
            .pods
            .iter()
            .filter(|(_, e)| {
                e.worker.next_wakeup().is_some_and(|t| t <= now) || self.image_wait_due(e, now)
            })
            .map(|(u, _)| u.clone())
            .collect();
        for uid in due {
            self.sync_pod(&uid, now);
        }
        self.heartbeat(now);
    }

    fn image_wait_due(&self, entry: &PodEntry, now: Timestamp) -> bool {
        self.image_wait(entry).is_some_and(|t| t <= now)
    }

    fn image_wait(&self, entry: &PodEntry) -> Option<Timestamp> {
        if entry.worker.terminal {
            return None;
        }
        entry
            .worker
            .waiting_images()
            .iter()
            .filter_map(|image| {
                self.image_backoff
                    .expiry_since_update(&format!("{}_{image}", entry.worker.uid))
            })
            .min()
    }

    fn heartbeat(&mut self, now: Timestamp) {
        if self.next_lease.is_none_or(|t| t <= now) {
            self.next_lease = Some(clock::add(now, self.config.lease_renew_interval));
            let action = if self.lease_created {
                Action::Patch {
                    key: ObjectKey::new(
                        ResourceKind::Lease,
                        "kube-node-lease",
                        &self.config.node_name,
                    ),
                    subresource: Subresource::Main,
                    patch: PatchBody::Merge(json!({"spec": {"renewTime": MicroTime(now)}})),
                }
            } else {
                self.lease_created = true;
                Action::Create {
                    object: self.lease(now).into(),
                }
            };
            self.actions.push_back(action);
        }
        if self.next_status.is_none_or(|t| t <= now) {
            self.next_status = Some(clock::add(now, self.config.node_status_update_frequency));
            let report_due = self
                .last_status_report
                .is_none_or(|t| clock::since(now, t) >= self.config.node_status_report_frequency);
            if report_due {
                self.last_status_report = Some(now);
                let action = self.node_status(now);
                self.actions.push_back(action);
            }
        }
    }

    fn lease(&self, now: Timestamp) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(self.config.node_name.clone()),
                namespace: Some("kube-node-lease".to_string()),
                owner_references: Some(vec![node_owner(&self.config)]),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.config.node_name.clone()),
                lease_duration_seconds: Some(self.config.lease_duration_seconds),
                renew_time: Some(MicroTime(now)),
                ..Default::default()
            }),
        }
    }

    /// The node status heartbeat: the four kubelet conditions with `lastHeartbeatTime`.
    fn node_status(&mut self, now: Timestamp) -> Action {
        let since = *self
            .ready_since
            .get_or_insert(clock::truncate_to_seconds(now));
        let heartbeat = clock::truncate_to_seconds(now).to_string();
        let since = since.to_string();
        let condition = |type_: &str, status: &str, reason: &str, message: &str| {
            json!({"type": type_, "status": status, "reason": reason, "message": message,
                   "lastHeartbeatTime": heartbeat, "lastTransitionTime": since})
        };
        Action::Patch {
            key: ObjectKey::cluster(ResourceKind::Node, &self.config.node_name),
            subresource: Subresource::Status,
            patch: PatchBody::Strategic(json!({"status": {
                "conditions": [
                    condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                    condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                    condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
                ],
                "addresses": [
                    {"type": "InternalIP", "address": self.config.host_ip},
                    {"type": "Hostname", "address": self.config.node_name},
                ],
            }})),
        }
    }

    /// The next command for the runtime.
    pub fn poll_runtime_command(&mut self, now: Timestamp) -> Option<RuntimeCommand> {
        self.handle_timeout(now);
        self.commands.pop_front()
    }

    /// The next pod status that changed since it was last reported.
    pub fn poll_status_update(&mut self, now: Timestamp) -> Option<StatusUpdate> {
        self.handle_timeout(now);
        let (uid, entry) = self.pods.iter_mut().find(|(_, e)| e.dirty)?;
        entry.dirty = false;
        let status = entry
            .worker
            .status(&self.config.host_ip, entry.reported.as_ref(), now);
        entry.reported = Some(status.clone());
        Some(StatusUpdate {
            key: entry.worker.key.clone(),
            uid: (!entry.worker.static_pod).then(|| uid.clone()),
            status,
        })
    }

    /// The next event to record (component `kubelet`, host = node).
    pub fn poll_event(&mut self, now: Timestamp) -> Option<EventRecord> {
        self.handle_timeout(now);
        self.events.pop_front()
    }

    /// The next API write besides pod statuses: lease renewals, node status heartbeats,
    /// mirror pod creates, and the final `Delete` (grace 0) of a pod whose graceful
    /// termination finished and whose final status was reported.
    pub fn poll_api_action(&mut self, now: Timestamp) -> Option<Action> {
        self.handle_timeout(now);
        if let Some(action) = self.actions.pop_front() {
            return Some(action);
        }
        let finished = self.pods.iter().find(|(_, e)| {
            e.worker.terminal
                && !e.dirty
                && (e.delete_sent
                    || e.worker.termination_reason() == Some(TerminationReason::Deleted))
        });
        let uid = finished.map(|(u, _)| u.clone())?;
        let entry = self.forget_pod(&uid)?;
        if entry.delete_sent {
            return self.poll_api_action(now);
        }
        Some(Action::Delete {
            key: entry.worker.key.clone(),
            preconditions: corral_core::Preconditions {
                uid: Some(uid),
                resource_version: None,
            },
            propagation: None,
            grace_period_seconds: Some(0),
        })
    }

    /// Drops everything the agent keeps for a pod: its worker, its backoff records and
    /// its pull timers.
    fn forget_pod(&mut self, uid: &Uid) -> Option<PodEntry> {
        let entry = self.pods.remove(uid)?;
        self.restart_backoff.forget_prefix(&format!("{uid}_"));
        self.image_backoff.forget_prefix(&format!("{uid}_"));
        self.pulls_started.retain(|(pod, _), _| pod != uid);
        Some(entry)
    }

    /// The earliest instant something is due.
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        let pods = self
            .pods
            .values()
            .flat_map(|e| [e.worker.next_wakeup(), self.image_wait(e)])
            .flatten();
        pods.chain(self.next_lease).chain(self.next_status).min()
    }

    /// Whether any output is waiting to be polled.
    pub fn has_output(&self) -> bool {
        !self.commands.is_empty()
            || !self.events.is_empty()
            || !self.actions.is_empty()
            || self.pods.values().any(|e| e.dirty)
    }

    /// Uids of the pods being handled, in order.
    pub fn pod_uids(&self) -> BTreeSet<Uid> {
        self.pods.keys().cloned().collect()
    }
}

fn node_owner(config: &NodeConfig) -> OwnerReference {
    OwnerReference {
        api_version: "v1".to_string(),
        kind: "Node".to_string(),
        name: config.node_name.clone(),
        uid: config.node_uid.clone(),
        controller: Some(true),
        block_owner_deletion: None,
    }
}

/// The name upstream's file source gives the static pod of manifest `name` on `node`
/// (`generatePodName`: `<name>-<node in lower case>`).
pub fn static_pod_name(name: &str, node: &str) -> String {
    format!("{name}-{}", node.to_lowercase())
}

/// The API copy of a static pod.
pub fn mirror_pod(pod: &Pod, config: &NodeConfig) -> Pod {
    let mut mirror = pod.clone();
    let hash = mirror.metadata.uid.clone().unwrap_or_default();
    let annotations = mirror
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new);
    annotations.insert(MIRROR_ANNOTATION.to_string(), hash.clone());
    annotations.insert("kubernetes.io/config.hash".to_string(), hash);
    annotations.insert(
        "kubernetes.io/config.source".to_string(),
        "file".to_string(),
    );
    mirror.metadata.uid = None;
    mirror.metadata.resource_version = None;
    mirror.metadata.owner_references = Some(vec![node_owner(config)]);
    mirror.status = None;
    mirror
}
