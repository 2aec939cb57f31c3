//! `corral up`: the whole control plane and a local node in one process.
//!
//! Start order (each step needs the one before):
//! 1. the store on the data directory (redb; memory with `--in-memory`), locked so a second
//!    `corral up` on the same directory refuses to start;
//! 2. the API pipeline ([`production_service`]: admission chain with webhook breakers,
//!    RBAC, ServiceAccount tokens) and the HTTPS server (certificates and the admin
//!    kubeconfig written on first start);
//! 3. the controller manager (Job, CronJob, GC, TTL, pod GC, quota, ServiceAccount,
//!    scheduler, node lifecycle) with the profile's settings (`--profile corral`, guards
//!    on, is the default; `--profile upstream` turns every guard off);
//! 4. the computed collections (`kubectl get holdings -A`, `kubectl get webhookbreakers`)
//!    and every component's metrics on `/metrics`;
//! 5. the local node agent (pods as real processes), unless `--no-node`.
//!
//! SIGTERM or SIGINT stops in the reverse order: the node first (every container process
//! is stopped), then the controllers, then the server (watches closed, in-flight requests
//! drained), and the store closes last, so every acknowledged write is durable.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use corral_agent::machine::CapacityOverrides;
use corral_agent::{AgentConfig, NodeAgent, RoutingLogSource};
use corral_apiserver::service::LogSource;
use corral_apiserver::{ProductionOptions, Server, ServerConfig, production_service};
use corral_node::lifecycle::{LifecycleConfig, NodeLifecycleController};
use corral_registry::admission::{BreakerConfig, SharedBreakers};
use corral_runtime::{
    AdditionalController, ClusterComputed, ControllerManager, ControllerManagerConfig, Profile,
};
use corral_store::{Backend, JsonBytes, MemoryBackend, Store, StoreConfig};
use corral_store_redb::RedbBackend;

use crate::logging::{self, LogFormat};

/// Arguments of `corral up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Where the store, certificates, kubeconfig and the local node's pods live (default:
    /// `$XDG_DATA_HOME/corral` or `~/.local/share/corral`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// HTTPS port of the API server (0 picks a free one).
    #[arg(long, default_value_t = 6443)]
    pub port: u16,
    /// Address the API server listens on.
    #[arg(long, default_value = "127.0.0.1")]
    pub listen_address: IpAddr,
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Keep objects in memory only (tests); certificates and kubeconfig are still written.
    #[arg(long)]
    pub in_memory: bool,
    /// Serve requests without credentials as `system:anonymous`.
    #[arg(long)]
    pub allow_anonymous: bool,
    /// A bearer token that authenticates as the admin.
    #[arg(long, env = "CORRAL_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Upstream's `--token-auth-file` (`token,user,uid,"group1,group2"` per line).
    #[arg(long)]
    pub token_auth_file: Option<PathBuf>,
    /// Control-plane behaviour: `corral` (guards on, see docs/guards.md) or `upstream`
    /// (every guard off, kube-controller-manager's constants).
    #[arg(long, default_value = "corral", value_parser = parse_profile)]
    pub profile: Profile,
    /// Controllers to leave off (repeatable): job, cronjob, garbagecollector,
    /// ttl-after-finished, podgc, resourcequota, serviceaccount, scheduler, nodelifecycle.
    #[arg(long = "disable-controller")]
    pub disable_controllers: Vec<String>,
    /// Multiplies the Job controller's backoffs (pod failure 10 s doubling to 600 s) for
    /// fast end-to-end tests: 0.01 turns 10 s into 100 ms. 1 is upstream.
    #[arg(long, default_value_t = 1.0)]
    pub job_backoff_scale: f64,
    /// Do not run a local node (pods then need `corral node` to join).
    #[arg(long)]
    pub no_node: bool,
    /// The local node's name (default: the host name).
    #[arg(long)]
    pub node_name: Option<String>,
    /// Local node capacity overrides (default: read from the machine).
    #[arg(long)]
    pub node_cpu: Option<String>,
    #[arg(long)]
    pub node_memory: Option<String>,
    #[arg(long)]
    pub node_pods: Option<i64>,
    /// Image catalog file (YAML/JSON) adding images to the built-in ones
    /// (crates/agent/README.md).
    #[arg(long)]
    pub image_catalog: Option<PathBuf>,
    /// Do not use cgroups for the local node's pods (no limits, no OOM detection).
    #[arg(long)]
    pub no_cgroups: bool,
    /// Do not use mount namespaces for volumes (symlink fallback).
    #[arg(long)]
    pub no_mount_namespaces: bool,
}

fn parse_profile(text: &str) -> Result<Profile, String> {
    text.parse::<Profile>().map_err(|e| e.to_string())
}

/// `$XDG_DATA_HOME/corral`, else `~/.local/share/corral`.
pub fn default_data_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("corral");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local").join("share").join("corral")
}

fn open_store(args: &UpArgs, data_dir: &Path) -> anyhow::Result<Arc<Store<JsonBytes>>> {
    let backend: Box<dyn Backend> = if args.in_memory {
        Box::new(MemoryBackend)
    } else {
        Box::new(RedbBackend::open(data_dir)?)
    };
    let store = Store::<JsonBytes>::open(backend, StoreConfig::default())
        .context("cannot load the store")?;
    Ok(Arc::new(store))
}

