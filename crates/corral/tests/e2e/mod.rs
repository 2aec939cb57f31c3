//! Helpers of the kubectl/interop end-to-end tests (smoke, kubectl_surface, python_client)
//! on top of `common`'s `Corral`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::Corral;

/// Runs kubectl and asserts failure; returns stderr.
pub fn fails(corral: &Corral, args: &[&str]) -> String {
    let (ok, out, err) = corral.run(args);
    assert!(!ok, "kubectl {args:?} succeeded unexpectedly: {out}");
    err
}

/// Writes `text` to `name` in the test's directory; returns the path.
pub fn write(corral: &Corral, name: &str, text: &str) -> String {
    let path = corral.data_dir().join(name);
    std::fs::write(&path, text).expect("file written");
    path.to_string_lossy().into_owned()
}

/// The last `lines` lines of the server's log.
pub fn log_tail(corral: &Corral, lines: usize) -> String {
    let log = corral.log();
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Polls `check` every 200 ms until it holds; panics after `limit`.
pub fn poll(corral: &Corral, limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "timed out after {limit:?} waiting for {what}\nserver log tail:\n{}",
        log_tail(corral, 40)
    );
}

/// Whether a node with condition Ready=True appears within `limit`.
pub fn wait_ready_node(corral: &Corral, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let (ok, out, _) = corral.run(&[
            "get",
            "nodes",
            "-o",
            r#"jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#,
        ]);
        if ok && out.lines().any(|l| l.trim() == "True") {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The repository's root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `../shared/conformance/kubectl-smoke.sh` relative to the repository root.
pub fn shared_script() -> Option<PathBuf> {
    let path = repo_root().join("../shared/conformance/kubectl-smoke.sh");
    path.exists().then_some(path)
}
