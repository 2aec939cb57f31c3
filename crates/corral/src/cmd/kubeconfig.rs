//! `corral kubeconfig --user NAME --namespace NS [--role admin|edit|view]`: issues a client
//! certificate for NAME from the cluster CA, binds the ClusterRole ROLE to NAME in NS
//! (a RoleBinding created through the running server as the admin), and writes a
//! kubeconfig whose context defaults to NS (to `--out FILE`, else standard output).

use std::path::PathBuf;

use anyhow::Context;
use corral_apiserver::kubeconfig::{UserRequest, issue_user};

use super::up::default_data_dir;

/// Arguments of `corral kubeconfig`.
#[derive(Debug, clap::Args)]
pub struct KubeconfigArgs {
    /// The user name (the certificate's CN).
    #[arg(long)]
    pub user: String,
    /// The namespace the user gets the role in (and the context's default).
    #[arg(long)]
    pub namespace: String,
    /// The ClusterRole bound in the namespace.
    #[arg(long, default_value = "edit", value_parser = ["admin", "edit", "view"])]
    pub role: String,
    /// An optional group for the certificate (its O).
    #[arg(long)]
    pub group: Option<String>,
    /// The data directory of `corral up` (its CA and admin kubeconfig).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The API server URL (default: the one in the admin kubeconfig).
    #[arg(long)]
    pub server: Option<String>,
    /// Write the kubeconfig here (mode 0600) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: KubeconfigArgs) -> anyhow::Result<()> {
    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    let request = UserRequest {
        data_dir,
        user: args.user.clone(),
        group: args.group.clone(),
        namespace: args.namespace.clone(),
        role: args.role.clone(),
        server: args.server.clone(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let text = runtime.block_on(issue_user(&request))?;
    match &args.out {
        Some(path) => {
            corral_apiserver::pki::write_file(path, &text, 0o600)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "corral: wrote {} for user {:?} ({} in namespace {})",
                path.display(),
                args.user,
                args.role,
                args.namespace
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}
