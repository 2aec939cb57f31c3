//! L1: the revision-first object store.
//!
//! Layers, bottom to top:
//! - [`Representation`]: how a stored value looks in memory. The API server stores
//!   pre-encoded JSON bytes plus a small index ([`JsonBytes`]: lists and watches stream
//!   bytes without re-encoding, and memory stays near the encoded size); the simulator
//!   stores `Arc<KubeObject>` ([`TypedArc`]: no JSON on its hot path). One store
//!   implementation serves both.
//! - [`Backend`]: where committed writes become durable. [`MemoryBackend`] is the
//!   in-memory twin; the redb backend lives in `corral-store-redb` (L2, it does I/O); an
//!   etcd backend can follow with the same conformance suite (`testing`, feature
//!   `testing`).
//! - [`Store`]: the MVCC core with one global, gap-free [`Revision`], compare-and-swap
//!   transactions with group commit, consistent paginated lists, watches delivering every
//!   committed change in order, compaction and snapshots.
//! - [`ObjectStore`]: Kubernetes object semantics on top: uid, creationTimestamp,
//!   generateName, resourceVersion preconditions, no-op detection, finalizers and
//!   graceful deletion (deletionTimestamp), and typed errors that map to `Status` codes.
//!
//! Nothing here reads a clock or draws randomness: `now` and a [`corral_core::SimRng`]
//! are parameters. Threads only block on each other inside group commit (a writer waits
//! for the batch holding its transaction to become durable).

mod backend;
mod commit;
mod continue_token;
mod deletion;
mod error;
mod key;
mod list;
mod mvcc;
mod objects;
mod representation;
mod selection;
mod snapshot;
mod store;
mod types;
mod watch;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod tests;

pub use backend::{Backend, BackendWrite, CommitBatch, LoadSink, MemoryBackend, StoredObject};
pub use corral_api::Revision;
pub use error::{CONTINUE_EXPIRED_MESSAGE, StoreError, registry_path};
pub use key::{NAME_LENGTH_MAX, validate_segment};
pub use objects::{DeleteOptions, DeleteOutcome, ObjectStore, UpdateOutcome};
pub use representation::{EncodedObject, JsonBytes, Representation, TypedArc};
pub use selection::{fields_match, label_digest, labels_match, selector_mask};
pub use snapshot::{SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAGIC, read_snapshot, write_snapshot};
pub use store::{CommitListener, Store, StoreStats};
pub use types::{
    Compare, ListPage, ListRequest, ReadRevision, SnapshotInfo, StoreConfig, Txn, TxnOp,
    TxnOutcome, Versioned, WatchEvent, WatchRequest,
};
pub use watch::{WatchCursor, event_value};
