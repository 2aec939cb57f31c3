//! Guard 1's driver contract on the real driver, with a small test core instead of the Job
//! controller: detached tails free the worker and the key, are answered exactly once (with
//! real outcomes, or `Failed` at shutdown and timeout), are capped (inline at the cap), do
//! not detach when an inline stage stopped the plan; fair queues get a class on every add,
//! FIFO queues are never asked for one.
//!
//! Method: the core's plans write ConfigMaps through the real API service; writes named
//! `slow-*` take 20 s (virtual) through the runtime's write-fault seam, as a slow admission
//! webhook would. The core records every call the driver makes.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::{api_service, eventually, typed};
use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_apiserver::ApiService;
use corral_apiserver::service::UserInfo;
use corral_core::{
    Action, Enqueue, FairClass, FairQueueConfig, ObjectCache, ObjectEvent, Outcome, Plan,
    QueueConfig, QueueDiscipline, RateLimiter, Reconciler, SyncResult, Timestamp,
};
use corral_runtime::signal::{ShutdownTrigger, shutdown_channel, synced_channel};
use corral_runtime::{
    AbandonReason, ClientRateLimit, ControllerDriver, DriverOptions, InformerConfig, PlanExecutor,
    RuntimeMetrics, SharedInformer, TokioClock, WriteFault, WriteFaults,
};
use k8s_openapi::api::core::v1::ConfigMap;
use parking_lot::Mutex;
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::Instant;

const SLOW: Duration = Duration::from_secs(20);

/// Everything the driver told the core, per key.
#[derive(Debug, Default)]
struct Log {
    /// Plans handed out.
    reconciles: BTreeMap<String, usize>,
    /// `handle_outcomes`: (outcomes given, actions in the plan).
    outcomes: BTreeMap<String, Vec<(usize, usize)>>,
    /// `handle_detached_outcomes`: the outcomes, with the virtual time of the answer.
    detached: BTreeMap<String, Vec<(Vec<Outcome>, Duration)>>,
    /// Order of reconciles.
    order: Vec<String>,
    /// `fairness_class` calls.
    classes: usize,
}

struct Detaching {
    log: Arc<Mutex<Log>>,
    start: Instant,
    fair: bool,
    /// The inline stage stops the plan (a create in a missing namespace).
    fail_inline: bool,
}

fn config_map(namespace: &str, name: &str) -> Action {
    let object: ConfigMap = typed(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace}}));
    Action::Create {
        object: object.into(),
    }
}

impl Reconciler for Detaching {
    fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            name: "detaching",
            workers: 1,
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
        let mut log = self.log.lock();
        let n = {
            let count = log.reconciles.entry(key.name.clone()).or_default();
            *count += 1;
            *count
        };
        log.order.push(key.name.clone());
        let mut plan = Plan::empty();
        let inline_namespace = if self.fail_inline {
            "missing"
        } else {
            "default"
        };
        plan.then_or_stop(vec![config_map(
            inline_namespace,
            &format!("inline-{}-{n}", key.name),
        )]);
        plan.detach_rest();
        plan.then_or_stop(vec![
            config_map("default", &format!("slow-{}-{n}-a", key.name)),
            config_map("default", &format!("slow-{}-{n}-b", key.name)),
        ]);
        plan.then(vec![config_map(
            "default",
            &format!("after-{}-{n}", key.name),
        )]);
        plan
    }
    fn handle_outcomes(
        &mut self,
        key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        _: Timestamp,
    ) -> SyncResult {
        self.log
            .lock()
            .outcomes
            .entry(key.name.clone())
            .or_default()
            .push((outcomes.len(), plan.action_count()));
        SyncResult::Done {
            requeue_after: None,
        }
    }
    fn queue_discipline(&self) -> QueueDiscipline {
        if self.fair {
            QueueDiscipline::Fair(FairQueueConfig::default())
        } else {
            QueueDiscipline::Fifo
        }
    }
    fn fairness_class(&self, _: &ObjectCache, key: &ObjectKey) -> FairClass {
        self.log.lock().classes += 1;
        FairClass::new(key.namespace.clone(), key.name.clone())
    }
    fn handle_detached_outcomes(
        &mut self,
        key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        _: Timestamp,
    ) -> SyncResult {
        let start = plan.detached_action_start().expect("a detached plan");
        assert_eq!(
            outcomes.len(),
            plan.action_count() - start,
            "index-aligned from detached_action_start"
        );
        self.log
            .lock()
            .detached
            .entry(key.name.clone())
            .or_default()
            .push((outcomes.to_vec(), self.start.elapsed()));
        SyncResult::Done {
            requeue_after: None,
        }
    }
}

struct Harness {
    driver: ControllerDriver<Detaching>,
    log: Arc<Mutex<Log>>,
    trigger: ShutdownTrigger,
    tasks: JoinSet<()>,
    start: Instant,
}

fn slow_configmaps() -> Arc<dyn WriteFaults> {
    Arc::new(|_: &str, action: &Action| match action {
        Action::Create { object } if object.name().starts_with("slow-") => {
            Some(WriteFault::slow(SLOW))
        }
        _ => None,
    })
}

