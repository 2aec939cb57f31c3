//! One kind's list-then-watch loop as an explicit state machine (kube-rs `watcher.rs`):
//!
//! ```text
//! Empty ──list page──▶ Listing{objects, continue} ──last page──▶ Listed{revision}
//!   ▲                                                               │ open watch
//!   │ 410 Expired                                                   ▼
//!   └──────────────────────────────────────────────── Watching{revision, stream}
//! ```
//!
//! [`Watcher::step`] does one step and returns what it produced ([`Output`]) and the next
//! state. A complete list becomes one [`Delta::Replace`]; each watch event one
//! [`Delta::Event`]. A 410 (history compacted past our revision, at watch start or on an
//! open watch) goes back to `Empty` and re-lists; other failures are [`InformerError`]s
//! named by phase, retried by the caller after a backoff. A watch that simply ended
//! (timeout) is re-opened from the last revision seen, bookmarks included.

use std::sync::Arc;
use std::time::Duration;

use corral_api::resource::resource_of;
use corral_api::{ApiError, KubeObject, ResourceKind, Revision};
use corral_apiserver::ApiService;
use corral_apiserver::service::{
    ListOptions, Target, WatchEventType, WatchItem, WatchObject, WatchStream,
};
use corral_core::{ChangeKind, ObjectEvent};
use corral_store::{EncodedObject, JsonBytes, Representation};

use super::InformerConfig;
use crate::error::InformerError;

/// What an informer hands to the cache.
#[derive(Debug)]
pub(crate) enum Delta {
    /// Every object of `kind` at `revision`: replaces the cached objects of the kind.
    Replace {
        kind: ResourceKind,
        objects: Vec<Arc<KubeObject>>,
        revision: Revision,
    },
    /// One watch event.
    Event(ObjectEvent),
}

/// Where a watcher is.
pub(crate) enum State {
    /// Nothing listed yet, or the history we had is gone.
    Empty,
    /// Pages of a list read so far (one consistent revision via the continue token).
    Listing {
        objects: Vec<Arc<KubeObject>>,
        continue_token: String,
        revision: Revision,
    },
    /// Listed (or watched) up to `revision`; no watch open.
    Listed { revision: Revision },
    Watching {
        revision: Revision,
        stream: Box<WatchStream>,
    },
}

impl State {
    pub(crate) fn phase(&self) -> &'static str {
        match self {
            State::Empty => "empty",
            State::Listing { .. } => "listing",
            State::Listed { .. } => "listed",
            State::Watching { .. } => "watching",
        }
    }
}

/// What one step produced.
#[derive(Debug)]
pub(crate) enum Output {
    Nothing,
    Delta(Delta),
    /// A failure; the caller backs off before the next step.
    Error(InformerError),
    /// History expired: the next step re-lists.
    Expired,
    /// The API service is shutting down its watches.
    Stop,
}

/// The list/watch client of one kind.
pub(crate) struct Watcher {
    pub(crate) kind: ResourceKind,
    service: ApiService,
    config: InformerConfig,
}

fn is_expired(error: &ApiError) -> bool {
    error.code == 410
}

impl Watcher {
    pub(crate) fn new(kind: ResourceKind, service: ApiService, config: InformerConfig) -> Watcher {
        Watcher {
            kind,
            service,
            config,
        }
    }

    fn target(&self) -> Target {
        Target::collection(resource_of(self.kind), None)
    }

    /// One step from `state`.
    pub(crate) async fn step(&self, state: State) -> (Output, State) {
        match state {
            State::Empty => self.list_page(Vec::new(), None, None).await,
            State::Listing {
                objects,
                continue_token,
                revision,
            } => {
                self.list_page(objects, Some(continue_token), Some(revision))
                    .await
            }
            State::Listed { revision } => self.open_watch(revision),
            State::Watching { revision, stream } => self.next_event(revision, stream).await,
        }
    }

    async fn list_page(
        &self,
        mut objects: Vec<Arc<KubeObject>>,
        continue_token: Option<String>,
        first_revision: Option<Revision>,
    ) -> (Output, State) {
        let options = ListOptions {
            limit: Some(self.config.page_size.max(1)),
            continue_token,
            ..ListOptions::default()
        };
        let page = match self.service.list_async(&self.target(), &options).await {
            Ok(page) => page,
            Err(source) => {
                let error = InformerError::InitialListFailed {
                    kind: self.kind.kind_name(),
                    source,
                };
                return (Output::Error(error), State::Empty);
            }
        };
        let revision = first_revision.unwrap_or(page.revision);
        objects.extend(decode_page(self.kind, page.items).await);
        match page.continue_token.filter(|t| !t.is_empty()) {
            Some(continue_token) => (
                Output::Nothing,
                State::Listing {
                    objects,
                    continue_token,
                    revision,
                },
            ),
            None => {
                let delta = Delta::Replace {
                    kind: self.kind,
                    objects,
                    revision,
                };
                (Output::Delta(delta), State::Listed { revision })
            }
        }
    }

