//! [`EtcdOptions`]: where in etcd Corral keeps its objects, and how it talks to etcd.

use std::time::Duration;

use crate::layout::DEFAULT_PREFIX;

/// Tuning for `EtcdBackend::connect`. The defaults suit a dedicated etcd (or a dedicated
/// prefix) with etcd's default limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdOptions {
    /// Every key Corral writes starts with `<prefix>/` (upstream's `--etcd-prefix`).
    pub prefix: String,
    /// The lease behind the prefix's lock. A crashed instance blocks a new one for at most
    /// this long; a live one renews it every third of it.
    pub lease_ttl: Duration,
    /// How long `connect` waits for another instance's lock to go away before refusing.
    pub lock_wait: Duration,
    /// Each etcd request (a commit, a page of a load) fails after this long.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Who holds the lock, as other instances' refusals name it.
    pub holder: String,
    /// etcd's `--max-txn-ops` (operations per Txn branch; etcd's default is 128).
    pub txn_ops_max: usize,
    /// Key and value bytes per Txn; keep it below etcd's `--max-request-bytes` (default
    /// 1.5 MiB), which also bounds the largest single object.
    pub txn_bytes_max: usize,
    /// Keys per Range request while loading.
    pub load_page_size: i64,
}

impl Default for EtcdOptions {
    fn default() -> Self {
        EtcdOptions {
            prefix: DEFAULT_PREFIX.to_string(),
            lease_ttl: Duration::from_secs(15),
            lock_wait: Duration::ZERO,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            holder: default_holder(),
            txn_ops_max: 128,
            txn_bytes_max: 1_400_000,
            load_page_size: 500,
        }
    }
}

impl EtcdOptions {
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

/// `<host> pid <pid>`.
fn default_holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_string());
    format!("{host} pid {}", std::process::id())
}
