//! [`Backend`]: where committed batches become durable, and [`MemoryBackend`], the
//! in-memory twin that persists nothing.
//!
//! The store keeps every object, the MVCC history and the watch log in memory; a backend
//! only has to (1) hand back the latest state at open and (2) make each batch of
//! transactions durable before `commit` returns. History is not persisted: after a restart
//! the store's compacted revision is the loaded revision, so older watches get 410 and
//! clients re-list, exactly as after a kube-apiserver restart.

use std::borrow::Cow;

use corral_api::{ObjectKey, Revision};

use crate::error::StoreError;

/// One object as a backend stores it: the JSON carries `resourceVersion = mod_revision`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    pub key: ObjectKey,
    pub create_revision: Revision,
    pub mod_revision: Revision,
    pub bytes: Vec<u8>,
}

/// Receives each stored object during [`Backend::load`], so a large store is never held
/// twice in memory (raw rows and the store's index).
pub type LoadSink<'a> = dyn FnMut(StoredObject) -> Result<(), StoreError> + 'a;

/// One write of a batch, in commit order.
#[derive(Clone, Debug)]
pub enum BackendWrite<'a> {
    /// `bytes` is empty when the backend said it does not need values
    /// ([`Backend::needs_values`]).
    Put {
        key: &'a ObjectKey,
        create_revision: Revision,
        mod_revision: Revision,
        bytes: Cow<'a, [u8]>,
    },
    Delete {
        key: &'a ObjectKey,
        revision: Revision,
    },
}

/// Consecutive transactions, handed to the backend as one durable unit (group commit).
#[derive(Clone, Debug)]
pub struct CommitBatch<'a> {
    /// The revision of the first transaction in the batch.
    pub first_revision: Revision,
    /// The revision of the last transaction: the durable revision once `commit` returns.
    pub last_revision: Revision,
    pub writes: Vec<BackendWrite<'a>>,
}

/// Durable persistence of committed batches.
pub trait Backend: Send + Sync {
    /// A short name for logs and errors (`memory`, `redb`).
    fn name(&self) -> &'static str;

    /// Streams the durable state into `sink`, once, when the store opens; returns the
    /// last durable revision (0 for a new store).
    fn load(&self, sink: &mut LoadSink<'_>) -> Result<Revision, StoreError>;

    /// Makes `batch` durable; returns only when it is. After an error the store treats
    /// the batch (and everything queued behind it) as failed and turns read-only.
    fn commit(&self, batch: &CommitBatch<'_>) -> Result<(), StoreError>;

    /// Whether `commit` needs the encoded values. A backend that persists nothing says no,
    /// so a typed (simulator) store never encodes JSON.
    fn needs_values(&self) -> bool {
        true
    }

    /// The store compacted its history up to `revision` (a backend that keeps history,
    /// such as etcd, compacts its own).
    fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        let _ = revision;
        Ok(())
    }
}

/// The in-memory twin: every commit succeeds at once and nothing survives the store.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryBackend;

impl Backend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn load(&self, _sink: &mut LoadSink<'_>) -> Result<Revision, StoreError> {
        Ok(Revision::ZERO)
    }

    fn commit(&self, _batch: &CommitBatch<'_>) -> Result<(), StoreError> {
        Ok(())
    }

    fn needs_values(&self) -> bool {
        false
    }
}

impl<B: Backend + ?Sized> Backend for Box<B> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn load(&self, sink: &mut LoadSink<'_>) -> Result<Revision, StoreError> {
        (**self).load(sink)
    }

    fn commit(&self, batch: &CommitBatch<'_>) -> Result<(), StoreError> {
        (**self).commit(batch)
    }

    fn needs_values(&self) -> bool {
        (**self).needs_values()
    }

    fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        (**self).compact(revision)
    }
}
