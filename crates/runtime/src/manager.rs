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

use std::sync::Arc;
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_apiserver::ApiService;
use corral_apiserver::service::UserInfo;
use corral_controllers::cronjob::CronJobProfile;
use corral_controllers::gc::{GarbageCollector, GarbageCollectorConfig};
use corral_controllers::job::{JobController, JobControllerConfig};
use corral_controllers::podgc::{PodGcConfig, PodGcController};
use corral_controllers::quota::{ResourceQuotaConfig, ResourceQuotaController};
use corral_controllers::serviceaccount::{ServiceAccountsConfig, ServiceAccountsController};
use corral_controllers::ttl::{TtlAfterFinishedConfig, TtlAfterFinishedController};
use corral_core::{
    Clock, Enqueue, ObjectCache, ObjectEvent, Outcome, Plan, QueueConfig, Reconciler, SyncResult,
    Timestamp,
};
use corral_scheduler::{Scheduler, SchedulerConfig};
use tokio::task::JoinSet;

use crate::clock::SystemClock;
use crate::controller::{ControllerDriver, QueueStats};
use crate::error::{ShutdownError, UnknownController};
use crate::execute::PlanExecutor;
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

/// What to run and how. `Default` runs every built-in controller with upstream's
/// settings on the wall clock; `None` disables a controller.
pub struct ControllerManagerConfig {
    /// Where every controller reads `now` (use the API service's clock).
    pub clock: Arc<dyn Clock>,
    /// Each controller's client limit (upstream: 20 QPS, burst 30).
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
}

impl Default for ControllerManagerConfig {
    fn default() -> Self {
        ControllerManagerConfig {
            clock: Arc::new(SystemClock),
            client_rate_limit: ClientRateLimit::default(),
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
            .finish()
    }
}

impl ControllerManagerConfig {
    /// Every controller disabled (enable the ones a test needs).
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
}

/// Builds drivers that share one cache, clock and metrics.
struct DriverFactory {
    service: ApiService,
    cache: CacheReader,
    clock: Arc<dyn Clock>,
    metrics: RuntimeMetrics,
    limit: ClientRateLimit,
    stage_concurrency: usize,
}

impl DriverFactory {
    fn driver<C: Reconciler + Send + 'static>(
        &self,
        core: C,
        user: &str,
        workers: Option<usize>,
    ) -> ControllerDriver<C> {
        let name = core.queue_config().name;
        let executor = PlanExecutor::new(
            name,
            &self.service,
            UserInfo::system(user),
            self.limit,
            Arc::clone(&self.clock),
            self.stage_concurrency,
        );
        ControllerDriver::new(
            core,
            self.cache.clone(),
            executor,
            Arc::clone(&self.clock),
            self.metrics.controller(name),
            workers,
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
        };
        let shutdown_timeout = config.shutdown_timeout;
        let metrics = config.metrics.clone();
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
        let names: Vec<&str> = controllers.iter().map(|c| c.name()).collect();
        tracing::info!(controllers = ?names, "controller manager started");
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

    /// Stops every task: workers finish the key in hand, watches close. Waits up to
    /// `shutdown_timeout`, then aborts what is left.
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
}
