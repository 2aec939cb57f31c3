//! [`EtcdBackend`]: the durable [`Backend`] on an etcd v3 cluster.
//!
//! Each group-committed batch is one etcd Txn (more only when it exceeds etcd's Txn
//! limits, see `plan.rs`):
//!
//! ```text
//! If   mod_revision(<prefix>/_corral/revision) == <etcd revision of our last Txn>
//!      create_revision(<prefix>/_corral/lock)  == <revision that created our lock>
//! Then put/delete every object of the batch, put <prefix>/_corral/revision = <last revision>
//! Else get both keys (to say what changed)
//! ```
//!
//! The first compare orders this Txn directly after the previous one of this prefix, the
//! second fails it once this instance lost its lock: together they fence a stale owner.
//! Corral's revisions are logical (see the crate docs): the revision key holds the
//! durable one, and a few (Corral revision, etcd revision) checkpoints translate a
//! compaction into an etcd Compact.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use corral_api::Revision;
use corral_store::{Backend, CommitBatch, LoadSink, StoreError};
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, GetOptions, Txn, TxnOp, TxnOpResponse, TxnResponse,
};
use tokio::sync::watch;

use crate::bridge::IoRuntime;
use crate::error::EtcdError;
use crate::fence::{self, Held};
use crate::layout::{KeyRole, Layout, decode_revision, decode_value};
use crate::options::EtcdOptions;
use crate::plan::{PlannedOp, PlannedTxn, TxnLimits, plan_batch};

/// Checkpoints kept for translating compactions; older ones are dropped (a compaction
/// before all of them is then skipped, which only delays freeing etcd's space).
const CHECKPOINTS_MAX: usize = 100_000;
/// The longest a shutdown waits for etcd to revoke the lease.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(2);

/// Corral's durable position in etcd, behind the commit mutex.
#[derive(Debug)]
struct Position {
    /// Corral's durable revision (the revision key's value).
    durable: Revision,
    /// The etcd mod revision of the revision key (0 while it does not exist).
    revision_key_mod: i64,
    /// (Corral revision, etcd revision whose state is exactly Corral's at it), ascending.
    checkpoints: VecDeque<(Revision, i64)>,
}

impl Position {
    fn checkpoint(&mut self, revision: Revision, etcd_revision: i64) {
        if self.checkpoints.len() == CHECKPOINTS_MAX {
            self.checkpoints.pop_front();
        }
        self.checkpoints.push_back((revision, etcd_revision));
    }
}

/// The etcd v3 backend. Holds the prefix's lock for its lifetime; dropping it revokes the
/// lock's lease so another instance can start at once.
pub struct EtcdBackend {
    io: IoRuntime,
    client: Client,
    layout: Layout,
    options: EtcdOptions,
    endpoints: String,
    held: Held,
    lease_lost: Arc<AtomicBool>,
    position: Mutex<Position>,
    /// Dropping it stops the keep-alive task.
    _stop_keep_alive: watch::Sender<()>,
}

impl std::fmt::Debug for EtcdBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdBackend")
            .field("endpoints", &self.endpoints)
            .field("prefix", &self.layout.prefix())
            .field("lease_id", &self.held.lease_id)
            .finish()
    }
}

fn check_options(endpoints: &[String], options: &EtcdOptions) -> Result<Layout, EtcdError> {
    let invalid = |message: String| Err(EtcdError::InvalidOptions(message));
    if endpoints.is_empty() {
        return invalid("no etcd endpoints given".into());
    }
    if options.txn_ops_max < 2 {
        return invalid("txn_ops_max must leave room for one object and the revision key".into());
    }
    if options.txn_bytes_max == 0 || options.load_page_size < 1 {
        return invalid("txn_bytes_max and load_page_size must be positive".into());
    }
    if options.request_timeout.is_zero() || options.connect_timeout.is_zero() {
        return invalid("timeouts must be positive".into());
    }
    Layout::new(&options.prefix).map_err(EtcdError::InvalidOptions)
}

