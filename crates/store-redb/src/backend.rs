//! [`RedbBackend`]: the durable [`Backend`] on one redb file.
//!
//! Layout of `<data dir>/corral.redb`:
//! - table `objects`: key `kind name, 0x00, namespace, 0x00, name` (kind by name, so
//!   adding kinds never moves keys); value `create revision (u64 LE), mod revision
//!   (u64 LE), the object's JSON` (its `resourceVersion` is the mod revision);
//! - table `meta`: `revision` (the last durable revision) and `layout` (this layout's
//!   version, 1).
//!
//! One group-committed batch is one redb write transaction with `Durability::Immediate`:
//! one fdatasync for every transaction in the batch. Each commit first checks that the
//! batch starts right after the file's revision (a paired check of the store's
//! bookkeeping against the disk). Only the latest state is kept; the store holds history
//! in memory. redb's cache only serves writes (reads come from the store's memory), so it
//! is small by default.

use std::path::{Path, PathBuf};

use corral_api::{ObjectKey, ResourceKind, Revision};
use corral_store::{Backend, BackendWrite, CommitBatch, LoadSink, StoreError, StoredObject};
use redb::{Builder, Database, DatabaseError, ReadableDatabase, ReadableTable, TableDefinition};

use crate::error::{RedbError, storage_error};
use crate::lock::DataDirLock;

pub const DATABASE_FILE_NAME: &str = "corral.redb";
const OBJECTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("objects");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const META_REVISION: &str = "revision";
const META_LAYOUT: &str = "layout";
const LAYOUT_VERSION: u64 = 1;
const VALUE_HEADER_LENGTH: usize = 16;

/// Tuning for [`RedbBackend::open_with`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedbOptions {
    /// redb's page cache. Reads are served from the store's memory, so this only speeds
    /// up writes; redb's own default (1 GiB) would dominate resident memory.
    pub cache_size_bytes: usize,
    /// Save redb's allocator state with every commit (two-phase commit, two fsyncs) so
    /// that reopening after a crash skips the full-file repair scan.
    pub quick_repair: bool,
}

impl Default for RedbOptions {
    fn default() -> Self {
        RedbOptions {
            cache_size_bytes: 32 * 1024 * 1024,
            quick_repair: false,
        }
    }
}

/// The durable embedded backend.
pub struct RedbBackend {
    database: Database,
    path: PathBuf,
    options: RedbOptions,
    _lock: DataDirLock,
}

impl std::fmt::Debug for RedbBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbBackend")
            .field("path", &self.path)
            .finish()
    }
}

pub(crate) fn encode_key(key: &ObjectKey) -> Vec<u8> {
    let kind = key.kind.kind_name();
    let mut bytes = Vec::with_capacity(kind.len() + key.namespace.len() + key.name.len() + 2);
    bytes.extend_from_slice(kind.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(key.namespace.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(key.name.as_bytes());
    bytes
}

fn decode_key(bytes: &[u8]) -> Result<ObjectKey, StoreError> {
    let corrupt = || {
        StoreError::Corrupt(format!(
            "malformed key {:?}",
            String::from_utf8_lossy(bytes)
        ))
    };
    let mut parts = bytes.splitn(3, |&b| b == 0);
    let (Some(kind), Some(namespace), Some(name)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(corrupt());
    };
    let text = |part: &[u8]| {
        std::str::from_utf8(part)
            .map(str::to_string)
            .map_err(|_| corrupt())
    };
    let kind_name = text(kind)?;
    let kind = ResourceKind::ALL
        .iter()
        .copied()
        .find(|k| k.kind_name() == kind_name)
        .ok_or_else(|| {
            StoreError::Corrupt(format!("stored object of unknown kind {kind_name:?}"))
        })?;
    Ok(ObjectKey::new(kind, &text(namespace)?, &text(name)?))
}

pub(crate) fn encode_value(
    create_revision: Revision,
    mod_revision: Revision,
    json: &[u8],
) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(VALUE_HEADER_LENGTH + json.len());
    bytes.extend_from_slice(&create_revision.0.to_le_bytes());
    bytes.extend_from_slice(&mod_revision.0.to_le_bytes());
    bytes.extend_from_slice(json);
    bytes
}

fn decode_value(key: ObjectKey, bytes: &[u8]) -> Result<StoredObject, StoreError> {
    if bytes.len() < VALUE_HEADER_LENGTH {
        return Err(StoreError::Corrupt(format!(
            "stored value of {key} is truncated"
        )));
    }
    let revision_at = |offset: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[offset..offset + 8]);
        Revision(u64::from_le_bytes(word))
    };
    Ok(StoredObject {
        create_revision: revision_at(0),
        mod_revision: revision_at(8),
        bytes: bytes[VALUE_HEADER_LENGTH..].to_vec(),
        key,
    })
}

