//! Concurrency tests: several writer threads against several watch cursors, quota-style
//! multi-object transactions, and a commit failure in the middle of concurrent writes.
//!
//! Goal: group commit keeps one gap-free revision order that every cursor observes, CAS
//! transactions never overshoot, and a failed commit fails exactly the writes that were
//! not acknowledged. Method: std threads; watchers wait for commit notifications through
//! `subscribe` (a condition variable), never sleep.

use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use corral_api::{ObjectKey, ResourceKind, Revision};

use crate::testing::{FaultyBackend, SharedBackend, config_map};
use crate::{
    Compare, JsonBytes, ListRequest, MemoryBackend, Store, StoreConfig, StoreError, Txn, TxnOp,
    TxnOutcome, TypedArc, WatchEvent, WatchRequest,
};

/// Wakes waiting watchers after every durable commit.
#[derive(Default)]
struct CommitSignal {
    revision: Mutex<Revision>,
    changed: Condvar,
}

impl CommitSignal {
    fn attach<R: crate::Representation>(self: &Arc<Self>, store: &Store<R>) {
        let signal = Arc::clone(self);
        store.subscribe(Arc::new(move |revision| {
            let mut latest = signal.revision.lock().unwrap();
            *latest = (*latest).max(revision);
            signal.changed.notify_all();
        }));
    }

    /// Waits (bounded) until the store has passed `seen`.
    fn wait_past(&self, seen: Revision) {
        let latest = self.revision.lock().unwrap();
        let _unused = self
            .changed
            .wait_timeout_while(latest, Duration::from_secs(10), |latest| *latest <= seen)
            .unwrap();
    }
}

