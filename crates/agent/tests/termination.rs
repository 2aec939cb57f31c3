//! Stopping containers and leaving nothing behind.
//!
//! Goal: graceful deletion sends SIGTERM to the container's process group (a trap runs),
//! SIGKILL follows after the grace period, and no process of a pod survives its deletion
//! or the agent's shutdown, including background children and (with cgroups) processes
//! that left the process group. Method: containers carry a marker variable; after each
//! step `/proc` is scanned for it.

mod common;

use std::time::{Duration, Instant};

use common::*;
use corral_apiserver::service::DeleteParams;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(20);

async fn delete(cluster: &Cluster, name: &str, grace: Option<i64>) {
    let params = DeleteParams {
        grace_period_seconds: grace,
        ..Default::default()
    };
    cluster
        .client
        .delete::<Pod>("default", name, &params)
        .await
        .expect("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_deletion_runs_the_term_trap() {
    let mut cluster = Cluster::start().await;
    let out = cluster.dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut pod = cluster.pod(
        "trap",
        "Never",
        json!([{"name": "main",
                "command": ["sh", "-c", "trap 'echo term > /out/term; exit 0' TERM; echo ready > /out/ready; while true; do sleep 0.05; done"],
                "volumeMounts": [{"name": "out", "mountPath": "/out"}]}]),
    );
    pod["spec"]["volumes"] =
        json!([{"name": "out", "hostPath": {"path": out.display().to_string()}}]);
    if !cluster.agent().capabilities().mount_namespaces {
        // Without mount namespaces the script writes through the host path itself.
        let script = format!(
            "trap 'echo term > {0}/term; exit 0' TERM; echo ready > {0}/ready; while true; do sleep 0.05; done",
            out.display()
        );
        pod["spec"]["containers"][0]["command"] = json!(["sh", "-c", script]);
    }
    cluster.create(pod).await;
    cluster
        .wait_pod("trap", LIMIT, |p| phase(p) == "Running")
        .await;
    let deadline = Instant::now() + LIMIT;
    while !out.join("ready").exists() {
        assert!(Instant::now() < deadline, "the container never got ready");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    delete(&cluster, "trap", Some(10)).await;
    cluster.wait_gone("trap", LIMIT).await;
    assert_eq!(std::fs::read_to_string(out.join("term")).unwrap(), "term\n");
    cluster.wait_no_marked_processes(LIMIT).await;
    cluster
        .wait_event(LIMIT, |e| {
            e.reason.as_deref() == Some("Killing")
                && e.message.as_deref() == Some("Stopping container main")
        })
        .await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_ignoring_sigterm_is_killed_after_the_grace_period() {
    let mut cluster = Cluster::start().await;
    cluster
        .create(cluster.pod(
            "stubborn",
            "Never",
            json!([{"name": "main", "command": ["sh", "-c", "trap '' TERM; while true; do sleep 0.05 || true; done"]}]),
        ))
        .await;
    cluster
        .wait_pod("stubborn", LIMIT, |p| phase(p) == "Running")
        .await;
    let started = Instant::now();
    delete(&cluster, "stubborn", Some(1)).await;
    cluster.wait_gone("stubborn", LIMIT).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "SIGKILL came before the grace period: {took:?}"
    );
    cluster
        .wait_no_marked_processes(Duration::from_secs(2))
        .await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_process_of_a_deleted_pod_survives() {
    let mut cluster = Cluster::start().await;
    let escape = if cluster.agent().capabilities().cgroups.is_some() {
        // A daemon leaving the process group: only the cgroup still knows it.
        "setsid sleep 1000 & "
    } else {
        ""
    };
    let script = format!("sleep 1000 & sleep 1000 & {escape} (sleep 1000 &) ; wait");
    cluster
        .create(cluster.pod(
            "tree",
            "Never",
            json!([{"name": "main", "command": ["sh", "-c", script]}]),
        ))
        .await;
    cluster
        .wait_pod("tree", LIMIT, |p| phase(p) == "Running")
        .await;
    let deadline = Instant::now() + LIMIT;
    while cluster.marked_processes().len() < 4 {
        assert!(
            Instant::now() < deadline,
            "children never started: {:?}",
            cluster.marked_processes()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    delete(&cluster, "tree", Some(0)).await;
    cluster.wait_gone("tree", LIMIT).await;
    cluster
        .wait_no_marked_processes(Duration::from_secs(5))
        .await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_left_running_after_the_agent_shuts_down() {
    let mut cluster = Cluster::start().await;
    for i in 0..3 {
        cluster
            .create(cluster.pod(
                &format!("long-{i}"),
                "Always",
                json!([{"name": "main", "command": ["sh", "-c", "sleep 1000 & trap '' TERM; while true; do sleep 0.05 || true; done"]}]),
            ))
            .await;
    }
    for i in 0..3 {
        cluster
            .wait_pod(&format!("long-{i}"), LIMIT, |p| phase(p) == "Running")
            .await;
    }
    assert!(!cluster.marked_processes().is_empty());
    let started = Instant::now();
    cluster.shutdown().await;
    // Shutdown waits for every container, SIGKILLing those that ignore SIGTERM.
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(cluster.marked_processes(), Vec::<i32>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_agent_without_shutdown_kills_its_containers() {
    let cluster = Cluster::start().await;
    cluster
        .create(cluster.pod(
            "dropped",
            "Always",
            json!([{"name": "main", "command": ["sleep", "1000"]}]),
        ))
        .await;
    cluster
        .wait_pod("dropped", LIMIT, |p| phase(p) == "Running")
        .await;
    let marker = cluster.marker.clone();
    drop(cluster);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !marked_processes(&marker).is_empty() {
        assert!(
            Instant::now() < deadline,
            "left: {:?}",
            marked_processes(&marker)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
