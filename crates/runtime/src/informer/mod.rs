//! The shared informer (kube-rs's watcher → reflector split, client-go's shared informer
//! factory): one list-then-watch loop per watched kind ([`watcher`]), all feeding **one**
//! [`ObjectCache`](corral_core::ObjectCache) through a single writer ([`applier`]) that
//! then calls every interested controller's `handle_event` with the previous state.
//!
//! Bounded and back-pressured: watchers hand their deltas to the applier over a bounded
//! channel (`InformerConfig::channel_capacity`). When controllers fall behind, watchers
//! stop pulling their streams; the store keeps the backlog in its watch log, and if that
//! history is compacted meanwhile the watcher gets a 410 and re-lists.
//!
//! The API side is [`ApiService`]'s `list_async` and `watch` (what `ApiClient`'s typed
//! `list`/`watch` call), untyped so one loop serves every kind the garbage collector needs.

mod applier;
mod cache;
mod watcher;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use corral_api::ResourceKind;
use corral_apiserver::ApiService;
use corral_core::Clock;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

pub use cache::{CacheReader, EventHandler};

use crate::metrics::RuntimeMetrics;
use crate::signal::{Shutdown, Synced, synced_channel};
use applier::Applier;
use cache::SharedCache;
use watcher::{Backoff, Delta, Output, State, Watcher};

/// Informer settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InformerConfig {
    /// Objects per list page (the list is consistent across pages).
    pub page_size: usize,
    /// Deltas in flight between the watchers and the cache writer.
    pub channel_capacity: usize,
    /// Backoff after a failed list or watch: doubling from `backoff_initial` to
    /// `backoff_max` (client-go's reflector: 800 ms → 30 s).
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// `timeoutSeconds` of each watch; `None` leaves the server's default.
    pub watch_timeout: Option<Duration>,
}

impl Default for InformerConfig {
    fn default() -> Self {
        InformerConfig {
            page_size: 500,
            channel_capacity: 1024,
            backoff_initial: Duration::from_millis(800),
            backoff_max: Duration::from_secs(30),
            watch_timeout: None,
        }
    }
}

/// The informer before it starts: register handlers, then [`SharedInformer::spawn`].
pub struct SharedInformer {
    service: ApiService,
    config: InformerConfig,
    clock: Arc<dyn Clock>,
    metrics: RuntimeMetrics,
    cache: SharedCache,
    handlers: Vec<Arc<dyn EventHandler>>,
    extra_kinds: BTreeSet<ResourceKind>,
}

impl SharedInformer {
    pub fn new(
        service: ApiService,
        config: InformerConfig,
        clock: Arc<dyn Clock>,
        metrics: RuntimeMetrics,
    ) -> SharedInformer {
        SharedInformer {
            service,
            config,
            clock,
            metrics,
            cache: SharedCache::new(),
            handlers: Vec::new(),
            extra_kinds: BTreeSet::new(),
        }
    }

    /// Read access to the cache this informer fills.
    pub fn cache(&self) -> CacheReader {
        self.cache.reader()
    }

    /// Dispatches events of the handler's kinds to it.
    pub fn add_handler(&mut self, handler: Arc<dyn EventHandler>) {
        self.handlers.push(handler);
    }

    /// Caches a kind even if no handler wants it.
    pub fn watch_kind(&mut self, kind: ResourceKind) {
        self.extra_kinds.insert(kind);
    }

    /// Every kind watched.
    pub fn kinds(&self) -> BTreeSet<ResourceKind> {
        let mut kinds = self.extra_kinds.clone();
        for handler in &self.handlers {
            kinds.extend(handler.watched_kinds().iter().copied());
        }
        kinds
    }

    /// Starts one watcher per kind and the cache writer on `tasks`; returns the signal
    /// that every kind has been listed once.
    pub fn spawn(self, tasks: &mut JoinSet<()>, shutdown: Shutdown) -> Synced {
        let kinds = self.kinds();
        let (sender, receiver) = mpsc::channel(self.config.channel_capacity.max(1));
        let (trigger, synced) = synced_channel();
        let mut by_kind: HashMap<ResourceKind, Vec<Arc<dyn EventHandler>>> = HashMap::new();
        for handler in &self.handlers {
            for kind in handler.watched_kinds() {
                by_kind.entry(*kind).or_default().push(Arc::clone(handler));
            }
        }
        for kind in &kinds {
            let watcher = Watcher::new(*kind, self.service.clone(), self.config.clone());
            let task = run_watcher(
                watcher,
                self.config.clone(),
                self.metrics.clone(),
                sender.clone(),
                shutdown.clone(),
            );
            tasks.spawn(task);
        }
        let applier = Applier {
            cache: self.cache,
            handlers: by_kind,
            clock: self.clock,
            metrics: self.metrics,
            synced: trigger,
            unsynced: kinds,
        };
        tasks.spawn(applier.run(receiver, shutdown));
        synced
    }
}

/// Steps one kind's state machine until shutdown, backing off after failures.
async fn run_watcher(
    watcher: Watcher,
    config: InformerConfig,
    metrics: RuntimeMetrics,
    deltas: mpsc::Sender<Delta>,
    mut shutdown: Shutdown,
) {
    let kind = watcher.kind.kind_name();
    let mut backoff = Backoff::new(config.backoff_initial, config.backoff_max);
    let mut state = State::Empty;
    loop {
        let (output, next) = tokio::select! {
            biased;
            _ = shutdown.wait() => return,
            step = watcher.step(state) => step,
        };
        state = next;
        let delay = match output {
            Output::Nothing => None,
            Output::Delta(delta) => {
                backoff.reset();
                tokio::select! {
                    biased;
                    _ = shutdown.wait() => return,
                    sent = deltas.send(delta) => if sent.is_err() { return },
                }
                None
            }
            Output::Expired => {
                tracing::info!(kind, "watch history expired (410), re-listing");
                metrics.informer_error(kind, "expired");
                None
            }
            Output::Error(error) => {
                let delay = backoff.next_delay();
                tracing::warn!(kind, phase = error.phase(), error = %error, cause = %error.cause(), retry_in = ?delay, "informer failed");
                metrics.informer_error(kind, error.phase());
                Some(delay)
            }
            Output::Stop => {
                tracing::debug!(kind, "watches closed by the API service, informer stops");
                return;
            }
        };
        if let Some(delay) = delay {
            tracing::trace!(kind, state = state.phase(), "informer backing off");
            tokio::select! {
                biased;
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
}
