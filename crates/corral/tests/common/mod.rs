//! A running `corral up` for end-to-end tests: started on a temporary data directory with
//! `--port 0`, ready when `/readyz` says `ok` (bounded polling), driven with the real
//! kubectl, and stopped with SIGTERM (so the local node stops its containers) when dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `corral up`.
pub struct Corral {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    /// Lines `corral up` printed on stdout.
    pub stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Corral {
    /// Starts `corral up --port 0 --data-dir <tmp> EXTRA…`.
    pub fn start(extra: &[&str]) -> Corral {
        let dir = tempfile::tempdir().expect("temporary directory");
        Corral::start_in(dir, extra)
    }

    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Corral {
        let log = std::fs::File::create(dir.path().join("corral.log")).expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_corral"))
            .args(["up", "--port", "0", "--data-dir"])
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("corral starts");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(path) = line.strip_prefix("export KUBECONFIG=") {
                    let _ = sender.send(PathBuf::from(path));
                }
                kept.lock().unwrap().push(line);
            }
        });
        let kubeconfig = match receiver.recv_timeout(Duration::from_secs(90)) {
            Ok(path) => path,
            Err(_) => {
                let _ = child.kill();
                let log =
                    std::fs::read_to_string(dir.path().join("corral.log")).unwrap_or_default();
                panic!("corral did not print the kubeconfig path; its log:\n{log}");
            }
        };
        let corral = Corral {
            child,
            dir,
            kubeconfig,
            stdout: lines,
        };
        corral.wait_ready();
        corral
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// What `corral up` logged so far (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("corral.log")).unwrap_or_default()
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(out) = self.kubectl_opt(&["get", "--raw", "/readyz"])
                && out.status.success()
                && String::from_utf8_lossy(&out.stdout).trim() == "ok"
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("corral did not become ready; its log:\n{}", self.log());
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("kube-cache")
    }

    pub fn command(&self, kubectl: &Path, args: &[&str]) -> Command {
        let mut command = Command::new("timeout");
        command.arg("90").arg(kubectl).args(args);
        command
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.cache_dir());
        command
    }

    pub fn kubectl_opt(&self, args: &[&str]) -> Option<Output> {
        self.command(&kubectl()?, args).output().ok()
    }

    /// Runs kubectl; returns (exit success, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        self.run_with(&kubectl().expect("kubectl"), args)
    }

    pub fn run_with(&self, kubectl: &Path, args: &[&str]) -> (bool, String, String) {
        let out = self.command(kubectl, args).output().expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs kubectl and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "kubectl {args:?} failed: {err}\n{out}");
        out
    }

    pub fn apply(&self, manifest: &str) -> String {
        let path = self.dir.path().join(format!(
            "manifest-{}.yaml",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::write(&path, manifest).expect("manifest written");
        self.ok(&["apply", "-f", path.to_str().unwrap()])
    }

    /// Polls `kubectl ARGS` every 250 ms until `check(stdout)` holds; panics with the last
    /// output after `timeout`.
    pub fn eventually(
        &self,
        timeout: Duration,
        args: &[&str],
        check: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            let (ok, out, err) = self.run(args);
            if ok && check(&out) {
                return out;
            }
            last = format!("{out}{err}");
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("kubectl {args:?} never satisfied the check; last output:\n{last}");
    }

    /// SIGTERM, then waits for a clean exit (SIGKILL after `grace`); returns whether it
    /// exited by itself with status 0.
    pub fn stop(&mut self, grace: Duration) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Corral {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop(Duration::from_secs(20));
        }
    }
}

/// The kubectl on PATH (or `$KUBECTL`).
pub fn kubectl() -> Option<PathBuf> {
    let name = std::env::var_os("KUBECTL").unwrap_or_else(|| "kubectl".into());
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {}", name.to_string_lossy()))
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// The bundled kubectl of one minor version next to the dispatcher, if present.
pub fn bundled(minor: &str) -> Option<PathBuf> {
    let dispatcher = std::fs::canonicalize(kubectl()?).ok()?;
    let path = dispatcher.parent()?.join(format!("kubectl.1.{minor}"));
    path.exists().then_some(path)
}

/// Whether end-to-end tests can run here (kubectl present); prints why not.
pub fn have_kubectl() -> bool {
    if kubectl().is_some() {
        return true;
    }
    assert!(
        std::env::var_os("CORRAL_REQUIRE_KUBECTL").is_none(),
        "kubectl is required (CORRAL_REQUIRE_KUBECTL is set) but not found"
    );
    eprintln!("skipped: kubectl is not installed");
    false
}

/// Processes whose command line contains `marker` (from /proc).
pub fn processes_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(marker) {
            found.push(pid);
        }
    }
    found
}
