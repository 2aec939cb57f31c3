//! [`ControllerManager`]: what `corral up` runs beside the API server. One shared
//! informer (one cache) feeds every controller; each controller gets its own driver, work
//! queue, event recorder and rate-limited API client (its own identity, as upstream's
//! per-controller service accounts):
//!
//! | controller | queue | workers (default) | user |
//! |---|---|---|---|
//! | Job | `job` | 5 | `system:job-controller` |
//! | CronJob (v2) | `cronjob` | 5 | `system:cronjob-controller` |
//! | garbage collector | `garbage_collector_attempt_to_delete` | 20 | `system:generic-garbage-collector` |
//! | TTL after finished | `ttl_jobs_to_delete` | 5 | `system:ttl-after-finished-controller` |
//! | pod GC | `pod-garbage-collector` | 1 | `system:pod-garbage-collector` |
//! | ResourceQuota | `resourcequota_primary` | 5 | `system:resourcequota-controller` |
//! | ServiceAccounts | `serviceaccount` | 1 | `system:service-account-controller` |
//! | scheduler | `scheduler` | 1 | `system:kube-scheduler` |
//!
//! Further cores are passed in as [`AdditionalController`]s and run the same way.
//!
//! # Profiles
//!
//! [`ControllerManagerConfig::corral`] (= `Default`, what `corral up` runs) turns Corral's
//! guards on (`docs/guards.md`): the Job controller with `JobGuards::corral()` (fair queue
//! with a fresh lane, detached pod creates, start and creation-failure deadlines), the
//! CronJob controller with `CronJobGuards::corral()` (Forbid by owner, the unfinished-Job
//! cap, suspend reaching the backlog, the next-run annotation) and a client limit for
//! batch-heavy clusters ([`ClientRateLimit::CORRAL`]). [`ControllerManagerConfig::upstream`]
//! is upstream-faithful: every guard off and kube-controller-manager's constants (20 QPS,
//! burst 30). [`Profile`] names them for a `--profile corral|upstream` flag.
//!
//! The knob structs of the cores (`JobGuards`, `CronJobGuards`, `BreakerConfig`) keep
//! `Default` = upstream, so a core tested on its own is upstream; this *configuration of
//! the running product* defaults to the product.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_apiserver::ApiService;
use corral_apiserver::service::UserInfo;
use corral_controllers::cronjob::{CronJobControllerConfig, CronJobGuards, CronJobProfile};
use corral_controllers::gc::{GarbageCollector, GarbageCollectorConfig};
use corral_controllers::job::{JobController, JobControllerConfig, JobGuards};
use corral_controllers::podgc::{PodGcConfig, PodGcController};
use corral_controllers::quota::{ResourceQuotaConfig, ResourceQuotaController};
use corral_controllers::serviceaccount::{ServiceAccountsConfig, ServiceAccountsController};
use corral_controllers::ttl::{TtlAfterFinishedConfig, TtlAfterFinishedController};
use corral_core::{
    Clock, Enqueue, FairClass, ObjectCache, ObjectEvent, Outcome, Plan, QueueConfig,
    QueueDiscipline, Reconciler, SyncResult, Timestamp,
};
use corral_registry::admission::SharedBreakers;
use corral_scheduler::{Scheduler, SchedulerConfig};
use tokio::task::JoinSet;

use crate::breaker_events::{BREAKER_POLL_INTERVAL, BreakerEvents};
use crate::clock::SystemClock;
use crate::controller::{
    ControllerDriver, DETACHED_MAX_DEFAULT, DETACHED_TIMEOUT_DEFAULT, DriverOptions, QueueStats,
};
use crate::error::{ShutdownError, UnknownController, UnknownProfile};
use crate::execute::PlanExecutor;
use crate::faults::WriteFaults;
use crate::informer::{CacheReader, EventHandler, InformerConfig, SharedInformer};
use crate::metrics::{ControllerMetrics, RuntimeMetrics};
use crate::ratelimit::ClientRateLimit;
use crate::signal::{Shutdown, ShutdownTrigger, Synced, shutdown_channel};

