//! L2: the durable embedded backend for `corral-store` on redb, the data-directory lock,
//! and snapshot files.
//!
//! - [`RedbBackend`]: `<data dir>/corral.redb` behind the store's `Backend` port; one
//!   fdatasync per group-committed batch; an exclusive lock file so a second process on
//!   the same data directory is refused with the holder's pid.
//! - [`snapshot`]: `save` a running store to a file atomically, `status` of a file,
//!   `restore` into an empty data directory; the file format is `corral_store`'s.
//!
//! Typical start-up:
//!
//! ```no_run
//! use std::sync::Arc;
//! use corral_store::{JsonBytes, Store, StoreConfig};
//! use corral_store_redb::RedbBackend;
//!
//! let backend = RedbBackend::open("/var/lib/corral").expect("data directory opens");
//! let store = Arc::new(Store::<JsonBytes>::open(Box::new(backend), StoreConfig::default()).expect("store loads"));
//! ```

mod backend;
mod error;
mod lock;
pub mod snapshot;

pub use backend::{DATABASE_FILE_NAME, RedbBackend, RedbOptions};
pub use error::RedbError;
pub use lock::{DataDirLock, LOCK_FILE_NAME};
