//! `corral-openapi-gen`: writes `crates/apiserver/openapi/schemas.json` (or the path given
//! as the first argument) from k8s-openapi's schemars impls. With `--check`, exits 1 if the
//! file differs from what would be written.
//!
//! Run: `cargo run -p corral-apiserver --features openapi-gen --bin corral-openapi-gen`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut check = false;
    let mut path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("openapi")
        .join("schemas.json");
    for argument in std::env::args().skip(1) {
        match argument.as_str() {
            "--check" => check = true,
            other => path = PathBuf::from(other),
        }
    }
    let text = corral_apiserver::openapi::generate::render();
    if check {
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == text {
            println!("{} is up to date", path.display());
            return ExitCode::SUCCESS;
        }
        eprintln!("{} is stale; run corral-openapi-gen", path.display());
        return ExitCode::FAILURE;
    }
    match std::fs::write(&path, &text) {
        Ok(()) => {
            println!("wrote {} ({} bytes)", path.display(), text.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}
