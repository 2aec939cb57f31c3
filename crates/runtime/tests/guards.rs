//! Corral's guards through the real runtime (`docs/guards.md`): the real API service over
//! `MemoryBackend`, the shared informer, every built-in controller, paused tokio time.
//! Each scenario runs under profile `upstream` (reproducing the problem) and profile
//! `corral` (the guard holding).
//!
//! Slow or failing admission is injected at the controllers' client with the runtime's
//! write-fault seam (`corral_runtime::faults`): the API service's admission seam is
//! synchronous on the blocking pool, where paused time cannot advance.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{
    Cluster, NAMESPACE, api_service, condition_true, cronjob_manifest, eventually,
    eventually_every, node_manifest, typed,
};
use corral_api::{ApiError, ResourceKind, StatusReason};
use corral_apiserver::service::{ListParams, TypedWatchEvent, UserInfo};
use corral_core::clock::{self, epoch};
use corral_core::{Action, PatchBody, Subresource};
use corral_registry::admission::FailurePolicy;
use corral_registry::admission::breaker::{
    BreakerKey, CallReport, CallTarget, ConfigurationIdentity, ConfigurationKind, Decision,
    FailureReport,
};
use corral_registry::admission::{BreakerConfig, SharedBreakers};
use corral_runtime::{AbandonReason, ControllerManagerConfig, Profile, WriteFault, WriteFaults};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use parking_lot::Mutex;
use serde_json::{Value, json};

fn created(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    meta.creation_timestamp.clone().expect("created")
}

fn job_in(namespace: &str, name: &str, pods: i32) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "parallelism": pods, "completions": pods,
            "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox", "command": ["true"]}],
            }},
        },
    })
}

/// Pod creates in `namespace` take `delay` (then succeed).
fn slow_pod_creates_in(namespace: &'static str, delay: Duration) -> Arc<dyn WriteFaults> {
    Arc::new(move |_: &str, action: &Action| match action {
        Action::Create { object }
            if object.kind() == ResourceKind::Pod && object.namespace() == namespace =>
        {
            Some(WriteFault::slow(delay))
        }
        _ => None,
    })
}

// --- guard 1 ----------------------------------------------------------------------------

/// Creates `job` in `namespace` and returns how long (virtual seconds, millisecond
/// precision: stored timestamps have whole seconds) until a watch sees its first pod.
async fn create_and_time_first_pod(cluster: &Cluster, namespace: &str, job: Value) -> f64 {
    let name = job["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let params = ListParams {
        resource_version: Some(cluster.api.store().current_revision()),
        ..ListParams::default()
    };
    let mut watch = cluster
        .client
        .watch::<Pod>(Some(namespace), &params)
        .await
        .expect("pod watch");
    let start = cluster.now();
    cluster.create::<Job>(job).await;
    let prefix = format!("{name}-");
    let seen = tokio::time::timeout(Duration::from_secs(1800), async {
        while let Some(event) = watch.next().await {
            if let Ok(TypedWatchEvent::Added(pod)) = event
                && pod
                    .metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with(&prefix))
            {
                return Some(cluster.now());
            }
        }
        None
    })
    .await;
    let seen = seen
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no pod for {name}"));
    clock::since(seen, start).as_secs_f64()
}