fn start(
    api: &ApiService,
    clock: Arc<TokioClock>,
    core: Detaching,
    options: DriverOptions,
) -> Harness {
    let log = Arc::clone(&core.log);
    let start = core.start;
    let informer = SharedInformer::new(
        api.clone(),
        InformerConfig::default(),
        clock.clone(),
        RuntimeMetrics::new(),
    );
    let executor = PlanExecutor::new(
        "detaching",
        api,
        UserInfo::system("detaching"),
        ClientRateLimit::UNLIMITED,
        clock.clone(),
        8,
    )
    .with_faults(Some(slow_configmaps()));
    let driver = ControllerDriver::with_options(
        core,
        informer.cache(),
        executor,
        clock,
        RuntimeMetrics::new().controller("detaching"),
        options,
    );
    let (trigger, shutdown) = shutdown_channel();
    let (synced_trigger, synced) = synced_channel();
    synced_trigger.mark_synced();
    let mut tasks = JoinSet::new();
    driver.spawn(&mut tasks, shutdown, synced);
    Harness {
        driver,
        log,
        trigger,
        tasks,
        start,
    }
}

fn core(fair: bool, fail_inline: bool) -> Detaching {
    Detaching {
        log: Arc::default(),
        start: Instant::now(),
        fair,
        fail_inline,
    }
}

fn key(namespace: &str, name: &str) -> ObjectKey {
    ObjectKey::new(ResourceKind::ConfigMap, namespace, name)
}

impl Harness {
    async fn stop(mut self) -> Arc<Mutex<Log>> {
        self.trigger.trigger();
        while let Some(joined) = self.tasks.join_next().await {
            joined.expect("driver task");
        }
        self.log
    }

    async fn wait_idle(&self) {
        eventually(
            "the driver to be idle",
            Duration::from_secs(120),
            || async {
                let stats = self.driver.queue_stats();
                (stats.is_idle() && stats.waiting == 0).then_some(())
            },
        )
        .await;
    }
}

fn assert_done(outcomes: &[Outcome]) {
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Done(Some(_)))),
        "{outcomes:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_detached_tail_frees_the_worker_and_the_key_and_is_answered_once() {
    // One worker. Key "a" detaches a 20 s tail; "b", added next, is synced at once, and
    // so is "a" again while its first tail is out (the key was released). Each tail is
    // answered once, 20 s after it started, with the real outcomes.
    let (api, clock) = api_service();
    let h = start(&api, clock, core(false, false), DriverOptions::default());
    h.driver.enqueue(vec![Enqueue::now(key("default", "a"))]);
    eventually("a's tail to be out", Duration::from_secs(1), || async {
        (h.driver.detached_outstanding() == 1).then_some(())
    })
    .await;
    assert_eq!(
        h.log.lock().outcomes.get("a"),
        Some(&vec![(1, 4)]),
        "handle_outcomes got only the inline outcome"
    );
    h.driver.enqueue(vec![
        Enqueue::now(key("default", "b")),
        Enqueue::now(key("default", "a")),
    ]);
    eventually("b and a synced again", Duration::from_secs(1), || async {
        (h.log.lock().order.len() == 3).then_some(())
    })
    .await;
    assert!(
        h.start.elapsed() < Duration::from_secs(1),
        "the worker was free at once: {:?}",
        h.start.elapsed()
    );
    assert_eq!(h.driver.queue_stats().detached, 3);
    h.wait_idle().await;
    let log = h.stop().await;
    {
        let log = log.lock();
        assert_eq!(log.reconciles.get("a"), Some(&2));
        let a = log.detached.get("a").expect("a's tails answered");
        assert_eq!(a.len(), 2, "two plans, two answers");
        for (outcomes, at) in a.iter().chain(log.detached.get("b").expect("b answered")) {
            assert_eq!(outcomes.len(), 3);
            assert_done(outcomes);
            assert!(
                *at >= SLOW && *at < SLOW + Duration::from_secs(1),
                "answered when the slow writes finished: {at:?}"
            );
        }
    }
    let client = api.client(UserInfo::system("test"));
    let after = client
        .get::<ConfigMap>("default", "after-a-2")
        .await
        .expect("the tail's last stage ran");
    assert_eq!(after.metadata.name.as_deref(), Some("after-a-2"));
}

#[tokio::test(start_paused = true)]
async fn at_the_cap_a_detachable_plan_runs_inline_marker_and_all() {
    let (api, clock) = api_service();
    let options = DriverOptions {
        detached_max: 1,
        ..DriverOptions::default()
    };
    let h = start(&api, clock, core(false, false), options);
    h.driver.enqueue(vec![
        Enqueue::now(key("default", "a")),
        Enqueue::now(key("default", "b")),
    ]);
    h.wait_idle().await;
    assert_eq!(h.driver.metrics().detached_inline_total(), 1);
    assert_eq!(h.driver.metrics().detached_started_total(), 1);
    let log = h.stop().await;
    let log = log.lock();
    assert_eq!(log.outcomes.get("a"), Some(&vec![(1, 4)]), "a detached");
    assert_eq!(
        log.outcomes.get("b"),
        Some(&vec![(4, 4)]),
        "b ran inline, whole"
    );
    assert!(!log.detached.contains_key("b"));
    assert_eq!(log.detached.get("a").map(Vec::len), Some(1));
}

