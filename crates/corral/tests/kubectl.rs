//! Goal: the real kubectl (the machine's `kubectl`, a version dispatcher that runs the
//! bundled kubectl matching the server's minor, 1.32; plus the bundled 1.27 and 1.33
//! binaries directly) works against the real `corral up` binary. The shared conformance
//! script runs in full, with every kubectl version, in `smoke.rs`.
//!
//! Method: start `corral up --in-memory --port 0` with a temporary data directory, wait for
//! `/readyz` with bounded polling, run kubectl commands (each bounded by `timeout`) and
//! check their output. Tests skip (with a message) when kubectl is not installed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `corral up`.
struct Corral {
    child: Child,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Corral {
    fn start(extra: &[&str]) -> Corral {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut command = Command::new(env!("CARGO_BIN_EXE_corral"));
        command
            .args(["up", "--port", "0", "--data-dir"])
            .arg(dir.path())
            .args(extra);
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("corral starts");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(path) = line.strip_prefix("export KUBECONFIG=") {
                    let _ = sender.send(PathBuf::from(path));
                }
            }
        });
        let kubeconfig = receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("corral prints the kubeconfig path");
        let corral = Corral {
            child,
            dir,
            kubeconfig,
        };
        corral.wait_ready();
        corral
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
        panic!("corral did not become ready");
    }

    fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("kube-cache")
    }

    fn command(&self, kubectl: &Path, args: &[&str]) -> Command {
        let mut command = Command::new("timeout");
        command.arg("90").arg(kubectl).args(args);
        command
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.cache_dir());
        command
    }

    fn kubectl_opt(&self, args: &[&str]) -> Option<Output> {
        self.command(&kubectl()?, args).output().ok()
    }

    /// Runs kubectl; returns (exit success, stdout, stderr).
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        self.run_with(&kubectl().expect("kubectl"), args)
    }

    fn run_with(&self, kubectl: &Path, args: &[&str]) -> (bool, String, String) {
        let out = self.command(kubectl, args).output().expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs kubectl and asserts success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "kubectl {args:?} failed: {err}\n{out}");
        out
    }

    fn apply(&self, manifest: &str) -> String {
        let path = self
            .dir
            .path()
            .join(format!("manifest-{}.yaml", manifest.len()));
        std::fs::write(&path, manifest).expect("manifest written");
        self.ok(&["apply", "-f", path.to_str().unwrap()])
    }
}

impl Drop for Corral {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kubectl() -> Option<PathBuf> {
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
fn bundled(minor: &str) -> Option<PathBuf> {
    let dispatcher = std::fs::canonicalize(kubectl()?).ok()?;
    let path = dispatcher.parent()?.join(format!("kubectl.1.{minor}"));
    path.exists().then_some(path)
}

macro_rules! require_kubectl {
    () => {
        if kubectl().is_none() {
            eprintln!("skipping: kubectl is not installed");
            return;
        }
    };
}

const JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: demo
  namespace: e2e
  labels: {app: demo}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox:1.36
        command: [\"sh\", \"-c\", \"echo hi\"]
";

#[test]
fn kubectl_reads_and_writes_objects() {
    require_kubectl!();
    let corral = Corral::start(&["--in-memory"]);
    assert!(
        corral
            .ok(&["version"])
            .contains("Server Version: v1.32.0-corral.")
    );
    assert!(
        corral.ok(&["api-resources"]).lines().any(
            |l| l.split_whitespace().collect::<Vec<_>>() == ["jobs", "batch/v1", "true", "Job"]
        )
    );
    assert!(
        corral
            .ok(&[
                "create",
                "namespace",
                "e2e",
                "--dry-run=client",
                "-o",
                "name"
            ])
            .contains("namespace/e2e")
    );
    corral.apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: e2e\n");
    assert!(corral.apply(JOB).contains("job.batch/demo created"));
    assert!(corral.apply(JOB).contains("job.batch/demo unchanged"));
    let wide = corral.ok(&["get", "jobs", "-n", "e2e", "-o", "wide"]);
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "STATUS",
            "COMPLETIONS",
            "DURATION",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    assert!(
        corral
            .ok(&["get", "job", "demo", "-n", "e2e", "-o", "yaml"])
            .contains("backoffLimit: 2")
    );
    assert_eq!(
        corral.ok(&[
            "get",
            "job",
            "demo",
            "-n",
            "e2e",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].name}"
        ]),
        "main"
    );
    assert!(
        corral
            .ok(&["get", "jobs", "-n", "e2e", "--show-labels"])
            .contains("app=demo")
    );
    assert!(
        corral
            .ok(&["get", "jobs", "-A"])
            .lines()
            .next()
            .unwrap()
            .starts_with("NAMESPACE")
    );
    assert!(
        corral
            .ok(&["get", "ns", "--chunk-size=1", "-o", "name"])
            .contains("namespace/kube-system")
    );
    assert!(
        corral
            .ok(&["describe", "job", "demo", "-n", "e2e"])
            .contains("Backoff Limit:    2")
    );
}

/// A running server with the namespace `e2e` and the Job `demo` applied.
fn with_demo_job() -> Corral {
    let corral = Corral::start(&["--in-memory"]);
    corral.apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: e2e\n");
    corral.apply(JOB);
    corral
}

#[test]
fn kubectl_patches_labels_annotates_and_deletes() {
    require_kubectl!();
    let corral = with_demo_job();
    assert!(
        corral
            .ok(&[
                "patch",
                "job",
                "demo",
                "-n",
                "e2e",
                "-p",
                r#"{"metadata":{"labels":{"p":"1"}}}"#
            ])
            .contains("patched")
    );
    assert!(
        corral
            .ok(&[
                "patch",
                "job",
                "demo",
                "-n",
                "e2e",
                "-p",
                r#"{"metadata":{"labels":{"p":"1"}}}"#
            ])
            .contains("patched (no change)")
    );
    corral.ok(&[
        "patch",
        "job",
        "demo",
        "-n",
        "e2e",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"m":"1"}}}"#,
    ]);
    corral.ok(&[
        "patch",
        "job",
        "demo",
        "-n",
        "e2e",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/metadata/labels/j","value":"1"}]"#,
    ]);
    assert!(
        corral
            .ok(&["label", "job", "demo", "-n", "e2e", "tier=gold"])
            .contains("labeled")
    );
    assert!(
        corral
            .ok(&["annotate", "job", "demo", "-n", "e2e", "note=x"])
            .contains("annotated")
    );
    let labels = corral.ok(&[
        "get",
        "job",
        "demo",
        "-n",
        "e2e",
        "-o",
        "jsonpath={.metadata.labels}",
    ]);
    assert!(
        labels.contains("\"tier\":\"gold\"")
            && labels.contains("\"j\":\"1\"")
            && labels.contains("\"m\":\"1\""),
        "{labels}"
    );
    let (ok, _, err) = corral.run(&["get", "job", "nope", "-n", "e2e"]);
    assert!(
        !ok && err.contains("Error from server (NotFound): jobs.batch \"nope\" not found"),
        "{err}"
    );
    assert!(
        corral
            .ok(&["delete", "job", "demo", "-n", "e2e"])
            .contains("job.batch \"demo\" deleted")
    );
    corral.ok(&[
        "wait",
        "--for=delete",
        "job/demo",
        "-n",
        "e2e",
        "--timeout=10s",
    ]);
}

