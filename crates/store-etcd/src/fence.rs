//! Fencing: one Corral instance per prefix.
//!
//! The owner puts `<prefix>/_corral/lock` (its holder string) attached to an etcd lease
//! it keeps alive; a second instance finds the key and is refused, naming the holder and
//! how long its lease has left. A crashed owner stops renewing, etcd deletes the key when
//! the lease expires (`lease_ttl`), and the prefix is free again; a clean shutdown
//! revokes the lease at once.
//!
//! The lock alone does not fence a paused owner whose lease expired meanwhile, so every
//! commit Txn also compares the lock key's create revision with the one this owner
//! created, and the revision key's mod revision with the one this owner last wrote
//! (see `backend.rs`): a stale owner's commit fails instead of overwriting a newer one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, PutOptions, Txn, TxnOp, TxnOpResponse};
use tokio::sync::watch;

use crate::error::EtcdError;
use crate::options::EtcdOptions;

/// How often a waiting `connect` retries the lock.
const LOCK_RETRY: Duration = Duration::from_millis(250);
/// How long the keep-alive waits before reopening a broken stream.
const KEEP_ALIVE_RETRY: Duration = Duration::from_millis(500);

/// The lock this instance holds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Held {
    pub lease_id: i64,
    /// The etcd revision that created the lock key: unique to this acquisition.
    pub create_revision: i64,
}

/// Why the lock was not taken.
pub(crate) enum Refusal {
    InUse {
        holder: String,
        lease_ttl_seconds: Option<i64>,
    },
    Etcd(&'static str, etcd_client::Error),
}

impl Refusal {
    pub(crate) fn into_error(self, prefix: &str, endpoints: &str) -> EtcdError {
        match self {
            Refusal::InUse {
                holder,
                lease_ttl_seconds,
            } => EtcdError::PrefixInUse {
                prefix: prefix.to_string(),
                holder,
                lease_ttl_seconds,
            },
            Refusal::Etcd(context, error) => EtcdError::Etcd {
                endpoints: endpoints.to_string(),
                context,
                message: error.to_string(),
            },
        }
    }
}

/// Whole seconds, at least 2 (etcd raises shorter TTLs to its minimum anyway).
pub(crate) fn ttl_seconds(ttl: Duration) -> i64 {
    (ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0)).max(2) as i64
}

/// Takes the lock of the prefix, retrying for `options.lock_wait`.
pub(crate) async fn acquire(
    client: Client,
    lock_key: Vec<u8>,
    options: EtcdOptions,
) -> Result<Held, Refusal> {
    let deadline = tokio::time::Instant::now() + options.lock_wait;
    loop {
        // A fresh lease per attempt, so a long wait never outlives it.
        let mut leases = client.lease_client();
        let lease_id = leases
            .grant(ttl_seconds(options.lease_ttl), None)
            .await
            .map_err(|e| Refusal::Etcd("granting the lock's lease", e))?
            .id();
        let txn = Txn::new()
            .when([Compare::create_revision(
                lock_key.clone(),
                CompareOp::Equal,
                0,
            )])
            .and_then([TxnOp::put(
                lock_key.clone(),
                options.holder.clone(),
                Some(PutOptions::new().with_lease(lease_id)),
            )])
            .or_else([TxnOp::get(lock_key.clone(), None)]);
        let response = match client.kv_client().txn(txn).await {
            Ok(response) => response,
            Err(error) => {
                let _ = leases.revoke(lease_id).await;
                return Err(Refusal::Etcd("taking the prefix's lock", error));
            }
        };
        if response.succeeded() {
            let create_revision = response.header().map_or(0, |h| h.revision());
            return Ok(Held {
                lease_id,
                create_revision,
            });
        }
        let _ = leases.revoke(lease_id).await;
        let holder = response.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Get(get) => get
                .kvs()
                .first()
                .map(|kv| (String::from_utf8_lossy(kv.value()).into_owned(), kv.lease())),
            _ => None,
        });
        let now = tokio::time::Instant::now();
        if now >= deadline {
            let (holder, holder_lease) = holder.unwrap_or_else(|| ("unknown".into(), 0));
            let lease_ttl_seconds = match leases.time_to_live(holder_lease, None).await {
                Ok(ttl) if ttl.ttl() >= 0 => Some(ttl.ttl()),
                _ => None,
            };
            return Err(Refusal::InUse {
                holder,
                lease_ttl_seconds,
            });
        }
        tokio::time::sleep(LOCK_RETRY.min(deadline - now)).await;
    }
}

/// Renews `lease_id` every third of its TTL until `stop`'s sender is dropped; reopens the
/// stream when etcd goes away and comes back. Sets `lost` if etcd says the lease is gone.
pub(crate) async fn keep_alive(
    client: Client,
    lease_id: i64,
    ttl: Duration,
    request_timeout: Duration,
    lost: Arc<AtomicBool>,
    mut stop: watch::Receiver<()>,
) {
    let period = Duration::from_secs(ttl_seconds(ttl) as u64) / 3;
    loop {
        let opened =
            tokio::time::timeout(request_timeout, client.lease_client().keep_alive(lease_id)).await;
        match opened {
            Ok(Ok((mut keeper, mut stream))) => loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = tokio::time::sleep(period) => {}
                }
                if keeper.keep_alive().await.is_err() {
                    break;
                }
                match tokio::time::timeout(request_timeout, stream.message()).await {
                    Ok(Ok(Some(response))) if response.ttl() > 0 => {}
                    Ok(Ok(Some(_))) => {
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    _ => break,
                }
            },
            // etcd-client's word for a keep-alive answered with TTL 0: the lease is gone.
            Ok(Err(etcd_client::Error::LeaseKeepAliveError(_))) => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
            _ => {}
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(KEEP_ALIVE_RETRY) => {}
        }
    }
}