impl EtcdBackend {
    /// Connects to etcd at `endpoints` (`http://127.0.0.1:2379`), takes the lock of
    /// `options.prefix` (refusing if another instance holds it, after waiting
    /// `options.lock_wait`), and starts renewing it. Then hand the backend to
    /// `Store::open`, which loads everything under the prefix.
    pub fn connect(
        endpoints: &[impl AsRef<str>],
        options: EtcdOptions,
    ) -> Result<EtcdBackend, EtcdError> {
        let endpoint_list: Vec<String> = endpoints.iter().map(|e| e.as_ref().to_string()).collect();
        let layout = check_options(&endpoint_list, &options)?;
        let joined = endpoint_list.join(",");
        let etcd_error = |context: &'static str, message: String| EtcdError::Etcd {
            endpoints: joined.clone(),
            context,
            message,
        };
        let io =
            IoRuntime::new().map_err(|e| etcd_error("starting the I/O runtime", e.to_string()))?;
        let connect_options = ConnectOptions::new()
            .with_timeout(options.request_timeout)
            .with_connect_timeout(options.connect_timeout)
            .with_keep_alive(Duration::from_secs(10), options.request_timeout);
        let wait = options.connect_timeout + options.request_timeout;
        let client = io
            .run(
                wait,
                Client::connect(endpoint_list.clone(), Some(connect_options)),
            )
            .ok_or_else(|| etcd_error("connecting", "timed out".into()))?
            .map_err(|e| etcd_error("connecting", e.to_string()))?;
        let acquire_wait = options.lock_wait + options.request_timeout * 3;
        let held = io
            .run(
                acquire_wait,
                fence::acquire(client.clone(), layout.lock_key(), options.clone()),
            )
            .ok_or_else(|| etcd_error("taking the prefix's lock", "timed out".into()))?
            .map_err(|refusal| refusal.into_error(layout.prefix(), &joined))?;
        let lease_lost = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = watch::channel(());
        io.handle().spawn(fence::keep_alive(
            client.clone(),
            held.lease_id,
            options.lease_ttl,
            options.request_timeout,
            Arc::clone(&lease_lost),
            stopped,
        ));
        Ok(EtcdBackend {
            io,
            client,
            layout,
            options,
            endpoints: joined,
            held,
            lease_lost,
            // `load` reads the real position; until then a commit to a non-empty prefix fails
            // its fence.
            position: Mutex::new(Position {
                durable: Revision::ZERO,
                revision_key_mod: 0,
                checkpoints: VecDeque::new(),
            }),
            _stop_keep_alive: stop,
        })
    }

    pub fn prefix(&self) -> &str {
        self.layout.prefix()
    }

    /// The lease behind this instance's lock.
    pub fn lease_id(&self) -> i64 {
        self.held.lease_id
    }

    /// False once etcd reported the lock's lease gone (expired while etcd was unreachable
    /// for longer than its TTL): every later commit fails.
    pub fn holds_lock(&self) -> bool {
        !self.lease_lost.load(Ordering::SeqCst)
    }

    /// Runs one etcd request on the I/O runtime; errors become the store's I/O errors.
    fn call<T: Send + 'static>(
        &self,
        context: &str,
        request: impl Future<Output = Result<T, etcd_client::Error>> + Send + 'static,
    ) -> Result<T, StoreError> {
        // etcd-client applies `request_timeout` itself; this bounds a stuck connect too.
        let limit = self.options.request_timeout + self.options.connect_timeout;
        match self.io.run(limit, request) {
            Some(Ok(value)) => Ok(value),
            Some(Err(error)) => Err(StoreError::Io(format!(
                "etcd at {}: {context}: {error}",
                self.endpoints
            ))),
            None => Err(StoreError::Io(format!(
                "etcd at {}: {context}: no answer within {limit:?}",
                self.endpoints
            ))),
        }
    }

    /// One page of the load from `from`, at `revision` if given (0: the latest).
    fn load_page(
        &self,
        from: &[u8],
        revision: Option<i64>,
    ) -> Result<etcd_client::GetResponse, StoreError> {
        let mut options = GetOptions::new()
            .with_range(self.layout.range_end())
            .with_limit(self.options.load_page_size);
        if let Some(revision) = revision.filter(|r| *r > 0) {
            options = options.with_revision(revision);
        }
        // Pages are bounded by count; objects by `txn_bytes_max` (commits refuse larger).
        let page_bytes = (self.options.load_page_size as usize)
            .saturating_mul(self.options.txn_bytes_max)
            .saturating_add(1 << 20)
            .max(4 << 20);
        let mut kv = self
            .client
            .kv_client()
            .max_decoding_message_size(page_bytes);
        let from = from.to_vec();
        self.call("loading the prefix", async move {
            kv.get(from, Some(options)).await
        })
    }

    /// After an unpinned load: the revision key still has the etcd mod revision the load
    /// saw, so no commit happened in between.
    fn check_unchanged(&self, revision_key_mod: i64) -> Result<(), StoreError> {
        let mut kv = self.client.kv_client();
        let key = self.layout.revision_key();
        let now = self.call("rereading the revision key", async move {
            kv.get(key, None).await
        })?;
        let now_mod = now.kvs().first().map_or(0, |kv| kv.mod_revision());
        if now_mod != revision_key_mod {
            return Err(StoreError::Io(format!(
                "etcd prefix {}: written by someone else while loading (revision key at etcd revision {now_mod}, loaded at {revision_key_mod})",
                self.layout.prefix()
            )));
        }
        Ok(())
    }

    fn position(&self) -> std::sync::MutexGuard<'_, Position> {
        self.position.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn limits(&self) -> TxnLimits {
        TxnLimits {
            ops_max: self.options.txn_ops_max - 1,
            bytes_max: self.options.txn_bytes_max,
        }
    }

    /// Sends one planned Txn guarded by the fence; returns its etcd revision.
    fn send(&self, position: &Position, planned: PlannedTxn) -> Result<i64, StoreError> {
        let (revision_key, lock_key) = (self.layout.revision_key(), self.layout.lock_key());
        let last = planned.last_revision;
        let mut ops: Vec<TxnOp> = planned
            .ops
            .into_iter()
            .map(|op| match op {
                PlannedOp::Put { key, value } => TxnOp::put(key, value, None),
                PlannedOp::Delete { key } => TxnOp::delete(key, None),
            })
            .collect();
        ops.push(TxnOp::put(revision_key.clone(), last.0.to_string(), None));
        let txn = Txn::new()
            .when([
                Compare::mod_revision(
                    revision_key.clone(),
                    CompareOp::Equal,
                    position.revision_key_mod,
                ),
                Compare::create_revision(
                    lock_key.clone(),
                    CompareOp::Equal,
                    self.held.create_revision,
                ),
            ])
            .and_then(ops)
            .or_else([TxnOp::get(revision_key, None), TxnOp::get(lock_key, None)]);
        let mut kv = self.client.kv_client();
        let context = format!(
            "committing revisions {}..={last} (whether it applied is known only after reopening)",
            position.durable.next()
        );
        let response = self.call(&context, async move { kv.txn(txn).await })?;
        if !response.succeeded() {
            return Err(self.fenced(position, &response));
        }
        let etcd_revision = response.header().map_or(0, |h| h.revision());
        if etcd_revision <= position.revision_key_mod {
            return Err(StoreError::Corrupt(format!(
                "etcd committed revisions ..={last} at etcd revision {etcd_revision}, not after {}",
                position.revision_key_mod
            )));
        }
        Ok(etcd_revision)
    }

    /// Explains a Txn whose fence compares failed.
    fn fenced(&self, position: &Position, response: &TxnResponse) -> StoreError {
        let found: Vec<Option<(String, i64, i64)>> = response
            .op_responses()
            .into_iter()
            .map(|op| match op {
                TxnOpResponse::Get(get) => get.kvs().first().map(|kv| {
                    (
                        String::from_utf8_lossy(kv.value()).into_owned(),
                        kv.create_revision(),
                        kv.mod_revision(),
                    )
                }),
                _ => None,
            })
            .collect();
        let prefix = self.layout.prefix();
        let lock = found.get(1).cloned().flatten();
        let message = match lock {
            Some((_, create, _)) if create == self.held.create_revision => {
                let now = found.first().cloned().flatten().map_or_else(
                    || "deleted".to_string(),
                    |(value, _, modified)| format!("revision {value} at etcd revision {modified}"),
                );
                format!(
                    "etcd prefix {prefix}: Corral's revision key changed behind this instance (expected revision {} at etcd revision {}, found {now}); something else writes this prefix",
                    position.durable, position.revision_key_mod
                )
            }
            Some((holder, _, _)) => format!(
                "etcd prefix {prefix}: this instance lost its lock (its lease expired) and {holder} holds it now; restart to reload"
            ),
            None => format!(
                "etcd prefix {prefix}: this instance lost its lock (its lease expired or was revoked); restart to reload"
            ),
        };
        StoreError::Io(message)
    }
}