#[test]
fn kubectl_watches_waits_and_explains() {
    require_kubectl!();
    let corral = with_demo_job();
    let mut watch = corral
        .command(
            &kubectl().unwrap(),
            &["get", "jobs", "-n", "e2e", "-w", "--request-timeout=20s"],
        )
        .stdout(Stdio::piped())
        .spawn()
        .expect("kubectl get -w");
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().starts_with("NAME"));
    assert!(lines.next().unwrap().unwrap().starts_with("demo"));
    corral.ok(&["label", "job", "demo", "-n", "e2e", "changed=yes"]);
    assert!(
        lines.next().unwrap().unwrap().starts_with("demo"),
        "the label change arrives as a watch event"
    );
    let _ = watch.kill();
    let _ = watch.wait();
    // The job succeeds on the local node: waiting for it to fail times out.
    let (ok, _, err) = corral.run(&[
        "wait",
        "--for=condition=failed",
        "job/demo",
        "-n",
        "e2e",
        "--timeout=2s",
    ]);
    assert!(
        !ok && err.contains("timed out waiting for the condition"),
        "{err}"
    );
    corral.ok(&[
        "wait",
        "--for=jsonpath={.metadata.labels.changed}=yes",
        "job/demo",
        "-n",
        "e2e",
        "--timeout=10s",
    ]);
    let explain = corral.ok(&["explain", "job.spec.backoffLimit"]);
    assert!(
        explain.contains("FIELD: backoffLimit <integer>")
            && explain.contains("Specifies the number of retries"),
        "{explain}"
    );
}

#[test]
fn kubectl_1_27_and_1_33_apply_and_get() {
    require_kubectl!();
    let corral = Corral::start(&["--in-memory"]);
    for minor in ["27", "33"] {
        let Some(binary) = bundled(minor) else {
            eprintln!("skipping kubectl 1.{minor}: not bundled");
            continue;
        };
        let name = format!("v{minor}");
        let manifest = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: \"1\"\n"
        );
        let path = corral.dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, manifest).unwrap();
        let (ok, out, err) = corral.run_with(&binary, &["apply", "-f", path.to_str().unwrap()]);
        assert!(
            ok && out.contains(&format!("configmap/{name} created")),
            "1.{minor}: {out} {err}"
        );
        let (ok, out, err) = corral.run_with(&binary, &["get", "configmaps"]);
        assert!(
            ok && out
                .lines()
                .next()
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                == ["NAME", "DATA", "AGE"],
            "1.{minor}: {out} {err}"
        );
        let (ok, out, err) = corral.run_with(
            &binary,
            &["api-resources", "--api-group=batch", "-o", "name"],
        );
        assert!(
            ok && out.contains("cronjobs.batch"),
            "1.{minor}: {out} {err}"
        );
    }
}

#[test]
fn a_second_instance_on_the_same_data_directory_is_refused_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["up", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    let ready = lines.find(|l| {
        l.as_ref()
            .is_ok_and(|l| l.starts_with("export KUBECONFIG="))
    });
    assert!(ready.is_some(), "first instance starts");
    let second = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["up", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("in use by another corral process"), "{err}");
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(first.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(first.wait());
    });
    let status = receiver
        .recv_timeout(Duration::from_secs(30))
        .expect("corral stops after SIGTERM")
        .unwrap();
    assert!(status.success(), "corral exits 0 on SIGTERM: {status}");
}
