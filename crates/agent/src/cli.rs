//! `corral node`: join a cluster as a node in this process (`--server URL --token T`),
//! with its own name, capacity and data directory.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::agent::{AgentConfig, LogEndpointConfig, NodeAgent};
use crate::api::{RemoteApi, RemoteApiConfig};
use crate::error::AgentError;
use crate::machine::CapacityOverrides;
use crate::runtime::IsolationSettings;

/// `corral node` flags.
#[derive(Clone, Debug, Args)]
pub struct NodeArgs {
    /// The API server (`https://host:port`).
    #[arg(long)]
    pub server: String,
    /// The node join token (a bearer token the API server accepts).
    #[arg(long, env = "CORRAL_NODE_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The node name (default: the host name).
    #[arg(long)]
    pub name: Option<String>,
    /// Where pods, logs and volumes live (default: `./corral-node-<name>`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// PEM CA bundle that signed the API server's certificate.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Do not verify the API server's certificate (without --ca-file).
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
    /// The node's InternalIP, where the API server reaches its log endpoint.
    #[arg(long, default_value = "127.0.0.1")]
    pub node_ip: IpAddr,
    /// Port of the node's HTTPS log endpoint (0: any free port).
    #[arg(long, default_value_t = 10250)]
    pub log_port: u16,
    /// Capacity overrides (default: read from the machine).
    #[arg(long)]
    pub cpu: Option<String>,
    #[arg(long)]
    pub memory: Option<String>,
    #[arg(long)]
    pub pods: Option<i64>,
    /// Extra node labels (`key=value`, repeatable).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Image catalog file (YAML/JSON) adding images to the built-in ones.
    #[arg(long)]
    pub image_catalog: Option<PathBuf>,
    /// Static pod manifests (default: `<data-dir>/manifests`).
    #[arg(long)]
    pub static_pod_dir: Option<PathBuf>,
    /// Do not use cgroups (no limits, no OOM detection).
    #[arg(long)]
    pub no_cgroups: bool,
    /// Do not use mount namespaces (volumes through the symlink fallback).
    #[arg(long)]
    pub no_mount_namespaces: bool,
}

impl NodeArgs {
    /// The agent configuration these flags describe.
    pub fn agent_config(&self) -> Result<AgentConfig, AgentError> {
        let name = match &self.name {
            Some(n) => n.clone(),
            None => std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_lowercase())
                .unwrap_or_else(|_| "corral-node".into()),
        };
        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("corral-node-{name}")));
        let mut config = AgentConfig::new(&name, data_dir);
        config.node_ip = self.node_ip.to_string();
        config.capacity =
            CapacityOverrides::from_flags(self.cpu.as_deref(), self.memory.as_deref(), self.pods)?;
        let mut labels = BTreeMap::new();
        for label in &self.labels {
            let (k, v) = label.split_once('=').ok_or_else(|| {
                AgentError::Config(format!("--label {label:?}: expected key=value"))
            })?;
            labels.insert(k.to_string(), v.to_string());
        }
        config.labels = labels;
        config.image_catalog = self.image_catalog.clone();
        config.static_pod_dir = self.static_pod_dir.clone();
        config.isolation = IsolationSettings {
            cgroups: !self.no_cgroups,
            mount_namespaces: !self.no_mount_namespaces,
        };
        config.log_endpoint = Some(LogEndpointConfig {
            bind: SocketAddr::new(self.node_ip, self.log_port),
            token: self.token.clone(),
        });
        Ok(config)
    }

    /// The API connection these flags describe.
    pub fn api_config(&self) -> Result<RemoteApiConfig, AgentError> {
        let ca_pem = match &self.ca_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| AgentError::io(format!("read CA file {}", path.display()), e))?,
            ),
            None if self.insecure_skip_tls_verify => None,
            None => {
                return Err(AgentError::Config(
                    "--ca-file is required to verify the API server (or pass --insecure-skip-tls-verify)".into(),
                ));
            }
        };
        Ok(RemoteApiConfig {
            server: self.server.clone(),
            token: self.token.clone(),
            ca_pem,
        })
    }
}

/// Runs `corral node` on its own tokio runtime until SIGINT or SIGTERM. Call from a
/// plain `main` (not inside a tokio runtime; there use [`run_node_async`]).
pub fn run_node(args: NodeArgs) -> Result<(), AgentError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AgentError::io("start the tokio runtime", e))?;
    runtime.block_on(run_node_async(args))
}

/// `corral node` inside an existing tokio runtime: joins, runs until SIGINT/SIGTERM, then
/// stops every container before returning.
pub async fn run_node_async(args: NodeArgs) -> Result<(), AgentError> {
    let api = RemoteApi::shared(&args.api_config()?)?;
    let config = args.agent_config()?;
    let handle = NodeAgent::start(api, config).await?;
    eprintln!(
        "corral node {} joined {} ({}); log endpoint on port {}",
        handle.node_name(),
        args.server,
        handle.capabilities().describe(),
        handle.log_port().unwrap_or(0)
    );
    wait_for_signal().await?;
    eprintln!("stopping node {}", handle.node_name());
    handle.shutdown().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}

/// Waits for SIGINT or SIGTERM.
pub async fn wait_for_signal() -> Result<(), AgentError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| AgentError::io("install SIGTERM handler", e))?;
    let mut int =
        signal(SignalKind::interrupt()).map_err(|e| AgentError::io("install SIGINT handler", e))?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
