//! Pod lifecycles with real processes.
//!
//! Goal: what users see (phases, container states, restarts, backoffs, logs) matches
//! upstream for the basic cases. Method: a real `ApiService` and a node agent in process;
//! pods are created bound to the node; the tests wait (bounded) on pod conditions and
//! read logs through the API's `pods/log`.

mod common;

use std::time::Duration;

use common::*;
use corral_apiserver::service::LogOptions;
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_hello_runs_to_completion_with_logs() {
    let mut cluster = Cluster::start().await;
    cluster
        .create(cluster.pod(
            "hello",
            "Never",
            json!([{"name": "main", "command": ["echo", "hello"]}]),
        ))
        .await;
    let pod = cluster
        .wait_pod("hello", LIMIT, |p| phase(p) == "Succeeded")
        .await;
    let t = terminated(&pod).expect("terminated");
    assert_eq!(t.exit_code, 0);
    assert_eq!(t.reason.as_deref(), Some("Completed"));
    assert!(
        t.container_id
            .as_deref()
            .unwrap()
            .starts_with("corral-process://")
    );
    let status = main_status(&pod).unwrap();
    assert!(
        status
            .image_id
            .starts_with("docker.io/library/busybox@sha256:")
    );
    assert_eq!(
        cluster.logs("hello", LogOptions::default()).await.unwrap(),
        "hello\n"
    );
    let stamped = cluster
        .logs(
            "hello",
            LogOptions {
                timestamps: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (stamp, rest) = stamped.split_once(' ').expect("timestamp prefix");
    assert_eq!(rest, "hello\n");
    assert_eq!(
        stamp.len(),
        "2026-01-01T00:00:00.000000000Z".len(),
        "{stamp}"
    );
    assert!(stamp.parse::<jiff::Timestamp>().is_ok(), "{stamp}");
    cluster
        .wait_event(LIMIT, |e| e.reason.as_deref() == Some("Started"))
        .await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phases_go_pending_running_succeeded() {
    let mut cluster = Cluster::start().await;
    let created = cluster
        .create(cluster.pod(
            "phases",
            "Never",
            json!([{"name": "main", "command": ["sh", "-c", "sleep 0.5; echo done"]}]),
        ))
        .await;
    assert!(phase(&created).is_empty() || phase(&created) == "Pending");
    let mut seen: Vec<String> = Vec::new();
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let pod = cluster.get("phases").await.unwrap();
        let p = phase(&pod).to_string();
        if !p.is_empty() && seen.last() != Some(&p) {
            seen.push(p.clone());
        }
        if p == "Succeeded" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "phases seen: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen.contains(&"Running".to_string()), "{seen:?}");
    let order = ["Pending", "Running", "Succeeded"];
    let positions: Vec<usize> = seen
        .iter()
        .map(|p| order.iter().position(|o| o == p).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_lines_limit_bytes_and_follow() {
    let mut cluster = Cluster::start().await;
    cluster
        .create(cluster.pod(
            "lines",
            "Never",
            json!([{"name": "main", "command": ["sh", "-c", "echo one; sleep 0.05; echo two >&2; sleep 0.05; echo three; sleep 0.5; echo four"]}]),
        ))
        .await;
    cluster
        .wait_pod("lines", LIMIT, |p| phase(p) == "Running")
        .await;
    // Follow streams until the container exits.
    let followed = cluster
        .logs(
            "lines",
            LogOptions {
                follow: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(followed, "one\ntwo\nthree\nfour\n");
    cluster
        .wait_pod("lines", LIMIT, |p| phase(p) == "Succeeded")
        .await;
    let tail = cluster
        .logs(
            "lines",
            LogOptions {
                tail_lines: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tail, "three\nfour\n");
    let limited = cluster
        .logs(
            "lines",
            LogOptions {
                limit_bytes: Some(6),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(limited, "one\ntw");
    let since = cluster
        .logs(
            "lines",
            LogOptions {
                since_time: Some("2099-01-01T00:00:00Z".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(since, "");
    let recent = cluster
        .logs(
            "lines",
            LogOptions {
                since_seconds: Some(600),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(recent, "one\ntwo\nthree\nfour\n");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_1_under_never_fails_with_error() {
    let mut cluster = Cluster::start().await;
    cluster
        .create(cluster.pod(
            "fail",
            "Never",
            json!([{"name": "main", "command": ["sh", "-c", "exit 1"]}]),
        ))
        .await;
    let pod = cluster
        .wait_pod("fail", LIMIT, |p| phase(p) == "Failed")
        .await;
    let t = terminated(&pod).unwrap();
    assert_eq!(t.exit_code, 1);
    assert_eq!(t.reason.as_deref(), Some("Error"));
    assert_eq!(main_status(&pod).unwrap().restart_count, 0);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_restarts_at_once_then_crash_loops_and_previous_logs_work() {
    let mut cluster = Cluster::start().await;
    cluster
        .create(cluster.pod(
            "crash",
            "OnFailure",
            json!([{"name": "main", "command": ["sh", "-c", "echo run-$(date +%s%N); exit 1"]}]),
        ))
        .await;
    let pod = cluster
        .wait_pod("crash", LIMIT, |p| {
            let s = main_status(p);
            s.as_ref().is_some_and(|s| s.restart_count >= 1)
                && waiting_reason(p).as_deref() == Some("CrashLoopBackOff")
        })
        .await;
    assert_eq!(phase(&pod), "Running");
    let status = main_status(&pod).unwrap();
    let last = status.last_state.unwrap().terminated.unwrap();
    assert_eq!(last.exit_code, 1);
    assert_eq!(last.reason.as_deref(), Some("Error"));
    let message = status.state.unwrap().waiting.unwrap().message.unwrap();
    assert!(
        message.starts_with("back-off 10s restarting failed container=main pod=crash_default("),
        "{message}"
    );
    // The first restart was immediate: two runs happened well inside the 10 s backoff.
    let current = cluster.logs("crash", LogOptions::default()).await.unwrap();
    let previous = cluster
        .logs(
            "crash",
            LogOptions {
                previous: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(current.starts_with("run-"), "{current}");
    assert!(previous.starts_with("run-"), "{previous}");
    cluster
        .wait_event(LIMIT, |e| {
            e.reason.as_deref() == Some("BackOff") && e.type_.as_deref() == Some("Warning")
        })
        .await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previous_logs_without_a_restart_are_a_bad_request() {
    let mut cluster = Cluster::start().await;
    cluster
        .create(cluster.pod(
            "once",
            "Never",
            json!([{"name": "main", "command": ["echo", "x"]}]),
        ))
        .await;
    cluster
        .wait_pod("once", LIMIT, |p| phase(p) == "Succeeded")
        .await;
    let err = cluster
        .logs(
            "once",
            LogOptions {
                previous: true,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, 400);
    assert_eq!(
        err.message,
        "previous terminated container \"main\" in pod \"once\" not found"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downward_api_env_and_working_dir_reach_the_process() {
    let mut cluster = Cluster::start().await;
    let workdir = cluster.dir.path().join("work");
    std::fs::create_dir_all(&workdir).unwrap();
    cluster
        .create(cluster.pod(
            "env",
            "Never",
            json!([{"name": "main", "command": ["sh", "-c", "echo $POD_NAME $POD_NAMESPACE $GREETING $(pwd) $HOSTNAME"],
                    "workingDir": workdir.display().to_string(),
                    "env": [
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                        {"name": "GREETING", "value": "hi-$(POD_NAME)"}
                    ]}]),
        ))
        .await;
    cluster
        .wait_pod("env", LIMIT, |p| phase(p) == "Succeeded")
        .await;
    let out = cluster.logs("env", LogOptions::default()).await.unwrap();
    assert_eq!(
        out,
        format!("env default hi-env {} env\n", workdir.display())
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_as_user_and_group_apply_when_root() {
    let mut cluster = Cluster::start().await;
    if !cluster.agent().capabilities().root {
        eprintln!(
            "skipped: the agent is not root, runAsUser other than its own fails with StartError"
        );
        cluster.shutdown().await;
        return;
    }
    let mut pod = cluster.pod(
        "user",
        "Never",
        json!([{"name": "main", "command": ["sh", "-c", "echo $(id -u):$(id -g)"]}]),
    );
    pod["spec"]["securityContext"] = json!({"runAsUser": 65534, "runAsGroup": 65533});
    cluster.create(pod).await;
    cluster
        .wait_pod("user", LIMIT, |p| phase(p) == "Succeeded")
        .await;
    assert_eq!(
        cluster.logs("user", LogOptions::default()).await.unwrap(),
        "65534:65533\n"
    );
    cluster.shutdown().await;
}
