//! Watches. One [`WatchHub`] per service turns the store's commit listener into a
//! `tokio::sync::watch` channel of the latest revision; each [`WatchStream`] holds a
//! receiver and its own store cursor, and polls the cursor when the revision moves. A
//! commit therefore costs one channel update plus one cheap poll per watcher, and an idle
//! watcher costs one parked task.
//!
//! Start points: `resourceVersion` unset or `0` → synthetic ADDED events for every current
//! match (from a list at revision R), then changes after R; `n` → changes after n. A start
//! or cursor behind the compacted history yields one ERROR event (410 Expired) and ends
//! the stream, as upstream's watch cache does.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use corral_api::{ApiError, ResourceInfo, Revision};
use corral_store::{
    EncodedObject, JsonBytes, ListRequest, ReadRevision, Store, StoreError, WatchCursor,
    WatchEvent, WatchRequest,
};
use tokio::sync::watch;
use tokio::time::Instant;

use super::read::parse_selectors;
use super::types::{ListOptions, Target};
use super::{ApiService, require_verb, store_error};

/// Wakes watch streams on every durable commit, and closes them on shutdown.
pub struct WatchHub {
    revision: watch::Sender<Revision>,
    shutdown: watch::Sender<bool>,
    watchers: Arc<AtomicI64>,
}

impl std::fmt::Debug for WatchHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchHub")
            .field("watchers", &self.watcher_count())
            .finish()
    }
}

impl WatchHub {
    /// Subscribes to `store`'s commits.
    pub fn new(store: &Arc<Store<JsonBytes>>) -> WatchHub {
        let (revision, _) = watch::channel(store.current_revision());
        let (shutdown, _) = watch::channel(false);
        let sender = revision.clone();
        store.subscribe(Arc::new(move |committed: Revision| {
            sender.send_if_modified(|latest| {
                if committed > *latest {
                    *latest = committed;
                    true
                } else {
                    false
                }
            });
        }));
        WatchHub {
            revision,
            shutdown,
            watchers: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Open watch streams.
    pub fn watcher_count(&self) -> i64 {
        self.watchers.load(Ordering::Relaxed)
    }

    /// A receiver of the latest committed revision (for in-process watchers).
    pub fn subscribe(&self) -> watch::Receiver<Revision> {
        self.revision.subscribe()
    }

    pub(crate) fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn is_shut_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// Decrements the watcher gauge when a stream ends.
struct WatcherGuard(Arc<AtomicI64>);

impl Drop for WatcherGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The `type` of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchEventType {
    Added,
    Modified,
    Deleted,
    Bookmark,
    Error,
}

impl WatchEventType {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchEventType::Added => "ADDED",
            WatchEventType::Modified => "MODIFIED",
            WatchEventType::Deleted => "DELETED",
            WatchEventType::Bookmark => "BOOKMARK",
            WatchEventType::Error => "ERROR",
        }
    }
}

/// What a watch event carries.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchObject {
    Object(EncodedObject),
    /// Every change up to this revision has been sent.
    Bookmark(Revision),
    Error(ApiError),
}

/// One watch event.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchItem {
    pub event_type: WatchEventType,
    pub object: WatchObject,
}

impl WatchItem {
    fn error(error: ApiError) -> WatchItem {
        WatchItem {
            event_type: WatchEventType::Error,
            object: WatchObject::Error(error),
        }
    }
}

/// An open watch. `next()` waits for the next event; `None` when the stream ends
/// (timeout, shutdown, or after an ERROR event).
pub struct WatchStream {
    service: ApiService,
    resource: &'static ResourceInfo,
    cursor: Option<WatchCursor>,
    pending: VecDeque<WatchItem>,
    revisions: watch::Receiver<Revision>,
    shutdown: watch::Receiver<bool>,
    deadline: Instant,
    bookmark_interval: Option<Duration>,
    next_bookmark: Instant,
    ended: bool,
    _guard: WatcherGuard,
}

impl std::fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchStream")
            .field("resource", &self.resource.resource)
            .finish()
    }
}