/// Ten "noisy" Jobs of 50 pods each whose pod creates take 20 s (a slow webhook in their
/// namespace), then, a second later, one Job in another namespace. Returns the cluster
/// and the quiet Job's create → pod latency in seconds.
async fn noisy_neighbours(config: ControllerManagerConfig) -> (Cluster, f64) {
    let config = config.with_write_faults(slow_pod_creates_in("noisy", Duration::from_secs(20)));
    let cluster = Cluster::start(config).await;
    cluster.namespace("noisy").await;
    cluster.namespace("other").await;
    for i in 0..10 {
        cluster
            .create::<Job>(job_in("noisy", &format!("noisy-{i}"), 50))
            .await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let latency = create_and_time_first_pod(&cluster, "other", job_in("other", "quiet", 1)).await;
    eprintln!("noisy neighbours: the quiet Job's pod after {latency:.3} s");
    (cluster, latency)
}

#[tokio::test(start_paused = true)]
async fn upstream_slow_pod_creates_elsewhere_delay_an_unrelated_jobs_pod_by_minutes() {
    // 5 workers block 120 s on each noisy Job's six slow-start batches; the quiet Job
    // queues behind the second wave (measured: 240 s).
    let (cluster, latency) = noisy_neighbours(ControllerManagerConfig::upstream()).await;
    assert!(
        latency > 180.0,
        "upstream reproduces the incident: {latency} s"
    );
    cluster.manager.shutdown().await.expect("clean shutdown");
}

#[tokio::test(start_paused = true)]
async fn with_guard_1_slow_pod_creates_elsewhere_do_not_delay_an_unrelated_jobs_pod() {
    let (cluster, latency) = noisy_neighbours(ControllerManagerConfig::corral()).await;
    assert!(latency <= 1.0, "within one sync: {latency} s");
    let job = cluster.manager.job_controller().expect("job controller");
    assert!(job.is_fair());
    assert!(
        job.detached_outstanding() > 0,
        "the noisy creates are still running, detached"
    );
    cluster.manager.shutdown().await.expect("clean shutdown");
}

#[tokio::test(start_paused = true)]
async fn detached_pod_creates_are_answered_exactly_once_even_across_shutdown() {
    // Goal: every detached tail of the Job controller is answered once: those finished
    // with their outcomes, those cut by shutdown with `Failed`; shutdown waits for them.
    // And while tails are out, no Job gets a pod beyond its parallelism (expectations stay
    // pinned). Method: the noisy scenario under `corral`, stopped after 50 s, while every
    // noisy Job's tail is in its third 20 s batch.
    let (cluster, _) = noisy_neighbours(ControllerManagerConfig::corral()).await;
    tokio::time::sleep(Duration::from_secs(48)).await;
    let job = cluster
        .manager
        .job_controller()
        .expect("job controller")
        .clone();
    assert_eq!(job.detached_outstanding(), 10, "one tail per noisy Job");
    let metrics = job.metrics().clone();
    let api = cluster.api.clone();
    cluster.manager.shutdown().await.expect("clean shutdown");
    assert_eq!(job.detached_outstanding(), 0);
    assert!(
        metrics.detached_started_total() >= 11,
        "ten noisy tails and the quiet one"
    );
    assert_eq!(
        metrics.detached_answered_total(),
        metrics.detached_started_total(),
        "every tail answered exactly once"
    );
    assert_eq!(
        metrics.detached_abandoned_total(AbandonReason::Shutdown),
        10
    );
    let client = api.client(UserInfo::system("test"));
    let pods = client
        .list::<Pod>(Some("noisy"), &ListParams::default())
        .await
        .expect("pods")
        .items;
    for i in 0..10 {
        let name = format!("noisy-{i}");
        let count = pods
            .iter()
            .filter(|p| {
                p.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with(&format!("{name}-")))
            })
            .count();
        assert_eq!(
            count, 3,
            "{name}: batches of 1 and 2 done, the third cut: {count}"
        );
    }
}