/// A controller core handed in from outside (any [`Reconciler`]).
pub struct AdditionalController {
    pub core: Box<dyn Reconciler + Send>,
    /// The identity of its API client, e.g. `resourcequota-controller`
    /// (`system:` is prepended).
    pub user: String,
    /// Overrides `queue_config().workers`.
    pub workers: Option<usize>,
}

impl std::fmt::Debug for AdditionalController {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdditionalController")
            .field("queue", &self.core.queue_config().name)
            .field("user", &self.user)
            .finish()
    }
}

/// Which settings the controller manager starts from (`corral up --profile …`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Corral's guards on: what `corral up` runs unless told otherwise.
    #[default]
    Corral,
    /// Upstream-faithful: every guard off, kube-controller-manager's constants.
    Upstream,
}

impl Profile {
    /// The flag values, in help order.
    pub const NAMES: &'static [&'static str] = &["corral", "upstream"];

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Corral => "corral",
            Profile::Upstream => "upstream",
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(name: &str) -> Result<Profile, UnknownProfile> {
        match name {
            "corral" => Ok(Profile::Corral),
            "upstream" => Ok(Profile::Upstream),
            _ => Err(UnknownProfile(name.to_string())),
        }
    }
}

/// What to run and how. `Default` is [`ControllerManagerConfig::corral`]: every built-in
/// controller, Corral's guards on, on the wall clock; `None` disables a controller.
pub struct ControllerManagerConfig {
    /// Where every controller reads `now` (use the API service's clock).
    pub clock: Arc<dyn Clock>,
    /// Each controller's client limit (upstream: 20 QPS, burst 30; Corral:
    /// [`ClientRateLimit::CORRAL`]). Detached tails share it.
    pub client_rate_limit: ClientRateLimit,
    pub informer: InformerConfig,
    /// Register these in the API server's registry to expose them on `/metrics`.
    pub metrics: RuntimeMetrics,
    /// Actions of one plan stage in flight at once, per worker.
    pub stage_concurrency: usize,
    /// How long [`ControllerManagerHandle::shutdown`] waits for the tasks.
    pub shutdown_timeout: Duration,
    pub job: Option<JobControllerConfig>,
    /// Multiplies the Job controller's backoffs (pod-failure 10 s → 600 s, sync-error
    /// 1 s → 60 s) for fast end-to-end tests: `0.01` turns 10 s into 100 ms. 1 is
    /// upstream; the cores are tested at real values in `corral-controllers`.
    pub job_time_scale: f64,
    pub cronjob: Option<CronJobProfile>,
    pub garbage_collector: Option<GarbageCollectorConfig>,
    pub ttl_after_finished: Option<TtlAfterFinishedConfig>,
    pub pod_gc: Option<PodGcConfig>,
    pub resource_quota: Option<ResourceQuotaConfig>,
    pub service_accounts: Option<ServiceAccountsConfig>,
    pub scheduler: Option<SchedulerConfig>,
    pub additional: Vec<AdditionalController>,
    /// Guard 1: detached plan tails running at once per controller at most; at the cap a
    /// detachable plan runs inline. 0 never detaches. Only controllers whose plans carry a
    /// detach marker (the Job controller with `non_blocking_creates`) are affected.
    pub detached_max: usize,
    /// Guard 1: a detached tail still running after this long is answered `Failed`.
    pub detached_timeout: Duration,
    /// Guard 7: the API service's webhook breakers. When set, the manager polls their
    /// transitions every `breaker_poll_interval` into Events and
    /// `corral_webhook_breaker_transitions_total` ([`crate::breaker_events`]). Leave `None`
    /// when the API service polls them itself.
    pub webhook_breakers: Option<SharedBreakers>,
    pub breaker_poll_interval: Duration,
    /// Latency and failures injected into every controller write (tests, benchmarks;
    /// [`crate::faults`]). Never set in production.
    pub write_faults: Option<Arc<dyn WriteFaults>>,
}

