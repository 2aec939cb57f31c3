//! The driver's own mechanics, with small test cores instead of real controllers: queue
//! deduplication under bursts, prompt zero-delay requeues, rate-limited retries, plan
//! execution (stages, skip-rest, events through the recorder, binds through
//! `pods/binding`) and shutdown.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::{Cluster, api_service, eventually, node_manifest, typed};
use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_apiserver::ApiService;
use corral_apiserver::service::{DeleteParams, ListParams, UserInfo};
use corral_core::{
    Action, Enqueue, EventRecord, EventType, ObjectCache, ObjectEvent, Outcome, PatchBody, Plan,
    QueueConfig, RateLimiter, Reconciler, Subresource, SyncResult, Timestamp,
};
use corral_runtime::signal::{shutdown_channel, synced_channel};
use corral_runtime::{
    ClientRateLimit, ControllerDriver, ControllerManagerConfig, InformerConfig, PlanExecutor,
    RuntimeMetrics, SharedInformer, TokioClock,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node, Pod};
use parking_lot::Mutex;
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// A core that counts reconciles per key; its plan is `actions` (cloned) and each key is
/// requeued at once `requeues` times before it settles.
struct Counting {
    syncs: Arc<Mutex<BTreeMap<String, usize>>>,
    actions: Vec<Action>,
    requeues: usize,
    fail: bool,
}

impl Reconciler for Counting {
    fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            name: "counting",
            workers: 3,
            rate_limiter: RateLimiter::item_exponential(
                Duration::from_secs(1),
                Duration::from_secs(60),
            ),
        }
    }
    fn watched_kinds(&self) -> &'static [ResourceKind] {
        &[]
    }
    fn handle_event(
        &mut self,
        _: &ObjectEvent,
        _: Option<&KubeObject>,
        _: &ObjectCache,
        _: Timestamp,
    ) -> Vec<Enqueue> {
        Vec::new()
    }
    fn reconcile(&mut self, _: &ObjectCache, key: &ObjectKey, _: Timestamp) -> Plan {
        *self.syncs.lock().entry(key.name.clone()).or_default() += 1;
        let mut plan = Plan::empty();
        for action in &self.actions {
            plan.push(action.clone());
        }
        plan
    }
    fn handle_outcomes(
        &mut self,
        key: &ObjectKey,
        _: &Plan,
        _: &[Outcome],
        _: Timestamp,
    ) -> SyncResult {
        let syncs = self.syncs.lock().get(&key.name).copied().unwrap_or(0);
        if self.fail {
            return SyncResult::Retry {
                reason: "test failure".into(),
            };
        }
        let again = syncs <= self.requeues;
        SyncResult::Done {
            requeue_after: again.then_some(Duration::ZERO),
        }
    }
}

struct Harness {
    driver: ControllerDriver<Counting>,
    syncs: Arc<Mutex<BTreeMap<String, usize>>>,
    trigger: corral_runtime::signal::ShutdownTrigger,
    tasks: JoinSet<()>,
}

fn executor(api: &ApiService, clock: Arc<TokioClock>, limit: ClientRateLimit) -> PlanExecutor {
    PlanExecutor::new(
        "counting",
        api,
        UserInfo::system("counting"),
        limit,
        clock,
        8,
    )
}

fn start(
    api: &ApiService,
    clock: Arc<TokioClock>,
    core: Counting,
    limit: ClientRateLimit,
) -> Harness {
    let syncs = core.syncs.clone();
    let informer = SharedInformer::new(
        api.clone(),
        InformerConfig::default(),
        clock.clone(),
        RuntimeMetrics::new(),
    );
    let metrics = RuntimeMetrics::new().controller("counting");
    let driver = ControllerDriver::new(
        core,
        informer.cache(),
        executor(api, clock.clone(), limit),
        clock,
        metrics,
        None,
    );
    let (trigger, shutdown) = shutdown_channel();
    let (synced_trigger, synced) = synced_channel();
    synced_trigger.mark_synced();
    let mut tasks = JoinSet::new();
    driver.spawn(&mut tasks, shutdown, synced);
    Harness {
        driver,
        syncs,
        trigger,
        tasks,
    }
}

fn counting(actions: Vec<Action>, requeues: usize, fail: bool) -> Counting {
    Counting {
        syncs: Arc::default(),
        actions,
        requeues,
        fail,
    }
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new(ResourceKind::ConfigMap, "default", name)
}

/// A write that fails harmlessly (NotFound) and takes a client token.
fn harmless_write() -> Action {
    Action::delete(key("does-not-exist"), None, None)
}