#[tokio::test(start_paused = true)]
async fn an_inline_stage_that_stops_the_plan_prevents_the_detach() {
    let (api, clock) = api_service();
    let h = start(&api, clock, core(false, true), DriverOptions::default());
    h.driver.enqueue(vec![Enqueue::now(key("default", "a"))]);
    h.wait_idle().await;
    assert_eq!(h.driver.metrics().detached_started_total(), 0);
    assert_eq!(
        h.driver.detached_outstanding(),
        0,
        "the slot was given back"
    );
    let log = h.stop().await;
    let log = log.lock();
    assert_eq!(
        log.outcomes.get("a"),
        Some(&vec![(4, 4)]),
        "every outcome at once"
    );
    assert!(log.detached.is_empty());
}

#[tokio::test(start_paused = true)]
async fn shutdown_answers_every_outstanding_tail_once_with_failed() {
    // Goal: exactly once across shutdown. Five tails are out when shutdown is triggered;
    // stopping the driver answers each once, `Failed` (503) for every write not done,
    // before the driver's tasks end.
    let (api, clock) = api_service();
    let h = start(&api, clock, core(false, false), DriverOptions::default());
    let keys: Vec<Enqueue> = (0..5)
        .map(|i| Enqueue::now(key("default", &format!("k{i}"))))
        .collect();
    h.driver.enqueue(keys);
    eventually("five tails out", Duration::from_secs(1), || async {
        (h.driver.detached_outstanding() == 5).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let metrics = h.driver.metrics().clone();
    let driver = h.driver.clone();
    let log = h.stop().await;
    assert_eq!(driver.detached_outstanding(), 0);
    assert_eq!(metrics.detached_started_total(), 5);
    assert_eq!(metrics.detached_answered_total(), 5);
    assert_eq!(metrics.detached_abandoned_total(AbandonReason::Shutdown), 5);
    let log = log.lock();
    for i in 0..5 {
        let answers = log.detached.get(&format!("k{i}")).expect("answered");
        assert_eq!(answers.len(), 1, "exactly once");
        let (outcomes, at) = &answers[0];
        assert!(
            *at >= Duration::from_secs(5) && *at < Duration::from_secs(6),
            "at shutdown, not after the writes: {at:?}"
        );
        assert!(
            outcomes
                .iter()
                .all(|o| o.error().is_some_and(|e| e.code == 503)),
            "{outcomes:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_tail_running_past_the_timeout_is_answered_failed() {
    let (api, clock) = api_service();
    let options = DriverOptions {
        detached_timeout: Duration::from_secs(5),
        ..DriverOptions::default()
    };
    let h = start(&api, clock, core(false, false), options);
    h.driver.enqueue(vec![Enqueue::now(key("default", "a"))]);
    h.wait_idle().await;
    assert_eq!(
        h.driver
            .metrics()
            .detached_abandoned_total(AbandonReason::Timeout),
        1
    );
    let log = h.stop().await;
    let log = log.lock();
    let answers = log.detached.get("a").expect("answered");
    assert_eq!(answers.len(), 1);
    let (outcomes, at) = &answers[0];
    assert!(
        *at >= Duration::from_secs(5) && *at < Duration::from_secs(6),
        "at the timeout: {at:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| o.error().is_some_and(|e| e.code == 504)),
        "{outcomes:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_fair_queue_serves_a_quiet_namespace_next_and_a_fifo_queue_never_asks_for_classes() {
    // One worker; 50 keys of namespace "busy" queued before one of "quiet". The fair queue
    // serves "quiet" within two pops; every add (the 51 enqueues) asked for a class.
    let (api, clock) = api_service();
    let fair = start(
        &api,
        clock.clone(),
        core(true, false),
        DriverOptions::default(),
    );
    let mut keys: Vec<Enqueue> = (0..50)
        .map(|i| Enqueue::now(key("busy", &format!("b{i:02}"))))
        .collect();
    keys.push(Enqueue::now(key("quiet", "q")));
    fair.driver.enqueue(keys.clone());
    assert!(fair.driver.is_fair());
    fair.wait_idle().await;
    let log = fair.stop().await;
    {
        let log = log.lock();
        let position = log.order.iter().position(|k| k == "q").expect("q synced");
        assert!(position <= 1, "quiet served at pop {position}");
        assert_eq!(log.classes, 51, "one class per add");
    }

    let (api, clock) = api_service();
    let fifo = start(&api, clock, core(false, false), DriverOptions::default());
    fifo.driver.enqueue(keys);
    assert!(!fifo.driver.is_fair());
    fifo.wait_idle().await;
    let log = fifo.stop().await;
    let log = log.lock();
    assert_eq!(
        log.order.last().map(String::as_str),
        Some("q"),
        "FIFO: last"
    );
    assert_eq!(log.classes, 0, "a FIFO queue never asks for a class");
}
