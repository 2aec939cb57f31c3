//! [`EtcdError`]: what connecting to etcd and taking a prefix can fail with. Inside the
//! store everything becomes a [`StoreError`] (the `Backend` port's error).

use corral_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// This build has no etcd support (the cargo feature `etcd` is off).
    #[error(
        "this corral was built without etcd support; rebuild with `cargo build --features corral-store-etcd/etcd` (needs protoc: `apt-get install protobuf-compiler`)"
    )]
    NotEnabled,
    #[error("invalid etcd options: {0}")]
    InvalidOptions(String),
    /// Another Corral instance holds the prefix's lock.
    #[error("etcd prefix {prefix} is in use by another corral instance ({holder}{}); stop it first, or if it crashed wait for its lease to expire", lease_ttl_seconds.map(|s| format!(", lease expires in {s}s unless renewed")).unwrap_or_default())]
    PrefixInUse {
        prefix: String,
        holder: String,
        lease_ttl_seconds: Option<i64>,
    },
    /// etcd could not be reached or refused a request.
    #[error("etcd at {endpoints}: {context}: {message}")]
    Etcd {
        endpoints: String,
        context: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<EtcdError> for StoreError {
    fn from(error: EtcdError) -> StoreError {
        match error {
            EtcdError::Store(inner) => inner,
            other => StoreError::Io(other.to_string()),
        }
    }
}