    fn open_watch(&self, revision: Revision) -> (Output, State) {
        if self.service.hub().is_shut_down() {
            return (Output::Stop, State::Listed { revision });
        }
        let options = ListOptions {
            resource_version: Some(revision.to_string()),
            allow_bookmarks: true,
            timeout_seconds: self.config.watch_timeout.map(|t| t.as_secs().max(1)),
            ..ListOptions::default()
        };
        match self.service.watch(&self.target(), &options) {
            Ok(stream) => (
                Output::Nothing,
                State::Watching {
                    revision,
                    stream: Box::new(stream),
                },
            ),
            Err(source) if is_expired(&source) => (Output::Expired, State::Empty),
            Err(source) => {
                let error = InformerError::WatchStartFailed {
                    kind: self.kind.kind_name(),
                    revision,
                    source,
                };
                (Output::Error(error), State::Listed { revision })
            }
        }
    }

    async fn next_event(
        &self,
        revision: Revision,
        mut stream: Box<WatchStream>,
    ) -> (Output, State) {
        let Some(item) = stream.next().await else {
            // Timeout or shutdown: re-open from where we are (or stop).
            if self.service.hub().is_shut_down() {
                return (Output::Stop, State::Listed { revision });
            }
            return (Output::Nothing, State::Listed { revision });
        };
        match self.watch_item(revision, item) {
            WatchStep::Event(event) => {
                let revision = event.revision.max(revision);
                let state = State::Watching { revision, stream };
                (Output::Delta(Delta::Event(event)), state)
            }
            WatchStep::Skip => (Output::Nothing, State::Watching { revision, stream }),
            WatchStep::Bookmark(at) => {
                let state = State::Watching {
                    revision: at.max(revision),
                    stream,
                };
                (Output::Nothing, state)
            }
            WatchStep::Expired => (Output::Expired, State::Empty),
            WatchStep::Failed(source) => {
                let error = InformerError::WatchFailed {
                    kind: self.kind.kind_name(),
                    revision,
                    source,
                };
                (Output::Error(error), State::Listed { revision })
            }
        }
    }

    fn watch_item(&self, revision: Revision, item: WatchItem) -> WatchStep {
        let change = match item.event_type {
            WatchEventType::Added => ChangeKind::Added,
            WatchEventType::Modified => ChangeKind::Modified,
            WatchEventType::Deleted => ChangeKind::Deleted,
            WatchEventType::Bookmark | WatchEventType::Error => ChangeKind::Modified,
        };
        match item.object {
            WatchObject::Bookmark(at) => WatchStep::Bookmark(at),
            WatchObject::Error(error) if is_expired(&error) => WatchStep::Expired,
            WatchObject::Error(error) => WatchStep::Failed(error),
            WatchObject::Object(encoded) => match decode(self.kind, &encoded) {
                Some(object) => WatchStep::Event(ObjectEvent {
                    change,
                    revision: object.revision().unwrap_or(revision),
                    object,
                }),
                None => WatchStep::Skip,
            },
        }
    }
}

enum WatchStep {
    Event(ObjectEvent),
    Skip,
    Bookmark(Revision),
    Expired,
    Failed(ApiError),
}

/// Decodes a stored object; a malformed one is logged and skipped, never fatal.
fn decode(kind: ResourceKind, encoded: &EncodedObject) -> Option<Arc<KubeObject>> {
    match JsonBytes::decode(encoded) {
        Ok(object) if object.kind() == kind => Some(object),
        Ok(object) => {
            tracing::warn!(
                kind = kind.kind_name(),
                got = object.kind().kind_name(),
                "informer skipped an object of another kind"
            );
            None
        }
        Err(error) => {
            tracing::warn!(kind = kind.kind_name(), %error, "informer skipped an undecodable object");
            None
        }
    }
}

/// Decodes a list page off the async threads (a page of Jobs is milliseconds of JSON).
async fn decode_page(kind: ResourceKind, items: Vec<EncodedObject>) -> Vec<Arc<KubeObject>> {
    let work = move || {
        items
            .iter()
            .filter_map(|item| decode(kind, item))
            .collect::<Vec<_>>()
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(objects) => objects,
        Err(error) => {
            tracing::error!(kind = kind.kind_name(), %error, "decoding a list page panicked");
            Vec::new()
        }
    }
}

/// Exponential backoff between failed steps (client-go's reflector: 800 ms → 30 s).
#[derive(Debug)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            next: initial,
        }
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.initial;
    }
}