impl Default for ControllerManagerConfig {
    /// [`ControllerManagerConfig::corral`]: the product's settings.
    fn default() -> Self {
        ControllerManagerConfig::corral()
    }
}

impl ControllerManagerConfig {
    /// Upstream-faithful: every built-in controller with upstream's settings and every
    /// guard off (`JobGuards::default()`, `CronJobGuards::default()`), FIFO queues, no
    /// detached tails, kube-controller-manager's client limit (20 QPS, burst 30), wall
    /// clock.
    pub fn upstream() -> ControllerManagerConfig {
        ControllerManagerConfig {
            clock: Arc::new(SystemClock),
            client_rate_limit: ClientRateLimit::KUBE_CONTROLLER_MANAGER,
            informer: InformerConfig::default(),
            metrics: RuntimeMetrics::new(),
            stage_concurrency: 64,
            shutdown_timeout: Duration::from_secs(30),
            job: Some(JobControllerConfig::default()),
            job_time_scale: 1.0,
            cronjob: Some(CronJobProfile::default()),
            garbage_collector: Some(GarbageCollectorConfig::default()),
            ttl_after_finished: Some(TtlAfterFinishedConfig::default()),
            pod_gc: Some(PodGcConfig::default()),
            resource_quota: Some(ResourceQuotaConfig::default()),
            service_accounts: Some(ServiceAccountsConfig::default()),
            scheduler: Some(SchedulerConfig::default()),
            additional: Vec::new(),
            detached_max: DETACHED_MAX_DEFAULT,
            detached_timeout: DETACHED_TIMEOUT_DEFAULT,
            webhook_breakers: None,
            breaker_poll_interval: BREAKER_POLL_INTERVAL,
            write_faults: None,
        }
    }

    /// Corral's product settings (what `corral up` runs): [`upstream`](Self::upstream)
    /// plus the guards — `JobGuards::corral()`, `CronJobGuards::corral()` — and
    /// [`ClientRateLimit::CORRAL`] per controller. Guard 7 (webhook breakers) is the API
    /// service's: pass the same `SharedBreakers` here as `webhook_breakers` to have the
    /// manager record its Events.
    pub fn corral() -> ControllerManagerConfig {
        ControllerManagerConfig {
            client_rate_limit: ClientRateLimit::CORRAL,
            job: Some(JobControllerConfig {
                guards: JobGuards::corral(),
                ..JobControllerConfig::default()
            }),
            cronjob: Some(CronJobProfile::V2(CronJobControllerConfig {
                guards: CronJobGuards::corral(),
                ..CronJobControllerConfig::default()
            })),
            ..ControllerManagerConfig::upstream()
        }
    }

    /// The settings of `profile`.
    pub fn for_profile(profile: Profile) -> ControllerManagerConfig {
        match profile {
            Profile::Corral => ControllerManagerConfig::corral(),
            Profile::Upstream => ControllerManagerConfig::upstream(),
        }
    }
}

impl std::fmt::Debug for ControllerManagerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerManagerConfig")
            .field("client_rate_limit", &self.client_rate_limit)
            .field("informer", &self.informer)
            .field("job", &self.job)
            .field("job_time_scale", &self.job_time_scale)
            .field("cronjob", &self.cronjob.is_some())
            .field("garbage_collector", &self.garbage_collector)
            .field("ttl_after_finished", &self.ttl_after_finished)
            .field("pod_gc", &self.pod_gc)
            .field("resource_quota", &self.resource_quota)
            .field("service_accounts", &self.service_accounts)
            .field("scheduler", &self.scheduler.is_some())
            .field("additional", &self.additional)
            .field("detached_max", &self.detached_max)
            .field("detached_timeout", &self.detached_timeout)
            .field("webhook_breakers", &self.webhook_breakers.is_some())
            .field("write_faults", &self.write_faults.is_some())
            .finish()
    }
}

