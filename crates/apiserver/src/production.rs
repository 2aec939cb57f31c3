//! [`production_service`]: the [`ApiService`] `corral up` runs, with everything on: the
//! full admission chain ([`AdmissionChain`]: namespace lifecycle, ServiceAccount,
//! LimitRange, mutating webhooks, validation, validating webhooks, ResourceQuota, guard-7
//! breakers), RBAC over the stored roles and bindings ([`RbacAuthorizer`]), the
//! ServiceAccount token signer (`serviceaccounts/token`, key in `DIR/pki/sa.key`), and one
//! metrics registry shared by the HTTP front and the webhook calls.
//!
//! ```text
//! let service = corral_apiserver::production_service(store, ProductionOptions {
//!     breakers: Some(breakers.clone()),
//!     log_source: Some(logs),
//!     ..ProductionOptions::new(&data_dir)
//! })?;
//! let handle = Server::start(config, service).await?;
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use corral_core::Clock;
use corral_registry::admission::{AdmissionConfig, SharedBreakers};
use corral_store::{JsonBytes, Store};
use corral_webhook::{ClientSettings, WebhookClient};

use crate::metrics::Metrics;
use crate::service::{AdmissionChain, ApiService, LogSource, RbacAuthorizer, ServiceConfig};
use crate::tokens::{ServiceAccountTokens, TokenError};

/// What [`production_service`] needs besides the store.
#[derive(Clone)]
pub struct ProductionOptions {
    /// The data directory (the ServiceAccount signing key lives in `pki/`).
    pub data_dir: PathBuf,
    /// Guard 7: the webhook breakers shared with whoever reports them (`None`: upstream
    /// behaviour, every matching webhook is called).
    pub breakers: Option<SharedBreakers>,
    /// Where `pods/log` reads from (default: no node logs).
    pub log_source: Option<Arc<dyn LogSource>>,
    /// Webhook client settings (service reference table, response cap, system roots).
    pub webhook: ClientSettings,
    /// Admission settings (upstream's defaults). `caller_prepares` is forced on.
    pub admission: AdmissionConfig,
    /// Pipeline tunables.
    pub service: ServiceConfig,
    /// RBAC authorization (default on); off: every authenticated request is allowed.
    pub rbac: bool,
    /// The clock (default: the system clock).
    pub clock: Option<Arc<dyn Clock>>,
}

impl ProductionOptions {
    pub fn new(data_dir: &Path) -> ProductionOptions {
        ProductionOptions {
            data_dir: data_dir.to_path_buf(),
            breakers: None,
            log_source: None,
            webhook: ClientSettings::default(),
            admission: AdmissionConfig::default(),
            service: ServiceConfig::default(),
            rbac: true,
            clock: None,
        }
    }
}

/// Why the production service could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProductionError {
    #[error(transparent)]
    Tokens(#[from] TokenError),
    #[error("cannot start the webhook runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// The production pipeline over `store`.
pub fn production_service(
    store: Arc<Store<JsonBytes>>,
    options: ProductionOptions,
) -> Result<ApiService, ProductionError> {
    let metrics = Arc::new(Metrics::new());
    let mut admission = options.admission.clone();
    if options.breakers.is_some() {
        admission.webhook_breakers = options.breakers.clone();
    }
    let mut chain = AdmissionChain::new(admission, WebhookClient::new(options.webhook.clone()))?
        .with_metrics(metrics.webhooks());
    if let Some(clock) = &options.clock {
        chain = chain.with_clock(Arc::clone(clock));
    }
    let tokens =
        ServiceAccountTokens::load_or_create(&options.data_dir)?.with_store(Arc::clone(&store));
    let mut builder = ApiService::builder(Arc::clone(&store))
        .admission(Arc::new(chain))
        .metrics(metrics)
        .service_account_tokens(Arc::new(tokens))
        .config(options.service.clone());
    if options.rbac {
        builder = builder.authorizer(Arc::new(RbacAuthorizer::new(Arc::clone(&store))));
    }
    if let Some(logs) = &options.log_source {
        builder = builder.log_source(Arc::clone(logs));
    }
    if let Some(clock) = &options.clock {
        builder = builder.clock(Arc::clone(clock));
    }
    Ok(builder.build())
}
