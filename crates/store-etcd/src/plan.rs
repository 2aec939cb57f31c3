//! [`plan_batch`]: how one group-committed [`CommitBatch`] becomes etcd Txns.
//!
//! Normally a whole batch is one Txn. etcd bounds a Txn (`--max-txn-ops`, default 128
//! operations per branch; `--max-request-bytes`, default 1.5 MiB), so a batch larger than
//! that is cut into several Txns, always between Corral transactions (every write of a
//! transaction carries its revision), so each Corral transaction stays atomic. Within one
//! Txn, later writes of a key replace earlier ones: etcd refuses a Txn that writes a key
//! twice, and only the last state of a Txn is ever visible in etcd anyway.
//!
//! Pure: no I/O, so the limits are unit-tested without an etcd.

use std::collections::HashMap;

use corral_api::Revision;
use corral_store::{BackendWrite, CommitBatch, StoreError};

use crate::layout::{Layout, encode_value};

/// Bytes counted per operation on top of its key and value (protobuf framing, op kind).
const OP_OVERHEAD_BYTES: usize = 32;

/// etcd's limits on one Txn, minus what every Txn of ours spends on bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnLimits {
    /// Object writes per Txn (etcd's `--max-txn-ops` minus the revision key's put).
    pub ops_max: usize,
    /// Key and value bytes per Txn (below etcd's `--max-request-bytes`).
    pub bytes_max: usize,
}

/// One object write inside a planned Txn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlannedOp {
    Put { key: Vec<u8>, value: Vec<u8> },
    Delete { key: Vec<u8> },
}

impl PlannedOp {
    pub fn key(&self) -> &[u8] {
        match self {
            PlannedOp::Put { key, .. } | PlannedOp::Delete { key } => key,
        }
    }

    fn bytes(&self) -> usize {
        OP_OVERHEAD_BYTES
            + match self {
                PlannedOp::Put { key, value } => key.len() + value.len(),
                PlannedOp::Delete { key } => key.len(),
            }
    }
}

/// One etcd Txn: the writes of consecutive Corral transactions ending at `last_revision`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlannedTxn {
    pub last_revision: Revision,
    pub ops: Vec<PlannedOp>,
    bytes: usize,
}

/// Groups `batch` into Txns within `limits`. A single Corral transaction above the limits
/// is an error (etcd would refuse it), reported before anything is sent.
pub fn plan_batch(
    layout: &Layout,
    batch: &CommitBatch<'_>,
    limits: TxnLimits,
) -> Result<Vec<PlannedTxn>, StoreError> {
    let mut planned = Vec::new();
    let mut current = TxnBuilder::default();
    for transaction in transactions(batch)? {
        let (revision, writes) = transaction;
        let ops: Vec<PlannedOp> = writes.iter().map(|w| planned_op(layout, w)).collect();
        let bytes: usize = ops.iter().map(PlannedOp::bytes).sum();
        if ops.len() > limits.ops_max || bytes > limits.bytes_max {
            return Err(StoreError::Io(format!(
                "the transaction at revision {revision} writes {} objects in {bytes} bytes; one etcd Txn takes at most {} objects and {} bytes (etcd's --max-txn-ops and --max-request-bytes)",
                ops.len(),
                limits.ops_max,
                limits.bytes_max
            )));
        }
        if !current.fits(&ops, bytes, limits) {
            planned.push(std::mem::take(&mut current).finish());
        }
        current.add(revision, ops);
    }
    planned.push(current.finish());
    Ok(planned)
}

fn planned_op(layout: &Layout, write: &BackendWrite<'_>) -> PlannedOp {
    match write {
        BackendWrite::Put {
            key,
            create_revision,
            mod_revision,
            bytes,
        } => PlannedOp::Put {
            key: layout.object_key(key),
            value: encode_value(*create_revision, *mod_revision, bytes),
        },
        BackendWrite::Delete { key, .. } => PlannedOp::Delete {
            key: layout.object_key(key),
        },
    }
}

fn write_revision(write: &BackendWrite<'_>) -> Revision {
    match write {
        BackendWrite::Put { mod_revision, .. } => *mod_revision,
        BackendWrite::Delete { revision, .. } => *revision,
    }
}

/// Splits the batch's writes into its transactions, checking that their revisions are
/// consecutive from `first_revision` to `last_revision` (a paired check of the store's
/// bookkeeping).
fn transactions<'b, 'a>(
    batch: &'b CommitBatch<'a>,
) -> Result<Vec<(Revision, &'b [BackendWrite<'a>])>, StoreError> {
    let mut groups: Vec<(Revision, &'b [BackendWrite<'a>])> = Vec::new();
    let mut start = 0;
    for index in 1..=batch.writes.len() {
        let ends = index == batch.writes.len()
            || write_revision(&batch.writes[index]) != write_revision(&batch.writes[start]);
        if ends {
            groups.push((
                write_revision(&batch.writes[start]),
                &batch.writes[start..index],
            ));
            start = index;
        }
    }
    if groups.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "batch {}..={} has no writes",
            batch.first_revision, batch.last_revision
        )));
    }
    let mut expected = batch.first_revision;
    for (revision, _) in &groups {
        if *revision != expected {
            return Err(StoreError::Corrupt(format!(
                "batch {}..={} holds a write at revision {revision} where {expected} was due",
                batch.first_revision, batch.last_revision
            )));
        }
        expected = expected.next();
    }
    let last = groups.last().map_or(batch.last_revision, |(r, _)| *r);
    if last != batch.last_revision || batch.last_revision < batch.first_revision {
        return Err(StoreError::Corrupt(format!(
            "batch {}..={} ends its writes at revision {last}",
            batch.first_revision, batch.last_revision
        )));
    }
    Ok(groups)
}

