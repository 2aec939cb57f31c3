//! The process runtime: executes the core's [`RuntimeCommand`]s with real processes.
//!
//! - [`images`]: the image catalog (pulls resolve or fail as containerd would);
//! - [`container`]: a container instance is a process group (`setpgid`), in its own
//!   cgroup where the host allows ([`cgroups`]), with stdout/stderr in a CRI log file,
//!   volumes at their `mountPath` ([`volumes`]), and the pod's user and group ([`sys`]);
//! - [`probes`]: exec (in the container's context), httpGet and tcpSocket probes.
//!
//! Results come back as [`RuntimeEvent`]s: immediately from [`ProcessRuntime::execute`]
//! when known at once (pull results, started or failed to start), later through the
//! event channel (exits, probe results).

pub mod cgroups;
pub mod container;
pub mod images;
pub mod probes;
pub mod sys;
pub mod volumes;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use corral_api::Uid;
use corral_node::runtime::fnv1a;
use corral_node::{RuntimeCommand, RuntimeEvent, Signal as CoreSignal};
use k8s_openapi::api::core::v1::Pod;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};

pub use cgroups::CgroupDriver;
pub use images::HostImageCatalog;
pub use volumes::{ConfigObjects, MountMode};

/// What isolation the operator allows (each is used only if the host also allows it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsolationSettings {
    pub cgroups: bool,
    pub mount_namespaces: bool,
}

impl Default for IsolationSettings {
    fn default() -> Self {
        IsolationSettings {
            cgroups: true,
            mount_namespaces: true,
        }
    }
}

/// What this host lets the runtime do, detected at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostCapabilities {
    /// The agent runs as root (needed for `runAsUser`/`runAsGroup` other than its own).
    pub root: bool,
    /// Usable cgroups (memory/cpu limits, OOM detection, kill-all).
    pub cgroups: Option<CgroupDriver>,
    /// Private mount namespaces with bind mounts (else the symlink fallback).
    pub mount_namespaces: bool,
}

impl HostCapabilities {
    /// Probes the host for node `node`.
    pub async fn detect(node: &str, settings: IsolationSettings) -> HostCapabilities {
        let root = nix::unistd::geteuid().is_root();
        let cgroups = if settings.cgroups {
            CgroupDriver::detect(node)
        } else {
            None
        };
        let mount_namespaces =
            settings.mount_namespaces && root && sys::probe_mount_namespaces().await;
        HostCapabilities {
            root,
            cgroups,
            mount_namespaces,
        }
    }

    /// No isolation at all (tests of the fallbacks).
    pub fn none() -> HostCapabilities {
        HostCapabilities {
            root: nix::unistd::geteuid().is_root(),
            cgroups: None,
            mount_namespaces: false,
        }
    }

    pub fn mount_mode(&self) -> MountMode {
        if self.mount_namespaces {
            MountMode::Namespace
        } else {
            MountMode::Symlink
        }
    }

    /// One line for logs and `corral node` startup output.
    pub fn describe(&self) -> String {
        format!(
            "root: {}, cgroups: {}, mount namespaces: {}",
            self.root,
            self.cgroups.as_ref().map_or_else(
                || "unavailable (limits not enforced)".to_string(),
                |c| c.describe()
            ),
            if self.mount_namespaces {
                "yes (bind mounts)"
            } else {
                "no (symlink fallback)"
            }
        )
    }
}

/// Runtime settings.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    pub node_name: String,
    pub data_dir: PathBuf,
    pub catalog: Arc<HostImageCatalog>,
    pub capabilities: HostCapabilities,
}

/// One running container instance.
#[derive(Debug)]
pub(crate) struct Running {
    pub pod_uid: Uid,
    pub name: String,
    /// The main process, also the process group id.
    pub pid: i32,
    pub cgroup: Option<cgroups::ContainerCgroup>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub private_mounts: bool,
    pub exited: watch::Receiver<bool>,
}

pub(crate) struct RuntimeInner {
    pub config: RuntimeConfig,
    pub objects: Arc<ConfigObjects>,
    pub events: mpsc::UnboundedSender<RuntimeEvent>,
    pub containers: Mutex<HashMap<String, Arc<Running>>>,
    /// Mount points the runtime created on the host, with their users.
    pub mount_targets: Mutex<container::MountTable>,
    pub sequence: AtomicU64,
}

