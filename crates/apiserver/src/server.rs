//! What `corral up` starts for the API: certificates and kubeconfig in the data directory,
//! the system namespaces, the namespace controller, and the HTTPS server. [`Server::start`]
//! returns once the port is bound; [`ServerHandle::shutdown`] stops accepting, closes
//! watches and drains in-flight requests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::discovery::DiscoveryDocuments;
use crate::http::auth::{Authenticator, StaticTokens};
use crate::http::tls::{ReloadableCert, TlsError, server_config_with_resolver};
use crate::http::{HttpShared, HttpState, router};
use crate::openapi::OpenApiDocuments;
use crate::ops::HealthState;
use crate::pki::{Pki, PkiError, RENEW_MARGIN, serving_names};
use crate::service::{ApiService, UserInfo, namespace_controller};
use crate::tokens::{AuthenticatorChain, NodeJoinToken, TokenFile};

/// How to run the API server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Certificates (`pki/`) and the admin `kubeconfig` live here.
    pub data_dir: PathBuf,
    /// Serve requests without credentials as `system:anonymous` (else 401).
    pub allow_anonymous: bool,
    /// A bearer token that authenticates as the admin (`system:masters`).
    pub admin_token: Option<String>,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
    /// More names for the serving certificate.
    pub extra_names: Vec<String>,
    /// Upstream's `--token-auth-file`: `token,user,uid,"group1,group2"` lines.
    pub token_auth_file: Option<PathBuf>,
    /// The node join secret (`corral node --token SECRET` or `NAME.SECRET`): users
    /// `system:node:NAME` in the group `system:nodes`.
    pub node_join_token: Option<String>,
    /// Store the default ClusterRoles and ClusterRoleBindings at start (idempotent).
    pub bootstrap_rbac: bool,
    /// How often the serving certificate file is checked for a rotation.
    pub cert_reload_interval: Duration,
}

impl ServerConfig {
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> ServerConfig {
        ServerConfig {
            listen,
            data_dir,
            allow_anonymous: false,
            admin_token: None,
            drain_timeout: Duration::from_secs(10),
            extra_names: Vec::new(),
            token_auth_file: None,
            node_join_token: None,
            bootstrap_rbac: true,
            cert_reload_interval: Duration::from_secs(5),
        }
    }

    pub fn kubeconfig_path(&self) -> PathBuf {
        self.data_dir.join("kubeconfig")
    }
}

/// A start-up failure.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create the system namespaces: {0}")]
    Bootstrap(corral_api::ApiError),
    #[error(transparent)]
    Tokens(#[from] crate::tokens::TokenError),
}

/// The API server.
#[derive(Debug)]
pub struct Server;

/// A running server.
pub struct ServerHandle {
    pub local_addr: SocketAddr,
    pub kubeconfig: PathBuf,
    pub pki: Pki,
    pub service: ApiService,
    pub health: Arc<HealthState>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addr", &self.local_addr)
            .finish()
    }
}