impl Backend for EtcdBackend {
    fn name(&self) -> &'static str {
        "etcd"
    }

    /// Streams every object under the prefix in pages, all read at one etcd revision, and
    /// returns the revision key's value.
    fn load(&self, sink: &mut LoadSink<'_>) -> Result<Revision, StoreError> {
        let mut position = self.position();
        let mut start = self.layout.range_start();
        let mut snapshot = 0i64;
        let mut pinned = true;
        let mut durable = None;
        let mut revision_key_mod = 0;
        loop {
            let page = match self.load_page(&start, pinned.then_some(snapshot)) {
                Err(StoreError::Io(message)) if pinned && message.contains("compacted") => {
                    // Someone compacted etcd past the snapshot mid-load. Nothing under the
                    // prefix changes while this instance holds its lock, so the latest
                    // revision serves as well; the revision key is checked at the end.
                    pinned = false;
                    continue;
                }
                other => other?,
            };
            if snapshot == 0 {
                snapshot = page.header().map_or(0, |h| h.revision());
            }
            let more = page.more();
            let mut page = page;
            let kvs = page.take_kvs();
            let Some(last) = kvs.last().map(|kv| kv.key().to_vec()) else {
                break;
            };
            for kv in kvs {
                match self.layout.classify(kv.key())? {
                    KeyRole::Object(key) => sink(decode_value(key, kv.key(), kv.value())?)?,
                    KeyRole::Revision => {
                        durable = Some(decode_revision(kv.value())?);
                        revision_key_mod = kv.mod_revision();
                    }
                    KeyRole::Lock | KeyRole::OtherMeta => {}
                }
            }
            if !more {
                break;
            }
            start = last;
            start.push(0);
        }
        if !pinned {
            self.check_unchanged(revision_key_mod)?;
        }
        let durable = durable.unwrap_or(Revision::ZERO);
        position.durable = durable;
        position.revision_key_mod = revision_key_mod;
        position.checkpoints.clear();
        position.checkpoint(durable, snapshot);
        Ok(durable)
    }

    fn commit(&self, batch: &CommitBatch<'_>) -> Result<(), StoreError> {
        if self.lease_lost.load(Ordering::SeqCst) {
            return Err(StoreError::Io(format!(
                "etcd prefix {}: this instance lost its lock (its lease expired while etcd was unreachable); restart to reload",
                self.layout.prefix()
            )));
        }
        let mut position = self.position();
        // An empty prefix is revision 1 without having written it, as in the store.
        let expected = Revision(position.durable.0.max(1) + 1);
        if batch.first_revision != expected {
            return Err(StoreError::Corrupt(format!(
                "batch {}..={} does not follow etcd's revision {}",
                batch.first_revision, batch.last_revision, position.durable
            )));
        }
        for planned in plan_batch(&self.layout, batch, self.limits())? {
            let last = planned.last_revision;
            let etcd_revision = self.send(&position, planned)?;
            position.durable = last;
            position.revision_key_mod = etcd_revision;
            position.checkpoint(last, etcd_revision);
        }
        Ok(())
    }

    /// Compacts etcd's history at the newest etcd revision that holds Corral's state at or
    /// before `revision`. Corral never reads etcd's history (its own is in memory), so
    /// this only frees etcd's space.
    fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        let etcd_revision = {
            let mut position = self.position();
            let Some(index) = position
                .checkpoints
                .iter()
                .rposition(|(corral, _)| *corral <= revision)
            else {
                return Ok(());
            };
            position.checkpoints.drain(..index);
            position.checkpoints[0].1
        };
        let mut kv = self.client.kv_client();
        match self.call("compacting", async move {
            kv.compact(etcd_revision, None).await
        }) {
            Err(StoreError::Io(message))
                if message.contains("required revision has been compacted") =>
            {
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }
}

impl Drop for EtcdBackend {
    fn drop(&mut self) {
        // Frees the prefix now instead of after the lease's TTL; best effort.
        let mut leases = self.client.lease_client();
        let lease_id = self.held.lease_id;
        let _ = self
            .io
            .run(REVOKE_TIMEOUT, async move { leases.revoke(lease_id).await });
    }
}