/// A restart: `old` Jobs exist, each with a Running pod and a status that is one pod
/// behind (so every resync writes a status, which takes 50 ms); the manager starts and
/// a new Job is created at once in the same namespace. Returns its create → pod latency.
async fn restart_backlog(profile: Profile, old: usize) -> f64 {
    let (api, clock) = api_service();
    let client = api.client(UserInfo::system("test"));
    client
        .create(&typed::<Node>(node_manifest("node-1")))
        .await
        .expect("node");
    for i in 0..old {
        let job: Job = client
            .create(&typed::<Job>(job_in(NAMESPACE, &format!("old-{i:04}"), 1)))
            .await
            .expect("old job");
        let mut stale = job.clone();
        stale.status = Some(typed_status(json!({
            "startTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(epoch()),
            "active": 0, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {},
        })));
        client.update_status(&stale).await.expect("old status");
        let pod: Pod = client
            .create(&typed::<Pod>(owned_pod(&job)))
            .await
            .expect("old pod");
        let name = pod.metadata.name.clone().unwrap_or_default();
        client
            .patch::<Pod>(
                NAMESPACE,
                &name,
                Subresource::Status,
                &PatchBody::Merge(json!({"status": {"phase": "Running"}})),
            )
            .await
            .expect("running");
    }
    let faults: Arc<dyn WriteFaults> = Arc::new(|controller: &str, action: &Action| match action {
        Action::Update {
            object,
            subresource: Subresource::Status,
        } if controller == "job" && object.kind() == ResourceKind::Job => {
            Some(WriteFault::slow(Duration::from_millis(50)))
        }
        _ => None,
    });
    let config = ControllerManagerConfig::for_profile(profile).with_write_faults(faults);
    let cluster = Cluster::start_on(api, clock, config).await;
    let latency =
        create_and_time_first_pod(&cluster, NAMESPACE, job_in(NAMESPACE, "fresh", 1)).await;
    let syncs = cluster
        .manager
        .controller_metrics("job")
        .map_or(0, |m| m.syncs());
    eprintln!(
        "restart backlog ({profile}): the fresh Job's pod after {latency:.3} s, {syncs} Job syncs by then"
    );
    cluster.manager.shutdown().await.expect("clean shutdown");
    latency
}

fn typed_status(value: Value) -> k8s_openapi::api::batch::v1::JobStatus {
    serde_json::from_value(value).expect("job status")
}

/// A pod the Job controls, as its controller would have made it.
fn owned_pod(job: &Job) -> Value {
    let spec = job.spec.as_ref().expect("spec");
    let labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone());
    let name = job.metadata.name.clone().unwrap_or_default();
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("{name}-pod"), "namespace": NAMESPACE, "labels": labels,
            "finalizers": ["batch.kubernetes.io/job-tracking"],
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name,
                "uid": job.metadata.uid, "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": {
            "nodeName": "node-1", "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox"}],
        },
    })
}

#[tokio::test(start_paused = true)]
async fn upstream_a_restart_puts_every_resync_in_front_of_a_new_job() {
    // 600 Jobs, each synced twice (its add, then its pod's add) with a 50 ms status write
    // the first time, on 5 workers: measured 28 s.
    let latency = restart_backlog(Profile::Upstream, 600).await;
    assert!(latency > 3.0, "behind the backlog: {latency} s");
}

#[tokio::test(start_paused = true)]
async fn with_the_fresh_lane_a_new_job_overtakes_a_restart_backlog() {
    let latency = restart_backlog(Profile::Corral, 600).await;
    assert!(latency < 1.0, "a new Job goes first: {latency} s");
}

// --- guards 2, 3, 4 -----------------------------------------------------------------------

fn cronjob(name: &str, policy: &str, annotations: Value) -> Value {
    let mut manifest = cronjob_manifest(name, "*/1 * * * *");
    manifest["spec"]["concurrencyPolicy"] = json!(policy);
    manifest["metadata"]["annotations"] = annotations;
    manifest
}

fn unfinished(jobs: &[Job]) -> usize {
    jobs.iter()
        .filter(|j| {
            let status =
                serde_json::to_value(j.status.clone().unwrap_or_default()).unwrap_or_default();
            condition_true(&status, "Complete").is_none()
                && condition_true(&status, "Failed").is_none()
        })
        .count()
}

