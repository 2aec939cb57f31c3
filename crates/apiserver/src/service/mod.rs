//! The request pipeline, free of HTTP types: [`ApiService`].
//!
//! A write goes: decode (JSON/YAML/protobuf seam) → strict field validation
//! (`fieldValidation`) → typed decode → namespace lifecycle → mutating [`Admission`] →
//! registry strategy, defaults and validation (`strategy`) → validating admission → store
//! (compare-and-swap; dry runs stop before the write). Reads stream the stored JSON bytes.
//! Watches are [`WatchStream`]s fed by one [`WatchHub`] (a store commit listener that
//! wakes every stream; each polls its own cursor).
//!
//! Every public operation has an async form that runs the blocking store work on tokio's
//! blocking pool, so concurrent writers reach the store's group commit together.

mod admission;
pub mod admission_chain;
mod authz;
mod bootstrap;
mod client;
mod computed;
mod create;
mod decode;
mod delete;
mod events_view;
mod logs;
pub mod namespace_controller;
pub mod rbac;
mod read;
mod strategy;
mod subresources;
mod token_request;
mod types;
mod update;
mod view;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use corral_api::{ApiError, GroupResource, KubeObject, ResourceInfo};
use corral_core::{Clock, SimRng, Timestamp};
use corral_store::{JsonBytes, ObjectStore, Store, StoreError};
use parking_lot::Mutex;

pub use admission::{
    Admission, AdmissionRequest, Admitted, ClusterView, Commit, CommitOutcome, IMMORTAL_NAMESPACES,
    NamespaceLifecycle, Operation, Prepare, namespace_lifecycle,
};
pub use admission_chain::AdmissionChain;
pub use authz::{AllowAll as AllowAllAuthorizer, Attributes, Authorizer, Decision, RuleSet};
pub use bootstrap::SYSTEM_NAMESPACES;
pub use client::{ApiClient, DeleteParams, ListParams, TypedList, TypedWatch, TypedWatchEvent};
pub use computed::{ComputedList, ComputedResources, is_computed};
pub use decode::{
    ACCEPTED_BODY_TYPES, BodyFormat, decode_body, decode_protobuf_body, unsupported_media_type,
};
pub use logs::{LogOptions, LogSource, LogStream, NoNodeLogs};
pub use rbac::RbacAuthorizer;
pub use subresources::{delete_request_from, success_status};
pub use types::{
    DecodedBody, DeleteRequest, DeleteResult, FieldValidation, ListOptions, ListResult, Part,
    ServedBody, ServedObject, Target, UserInfo, VersionMatch, WriteOptions, WriteResult,
};
pub use watch::{WatchEventType, WatchHub, WatchItem, WatchObject, WatchStream};

/// Tunables of the pipeline.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// A watch without `timeoutSeconds` closes after this long (upstream: 30–60 min).
    pub watch_timeout_default: Duration,
    /// How often a watch with `allowWatchBookmarks=true` gets a BOOKMARK when idle.
    pub bookmark_interval: Duration,
    /// Events one watch poll takes from the store at most.
    pub watch_batch_max: usize,
    /// Attempts at a `generateName` name before giving up (upstream: 8).
    pub generate_name_attempts: usize,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            watch_timeout_default: Duration::from_secs(1800),
            bookmark_interval: Duration::from_secs(60),
            watch_batch_max: 256,
            generate_name_attempts: 8,
        }
    }
}

/// The wall clock, for production.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A seed from the OS: std's `RandomState` keys come from the OS generator; mixing in the
/// time and process id keeps two servers started in the same instant apart.
pub fn os_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}

pub(crate) struct Inner {
    pub(crate) store: ObjectStore<JsonBytes>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: Mutex<SimRng>,
    pub(crate) admission: Arc<dyn Admission>,
    pub(crate) authorizer: Arc<dyn Authorizer>,
    pub(crate) logs: Arc<dyn LogSource>,
    pub(crate) hub: WatchHub,
    pub(crate) config: ServiceConfig,
    /// The metrics registry `/metrics` renders (shared with the admission chain).
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    /// Signs ServiceAccount tokens (`serviceaccounts/token`); unset: 405.
    pub(crate) tokens: std::sync::OnceLock<Arc<crate::tokens::ServiceAccountTokens>>,
    /// Computed collections (`holdings`, `webhookbreakers`), plugged in after build.
    pub(crate) computed: std::sync::OnceLock<Arc<dyn ComputedResources>>,
}

/// The request pipeline. Cheap to clone (one `Arc`); `Send + Sync`.
#[derive(Clone)]
pub struct ApiService {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for ApiService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiService")
            .field("store", &self.inner.store)
            .finish()
    }
}

/// Builds an [`ApiService`]; every seam has a default (system clock, OS-seeded names,
/// namespace-lifecycle admission, allow-all authorization, no node logs).
pub struct ApiServiceBuilder {
    store: Arc<Store<JsonBytes>>,
    clock: Arc<dyn Clock>,
    seed: u64,
    admission: Arc<dyn Admission>,
    authorizer: Arc<dyn Authorizer>,
    logs: Arc<dyn LogSource>,
    config: ServiceConfig,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    tokens: Option<Arc<crate::tokens::ServiceAccountTokens>>,
}

