//! The ResourceQuota and ServiceAccounts controllers through the manager: quota usage
//! follows the pods a Job creates, and a deleted `default` ServiceAccount comes back.

mod common;

use std::time::Duration;

use common::{Cluster, NAMESPACE, eventually, job_manifest};
use corral_apiserver::service::DeleteParams;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ResourceQuota, ServiceAccount};
use serde_json::json;

fn used(quota: &ResourceQuota, resource: &str) -> Option<String> {
    quota
        .status
        .as_ref()?
        .used
        .as_ref()?
        .get(resource)
        .map(|q| q.0.clone())
}

#[tokio::test(start_paused = true)]
async fn quota_usage_follows_the_pods_a_job_creates() {
    let cluster = Cluster::start_corral().await;
    cluster
        .create::<ResourceQuota>(json!({
            "apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "pods", "namespace": NAMESPACE},
            "spec": {"hard": {"pods": "10", "count/jobs.batch": "5"}},
        }))
        .await;
    eventually("the initial usage", Duration::from_secs(30), || async {
        let quota = cluster.get::<ResourceQuota>("pods").await?;
        (used(&quota, "pods").as_deref() == Some("0")).then_some(())
    })
    .await;
    cluster
        .create::<Job>(job_manifest("counted", 6, None))
        .await;
    eventually(
        "the Job and its pod to be counted",
        Duration::from_secs(60),
        || async {
            let quota = cluster.get::<ResourceQuota>("pods").await?;
            let pods = used(&quota, "pods");
            let jobs = used(&quota, "count/jobs.batch");
            (pods.as_deref() == Some("1") && jobs.as_deref() == Some("1")).then_some(())
        },
    )
    .await;
    cluster.manager.shutdown().await.expect("clean shutdown");
}

#[tokio::test(start_paused = true)]
async fn a_deleted_default_service_account_is_recreated() {
    let cluster = Cluster::start_corral().await;
    assert!(cluster.get::<ServiceAccount>("default").await.is_some());
    cluster
        .client
        .delete::<ServiceAccount>(NAMESPACE, "default", &DeleteParams::default())
        .await
        .expect("delete the default ServiceAccount");
    eventually(
        "the default ServiceAccount to return",
        Duration::from_secs(30),
        || async { cluster.get::<ServiceAccount>("default").await },
    )
    .await;
    cluster.manager.shutdown().await.expect("clean shutdown");
}