/// The node join secret in `DIR/node-token`, created (mode 0600) on first start.
fn node_join_token(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("node-token");
    if let Ok(token) = std::fs::read_to_string(&path) {
        let token = token.trim().to_string();
        if !token.is_empty() {
            return Ok(token);
        }
    }
    let token = random_token()?;
    corral_apiserver::pki::write_file(&path, &format!("{token}\n"), 0o600)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(token)
}

/// 32 hex characters from the OS's random source.
fn random_token() -> anyhow::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("cannot read /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn node_name(args: &UpArgs) -> String {
    args.node_name
        .clone()
        .or_else(corral_apiserver::pki::hostname)
        .map(|n| n.to_lowercase())
        .unwrap_or_else(|| "corral-node".to_string())
}

fn agent_config(args: &UpArgs, name: &str, data_dir: &Path) -> anyhow::Result<AgentConfig> {
    let mut config = AgentConfig::new(name, data_dir.join("node"));
    config.capacity = CapacityOverrides::from_flags(
        args.node_cpu.as_deref(),
        args.node_memory.as_deref(),
        args.node_pods,
    )?;
    config.image_catalog = args.image_catalog.clone();
    config.isolation.cgroups = !args.no_cgroups;
    config.isolation.mount_namespaces = !args.no_mount_namespaces;
    Ok(config)
}

fn controller_config(
    args: &UpArgs,
    service: &corral_apiserver::ApiService,
    breakers: &SharedBreakers,
) -> anyhow::Result<ControllerManagerConfig> {
    let mut config =
        ControllerManagerConfig::for_profile(args.profile).with_webhook_breakers(breakers.clone());
    // The API service's clock, so controllers and the API agree on `now`.
    config.clock = service.clock();
    config.job_time_scale = args.job_backoff_scale;
    let mut node_lifecycle = true;
    for name in &args.disable_controllers {
        if name == "nodelifecycle" {
            node_lifecycle = false;
        } else {
            config
                .disable(name)
                .map_err(|e| anyhow::anyhow!("--disable-controller {name}: {e}"))?;
        }
    }
    if node_lifecycle {
        config.additional.push(AdditionalController {
            core: Box::new(NodeLifecycleController::new(LifecycleConfig::default())),
            user: "node-controller".to_string(),
            workers: None,
        });
    }
    Ok(config)
}

pub fn run(args: UpArgs) -> anyhow::Result<()> {
    logging::init(args.log_format);
    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let store = open_store(&args, &data_dir)?;
    tracing::info!(data_dir = %data_dir.display(), backend = store.backend_name(), revision = %store.current_revision(), "store opened");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args, data_dir, store))
}

async fn serve(
    args: UpArgs,
    data_dir: PathBuf,
    store: Arc<Store<JsonBytes>>,
) -> anyhow::Result<()> {
    let token = node_join_token(&data_dir)?;
    let name = node_name(&args);
    let agent = if args.no_node {
        None
    } else {
        Some(agent_config(&args, &name, &data_dir)?)
    };
    let mut logs = RoutingLogSource::new().with_node_token(&token);
    if let Some(agent) = &agent {
        logs = logs.with_local_node(&name, &agent.data_dir);
    }
    let logs = Arc::new(logs);
    let breakers = SharedBreakers::new(match args.profile {
        Profile::Corral => BreakerConfig::corral(),
        Profile::Upstream => BreakerConfig::default(),
    });
    let service = production_service(
        Arc::clone(&store),
        ProductionOptions {
            breakers: Some(breakers.clone()),
            log_source: Some(Arc::clone(&logs) as Arc<dyn LogSource>),
            ..ProductionOptions::new(&data_dir)
        },
    )?;
    logs.attach(service.clone());

    let mut config = ServerConfig::new(SocketAddr::new(args.listen_address, args.port), data_dir);
    config.allow_anonymous = args.allow_anonymous;
    config.admin_token = args.admin_token.clone();
    config.token_auth_file = args.token_auth_file.clone();
    config.node_join_token = Some(token);
    let data_dir = config.data_dir.clone();
    let server = Server::start(config, service.clone()).await?;

    let manager = ControllerManager::start(
        service.clone(),
        controller_config(&args, &service, &breakers)?,
    );
    let runtime_metrics = manager.metrics().clone();
    service
        .metrics()
        .add_registry(|registry| runtime_metrics.register(registry));
    let computed = Arc::new(ClusterComputed::new(
        manager.cache().clone(),
        service.clone(),
        Some(breakers),
    ));
    service.set_computed(computed.clone());
    service
        .metrics()
        .add_computed(Arc::new(move || computed.metrics_text()));

    let node = match agent {
        Some(config) => Some(
            NodeAgent::start_local(&service, config)
                .await
                .context("cannot start the local node")?,
        ),
        None => None,
    };
    println!(
        "corral: API server listening on https://{} (profile {}{})",
        server.local_addr,
        args.profile.as_str(),
        if node.is_some() {
            format!(", local node {name}")
        } else {
            String::new()
        }
    );
    println!(
        "corral: other nodes join with: corral node --server https://{} --token \"$(cat {})\" --ca-file {}",
        server.local_addr,
        data_dir.join("node-token").display(),
        data_dir.join("pki").join("ca.crt").display()
    );
    println!("export KUBECONFIG={}", server.kubeconfig.display());
    wait_for_signal().await?;
    tracing::info!("shutting down");
    if let Some(node) = node {
        node.shutdown().await;
    }
    if let Err(e) = manager.shutdown().await {
        tracing::warn!(error = %e, "controllers did not stop cleanly");
    }
    server.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}
