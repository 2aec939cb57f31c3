//! Crash test: a writer process is killed with SIGKILL at random points, again and again
//! on one data directory; after each kill the directory must reopen, hold every write the
//! writer acknowledged, and show no transaction half-applied.
//!
//! Method: `corral-store-crash-writer` (this crate's test binary) runs 8 threads of
//! 4-op transactions (see its docs for the invariant) and prints each acknowledged one.
//! The test reads those lines and kills the process after a seeded random number of them
//! (set `CORRAL_CRASH_SEED` to reproduce a run), reopens the directory in-process and
//! checks the invariant. Reading the writer's output is the only waiting; nothing sleeps.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use corral_api::ResourceKind;
use corral_core::SimRng;
use corral_store::{JsonBytes, ListRequest, Representation, Store, StoreConfig};
use corral_store_redb::RedbBackend;

const WRITER: &str = env!("CARGO_BIN_EXE_corral-store-crash-writer");
const THREADS: u64 = 8;
const ITERATIONS: usize = 30;
const ACKS_BEFORE_KILL_MAX: u64 = 150;

fn spawn_writer(dir: &Path) -> Child {
    Command::new(WRITER)
        .arg(dir)
        .arg(THREADS.to_string())
        .arg("1000000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the crash writer starts")
}

/// Reopens `dir` and checks the writer's invariant against the acknowledged indexes.
fn verify(dir: &Path, acknowledged: &BTreeMap<u64, u64>, iteration: usize) {
    let backend = RedbBackend::open(dir)
        .unwrap_or_else(|e| panic!("iteration {iteration}: reopen failed: {e}"));
    let store = Store::<JsonBytes>::open(Box::new(backend), StoreConfig::default())
        .unwrap_or_else(|e| panic!("iteration {iteration}: load failed: {e}"));
    let request = ListRequest {
        namespace: Some("crash".into()),
        ..ListRequest::all(ResourceKind::ConfigMap)
    };
    let mut values: BTreeMap<String, u64> = BTreeMap::new();
    for item in store.list(&request).unwrap().items {
        let object = JsonBytes::decode(&item.value).unwrap();
        let value = object.to_value()["data"]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(item.mod_revision <= store.current_revision());
        values.insert(object.name().to_string(), value);
    }
    let mut expected = BTreeSet::new();
    for thread in 0..THREADS {
        let Some(&last) = values.get(&format!("counter-{thread}")) else {
            assert!(
                !acknowledged.contains_key(&thread),
                "iteration {iteration}: thread {thread} lost its counter"
            );
            continue;
        };
        if let Some(&acked) = acknowledged.get(&thread) {
            assert!(
                acked <= last,
                "iteration {iteration}: thread {thread} acknowledged {acked} but holds {last}"
            );
        }
        expected.insert(format!("counter-{thread}"));
        expected.extend((0..=last).map(|index| format!("t{thread}-{index}-a")));
        expected.insert(format!("t{thread}-{last}-b"));
    }
    let actual: BTreeSet<String> = values.keys().cloned().collect();
    assert_eq!(
        actual, expected,
        "iteration {iteration}: exactly the committed transactions, each whole"
    );
}

/// A second writer on a directory in use must refuse to start.
fn assert_second_instance_refused(dir: &Path) {
    let output = Command::new(WRITER)
        .arg(dir)
        .arg("1")
        .arg("1")
        .output()
        .expect("second writer runs");
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("is in use by another corral process"),
        "{message}"
    );
}

#[test]
fn killing_the_writer_at_random_points_never_loses_or_half_applies_a_transaction() {
    let seed = std::env::var("CORRAL_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00c0_ffee_u64);
    println!("crash test seed {seed} (CORRAL_CRASH_SEED={seed} reproduces it)");
    let mut rng = SimRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut acknowledged: BTreeMap<u64, u64> = BTreeMap::new();
    for iteration in 0..ITERATIONS {
        let kill_after = 1 + rng.below(ACKS_BEFORE_KILL_MAX);
        let mut child = spawn_writer(dir.path());
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut seen = 0;
        for line in stdout.lines() {
            let line = line.expect("writer output is text");
            let mut words = line
                .split_whitespace()
                .skip(1)
                .map(|w| w.parse::<u64>().expect("ack numbers"));
            let (thread, index) = (words.next().expect("thread"), words.next().expect("index"));
            let highest = acknowledged.entry(thread).or_insert(index);
            *highest = (*highest).max(index);
            seen += 1;
            if iteration == 0 && seen == 1 {
                assert_second_instance_refused(dir.path());
            }
            if seen >= kill_after {
                break;
            }
        }
        child.kill().expect("SIGKILL delivered");
        child.wait().expect("writer reaped");
        if seen < kill_after {
            let mut errors = String::new();
            child
                .stderr
                .take()
                .map(|mut e| e.read_to_string(&mut errors));
            panic!("iteration {iteration}: the writer stopped after {seen} acks: {errors}");
        }
        verify(dir.path(), &acknowledged, iteration);
    }
    assert_eq!(acknowledged.len() as u64, THREADS);
}
