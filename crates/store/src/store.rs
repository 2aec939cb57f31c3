//! [`Store`]: the MVCC store over a [`Backend`]: one global revision, reads of durable
//! state only, group-committed transactions (`commit`), paginated lists (`list`), watches
//! (`watch`), compaction and snapshots (`snapshot`).
//!
//! Locks, always taken in this order: `queue` (group commit, short) → `state` (read-write).
//! Readers take only `state` for reading; the commit leader takes `state` for writing only
//! to apply a durable batch.

use std::collections::BTreeMap;
use std::sync::Arc;

use corral_api::{ObjectKey, Revision};
use parking_lot::{Condvar, Mutex, RwLock};

use crate::backend::Backend;
use crate::commit::CommitQueue;
use crate::error::StoreError;
use crate::key::StoreKey;
use crate::mvcc::{Entry, MvccState};
use crate::representation::Representation;
use crate::types::{StoreConfig, Versioned};

/// Called after each durable commit with the new revision. Calls may come from several
/// threads and are not ordered; treat the revision as "at least this far", then poll.
pub type CommitListener = Arc<dyn Fn(Revision) + Send + Sync>;

/// Counts for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub objects: usize,
    /// Superseded versions kept for reads at older revisions.
    pub history_versions: usize,
    pub revision: Revision,
    pub compacted: Revision,
    pub read_only: bool,
}

/// The revision-first object store. `Send + Sync`; share it as `Arc<Store<R>>`.
pub struct Store<R: Representation> {
    pub(crate) state: RwLock<MvccState<R::Value>>,
    pub(crate) queue: Mutex<CommitQueue<R::Value>>,
    /// Signalled whenever a batch finishes (durable or failed).
    pub(crate) settled: Condvar,
    pub(crate) backend: Box<dyn Backend>,
    pub(crate) needs_values: bool,
    pub(crate) config: StoreConfig,
    listeners: RwLock<Vec<CommitListener>>,
}

impl<R: Representation> std::fmt::Debug for Store<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend.name())
            .field("stats", &self.stats())
            .finish()
    }
}

/// An empty store starts at revision 1, as etcd does, so no list ever reports the
/// special `resourceVersion` "0".
const INITIAL_REVISION: Revision = Revision(1);

impl<R: Representation> Store<R> {
    /// Loads the backend's durable state. History starts empty: the compacted revision is
    /// the loaded revision.
    pub fn open(backend: Box<dyn Backend>, config: StoreConfig) -> Result<Self, StoreError> {
        let mut current = BTreeMap::new();
        let mut newest = Revision::ZERO;
        let loaded = backend.load(&mut |object| {
            let corrupt =
                |why: String| StoreError::Corrupt(format!("stored object {}: {why}", object.key));
            let key = StoreKey::new(&object.key).map_err(|e| corrupt(e.to_string()))?;
            if object.create_revision > object.mod_revision {
                return Err(corrupt(format!(
                    "created at {} after its last write at {}",
                    object.create_revision, object.mod_revision
                )));
            }
            newest = newest.max(object.mod_revision);
            let value = R::from_bytes(object.key.kind, &object.bytes)
                .map_err(|e| corrupt(e.to_string()))?;
            let entry = Entry {
                label_digest: R::label_digest(&value),
                value,
                create_revision: object.create_revision,
                mod_revision: object.mod_revision,
            };
            match current.insert(key, entry) {
                Some(_) => Err(corrupt("stored twice".into())),
                None => Ok(()),
            }
        })?;
        if newest > loaded {
            return Err(StoreError::Corrupt(format!(
                "an object was written at revision {newest}, after the store's revision {loaded}"
            )));
        }
        let revision = loaded.max(INITIAL_REVISION);
        Ok(Store {
            state: RwLock::new(MvccState::new(current, revision)),
            queue: Mutex::new(CommitQueue::new(revision)),
            settled: Condvar::new(),
            needs_values: backend.needs_values(),
            backend,
            config,
            listeners: RwLock::new(Vec::new()),
        })
    }

    /// The last durable (acknowledged and visible) revision.
    pub fn current_revision(&self) -> Revision {
        self.state.read().revision
    }

    /// Revisions at or before this one can no longer be read or watched from.
    pub fn compacted_revision(&self) -> Revision {
        self.state.read().compacted
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// True after a failed commit: writes are refused until the store is reopened.
    pub fn is_read_only(&self) -> bool {
        self.queue.lock().is_failed()
    }

    pub fn stats(&self) -> StoreStats {
        let read_only = self.is_read_only();
        let state = self.state.read();
        StoreStats {
            objects: state.current.len(),
            history_versions: state.history_len(),
            revision: state.revision,
            compacted: state.compacted,
            read_only,
        }
    }

    /// The latest durable version of `key`; `None` also for keys that cannot exist.
    pub fn get(&self, key: &ObjectKey) -> Option<Versioned<R::Value>> {
        let key = StoreKey::new(key).ok()?;
        self.state.read().current.get(&key).map(Entry::versioned)
    }

    /// The version of `key` visible at `revision`.
    pub fn get_at(
        &self,
        key: &ObjectKey,
        revision: Revision,
    ) -> Result<Option<Versioned<R::Value>>, StoreError> {
        let key = StoreKey::new(key)?;
        let state = self.state.read();
        check_readable(&state, revision)?;
        Ok(state.get_at(&key, revision).map(Entry::versioned))
    }

    /// Registers `listener` for every later durable commit (drivers wake watchers with it).
    /// Listeners run on the committing thread without store locks; keep them short.
    pub fn subscribe(&self, listener: CommitListener) {
        self.listeners.write().push(listener);
    }

    pub(crate) fn notify_listeners(&self, revision: Revision) {
        let listeners: Vec<CommitListener> = self.listeners.read().clone();
        for listener in listeners {
            listener(revision);
        }
    }

    /// Forgets history at or before `up_to`: reads and watches from there on get 410.
    pub fn compact(&self, up_to: Revision) -> Result<(), StoreError> {
        {
            let mut state = self.state.write();
            if up_to > state.revision {
                return Err(StoreError::FutureRevision {
                    requested: up_to,
                    current: state.revision,
                });
            }
            if !state.compact(up_to) {
                return Ok(());
            }
        }
        self.backend.compact(up_to)
    }
}

/// `revision` is inside the retained window `[compacted, revision]`.
pub(crate) fn check_readable<V: Clone>(
    state: &MvccState<V>,
    revision: Revision,
) -> Result<(), StoreError> {
    if revision < state.compacted {
        return Err(StoreError::Compacted {
            requested: revision,
            compacted: state.compacted,
        });
    }
    if revision > state.revision {
        return Err(StoreError::FutureRevision {
            requested: revision,
            current: state.revision,
        });
    }
    Ok(())
}
