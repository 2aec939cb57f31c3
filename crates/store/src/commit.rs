//! Transactions and group commit.
//!
//! A writer, under the short `queue` lock: checks its compares against the newest state
//! (durable state overlaid with every assigned-but-not-yet-durable write), takes the next
//! revision, encodes its values, records its writes in the overlay and queues itself. Then
//! the first writer to find no commit in progress becomes the leader: it takes every
//! queued transaction (up to a bound), hands them to the backend as one durable batch (one
//! fsync for all), applies them to the visible state, and wakes the others. Writers that
//! arrived meanwhile form the next batch. Readers and watches only ever see applied
//! batches, so they never observe a revision before it is durable.
//!
//! If the backend fails, every queued transaction fails (nothing of theirs was applied:
//! the overlay is simply dropped) and the store turns read-only: after a failed fsync the
//! file's state is unknown, so only a restart (which reloads the durable state) may write.

use std::collections::HashMap;

use corral_api::{KubeObject, ObjectKey, Revision};
use parking_lot::MutexGuard;

use crate::backend::{BackendWrite, CommitBatch};
use crate::error::StoreError;
use crate::key::StoreKey;
use crate::mvcc::{Change, Entry, MvccState};
use crate::representation::Representation;
use crate::store::Store;
use crate::types::{Compare, Txn, TxnOp, TxnOutcome, Versioned};

/// Yields a commit leader spends at most gathering followers (see `gather_followers`).
const GATHER_YIELDS_MAX: usize = 16;

/// The newest (possibly not yet durable) state of a key, written by a queued transaction.
#[derive(Debug)]
pub(crate) struct OverlayEntry<V> {
    revision: Revision,
    /// `None`: deleted.
    entry: Option<Entry<V>>,
}

/// A transaction with its revision assigned and its values encoded, waiting to be durable.
#[derive(Debug)]
pub(crate) struct PreparedTxn<V> {
    revision: Revision,
    keys: Vec<ObjectKey>,
    changes: Vec<Change<V>>,
}

/// Group-commit bookkeeping, behind `Store::queue`.
#[derive(Debug)]
pub(crate) struct CommitQueue<V> {
    /// The revision the next transaction gets.
    next_revision: Revision,
    /// Every revision up to this one is durable and applied.
    durable: Revision,
    overlay: HashMap<StoreKey, OverlayEntry<V>>,
    waiting: Vec<PreparedTxn<V>>,
    leader_active: bool,
    /// Bumped when queued transactions are failed, so their writers can tell.
    epoch: u64,
    /// The backend error that turned the store read-only.
    failure: Option<StoreError>,
}

impl<V: Clone> CommitQueue<V> {
    pub(crate) fn new(durable: Revision) -> Self {
        CommitQueue {
            next_revision: durable.next(),
            durable,
            overlay: HashMap::new(),
            waiting: Vec::new(),
            leader_active: false,
            epoch: 0,
            failure: None,
        }
    }

    /// The newest state of `key`, pending writes first.
    fn lookup<'a>(&'a self, state: &'a MvccState<V>, key: &StoreKey) -> Option<&'a Entry<V>> {
        match self.overlay.get(key) {
            Some(pending) => pending.entry.as_ref(),
            None => state.current.get(key),
        }
    }

    pub(crate) fn is_failed(&self) -> bool {
        self.failure.is_some()
    }

    pub(crate) fn has_pending_write(&self, key: &StoreKey) -> bool {
        self.overlay.contains_key(key)
    }

    fn fail_all(&mut self, error: StoreError) {
        self.epoch += 1;
        self.waiting.clear();
        self.overlay.clear();
        self.next_revision = self.durable.next();
        self.failure.get_or_insert(error);
    }
}

/// A transaction's ops with validated keys.
struct CheckedOp {
    key: StoreKey,
    object_key: ObjectKey,
    put: Option<KubeObject>,
}

fn check_ops(ops: Vec<TxnOp>) -> Result<Vec<CheckedOp>, StoreError> {
    let mut checked: Vec<CheckedOp> = Vec::with_capacity(ops.len());
    for op in ops {
        let (object_key, put) = match op {
            TxnOp::Put(object) => (object.key(), Some(object)),
            TxnOp::Delete(key) => (key, None),
        };
        let key = StoreKey::new(&object_key)?;
        if checked.iter().any(|c| c.key == key) {
            return Err(StoreError::InvalidKey(format!(
                "{object_key} appears more than once in one transaction"
            )));
        }
        checked.push(CheckedOp {
            key,
            object_key,
            put,
        });
    }
    Ok(checked)
}

fn compare_holds<V>(compare: &Compare, current: Option<&Entry<V>>) -> bool {
    match compare {
        Compare::ModRevision(_, revision) => current.is_some_and(|e| e.mod_revision == *revision),
        Compare::Absent(_) => current.is_none(),
        Compare::Present(_) => current.is_some(),
    }
}