async fn wait_idle(driver: &ControllerDriver<Counting>) {
    eventually("the queue to drain", Duration::from_secs(60), || async {
        let stats = driver.queue_stats();
        (stats.is_idle() && stats.waiting == 0).then_some(())
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_adds_for_one_key_costs_one_more_sync_not_one_per_add() {
    // Method: the client allows one request per second, so the first sync of "hot" holds
    // its worker for a second; 1,000 adds of "hot" and 1,000 of ten other keys arrive
    // meanwhile. Upstream's dedup: "hot" runs once more, each other key once.
    let (api, clock) = api_service();
    let limit = ClientRateLimit { qps: 1.0, burst: 1 };
    let mut h = start(
        &api,
        clock,
        counting(vec![harmless_write(), harmless_write()], 0, false),
        limit,
    );
    h.driver.enqueue(vec![Enqueue::now(key("hot"))]);
    eventually(
        "the first sync to start",
        Duration::from_secs(5),
        || async { (h.driver.queue_stats().processing == 1).then_some(()) },
    )
    .await;
    for i in 0..1000 {
        h.driver.enqueue(vec![
            Enqueue::now(key("hot")),
            Enqueue::now(key(&format!("other-{}", i % 10))),
        ]);
    }
    // One entry per key; "hot" is not ready while its worker holds it (it is marked dirty
    // and goes back to the ready queue when that sync is done).
    assert_eq!(h.driver.queue_stats().ready, 10);
    wait_idle(&h.driver).await;
    let syncs = h.syncs.lock().clone();
    assert_eq!(syncs.get("hot"), Some(&2));
    assert_eq!(syncs.len(), 11);
    assert!(
        syncs
            .iter()
            .filter(|(k, _)| k.starts_with("other"))
            .all(|(_, n)| *n == 1)
    );
    h.trigger.trigger();
    while h.tasks.join_next().await.is_some() {}
}

#[tokio::test(start_paused = true)]
async fn zero_delay_requeues_run_at_once() {
    // The CronJob controller's follow-up syncs use `requeue_after: Some(0)`.
    let (api, clock) = api_service();
    let mut h = start(
        &api,
        clock,
        counting(Vec::new(), 5, false),
        ClientRateLimit::UNLIMITED,
    );
    let start = Instant::now();
    h.driver.enqueue(vec![Enqueue::now(key("again"))]);
    eventually("six syncs", Duration::from_secs(5), || async {
        (h.syncs.lock().get("again") == Some(&6)).then_some(())
    })
    .await;
    assert!(
        start.elapsed() <= Duration::from_millis(100),
        "no timer involved: {:?}",
        start.elapsed()
    );
    wait_idle(&h.driver).await;
    assert_eq!(h.syncs.lock().get("again"), Some(&6));
    h.trigger.trigger();
    while h.tasks.join_next().await.is_some() {}
}

#[tokio::test(start_paused = true)]
async fn failed_syncs_are_retried_with_the_queues_exponential_backoff() {
    let (api, clock) = api_service();
    let mut h = start(
        &api,
        clock,
        counting(Vec::new(), 0, true),
        ClientRateLimit::UNLIMITED,
    );
    let start = Instant::now();
    h.driver.enqueue(vec![Enqueue::now(key("failing"))]);
    // Retries after 1 s, 2 s, 4 s: the 4th sync happens at 7 s.
    eventually("four syncs", Duration::from_secs(30), || async {
        (h.syncs.lock().get("failing") >= Some(&4)).then_some(())
    })
    .await;
    let at = start.elapsed();
    assert!(
        at >= Duration::from_secs(7) && at < Duration::from_millis(7200),
        "4th sync at {at:?}"
    );
    assert_eq!(h.driver.metrics().retries(), 4);
    h.trigger.trigger();
    while h.tasks.join_next().await.is_some() {}
}

fn config_map_create(namespace: &str, name: &str) -> Action {
    let object: ConfigMap = typed(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}}),
    );
    Action::Create {
        object: object.into(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_skip_rest_stage_skips_every_later_stage() {
    let (api, clock) = api_service();
    let executor = executor(&api, clock, ClientRateLimit::UNLIMITED);
    let mut plan = Plan::empty();
    plan.then_or_stop(vec![
        config_map_create("default", "first"),
        config_map_create("missing", "doomed"),
    ]);
    plan.then(vec![config_map_create("default", "never")]);
    let outcomes = executor.execute(&plan).await;
    assert!(
        matches!(outcomes[0], Outcome::Done(Some(_))),
        "{:?}",
        outcomes[0]
    );
    assert!(
        outcomes[1].is_failure(),
        "namespace missing: {:?}",
        outcomes[1]
    );
    assert_eq!(outcomes[2], Outcome::Skipped);

    let mut continuing = Plan::empty();
    continuing.then(vec![config_map_create("missing", "doomed")]);
    continuing.then(vec![config_map_create("default", "after")]);
    let outcomes = executor.execute(&continuing).await;
    assert!(outcomes[0].is_failure());
    assert!(
        matches!(outcomes[1], Outcome::Done(Some(_))),
        "Continue stages go on"
    );
    let client = api.client(UserInfo::system("test"));
    let names: Vec<String> = client
        .list::<ConfigMap>(Some("default"), &ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(names, vec!["after".to_string(), "first".to_string()]);
}

#[tokio::test(start_paused = true)]
async fn repeated_events_bump_one_event_object_and_a_deleted_one_is_recreated() {
    let (api, clock) = api_service();
    let executor = executor(&api, clock, ClientRateLimit::UNLIMITED);
    let client = api.client(UserInfo::system("test"));
    let job: Job = client
        .create(&typed::<Job>(common::job_manifest("noisy", 6, None)))
        .await
        .expect("job");
    let record = EventRecord::about(
        &job.into(),
        EventType::Warning,
        "FailedCreate",
        "Error creating: quota",
        "job-controller",
    );
    let list = || async {
        client
            .list::<Event>(Some("default"), &ListParams::default())
            .await
            .expect("list")
            .items
    };
    executor
        .execute_action(&Action::Event(record.clone()))
        .await;
    executor
        .execute_action(&Action::Event(record.clone()))
        .await;
    let events = list().await;
    assert_eq!(events.len(), 1, "identical events share one object");
    assert_eq!(events[0].count, Some(2));
    let name = events[0].metadata.name.clone().unwrap_or_default();
    client
        .delete::<Event>("default", &name, &DeleteParams::default())
        .await
        .expect("delete");
    let outcome = executor.execute_action(&Action::Event(record)).await;
    assert!(matches!(outcome, Outcome::Done(Some(_))), "{outcome:?}");
    let events = list().await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].metadata.name.as_deref(),
        Some(name.as_str()),
        "recreated under its name"
    );
    assert_eq!(events[0].count, Some(3));
}

#[tokio::test(start_paused = true)]
async fn a_node_name_patch_binds_through_the_binding_subresource_with_a_uid_check() {
    let (api, clock) = api_service();
    let executor = executor(&api, clock, ClientRateLimit::UNLIMITED);
    let client = api.client(UserInfo::system("test"));
    client
        .create(&typed::<Node>(node_manifest("node-1")))
        .await
        .expect("node");
    let pod: Pod = client
        .create(&typed::<Pod>(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "main", "image": "busybox"}]}})))
        .await
        .expect("pod");
    let bind = |uid: &str| Action::Patch {
        key: ObjectKey::new(ResourceKind::Pod, "default", "p"),
        subresource: Subresource::Main,
        patch: PatchBody::Merge(json!({"metadata": {"uid": uid}, "spec": {"nodeName": "node-1"}})),
    };
    let stale = executor.execute_action(&bind("someone-else")).await;
    assert_eq!(stale.error().map(|e| e.code), Some(409), "{stale:?}");
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let Outcome::Done(Some(bound)) = executor.execute_action(&bind(&uid)).await else {
        panic!("the bind succeeds");
    };
    let bound = bound.as_typed::<Pod>().cloned().expect("a pod");
    assert_eq!(
        bound.spec.and_then(|s| s.node_name).as_deref(),
        Some("node-1")
    );
    let again = executor.execute_action(&bind(&uid)).await;
    assert_eq!(
        again.error().map(|e| e.code),
        Some(409),
        "a bound pod cannot be bound again"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_every_task_and_closes_every_watch() {
    let cluster = Cluster::start(ControllerManagerConfig::default()).await;
    assert!(cluster.manager.running_tasks() > 0);
    assert!(
        cluster.api.hub().watcher_count() > 0,
        "the informer watches"
    );
    cluster
        .create::<Job>(common::job_manifest("busy", 6, None))
        .await;
    eventually("the pod", Duration::from_secs(30), || async {
        (!cluster.list::<Pod>().await.is_empty()).then_some(())
    })
    .await;
    let api = cluster.api.clone();
    cluster.manager.shutdown().await.expect("clean shutdown");
    assert_eq!(api.hub().watcher_count(), 0, "every watch closed");
}