impl Server {
    /// Binds, writes the kubeconfig, bootstraps and starts serving.
    pub async fn start(
        config: ServerConfig,
        service: ApiService,
    ) -> Result<ServerHandle, ServerError> {
        let mut names = config.extra_names.clone();
        if !config.listen.ip().is_unspecified() {
            names.push(config.listen.ip().to_string());
        }
        let names = serving_names(&names);
        let (pki, renewed) = Pki::renew_if_expiring(&config.data_dir, &names, RENEW_MARGIN)?;
        if renewed {
            tracing::info!("renewed certificates close to expiry");
        }
        let serving = Arc::new(ReloadableCert::new(
            &pki.serving_cert_pem,
            &pki.serving_key_pem,
        )?);
        let tls = server_config_with_resolver(Some(&pki.ca_cert_pem), Arc::clone(&serving))?;
        let authenticator = authenticator(&config, &service)?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    address: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            address: config.listen,
            source,
        })?;
        let kubeconfig = config.kubeconfig_path();
        crate::kubeconfig::write(
            &kubeconfig,
            &crate::kubeconfig::server_url(&local_addr),
            &pki,
        )?;
        let bootstrap = service.clone();
        crate::service::blocking(move || bootstrap.ensure_system_namespaces())
            .await
            .map_err(ServerError::Bootstrap)?;
        if config.bootstrap_rbac {
            let bootstrap = service.clone();
            crate::service::blocking(move || bootstrap.ensure_bootstrap_rbac())
                .await
                .map_err(ServerError::Bootstrap)?;
        }
        let health = Arc::new(HealthState::default());
        health.set_bootstrapped();
        let state = HttpState(Arc::new(HttpShared {
            service: service.clone(),
            authenticator,
            allow_anonymous: config.allow_anonymous,
            metrics: Arc::clone(service.metrics()),
            health: Arc::clone(&health),
            discovery: DiscoveryDocuments::build(&local_addr.to_string()),
            openapi: OpenApiDocuments::build(),
        }));
        let (shutdown, receiver) = watch::channel(false);
        let serve =
            crate::http::tls::serve(listener, tls, router(state), receiver, config.drain_timeout);
        let tasks = vec![
            tokio::spawn(serve),
            tokio::spawn(namespace_controller::run(service.clone())),
            tokio::spawn(reload_serving_certificate(
                config.data_dir.clone(),
                serving,
                config.cert_reload_interval,
                receiver_for_reload(&shutdown),
            )),
        ];
        tracing::info!(address = %local_addr, kubeconfig = %kubeconfig.display(), "API server listening");
        Ok(ServerHandle {
            local_addr,
            kubeconfig,
            pki,
            service,
            health,
            shutdown,
            tasks,
        })
    }
}

impl ServerHandle {
    /// Stops accepting, closes watches, and waits for in-flight requests (bounded by the
    /// drain timeout) and background tasks.
    pub async fn shutdown(self) {
        self.health.set_shutting_down();
        self.service.close_watches();
        self.shutdown.send_replace(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Bearer tokens: the admin token, the token file, the node join token, then
/// ServiceAccount JWTs (when the service signs them).
fn authenticator(
    config: &ServerConfig,
    service: &ApiService,
) -> Result<Arc<dyn Authenticator>, ServerError> {
    let mut chain = AuthenticatorChain::new();
    if let Some(token) = &config.admin_token {
        chain.push(Arc::new(
            StaticTokens::new().with(token, UserInfo::new("admin", &["system:masters"])),
        ));
    }
    if let Some(path) = &config.token_auth_file {
        let file = TokenFile::load(path)?;
        tracing::info!(path = %path.display(), users = file.len(), "loaded the token file");
        chain.push(Arc::new(file));
    }
    if let Some(secret) = config.node_join_token.as_deref().filter(|s| !s.is_empty()) {
        chain.push(Arc::new(NodeJoinToken::new(secret)));
    }
    if let Some(tokens) = service.service_account_tokens() {
        chain.push(Arc::clone(tokens) as Arc<dyn Authenticator>);
    }
    Ok(Arc::new(chain))
}

fn receiver_for_reload(sender: &watch::Sender<bool>) -> watch::Receiver<bool> {
    sender.subscribe()
}

/// Serves a rotated certificate (`corral certs rotate` rewrote `pki/apiserver.crt`)
/// from the next handshake on: the files are checked every `interval` and on SIGHUP.
async fn reload_serving_certificate(
    data_dir: PathBuf,
    serving: Arc<ReloadableCert>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let cert_path = crate::pki::serving_cert_path(&data_dir);
    let key_path = crate::pki::serving_key_path(&data_dir);
    let modified = |path: &std::path::Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut seen = (modified(&cert_path), modified(&key_path));
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        let signalled = async {
            match hangup.as_mut() {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(interval.max(Duration::from_millis(50))) => {}
            _ = signalled => seen = (None, None),
            _ = shutdown.changed() => return,
        }
        let now = (modified(&cert_path), modified(&key_path));
        if now == seen {
            continue;
        }
        let (Ok(cert), Ok(key)) = (
            std::fs::read_to_string(&cert_path),
            std::fs::read_to_string(&key_path),
        ) else {
            continue;
        };
        match serving.replace(&cert, &key) {
            Ok(()) => {
                seen = now;
                tracing::info!(path = %cert_path.display(), "serving certificate reloaded");
            }
            // A half-written pair (certificate and key not yet both replaced): retry.
            Err(e) => tracing::debug!(error = %e, "serving certificate not reloaded yet"),
        }
    }
}
