//! Shared by the integration tests: a real etcd per test (or a SKIP line when there is
//! none), and a raw etcd client for looking behind the backend.

#![allow(dead_code)]

use std::io::Write;

use corral_store_etcd::EtcdOptions;
use corral_store_etcd::testing::EtcdServer;

/// A fresh etcd, or `None` after printing a SKIP line when `etcd` is not installed.
/// With `CORRAL_REQUIRE_ETCD=1` (CI) a missing etcd fails the test instead.
pub fn etcd_or_skip(test: &str) -> Option<EtcdServer> {
    etcd_with_or_skip(test, &[])
}

/// [`etcd_or_skip`] with extra etcd flags.
pub fn etcd_with_or_skip(test: &str, extra_args: &[&str]) -> Option<EtcdServer> {
    if EtcdServer::binary().is_none() {
        assert!(
            std::env::var_os("CORRAL_REQUIRE_ETCD").is_none(),
            "CORRAL_REQUIRE_ETCD is set but there is no etcd in PATH (apt-get install etcd-server)"
        );
        // Straight to stderr: the test harness captures `eprintln!`.
        let _ = writeln!(
            std::io::stderr(),
            "SKIP {test}: no etcd binary in PATH or CORRAL_ETCD_BIN (apt-get install etcd-server)"
        );
        return None;
    }
    Some(EtcdServer::start_with(extra_args).expect("etcd starts"))
}

/// Default options with a short lease, so tests that wait for one stay short.
pub fn options(prefix: &str) -> EtcdOptions {
    EtcdOptions {
        lease_ttl: std::time::Duration::from_secs(2),
        ..EtcdOptions::default().with_prefix(prefix)
    }
}

/// A raw etcd client on its own runtime, for inspecting and tampering.
pub struct Raw {
    runtime: tokio::runtime::Runtime,
    pub client: etcd_client::Client,
}

impl Raw {
    pub fn connect(endpoint: &str) -> Raw {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = runtime
            .block_on(etcd_client::Client::connect([endpoint], None))
            .unwrap();
        Raw { runtime, client }
    }

    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut kv = self.client.kv_client();
        let response = self.block_on(kv.get(key, None)).unwrap();
        response.kvs().first().map(|kv| kv.value().to_vec())
    }

    /// Every key under `prefix`.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let mut kv = self.client.kv_client();
        let options = etcd_client::GetOptions::new()
            .with_prefix()
            .with_keys_only();
        let response = self.block_on(kv.get(prefix, Some(options))).unwrap();
        response
            .kvs()
            .iter()
            .map(|kv| String::from_utf8_lossy(kv.key()).into_owned())
            .collect()
    }

    pub fn put(&self, key: &str, value: &[u8]) {
        let mut kv = self.client.kv_client();
        self.block_on(kv.put(key, value, None)).unwrap();
    }

    /// etcd's current revision.
    pub fn revision(&self) -> i64 {
        let mut kv = self.client.kv_client();
        let response = self.block_on(kv.get("/", None)).unwrap();
        response.header().unwrap().revision()
    }

    /// Compacts etcd's history at its current revision.
    pub fn compact_now(&self) {
        let revision = self.revision();
        let mut kv = self.client.kv_client();
        self.block_on(kv.compact(revision, None)).unwrap();
    }
}