/// A Forbid CronJob whose status writes are all lost (504 after the write was sent, as a
/// slow API server's timeout): upstream's Forbid reads only `status.active`. Returns the
/// most unfinished Jobs seen over five slots.
async fn forbid_with_lost_status_writes(profile: Profile) -> (Cluster, usize) {
    let faults: Arc<dyn WriteFaults> = Arc::new(|_: &str, action: &Action| match action {
        Action::Update {
            object,
            subresource: Subresource::Status,
        } if object.kind() == ResourceKind::CronJob => Some(WriteFault::failing(
            Duration::ZERO,
            ApiError::new(
                StatusReason::Timeout,
                "the server was unable to return a response in the time allotted",
            ),
        )),
        _ => None,
    });
    let config = ControllerManagerConfig::for_profile(profile).with_write_faults(faults);
    let cluster = Cluster::start(config).await;
    cluster
        .create::<CronJob>(cronjob("forbid", "Forbid", json!({})))
        .await;
    let mut most = 0;
    for _ in 0..33 {
        tokio::time::sleep(Duration::from_secs(10)).await;
        most = most.max(unfinished(&cluster.list::<Job>().await));
    }
    eprintln!("forbid with lost status writes ({profile}): at most {most} unfinished Jobs");
    (cluster, most)
}

#[tokio::test(start_paused = true)]
async fn upstream_forbid_leaks_a_job_per_slot_when_the_status_write_is_lost() {
    let (cluster, most) = forbid_with_lost_status_writes(Profile::Upstream).await;
    assert!(most >= 3, "one Job per slot: {most}");
    cluster.manager.shutdown().await.expect("clean shutdown");
}

#[tokio::test(start_paused = true)]
async fn with_guard_2_forbid_holds_at_one_unfinished_job_when_the_status_write_is_lost() {
    let (cluster, most) = forbid_with_lost_status_writes(Profile::Corral).await;
    assert_eq!(most, 1, "Forbid holds");
    let events = cluster.list::<Event>().await;
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("JobAlreadyActive")),
        "the skipped slots say why"
    );
    cluster.manager.shutdown().await.expect("clean shutdown");
}

/// An Allow CronJob capped at 2 by annotation; its Jobs never finish (no kubelet).
async fn allow_with_a_cap(profile: Profile) -> (Cluster, usize) {
    let cluster = Cluster::start_profile(profile).await;
    cluster
        .create::<CronJob>(cronjob(
            "allow",
            "Allow",
            json!({"corral.dev/max-unfinished-jobs": "2"}),
        ))
        .await;
    tokio::time::sleep(Duration::from_secs(270)).await;
    let jobs = unfinished(&cluster.list::<Job>().await);
    (cluster, jobs)
}

#[tokio::test(start_paused = true)]
async fn upstream_allow_adds_a_job_every_slot() {
    let (cluster, jobs) = allow_with_a_cap(Profile::Upstream).await;
    assert_eq!(
        jobs, 4,
        "slots at 1, 2, 3 and 4 min; the annotation is ignored"
    );
    let events = cluster.list::<Event>().await;
    assert!(
        !events
            .iter()
            .any(|e| e.reason.as_deref() == Some("TooManyUnfinishedJobs"))
    );
    cluster.manager.shutdown().await.expect("clean shutdown");
}

#[tokio::test(start_paused = true)]
async fn with_guard_3_allow_stops_at_the_cap_with_a_warning() {
    let (cluster, jobs) = allow_with_a_cap(Profile::Corral).await;
    assert_eq!(jobs, 2, "the cap");
    let events = cluster.list::<Event>().await;
    let warning = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("TooManyUnfinishedJobs"))
        .expect("a TooManyUnfinishedJobs event");
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    assert_eq!(warning.involved_object.kind.as_deref(), Some("CronJob"));
    let message = warning.message.clone().unwrap_or_default();
    assert!(
        message.starts_with(
            "Not starting job because the CronJob has 2 unfinished jobs and the limit is 2"
        ),
        "{message}"
    );
    cluster.manager.shutdown().await.expect("clean shutdown");
}

