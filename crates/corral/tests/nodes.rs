//! Goal (issue 5): `corral node --server URL --token …` joins a running `corral up` as a
//! second node, in a separate process with its own name, capacity and data directory; its
//! pods run and their logs reach kubectl through the API server; when it stops
//! heart-beating it goes NotReady, gets the unreachable taint, and its pods are evicted
//! after their toleration so the Job replaces them.
//!
//! Method: `corral up --in-memory` plus `corral node` (the join token and CA from the data
//! directory, as `corral up` prints), a Job pinned to the second node with a 2 s
//! unreachable toleration, then SIGKILL of the node process. Bounded waits throughout
//! (upstream's 40 s node-monitor grace period makes this test take about a minute).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Corral, have_kubectl};

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server_url(corral: &Corral) -> String {
    let lines = corral.stdout.lock().unwrap();
    lines
        .iter()
        .find_map(|l| {
            l.strip_prefix("corral: API server listening on ")
                .map(|rest| rest.split_whitespace().next().unwrap_or("").to_string())
        })
        .expect("corral up prints its address")
}

#[test]
fn a_second_node_joins_runs_pods_and_is_fenced_when_it_dies() {
    if !have_kubectl() {
        return;
    }
    let corral = Corral::start(&["--in-memory", "--job-backoff-scale", "0.01"]);
    let token = std::fs::read_to_string(corral.data_dir().join("node-token")).unwrap();
    let node_dir = corral.data_dir().join("node2");
    let log = std::fs::File::create(corral.data_dir().join("node2.log")).unwrap();
    let node = Node(
        Command::new(env!("CARGO_BIN_EXE_corral"))
            .args([
                "node",
                "--server",
                &server_url(&corral),
                "--token",
                token.trim(),
            ])
            .arg("--ca-file")
            .arg(corral.data_dir().join("pki").join("ca.crt"))
            .args([
                "--name",
                "node2",
                "--log-port",
                "0",
                "--cpu",
                "2",
                "--memory",
                "2Gi",
            ])
            .arg("--data-dir")
            .arg(&node_dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("corral node starts"),
    );
    let ready = corral.eventually(Duration::from_secs(60), &["get", "node", "node2"], |out| {
        out.contains(" Ready")
    });
    assert!(ready.contains("node2"), "{ready}");
    let capacity = corral.ok(&[
        "get",
        "node",
        "node2",
        "-o",
        "jsonpath={.status.capacity.cpu}",
    ]);
    assert_eq!(capacity.trim(), "2");

    corral.apply(
        r#"
apiVersion: batch/v1
kind: Job
metadata: {name: pinned, namespace: default}
spec:
  template:
    spec:
      restartPolicy: Never
      nodeSelector: {kubernetes.io/hostname: node2}
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      containers:
      - {name: c, image: busybox, command: ["sh", "-c", "echo from-node2; sleep 3600"]}
"#,
    );
    let first = corral
        .eventually(
            Duration::from_secs(60),
            &[
                "get",
                "pods",
                "-l",
                "job-name=pinned",
                "-o",
                "jsonpath={range .items[?(@.status.phase==\"Running\")]}{.metadata.name}{end}",
            ],
            |out| !out.trim().is_empty(),
        )
        .trim()
        .to_string();
    // Logs of a pod on another node come through that node's log endpoint.
    let logs = corral.eventually(Duration::from_secs(30), &["logs", &first], |out| {
        out.contains("from-node2")
    });
    assert_eq!(logs.trim(), "from-node2");

    // The node dies without a word: NotReady (Unknown), unreachable taint, eviction, and
    // the Job makes a replacement.
    drop(node);
    corral.eventually(Duration::from_secs(120), &["get", "node", "node2"], |out| {
        out.contains("NotReady")
    });
    let taints = corral.eventually(
        Duration::from_secs(30),
        &[
            "get",
            "node",
            "node2",
            "-o",
            "jsonpath={.spec.taints[*].key}",
        ],
        |out| out.contains("node.kubernetes.io/unreachable"),
    );
    assert!(taints.contains("unreachable"), "{taints}");
    corral.eventually(
        Duration::from_secs(60),
        &[
            "get",
            "pods",
            "-l",
            "job-name=pinned",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
        |out| out.split_whitespace().any(|name| name != first),
    );
}
