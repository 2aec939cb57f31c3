//! Goal: the official Python `kubernetes` client interoperates with `corral up`: it lists
//! (with selectors and pagination), watches (list-then-watch and initial events), creates,
//! patches (strategic, merge, JSON), replaces with conflicts, deletes, reads errors with
//! upstream's codes, and runs discovery through its dynamic client.
//!
//! Method: start `corral up --port 0 --data-dir <tmp>` and run
//! `tests/interop/python_client.py` (repository root) with its kubeconfig, under a time
//! limit; the script prints PASS/FAIL per check and exits non-zero on any failure.
//!
//! The interpreter is `$CORRAL_PYTHON` (CI points it at a venv with the package), else
//! `python3`. Without python3 or the `kubernetes` package the test is skipped with a
//! message, unless `CORRAL_REQUIRE_PYTHON_CLIENT=1` (as in CI), which makes it a failure.

mod common;
mod e2e;

use std::process::Command;
use std::time::Instant;

use common::Corral;
use e2e::{log_tail, repo_root};

fn python() -> String {
    std::env::var("CORRAL_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

fn client_available(python: &str) -> Result<(), String> {
    match Command::new(python)
        .args(["-c", "import kubernetes"])
        .output()
    {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "`{python} -c 'import kubernetes'` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run {python}: {e}")),
    }
}

#[test]
fn python_kubernetes_client_lists_watches_creates_and_patches() {
    let python = python();
    if let Err(why) = client_available(&python) {
        let required = std::env::var("CORRAL_REQUIRE_PYTHON_CLIENT").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "CORRAL_REQUIRE_PYTHON_CLIENT=1 but the Python client is unavailable: {why}"
        );
        eprintln!(
            "skipping: the Python kubernetes client is unavailable ({why}); pip install kubernetes to run it"
        );
        return;
    }
    let started = Instant::now();
    let corral = Corral::start(&[]);
    let script = repo_root().join("tests/interop/python_client.py");
    let out = Command::new("timeout")
        .arg("300")
        .arg(&python)
        .arg(&script)
        .env("KUBECONFIG", &corral.kubeconfig)
        .env("INTEROP_VERBOSE", "1")
        .output()
        .expect("python runs the interop script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "python client interop: {} in {:.0?}",
        stdout
            .lines()
            .rev()
            .find(|l| l.contains(" passed, "))
            .unwrap_or("<no summary>"),
        started.elapsed()
    );
    assert!(
        out.status.success(),
        "python_client.py failed ({}):\n{stdout}\n--- stderr:\n{stderr}\n--- server log tail:\n{}",
        out.status,
        log_tail(&corral, 40)
    );
}
