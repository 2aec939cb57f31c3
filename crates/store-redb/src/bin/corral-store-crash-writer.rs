//! Test helper for `tests/crash.rs` (not a product binary): writes multi-op transactions
//! to a redb-backed store from many threads and prints `ack <thread> <index>` for each one
//! the store acknowledged, until it is killed or reaches its bound.
//!
//! Usage: `corral-store-crash-writer <data dir> <threads> <transactions per thread>`
//!
//! Transaction `i` of thread `t`, guarded by a compare on the thread's counter:
//! put `t<t>-<i>-a` and `t<t>-<i>-b`, delete `t<t>-<i-1>-b`, set `counter-<t>` to `i`.
//! So after any crash, with `k` the counter's value: `a` exists for exactly `0..=k`, `b`
//! only for `k`, and every acknowledged `i` is at most `k`. The thread resumes from the
//! counter, so runs accumulate in one data directory.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_store::{Compare, JsonBytes, Store, StoreConfig, Txn, TxnOp, TxnOutcome};
use corral_store_redb::RedbBackend;

const NAMESPACE: &str = "crash";

fn config_map(name: &str, value: u64) -> KubeObject {
    let body = serde_json::json!({
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {"value": value.to_string(), "padding": "x".repeat(512)},
    });
    KubeObject::from_value(ResourceKind::ConfigMap, body).unwrap_or_else(|e| panic!("fixture: {e}"))
}

fn counter_key(thread: u64) -> ObjectKey {
    ObjectKey::new(
        ResourceKind::ConfigMap,
        NAMESPACE,
        &format!("counter-{thread}"),
    )
}

/// The counter's value and revision, if the thread has committed before.
fn counter(store: &Store<JsonBytes>, thread: u64) -> Option<(u64, corral_api::Revision)> {
    let versioned = store.get(&counter_key(thread))?;
    let object = <JsonBytes as corral_store::Representation>::decode(&versioned.value).ok()?;
    let value = object.to_value()["data"]["value"].as_str()?.parse().ok()?;
    Some((value, versioned.mod_revision))
}

fn write_transactions(store: &Store<JsonBytes>, thread: u64, count: u64) -> Result<(), String> {
    let start = counter(store, thread).map_or(0, |(value, _)| value + 1);
    for index in start..start + count {
        let guard = match counter(store, thread) {
            Some((_, revision)) => Compare::ModRevision(counter_key(thread), revision),
            None => Compare::Absent(counter_key(thread)),
        };
        let mut ops = vec![
            TxnOp::Put(config_map(&format!("t{thread}-{index}-a"), index)),
            TxnOp::Put(config_map(&format!("t{thread}-{index}-b"), index)),
            TxnOp::Put(config_map(&format!("counter-{thread}"), index)),
        ];
        if index > 0 {
            let previous = ObjectKey::new(
                ResourceKind::ConfigMap,
                NAMESPACE,
                &format!("t{thread}-{}-b", index - 1),
            );
            ops.push(TxnOp::Delete(previous));
        }
        match store.txn(Txn {
            compares: vec![guard],
            ops,
        }) {
            Ok(TxnOutcome::Committed { .. }) => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "ack {thread} {index}").map_err(|e| e.to_string())?;
                out.flush().map_err(|e| e.to_string())?;
            }
            Ok(TxnOutcome::CompareFailed { .. }) => {
                return Err(format!("thread {thread}: counter moved"));
            }
            Err(error) => return Err(format!("thread {thread}: {error}")),
        }
    }
    Ok(())
}

fn run(args: &[String]) -> Result<(), String> {
    let [_, dir, threads, count] = args else {
        return Err(
            "usage: corral-store-crash-writer <data dir> <threads> <transactions per thread>"
                .into(),
        );
    };
    let threads: u64 = threads.parse().map_err(|_| "threads must be a number")?;
    let count: u64 = count.parse().map_err(|_| "count must be a number")?;
    let backend = RedbBackend::open(dir).map_err(|e| e.to_string())?;
    let store = Arc::new(
        Store::<JsonBytes>::open(Box::new(backend), StoreConfig::default())
            .map_err(|e| e.to_string())?,
    );
    let workers: Vec<_> = (0..threads)
        .map(|thread| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || write_transactions(&store, thread, count))
        })
        .collect();
    for worker in workers {
        worker.join().map_err(|_| "a writer thread panicked")??;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("corral-store-crash-writer: {message}");
            ExitCode::FAILURE
        }
    }
}
