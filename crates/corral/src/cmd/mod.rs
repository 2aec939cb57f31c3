//! Subcommands, one module each.

pub mod certs;
pub mod kubeconfig;
pub mod up;
pub mod version;