fn compare_key(compare: &Compare) -> &ObjectKey {
    match compare {
        Compare::ModRevision(key, _) | Compare::Absent(key) | Compare::Present(key) => key,
    }
}

/// Re-encodes `entry`'s object with `revision` as its `resourceVersion` (the last state a
/// deletion, or a selector transition, reports).
pub(crate) fn reencode<R: Representation>(
    entry: &Entry<R::Value>,
    revision: Revision,
) -> Result<Entry<R::Value>, StoreError> {
    let decoded = R::decode(&entry.value)?;
    let mut object = KubeObject::clone(&decoded);
    object.set_revision(revision);
    Ok(Entry {
        value: R::encode_owned(object),
        create_revision: entry.create_revision,
        mod_revision: revision,
        label_digest: entry.label_digest,
    })
}

impl<R: Representation> Store<R> {
    /// Runs `txn` all-or-nothing; returns once it is durable (or failed).
    pub fn txn(&self, txn: Txn) -> Result<TxnOutcome<R::Value>, StoreError> {
        let ops = check_ops(txn.ops)?;
        let compare_keys = txn
            .compares
            .iter()
            .map(|c| StoreKey::new(compare_key(c)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut queue = self.queue.lock();
        if let Some(failure) = &queue.failure {
            return Err(StoreError::ReadOnly(failure.to_string()));
        }
        let prepared = {
            let state = self.state.read();
            for (index, (compare, key)) in txn.compares.iter().zip(&compare_keys).enumerate() {
                if !compare_holds(compare, queue.lookup(&state, key)) {
                    return Ok(TxnOutcome::CompareFailed { index });
                }
            }
            if ops.is_empty() {
                None
            } else {
                Some(self.prepare(&queue, &state, ops)?)
            }
        };
        let Some((prepared, results)) = prepared else {
            // Compares only: report the revision they were evaluated at, once durable.
            let revision = Revision(queue.next_revision.0 - 1);
            let epoch = queue.epoch;
            self.await_durable(queue, revision, epoch)?;
            return Ok(TxnOutcome::Committed {
                revision,
                results: Vec::new(),
            });
        };
        let revision = prepared.revision;
        queue.next_revision = revision.next();
        for change in &prepared.changes {
            let entry = match change {
                Change::Put { new, .. } => Some(new.clone()),
                Change::Delete { .. } => None,
            };
            queue
                .overlay
                .insert(change.key().clone(), OverlayEntry { revision, entry });
        }
        queue.waiting.push(prepared);
        let epoch = queue.epoch;
        self.await_durable(queue, revision, epoch)?;
        Ok(TxnOutcome::Committed { revision, results })
    }

    /// Assigns the next revision to `ops` and encodes them; nothing is recorded yet.
    fn prepare(
        &self,
        queue: &CommitQueue<R::Value>,
        state: &MvccState<R::Value>,
        ops: Vec<CheckedOp>,
    ) -> Result<(PreparedTxn<R::Value>, Vec<Option<Versioned<R::Value>>>), StoreError> {
        let revision = queue.next_revision;
        // Check every delete before encoding anything, so a failed txn costs no encoding.
        for op in ops.iter().filter(|op| op.put.is_none()) {
            if queue.lookup(state, &op.key).is_none() {
                return Err(StoreError::NotFound(op.object_key.clone()));
            }
        }
        let mut keys = Vec::with_capacity(ops.len());
        let mut changes = Vec::with_capacity(ops.len());
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let previous = queue.lookup(state, &op.key).cloned();
            let change = match (op.put, previous) {
                (Some(mut object), previous) => {
                    object.set_revision(revision);
                    let value = R::encode_owned(object);
                    let new = Entry {
                        label_digest: R::label_digest(&value),
                        value,
                        create_revision: previous.as_ref().map_or(revision, |p| p.create_revision),
                        mod_revision: revision,
                    };
                    results.push(Some(new.versioned()));
                    Change::Put {
                        key: op.key,
                        previous,
                        new,
                    }
                }
                (None, Some(previous)) => {
                    let last = reencode::<R>(&previous, revision)?;
                    results.push(Some(last.versioned()));
                    Change::Delete { key: op.key, last }
                }
                (None, None) => return Err(StoreError::NotFound(op.object_key)),
            };
            keys.push(op.object_key);
            changes.push(change);
        }
        Ok((
            PreparedTxn {
                revision,
                keys,
                changes,
            },
            results,
        ))
    }

    /// Waits until `revision` is durable, leading batches while no one else does.
    fn await_durable<'a>(
        &'a self,
        mut queue: MutexGuard<'a, CommitQueue<R::Value>>,
        revision: Revision,
        epoch: u64,
    ) -> Result<(), StoreError> {
        loop {
            // Durable first: after a failure nothing is written any more, so a revision at
            // or below `durable` can only be ours.
            if queue.durable >= revision {
                return Ok(());
            }
            if queue.epoch != epoch {
                let failure = queue.failure.clone();
                return Err(failure.unwrap_or_else(|| StoreError::Io("commit failed".into())));
            }
            if queue.leader_active || queue.waiting.is_empty() {
                self.settled.wait(&mut queue);
                continue;
            }
            // Leadership is taken before gathering, which releases the lock: no other
            // writer may start a batch meanwhile (batches must reach the backend in order).
            queue.leader_active = true;
            if self.needs_values {
                queue = self.gather_followers(queue);
            }
            let take = queue
                .waiting
                .len()
                .min(self.config.batch_transactions_max.max(1));
            let batch: Vec<PreparedTxn<R::Value>> = queue.waiting.drain(..take).collect();
            drop(queue);
            let leadership = Leadership {
                store: self,
                finished: false,
            };
            let outcome = self.commit_batch(batch);
            queue = leadership.finish(outcome);
        }
    }