impl ApiService {
    /// Opens a watch of `target`'s collection. Request errors (bad selectors, a resource
    /// that cannot be watched) fail here; history errors become an ERROR event.
    pub fn watch(&self, target: &Target, options: &ListOptions) -> Result<WatchStream, ApiError> {
        let resource = target.resource;
        require_verb(resource, "watch")?;
        let kind = resource
            .stored_kind()
            .ok_or_else(ApiError::method_not_allowed)?;
        let selectors = parse_selectors(kind, options)?;
        let namespace = target.namespace.clone().filter(|_| kind.namespaced());
        let rv = options.resource_version.as_deref().unwrap_or_default();
        let start = Revision::parse_resource_version(rv)
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?;
        let hub = &self.inner.hub;
        let mut revisions = hub.revision.subscribe();
        revisions.borrow_and_update();
        let request = WatchRequest {
            kind,
            namespace,
            label_selector: selectors.labels,
            field_selector: selectors.fields,
            after: start.unwrap_or(Revision::ZERO),
        };
        let (cursor, pending) = match self.start_watch(request) {
            Ok((cursor, initial)) => (Some(cursor), initial),
            Err(e) => (
                None,
                VecDeque::from([WatchItem::error(watch_error(resource, e))]),
            ),
        };
        hub.watchers.fetch_add(1, Ordering::Relaxed);
        let config = &self.inner.config;
        let timeout = options
            .timeout_seconds
            .map_or(config.watch_timeout_default, Duration::from_secs);
        let bookmark_interval = options.allow_bookmarks.then_some(config.bookmark_interval);
        let now = Instant::now();
        Ok(WatchStream {
            service: self.clone(),
            resource,
            cursor,
            pending,
            revisions,
            shutdown: hub.shutdown.subscribe(),
            deadline: now + timeout,
            bookmark_interval,
            next_bookmark: now + bookmark_interval.unwrap_or(timeout),
            ended: false,
            _guard: WatcherGuard(Arc::clone(&hub.watchers)),
        })
    }
}

impl ApiService {
    /// The cursor of a watch and its initial events: from revision 0 (or unset), a list at
    /// revision R becomes synthetic ADDED events and the cursor starts after R; otherwise
    /// the cursor starts after the requested revision.
    fn start_watch(
        &self,
        mut request: WatchRequest,
    ) -> Result<(WatchCursor, VecDeque<WatchItem>), StoreError> {
        let mut initial = VecDeque::new();
        if request.after == Revision::ZERO {
            let list = ListRequest {
                kind: request.kind,
                namespace: request.namespace.clone(),
                label_selector: request.label_selector.clone(),
                field_selector: request.field_selector.clone(),
                limit: None,
                continue_token: None,
                revision: ReadRevision::Latest,
            };
            let page = self.objects().list(&list)?;
            initial.extend(page.items.into_iter().map(|v| WatchItem {
                event_type: WatchEventType::Added,
                object: WatchObject::Object(v.value),
            }));
            request.after = page.revision;
        }
        Ok((self.objects().watch(request)?, initial))
    }
}

fn watch_error(resource: &ResourceInfo, error: StoreError) -> ApiError {
    store_error(resource, error)
}

impl WatchStream {
    pub fn resource(&self) -> &'static ResourceInfo {
        self.resource
    }

    /// The next event; `None` when the stream has ended.
    pub async fn next(&mut self) -> Option<WatchItem> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                if item.event_type == WatchEventType::Error {
                    self.ended = true;
                }
                return Some(item);
            }
            if self.ended || *self.shutdown.borrow() {
                return None;
            }
            let cursor = self.cursor.as_mut()?;
            self.revisions.borrow_and_update();
            let batch = self.service.inner.config.watch_batch_max;
            match self.service.objects().poll_watch(cursor, batch) {
                Ok(events) if !events.is_empty() => {
                    self.pending.extend(events.into_iter().map(convert_event));
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    self.pending
                        .push_back(WatchItem::error(watch_error(self.resource, e)));
                    continue;
                }
            }
            if !self.wait().await {
                self.ended = true;
                return None;
            }
        }
    }

    /// Waits for a commit, a bookmark tick, the deadline or shutdown; false to end.
    async fn wait(&mut self) -> bool {
        tokio::select! {
            changed = self.revisions.changed() => changed.is_ok(),
            _ = self.shutdown.changed() => false,
            _ = tokio::time::sleep_until(self.deadline) => false,
            _ = tokio::time::sleep_until(self.next_bookmark), if self.bookmark_interval.is_some() => {
                if let (Some(cursor), Some(interval)) = (self.cursor.as_mut(), self.bookmark_interval) {
                    cursor.request_bookmark();
                    self.next_bookmark = Instant::now() + interval;
                }
                true
            }
        }
    }
}

fn convert_event(event: WatchEvent<EncodedObject>) -> WatchItem {
    let (event_type, object) = match event {
        WatchEvent::Added(v) => (WatchEventType::Added, WatchObject::Object(v.value)),
        WatchEvent::Modified(v) => (WatchEventType::Modified, WatchObject::Object(v.value)),
        WatchEvent::Deleted(v) => (WatchEventType::Deleted, WatchObject::Object(v.value)),
        WatchEvent::Bookmark(revision) => {
            (WatchEventType::Bookmark, WatchObject::Bookmark(revision))
        }
    };
    WatchItem { event_type, object }
}
