//! Subcommands, one module each.

pub mod up;
pub mod version;
pub mod certs;
pub mod kubeconfig;
