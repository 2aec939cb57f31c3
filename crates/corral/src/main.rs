//! The `corral` binary: a command table. Each subcommand lives in its own module under
//! `cmd/` (or in the crate that owns it) and gets its arguments as a clap `Args` struct;
//! `main` only dispatches.

mod cmd;
mod logging;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Corral: a Kubernetes-compatible batch control plane in one binary.
#[derive(Debug, Parser)]
#[command(
    name = "corral",
    version,
    about = "Corral: a Kubernetes-compatible batch control plane in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The command table.
#[derive(Debug, Subcommand)]
enum Command {
    /// Start the control plane and a local node on a data directory.
    Up(cmd::up::UpArgs),
    /// Join a running Corral as a node (pods run as processes on this machine).
    Node(corral_agent::NodeArgs),
    /// Run a scenario in virtual time (deterministic from a seed) and write a report.
    Sim(corral_sim::SimArgs),
    /// Save, restore or inspect a point-in-time snapshot of the store.
    Snapshot(cmd::snapshot::SnapshotArgs),
    /// Write a kubeconfig for a user restricted to one namespace (client certificate from
    /// the cluster CA and a RoleBinding).
    Kubeconfig(cmd::kubeconfig::KubeconfigArgs),
    /// Rotate the API server's certificates.
    Certs(cmd::certs::CertsArgs),
    /// Print the version of corral and of the Kubernetes API it serves.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => cmd::up::run(args),
        Command::Node(args) => {
            logging::init(logging::LogFormat::Text);
            corral_agent::run_node(args).map_err(anyhow::Error::from)
        }
        Command::Sim(args) => {
            return match corral_sim::cli::run(args) {
                Ok(status) => status.into(),
                Err(error) => {
                    eprintln!("corral sim: {error}");
                    ExitCode::from(2)
                }
            };
        }
        Command::Snapshot(args) => cmd::snapshot::run(args),
        Command::Kubeconfig(args) => cmd::kubeconfig::run(args),
        Command::Certs(args) => cmd::certs::run(args),
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