impl ControllerManagerConfig {
    /// Every controller disabled (enable the ones a test needs); the rest as
    /// [`ControllerManagerConfig::default`].
    pub fn none() -> ControllerManagerConfig {
        ControllerManagerConfig {
            job: None,
            cronjob: None,
            garbage_collector: None,
            ttl_after_finished: None,
            pod_gc: None,
            resource_quota: None,
            service_accounts: None,
            scheduler: None,
            ..ControllerManagerConfig::default()
        }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_client_rate_limit(mut self, limit: ClientRateLimit) -> Self {
        self.client_rate_limit = limit;
        self
    }

    pub fn with_write_faults(mut self, faults: Arc<dyn WriteFaults>) -> Self {
        self.write_faults = Some(faults);
        self
    }

    pub fn with_webhook_breakers(mut self, breakers: SharedBreakers) -> Self {
        self.webhook_breakers = Some(breakers);
        self
    }

    /// Disables a built-in controller by its flag name (one of [`CONTROLLER_NAMES`]), for
    /// a kube-controller-manager style `--controllers=*,-podgc`.
    pub fn disable(&mut self, name: &str) -> Result<(), UnknownController> {
        match name {
            "job" => self.job = None,
            "cronjob" => self.cronjob = None,
            "garbagecollector" => self.garbage_collector = None,
            "ttl-after-finished" => self.ttl_after_finished = None,
            "podgc" => self.pod_gc = None,
            "resourcequota" => self.resource_quota = None,
            "serviceaccount" => self.service_accounts = None,
            "scheduler" => self.scheduler = None,
            _ => return Err(UnknownController(name.to_string())),
        }
        Ok(())
    }
}

/// The flag names of the built-in controllers ([`ControllerManagerConfig::disable`]).
pub const CONTROLLER_NAMES: &[&str] = &[
    "job",
    "cronjob",
    "garbagecollector",
    "ttl-after-finished",
    "podgc",
    "resourcequota",
    "serviceaccount",
    "scheduler",
];

/// A started controller, type-erased.
trait ManagedController: Send + Sync {
    fn name(&self) -> &'static str;
    fn queue_stats(&self) -> QueueStats;
    fn metrics(&self) -> &ControllerMetrics;
    fn event_handler(&self) -> Arc<dyn EventHandler>;
    fn spawn(&self, tasks: &mut JoinSet<()>, shutdown: Shutdown, synced: Synced);
    fn is_fair(&self) -> bool;
}

impl<C: Reconciler + Send + 'static> ManagedController for ControllerDriver<C> {
    fn name(&self) -> &'static str {
        ControllerDriver::name(self)
    }
    fn queue_stats(&self) -> QueueStats {
        ControllerDriver::queue_stats(self)
    }
    fn metrics(&self) -> &ControllerMetrics {
        ControllerDriver::metrics(self)
    }
    fn event_handler(&self) -> Arc<dyn EventHandler> {
        ControllerDriver::event_handler(self)
    }
    fn spawn(&self, tasks: &mut JoinSet<()>, shutdown: Shutdown, synced: Synced) {
        ControllerDriver::spawn(self, tasks, shutdown, synced)
    }
    fn is_fair(&self) -> bool {
        ControllerDriver::is_fair(self)
    }
}

/// Builds drivers that share one cache, clock and metrics.
struct DriverFactory {
    service: ApiService,
    cache: CacheReader,
    clock: Arc<dyn Clock>,
    metrics: RuntimeMetrics,
    limit: ClientRateLimit,
    stage_concurrency: usize,
    options: DriverOptions,
    faults: Option<Arc<dyn WriteFaults>>,
}

