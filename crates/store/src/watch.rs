//! Watches: a [`WatchCursor`] is a position in the change log plus a selection; polling
//! it never blocks and returns the next events in commit order.
//!
//! Selector semantics are upstream's watch cache's (`cache_watcher.go`): a write that
//! makes an object start matching is ADDED, one that keeps it matching MODIFIED, one that
//! makes it stop matching DELETED carrying the previous content with the new revision.
//!
//! Bookmarks: a cursor produces `Bookmark(position)` only when its owner asked for one
//! with [`WatchCursor::request_bookmark`] (the API server does so on its bookmark timer
//! when the client sent `allowWatchBookmarks=true`) and the poll found no event. The
//! position then covers every change, of any kind, the cursor has examined.

use corral_api::{ResourceKind, Revision};

use crate::commit::reencode;
use crate::error::StoreError;
use crate::key::KeyRange;
use crate::list::selects;
use crate::mvcc::{Change, Entry};
use crate::representation::Representation;
use crate::selection::Selection;
use crate::store::Store;
use crate::types::{Versioned, WatchEvent, WatchRequest};

/// A watch's position and selection. Owned by the watcher; poll it with
/// [`Store::poll_watch`].
#[derive(Clone, Debug)]
pub struct WatchCursor {
    selection: Selection,
    scope: KeyRange,
    /// Every change of every revision up to this one has been examined.
    position: Revision,
    /// Changes of revision `position + 1` already delivered (a poll's `max_events` may
    /// split one transaction).
    delivered_in_next: usize,
    bookmark_requested: bool,
}

impl WatchCursor {
    /// Every change up to this revision has been examined (and delivered if selected).
    pub fn position(&self) -> Revision {
        self.position
    }

    pub fn kind(&self) -> ResourceKind {
        self.selection.kind
    }

    /// Asks the next poll that finds no event to return `Bookmark(position)`.
    pub fn request_bookmark(&mut self) {
        self.bookmark_requested = true;
    }
}

/// An event found under the read lock; deletions from selector transitions are
/// re-encoded after the lock is released.
enum Found<V> {
    Ready(WatchEvent<V>),
    StoppedMatching {
        previous: Entry<V>,
        revision: Revision,
    },
}

fn classify<R: Representation>(
    selection: &Selection,
    change: &Change<R::Value>,
    revision: Revision,
) -> Option<Found<R::Value>> {
    match change {
        Change::Put { previous, new, .. } => {
            let matches_now = selects::<R>(selection, new);
            let matched_before = previous.as_ref().filter(|p| selects::<R>(selection, p));
            match (matches_now, matched_before) {
                (true, None) => Some(Found::Ready(WatchEvent::Added(new.versioned()))),
                (true, Some(_)) => Some(Found::Ready(WatchEvent::Modified(new.versioned()))),
                (false, Some(previous)) => Some(Found::StoppedMatching {
                    previous: previous.clone(),
                    revision,
                }),
                (false, None) => None,
            }
        }
        Change::Delete { last, .. } => selects::<R>(selection, last)
            .then(|| Found::Ready(WatchEvent::Deleted(last.versioned()))),
    }
}

impl<R: Representation> Store<R> {
    /// Starts a watch delivering changes with revision > `request.after`.
    /// `Compacted` if that history is gone, `FutureRevision` if `after` is ahead of the
    /// store.
    pub fn watch(&self, request: WatchRequest) -> Result<WatchCursor, StoreError> {
        let selection = Selection::new(
            request.kind,
            request.namespace.as_deref(),
            &request.label_selector,
            &request.field_selector,
        )?;
        let state = self.state.read();
        if request.after < state.compacted {
            return Err(StoreError::Compacted {
                requested: request.after,
                compacted: state.compacted,
            });
        }
        if request.after > state.revision {
            return Err(StoreError::FutureRevision {
                requested: request.after,
                current: state.revision,
            });
        }
        Ok(WatchCursor {
            scope: KeyRange::scope(selection.kind, selection.namespace.as_deref()),
            selection,
            position: request.after,
            delivered_in_next: 0,
            bookmark_requested: false,
        })
    }

    /// Up to `max_events` next events of `cursor`, in commit order; never blocks. An empty
    /// result means the cursor is up to date (wait for a `subscribe` notification).
    /// `Compacted` if the cursor fell behind the retained history: the watcher must
    /// re-list.
    pub fn poll_watch(
        &self,
        cursor: &mut WatchCursor,
        max_events: usize,
    ) -> Result<Vec<WatchEvent<R::Value>>, StoreError> {
        let found = self.scan_log(cursor, max_events)?;
        let mut events = Vec::with_capacity(found.len());
        for item in found {
            events.push(match item {
                Found::Ready(event) => event,
                Found::StoppedMatching { previous, revision } => {
                    WatchEvent::Deleted(reencode::<R>(&previous, revision)?.versioned())
                }
            });
        }
        if events.is_empty() && cursor.bookmark_requested {
            cursor.bookmark_requested = false;
            events.push(WatchEvent::Bookmark(cursor.position));
        }
        Ok(events)
    }

    fn scan_log(
        &self,
        cursor: &mut WatchCursor,
        max_events: usize,
    ) -> Result<Vec<Found<R::Value>>, StoreError> {
        let state = self.state.read();
        if cursor.position < state.compacted {
            return Err(StoreError::Compacted {
                requested: cursor.position,
                compacted: state.compacted,
            });
        }
        let mut found = Vec::new();
        let entries = state
            .log_after(cursor.position)
            .take(self.config.watch_scan_max.max(1));
        for entry in entries {
            let skip = cursor.delivered_in_next;
            for (index, change) in entry.changes.iter().enumerate().skip(skip) {
                if !cursor.scope.contains(change.key()) {
                    continue;
                }
                if found.len() >= max_events {
                    cursor.delivered_in_next = index;
                    return Ok(found);
                }
                if let Some(item) = classify::<R>(&cursor.selection, change, entry.revision) {
                    found.push(item);
                }
            }
            cursor.position = entry.revision;
            cursor.delivered_in_next = 0;
        }
        Ok(found)
    }
}

/// The value of a delivered event, if it carries one.
pub fn event_value<V>(event: &WatchEvent<V>) -> Option<&Versioned<V>> {
    match event {
        WatchEvent::Added(v) | WatchEvent::Modified(v) | WatchEvent::Deleted(v) => Some(v),
        WatchEvent::Bookmark(_) => None,
    }
}