fn open_database(path: &Path, options: &RedbOptions) -> Result<Database, RedbError> {
    let mut builder = Builder::new();
    builder.set_cache_size(options.cache_size_bytes);
    builder.create(path).map_err(|error| match error {
        DatabaseError::DatabaseAlreadyOpen => RedbError::DataDirInUse {
            dir: path.parent().unwrap_or(path).to_path_buf(),
            pid: None,
        },
        DatabaseError::Storage(redb::StorageError::Io(io)) => RedbError::io(path, io),
        other => RedbError::Database {
            path: path.to_path_buf(),
            message: format!("cannot open the database: {other}"),
        },
    })
}

impl RedbBackend {
    /// Opens (creating if needed) the data directory `dir` with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<RedbBackend, RedbError> {
        RedbBackend::open_with(dir, RedbOptions::default())
    }

    /// Opens `dir`: takes its lock (a second process is refused), opens or creates
    /// `corral.redb` (redb repairs it after a crash), and checks the layout version.
    pub fn open_with(
        dir: impl AsRef<Path>,
        options: RedbOptions,
    ) -> Result<RedbBackend, RedbError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| RedbError::io(dir, e))?;
        let lock = DataDirLock::acquire(dir)?;
        let path = dir.join(DATABASE_FILE_NAME);
        let database = open_database(&path, &options)?;
        let backend = RedbBackend {
            database,
            path,
            options,
            _lock: lock,
        };
        backend.initialise_layout()?;
        Ok(backend)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the tables on first open; refuses a file written with another layout.
    fn initialise_layout(&self) -> Result<(), RedbError> {
        let context = "initialising the database layout";
        let txn = self
            .database
            .begin_write()
            .map_err(|e| storage_error(context, e))?;
        {
            let mut meta = txn
                .open_table(META)
                .map_err(|e| storage_error(context, e))?;
            txn.open_table(OBJECTS)
                .map_err(|e| storage_error(context, e))?;
            let layout = meta
                .get(META_LAYOUT)
                .map_err(|e| storage_error(context, e))?
                .map(|v| v.value());
            match layout {
                None => {
                    meta.insert(META_LAYOUT, LAYOUT_VERSION)
                        .map_err(|e| storage_error(context, e))?;
                }
                Some(LAYOUT_VERSION) => {}
                Some(other) => {
                    return Err(RedbError::Database {
                        path: self.path.clone(),
                        message: format!(
                            "layout version {other} is not supported (this build uses {LAYOUT_VERSION})"
                        ),
                    });
                }
            }
        }
        txn.commit().map_err(|e| storage_error(context, e))?;
        Ok(())
    }

    /// Writes `objects` as they are and, if given, sets the revision: for restores.
    pub(crate) fn import(
        &self,
        objects: &[StoredObject],
        revision: Option<Revision>,
    ) -> Result<(), StoreError> {
        let context = "importing a snapshot";
        let txn = self
            .database
            .begin_write()
            .map_err(|e| storage_error(context, e))?;
        {
            let mut table = txn
                .open_table(OBJECTS)
                .map_err(|e| storage_error(context, e))?;
            for object in objects {
                let value =
                    encode_value(object.create_revision, object.mod_revision, &object.bytes);
                table
                    .insert(encode_key(&object.key).as_slice(), value.as_slice())
                    .map_err(|e| storage_error(context, e))?;
            }
            if let Some(revision) = revision {
                let mut meta = txn
                    .open_table(META)
                    .map_err(|e| storage_error(context, e))?;
                meta.insert(META_REVISION, revision.0)
                    .map_err(|e| storage_error(context, e))?;
            }
        }
        txn.commit().map_err(|e| storage_error(context, e))
    }
}