impl DriverFactory {
    fn executor(&self, name: &str, user: &str) -> PlanExecutor {
        PlanExecutor::new(
            name,
            &self.service,
            UserInfo::system(user),
            self.limit,
            Arc::clone(&self.clock),
            self.stage_concurrency,
        )
        .with_faults(self.faults.clone())
    }

    fn driver<C: Reconciler + Send + 'static>(
        &self,
        core: C,
        user: &str,
        workers: Option<usize>,
    ) -> ControllerDriver<C> {
        let name = core.queue_config().name;
        let options = DriverOptions {
            workers,
            ..self.options
        };
        ControllerDriver::with_options(
            core,
            self.cache.clone(),
            self.executor(name, user),
            Arc::clone(&self.clock),
            self.metrics.controller(name),
            options,
        )
    }
}

/// Entry point.
#[derive(Debug)]
pub struct ControllerManager;

impl ControllerManager {
    /// Starts the informer and every enabled controller on the current tokio runtime.
    /// Workers begin once the informer has listed every watched kind.
    pub fn start(api: ApiService, config: ControllerManagerConfig) -> ControllerManagerHandle {
        let mut informer = SharedInformer::new(
            api.clone(),
            config.informer.clone(),
            Arc::clone(&config.clock),
            config.metrics.clone(),
        );
        let factory = DriverFactory {
            service: api,
            cache: informer.cache(),
            clock: Arc::clone(&config.clock),
            metrics: config.metrics.clone(),
            limit: config.client_rate_limit,
            stage_concurrency: config.stage_concurrency,
            options: DriverOptions {
                workers: None,
                detached_max: config.detached_max,
                detached_timeout: config.detached_timeout,
            },
            faults: config.write_faults.clone(),
        };
        let shutdown_timeout = config.shutdown_timeout;
        let metrics = config.metrics.clone();
        let breaker_events = config.webhook_breakers.clone().map(|breakers| {
            let sink = Arc::new(factory.executor("webhook-breaker", "webhook-breaker"));
            BreakerEvents::new(
                breakers,
                sink,
                Arc::clone(&config.clock),
                config.metrics.clone(),
                config.breaker_poll_interval,
            )
        });
        let (job, controllers) = build_controllers(&factory, config);
        for controller in &controllers {
            informer.add_handler(controller.event_handler());
        }
        let (trigger, shutdown) = shutdown_channel();
        let mut tasks = JoinSet::new();
        let cache = informer.cache();
        let synced = informer.spawn(&mut tasks, shutdown.clone());
        for controller in &controllers {
            controller.spawn(&mut tasks, shutdown.clone(), synced.clone());
        }
        let polls_breakers = breaker_events.is_some();
        if let Some(events) = breaker_events {
            tasks.spawn(events.run(shutdown.clone()));
        }
        let names: Vec<&str> = controllers.iter().map(|c| c.name()).collect();
        let fair: Vec<&str> = controllers
            .iter()
            .filter(|c| c.is_fair())
            .map(|c| c.name())
            .collect();
        tracing::info!(controllers = ?names, fair_queues = ?fair, polls_breakers, "controller manager started");
        ControllerManagerHandle {
            trigger,
            tasks,
            cache,
            synced,
            metrics,
            controllers,
            job,
            shutdown_timeout,
        }
    }
}

type Built = (
    Option<ControllerDriver<JobController>>,
    Vec<Arc<dyn ManagedController>>,
);

