//! The Node object, its Lease and events, and static pods.
//!
//! Goal: the agent registers a Node as upstream's kubelet does (capacity read from the
//! machine, allocatable, node info, addresses, labels, Ready condition, a Lease in
//! `kube-node-lease`), and static pod manifests run without the API and appear as mirror
//! pods. Method: a real agent; the test reads the objects through the API.

mod common;

use std::time::{Duration, Instant};

use common::*;
use corral_apiserver::service::LogOptions;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_registers_with_capacity_info_and_a_lease() {
    let mut cluster = Cluster::start().await;
    let deadline = Instant::now() + LIMIT;
    let node = loop {
        let node: Node = cluster.client.get("", &cluster.node).await.unwrap();
        let ready = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if ready {
            break node;
        }
        assert!(Instant::now() < deadline, "node never became Ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let labels = node.metadata.labels.clone().unwrap();
    assert_eq!(labels["kubernetes.io/hostname"], cluster.node);
    assert_eq!(labels["kubernetes.io/os"], "linux");
    assert!(labels.contains_key("kubernetes.io/arch"));
    let status = node.status.unwrap();
    let capacity = status.capacity.unwrap();
    assert_eq!(capacity["pods"].0, "110");
    for resource in ["cpu", "memory", "ephemeral-storage"] {
        assert!(capacity.contains_key(resource), "{resource}");
    }
    let allocatable = status.allocatable.unwrap();
    assert!(allocatable.contains_key("memory"));
    let info = status.node_info.unwrap();
    assert!(info.kubelet_version.starts_with("v1.32.0-corral."));
    assert!(
        info.container_runtime_version
            .starts_with("corral-process://")
    );
    assert_eq!(info.operating_system, "linux");
    assert!(!info.kernel_version.is_empty());
    let addresses = status.addresses.unwrap();
    assert!(
        addresses
            .iter()
            .any(|a| a.type_ == "InternalIP" && a.address == "127.0.0.1")
    );
    assert!(
        addresses
            .iter()
            .any(|a| a.type_ == "Hostname" && a.address == cluster.node)
    );
    let conditions = status.conditions.unwrap();
    for type_ in ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"] {
        assert!(conditions.iter().any(|c| c.type_ == type_), "{type_}");
    }
    let lease: Lease = cluster
        .client
        .get("kube-node-lease", &cluster.node)
        .await
        .unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some(cluster.node.as_str()));
    assert!(spec.renew_time.is_some());
    let owner = &lease.metadata.owner_references.unwrap()[0];
    assert_eq!(owner.kind, "Node");
    assert_eq!(owner.uid, node.metadata.uid.unwrap());
    let events = cluster
        .client
        .list::<k8s_openapi::api::core::v1::Event>(Some("default"), &Default::default())
        .await
        .unwrap()
        .items;
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("Starting")
                && e.message.as_deref() == Some("Starting kubelet."))
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_pods_run_and_show_up_as_mirror_pods() {
    let mut cluster = Cluster::start().await;
    let manifest = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "static-web", "namespace": "default"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "main", "image": "busybox",
                 "command": ["sh", "-c", "echo static; sleep 1000"],
                 "env": [{"name": "CORRAL_TEST_MARKER", "value": cluster.marker}]}]}
    });
    let dir = cluster.data_dir().join("manifests");
    let file = dir.join("web.yaml");
    // YAML is a superset of JSON.
    std::fs::write(&file, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
    // Named `<name>-<node>` as upstream's file source names static pods.
    let mirror_name = format!("static-web-{}", cluster.node);
    let mirror = cluster
        .wait_pod(&mirror_name, LIMIT, |p| phase(p) == "Running")
        .await;
    let annotations = mirror.metadata.annotations.clone().unwrap();
    assert!(annotations.contains_key("kubernetes.io/config.mirror"));
    assert_eq!(annotations["kubernetes.io/config.source"], "file");
    assert_eq!(
        mirror.spec.as_ref().unwrap().node_name.as_deref(),
        Some(cluster.node.as_str())
    );
    let owner = &mirror.metadata.owner_references.clone().unwrap()[0];
    assert_eq!(owner.kind, "Node");
    // Logs of a mirror pod come from the static pod's files.
    let deadline = Instant::now() + LIMIT;
    loop {
        let out = cluster
            .logs(&mirror_name, LogOptions::default())
            .await
            .unwrap_or_default();
        if out == "static\n" {
            break;
        }
        assert!(Instant::now() < deadline, "static pod log: {out:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!cluster.marked_processes().is_empty());
    // Removing the manifest stops the pod and deletes its mirror.
    std::fs::remove_file(&file).unwrap();
    cluster.wait_gone(&mirror_name, LIMIT).await;
    cluster.wait_no_marked_processes(LIMIT).await;
    cluster.shutdown().await;
}
