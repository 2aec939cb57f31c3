//! `corral certs rotate [--data-dir DIR]`: re-issues the API server's serving certificate
//! and the admin client certificate from the cluster CA (which stays, so kubeconfigs keep
//! verifying the server) and rewrites the admin kubeconfig. A running server serves the
//! new certificate from its next handshake on (it watches the file; SIGHUP forces a
//! check); open connections are not interrupted.

use std::path::PathBuf;

use anyhow::Context;
use corral_apiserver::pki::{Pki, serving_names};

use super::up::default_data_dir;

/// Arguments of `corral certs`.
#[derive(Debug, clap::Args)]
pub struct CertsArgs {
    #[command(subcommand)]
    pub command: CertsCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CertsCommand {
    /// Re-issue the serving and admin certificates.
    Rotate {
        /// The data directory of `corral up`.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// More names for the serving certificate (as `corral up` was given).
        #[arg(long = "extra-name")]
        extra_names: Vec<String>,
    },
}

pub fn run(args: CertsArgs) -> anyhow::Result<()> {
    match args.command {
        CertsCommand::Rotate {
            data_dir,
            extra_names,
        } => {
            let data_dir = data_dir.unwrap_or_else(default_data_dir);
            let pki = Pki::rotate(&data_dir, &serving_names(&extra_names))
                .context("cannot rotate the certificates")?;
            let kubeconfig = data_dir.join("kubeconfig");
            if let Some(server) = std::fs::read_to_string(&kubeconfig)
                .ok()
                .and_then(|text| corral_apiserver::kubeconfig::server_of(&text))
            {
                corral_apiserver::kubeconfig::write(&kubeconfig, &server, &pki)
                    .with_context(|| format!("cannot write {}", kubeconfig.display()))?;
            }
            println!(
                "corral: rotated the serving and admin certificates in {}",
                data_dir.join("pki").display()
            );
            Ok(())
        }
    }
}
