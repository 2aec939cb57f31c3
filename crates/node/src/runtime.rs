//! The runtime port: what the core asks a container runtime to do ([`RuntimeCommand`])
//! and what the runtime reports back ([`RuntimeEvent`]), plus the [`ImageCatalog`] the core
//! consults to decide whether an image must be pulled.
//!
//! The real driver executes commands with processes; the simulator with behaviour models.
//! Either way results come back as events with the driver's `now`.

use std::time::Duration;

use corral_api::{ObjectKey, Uid};
use k8s_openapi::api::core::v1::{Container, Probe};

/// Which probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProbeKind {
    Startup,
    Liveness,
    Readiness,
}

impl ProbeKind {
    pub fn label(self) -> &'static str {
        match self {
            ProbeKind::Startup => "Startup",
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
        }
    }
}

/// A signal the core asks the runtime to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM (or the image's stop signal).
    Term,
    /// SIGKILL.
    Kill,
}

/// One thing for the runtime to do.
#[derive(Clone, Debug, PartialEq)]
pub enum RuntimeCommand {
    PullImage {
        pod_uid: Uid,
        image: String,
    },
    StartContainer {
        pod_uid: Uid,
        pod: ObjectKey,
        /// The container spec as written in the pod.
        container: Container,
        /// `env` resolved: literal values, downward API fields and resources,
        /// ConfigMap and Secret keys, `$(VAR)` expansion done.
        env: Vec<(String, String)>,
        /// The `restartCount` this instance will have.
        restart_count: i32,
    },
    /// Send a signal to a running container. After `Term` the core sends `Kill` itself
    /// when `grace_period` has passed.
    KillContainer {
        pod_uid: Uid,
        container: String,
        container_id: String,
        signal: Signal,
        grace_period: Duration,
    },
    RunProbe {
        pod_uid: Uid,
        container: String,
        container_id: String,
        kind: ProbeKind,
        probe: Probe,
        timeout: Duration,
    },
}

/// The result of a pull.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PulledImage {
    pub image_id: String,
    pub size_bytes: u64,
}

/// One thing the runtime observed.
#[derive(Clone, Debug, PartialEq)]
pub enum RuntimeEvent {
    ImagePulled {
        pod_uid: Uid,
        image: String,
        result: Result<PulledImage, String>,
    },
    ContainerStarted {
        pod_uid: Uid,
        container: String,
        container_id: String,
        image_id: String,
    },
    /// Create or start failed (command not found, bad workingDir): upstream shows a
    /// terminated instance with exit code 128 and this reason (`StartError` for
    /// containerd, `ContainerCannotRun` for docker).
    ContainerStartFailed {
        pod_uid: Uid,
        container: String,
        reason: String,
        message: String,
    },
    ContainerExited {
        pod_uid: Uid,
        container: String,
        container_id: String,
        exit_code: i32,
        /// The signal that ended it, if any.
        signal: Option<i32>,
        oom_killed: bool,
    },
    ProbeResult {
        pod_uid: Uid,
        container: String,
        container_id: String,
        kind: ProbeKind,
        success: bool,
        output: String,
    },
}

impl RuntimeEvent {
    pub fn pod_uid(&self) -> &Uid {
        match self {
            RuntimeEvent::ImagePulled { pod_uid, .. }
            | RuntimeEvent::ContainerStarted { pod_uid, .. }
            | RuntimeEvent::ContainerStartFailed { pod_uid, .. }
            | RuntimeEvent::ContainerExited { pod_uid, .. }
            | RuntimeEvent::ProbeResult { pod_uid, .. } => pod_uid,
        }
    }
}

/// What the node knows about an image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageAvailability {
    /// On the node already.
    Present { image_id: String },
    /// Not present; a pull is expected to succeed.
    Pullable,
    /// Not present and not known; a pull will tell.
    Unknown,
}

/// Resolves image references (the real driver: the local image store; the simulator: a
/// table).
pub trait ImageCatalog: std::fmt::Debug {
    fn resolve(&self, image: &str) -> ImageAvailability;
}

/// A catalog where every image is present (static pods in tests, the process runtime
/// that runs host binaries).
#[derive(Clone, Debug, Default)]
pub struct AllPresent;

impl ImageCatalog for AllPresent {
    fn resolve(&self, image: &str) -> ImageAvailability {
        ImageAvailability::Present {
            image_id: format!("sha256:{:016x}", fnv1a(image.as_bytes())),
        }
    }
}

/// 64-bit FNV-1a: stable ids and hashes without randomness.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// `imagePullPolicy` with upstream's default: `Always` for `:latest` or no tag (and no
/// digest), else `IfNotPresent`.
pub fn pull_policy(container: &Container) -> &str {
    if let Some(policy) = container
        .image_pull_policy
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        return policy;
    }
    let image = container.image.as_deref().unwrap_or("");
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}