/// An Allow CronJob whose pods cannot be created (admission refuses them) builds a
/// backlog of three pod-less Jobs; then the CronJob is suspended and admission recovers.
/// Returns the cluster, the backlog as it is 3 min after the suspension, and the pods
/// created meanwhile.
async fn suspend_with_a_backlog(profile: Profile) -> (Cluster, Vec<Job>, usize, String) {
    let refusing = Arc::new(AtomicBool::new(true));
    let refuse = Arc::clone(&refusing);
    let faults: Arc<dyn WriteFaults> = Arc::new(move |_: &str, action: &Action| match action {
        Action::Create { object }
            if object.kind() == ResourceKind::Pod && refuse.load(Ordering::SeqCst) =>
        {
            Some(WriteFault::failing(
                Duration::from_secs(1),
                ApiError::new(
                    StatusReason::Forbidden,
                    "pods is forbidden: admission webhook \"policy.example.com\" denied the request",
                ),
            ))
        }
        _ => None,
    });
    let config = ControllerManagerConfig::for_profile(profile).with_write_faults(faults);
    let cluster = Cluster::start(config).await;
    let cron_job = cluster
        .create::<CronJob>(cronjob("backlog", "Allow", json!({})))
        .await;
    tokio::time::sleep(Duration::from_secs(210)).await;
    assert_eq!(
        cluster.list::<Job>().await.len(),
        3,
        "slots at 1, 2 and 3 min"
    );
    assert!(cluster.list::<Pod>().await.is_empty());
    cluster
        .client
        .patch::<CronJob>(
            NAMESPACE,
            "backlog",
            Subresource::Main,
            &PatchBody::Merge(json!({"spec": {"suspend": true}})),
        )
        .await
        .expect("suspend");
    tokio::time::sleep(Duration::from_secs(5)).await;
    refusing.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(180)).await;
    let jobs = cluster.list::<Job>().await;
    let pods = cluster.list::<Pod>().await.len();
    (
        cluster,
        jobs,
        pods,
        cron_job.metadata.uid.unwrap_or_default(),
    )
}

#[tokio::test(start_paused = true)]
async fn upstream_suspend_leaves_the_backlog_running() {
    let (cluster, jobs, pods, _) = suspend_with_a_backlog(Profile::Upstream).await;
    assert_eq!(jobs.len(), 3, "no new Job while suspended");
    assert!(
        pods >= 3,
        "the backlog got its pods once admission recovered: {pods}"
    );
    cluster.manager.shutdown().await.expect("clean shutdown");
}

#[tokio::test(start_paused = true)]
async fn with_guard_4_suspend_suspends_the_backlog() {
    let (cluster, jobs, pods, uid) = suspend_with_a_backlog(Profile::Corral).await;
    assert_eq!(jobs.len(), 3, "no new Job while suspended");
    for job in &jobs {
        let name = job.metadata.name.as_deref().unwrap_or_default();
        assert_eq!(
            job.spec.as_ref().and_then(|s| s.suspend),
            Some(true),
            "{name}"
        );
        let by = job
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("corral.dev/suspended-by-cronjob"));
        assert_eq!(by, Some(&uid), "{name}");
    }
    assert_eq!(pods, 0, "no pod for the suspended backlog");
    let events = cluster.list::<Event>().await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.reason.as_deref() == Some("SuspendedJob"))
            .count(),
        3
    );
    cluster.manager.shutdown().await.expect("clean shutdown");
}

// --- guard 5a -----------------------------------------------------------------------------

/// A kubelet that cannot pull any image: every bound pod gets a waiting
/// `ImagePullBackOff` container status and never starts.
fn stuck_kubelet(cluster: &Cluster) -> tokio::task::JoinHandle<()> {
    let client = cluster.client.clone();
    tokio::spawn(async move {
        let Ok(mut watch) = client.watch::<Pod>(None, &ListParams::default()).await else {
            return;
        };
        while let Some(event) = watch.next().await {
            let (Ok(TypedWatchEvent::Added(pod)) | Ok(TypedWatchEvent::Modified(pod))) = event
            else {
                continue;
            };
            let bound = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_ref())
                .is_some();
            let status = pod.status.clone().unwrap_or_default();
            let reported = status.container_statuses.is_some();
            let terminal = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
            if !bound || reported || terminal || pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let patch = PatchBody::Merge(json!({"status": {
                "phase": "Pending",
                "containerStatuses": [{
                    "name": "main", "image": "does.not/exist", "imageID": "", "ready": false,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ImagePullBackOff",
                        "message": "Back-off pulling image \"does.not/exist\""}},
                }],
            }}));
            let name = pod.metadata.name.clone().unwrap_or_default();
            let namespace = pod.metadata.namespace.clone().unwrap_or_default();
            let _ = client
                .patch::<Pod>(&namespace, &name, Subresource::Status, &patch)
                .await;
        }
    })
}

