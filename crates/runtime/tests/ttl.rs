//! TTL after finished, end to end: a finished Job with `ttlSecondsAfterFinished` is
//! deleted (in the foreground, its pods with it) once the TTL has passed, never before.

mod common;

use std::time::Duration;

use common::{Cluster, condition_true, eventually, job_manifest};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

#[tokio::test(start_paused = true)]
async fn ttl_deletes_a_finished_job_after_its_ttl() {
    let cluster = Cluster::start_corral().await;
    let kubelet = cluster.kubelet(Duration::from_secs(1), |_| 0);
    cluster
        .create::<Job>(job_manifest("short-lived", 6, Some(30)))
        .await;
    let finished_at = eventually("the Job to complete", Duration::from_secs(60), || async {
        let job = cluster.get::<Job>("short-lived").await?;
        let status = serde_json::to_value(job.status?).ok()?;
        let complete = condition_true(&status, "Complete")?;
        let at: jiff::Timestamp = complete["lastTransitionTime"].as_str()?.parse().ok()?;
        Some(at)
    })
    .await;
    eventually(
        "the Job to be deleted",
        Duration::from_secs(120),
        || async {
            cluster
                .get::<Job>("short-lived")
                .await
                .is_none()
                .then_some(())
        },
    )
    .await;
    let deleted_after = cluster.seconds(cluster.now()) - cluster.seconds(finished_at);
    assert!(
        deleted_after >= 30.0,
        "deleted {deleted_after} s after finishing, TTL 30 s"
    );
    assert!(
        deleted_after < 32.0,
        "deleted {deleted_after} s after finishing, TTL 30 s"
    );
    eventually("its pod to be gone", Duration::from_secs(60), || async {
        cluster.list::<Pod>().await.is_empty().then_some(())
    })
    .await;
    kubelet.abort();
    cluster.manager.shutdown().await.expect("clean shutdown");
}