#[derive(Default)]
struct TxnBuilder {
    txn: PlannedTxn,
    /// Index in `txn.ops` of each key's write.
    positions: HashMap<Vec<u8>, usize>,
}

impl TxnBuilder {
    fn fits(&self, ops: &[PlannedOp], bytes: usize, limits: TxnLimits) -> bool {
        // Counting every op as new over-estimates when keys repeat: harmless.
        self.txn.ops.is_empty()
            || (self.txn.ops.len() + ops.len() <= limits.ops_max
                && self.txn.bytes + bytes <= limits.bytes_max)
    }

    fn add(&mut self, revision: Revision, ops: Vec<PlannedOp>) {
        self.txn.last_revision = revision;
        for op in ops {
            let size = op.bytes();
            match self.positions.get(op.key()) {
                Some(&index) => {
                    self.txn.bytes = self.txn.bytes - self.txn.ops[index].bytes() + size;
                    self.txn.ops[index] = op;
                }
                None => {
                    self.positions.insert(op.key().to_vec(), self.txn.ops.len());
                    self.txn.bytes += size;
                    self.txn.ops.push(op);
                }
            }
        }
    }

    fn finish(self) -> PlannedTxn {
        self.txn
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use corral_api::{ObjectKey, ResourceKind};

    use super::*;

    fn key(name: &str) -> ObjectKey {
        ObjectKey::new(ResourceKind::ConfigMap, "ns", name)
    }

    fn put<'a>(key: &'a ObjectKey, revision: u64, bytes: &'static [u8]) -> BackendWrite<'a> {
        BackendWrite::Put {
            key,
            create_revision: Revision(2),
            mod_revision: Revision(revision),
            bytes: Cow::Borrowed(bytes),
        }
    }

    fn batch<'a>(first: u64, last: u64, writes: Vec<BackendWrite<'a>>) -> CommitBatch<'a> {
        CommitBatch {
            first_revision: Revision(first),
            last_revision: Revision(last),
            writes,
        }
    }

    const WIDE: TxnLimits = TxnLimits {
        ops_max: 127,
        bytes_max: 1 << 20,
    };

    fn layout() -> Layout {
        Layout::new("/registry").unwrap()
    }

    #[test]
    fn a_batch_within_limits_is_one_txn_with_later_writes_winning() {
        let (a, b) = (key("a"), key("b"));
        let writes = vec![
            put(&a, 2, b"{}"),
            put(&b, 3, b"{}"),
            put(&a, 4, b"{\"x\":1}"),
            BackendWrite::Delete {
                key: &b,
                revision: Revision(5),
            },
        ];
        let planned = plan_batch(&layout(), &batch(2, 5, writes), WIDE).unwrap();
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].last_revision, Revision(5));
        assert_eq!(
            planned[0].ops,
            vec![
                PlannedOp::Put {
                    key: b"/registry/configmaps/ns/a".to_vec(),
                    value: b"corral/v1 2 4\n{\"x\":1}".to_vec(),
                },
                PlannedOp::Delete {
                    key: b"/registry/configmaps/ns/b".to_vec(),
                },
            ]
        );
        let expected_bytes: usize = planned[0].ops.iter().map(PlannedOp::bytes).sum();
        assert_eq!(planned[0].bytes, expected_bytes);
    }

    #[test]
    fn large_batches_split_between_transactions_only() {
        let keys: Vec<ObjectKey> = (0..10).map(|i| key(&format!("k{i}"))).collect();
        // Transactions of two writes each at revisions 2..=6.
        let writes: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| put(k, 2 + i as u64 / 2, b"{}"))
            .collect();
        let limits = TxnLimits {
            ops_max: 5,
            bytes_max: 1 << 20,
        };
        let planned = plan_batch(&layout(), &batch(2, 6, writes), limits).unwrap();
        let shape: Vec<(u64, usize)> = planned
            .iter()
            .map(|t| (t.last_revision.0, t.ops.len()))
            .collect();
        assert_eq!(shape, vec![(3, 4), (5, 4), (6, 2)]);
        let by_bytes = TxnLimits {
            ops_max: 127,
            bytes_max: OP_OVERHEAD_BYTES + 60,
        };
        let planned = plan_batch(
            &layout(),
            &batch(2, 3, vec![put(&keys[0], 2, b"{}"), put(&keys[1], 3, b"{}")]),
            by_bytes,
        )
        .unwrap();
        assert_eq!(planned.len(), 2);
    }

    #[test]
    fn an_oversized_transaction_is_refused_before_sending() {
        let keys: Vec<ObjectKey> = (0..3).map(|i| key(&format!("k{i}"))).collect();
        let writes = keys.iter().map(|k| put(k, 2, b"{}")).collect();
        let limits = TxnLimits {
            ops_max: 2,
            bytes_max: 1 << 20,
        };
        let error = plan_batch(&layout(), &batch(2, 2, writes), limits).unwrap_err();
        assert!(error.to_string().contains("--max-txn-ops"), "{error}");
    }

    #[test]
    fn revisions_out_of_sequence_are_corrupt() {
        let a = key("a");
        let cases = [
            (2, 3, vec![2, 4]),
            (2, 4, vec![2, 3]),
            (3, 3, vec![2]),
            (2, 2, vec![]),
        ];
        for (first, last, revisions) in cases {
            let writes = revisions.iter().map(|r| put(&a, *r, b"{}")).collect();
            let error = plan_batch(&layout(), &batch(first, last, writes), WIDE).unwrap_err();
            assert!(matches!(error, StoreError::Corrupt(_)), "{error}");
        }
    }
}
