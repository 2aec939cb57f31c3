//! The shared store conformance suite (`corral_store::testing`) against the redb backend,
//! for both representations. Each case gets a fresh temporary data directory.

use corral_api::Revision;
use corral_store::{Backend, CommitBatch, LoadSink, StoreError};
use corral_store_redb::RedbBackend;

/// A redb backend that owns its temporary directory (removed after the backend closes).
struct TemporaryRedb {
    backend: RedbBackend,
    _dir: tempfile::TempDir,
}

impl Backend for TemporaryRedb {
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

fn redb_backend() -> Box<dyn Backend> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let backend = RedbBackend::open(dir.path()).expect("fresh data directory opens");
    Box::new(TemporaryRedb { backend, _dir: dir })
}

corral_store::conformance_suite!(redb_backend);