/// Records every pod state seen (name, phase, status reason, when).
fn pod_recorder(
    cluster: &Cluster,
) -> (
    Arc<Mutex<Vec<(String, String, String, f64)>>>,
    tokio::task::JoinHandle<()>,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let client = cluster.client.clone();
    let clock = Arc::clone(&cluster.clock);
    let task = tokio::spawn(async move {
        let Ok(mut watch) = client.watch::<Pod>(None, &ListParams::default()).await else {
            return;
        };
        while let Some(event) = watch.next().await {
            let (Ok(TypedWatchEvent::Added(pod)) | Ok(TypedWatchEvent::Modified(pod))) = event
            else {
                continue;
            };
            let status = pod.status.clone().unwrap_or_default();
            let at = clock::since(corral_core::Clock::now(clock.as_ref()), epoch()).as_secs_f64();
            record.lock().push((
                pod.metadata.name.clone().unwrap_or_default(),
                status.phase.unwrap_or_default(),
                status.reason.unwrap_or_default(),
                at,
            ));
        }
    });
    (seen, task)
}

fn pull_job(deadline_seconds: &str) -> Value {
    let mut job = job_in(NAMESPACE, "pull", 1);
    job["metadata"]["annotations"] = json!({"corral.dev/start-deadline-seconds": deadline_seconds});
    job["spec"]["template"]["spec"]["containers"][0]["image"] = json!("does.not/exist");
    job
}

#[tokio::test(start_paused = true)]
async fn upstream_an_image_pull_backoff_pod_holds_on_forever() {
    let cluster = Cluster::start_upstream().await;
    cluster.create::<Node>(node_manifest("node-1")).await;
    let kubelet = stuck_kubelet(&cluster);
    cluster.create::<Job>(pull_job("60")).await;
    tokio::time::sleep(Duration::from_secs(300)).await;
    let pods = cluster.list::<Pod>().await;
    assert_eq!(pods.len(), 1);
    let phase = pods[0].status.as_ref().and_then(|s| s.phase.clone());
    assert_eq!(
        phase.as_deref(),
        Some("Pending"),
        "still holding its node after 5 min"
    );
    let job = cluster.get::<Job>("pull").await.expect("job");
    assert_eq!(job.status.and_then(|s| s.failed).unwrap_or(0), 0);
    kubelet.abort();
    cluster.manager.shutdown().await.expect("clean shutdown");
}