impl ApiServiceBuilder {
    /// The metrics registry (default: a fresh one).
    pub fn metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The ServiceAccount token signer (enables `serviceaccounts/token`).
    pub fn service_account_tokens(
        mut self,
        tokens: Arc<crate::tokens::ServiceAccountTokens>,
    ) -> Self {
        self.tokens = Some(tokens);
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn admission(mut self, admission: Arc<dyn Admission>) -> Self {
        self.admission = admission;
        self
    }

    pub fn authorizer(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.authorizer = authorizer;
        self
    }

    pub fn log_source(mut self, logs: Arc<dyn LogSource>) -> Self {
        self.logs = logs;
        self
    }

    pub fn config(mut self, config: ServiceConfig) -> Self {
        self.config = config;
        self
    }

    pub fn build(self) -> ApiService {
        let hub = WatchHub::new(&self.store);
        ApiService {
            inner: Arc::new(Inner {
                store: ObjectStore::new(self.store),
                clock: self.clock,
                rng: Mutex::new(SimRng::seed_from_u64(self.seed)),
                admission: self.admission,
                authorizer: self.authorizer,
                logs: self.logs,
                hub,
                config: self.config,
                metrics: self.metrics.unwrap_or_default(),
                tokens: match self.tokens {
                    Some(tokens) => std::sync::OnceLock::from(tokens),
                    None => std::sync::OnceLock::new(),
                },
                computed: std::sync::OnceLock::new(),
            }),
        }
    }
}

impl ApiService {
    pub fn builder(store: Arc<Store<JsonBytes>>) -> ApiServiceBuilder {
        ApiServiceBuilder {
            store,
            clock: Arc::new(SystemClock),
            seed: os_seed(),
            admission: Arc::new(NamespaceLifecycle),
            authorizer: Arc::new(AllowAllAuthorizer),
            logs: Arc::new(NoNodeLogs),
            config: ServiceConfig::default(),
            metrics: None,
            tokens: None,
        }
    }

    /// A service with every default.
    pub fn new(store: Arc<Store<JsonBytes>>) -> ApiService {
        ApiService::builder(store).build()
    }

    pub fn store(&self) -> &Arc<Store<JsonBytes>> {
        self.inner.store.store()
    }

    pub fn authorizer(&self) -> &dyn Authorizer {
        self.inner.authorizer.as_ref()
    }

    /// The metrics registry `/metrics` renders.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.inner.metrics
    }

    /// The ServiceAccount token signer, if any.
    pub fn service_account_tokens(&self) -> Option<&Arc<crate::tokens::ServiceAccountTokens>> {
        self.inner.tokens.get()
    }

    pub fn hub(&self) -> &WatchHub {
        &self.inner.hub
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.inner.config
    }

    /// The clock every write is stamped with (controllers share it).
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.inner.clock)
    }

    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// A typed client acting as `user`.
    pub fn client(&self, user: UserInfo) -> ApiClient {
        ApiClient::new(self.clone(), user)
    }

    /// Closes every watch stream (shutdown).
    pub fn close_watches(&self) {
        self.inner.hub.shut_down();
    }

    pub(crate) fn objects(&self) -> &ObjectStore<JsonBytes> {
        &self.inner.store
    }

    /// The store as admission's read view.
    pub(crate) fn view(&self) -> view::StoreView<'_> {
        view::StoreView(&self.inner.store)
    }

    pub(crate) fn next_uid(&self) -> String {
        corral_api::Uid::from_random_bits(self.inner.rng.lock().next_u128()).0
    }

    pub(crate) fn name_suffix(&self) -> String {
        self.inner.rng.lock().name_suffix(5)
    }
}

/// Maps a store failure to the `Status` of `resource`.
pub(crate) fn store_error(resource: &ResourceInfo, error: StoreError) -> ApiError {
    error.to_api_error(&resource.group_resource())
}

/// 405 unless `resource` serves `verb`.
pub(crate) fn require_verb(resource: &ResourceInfo, verb: &str) -> Result<(), ApiError> {
    if resource.allows(verb) {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed())
    }
}

/// 404 for a subresource the resource does not have.
pub(crate) fn require_subresource(resource: &ResourceInfo, name: &str) -> Result<(), ApiError> {
    match resource.subresource(name) {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(
            &GroupResource::new(resource.group, &format!("{}/{name}", resource.resource)),
            "",
        )),
    }
}

/// Runs blocking pipeline work on tokio's blocking pool.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) => Err(ApiError::internal(format!(
            "request handler failed: {join}"
        ))),
    }
}

/// The object as `resource` serves it, as JSON (events.k8s.io/v1 converted).
pub(crate) fn served_value(resource: &ResourceInfo, object: &KubeObject) -> serde_json::Value {
    match resource.backing {
        corral_api::Backing::EventsV1View => events_view::to_events_v1(object),
        _ => object.to_value(),
    }
}
