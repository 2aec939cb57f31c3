//! Subcommands, one module each.

pub mod up;
pub mod version;
