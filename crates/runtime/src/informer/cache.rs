//! The one [`ObjectCache`] every controller reads, and the [`EventHandler`] interface the
//! informer dispatches to.
//!
//! Locking: the informer's applier is the only writer. It applies an event under the
//! write lock, downgrades to a read lock (no writer can slip in between) and calls every
//! interested handler with the cache exactly as it is after that event. Workers take the
//! read lock only inside the synchronous `reconcile`. Because the applier never waits for
//! the write lock while holding anything a reader could need, a reader holding a
//! controller's core lock can always get the read lock eventually: no cycle.

use std::sync::Arc;

use corral_api::{KubeObject, ResourceKind};
use corral_core::{ObjectCache, ObjectEvent, Timestamp};
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Something that reacts to cache changes: a controller driver.
pub trait EventHandler: Send + Sync {
    /// For logs and metrics (the queue name).
    fn name(&self) -> &str;

    /// The kinds whose events it wants.
    fn watched_kinds(&self) -> &'static [ResourceKind];

    /// Called after `event` was applied to `cache`; `previous` is the cached state before
    /// it. Must be quick and must not wait on anything (it runs under the cache's read
    /// lock).
    fn handle_event(
        &self,
        event: &ObjectEvent,
        previous: Option<&KubeObject>,
        cache: &ObjectCache,
        now: Timestamp,
    );
}

/// The shared cache. Only the informer holds this writable form.
#[derive(Clone, Debug, Default)]
pub(crate) struct SharedCache {
    inner: Arc<RwLock<ObjectCache>>,
}

impl SharedCache {
    pub(crate) fn new() -> SharedCache {
        SharedCache::default()
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, ObjectCache> {
        self.inner.write()
    }

    pub(crate) fn reader(&self) -> CacheReader {
        CacheReader {
            inner: Arc::clone(&self.inner),
        }
    }
}

/// Read access to the shared cache (cloneable).
#[derive(Clone, Debug)]
pub struct CacheReader {
    inner: Arc<RwLock<ObjectCache>>,
}

impl CacheReader {
    /// A read guard. Hold it briefly and never across an `.await` or while waiting for
    /// another lock that a cache reader may hold.
    pub fn read(&self) -> RwLockReadGuard<'_, ObjectCache> {
        self.inner.read()
    }

    /// A cached object, cloned out of the lock.
    pub fn get(&self, key: &corral_api::ObjectKey) -> Option<Arc<KubeObject>> {
        self.inner.read().get(key).cloned()
    }
}
