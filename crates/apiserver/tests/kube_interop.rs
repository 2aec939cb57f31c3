//! Goal: the Rust `kube` client (list, watch, merge and strategic patches, server-side
//! apply without field ownership) works against Corral,
//! as rust-deps.md promises for kube@5 with rustls/ring.
//! Method: a real server; kube's `Config` built from the generated kubeconfig; typed
//! `Api<Job>` calls and `runtime::watcher` (list-then-watch with resourceVersion).

mod common;

use std::time::Duration;

use common::{TestServer, job};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Client, Config};

async fn client(server: &TestServer) -> Client {
    let kubeconfig = Kubeconfig::read_from(&server.handle.kubeconfig).expect("kubeconfig parses");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

#[tokio::test]
async fn kube_lists_creates_patches_and_deletes() {
    let server = TestServer::start().await;
    let client = client(&server).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let created: Job = serde_json::from_value(job("kube", "default")).unwrap();
    let created = jobs
        .create(&PostParams::default(), &created)
        .await
        .expect("create");
    assert!(created.metadata.uid.is_some());
    let list = jobs.list(&ListParams::default()).await.expect("list");
    assert_eq!(list.items.len(), 1);
    let patch = serde_json::json!({"metadata": {"labels": {"via": "kube"}}});
    let patched = jobs
        .patch("kube", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("merge patch");
    assert_eq!(patched.metadata.labels.unwrap()["via"], "kube");
    let strategic = serde_json::json!({"metadata": {"annotations": {"a": "b"}}});
    jobs.patch(
        "kube",
        &PatchParams::default(),
        &Patch::Strategic(&strategic),
    )
    .await
    .expect("strategic patch");
    // kube's `Patch::Apply` is server-side apply (application/apply-patch+yaml): Corral
    // merges the applied configuration onto the object (or creates it), without field
    // ownership (docs in `ApiService::apply_blocking`).
    let apply = serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "kube", "labels": {"ssa": "yes"}}
    });
    let applied = jobs
        .patch(
            "kube",
            &PatchParams::apply("corral-test"),
            &Patch::Apply(&apply),
        )
        .await
        .expect("server-side apply onto an existing Job");
    let labels = applied.metadata.labels.unwrap();
    assert_eq!(labels["ssa"], "yes");
    assert_eq!(
        labels["via"], "kube",
        "fields not in the applied configuration stay"
    );
    let configs: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "applied"},
        "data": {"k": "v1"}
    });
    let created = configs
        .patch(
            "applied",
            &PatchParams::apply("corral-test"),
            &Patch::Apply(&config),
        )
        .await
        .expect("server-side apply creates a missing object");
    assert_eq!(created.data.unwrap()["k"], "v1");
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "applied"},
        "data": {"k": "v2"}
    });
    let updated = configs
        .patch(
            "applied",
            &PatchParams::apply("corral-test"),
            &Patch::Apply(&config),
        )
        .await
        .expect("a second apply updates it");
    assert_eq!(updated.data.unwrap()["k"], "v2");
    let no_manager = configs
        .patch("applied", &PatchParams::default(), &Patch::Apply(&config))
        .await
        .unwrap_err();
    assert!(
        matches!(no_manager, kube::Error::Api(ref s) if s.code == 422),
        "apply without a fieldManager is invalid: {no_manager:?}"
    );
    let missing = jobs.get("nope").await.unwrap_err();
    assert!(
        matches!(missing, kube::Error::Api(ref s) if s.code == 404),
        "{missing:?}"
    );
    jobs.delete("kube", &DeleteParams::background())
        .await
        .expect("delete");
    assert!(jobs.get_opt("kube").await.expect("get_opt").is_none());
}

#[tokio::test]
async fn kube_watcher_sees_initial_objects_and_changes() {
    let server = TestServer::start().await;
    let client = client(&server).await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let first: ConfigMap =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "one"}})).unwrap();
    maps.create(&PostParams::default(), &first).await.unwrap();
    let mut events = watcher(maps.clone(), watcher::Config::default()).boxed();
    let mut seen_initial = false;
    let mut seen_applied = false;
    let second: ConfigMap =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "two"}})).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !(seen_initial && seen_applied) {
        let event = tokio::time::timeout_at(deadline, events.try_next())
            .await
            .expect("watch event in time")
            .expect("watch ok");
        match event {
            Some(watcher::Event::InitApply(cm)) if cm.metadata.name.as_deref() == Some("one") => {
                seen_initial = true
            }
            Some(watcher::Event::InitDone) => {
                maps.create(&PostParams::default(), &second).await.unwrap();
            }
            Some(watcher::Event::Apply(cm)) if cm.metadata.name.as_deref() == Some("two") => {
                seen_applied = true
            }
            _ => {}
        }
    }
}
