//! The shared store conformance suite (`corral_store::testing`) against the etcd backend,
//! for both representations. Each case gets its own etcd (loopback, random ports,
//! temporary data directory), stopped when the case's store drops its backend.
//!
//! Without an `etcd` binary each case prints a SKIP line and runs against the in-memory
//! backend instead (set `CORRAL_REQUIRE_ETCD=1` to make that a failure).

mod support;

use corral_api::Revision;
use corral_store::{Backend, CommitBatch, LoadSink, MemoryBackend, StoreError};
use corral_store_etcd::EtcdBackend;
use corral_store_etcd::testing::EtcdServer;

/// An etcd backend that owns its etcd; fields drop in order, so the lease is revoked
/// before etcd stops.
struct TemporaryEtcd {
    backend: EtcdBackend,
    _server: EtcdServer,
}

impl Backend for TemporaryEtcd {
    fn name(&self) -> &'static str {
        self.backend.name()
    }

    fn load(&self, sink: &mut LoadSink<'_>) -> Result<Revision, StoreError> {
        self.backend.load(sink)
    }

    fn commit(&self, batch: &CommitBatch<'_>) -> Result<(), StoreError> {
        self.backend.commit(batch)
    }

    fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.backend.compact(revision)
    }
}

fn etcd_backend() -> Box<dyn Backend> {
    let Some(server) = support::etcd_or_skip("conformance case") else {
        return Box::new(MemoryBackend);
    };
    let backend = EtcdBackend::connect(&[server.endpoint()], support::options("/registry"))
        .expect("a fresh etcd accepts the backend");
    Box::new(TemporaryEtcd {
        backend,
        _server: server,
    })
}

corral_store::conformance_suite!(etcd_backend);