    /// Before a durable commit, lets writers that are about to queue (typically those the
    /// previous batch just acknowledged) join this batch: yields while the queue keeps
    /// growing, a bounded number of times. When commits cost an fsync, one more transaction
    /// per batch is worth far more than a yield; no clock is read, so it stays pure.
    fn gather_followers<'a>(
        &'a self,
        mut queue: MutexGuard<'a, CommitQueue<R::Value>>,
    ) -> MutexGuard<'a, CommitQueue<R::Value>> {
        let batch_max = self.config.batch_transactions_max.max(1);
        for _ in 0..GATHER_YIELDS_MAX {
            let before = queue.waiting.len();
            if before >= batch_max {
                break;
            }
            MutexGuard::unlocked(&mut queue, std::thread::yield_now);
            if queue.waiting.len() == before {
                break;
            }
        }
        queue
    }

    /// Makes `batch` durable, then visible. Runs without the queue lock.
    fn commit_batch(&self, batch: Vec<PreparedTxn<R::Value>>) -> Result<Revision, StoreError> {
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return Ok(self.current_revision());
        };
        let (first_revision, last_revision) = (first.revision, last.revision);
        let mut writes = Vec::new();
        for txn in &batch {
            for (key, change) in txn.keys.iter().zip(&txn.changes) {
                writes.push(match change {
                    Change::Put { new, .. } => BackendWrite::Put {
                        key,
                        create_revision: new.create_revision,
                        mod_revision: new.mod_revision,
                        bytes: if self.needs_values {
                            R::to_bytes(&new.value)
                        } else {
                            std::borrow::Cow::Borrowed(&[])
                        },
                    },
                    Change::Delete { .. } => BackendWrite::Delete {
                        key,
                        revision: txn.revision,
                    },
                });
            }
        }
        self.backend.commit(&CommitBatch {
            first_revision,
            last_revision,
            writes,
        })?;
        let mut state = self.state.write();
        for txn in batch {
            state.apply(txn.revision, txn.changes);
        }
        let retention = self.config.history_revisions.max(1);
        if state.revision.0 - state.compacted.0 > retention {
            let up_to = Revision(state.revision.0 - retention);
            state.compact(up_to);
        }
        Ok(last_revision)
    }

    /// Blocks until no queued transaction writes `key` (so a fresh read sees its outcome).
    pub(crate) fn wait_for_pending_write(&self, key: &ObjectKey) {
        let Ok(key) = StoreKey::new(key) else { return };
        let mut queue = self.queue.lock();
        while queue.has_pending_write(&key) {
            self.settled.wait(&mut queue);
        }
    }
}

/// The leader's duty to hand leadership back, even if the backend panics.
struct Leadership<'a, R: Representation> {
    store: &'a Store<R>,
    finished: bool,
}

impl<'a, R: Representation> Leadership<'a, R> {
    fn finish(
        mut self,
        outcome: Result<Revision, StoreError>,
    ) -> MutexGuard<'a, CommitQueue<R::Value>> {
        self.finished = true;
        let mut queue = self.store.queue.lock();
        queue.leader_active = false;
        let durable = match outcome {
            Ok(durable) => {
                queue.durable = durable;
                queue
                    .overlay
                    .retain(|_, pending| pending.revision > durable);
                Some(durable)
            }
            Err(error) => {
                queue.fail_all(error);
                None
            }
        };
        self.store.settled.notify_all();
        if let Some(durable) = durable {
            // Listeners run without locks: they may poll watches or even write.
            drop(queue);
            self.store.notify_listeners(durable);
            queue = self.store.queue.lock();
        }
        queue
    }
}

impl<R: Representation> Drop for Leadership<'_, R> {
    fn drop(&mut self) {
        if !self.finished {
            let mut queue = self.store.queue.lock();
            queue.leader_active = false;
            queue.fail_all(StoreError::Io(
                "the backend panicked during a commit".into(),
            ));
            self.store.settled.notify_all();
        }
    }
}
