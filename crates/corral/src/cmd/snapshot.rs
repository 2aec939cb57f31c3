//! `corral snapshot save|restore|status`, after `etcdctl snapshot`.
//!
//! - `save FILE` asks the running API server for a consistent point-in-time snapshot
//!   (`GET /corral/snapshot`, admin only), authenticated by the admin kubeconfig
//!   (`--kubeconfig`, else the first file of `$KUBECONFIG`, else `kubeconfig` in the
//!   default data directory). The download goes to `FILE.part`, is checked (format,
//!   lengths, checksum), fsynced and only then renamed to `FILE`.
//! - `restore FILE --data-dir DIR` checks the whole file, then builds the redb store in
//!   `DIR`, which must not exist or be empty. `corral up --data-dir DIR` then serves the
//!   snapshot's objects at its revision (with new certificates and kubeconfig).
//! - `status FILE [-o json]` checks the file and prints its revision, object count,
//!   checksum and size.
//!
//! A truncated or corrupt file is refused by all three with the reason.

use std::path::{Path, PathBuf};

use anyhow::Context;
use corral_apiserver::snapshot::{Endpoint, download};
use corral_store::{SnapshotInfo, StoreError};
use corral_store_redb::{RedbError, snapshot};

/// Arguments of `corral snapshot`.
#[derive(Debug, clap::Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub command: SnapshotCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SnapshotCommand {
    /// Save a point-in-time snapshot of a running server to FILE.
    Save(SaveArgs),
    /// Rebuild a data directory from a snapshot file.
    Restore(RestoreArgs),
    /// Check a snapshot file and print its revision, object count and checksum.
    Status(StatusArgs),
}

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// Where to write the snapshot.
    pub file: PathBuf,
    /// The admin kubeconfig of the server (default: $KUBECONFIG, else the default data
    /// directory's `kubeconfig`).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The snapshot file.
    pub file: PathBuf,
    /// The data directory to create; it must not exist or be empty.
    #[arg(long)]
    pub data_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The snapshot file.
    pub file: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

pub fn run(args: SnapshotArgs) -> anyhow::Result<()> {
    match args.command {
        SnapshotCommand::Save(args) => save(args),
        SnapshotCommand::Restore(args) => restore(args),
        SnapshotCommand::Status(args) => status(args),
    }
}

fn save(args: SaveArgs) -> anyhow::Result<()> {
    let kubeconfig = args.kubeconfig.clone().unwrap_or_else(default_kubeconfig);
    let endpoint = Endpoint::from_kubeconfig(&kubeconfig)?;
    let partial = partial_path(&args.file);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(fetch(&endpoint, &partial));
    let info = result.and_then(|()| {
        snapshot::status(&partial).map_err(|e| refused(&partial, e).context("the server sent"))
    });
    let info = match info {
        Ok(info) => info,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    std::fs::rename(&partial, &args.file)
        .with_context(|| format!("cannot rename {} to its final name", partial.display()))?;
    sync_parent(&args.file);
    println!(
        "Snapshot saved to {}: revision {}, {} objects, {} bytes, checksum {:08x}",
        args.file.display(),
        info.revision,
        info.object_count,
        info.size_bytes,
        info.checksum
    );
    Ok(())
}

/// Downloads into `partial` and fsyncs it.
async fn fetch(endpoint: &Endpoint, partial: &Path) -> anyhow::Result<()> {
    let mut file = tokio::fs::File::create(partial)
        .await
        .with_context(|| format!("cannot create {}", partial.display()))?;
    download(endpoint, &mut file).await?;
    file.sync_all()
        .await
        .with_context(|| format!("cannot sync {}", partial.display()))?;
    Ok(())
}

fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let info = snapshot::restore(&args.file, &args.data_dir).map_err(|e| match e {
        RedbError::Store(_) => refused(&args.file, e),
        other => anyhow::Error::new(other)
            .context(format!("cannot restore into {}", args.data_dir.display())),
    })?;
    println!(
        "Restored {} objects at revision {} into {}; start it with: corral up --data-dir {}",
        info.object_count,
        info.revision,
        args.data_dir.display(),
        args.data_dir.display()
    );
    Ok(())
}

fn status(args: StatusArgs) -> anyhow::Result<()> {
    let info = snapshot::status(&args.file).map_err(|e| refused(&args.file, e))?;
    println!("{}", render_status(&info, args.output));
    Ok(())
}

fn render_status(info: &SnapshotInfo, output: OutputFormat) -> String {
    match output {
        OutputFormat::Json => serde_json::json!({
            "revision": info.revision.0,
            "objectCount": info.object_count,
            "checksum": format!("{:08x}", info.checksum),
            "sizeBytes": info.size_bytes,
        })
        .to_string(),
        OutputFormat::Text => format!(
            "revision:  {}\nobjects:   {}\nchecksum:  {:08x} (CRC-32)\nsize:      {} bytes",
            info.revision, info.object_count, info.checksum, info.size_bytes
        ),
    }
}

/// A file that is not a usable snapshot, with the reason (not "storage is corrupt").
fn refused(file: &Path, error: RedbError) -> anyhow::Error {
    let reason = match error {
        RedbError::Store(StoreError::Corrupt(reason)) => reason,
        other => other.to_string(),
    };
    anyhow::anyhow!("{} is not a usable snapshot: {reason}", file.display())
}

/// The first entry of `$KUBECONFIG`, else the default data directory's kubeconfig.
fn default_kubeconfig() -> PathBuf {
    std::env::var_os("KUBECONFIG")
        .and_then(|list| std::env::split_paths(&list).find(|p| !p.as_os_str().is_empty()))
        .unwrap_or_else(|| super::up::default_data_dir().join("kubeconfig"))
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".part");
    path.with_file_name(name)
}

/// Makes the rename durable; best effort.
fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(directory) = std::fs::File::open(parent)
    {
        let _ = directory.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::Revision;

    #[test]
    fn status_renders_as_text_and_json() {
        let info = SnapshotInfo {
            revision: Revision(42),
            object_count: 7,
            checksum: 0xdead_beef,
            size_bytes: 1234,
        };
        let text = render_status(&info, OutputFormat::Text);
        assert!(text.contains("revision:  42"), "{text}");
        assert!(text.contains("deadbeef"), "{text}");
        let json: serde_json::Value =
            serde_json::from_str(&render_status(&info, OutputFormat::Json)).unwrap();
        assert_eq!(json["revision"], 42);
        assert_eq!(json["objectCount"], 7);
        assert_eq!(json["checksum"], "deadbeef");
        assert_eq!(json["sizeBytes"], 1234);
    }

    #[test]
    fn partial_downloads_sit_next_to_the_target() {
        assert_eq!(
            partial_path(Path::new("/tmp/a.snap")),
            PathBuf::from("/tmp/a.snap.part")
        );
    }
}
