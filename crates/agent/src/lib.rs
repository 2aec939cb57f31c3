//! L2: the node agent. It runs pods as real local processes by driving the pure kubelet
//! core of `corral-node` ([`corral_node::NodeAgentCore`]).
//!
//! - [`runtime`]: the process runtime that executes the core's [`corral_node::RuntimeCommand`]s:
//!   the image catalog, containers as process groups with CRI log files, cgroup limits and
//!   OOM detection, volumes (private mount namespace or a symlink fallback), probes;
//! - [`agent`]: [`NodeAgent::start`]: registers the Node, watches its pods, feeds the core,
//!   executes its outputs, serves static pods, and shuts down leaving nothing running;
//! - [`api`]: [`NodeApi`], the agent's view of the API server, in process
//!   ([`InProcessApi`]) or over HTTPS ([`RemoteApi`]);
//! - [`logs`]: `pods/log` from the node's files ([`NodeLogFiles`]), the node's HTTPS log
//!   endpoint ([`logs::server`]) and the API server's [`RoutingLogSource`];
//! - [`machine`]: what the node reports about the machine (capacity, node info);
//! - [`cli`]: `corral node` ([`NodeArgs`], [`run_node`]).

pub mod agent;
pub mod api;
pub mod cli;
pub mod error;
pub mod logs;
pub mod machine;
pub mod runtime;
pub mod static_pods;
pub mod tls;

pub use agent::{AgentConfig, NodeAgent, NodeAgentHandle};
pub use api::{InProcessApi, NodeApi, RemoteApi, RemoteApiConfig};
pub use cli::{NodeArgs, run_node, run_node_async};
pub use error::AgentError;
pub use logs::{NodeLogFiles, RoutingLogSource};
pub use runtime::HostCapabilities;
