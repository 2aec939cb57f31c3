//! Goal: what issue 5 (and 4) promise users, driven by the real kubectl against the real
//! `corral up` with its local node: a Job runs `echo hello` and completes (`kubectl wait`,
//! `kubectl logs job/x`); a Job exiting 1 with backoffLimit 2 fails with 3 failed pods and
//! BackoffLimitExceeded; an unknown image shows ImagePullBackOff while the node still counts
//! its requests (and `kubectl get holdings` lists it); a crashing pod shows CrashLoopBackOff
//! with restarts; a static pod shows up as a mirror pod; a taint keeps pods off the node
//! unless tolerated; nothing is left running after a pod is deleted or `corral up` stops.
//!
//! Method: one `corral up --in-memory` per test with the Job controller's backoffs scaled
//! by 0.01 (a documented `corral up` flag; the cores are tested at real values in virtual
//! time), kubectl with bounded waits. Skipped (with a message) without kubectl.

mod common;

use std::time::Duration;

use common::{Corral, have_kubectl, processes_with};

const WAIT: Duration = Duration::from_secs(120);

fn start() -> Corral {
    Corral::start(&["--in-memory", "--job-backoff-scale", "0.01"])
}

fn node_name(corral: &Corral) -> String {
    corral
        .eventually(
            WAIT,
            &["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"],
            |out| !out.trim().is_empty(),
        )
        .trim()
        .to_string()
}

#[test]
fn jobs_run_as_processes_and_fail_as_upstream() {
    if !have_kubectl() {
        return;
    }
    let corral = start();
    corral.ok(&["create", "namespace", "work"]);
    corral.apply(
        r#"
apiVersion: batch/v1
kind: Job
metadata: {name: hello, namespace: work}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: c, image: busybox, command: ["sh", "-c", "echo hello"]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: fails, namespace: work}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: c, image: busybox, command: ["sh", "-c", "exit 1"]}
"#,
    );
    let out = corral.ok(&[
        "wait",
        "--for=condition=complete",
        "job/hello",
        "-n",
        "work",
        "--timeout=120s",
    ]);
    assert!(out.contains("condition met"), "{out}");
    let pods = corral.ok(&["get", "pods,events", "-n", "work", "-o", "wide"]);
    eprintln!("{pods}");
    let logs = corral.ok(&["logs", "job/hello", "-n", "work"]);
    assert_eq!(logs.trim(), "hello");
    let jobs = corral.ok(&["get", "jobs", "-n", "work"]);
    assert!(jobs.contains("Complete") || jobs.contains("1/1"), "{jobs}");

    corral.ok(&[
        "wait",
        "--for=condition=failed",
        "job/fails",
        "-n",
        "work",
        "--timeout=120s",
    ]);
    let reason = corral.ok(&[
        "get",
        "job",
        "fails",
        "-n",
        "work",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Failed\")].reason}",
    ]);
    assert_eq!(reason.trim(), "BackoffLimitExceeded");
    let phases = corral.ok(&[
        "get",
        "pods",
        "-n",
        "work",
        "-l",
        "job-name=fails",
        "-o",
        "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}",
    ]);
    let failed = phases.lines().filter(|p| *p == "Failed").count();
    assert_eq!(failed, 3, "pods of the failing Job: {phases}");
    let described = corral.ok(&["describe", "job", "fails", "-n", "work"]);
    assert!(described.contains("BackoffLimitExceeded"), "{described}");
    assert!(described.contains("SuccessfulCreate"), "{described}");
}

#[test]
fn failing_pods_show_upstream_states_and_keep_their_requests() {
    if !have_kubectl() {
        return;
    }
    let corral = start();
    let node = node_name(&corral);
    corral.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: badimage, namespace: default}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: registry.invalid/nothing:1
    resources: {requests: {cpu: 123m, memory: 45Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: crasher, namespace: default}
spec:
  restartPolicy: Always
  containers:
  - {name: c, image: busybox, command: ["sh", "-c", "exit 3"]}
"#,
    );
    corral.eventually(WAIT, &["get", "pod", "badimage"], |out| {
        out.contains("ImagePullBackOff") || out.contains("ErrImagePull")
    });
    let described = corral.ok(&["describe", "node", &node]);
    assert!(
        described.contains("123m"),
        "node keeps the requests:\n{described}"
    );
    let holdings = corral.eventually(WAIT, &["get", "holdings", "-A"], |out| {
        out.contains("badimage")
    });
    assert!(holdings.contains("123m"), "{holdings}");
    // `kubectl get holdings -w` streams the current holdings (then changes).
    let kubectl = common::kubectl().expect("kubectl");
    let watched = std::process::Command::new("timeout")
        .arg("6")
        .arg(&kubectl)
        .args(["get", "holdings", "-A", "-w"])
        .env("KUBECONFIG", &corral.kubeconfig)
        .env("KUBECACHEDIR", corral.cache_dir())
        .output()
        .expect("kubectl runs");
    let watched = String::from_utf8_lossy(&watched.stdout);
    assert!(watched.contains("badimage"), "watch output: {watched}");

    corral.eventually(WAIT, &["get", "pod", "crasher"], |out| {
        out.contains("CrashLoopBackOff")
    });
    corral.eventually(
        WAIT,
        &[
            "get",
            "pod",
            "crasher",
            "-o",
            "jsonpath={.status.containerStatuses[0].restartCount}",
        ],
        |out| out.trim().parse::<u32>().unwrap_or(0) >= 1,
    );
    let exit = corral.ok(&[
        "get",
        "pod",
        "crasher",
        "-o",
        "jsonpath={.status.containerStatuses[0].lastState.terminated.exitCode}",
    ]);
    assert_eq!(exit.trim(), "3");

    // A container beyond its memory limit is OOMKilled where the node has a memory cgroup
    // (the node agent logs its capabilities at start).
    if !corral.log().contains("memory: true") {
        eprintln!("skipped the OOM check: no memory cgroup on this host");
        return;
    }
    corral.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: hog, namespace: default}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=300M", "count=1"]
    resources: {limits: {memory: 20Mi}}
