//! The stand-in for builds without the cargo feature `etcd`: same API, and `connect`
//! explains how to enable the real backend.

use corral_api::Revision;
use corral_store::{Backend, CommitBatch, LoadSink, StoreError};

use crate::error::EtcdError;
use crate::options::EtcdOptions;

/// The etcd backend is not in this build; [`EtcdBackend::connect`] says how to add it.
#[derive(Debug)]
pub struct EtcdBackend {
    never: std::convert::Infallible,
}

impl EtcdBackend {
    /// Always [`EtcdError::NotEnabled`].
    pub fn connect(
        endpoints: &[impl AsRef<str>],
        options: EtcdOptions,
    ) -> Result<EtcdBackend, EtcdError> {
        let _ = (endpoints, options);
        Err(EtcdError::NotEnabled)
    }
}

impl Backend for EtcdBackend {
    fn name(&self) -> &'static str {
        "etcd"
    }

    fn load(&self, _sink: &mut LoadSink<'_>) -> Result<Revision, StoreError> {
        match self.never {}
    }

    fn commit(&self, _batch: &CommitBatch<'_>) -> Result<(), StoreError> {
        match self.never {}
    }
}
