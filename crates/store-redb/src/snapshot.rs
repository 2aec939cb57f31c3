//! Snapshot files: [`save`] from a running store, [`status`] of a file, and [`restore`]
//! into an empty data directory. The format (magic, version, revision, count, entries,
//! CRC-32) is documented in `corral_store::snapshot` (`write_snapshot`/`read_snapshot`).
//!
//! Saving writes `<file>.tmp`, fsyncs and renames it, so a crash never leaves a partial
//! snapshot under the final name. Restoring validates the whole file (checksum included)
//! before creating anything, builds `corral.redb` in the target, and removes what it
//! created if anything fails.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use corral_store::{Representation, SnapshotInfo, Store, StoredObject, read_snapshot};

use crate::backend::{DATABASE_FILE_NAME, RedbBackend};
use crate::error::RedbError;
use crate::lock::LOCK_FILE_NAME;

/// Objects written to the database per transaction during a restore.
const RESTORE_BATCH_OBJECTS: usize = 1_000;

/// Writes a consistent snapshot of `store` to `out` (for the HTTP endpoint that serves
/// `corral snapshot save` against a running server).
pub fn write<R: Representation>(
    store: &Store<R>,
    out: &mut dyn Write,
) -> Result<SnapshotInfo, RedbError> {
    Ok(store.snapshot(out)?)
}

/// Saves a snapshot of `store` to `path` atomically.
pub fn save<R: Representation>(store: &Store<R>, path: &Path) -> Result<SnapshotInfo, RedbError> {
    let temporary = temporary_path(path);
    let io = |e: std::io::Error| RedbError::io(&temporary, e);
    let file = File::create(&temporary).map_err(io)?;
    let mut writer = BufWriter::new(file);
    let info = match store.snapshot(&mut writer) {
        Ok(info) => info,
        Err(error) => {
            let _ = std::fs::remove_file(&temporary);
            return Err(error.into());
        }
    };
    let file = writer.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&temporary, path).map_err(|e| RedbError::io(path, e))?;
    sync_parent(path);
    Ok(info)
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Makes a rename durable; best effort (not every filesystem supports it).
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(directory) = File::open(parent)
    {
        let _ = directory.sync_all();
    }
}

/// Reads and checks the whole file: revision, object count, checksum.
pub fn status(path: &Path) -> Result<SnapshotInfo, RedbError> {
    let file = File::open(path).map_err(|e| RedbError::io(path, e))?;
    let mut reader = BufReader::new(file);
    Ok(read_snapshot(&mut reader, &mut |_| Ok(()))?)
}

/// Restores the snapshot at `path` into `data_dir`, which must not exist or be empty.
pub fn restore(path: &Path, data_dir: &Path) -> Result<SnapshotInfo, RedbError> {
    let created_dir = match std::fs::read_dir(data_dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(RedbError::TargetNotEmpty {
                    dir: data_dir.to_path_buf(),
                });
            }
            false
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => true,
        Err(error) => return Err(RedbError::io(data_dir, error)),
    };
    status(path)?;
    let result = import(path, data_dir);
    if result.is_err() {
        let _ = std::fs::remove_file(data_dir.join(DATABASE_FILE_NAME));
        let _ = std::fs::remove_file(data_dir.join(LOCK_FILE_NAME));
        if created_dir {
            let _ = std::fs::remove_dir(data_dir);
        }
    }
    result
}

fn import(path: &Path, data_dir: &Path) -> Result<SnapshotInfo, RedbError> {
    let backend = RedbBackend::open(data_dir)?;
    let file = File::open(path).map_err(|e| RedbError::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut pending: Vec<StoredObject> = Vec::with_capacity(RESTORE_BATCH_OBJECTS);
    let info = read_snapshot(&mut reader, &mut |object| {
        pending.push(object);
        if pending.len() >= RESTORE_BATCH_OBJECTS {
            backend.import(&pending, None)?;
            pending.clear();
        }
        Ok(())
    })?;
    // The revision is written last: a database without it is an unfinished restore, and
    // the caller removes it.
    backend.import(&pending, Some(info.revision))?;
    Ok(info)
}
