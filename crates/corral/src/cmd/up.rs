//! `corral up`: opens the store on the data directory (redb, or memory with
//! `--in-memory`), starts the API server, prints `export KUBECONFIG=…`, and runs until
//! SIGTERM or SIGINT, then shuts down cleanly: stop accepting, close watches, let
//! in-flight writes finish, close the store.
//!
//! A second `corral up` on the same data directory is refused by the store's lock.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use corral_apiserver::{ApiService, Server, ServerConfig};
use corral_store::{Backend, JsonBytes, MemoryBackend, Store, StoreConfig};
use corral_store_redb::RedbBackend;

use crate::logging::{self, LogFormat};

/// Arguments of `corral up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Where the store, certificates and kubeconfig live (default:
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

fn open_store(args: &UpArgs, data_dir: &PathBuf) -> anyhow::Result<Arc<Store<JsonBytes>>> {
    let backend: Box<dyn Backend> = if args.in_memory {
        Box::new(MemoryBackend)
    } else {
        Box::new(RedbBackend::open(data_dir)?)
    };
    let store = Store::<JsonBytes>::open(backend, StoreConfig::default())
        .context("cannot load the store")?;
    Ok(Arc::new(store))
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
    let mut config = ServerConfig::new(SocketAddr::new(args.listen_address, args.port), data_dir);
    config.allow_anonymous = args.allow_anonymous;
    config.admin_token = args.admin_token.clone();
    let service = ApiService::new(store);
    let handle = Server::start(config, service).await?;
    println!(
        "corral: API server listening on https://{}",
        handle.local_addr
    );
    println!("export KUBECONFIG={}", handle.kubeconfig.display());
    wait_for_signal().await?;
    tracing::info!("shutting down");
    handle.shutdown().await;
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
