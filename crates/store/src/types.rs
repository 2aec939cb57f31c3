//! The store's request and response vocabulary: versioned values, list and watch requests,
//! transactions and their outcomes, and configuration.

use corral_api::{FieldSelector, KubeObject, LabelSelector, ObjectKey, ResourceKind, Revision};

/// A value with the revisions etcd would report for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned<V> {
    pub value: V,
    /// The revision that created the object (kept across updates).
    pub create_revision: Revision,
    /// The revision of the last write; the value's `resourceVersion`.
    pub mod_revision: Revision,
}

/// Which revision a list reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadRevision {
    /// The latest durable revision (`resourceVersion` unset: a consistent read).
    #[default]
    Latest,
    /// Exactly this revision: `Compacted` if it was compacted, `FutureRevision` if it has
    /// not happened yet.
    Exact(Revision),
    /// Any revision at least this new (`resourceVersion=0`, "any"); the store always
    /// serves the latest, which qualifies unless the revision is in the future.
    NotOlderThan(Revision),
}

/// A (possibly paginated) list of one kind.
#[derive(Clone, Debug, PartialEq)]
pub struct ListRequest {
    pub kind: ResourceKind,
    /// `None` (or `Some("")`): all namespaces.
    pub namespace: Option<String>,
    pub label_selector: LabelSelector,
    pub field_selector: FieldSelector,
    /// `None` or `Some(0)`: no limit.
    pub limit: Option<usize>,
    /// From a previous page; when set it decides the revision and `revision` is ignored.
    pub continue_token: Option<String>,
    pub revision: ReadRevision,
}

impl ListRequest {
    /// Everything of `kind` at the latest revision.
    pub fn all(kind: ResourceKind) -> ListRequest {
        ListRequest {
            kind,
            namespace: None,
            label_selector: LabelSelector::everything(),
            field_selector: FieldSelector::everything(),
            limit: None,
            continue_token: None,
            revision: ReadRevision::Latest,
        }
    }
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq)]
pub struct ListPage<V> {
    pub items: Vec<Versioned<V>>,
    /// The revision every item of every page of this list was read at.
    pub revision: Revision,
    /// Set when more keys remain in the range.
    pub continue_token: Option<String>,
    /// Keys remaining after this page; only for lists without selectors, as upstream.
    pub remaining_item_count: Option<u64>,
}

/// A watch of one kind.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchRequest {
    pub kind: ResourceKind,
    pub namespace: Option<String>,
    pub label_selector: LabelSelector,
    pub field_selector: FieldSelector,
    /// Deliver changes with revision > `after`.
    pub after: Revision,
}

impl WatchRequest {
    /// Every change of `kind` after `after`.
    pub fn all(kind: ResourceKind, after: Revision) -> WatchRequest {
        WatchRequest {
            kind,
            namespace: None,
            label_selector: LabelSelector::everything(),
            field_selector: FieldSelector::everything(),
            after,
        }
    }
}

/// One delivered change, in commit order.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchEvent<V> {
    Added(Versioned<V>),
    Modified(Versioned<V>),
    /// The last state, with `mod_revision` (and the encoded `resourceVersion`) set to the
    /// revision of the deletion, or of the write that made the object stop matching.
    Deleted(Versioned<V>),
    /// Every change up to this revision has been delivered (see `Store::poll_watch`).
    Bookmark(Revision),
}

impl<V> WatchEvent<V> {
    /// The revision this event reports.
    pub fn revision(&self) -> Revision {
        match self {
            WatchEvent::Added(v) | WatchEvent::Modified(v) | WatchEvent::Deleted(v) => {
                v.mod_revision
            }
            WatchEvent::Bookmark(revision) => *revision,
        }
    }
}

/// An all-or-nothing multi-key write.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Txn {
    pub compares: Vec<Compare>,
    pub ops: Vec<TxnOp>,
}

/// A condition on the latest state of one key (including writes not yet durable).
#[derive(Clone, Debug, PartialEq)]
pub enum Compare {
    /// The key exists with exactly this mod revision.
    ModRevision(ObjectKey, Revision),
    Absent(ObjectKey),
    Present(ObjectKey),
}

/// One write. A key may appear at most once per transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum TxnOp {
    /// Create or replace. The store sets `metadata.resourceVersion` to the commit revision,
    /// then encodes.
    Put(KubeObject),
    /// Remove an existing key (`NotFound` if it is absent).
    Delete(ObjectKey),
}

/// What a transaction did.
#[derive(Clone, Debug, PartialEq)]
pub enum TxnOutcome<V> {
    /// Durable. `results` has one entry per op: the new value for a put, the last state
    /// (at the deletion revision) for a delete. A transaction without ops reports the
    /// revision its compares were evaluated at.
    Committed {
        revision: Revision,
        results: Vec<Option<Versioned<V>>>,
    },
    /// The compare at `index` did not hold; nothing was written.
    CompareFailed { index: usize },
}

/// Limits and retention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// Revisions of history (superseded versions and watch log) kept before automatic
    /// compaction drops the oldest. Bounds memory; watches and continue tokens older than
    /// this get 410.
    pub history_revisions: u64,
    /// Transactions handed to the backend in one durable commit at most.
    pub batch_transactions_max: usize,
    /// Log entries one `poll_watch` call examines at most, so a cursor far behind cannot
    /// hold the read lock for long; it continues on the next poll.
    pub watch_scan_max: usize,
    /// Attempts at a generated name before giving up with `AlreadyExists` (upstream: 8).
    pub generate_name_attempts: usize,
    /// Read-modify-write attempts of `guaranteed_update`/`delete` under contention.
    pub update_attempts: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            history_revisions: 10_000,
            batch_transactions_max: 512,
            watch_scan_max: 4_096,
            generate_name_attempts: 8,
            update_attempts: 64,
        }
    }
}

/// What a snapshot contains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub revision: Revision,
    pub object_count: u64,
    /// CRC-32 (IEEE) of every byte before the trailer.
    pub checksum: u32,
    /// Total size of the snapshot in bytes.
    pub size_bytes: u64,
}