#[test]
fn concurrent_writers_deliver_gap_free_ordered_events_to_every_cursor() {
    let store = Arc::new(
        Store::<JsonBytes>::open(Box::new(MemoryBackend), StoreConfig::default()).unwrap(),
    );
    let signal = Arc::new(CommitSignal::default());
    signal.attach(&store);
    let start = store.current_revision();
    const WRITERS: usize = 4;
    const TXNS: usize = 150;
    let end = Revision(start.0 + (WRITERS * TXNS) as u64);
    let watchers: Vec<_> = (0..4)
        .map(|_| {
            let mut cursor = store
                .watch(WatchRequest::all(ResourceKind::ConfigMap, start))
                .unwrap();
            let (store, signal) = (Arc::clone(&store), Arc::clone(&signal));
            thread::spawn(move || {
                let mut revisions = Vec::new();
                while cursor.position() < end {
                    let events = store.poll_watch(&mut cursor, 7).unwrap();
                    if events.is_empty() {
                        signal.wait_past(cursor.position());
                    }
                    revisions.extend(events.iter().map(WatchEvent::revision));
                }
                revisions
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                for index in 0..TXNS {
                    let name = format!("w{writer}-{index}");
                    let mut ops = vec![TxnOp::Put(config_map("ns", &name, "v"))];
                    if index % 3 == 0 {
                        ops.push(TxnOp::Put(config_map("ns", &format!("{name}-twin"), "v")));
                    }
                    store
                        .txn(Txn {
                            compares: vec![],
                            ops,
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    assert_eq!(store.current_revision(), end);
    for watcher in watchers {
        let revisions = watcher.join().unwrap();
        assert!(revisions.windows(2).all(|w| w[0] <= w[1]), "commit order");
        let mut distinct = revisions.clone();
        distinct.dedup();
        let expected: Vec<Revision> = ((start.0 + 1)..=end.0).map(Revision).collect();
        assert_eq!(distinct, expected, "no revision skipped");
        assert_eq!(revisions.len(), WRITERS * (TXNS + TXNS.div_ceil(3)));
    }
}

#[test]
fn concurrent_quota_charges_never_overshoot_the_limit() {
    let store =
        Arc::new(Store::<TypedArc>::open(Box::new(MemoryBackend), StoreConfig::default()).unwrap());
    const LIMIT: usize = 25;
    let quota = ObjectKey::new(ResourceKind::ConfigMap, "ns", "quota");
    store
        .txn(Txn {
            compares: vec![],
            ops: vec![TxnOp::Put(config_map("ns", "quota", "0"))],
        })
        .unwrap();
    let threads: Vec<_> = (0..6)
        .map(|thread_index| {
            let (store, quota) = (Arc::clone(&store), quota.clone());
            thread::spawn(move || {
                let mut created = 0;
                for attempt in 0..40 {
                    let current = store.get(&quota).unwrap();
                    let used: usize = current.value.to_value()["data"]["value"]
                        .as_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    if used >= LIMIT {
                        break;
                    }
                    let pod = config_map("ns", &format!("pod-{thread_index}-{attempt}"), "p");
                    let txn = Txn {
                        compares: vec![Compare::ModRevision(quota.clone(), current.mod_revision)],
                        ops: vec![
                            TxnOp::Put(config_map("ns", "quota", &(used + 1).to_string())),
                            TxnOp::Put(pod),
                        ],
                    };
                    if let TxnOutcome::Committed { .. } = store.txn(txn).unwrap() {
                        created += 1;
                    }
                }
                created
            })
        })
        .collect();
    let created: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let pods = store
        .list(&ListRequest::all(ResourceKind::ConfigMap))
        .unwrap()
        .items
        .len()
        - 1;
    assert_eq!((created, pods), (LIMIT, LIMIT));
}

#[test]
fn a_commit_failure_under_concurrent_writes_fails_exactly_the_unacknowledged_ones() {
    let faulty = Arc::new(FaultyBackend::new(Box::new(MemoryBackend)));
    let backend = Box::new(SharedBackend(Arc::clone(&faulty)));
    let store = Arc::new(Store::<JsonBytes>::open(backend, StoreConfig::default()).unwrap());
    faulty.fail_after(40);
    let threads: Vec<_> = (0..4)
        .map(|writer| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for index in 0..100 {
                    let name = format!("w{writer}-{index}");
                    match store.txn(Txn {
                        compares: vec![],
                        ops: vec![TxnOp::Put(config_map("ns", &name, "v"))],
                    }) {
                        Ok(_) => acknowledged.push(name),
                        Err(StoreError::Io(_) | StoreError::ReadOnly(_)) => break,
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                }
                acknowledged
            })
        })
        .collect();
    let mut acknowledged: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    acknowledged.sort();
    let page = store
        .list(&ListRequest::all(ResourceKind::ConfigMap))
        .unwrap();
    let mut stored: Vec<String> = page
        .items
        .iter()
        .map(|v| JsonBytes::decode_name(&v.value))
        .collect();
    stored.sort();
    assert!(store.is_read_only());
    assert_eq!(stored, acknowledged);
    assert_eq!(store.current_revision().0, 1 + acknowledged.len() as u64);
}

impl JsonBytes {
    fn decode_name(value: &crate::EncodedObject) -> String {
        <JsonBytes as crate::Representation>::decode(value)
            .unwrap()
            .name()
            .to_string()
    }
}

/// Persists nothing but asks for values, as a disk backend does (so the store gathers
/// batches), and refuses batches that do not continue the previous one.
#[derive(Default)]
struct SequenceCheckingBackend {
    last: Mutex<Revision>,
}

impl crate::Backend for SequenceCheckingBackend {
    fn name(&self) -> &'static str {
        "sequence-checking"
    }

    fn load(&self, _sink: &mut crate::LoadSink<'_>) -> Result<Revision, StoreError> {
        Ok(Revision::ZERO)
    }

    fn commit(&self, batch: &crate::CommitBatch<'_>) -> Result<(), StoreError> {
        let mut last = self.last.lock().unwrap();
        let expected = last.max(Revision(1)).next();
        if batch.first_revision != expected {
            return Err(StoreError::Corrupt(format!(
                "batch starts at {} instead of {expected}",
                batch.first_revision
            )));
        }
        *last = batch.last_revision;
        Ok(())
    }
}

#[test]
fn concurrent_writers_hand_batches_to_the_backend_in_revision_order() {
    let store = Arc::new(
        Store::<JsonBytes>::open(
            Box::new(SequenceCheckingBackend::default()),
            StoreConfig::default(),
        )
        .unwrap(),
    );
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                for index in 0..200 {
                    let name = format!("w{writer}-{index}");
                    store
                        .txn(Txn {
                            compares: vec![],
                            ops: vec![TxnOp::Put(config_map("ns", &name, "v"))],
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    assert_eq!(store.current_revision(), Revision(1 + 8 * 200));
}
