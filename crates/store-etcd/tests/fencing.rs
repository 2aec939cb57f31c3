//! One Corral instance per prefix: a second instance is refused while the first lives, a
//! crashed owner's lock frees itself when its lease expires, and an owner that lost its
//! lease cannot overwrite the instance that took over.
//!
//! Method: a real etcd per test; the crashed owner is this test binary re-run as a child
//! process (`lock_holder_process`), killed with SIGKILL so it never revokes its lease.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_api::ResourceKind;
use corral_core::SimRng;
use corral_core::clock::epoch;
use corral_store::testing::{SharedBackend, config_map};
use corral_store::{
    JsonBytes, ListRequest, ObjectStore, Representation, Store, StoreConfig, StoreError,
};
use corral_store_etcd::{EtcdBackend, EtcdError, EtcdOptions};
use support::{Raw, etcd_or_skip, options};

const HOLDER_ENV: &str = "CORRAL_ETCD_TEST_HOLDER";

fn store_on(backend: Arc<EtcdBackend>) -> ObjectStore<JsonBytes> {
    ObjectStore::new(Arc::new(
        Store::open(Box::new(SharedBackend(backend)), StoreConfig::default()).unwrap(),
    ))
}

fn names(store: &ObjectStore<JsonBytes>) -> Vec<String> {
    let page = store
        .list(&ListRequest::all(ResourceKind::ConfigMap))
        .unwrap();
    page.items
        .iter()
        .map(|v| JsonBytes::decode(&v.value).unwrap().name().to_string())
        .collect()
}

#[test]
fn a_second_instance_on_the_same_prefix_is_refused_until_the_first_stops() {
    let Some(server) = etcd_or_skip("a_second_instance_on_the_same_prefix_is_refused") else {
        return;
    };
    let endpoints = [server.endpoint()];
    let first = EtcdBackend::connect(&endpoints, options("/registry")).unwrap();
    let second = EtcdOptions {
        holder: "second".into(),
        ..options("/registry")
    };
    let error = EtcdBackend::connect(&endpoints, second.clone()).unwrap_err();
    let EtcdError::PrefixInUse {
        prefix,
        holder,
        lease_ttl_seconds,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(prefix, "/registry");
    assert!(
        holder.ends_with(&format!("pid {}", std::process::id())),
        "{holder}"
    );
    assert!(
        lease_ttl_seconds.is_some_and(|ttl| (0..=2).contains(&ttl)),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("etcd prefix /registry is in use by another corral instance"),
        "{error}"
    );
    // Another prefix in the same etcd is free.
    assert!(EtcdBackend::connect(&endpoints, options("/elsewhere")).is_ok());
    drop(first);
    assert!(
        EtcdBackend::connect(&endpoints, second).is_ok(),
        "dropping the first instance revokes its lease at once"
    );
}

/// Not a test of its own: the lock holder that `a_crashed_owners_lock_frees_itself_when_its_lease_expires`
/// runs as a child process and kills.
#[test]
fn lock_holder_process() {
    let Ok(endpoint) = std::env::var(HOLDER_ENV) else {
        return;
    };
    let backend = EtcdBackend::connect(&[endpoint], options("/registry")).unwrap();
    let mut stdout = std::io::stdout();
    writeln!(stdout, "LOCKED {}", backend.lease_id()).unwrap();
    stdout.flush().unwrap();
    loop {
        std::thread::park();
    }
}

/// Kills the child on every exit path.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_crashed_owners_lock_frees_itself_when_its_lease_expires() {
    let Some(server) = etcd_or_skip("a_crashed_owners_lock_frees_itself") else {
        return;
    };
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "lock_holder_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLDER_ENV, server.endpoint())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = ChildGuard(child);
    // libtest prints `test lock_holder_process ... ` on the same line before the output.
    let stdout = child.0.stdout.take().unwrap();
    let (locked, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let found = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains("LOCKED"));
        let _ = locked.send(found);
    });
    let found = seen.recv_timeout(Duration::from_secs(60));
    assert_eq!(found, Ok(true), "the holder process took the lock");
    let endpoints = [server.endpoint()];
    assert!(matches!(
        EtcdBackend::connect(&endpoints, options("/registry")),
        Err(EtcdError::PrefixInUse { .. })
    ));
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let started = Instant::now();
    let patient = EtcdOptions {
        lock_wait: Duration::from_secs(15),
        ..options("/registry")
    };
    let backend = EtcdBackend::connect(&endpoints, patient);
    assert!(backend.is_ok(), "{:?}", backend.err());
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn an_owner_that_lost_its_lease_cannot_overwrite_its_successor() {
    let Some(server) = etcd_or_skip("an_owner_that_lost_its_lease_cannot_overwrite") else {
        return;
    };
    let endpoints = [server.endpoint()];
    let mut rng = SimRng::seed_from_u64(1);
    let stale_backend = Arc::new(EtcdBackend::connect(&endpoints, options("/registry")).unwrap());
    let stale = store_on(Arc::clone(&stale_backend));
    stale
        .create(config_map("ns", "a", "1"), epoch(), &mut rng, false)
        .unwrap();
    // The owner stalls past its lease (simulated by revoking it), and a successor starts.
    let raw = Raw::connect(&server.endpoint());
    let mut leases = raw.client.lease_client();
    raw.block_on(leases.revoke(stale_backend.lease_id()))
        .unwrap();
    let successor = store_on(Arc::new(
        EtcdBackend::connect(&endpoints, options("/registry")).unwrap(),
    ));
    assert_eq!(names(&successor), vec!["a"]);
    successor
        .create(config_map("ns", "b", "1"), epoch(), &mut rng, false)
        .unwrap();
    let error = stale
        .create(config_map("ns", "c", "1"), epoch(), &mut rng, false)
        .unwrap_err();
    assert!(matches!(error, StoreError::Io(_)), "{error:?}");
    assert!(error.to_string().contains("lost its lock"), "{error}");
    assert!(stale.store().is_read_only());
    drop(successor);
    drop(stale);
    let reopened = store_on(Arc::new(
        EtcdBackend::connect(&endpoints, options("/registry")).unwrap(),
    ));
    assert_eq!(names(&reopened), vec!["a", "b"]);
}
