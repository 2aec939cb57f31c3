//! L1: the revision-first object store.
//!
//! Layers, bottom to top:
//! - [`Representation`]: how a stored value looks in memory. The API server stores
//!   pre-encoded JSON bytes plus a small index (so lists and watches stream bytes without
//!   re-encoding, and memory stays near the encoded size); the simulator stores
//!   `Arc<KubeObject>` (no JSON on its hot path). One store implementation serves both.
//! - [`Backend`]: where committed writes become durable. [`MemoryBackend`] is the
//!   in-memory twin; the redb backend lives in `corral-store-redb` (L2, it does I/O); an
//!   etcd backend can follow with the same conformance suite.
//! - [`Store`]: the MVCC core with one global monotonically increasing [`Revision`],
//!   compare-and-swap on revisions, multi-key transactions, consistent paginated lists,
//!   a watch log delivering every committed change in order, and compaction.
//! - [`ObjectStore`]: Kubernetes object semantics on top: uid, creationTimestamp,
//!   generateName, resourceVersion preconditions, no-op detection, finalizers and
//!   graceful deletion (deletionTimestamp), and typed errors that map to `Status` codes.
//!
//! Nothing here reads a clock or draws randomness: `now` and a [`corral_core::SimRng`]
//! are parameters.

// The implementation modules are filled in by the store work (issue: Foundation).
