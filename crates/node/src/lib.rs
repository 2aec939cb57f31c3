//! L1: the node agent (kubelet semantics) and the node lifecycle controller as pure cores.
//!
//! - [`agent`]: [`NodeAgentCore`], one node's agent with `handle_*`/`poll_*`/`next_wakeup`;
//! - [`worker`]: one pod's lifecycle (images, init containers, sidecars, restarts,
//!   probes, deadline, graceful termination);
//! - [`pod_status`] and [`status`]: the status the kubelet writes (`getPhase`, conditions,
//!   QoS, container statuses);
//! - [`backoff`]: client-go's `flowcontrol.Backoff`, time passed in;
//! - [`runtime`]: the runtime port ([`RuntimeCommand`], [`RuntimeEvent`], [`ImageCatalog`]);
//! - [`env`]: container environment resolution (downward API, ConfigMaps, Secrets);
//! - [`lifecycle`]: node health, `unreachable`/`not-ready` taints and taint-based eviction.
//!
//! No I/O, no clock reads, no randomness.

pub mod agent;
pub mod backoff;
pub mod env;
pub mod lifecycle;
pub mod pod_status;
pub mod resources_helpers;
pub mod runtime;
pub mod status;
pub mod taints;
pub mod worker;

pub use agent::{NodeAgentCore, NodeConfig, StatusUpdate};
pub use backoff::Backoff;
pub use lifecycle::{LifecycleConfig, NodeLifecycleController};
pub use runtime::{
    AllPresent, ImageAvailability, ImageCatalog, ProbeKind, PulledImage, RuntimeCommand,
    RuntimeEvent, Signal,
};
pub use worker::{ContainerKind, PodWorker, TerminationReason};