/// What a command needs to know about its pod besides the command itself.
#[derive(Clone, Copy, Debug)]
pub struct PodContext<'a> {
    pub pod: &'a Pod,
    pub pod_ip: &'a str,
}

/// The process runtime of one node. Cheap to clone.
#[derive(Clone)]
pub struct ProcessRuntime {
    inner: Arc<RuntimeInner>,
}

impl std::fmt::Debug for ProcessRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessRuntime")
            .field("node", &self.inner.config.node_name)
            .field("running", &self.running_count())
            .finish()
    }
}

impl ProcessRuntime {
    /// A runtime reporting asynchronous results on `events`. Leftovers of a previous run
    /// of this node (processes in its cgroups) are killed first.
    pub fn new(
        config: RuntimeConfig,
        objects: Arc<ConfigObjects>,
        events: mpsc::UnboundedSender<RuntimeEvent>,
    ) -> ProcessRuntime {
        if let Some(driver) = &config.capabilities.cgroups {
            driver.clean_up_all();
        }
        mark_all_logs_done(&config.data_dir);
        ProcessRuntime {
            inner: Arc::new(RuntimeInner {
                config,
                objects,
                events,
                containers: Mutex::new(HashMap::new()),
                mount_targets: Mutex::new(container::MountTable::default()),
                sequence: AtomicU64::new(0),
            }),
        }
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    pub fn objects(&self) -> &Arc<ConfigObjects> {
        &self.inner.objects
    }

    pub fn running_count(&self) -> usize {
        self.inner.containers.lock().len()
    }

    /// Main process ids of the running containers.
    pub fn running_pids(&self) -> Vec<i32> {
        self.inner
            .containers
            .lock()
            .values()
            .map(|r| r.pid)
            .collect()
    }

    /// Executes one command; returns the event when the result is known at once.
    pub fn execute(
        &self,
        command: RuntimeCommand,
        context: Option<PodContext<'_>>,
    ) -> Option<RuntimeEvent> {
        match command {
            RuntimeCommand::PullImage { pod_uid, image } => {
                let result = self.inner.config.catalog.pull(&image);
                Some(RuntimeEvent::ImagePulled {
                    pod_uid,
                    image,
                    result,
                })
            }
            RuntimeCommand::StartContainer {
                pod_uid,
                container,
                env,
                restart_count,
                ..
            } => {
                let Some(context) = context else {
                    return Some(RuntimeEvent::ContainerStartFailed {
                        pod_uid,
                        container: container.name,
                        reason: "StartError".into(),
                        message: "the pod is no longer known to the node".into(),
                    });
                };
                Some(container::start(
                    &self.inner,
                    context,
                    &pod_uid,
                    &container,
                    env,
                    restart_count,
                ))
            }
            RuntimeCommand::KillContainer {
                container_id,
                signal,
                ..
            } => {
                let signal = match signal {
                    CoreSignal::Term => Signal::SIGTERM,
                    CoreSignal::Kill => Signal::SIGKILL,
                };
                self.signal(&container_id, signal);
                None
            }
            RuntimeCommand::RunProbe {
                pod_uid,
                container,
                container_id,
                kind,
                probe,
                timeout,
            } => {
                let running = self.inner.containers.lock().get(&container_id).cloned();
                let pod_ip = context.map(|c| c.pod_ip.to_string()).unwrap_or_default();
                let ports = context
                    .and_then(|c| c.pod.spec.as_ref())
                    .and_then(|s| {
                        s.containers
                            .iter()
                            .chain(s.init_containers.iter().flatten())
                            .find(|c| c.name == container)
                    })
                    .and_then(|c| c.ports.clone())
                    .unwrap_or_default();
                let events = self.inner.events.clone();
                tokio::spawn(async move {
                    let (success, output) = match running {
                        Some(running) => {
                            probes::run(&running, &probe, timeout, &pod_ip, &ports).await
                        }
                        None => (false, "container is not running".to_string()),
                    };
                    let _ = events.send(RuntimeEvent::ProbeResult {
                        pod_uid,
                        container,
                        container_id,
                        kind,
                        success,
                        output,
                    });
                });
                None
            }
        }
    }

    /// Signals a container's process group (and its cgroup, catching processes that
    /// left the group).
    pub fn signal(&self, container_id: &str, signal: Signal) {
        let running = self.inner.containers.lock().get(container_id).cloned();
        if let Some(running) = running {
            let _ = killpg(Pid::from_raw(running.pid), signal);
            if let Some(cgroup) = &running.cgroup {
                cgroup.signal_all(signal);
            }
        }
    }

    /// Stops every container: SIGTERM, then SIGKILL after `grace`, then waits (bounded)
    /// for every exit to be processed and removes what the runtime created on the host.
    pub async fn shutdown(&self, grace: Duration) {
        let all: Vec<(String, Arc<Running>)> = self
            .inner
            .containers
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        for (id, _) in &all {
            self.signal(id, Signal::SIGTERM);
        }
        let wait_all = |limit: Duration| {
            let receivers: Vec<watch::Receiver<bool>> =
                all.iter().map(|(_, r)| r.exited.clone()).collect();
            async move {
                let waits = receivers.into_iter().map(|mut r| async move {
                    let _ = r.wait_for(|done| *done).await;
                });
                tokio::time::timeout(limit, futures::future::join_all(waits))
                    .await
                    .is_ok()
            }
        };
        if !wait_all(grace).await {
            for (id, _) in &all {
                self.signal(id, Signal::SIGKILL);
            }
            let _ = wait_all(Duration::from_secs(10)).await;
        }
        self.kill_all_now();
        container::release_all_targets(&self.inner);
        if let Some(driver) = &self.inner.config.capabilities.cgroups {
            let driver = driver.clone();
            let _ = tokio::task::spawn_blocking(move || driver.remove_node_dirs()).await;
        }
    }

    /// SIGKILLs every known container at once, synchronously (the last-resort path of
    /// `Drop`).
    pub fn kill_all_now(&self) {
        let all: Vec<Arc<Running>> = self.inner.containers.lock().values().cloned().collect();
        for running in all {
            let _ = killpg(Pid::from_raw(running.pid), Signal::SIGKILL);
            if let Some(cgroup) = &running.cgroup {
                cgroup.kill_all();
            }
        }
    }

    /// Removes a pod's directory once the pod is gone for good (no container left).
    pub fn forget_pod(&self, pod_uid: &Uid) {
        let busy = self
            .inner
            .containers
            .lock()
            .values()
            .any(|r| &r.pod_uid == pod_uid);
        if busy {
            return;
        }
        let dir = crate::logs::pod_dir(&self.inner.config.data_dir, pod_uid.as_str());
        tokio::task::spawn_blocking(move || {
            let _ = std::fs::remove_dir_all(dir);
        });
    }

    /// Whether any container of the pod is still running.
    pub fn pod_has_containers(&self, pod_uid: &Uid) -> bool {
        self.inner
            .containers
            .lock()
            .values()
            .any(|r| &r.pod_uid == pod_uid)
    }
}

/// A fresh container id (64 hex digits).
pub(crate) fn new_container_id(
    inner: &RuntimeInner,
    pod_uid: &Uid,
    name: &str,
    restart: i32,
) -> String {
    let sequence = inner.sequence.fetch_add(1, Ordering::Relaxed);
    let nanos = jiff::Timestamp::now().as_nanosecond();
    let seed = format!(
        "{}/{pod_uid}/{name}/{restart}/{sequence}/{nanos}/{}",
        inner.config.node_name,
        std::process::id()
    );
    let mut hex = String::with_capacity(64);
    for round in 0u8..4 {
        let mut bytes = vec![round];
        bytes.extend_from_slice(seed.as_bytes());
        hex.push_str(&format!("{:016x}", fnv1a(&bytes)));
    }
    hex
}

/// After a restart of the agent no container of a previous run is alive: every log
/// without its `.done` marker gets one, so followers of those logs end.
fn mark_all_logs_done(data_dir: &Path) {
    let Ok(pods) = std::fs::read_dir(data_dir.join("pods")) else {
        return;
    };
    for pod in pods.flatten() {
        let Ok(containers) = std::fs::read_dir(pod.path().join("logs")) else {
            continue;
        };
        for container in containers.flatten() {
            let Ok(files) = std::fs::read_dir(container.path()) else {
                continue;
            };
            for file in files.flatten() {
                let path = file.path();
                if path.extension().is_some_and(|e| e == "log") {
                    let marker = crate::logs::cri::done_marker(&path);
                    if !marker.exists() {
                        let _ = std::fs::write(marker, b"");
                    }
                }
            }
        }
    }
}
