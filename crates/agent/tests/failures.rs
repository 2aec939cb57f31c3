//! Bad input and unpullable images.
//!
//! Goal: a container that cannot start fails with upstream's reason and message
//! (`StartError`, exit code 128) and the agent carries on; an image the catalog cannot
//! resolve gives `ErrImagePull`, then `ImagePullBackOff`, the pod stays Pending and keeps
//! its node resources. Method: real agent and API service; bounded waits.

mod common;

use std::time::Duration;

use common::*;
use corral_api::Quantity;
use corral_apiserver::service::ListParams;
use corral_apiserver::service::LogOptions;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(20);

async fn start_error(
    cluster: &Cluster,
    name: &str,
) -> k8s_openapi::api::core::v1::ContainerStateTerminated {
    let pod = cluster
        .wait_pod(name, LIMIT, |p| phase(p) == "Failed")
        .await;
    let t = terminated(&pod).expect("terminated");
    assert_eq!(t.exit_code, 128, "{t:?}");
    assert_eq!(t.reason.as_deref(), Some("StartError"), "{t:?}");
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_command_is_a_start_error_and_the_agent_carries_on() {
    let mut cluster = Cluster::start().await;
    cluster
        .create(cluster.pod(
            "nocmd",
            "Never",
            json!([{"name": "main", "command": ["no-such-command-xyz", "arg"]}]),
        ))
        .await;
    let t = start_error(&cluster, "nocmd").await;
    assert_eq!(
        t.message.as_deref(),
        Some(
            "failed to create corral-process task: unable to start container process: exec: \"no-such-command-xyz\": executable file not found in $PATH: unknown"
        )
    );
    cluster
        .wait_event(LIMIT, |e| {
            e.reason.as_deref() == Some("Failed")
                && e.message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("Error: failed to create corral-process task"))
        })
        .await;
    // The agent carries on.
    cluster
        .create(cluster.pod(
            "after",
            "Never",
            json!([{"name": "main", "command": ["echo", "still here"]}]),
        ))
        .await;
    cluster
        .wait_pod("after", LIMIT, |p| phase(p) == "Succeeded")
        .await;
    assert_eq!(
        cluster.logs("after", LogOptions::default()).await.unwrap(),
        "still here\n"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absolute_missing_program_and_a_missing_working_dir_are_start_errors() {
    let mut cluster = Cluster::start().await;
    cluster
        .create(cluster.pod(
            "abs",
            "Never",
            json!([{"name": "main", "command": ["/no/such/program"]}]),
        ))
        .await;
    let t = start_error(&cluster, "abs").await;
    assert!(t.message.unwrap().ends_with(
        "exec: \"/no/such/program\": stat /no/such/program: no such file or directory: unknown"
    ));
    cluster
        .create(cluster.pod(
            "wd",
            "Never",
            json!([{"name": "main", "command": ["true"], "workingDir": "/no/such/dir"}]),
        ))
        .await;
    let t = start_error(&cluster, "wd").await;
    assert!(
        t.message.as_deref().unwrap().contains(
            "chdir to cwd (\"/no/such/dir\") set in config.json failed: no such file or directory"
        ),
        "{t:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_host_path_is_a_start_error() {
    let mut cluster = Cluster::start().await;
    let mut pod = cluster.pod(
        "hp",
        "Never",
        json!([{"name": "main", "command": ["true"], "volumeMounts": [{"name": "v", "mountPath": "/mnt/corral-test-hp"}]}]),
    );
    pod["spec"]["volumes"] = json!([{"name": "v", "hostPath": {"path": "/no/such/host/path"}}]);
    cluster.create(pod).await;
    let t = start_error(&cluster, "hp").await;
    assert!(
        t.message
            .as_deref()
            .unwrap()
            .contains("stat /no/such/host/path: no such file or directory"),
        "{t:?}"
    );
    let mut pod = cluster.pod(
        "hpt",
        "Never",
        json!([{"name": "main", "command": ["true"], "volumeMounts": [{"name": "v", "mountPath": "/mnt/corral-test-hpt"}]}]),
    );
    pod["spec"]["volumes"] =
        json!([{"name": "v", "hostPath": {"path": "/etc/hostname", "type": "Directory"}}]);
    cluster.create(pod).await;
    let t = start_error(&cluster, "hpt").await;
    assert!(
        t.message
            .as_deref()
            .unwrap()
            .contains("hostPath type check failed: /etc/hostname is not a directory"),
        "{t:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_image_backs_off_and_keeps_its_node_resources() {
    let mut cluster = Cluster::start().await;
    cluster
        .create(cluster.pod(
            "img",
            "Never",
            json!([{"name": "main", "image": "registry.invalid/nope:1", "command": ["true"],
                    "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}}]),
        ))
        .await;
    let pod = cluster
        .wait_pod("img", LIMIT, |p| {
            waiting_reason(p).as_deref() == Some("ErrImagePull")
        })
        .await;
    assert_eq!(phase(&pod), "Pending");
    let message = main_status(&pod)
        .unwrap()
        .state
        .unwrap()
        .waiting
        .unwrap()
        .message
        .unwrap();
    assert!(
        message.contains("lookup registry.invalid: no such host"),
        "{message}"
    );
    cluster
        .wait_event(LIMIT, |e| {
            e.reason.as_deref() == Some("Failed")
                && e.message.as_deref().is_some_and(|m| {
                    m.starts_with("Failed to pull image \"registry.invalid/nope:1\": ")
                })
        })
        .await;
    let err = cluster
        .logs("img", LogOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "container \"main\" in pod \"img\" is waiting to start: image can't be pulled"
    );
    // What `kubectl describe node` reads: the node's allocatable and its non-terminated pods.
    let node: Node = cluster.client.get("", &cluster.node).await.unwrap();
    let allocatable = node.status.unwrap().allocatable.unwrap();
    assert!(
        Quantity::from_wire(&allocatable["cpu"])
            .unwrap()
            .milli_value()
            >= 1000
    );
    let params = ListParams {
        field_selector: format!(
            "spec.nodeName={},status.phase!=Succeeded,status.phase!=Failed",
            cluster.node
        ),
        ..Default::default()
    };
    let pods = cluster
        .client
        .list::<Pod>(None, &params)
        .await
        .unwrap()
        .items;
    let requested: i64 = pods
        .iter()
        .flat_map(|p| p.spec.as_ref().unwrap().containers.iter())
        .filter_map(|c| c.resources.as_ref()?.requests.as_ref()?.get("cpu").cloned())
        .map(|q| Quantity::from_wire(&q).unwrap().milli_value())
        .sum();
    assert_eq!(requested, 250);
    // The backoff ladder: the retry after 10 s fails again, then the pod waits out 20 s
    // in ImagePullBackOff, still Pending.
    let pod = cluster
        .wait_pod("img", Duration::from_secs(40), |p| {
            waiting_reason(p).as_deref() == Some("ImagePullBackOff")
        })
        .await;
    assert_eq!(phase(&pod), "Pending");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_pull_policy_never_with_an_unknown_image_is_err_image_never_pull() {
    let mut cluster = Cluster::start().await;
    cluster
        .create(cluster.pod(
            "never",
            "Never",
            json!([{"name": "main", "image": "example.com/absent:1", "imagePullPolicy": "Never", "command": ["true"]}]),
        ))
        .await;
    let pod = cluster
        .wait_pod("never", LIMIT, |p| {
            waiting_reason(p).as_deref() == Some("ErrImageNeverPull")
        })
        .await;
    assert_eq!(phase(&pod), "Pending");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceeding_the_memory_limit_is_oom_killed() {
    let mut cluster = Cluster::start().await;
    if cluster.agent().capabilities().cgroups.is_none() {
        eprintln!("skipped: no usable cgroups on this host, memory limits are not enforced");
        cluster.shutdown().await;
        return;
    }
    cluster
        .create(cluster.pod(
            "oom",
            "Never",
            json!([{"name": "main", "command": ["sh", "-c", "head -c 300000000 /dev/zero | tail"],
                    "resources": {"limits": {"memory": "32Mi"}}}]),
        ))
        .await;
    let pod = cluster
        .wait_pod("oom", Duration::from_secs(60), |p| phase(p) == "Failed")
        .await;
    let t = terminated(&pod).unwrap();
    assert_eq!(t.reason.as_deref(), Some("OOMKilled"), "{t:?}");
    assert_eq!(t.exit_code, 137);
    cluster.shutdown().await;
}