fn build_controllers(factory: &DriverFactory, config: ControllerManagerConfig) -> Built {
    let mut controllers: Vec<Arc<dyn ManagedController>> = Vec::new();
    let mut job = None;
    if let Some(job_config) = config.job {
        let scaled = if config.job_time_scale == 1.0 {
            job_config
        } else {
            job_config.with_time_scale(config.job_time_scale)
        };
        let driver = factory.driver(JobController::new(scaled), "job-controller", None);
        job = Some(driver.clone());
        controllers.push(Arc::new(driver));
    }
    if let Some(profile) = config.cronjob {
        let core = BoxedReconciler(profile.build());
        controllers.push(Arc::new(factory.driver(core, "cronjob-controller", None)));
    }
    if let Some(gc) = config.garbage_collector {
        let core = GarbageCollector::new(gc);
        controllers.push(Arc::new(factory.driver(
            core,
            "generic-garbage-collector",
            None,
        )));
    }
    if let Some(ttl) = config.ttl_after_finished {
        let core = TtlAfterFinishedController::new(ttl);
        controllers.push(Arc::new(factory.driver(
            core,
            "ttl-after-finished-controller",
            None,
        )));
    }
    if let Some(pod_gc) = config.pod_gc {
        let core = PodGcController::new(pod_gc);
        controllers.push(Arc::new(factory.driver(
            core,
            "pod-garbage-collector",
            None,
        )));
    }
    if let Some(quota) = config.resource_quota {
        let core = ResourceQuotaController::new(quota);
        controllers.push(Arc::new(factory.driver(
            core,
            "resourcequota-controller",
            None,
        )));
    }
    if let Some(accounts) = config.service_accounts {
        let core = ServiceAccountsController::new(accounts);
        controllers.push(Arc::new(factory.driver(
            core,
            "service-account-controller",
            None,
        )));
    }
    if let Some(scheduler) = config.scheduler {
        let core = Scheduler::new(scheduler);
        controllers.push(Arc::new(factory.driver(core, "kube-scheduler", None)));
    }
    for extra in config.additional {
        let driver = factory.driver(BoxedReconciler(extra.core), &extra.user, extra.workers);
        controllers.push(Arc::new(driver));
    }
    (job, controllers)
}

/// A running controller manager.
pub struct ControllerManagerHandle {
    trigger: ShutdownTrigger,
    tasks: JoinSet<()>,
    cache: CacheReader,
    synced: Synced,
    metrics: RuntimeMetrics,
    controllers: Vec<Arc<dyn ManagedController>>,
    job: Option<ControllerDriver<JobController>>,
    shutdown_timeout: Duration,
}

impl std::fmt::Debug for ControllerManagerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.controllers.iter().map(|c| c.name()).collect();
        f.debug_struct("ControllerManagerHandle")
            .field("controllers", &names)
            .field("tasks", &self.tasks.len())
            .finish()
    }
}

impl ControllerManagerHandle {
    /// The shared cache.
    pub fn cache(&self) -> &CacheReader {
        &self.cache
    }

    /// Resolves once every watched kind has been listed; `false` if the informer stopped.
    pub async fn wait_for_sync(&self) -> bool {
        self.synced.clone().wait().await
    }

    pub fn metrics(&self) -> &RuntimeMetrics {
        &self.metrics
    }

    /// Queue names of the running controllers.
    pub fn controller_names(&self) -> Vec<&'static str> {
        self.controllers.iter().map(|c| c.name()).collect()
    }

    /// Queue lengths per controller.
    pub fn queue_stats(&self) -> Vec<(&'static str, QueueStats)> {
        self.controllers
            .iter()
            .map(|c| (c.name(), c.queue_stats()))
            .collect()
    }

    /// The metric handles of one controller queue.
    pub fn controller_metrics(&self, name: &str) -> Option<&ControllerMetrics> {
        self.controllers
            .iter()
            .find(|c| c.name() == name)
            .map(|c| c.metrics())
    }

    /// The Job controller's driver, if enabled (inspect its core in tests).
    pub fn job_controller(&self) -> Option<&ControllerDriver<JobController>> {
        self.job.as_ref()
    }

    /// Tasks still running (informers, workers, timers).
    pub fn running_tasks(&self) -> usize {
        self.tasks.len()
    }

    /// Stops every task: workers finish the key in hand, detached tails are answered
    /// (`Failed` for writes not finished), watches close. Waits up to `shutdown_timeout`,
    /// then aborts what is left.
    pub async fn shutdown(mut self) -> Result<(), ShutdownError> {
        self.trigger.trigger();
        let mut panicked = 0;
        let joined = tokio::time::timeout(self.shutdown_timeout, async {
            while let Some(result) = self.tasks.join_next().await {
                if let Err(error) = result {
                    tracing::error!(%error, "runtime task failed");
                    panicked += 1;
                }
            }
        })
        .await;
        if joined.is_err() {
            self.tasks.abort_all();
            return Err(ShutdownError::Timeout {
                seconds: self.shutdown_timeout.as_secs(),
            });
        }
        tracing::info!("controller manager stopped");
        match panicked {
            0 => Ok(()),
            count => Err(ShutdownError::TasksPanicked { count }),
        }
    }
}

