//! CronJobs and garbage collection end to end: the CronJob controller creates Jobs on
//! schedule (paused tokio time advances to each slot), and deleting a CronJob with each
//! propagation policy does what upstream's garbage collector does to its Jobs and pods.

mod common;

use std::time::Duration;

use common::{Cluster, NAMESPACE, cronjob_manifest, eventually};
use corral_apiserver::service::DeleteParams;
use corral_core::Propagation;
use corral_runtime::Profile;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;

/// 2026-01-01T00:00:00Z (the harness epoch) in Unix minutes.
const EPOCH_MINUTES: i64 = 1_767_225_600 / 60;

fn owned_by(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, uid: &str) -> bool {
    meta.owner_references.iter().flatten().any(|r| r.uid == uid)
}

#[tokio::test(start_paused = true)]
async fn a_cronjob_creates_jobs_named_after_their_scheduled_minute_upstream() {
    a_cronjob_creates_jobs_named_after_their_scheduled_minute(Profile::Upstream).await;
}

#[tokio::test(start_paused = true)]
async fn a_cronjob_creates_jobs_named_after_their_scheduled_minute_corral() {
    a_cronjob_creates_jobs_named_after_their_scheduled_minute(Profile::Corral).await;
}

async fn a_cronjob_creates_jobs_named_after_their_scheduled_minute(profile: Profile) {
    // Goal: `*/1 * * * *` from 00:00:00 creates `<cj>-<unix minutes>` at 00:01 and 00:02,
    // each owned by the CronJob, and their pods follow.
    let cluster = Cluster::start_profile(profile).await;
    cluster
        .create::<CronJob>(cronjob_manifest("tick", "*/1 * * * *"))
        .await;
    let jobs = eventually("two scheduled Jobs", Duration::from_secs(180), || async {
        let jobs = cluster.list::<Job>().await;
        (jobs.len() >= 2).then_some(jobs)
    })
    .await;
    let mut names: Vec<String> = jobs
        .iter()
        .filter_map(|j| j.metadata.name.clone())
        .collect();
    names.sort();
    let expected = [
        format!("tick-{}", EPOCH_MINUTES + 1),
        format!("tick-{}", EPOCH_MINUTES + 2),
    ];
    assert_eq!(names[..2], expected[..]);
    let first = jobs
        .iter()
        .find(|j| j.metadata.name.as_deref() == Some(expected[0].as_str()))
        .expect("first");
    let created = first
        .metadata
        .creation_timestamp
        .as_ref()
        .expect("created")
        .0;
    assert_eq!(cluster.seconds(created), 60.0, "the first slot is 00:01:00");
    let cron_job = cluster.get::<CronJob>("tick").await.expect("cronjob");
    let uid = cron_job.metadata.uid.clone().unwrap_or_default();
    assert!(jobs.iter().all(|j| owned_by(&j.metadata, &uid)));
    eventually(
        "pods of the scheduled Jobs",
        Duration::from_secs(30),
        || async { (cluster.list::<Pod>().await.len() >= 2).then_some(()) },
    )
    .await;
    cluster.manager.shutdown().await.expect("clean shutdown");
}

/// Creates a CronJob, waits for its first Job and pod; returns the CronJob's uid.
async fn cronjob_with_a_job(cluster: &Cluster) -> String {
    let cron_job = cluster
        .create::<CronJob>(cronjob_manifest("nightly", "*/1 * * * *"))
        .await;
    eventually("a Job and its pod", Duration::from_secs(120), || async {
        let jobs = cluster.list::<Job>().await.len();
        let pods = cluster.list::<Pod>().await.len();
        (jobs >= 1 && pods >= 1).then_some(())
    })
    .await;
    cron_job.metadata.uid.unwrap_or_default()
}

async fn delete_cronjob(cluster: &Cluster, propagation: Propagation) {
    let params = DeleteParams {
        propagation: Some(propagation),
        ..DeleteParams::default()
    };
    cluster
        .client
        .delete::<CronJob>(NAMESPACE, "nightly", &params)
        .await
        .expect("delete the CronJob");
}

async fn wait_until_everything_is_gone(cluster: &Cluster) {
    eventually(
        "the CronJob, its Jobs and their pods to be gone",
        Duration::from_secs(120),
        || async {
            let cron_job = cluster.get::<CronJob>("nightly").await;
            let jobs = cluster.list::<Job>().await;
            let pods = cluster.list::<Pod>().await;
            (cron_job.is_none() && jobs.is_empty() && pods.is_empty()).then_some(())
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn deleting_a_cronjob_in_the_background_removes_its_jobs_and_their_pods() {
    let cluster = Cluster::start_corral().await;
    cronjob_with_a_job(&cluster).await;
    delete_cronjob(&cluster, Propagation::Background).await;
    assert!(
        cluster.get::<CronJob>("nightly").await.is_none(),
        "background: the owner goes at once"
    );
    wait_until_everything_is_gone(&cluster).await;
    cluster.manager.shutdown().await.expect("clean shutdown");
}

#[tokio::test(start_paused = true)]
async fn deleting_a_cronjob_in_the_foreground_removes_dependents_first() {
    let cluster = Cluster::start_corral().await;
    cronjob_with_a_job(&cluster).await;
    delete_cronjob(&cluster, Propagation::Foreground).await;
    let marked = cluster
        .get::<CronJob>("nightly")
        .await
        .expect("foreground: the owner waits");
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert!(
        marked
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == "foregroundDeletion")
    );
    wait_until_everything_is_gone(&cluster).await;
    cluster.manager.shutdown().await.expect("clean shutdown");
}

#[tokio::test(start_paused = true)]
async fn deleting_a_cronjob_with_orphan_keeps_its_jobs_without_the_owner_reference() {
    let cluster = Cluster::start_corral().await;
    let uid = cronjob_with_a_job(&cluster).await;
    delete_cronjob(&cluster, Propagation::Orphan).await;
    eventually(
        "the CronJob to be gone",
        Duration::from_secs(60),
        || async {
            cluster
                .get::<CronJob>("nightly")
                .await
                .is_none()
                .then_some(())
        },
    )
    .await;
    let jobs = cluster.list::<Job>().await;
    assert!(!jobs.is_empty(), "orphaned Jobs stay");
    assert!(
        jobs.iter().all(|j| !owned_by(&j.metadata, &uid)),
        "their owner reference is removed"
    );
    assert!(
        !cluster.list::<Pod>().await.is_empty(),
        "and so do their pods"
    );
    cluster.manager.shutdown().await.expect("clean shutdown");
}
