//! [`RedbError`]: what opening, restoring or snapshotting a data directory can fail with.
//! Inside the store everything becomes a [`StoreError`] (the `Backend` port's error).

use std::path::{Path, PathBuf};

use corral_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum RedbError {
    /// Another process holds the data directory's lock.
    #[error("data directory {} is in use by another corral process{}; stop it first", dir.display(), pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    DataDirInUse { dir: PathBuf, pid: Option<u32> },
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    /// The database file exists but cannot be used.
    #[error("{}: {message}", path.display())]
    Database { path: PathBuf, message: String },
    /// A restore target must be empty, so a restore never mixes with existing data.
    #[error("restore target {} is not empty", dir.display())]
    TargetNotEmpty { dir: PathBuf },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RedbError {
    pub(crate) fn io(path: &Path, error: std::io::Error) -> RedbError {
        RedbError::Io {
            path: path.to_path_buf(),
            message: error.to_string(),
        }
    }
}

impl From<RedbError> for StoreError {
    fn from(error: RedbError) -> StoreError {
        match error {
            RedbError::Store(inner) => inner,
            RedbError::Database { .. } => StoreError::Corrupt(error.to_string()),
            other => StoreError::Io(other.to_string()),
        }
    }
}

/// A redb failure inside a commit or load, as the store's error.
pub(crate) fn storage_error(context: &str, error: impl Into<redb::Error>) -> StoreError {
    match error.into() {
        redb::Error::Corrupted(message) => StoreError::Corrupt(format!("{context}: {message}")),
        redb::Error::Io(io) => StoreError::Io(format!("{context}: {io}")),
        other => StoreError::Io(format!("{context}: {other}")),
    }
}