#[tokio::test(start_paused = true)]
async fn with_guard_5_a_pod_that_never_starts_is_failed_at_its_start_deadline_and_replaced() {
    // A bound pod whose image cannot be pulled: failed with StartDeadlineExceeded at
    // creation + 60 s (the Job's annotation), counted once as failed, deleted, and replaced
    // after the pod-failure backoff (10 s).
    let cluster = Cluster::start_corral().await;
    cluster.create::<Node>(node_manifest("node-1")).await;
    let kubelet = stuck_kubelet(&cluster);
    let (seen, recorder) = pod_recorder(&cluster);
    cluster.create::<Job>(pull_job("60")).await;
    let job = eventually_every(
        "the Job to count a failed pod",
        Duration::from_secs(1),
        Duration::from_secs(300),
        || async {
            cluster
                .get::<Job>("pull")
                .await
                .filter(|j| j.status.as_ref().and_then(|s| s.failed) == Some(1))
        },
    )
    .await;
    let seen = seen.lock().clone();
    let first = seen.first().map(|(name, ..)| name.clone()).expect("a pod");
    let created_at = seen
        .iter()
        .find(|(name, ..)| *name == first)
        .map(|s| s.3)
        .expect("seen");
    let failed_at = seen
        .iter()
        .find(|(name, phase, reason, _)| {
            *name == first && phase == "Failed" && reason == "StartDeadlineExceeded"
        })
        .map(|s| s.3)
        .expect("the pod was failed with reason StartDeadlineExceeded");
    let waited = failed_at - created_at;
    eprintln!("start deadline: failed {waited:.1} s after creation; states seen: {seen:?}");
    assert!(
        (60.0..=62.0).contains(&waited),
        "failed {waited} s after creation"
    );
    let replacement = eventually_every(
        "a replacement pod",
        Duration::from_secs(1),
        Duration::from_secs(120),
        || async {
            cluster
                .list::<Pod>()
                .await
                .into_iter()
                .find(|p| p.metadata.name.as_deref() != Some(first.as_str()))
        },
    )
    .await;
    let replaced_after =
        clock::since(created(&replacement.metadata).0, epoch()).as_secs_f64() - failed_at;
    assert!(
        (10.0..=12.0).contains(&replaced_after),
        "the replacement waits the pod-failure backoff: {replaced_after} s"
    );
    assert_eq!(
        job.status.as_ref().and_then(|s| s.failed),
        Some(1),
        "counted once"
    );
    let events = cluster.list::<Event>().await;
    let warning = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("StartDeadlineExceeded"))
        .expect("a StartDeadlineExceeded event");
    assert_eq!(warning.involved_object.kind.as_deref(), Some("Job"));
    let message = warning.message.clone().unwrap_or_default();
    assert!(message.contains("ImagePullBackOff"), "{message}");
    kubelet.abort();
    recorder.abort();
    cluster.manager.shutdown().await.expect("clean shutdown");
}

// --- guard 7 -----------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn the_manager_turns_webhook_breaker_transitions_into_events_and_metrics() {
    // Five 30 s timeouts trip the breaker; the manager's 1 s poll records a Warning
    // WebhookCircuitOpen Event on the configuration (namespace default) and the metric.
    let breakers = SharedBreakers::new(BreakerConfig::corral());
    let config = ControllerManagerConfig::corral().with_webhook_breakers(breakers.clone());
    let cluster = Cluster::start(config).await;
    let key = BreakerKey::new(ConfigurationKind::Mutating, "snowball", "slow.example.com");
    let identity = ConfigurationIdentity {
        uid: "uid-1".into(),
        generation: 1,
    };
    for _ in 0..5 {
        let now = cluster.now();
        let target = CallTarget {
            key: &key,
            identity: &identity,
            failure_policy: FailurePolicy::Ignore,
            timeout: Duration::from_secs(30),
        };
        let decision = breakers.lock().admit(&target, now);
        let Decision::Call(permit) = decision else {
            panic!("closed: the call is made, got {decision:?}");
        };
        tokio::time::sleep(Duration::from_secs(30)).await;
        let report = CallReport {
            finished_at: cluster.now(),
            failure: Some(FailureReport {
                kind: "timeout",
                message: "context deadline exceeded".into(),
            }),
        };
        breakers.lock().record(permit, report);
    }
    let event = eventually(
        "the WebhookCircuitOpen event",
        Duration::from_secs(5),
        || async {
            cluster
                .list::<Event>()
                .await
                .into_iter()
                .find(|e| e.reason.as_deref() == Some("WebhookCircuitOpen"))
        },
    )
    .await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(
        event.involved_object.kind.as_deref(),
        Some("MutatingWebhookConfiguration")
    );
    assert_eq!(event.involved_object.name.as_deref(), Some("snowball"));
    let message = event.message.clone().unwrap_or_default();
    assert!(
        message.contains("circuit open after 5 consecutive"),
        "{message}"
    );
    let metrics = cluster.manager.metrics().render();
    assert!(
        metrics.lines().any(
            |l| l.starts_with("corral_webhook_breaker_transitions_total{")
                && l.contains("to=\"Open\"")
                && l.ends_with(" 1")
        ),
        "{metrics}"
    );
    cluster.manager.shutdown().await.expect("clean shutdown");
}
