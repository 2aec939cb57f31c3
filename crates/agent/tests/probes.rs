//! Probes with real processes and sockets.
//!
//! Goal: exec probes run in the container's context (its mounts and environment),
//! httpGet and tcpSocket probes reach real listeners, readiness drives `Ready`, and a
//! failing liveness probe restarts the container with upstream's events. Method: a small
//! HTTP listener in the test process on loopback; bounded waits on pod conditions and
//! events.

mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const LIMIT: Duration = Duration::from_secs(30);

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Serves `GET /ok` with 200 and anything else with 500, until the test ends.
async fn http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 4096];
                let n = socket.read(&mut buffer).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buffer[..n]);
                let status = if request.starts_with("GET /ok ") {
                    "200 OK"
                } else {
                    "500 Internal Server Error"
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_readiness_runs_in_the_containers_mounts_and_environment() {
    let mut cluster = Cluster::start().await;
    let namespaces = cluster.agent().capabilities().mount_namespaces;
    let dir = if namespaces {
        "/corral-probe-vol".to_string()
    } else {
        cluster.dir.path().join("pv").display().to_string()
    };
    let mut pod = cluster.pod(
        "exec",
        "Always",
        json!([{"name": "main",
                "command": ["sh", "-c", format!("sleep 0.5; echo yes > {dir}/ready; sleep 1000")],
                "env": [{"name": "EXPECTED", "value": "yes"}],
                "volumeMounts": [{"name": "v", "mountPath": dir}],
                "readinessProbe": {"exec": {"command": ["sh", "-c", format!("test \"$(cat {dir}/ready)\" = \"$EXPECTED\"")]},
                                   "periodSeconds": 1}}]),
    );
    pod["spec"]["volumes"] = json!([{"name": "v", "emptyDir": {}}]);
    cluster.create(pod).await;
    let pod = cluster
        .wait_pod("exec", LIMIT, |p| phase(p) == "Running")
        .await;
    assert!(!ready(&pod));
    let pod = cluster.wait_pod("exec", LIMIT, ready).await;
    assert!(main_status(&pod).unwrap().ready);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_liveness_probe_restarts_the_container() {
    let mut cluster = Cluster::start().await;
    cluster
        .create(cluster.pod(
            "live",
            "Always",
            json!([{"name": "main", "command": ["sleep", "1000"],
                    "livenessProbe": {"exec": {"command": ["sh", "-c", "echo sick; exit 1"]}, "periodSeconds": 1, "failureThreshold": 1}}]),
        ))
        .await;
    cluster
        .wait_event(LIMIT, |e| {
            e.reason.as_deref() == Some("Unhealthy")
                && e.message.as_deref() == Some("Liveness probe failed: sick\n")
        })
        .await;
    cluster
        .wait_event(LIMIT, |e| {
            e.reason.as_deref() == Some("Killing")
                && e.message.as_deref()
                    == Some("Container main failed liveness probe, will be restarted")
        })
        .await;
    cluster
        .wait_pod("live", LIMIT, |p| {
            main_status(p).is_some_and(|s| s.restart_count >= 1)
        })
        .await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_and_tcp_probes_reach_real_listeners() {
    let mut cluster = Cluster::start().await;
    let port = http_server().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    cluster
        .create(cluster.pod(
            "web",
            "Always",
            json!([
                {"name": "http", "command": ["sleep", "1000"],
                 "readinessProbe": {"httpGet": {"host": "127.0.0.1", "port": port, "path": "/ok"}, "periodSeconds": 1},
                 "livenessProbe": {"httpGet": {"host": "127.0.0.1", "port": port, "path": "/bad"}, "periodSeconds": 1, "failureThreshold": 100}},
                {"name": "tcp", "command": ["sleep", "1000"],
                 "ports": [{"name": "web", "containerPort": port}],
                 "readinessProbe": {"tcpSocket": {"host": "127.0.0.1", "port": "web"}, "periodSeconds": 1},
                 "livenessProbe": {"tcpSocket": {"host": "127.0.0.1", "port": closed}, "periodSeconds": 1, "failureThreshold": 100}}
            ]),
        ))
        .await;
    cluster.wait_pod("web", LIMIT, ready).await;
    cluster
        .wait_event(LIMIT, |e| {
            e.message.as_deref()
                == Some("Liveness probe failed: HTTP probe failed with statuscode: 500")
        })
        .await;
    let refused =
        format!("Liveness probe failed: dial tcp 127.0.0.1:{closed}: connect: connection refused");
    cluster
        .wait_event(LIMIT, |e| e.message.as_deref() == Some(refused.as_str()))
        .await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exec_probe_with_a_missing_command_fails_and_the_agent_carries_on() {
    let mut cluster = Cluster::start().await;
    cluster
        .create(cluster.pod(
            "badprobe",
            "Always",
            json!([{"name": "main", "command": ["sleep", "1000"],
                    "readinessProbe": {"exec": {"command": ["no-such-probe-cmd"]}, "periodSeconds": 1}}]),
        ))
        .await;
    let event = cluster
        .wait_event(LIMIT, |e| e.reason.as_deref() == Some("Unhealthy"))
        .await;
    let message = event.message.unwrap();
    assert!(message.starts_with("Readiness probe failed: "), "{message}");
    assert!(message.contains("no-such-probe-cmd"), "{message}");
    let pod = cluster
        .wait_pod("badprobe", LIMIT, |p| phase(p) == "Running")
        .await;
    assert!(!ready(&pod));
    cluster.shutdown().await;
}
