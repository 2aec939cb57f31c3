//! Subcommands, one module each.

pub mod certs;
pub mod kubeconfig;
pub mod snapshot;
pub mod up;
pub mod version;
