//! `corral version`.

pub fn run() -> anyhow::Result<()> {
    println!("corral {}", env!("CARGO_PKG_VERSION"));
    println!("Kubernetes API {}", corral_apiserver::git_version());
    Ok(())
}
