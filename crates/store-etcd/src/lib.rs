//! L2: the etcd v3 backend for `corral-store` ("etcd when one machine is not enough").
//!
//! The real implementation needs the cargo feature **`etcd`** (off by default: etcd-client
//! compiles its gRPC stubs with `protoc`, which the default build must not need). Without
//! it this crate is a stub whose [`EtcdBackend::connect`] returns
//! [`EtcdError::NotEnabled`], explaining how to enable it, so callers compile the same
//! either way.
//!
//! ```text
//! apt-get install -y protobuf-compiler etcd-server
//! cargo test -p corral-store-etcd --features etcd
//! ```
//!
//! # Design
//!
//! **Keys** are Kubernetes' registry paths under a configurable prefix (default
//! `/registry`): `/registry/jobs/ns/x`, `/registry/minions/node-1` (see [`layout`]). Values
//! are `corral/v1 <create revision> <mod revision>\n` plus the object's JSON.
//!
//! **Revisions.** The store assigns revisions and group-commits many transactions as one
//! batch; etcd gives each successful Txn exactly one revision. One etcd Txn per batch is
//! what makes group commit pay off against etcd (one Raft round and one fsync per batch
//! instead of per transaction), so Corral's revisions are *logical*: the durable one is
//! kept in `<prefix>/_corral/revision`, written in the same Txn as the batch, and each
//! object's create and mod revisions are in its value. Consequences:
//! - a `resourceVersion` is not the etcd `mod_revision` of the key; it is Corral's, and
//!   it stays gap-free and monotonic across restarts and independent of anything else
//!   that writes to the same etcd (other prefixes, leases, the lock itself);
//! - Corral serves watches from its in-memory history, never from an etcd watch, so
//!   nothing in Corral depends on etcd revisions;
//! - a 1:1 mapping (one etcd Txn per Corral transaction, pipelined) was rejected: it caps
//!   throughput at etcd's own per-Txn rate (~5k/s here, where one Txn per batch reaches
//!   5k/s with 5 KB Pods and 14–24k/s with small objects, see BENCH.md), and any foreign
//!   write to the cluster (another prefix's, or even this instance's lock and lease)
//!   would shift the two sequences apart for good.
//!
//! An etcd watch on the prefix still maps onto Corral's history: every etcd revision that
//! touches the prefix carries a put of `<prefix>/_corral/revision` whose value is the
//! Corral revision of the batch's last transaction, and every object value carries its
//! own Corral create and mod revisions.
//!
//! **Fencing.** [`EtcdBackend::connect`] takes `<prefix>/_corral/lock` with an etcd lease
//! (renewed every third of its TTL) and refuses to start when another instance holds it.
//! Each commit Txn compares the lock's create revision and the revision key's etcd mod
//! revision, so even an instance that lost its lease while paused cannot overwrite its
//! successor. Any failed commit turns the store read-only (the port's contract); reopening
//! reloads the truth from etcd.
//!
//! **Compaction.** [`corral_store::Store::compact`] compacts etcd at the etcd revision of
//! the newest batch at or before the compacted Corral revision. Corral never reads etcd's
//! history, so etcd's own `--auto-compaction-mode=revision --auto-compaction-retention=N`
//! is equally safe (a load that finds its snapshot compacted continues at the latest
//! revision, which the lock keeps unchanged).
//!
//! # Operating
//!
//! - The etcd must be a real etcd (3.4 or later): kine accepts only kube-apiserver's
//!   single-key Txn shapes, and each of Corral's Txns writes a whole batch.
//! - [`EtcdOptions::txn_ops_max`] must not exceed etcd's `--max-txn-ops` (default 128)
//!   and [`EtcdOptions::txn_bytes_max`] must stay below `--max-request-bytes` (default
//!   1.5 MiB): larger batches are split between transactions, but one transaction that
//!   alone exceeds them fails (and, as every failed commit, turns the store read-only).
//! - etcd's `--quota-backend-bytes` (default 2 GiB) bounds the store; at the quota etcd
//!   refuses writes until it is compacted and defragmented.

pub mod layout;
// Pure, so its unit tests run without the feature too.
#[cfg(any(feature = "etcd", test))]
mod plan;

mod error;
mod options;

pub use error::EtcdError;
pub use layout::DEFAULT_PREFIX;
pub use options::EtcdOptions;

#[cfg(feature = "etcd")]
mod backend;
#[cfg(feature = "etcd")]
mod bridge;
#[cfg(feature = "etcd")]
mod fence;
#[cfg(feature = "etcd")]
pub mod testing;

#[cfg(feature = "etcd")]
pub use backend::EtcdBackend;

#[cfg(not(feature = "etcd"))]
mod stub;
#[cfg(not(feature = "etcd"))]
pub use stub::EtcdBackend;

/// Whether this build has the real backend (cargo feature `etcd`).
pub const ENABLED: bool = cfg!(feature = "etcd");