/// A boxed core as a [`Reconciler`] (the CronJob profile and additional controllers).
/// Forwards every method, the defaulted ones of guard 1 included (a forwarding wrapper
/// that left them out would silently run the inner core FIFO and never answer its
/// detached plans through the core's own `handle_detached_outcomes`).
pub struct BoxedReconciler(pub Box<dyn Reconciler + Send>);

impl Reconciler for BoxedReconciler {
    fn queue_config(&self) -> QueueConfig {
        self.0.queue_config()
    }

    fn watched_kinds(&self) -> &'static [ResourceKind] {
        self.0.watched_kinds()
    }

    fn handle_event(
        &mut self,
        event: &ObjectEvent,
        previous: Option<&KubeObject>,
        cache: &ObjectCache,
        now: Timestamp,
    ) -> Vec<Enqueue> {
        self.0.handle_event(event, previous, cache, now)
    }

    fn reconcile(&mut self, cache: &ObjectCache, key: &ObjectKey, now: Timestamp) -> Plan {
        self.0.reconcile(cache, key, now)
    }

    fn handle_outcomes(
        &mut self,
        key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        now: Timestamp,
    ) -> SyncResult {
        self.0.handle_outcomes(key, plan, outcomes, now)
    }

    fn queue_discipline(&self) -> QueueDiscipline {
        self.0.queue_discipline()
    }

    fn fairness_class(&self, cache: &ObjectCache, key: &ObjectKey) -> FairClass {
        self.0.fairness_class(cache, key)
    }

    fn handle_detached_outcomes(
        &mut self,
        key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        now: Timestamp,
    ) -> SyncResult {
        self.0.handle_detached_outcomes(key, plan, outcomes, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_controller_can_be_disabled_and_unknown_names_are_refused() {
        let mut config = ControllerManagerConfig::default();
        for name in CONTROLLER_NAMES {
            config.disable(name).expect("a known controller");
        }
        assert!(config.job.is_none() && config.cronjob.is_none() && config.scheduler.is_none());
        assert!(config.garbage_collector.is_none() && config.ttl_after_finished.is_none());
        assert!(config.pod_gc.is_none() && config.resource_quota.is_none());
        assert!(config.service_accounts.is_none());
        let error = config
            .disable("replicaset")
            .expect_err("not a Corral controller");
        assert_eq!(error.to_string(), "unknown controller \"replicaset\"");
    }

    fn job_guards(config: &ControllerManagerConfig) -> JobGuards {
        config.job.as_ref().expect("job controller").guards.clone()
    }

    fn cronjob_guards(config: &ControllerManagerConfig) -> CronJobGuards {
        match config.cronjob.as_ref().expect("cronjob controller") {
            CronJobProfile::V2(v2) => v2.guards.clone(),
            CronJobProfile::V1(_) => panic!("v2 expected"),
        }
    }

    #[test]
    fn upstream_turns_every_guard_off_and_corral_every_guard_on_and_is_the_default() {
        let upstream = ControllerManagerConfig::upstream();
        assert_eq!(job_guards(&upstream), JobGuards::default());
        assert_eq!(cronjob_guards(&upstream), CronJobGuards::default());
        assert_eq!(
            upstream.client_rate_limit,
            ClientRateLimit::KUBE_CONTROLLER_MANAGER
        );
        let corral = ControllerManagerConfig::corral();
        assert_eq!(job_guards(&corral), JobGuards::corral());
        assert_eq!(cronjob_guards(&corral), CronJobGuards::corral());
        assert_eq!(corral.client_rate_limit, ClientRateLimit::CORRAL);
        let default = ControllerManagerConfig::default();
        assert_eq!(job_guards(&default), JobGuards::corral());
        assert_eq!(default.client_rate_limit, ClientRateLimit::CORRAL);
        for (profile, config) in [(Profile::Upstream, &upstream), (Profile::Corral, &corral)] {
            let chosen = ControllerManagerConfig::for_profile(profile);
            assert_eq!(job_guards(&chosen), job_guards(config));
            assert_eq!(chosen.client_rate_limit, config.client_rate_limit);
        }
        // Both run every built-in controller.
        assert!(corral.garbage_collector.is_some() && upstream.scheduler.is_some());
    }

    #[test]
    fn profiles_parse_from_their_flag_names() {
        assert_eq!(Profile::default(), Profile::Corral);
        for name in Profile::NAMES {
            let profile: Profile = name.parse().expect("a known profile");
            assert_eq!(profile.to_string(), *name);
        }
        let error = "fast".parse::<Profile>().expect_err("unknown");
        assert_eq!(
            error.to_string(),
            "unknown profile \"fast\" (expected \"corral\" or \"upstream\")"
        );
    }

    /// A core using every defaulted method of guard 1, to check the forwarding.
    struct Guarded {
        detached_answers: usize,
    }

    impl Reconciler for Guarded {
        fn queue_config(&self) -> QueueConfig {
            QueueConfig {
                name: "guarded",
                workers: 1,
                rate_limiter: corral_core::RateLimiter::default_controller(),
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
        fn reconcile(&mut self, _: &ObjectCache, _: &ObjectKey, _: Timestamp) -> Plan {
            Plan::empty()
        }
        fn handle_outcomes(
            &mut self,
            _: &ObjectKey,
            _: &Plan,
            _: &[Outcome],
            _: Timestamp,
        ) -> SyncResult {
            SyncResult::Done {
                requeue_after: None,
            }
        }
        fn queue_discipline(&self) -> QueueDiscipline {
            QueueDiscipline::Fair(corral_core::FairQueueConfig::default())
        }
        fn fairness_class(&self, _: &ObjectCache, key: &ObjectKey) -> FairClass {
            FairClass::new("ns", format!("owner-of-{}", key.name)).with_fresh(true)
        }
        fn handle_detached_outcomes(
            &mut self,
            _: &ObjectKey,
            _: &Plan,
            _: &[Outcome],
            _: Timestamp,
        ) -> SyncResult {
            self.detached_answers += 1;
            SyncResult::Retry {
                reason: "inner".into(),
            }
        }
    }

    #[test]
    fn a_boxed_reconciler_forwards_every_guard_1_method() {
        let mut boxed = BoxedReconciler(Box::new(Guarded {
            detached_answers: 0,
        }));
        let key = ObjectKey::new(ResourceKind::Job, "ns", "j");
        let cache = ObjectCache::default();
        assert!(matches!(boxed.queue_discipline(), QueueDiscipline::Fair(_)));
        assert_eq!(
            boxed.fairness_class(&cache, &key),
            FairClass::new("ns", "owner-of-j").with_fresh(true)
        );
        let now = corral_core::clock::epoch();
        let result = boxed.handle_detached_outcomes(&key, &Plan::empty(), &[], now);
        assert_eq!(
            result,
            SyncResult::Retry {
                reason: "inner".into()
            }
        );
    }
}
