//! [`Simulation`]: a scenario, a seed and a profile turned into a world of pure cores
//! driven in virtual time. Construction derives every setting from the seed and prints
//! nothing; [`Simulation::describe`] lists them (the CLI prints them first), and
//! [`Simulation::run`] plays the scenario and returns a [`RunReport`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_controllers::cronjob::{CronJobProfile, CronJobV1Poller};
use corral_controllers::gc::GarbageCollector;
use corral_controllers::job::JobController;
use corral_controllers::podgc::{PodGcConfig, PodGcController};
use corral_controllers::quota::{ResourceQuotaConfig, ResourceQuotaController};
use corral_controllers::serviceaccount::{ServiceAccountsConfig, ServiceAccountsController};
use corral_controllers::ttl::{TtlAfterFinishedConfig, TtlAfterFinishedController};
use corral_core::{Reconciler, SimRng, Timestamp};
use corral_node::lifecycle::{LifecycleConfig, NodeLifecycleController};
use corral_node::{NodeAgentCore, NodeConfig};
use corral_scheduler::{Scheduler, SchedulerConfig};
use k8s_openapi::api::core::v1::{Namespace, Node, NodeCondition, NodeSpec, NodeStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::admission::Admission;
use crate::api::{Api, ClientId};
use crate::assertions::{AssertionResult, Assertions};
use crate::driver::controller::ControllerDriver;
use crate::driver::node::{NodeDriver, SimCatalog, SimRuntime};
use crate::engine::{Event, PendingCall};
use crate::invariants::{Invariants, Violation};
use crate::metrics::{Metrics, Sample, Totals};
use crate::profiles::{ClientLimits, Profile, Settings};
use crate::queue::EventQueue;
use crate::scenario::{Behaviour, Scenario};
use crate::time::{SimTime, format_duration, nanos};
use crate::trace::Trace;
use crate::world::World;

/// How to run a scenario.
#[derive(Default)]
pub struct SimOptions {
    /// `None`: the scenario's seed, else 1.
    pub seed: Option<u64>,
    /// `None`: the scenario's duration, else 1 h.
    pub until: Option<Duration>,
    /// `None`: the scenario's profile, else `upstream`.
    pub profile: Option<Profile>,
    /// Every store mutation as a JSON line.
    pub trace: Option<Box<dyn Write>>,
    /// Show a progress bar with the simulated clock (on a terminal).
    pub progress: bool,
}

/// Counters of the run itself.
#[derive(Clone, Debug, Default)]
pub struct RunStats {
    /// Discrete events taken from the heap.
    pub heap_events: u64,
    /// Watch events delivered to the cache and the components.
    pub watch_events: u64,
    /// Reconciles run (all controllers and the scheduler).
    pub reconciles: u64,
    pub api_calls: u64,
    /// Pods the kubelet cores still track at the end (a core that never forgets removed
    /// pods shows here).
    pub kubelet_pods: usize,
    /// Pods present in the store at the end.
    pub store_pods: usize,
    pub wall_seconds: f64,
    pub simulated_seconds: f64,
}

impl RunStats {
    /// Heap events plus watch deliveries plus reconciles per wall second.
    pub fn events_per_second(&self) -> f64 {
        (self.heap_events + self.watch_events + self.reconciles) as f64
            / self.wall_seconds.max(1e-9)
    }
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub scenario: String,
    pub scenario_path: String,
    pub seed: u64,
    pub profile: Profile,
    pub until: SimTime,
    pub start: Timestamp,
    pub settings: Vec<String>,
    pub samples: Vec<Sample>,
    pub totals: Totals,
    pub violations: Vec<Violation>,
    pub assertions: Vec<AssertionResult>,
    /// Timeline actions and webhook phases, for the report's event timeline.
    pub timeline: Vec<(SimTime, String)>,
    /// Guard 6: what pods hold on nodes without running, at the end.
    pub holdings: corral_controllers::holdings::HoldingsReport,
    /// Guard 7: circuit-breaker transitions to open during the run.
    pub breaker_trips: u64,
    pub trace_hash: u64,
    pub mutations: u64,
    pub stats: RunStats,
    pub api: crate::api::ApiStats,
    pub webhooks: crate::admission::WebhookStats,
    /// Per controller: (name, reconciles, busy fraction, final queue depth).
    pub controllers: Vec<(String, u64, f64, usize)>,
    /// Set when a fatal invariant violation stopped the run early.
    pub stopped_at: Option<SimTime>,
    pub trace_error: Option<String>,
}

impl RunReport {
    pub fn passed(&self) -> bool {
        self.violations.iter().all(|v| !v.fatal) && self.assertions.iter().all(|a| a.passed)
    }

    /// The command that reproduces this run.
    pub fn repro_command(&self) -> String {
        format!(
            "corral sim {} --seed {} --profile {} --until {}",
            self.scenario_path,
            self.seed,
            self.profile.name(),
            format_duration(self.until as f64 / 1e9).replace("m00s", "m")
        )
    }
}

/// The simulation. Fields are crate-visible for the engine.
pub struct Simulation {
    pub(crate) scenario: Scenario,
    pub(crate) settings: Settings,
    pub(crate) seed: u64,
    pub(crate) world: World,
    pub(crate) heap: EventQueue<Event>,
    pub(crate) controllers: Vec<ControllerDriver>,
    /// Keys queued once at start per controller (periodic passes).
    pub(crate) seed_keys: Vec<(usize, ObjectKey)>,
    pub(crate) nodes: Vec<NodeDriver>,
    pub(crate) node_index: BTreeMap<String, usize>,
    pub(crate) api: Api,
    pub(crate) admission: Admission,
    pub(crate) calls: HashMap<u64, PendingCall>,
    pub(crate) next_call: u64,
    pub(crate) metrics: Metrics,
    pub(crate) invariants: Invariants,
    pub(crate) assertions: Assertions,
    pub(crate) trace: Trace,
    pub(crate) dirty_controllers: BTreeSet<usize>,
    pub(crate) dirty_nodes: BTreeSet<usize>,
    pub(crate) now: SimTime,
    pub(crate) now_ts: Timestamp,
    pub(crate) until: SimTime,
    pub(crate) user: ClientId,
    pub(crate) event_writer: ClientId,
    pub(crate) job_controller: Option<usize>,
    /// The client whose write is being applied (traces and invariants name it).
    pub(crate) writer: ClientId,
    pub(crate) behaviours: Arc<Vec<Behaviour>>,
    pub(crate) stats: RunStats,
    pub(crate) stopped_at: Option<SimTime>,
    pub(crate) progress: bool,
    pub(crate) node_rng: SimRng,
    /// Guard 7: transitions to open polled from the breakers.
    pub(crate) breaker_trips: u64,
    /// Some assertion is re-checked at every Job event.
    pub(crate) per_event_assertions: bool,
    /// Guard 7: the client recording the breakers' Events (`system:webhook-breaker`).
    pub(crate) breaker_client: Option<ClientId>,
}

impl Simulation {
    pub fn new(scenario: Scenario, mut options: SimOptions) -> Simulation {
        let seed = options.seed.or(scenario.seed).unwrap_or(1);
        let profile = options
            .profile
            .or_else(|| scenario.profile.as_deref().and_then(Profile::parse))
            .unwrap_or(Profile::Upstream);
        let until = options
            .until
            .map(nanos)
            .or(scenario.duration)
            .unwrap_or(3_600 * crate::time::NANOS_PER_SECOND);
        let settings = Settings::new(profile, &scenario.control_plane);
        let mut root = SimRng::seed_from_u64(seed);
        let world = World::new(scenario.start, root.fork("store"));
        let mut api = Api::new(
            settings.api_latency.clone(),
            settings.request_timeout,
            scenario.faults.clone(),
            &mut root,
        );
        let admission = Admission::new(
            settings.admission.clone(),
            &scenario.webhooks,
            root.fork("admission"),
            scenario.start,
        );
        let user = api.add_client("user", None);
        let event_writer = api.add_client("event-broadcaster", None);
        let behaviours = Arc::new(scenario.behaviours.clone());
        let mut sim = Simulation {
            admission,
            settings,
            seed,
            world,
            heap: EventQueue::new(),
            controllers: Vec::new(),
            seed_keys: Vec::new(),
            nodes: Vec::new(),
            node_index: BTreeMap::new(),
            api,
            calls: HashMap::new(),
            next_call: 0,
            metrics: Metrics::default(),
            invariants: Invariants::new(scenario.invariants),
            assertions: Assertions::new(&scenario.assertions),
            trace: Trace::new(options.trace.take()),
            dirty_controllers: BTreeSet::new(),
            dirty_nodes: BTreeSet::new(),
            now: 0,
            now_ts: scenario.start,
            until,
            user,
            event_writer,
            job_controller: None,
            writer: user,
            behaviours,
            stats: RunStats::default(),
            stopped_at: None,
            progress: options.progress,
            node_rng: root.fork("nodes"),
            breaker_trips: 0,
            per_event_assertions: false,
            breaker_client: None,
            scenario,
        };
        sim.per_event_assertions = sim.assertions.per_event();
        if sim.settings.admission.webhook_breakers.is_some() {
            sim.breaker_client = Some(sim.api.add_client("webhook-breaker", None));
        }
        sim.add_standard_controllers();
        sim
    }

    /// The control plane of the profile: Job, CronJob, garbage collector, TTL, pod GC,
    /// node lifecycle and the scheduler.
    fn add_standard_controllers(&mut self) {
        let controller = Some(self.settings.controller_client);
        let job = self.add_controller(
            "job-controller",
            Box::new(JobController::new(self.settings.job.clone())),
            controller,
        );
        self.job_controller = Some(job);
        let cronjob = self.settings.cronjob.clone();
        let v1 = matches!(cronjob, CronJobProfile::V1(_));
        let index = self.add_controller("cronjob-controller", cronjob.build(), controller);
        if v1 {
            self.seed_keys.push((index, CronJobV1Poller::pass_key()));
        }
        self.add_controller(
            "generic-garbage-collector",
            Box::new(GarbageCollector::default()),
            controller,
        );
        self.add_controller(
            "ttl-after-finished-controller",
            Box::new(TtlAfterFinishedController::new(
                TtlAfterFinishedConfig::default(),
            )),
            controller,
        );
        let podgc = self.add_controller(
            "pod-garbage-collector",
            Box::new(PodGcController::new(PodGcConfig::default())),
            controller,
        );
        self.seed_keys.push((podgc, PodGcController::pass_key()));
        self.add_controller(
            "resourcequota-controller",
            Box::new(ResourceQuotaController::new(ResourceQuotaConfig::default())),
            controller,
        );
        self.add_controller(
            "serviceaccount-controller",
            Box::new(ServiceAccountsController::new(
                ServiceAccountsConfig::default(),
            )),
            controller,
        );
        self.add_controller(
            "node-lifecycle-controller",
            Box::new(NodeLifecycleController::new(LifecycleConfig::default())),
            controller,
        );
        let scheduler = Some(self.settings.scheduler_client);
        self.add_controller(
            "default-scheduler",
            Box::new(Scheduler::new(SchedulerConfig::default())),
            scheduler,
        );
    }

    /// Adds a controller core (before [`Simulation::run`]); tests use it to run a
    /// deliberately broken core against the checkers. Returns its index.
    pub fn add_controller(
        &mut self,
        name: &str,
        reconciler: Box<dyn Reconciler>,
        limits: Option<ClientLimits>,
    ) -> usize {
        let client = self.api.add_client(name, limits);
        self.controllers
            .push(ControllerDriver::new(name, reconciler, client));
        self.controllers.len() - 1
    }

    /// The seed and every derived setting, one per line.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![
            format!(
                "scenario: {} ({})",
                self.scenario.name,
                self.scenario.path.display()
            ),
            format!("seed: {}", self.seed),
            format!(
                "start: {}, until: +{}",
                self.scenario.start,
                format_duration(self.until as f64 / 1e9)
            ),
        ];
        lines.extend(self.settings.describe());
        lines.push(format!(
            "cluster: {} nodes, {} manifests, {} behaviour models, {} webhook models, {} timeline actions, {} faults, {} assertions",
            self.scenario.nodes.len(),
            self.scenario.manifests.len(),
            self.scenario.behaviours.len(),
            self.scenario.webhooks.len(),
            self.scenario.timeline.len(),
            self.scenario.faults.len(),
            self.scenario.assertions.len()
        ));
        let names: Vec<String> = self
            .controllers
            .iter()
            .map(|c| format!("{} ({} workers)", c.name, c.worker_count))
            .collect();
        lines.push(format!("controllers: {}", names.join(", ")));
        lines
    }

    /// Objects to create at the start, in dependency order: namespaces, nodes, then the
    /// scenario's manifests (configuration kinds first). The ServiceAccount controller
    /// gives every namespace its `default` account, the quota controller fills quotas'
    /// status, as upstream.
    pub(crate) fn initial_objects(&self) -> Vec<KubeObject> {
        let mut namespaces: BTreeSet<String> = ["default", "kube-system", "kube-node-lease"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut declared = BTreeSet::new();
        for m in &self.scenario.manifests {
            if !m.object.namespace().is_empty() {
                namespaces.insert(m.object.namespace().to_string());
            }
            if m.object.kind() == ResourceKind::Namespace {
                declared.insert(m.object.name().to_string());
            }
        }
        let mut out: Vec<KubeObject> = Vec::new();
        for ns in namespaces.iter().filter(|n| !declared.contains(*n)) {
            out.push(
                Namespace {
                    metadata: meta(ns, None),
                    ..Default::default()
                }
                .into(),
            );
        }
        out.extend(
            self.scenario
                .manifests
                .iter()
                .filter(|m| m.object.kind() == ResourceKind::Namespace)
                .map(|m| m.object.clone()),
        );
        out.extend(self.scenario.nodes.iter().map(|n| node_object(n).into()));
        let rank = |kind: ResourceKind| match kind {
            ResourceKind::MutatingWebhookConfiguration
            | ResourceKind::ValidatingWebhookConfiguration => 0,
            ResourceKind::ServiceAccount
            | ResourceKind::ResourceQuota
            | ResourceKind::LimitRange => 1,
            ResourceKind::ConfigMap
            | ResourceKind::Secret
            | ResourceKind::PersistentVolume
            | ResourceKind::PersistentVolumeClaim => 2,
            _ => 3,
        };
        let mut rest: Vec<&KubeObject> = self
            .scenario
            .manifests
            .iter()
            .map(|m| &m.object)
            .filter(|o| o.kind() != ResourceKind::Namespace)
            .collect();
        rest.sort_by_key(|o| rank(o.kind()));
        out.extend(rest.into_iter().cloned());
        out
    }

    /// Starts the kubelet of node `index` (at the start, or when a downed node returns).
    pub(crate) fn start_agent(&mut self, index: usize) {
        let node = &self.nodes[index];
        let key = ObjectKey::cluster(ResourceKind::Node, &node.model.name);
        let uid = self
            .world
            .cache
            .get(&key)
            .and_then(|n| n.meta().uid.clone())
            .unwrap_or_default();
        let mut config = NodeConfig::new(&node.model.name, &node.host_ip);
        config.node_uid = uid;
        config.pod_ip_prefix = node.pod_ip_prefix.clone();
        config.allocatable_milli_cpu = node.model.milli_cpu;
        config.allocatable_memory = node.model.memory_bytes;
        let agent = NodeAgentCore::new(config, Box::new(SimCatalog::new(self.behaviours.clone())));
        self.nodes[index].agent = Some(agent);
        self.dirty_nodes.insert(index);
    }

    /// Registers the scenario's nodes (drivers without agents yet).
    pub(crate) fn add_node_drivers(&mut self) {
        let limits = Some(self.settings.kubelet_client);
        for (i, model) in self.scenario.nodes.clone().into_iter().enumerate() {
            let client = self
                .api
                .add_client(&format!("kubelet/{}", model.name), limits);
            let rng = self.node_rng.fork(&model.name);
            self.node_index.insert(model.name.clone(), i);
            self.nodes.push(NodeDriver {
                runtime: SimRuntime::new(&model.name, self.behaviours.clone(), rng),
                host_ip: format!("10.0.{}.{}", i / 250, i % 250 + 2),
                pod_ip_prefix: format!("10.{}.{}.", 64 + i / 250, i % 250),
                model,
                agent: None,
                client,
                incarnation: 0,
                wake_at: None,
            });
        }
    }
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        ..Default::default()
    }
}

fn node_object(model: &crate::scenario::NodeModel) -> Node {
    let mut labels = model.labels.clone();
    labels.insert("kubernetes.io/hostname".into(), model.name.clone());
    labels.insert("kubernetes.io/os".into(), "linux".into());
    labels.insert("kubernetes.io/arch".into(), "amd64".into());
    let resources: BTreeMap<String, WireQuantity> = [
        (
            "cpu".to_string(),
            WireQuantity(format!("{}m", model.milli_cpu)),
        ),
        (
            "memory".to_string(),
            WireQuantity(model.memory_bytes.to_string()),
        ),
        ("pods".to_string(), WireQuantity(model.pods.to_string())),
    ]
    .into_iter()
    .collect();
    Node {
        metadata: ObjectMeta {
            labels: Some(labels),
            ..meta(&model.name, None)
        },
        spec: Some(NodeSpec {
            taints: (!model.taints.is_empty()).then(|| model.taints.clone()),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            capacity: Some(resources.clone()),
            allocatable: Some(resources),
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: Some("KubeletReady".into()),
                message: Some("kubelet is posting ready status".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}
