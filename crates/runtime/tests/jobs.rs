//! Jobs end to end: the real API service, the informer, the Job controller, the scheduler
//! (binding through `pods/binding`) and a fake kubelet writing pod status through the API.
//! Paused tokio time, so the Job controller's real backoffs (10 s, 20 s) are checked
//! exactly without waiting for them.

mod common;

use std::time::Duration;

use common::{Cluster, NAMESPACE, condition_true, eventually, job_manifest, node_manifest};
use corral_core::clock;
use corral_runtime::Profile;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Node, Pod};

fn job_status(job: &Job) -> serde_json::Value {
    serde_json::to_value(job.status.clone().unwrap_or_default()).unwrap_or_default()
}

fn events_about<'a>(events: &'a [Event], kind: &str, name_prefix: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| e.involved_object.kind.as_deref() == Some(kind))
        .filter(|e| {
            e.involved_object
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with(name_prefix))
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_job_runs_its_pod_to_completion_and_records_events_upstream() {
    a_job_runs_its_pod_to_completion_and_records_events(Profile::Upstream).await;
}

#[tokio::test(start_paused = true)]
async fn a_job_runs_its_pod_to_completion_and_records_events_corral() {
    // With guard 1 the pod create is a detached tail and its SuccessfulCreate event comes
    // from `handle_detached_outcomes`: the same objects and events result.
    a_job_runs_its_pod_to_completion_and_records_events(Profile::Corral).await;
}

async fn a_job_runs_its_pod_to_completion_and_records_events(profile: Profile) {
    // Goal: the whole path a `kubectl create job` takes: pod created by the Job controller,
    // bound by the scheduler through pods/binding, finished by the (fake) kubelet, Job
    // Complete=True, and the events `kubectl describe` shows stored as Event objects.
    let cluster = Cluster::start_profile(profile).await;
    cluster.create::<Node>(node_manifest("node-1")).await;
    let kubelet = cluster.kubelet(Duration::from_secs(2), |_| 0);
    cluster.create::<Job>(job_manifest("pi", 6, None)).await;

    let job = eventually("the Job to complete", Duration::from_secs(120), || async {
        cluster
            .get::<Job>("pi")
            .await
            .filter(|j| condition_true(&job_status(j), "Complete").is_some())
    })
    .await;
    let status = job.status.clone().unwrap_or_default();
    assert_eq!(status.succeeded, Some(1));
    assert_eq!(status.failed.unwrap_or(0), 0);

    let pods = cluster.list::<Pod>().await;
    assert_eq!(pods.len(), 1, "one pod for a one-completion Job");
    let pod = &pods[0];
    let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
    assert_eq!(
        node,
        Some("node-1"),
        "the scheduler's bind went through pods/binding"
    );
    assert_eq!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded")
    );
    assert!(
        pod.metadata
            .finalizers
            .as_ref()
            .is_none_or(|f| f.is_empty()),
        "the tracking finalizer is released once the pod is counted"
    );

    let events = eventually("the Completed event", Duration::from_secs(30), || async {
        let events = cluster.list::<Event>().await;
        events_about(&events, "Job", "pi")
            .iter()
            .any(|e| e.reason.as_deref() == Some("Completed"))
            .then_some(events)
    })
    .await;
    let job_events = events_about(&events, "Job", "pi");
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let created = job_events
        .iter()
        .find(|e| e.reason.as_deref() == Some("SuccessfulCreate"))
        .expect("a SuccessfulCreate event");
    assert_eq!(
        created.message.as_deref(),
        Some(format!("Created pod: {pod_name}").as_str())
    );
    assert_eq!(
        created.source.as_ref().and_then(|s| s.component.as_deref()),
        Some("job-controller")
    );
    assert_eq!(
        created.involved_object.namespace.as_deref(),
        Some(NAMESPACE)
    );
    let scheduled = events_about(&events, "Pod", &pod_name);
    assert!(
        scheduled
            .iter()
            .any(|e| e.reason.as_deref() == Some("Scheduled")),
        "the scheduler records Scheduled: {scheduled:?}"
    );
    kubelet.abort();
    cluster.manager.shutdown().await.expect("clean shutdown");
}

#[tokio::test(start_paused = true)]
async fn a_failing_job_backs_off_10s_then_20s_and_fails_after_its_backoff_limit_upstream() {
    a_failing_job_backs_off_10s_then_20s_and_fails_after_its_backoff_limit(Profile::Upstream).await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_job_backs_off_10s_then_20s_and_fails_after_its_backoff_limit_corral() {
    a_failing_job_backs_off_10s_then_20s_and_fails_after_its_backoff_limit(Profile::Corral).await;
}

async fn a_failing_job_backs_off_10s_then_20s_and_fails_after_its_backoff_limit(profile: Profile) {
    // Goal: pod-failure backoff at upstream's real values through the real driver: with
    // backoffLimit 2 the Job runs 3 pods; each replacement is created 10 s, then 20 s,
    // after the previous pod finished; then Failed=True, reason BackoffLimitExceeded.
    // Method: a kubelet fails every pod after 1 s; times come from the stored objects.
    let cluster = Cluster::start_profile(profile).await;
    let kubelet = cluster.kubelet(Duration::from_secs(1), |_| 1);
    cluster.create::<Job>(job_manifest("flaky", 2, None)).await;

    let job = eventually("the Job to fail", Duration::from_secs(300), || async {
        cluster
            .get::<Job>("flaky")
            .await
            .filter(|j| condition_true(&job_status(j), "Failed").is_some())
    })
    .await;
    let failed = condition_true(&job_status(&job), "Failed").unwrap_or_default();
    assert_eq!(failed["reason"], "BackoffLimitExceeded");
    assert_eq!(job.status.as_ref().and_then(|s| s.failed), Some(3));

    let mut pods = cluster.list::<Pod>().await;
    assert_eq!(pods.len(), 3, "backoffLimit 2 allows 3 pods");
    pods.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let created = |p: &Pod| {
        p.metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0)
            .expect("created")
    };
    let finished = |p: &Pod| -> jiff::Timestamp {
        let statuses = p
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .expect("statuses");
        let terminated = statuses[0]
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .expect("terminated");
        terminated.finished_at.as_ref().expect("finishedAt").0
    };
    let gaps: Vec<u64> = pods
        .windows(2)
        .map(|w| clock::since(created(&w[1]), finished(&w[0])).as_secs())
        .collect();
    assert_eq!(gaps, vec![10, 20], "replacement delays after each failure");
    kubelet.abort();
    cluster.manager.shutdown().await.expect("clean shutdown");
}