"#,
    );
    let reason = corral.eventually(
        WAIT,
        &[
            "get",
            "pod",
            "hog",
            "-o",
            "jsonpath={.status.containerStatuses[0].state.terminated.reason}",
        ],
        |out| !out.trim().is_empty(),
    );
    assert_eq!(reason.trim(), "OOMKilled");
    let listed = corral.ok(&["get", "pod", "hog"]);
    assert!(listed.contains("OOMKilled"), "{listed}");
}

#[test]
fn taints_static_pods_and_no_orphans() {
    if !have_kubectl() {
        return;
    }
    let mut corral = start();
    let node = node_name(&corral);

    // A static pod: a manifest in the node's static pod directory runs without the API
    // and shows up as a mirror pod named <pod>-<node>.
    let manifests = corral.data_dir().join("node").join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(
        manifests.join("static.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: static-web, namespace: default}\nspec:\n  containers:\n  - {name: c, image: busybox, command: [\"sleep\", \"3600\"]}\n",
    )
    .unwrap();
    let mirror = format!("static-web-{node}");
    corral.eventually(WAIT, &["get", "pod", &mirror], |out| {
        out.contains("Running")
    });
    let annotations = corral.ok(&[
        "get",
        "pod",
        &mirror,
        "-o",
        "jsonpath={.metadata.annotations}",
    ]);
    assert!(
        annotations.contains("kubernetes.io/config.mirror"),
        "{annotations}"
    );

    // Taints keep pods off the node unless tolerated.
    corral.ok(&["taint", "nodes", &node, "dedicated=batch:NoSchedule"]);
    corral.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: untolerated, namespace: default}
spec:
  containers:
  - {name: c, image: busybox, command: ["sleep", "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: tolerated, namespace: default}
spec:
  tolerations:
  - {key: dedicated, operator: Equal, value: batch, effect: NoSchedule}
  containers:
  - {name: c, image: busybox, command: ["sleep", "3600"]}
"#,
    );
    corral.eventually(WAIT, &["get", "pod", "tolerated"], |out| {
        out.contains("Running")
    });
    let events = corral.eventually(
        WAIT,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=untolerated",
        ],
        |out| out.contains("FailedScheduling"),
    );
    assert!(events.contains("untolerated taint"), "{events}");
    let phase = corral.ok(&[
        "get",
        "pod",
        "untolerated",
        "-o",
        "jsonpath={.status.phase}",
    ]);
    assert_eq!(phase.trim(), "Pending");
    corral.ok(&["taint", "nodes", &node, "dedicated:NoSchedule-"]);

    // Deleting a pod stops its processes.
    let marker = format!("{}.{}", 3000, std::process::id());
    corral.apply(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: sleeper, namespace: default}}\nspec:\n  terminationGracePeriodSeconds: 2\n  containers:\n  - {{name: c, image: busybox, command: [\"sleep\", \"{marker}\"]}}\n"
    ));
    corral.eventually(WAIT, &["get", "pod", "sleeper"], |out| {
        out.contains("Running")
    });
    assert!(!processes_with(&marker).is_empty(), "the container runs");
    corral.ok(&["delete", "pod", "sleeper", "--wait=true", "--timeout=60s"]);
    wait_until_gone(&marker);

    // Stopping corral stops every container.
    let marker = format!("{}.{}", 3001, std::process::id());
    corral.apply(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: sleeper2, namespace: default}}\nspec:\n  containers:\n  - {{name: c, image: busybox, command: [\"sleep\", \"{marker}\"]}}\n"
    ));
    corral.eventually(WAIT, &["get", "pod", "sleeper2"], |out| {
        out.contains("Running")
    });
    assert!(!processes_with(&marker).is_empty(), "the container runs");
    assert!(
        corral.stop(Duration::from_secs(60)),
        "corral up exits cleanly on SIGTERM"
    );
    assert!(
        processes_with(&marker).is_empty(),
        "no container process is left after corral up stops"
    );
}

/// Waits (bounded) until no process carries `marker`.
fn wait_until_gone(marker: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if processes_with(marker).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("processes with {marker} are still running");
}
