//! Volumes at their `mountPath`.
//!
//! Goal: emptyDir, hostPath, configMap, secret and PVC-backed volumes are visible to the
//! process at `mountPath` (private mount namespace where the host allows it), and the
//! documented fallback (symlink at `mountPath` plus `CORRAL_VOLUME_<NAME>`) works when
//! mount namespaces are off. Method: containers print what they see; the test reads the
//! logs and checks the host afterwards.

mod common;

use std::time::Duration;

use common::*;
use corral_api::ResourceKind;
use corral_apiserver::service::LogOptions;
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volumes_appear_at_their_mount_paths() {
    let mut cluster = Cluster::start().await;
    if !cluster.agent().capabilities().mount_namespaces {
        eprintln!("skipped: no mount namespaces here (the fallback test covers this host)");
        cluster.shutdown().await;
        return;
    }
    let host = cluster.dir.path().join("host");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("file.txt"), "from-host").unwrap();
    cluster
        .create_object(
            ResourceKind::ConfigMap,
            json!({"metadata": {"name": "cfg", "namespace": "default"}, "data": {"greeting": "hello-config", "other": "x"}}),
        )
        .await;
    cluster
        .create_object(
            ResourceKind::Secret,
            json!({"metadata": {"name": "sec", "namespace": "default"}, "data": {"password": "czNjcjN0"}}),
        )
        .await;
    let tag = unique("m");
    let mount = |p: &str| format!("/corral-test-{tag}/{p}");
    let script = format!(
        "echo scratch > {e}/f && cat {e}/f && cat {h}/file.txt && echo && cat {c}/greeting && echo && ls {c} | tr '\\n' ' ' && echo && cat {s}/password && echo && echo kept > {p}/data && cat {p}/data",
        e = mount("empty"),
        h = mount("host"),
        c = mount("config"),
        s = mount("secret"),
        p = mount("claim"),
    );
    let mut pod = cluster.pod(
        "vols",
        "Never",
        json!([{"name": "main", "command": ["sh", "-c", script],
        "volumeMounts": [
            {"name": "empty", "mountPath": mount("empty")},
            {"name": "host", "mountPath": mount("host"), "readOnly": true},
            {"name": "config", "mountPath": mount("config")},
            {"name": "secret", "mountPath": mount("secret")},
            {"name": "claim", "mountPath": mount("claim")}
        ]}]),
    );
    pod["spec"]["volumes"] = json!([
        {"name": "empty", "emptyDir": {}},
        {"name": "host", "hostPath": {"path": host.display().to_string(), "type": "Directory"}},
        {"name": "config", "configMap": {"name": "cfg"}},
        {"name": "secret", "secret": {"secretName": "sec"}},
        {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}}
    ]);
    cluster.create(pod).await;
    let pod = cluster
        .wait_pod("vols", LIMIT, |p| {
            matches!(phase(p), "Succeeded" | "Failed")
        })
        .await;
    let out = match cluster.logs("vols", LogOptions::default()).await {
        Ok(out) => out,
        Err(e) => panic!("no logs ({e:?}); the container: {:?}", terminated(&pod)),
    };
    assert_eq!(phase(&pod), "Succeeded", "{out} {:?}", terminated(&pod));
    assert_eq!(
        out,
        "scratch\nfrom-host\nhello-config\ngreeting other \ns3cr3t\nkept\n"
    );
    // The PVC directory outlives the pod, under the node's data directory.
    let claim = cluster.data_dir().join("volumes/pvc/default/data/data");
    assert_eq!(std::fs::read_to_string(claim).unwrap(), "kept\n");
    // Mount points made on the host stay (empty; other agents on the machine may share
    // them) and hold nothing of the pod.
    let left = std::path::Path::new(&format!("/corral-test-{tag}")).to_path_buf();
    if left.exists() {
        assert!(
            !matches!(
                std::fs::read_dir(left.join("empty")).map(|mut d| d.next().is_some()),
                Ok(true)
            ),
            "the mount point holds nothing of the pod"
        );
        let _ = std::fs::remove_dir_all(&left);
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_mount_namespaces_volumes_are_linked_and_named_in_the_environment() {
    let mut cluster = Cluster::start_with(|config| config.isolation.mount_namespaces = false).await;
    assert!(!cluster.agent().capabilities().mount_namespaces);
    let target = cluster.dir.path().join("mnt/work");
    let script = format!(
        "echo linked > {t}/f && cat {t}/f && test \"$CORRAL_VOLUME_SCRATCH\" != '' && cat \"$CORRAL_VOLUME_SCRATCH/f\"",
        t = target.display()
    );
    let mut pod = cluster.pod(
        "fallback",
        "Never",
        json!([{"name": "main", "command": ["sh", "-c", script],
                "volumeMounts": [{"name": "scratch", "mountPath": target.display().to_string()}]}]),
    );
    pod["spec"]["volumes"] = json!([{"name": "scratch", "emptyDir": {}}]);
    cluster.create(pod).await;
    let pod = cluster
        .wait_pod("fallback", LIMIT, |p| {
            matches!(phase(p), "Succeeded" | "Failed")
        })
        .await;
    let out = cluster
        .logs("fallback", LogOptions::default())
        .await
        .unwrap();
    assert_eq!(phase(&pod), "Succeeded", "{out}");
    assert_eq!(out, "linked\nlinked\n");
    // The link is removed once the container is gone.
    assert!(std::fs::symlink_metadata(&target).is_err());
    cluster.shutdown().await;
}
