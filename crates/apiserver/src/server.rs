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
use crate::http::tls::{TlsError, TlsMaterial, server_config};
use crate::http::{HttpShared, HttpState, router};
use crate::metrics::Metrics;
use crate::openapi::OpenApiDocuments;
use crate::ops::HealthState;
use crate::pki::{Pki, PkiError, serving_names};
use crate::service::{ApiService, UserInfo, namespace_controller};

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
        let pki = Pki::load_or_create(&config.data_dir, &serving_names(&names))?;
        let tls = server_config(&TlsMaterial {
            certificate_chain_pem: pki.serving_cert_pem.clone(),
            private_key_pem: pki.serving_key_pem.clone(),
            client_ca_pem: Some(pki.ca_cert_pem.clone()),
        })?;
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
        let health = Arc::new(HealthState::default());
        health.set_bootstrapped();
        let mut tokens = StaticTokens::new();
        if let Some(token) = &config.admin_token {
            tokens = tokens.with(token, UserInfo::new("admin", &["system:masters"]));
        }
        let authenticator: Arc<dyn Authenticator> = Arc::new(tokens);
        let state = HttpState(Arc::new(HttpShared {
            service: service.clone(),
            authenticator,
            allow_anonymous: config.allow_anonymous,
            metrics: Arc::new(Metrics::new()),
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