impl Backend for RedbBackend {
    fn name(&self) -> &'static str {
        "redb"
    }

    fn load(&self, sink: &mut LoadSink<'_>) -> Result<Revision, StoreError> {
        let context = "loading the database";
        let txn = self
            .database
            .begin_read()
            .map_err(|e| storage_error(context, e))?;
        let meta = txn
            .open_table(META)
            .map_err(|e| storage_error(context, e))?;
        let revision = meta
            .get(META_REVISION)
            .map_err(|e| storage_error(context, e))?
            .map_or(0, |v| v.value());
        let table = txn
            .open_table(OBJECTS)
            .map_err(|e| storage_error(context, e))?;
        for row in table.iter().map_err(|e| storage_error(context, e))? {
            let (key, value) = row.map_err(|e| storage_error(context, e))?;
            sink(decode_value(decode_key(key.value())?, value.value())?)?;
        }
        Ok(Revision(revision))
    }

    fn commit(&self, batch: &CommitBatch<'_>) -> Result<(), StoreError> {
        let context = "committing";
        let mut txn = self
            .database
            .begin_write()
            .map_err(|e| storage_error(context, e))?;
        txn.set_quick_repair(self.options.quick_repair);
        {
            let mut meta = txn
                .open_table(META)
                .map_err(|e| storage_error(context, e))?;
            let stored = meta
                .get(META_REVISION)
                .map_err(|e| storage_error(context, e))?
                .map_or(0, |v| v.value());
            // An empty store is revision 1 without having written it.
            let expected = stored.max(1) + 1;
            if batch.first_revision.0 != expected || batch.last_revision < batch.first_revision {
                return Err(StoreError::Corrupt(format!(
                    "batch {}..={} does not follow the file's revision {stored}",
                    batch.first_revision, batch.last_revision
                )));
            }
            let mut objects = txn
                .open_table(OBJECTS)
                .map_err(|e| storage_error(context, e))?;
            for write in &batch.writes {
                match write {
                    BackendWrite::Put {
                        key,
                        create_revision,
                        mod_revision,
                        bytes,
                    } => {
                        let value = encode_value(*create_revision, *mod_revision, bytes);
                        objects
                            .insert(encode_key(key).as_slice(), value.as_slice())
                            .map_err(|e| storage_error(context, e))?;
                    }
                    BackendWrite::Delete { key, .. } => {
                        objects
                            .remove(encode_key(key).as_slice())
                            .map_err(|e| storage_error(context, e))?;
                    }
                }
            }
            meta.insert(META_REVISION, batch.last_revision.0)
                .map_err(|e| storage_error(context, e))?;
        }
        txn.commit().map_err(|e| storage_error(context, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_round_trip() {
        let key = ObjectKey::new(ResourceKind::Pod, "ns", "p-1");
        assert_eq!(decode_key(&encode_key(&key)).unwrap(), key);
        let node = ObjectKey::cluster(ResourceKind::Node, "n1");
        assert_eq!(decode_key(&encode_key(&node)).unwrap(), node);
        let value = encode_value(Revision(3), Revision(9), b"{}");
        let stored = decode_value(key.clone(), &value).unwrap();
        assert_eq!(
            (stored.create_revision, stored.mod_revision, stored.bytes),
            (Revision(3), Revision(9), b"{}".to_vec())
        );
    }

    #[test]
    fn malformed_rows_are_corrupt_errors() {
        assert!(matches!(
            decode_key(b"Pod\0ns"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            decode_key(b"Gadget\0ns\0x"),
            Err(StoreError::Corrupt(_))
        ));
        let key = ObjectKey::new(ResourceKind::Pod, "ns", "p");
        assert!(matches!(
            decode_value(key, b"short"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
