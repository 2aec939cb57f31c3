//! The `corral` binary: a command table. Each subcommand lives in its own module under
//! `cmd/` and gets its arguments as a clap `Args` struct; `main` only dispatches.

mod cmd;
mod logging;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Corral: a Kubernetes-compatible batch control plane in one binary.
#[derive(Debug, Parser)]
#[command(name = "corral", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The command table.
#[derive(Debug, Subcommand)]
enum Command {
    /// Start the control plane (API server) on a data directory.
    Up(cmd::up::UpArgs),
    /// Print the version of corral and of the Kubernetes API it serves.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => cmd::up::run(args),
        Command::Version => cmd::version::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("corral: {e:#}");
            ExitCode::FAILURE
        }
    }
}
