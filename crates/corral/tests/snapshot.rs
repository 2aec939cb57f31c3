//! Goal: `corral snapshot save` takes a consistent snapshot of a running `corral up`
//! (redb store) through the API server, `corral snapshot restore` rebuilds a data
//! directory from it that `corral up` serves with the same objects at the same revisions,
//! `corral snapshot status` reports the file, and truncated or corrupt files are refused.
//!
//! Method: start the real binary (`corral up --port 0 --data-dir <tmp>`), create objects
//! with kubectl when it is installed (the round trip of the system namespaces is checked
//! either way), save, stop, restore into a new directory, start on it, save again and
//! compare both files object by object; then damage copies of the file. Every wait is
//! bounded.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use corral_store::{SnapshotInfo, StoredObject, read_snapshot};

/// A running `corral up` on a redb data directory.
struct Corral {
    child: Child,
    kubeconfig: PathBuf,
}

impl Corral {
    fn start(data_dir: &Path) -> Corral {
        let mut child = Command::new(env!("CARGO_BIN_EXE_corral"))
            .args(["up", "--port", "0", "--data-dir"])
            .arg(data_dir)
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
        Corral { child, kubeconfig }
    }

    /// Stops the server with SIGTERM (a clean shutdown releases the store's lock).
    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("corral did not stop within 30 s of SIGTERM");
    }

    fn kubectl(&self, args: &[&str]) -> Option<String> {
        kubectl_installed().then_some(())?;
        let out = Command::new("timeout")
            .arg("60")
            .arg("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.kubeconfig.with_file_name("kube-cache"))
            .output()
            .expect("kubectl runs");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Corral {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kubectl_installed() -> bool {
    Command::new("sh")
        .args(["-c", "command -v kubectl"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn corral(args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("120")
        .arg(env!("CARGO_BIN_EXE_corral"))
        .args(args)
        .output()
        .expect("corral runs")
}

fn corral_ok(args: &[&str]) -> String {
    let out = corral(args);
    assert!(
        out.status.success(),
        "corral {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `corral snapshot save`, retried while the server is still starting (bounded).
fn save(server: &Corral, file: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = corral(&[
            "snapshot",
            "save",
            file.to_str().unwrap(),
            "--kubeconfig",
            server.kubeconfig.to_str().unwrap(),
        ]);
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
        let error = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(Instant::now() < deadline, "snapshot save failed: {error}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn read(file: &Path) -> (SnapshotInfo, Vec<StoredObject>) {
    let mut objects = Vec::new();
    let mut input = std::fs::File::open(file).expect("snapshot opens");
    let info = read_snapshot(&mut input, &mut |object| {
        objects.push(object);
        Ok(())
    })
    .expect("snapshot is valid");
    (info, objects)
}

fn names(objects: &[StoredObject]) -> Vec<String> {
    objects.iter().map(|o| o.key.to_string()).collect()
}

#[test]
fn a_snapshot_of_a_running_server_restores_the_same_objects_at_the_same_revision() {
    let root = tempfile::tempdir().expect("temporary directory");
    let source = root.path().join("source");
    let file = root.path().join("backup.snap");

    let server = Corral::start(&source);
    // With kubectl: objects of several kinds (without it: the system namespaces only).
    let created = server
        .kubectl(&["create", "namespace", "team-a"])
        .and_then(|_| {
            server.kubectl(&[
                "create",
                "configmap",
                "settings",
                "-n",
                "team-a",
                "--from-literal=mode=fast",
            ])
        })
        .and_then(|_| {
            server.kubectl(&[
                "create",
                "job",
                "hello",
                "-n",
                "team-a",
                "--image=busybox",
                "--",
                "true",
            ])
        })
        .is_some();
    let saved = save(&server, &file);
    assert!(saved.contains("Snapshot saved to"), "{saved}");
    assert!(
        !root.path().join("backup.snap.part").exists(),
        "the partial download is renamed"
    );
    server.stop();

    let (info, objects) = read(&file);
    assert!(info.revision.0 > 0);
    assert_eq!(info.object_count as usize, objects.len());
    assert!(
        names(&objects).contains(&"namespaces/default".to_string()),
        "{:?}",
        names(&objects)
    );
    if created {
        for name in [
            "namespaces/team-a",
            "configmaps/team-a/settings",
            "jobs/team-a/hello",
        ] {
            // (Jobs: present; their status is the Job controller's to change.)
            assert!(names(&objects).contains(&name.to_string()), "{name}");
        }
    }

    // status: text and JSON.
    let status = corral_ok(&["snapshot", "status", file.to_str().unwrap()]);
    assert!(
        status.contains(&format!("revision:  {}", info.revision)),
        "{status}"
    );
    let json: serde_json::Value = serde_json::from_str(&corral_ok(&[
        "snapshot",
        "status",
        file.to_str().unwrap(),
        "-o",
        "json",
    ]))
    .expect("status -o json is JSON");
    assert_eq!(json["revision"], info.revision.0);
    assert_eq!(json["objectCount"], info.object_count);
    assert_eq!(json["checksum"], format!("{:08x}", info.checksum));

    // restore: refused into a non-empty directory, then into a new one.
    let refused = corral(&[
        "snapshot",
        "restore",
        file.to_str().unwrap(),
        "--data-dir",
        source.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let target = root.path().join("restored");
    let restored = corral_ok(&[
        "snapshot",
        "restore",
        file.to_str().unwrap(),
        "--data-dir",
        target.to_str().unwrap(),
    ]);
    assert!(
        restored.contains(&format!("at revision {}", info.revision)),
        "{restored}"
    );

    // The restored directory serves the same objects at the same revisions.
    let server = Corral::start(&target);
    if created {
        let out = server
            .kubectl(&["get", "configmap", "settings", "-n", "team-a", "-o", "json"])
            .expect("kubectl");
        let configmap: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(configmap["data"]["mode"], "fast");
    }
    let again = root.path().join("again.snap");
    save(&server, &again);
    server.stop();
    let (info_again, objects_again) = read(&again);
    assert!(
        info_again.revision >= info.revision,
        "the revision continues: {} then {}",
        info.revision,
        info_again.revision
    );
    // Objects nothing writes after start-up come back byte for byte, at their revisions;
    // objects the control plane keeps writing (nodes, leases, pods, Jobs' status) may have
    // moved on, but only forward: every write after the restore got a revision above the
    // snapshot's, so the revision counter continued instead of restarting.
    const STABLE: [&str; 4] = ["configmaps", "namespaces", "secrets", "serviceaccounts"];
    for object in &objects {
        let twin = objects_again
            .iter()
            .find(|o| o.key == object.key)
            .unwrap_or_else(|| panic!("{} survives the restore", object.key));
        assert_eq!(
            twin.create_revision, object.create_revision,
            "{}",
            object.key
        );
        if STABLE.contains(&object.key.kind.plural()) {
            assert_eq!(twin.mod_revision, object.mod_revision, "{}", object.key);
            assert_eq!(twin.bytes, object.bytes, "{}", object.key);
        } else if twin.mod_revision != object.mod_revision {
            assert!(twin.mod_revision > info.revision, "{}", object.key);
        }
    }
    for object in &objects_again {
        if !objects.iter().any(|o| o.key == object.key) {
            assert!(object.mod_revision > info.revision, "{}", object.key);
        }
    }
}

#[test]
fn truncated_or_corrupt_snapshots_are_refused_with_the_reason() {
    let root = tempfile::tempdir().expect("temporary directory");
    let file = root.path().join("good.snap");
    let server = Corral::start(&root.path().join("source"));
    save(&server, &file);
    server.stop();
    let bytes = std::fs::read(&file).expect("snapshot readable");

    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("truncated", bytes[..bytes.len() - 10].to_vec(), "truncated"),
        (
            "no checksum",
            bytes[..bytes.len() - 4].to_vec(),
            "truncated",
        ),
        ("flipped", flipped, "snapshot"),
        (
            "not a snapshot",
            b"hello world, not a snapshot".to_vec(),
            "magic",
        ),
    ];
    for (label, content, reason) in cases {
        let broken = root
            .path()
            .join(format!("{}.snap", label.replace(' ', "-")));
        std::fs::write(&broken, content).expect("written");
        for args in [
            vec!["snapshot", "status", broken.to_str().unwrap()],
            vec![
                "snapshot",
                "restore",
                broken.to_str().unwrap(),
                "--data-dir",
                root.path()
                    .join(format!("restore-{label}"))
                    .to_str()
                    .unwrap(),
            ],
        ] {
            let out = corral(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{label}: {args:?} succeeded");
            assert!(
                stderr.contains("is not a usable snapshot") && stderr.contains(reason),
                "{label}: {stderr}"
            );
        }
        assert!(
            !root.path().join(format!("restore-{label}")).exists(),
            "{label}: a refused restore leaves nothing behind"
        );
    }
}
