//! Scenarios: what a simulation runs. A YAML file (documented in `docs/sim.md`, schema in
//! `docs/scenario.schema.json`) describes the cluster, the control plane's knobs, the
//! workloads as real Kubernetes manifests, how containers and webhooks behave, a timeline
//! of faults and actions, and the assertions to check. [`load`] parses and validates it
//! completely before anything runs: every error names the file, the line and the reason.

mod dist;
mod load;
mod manifests;
mod model;
mod refs;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey};
use corral_core::Timestamp;
use k8s_openapi::api::core::v1::Taint;

pub use dist::Dist;
pub use load::{load, load_str};
pub use manifests::decode_manifest;
pub use refs::ObjectRef;

use crate::time::SimTime;

/// Where something was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: u64,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// An invalid scenario, reported before the run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ScenarioError {
    pub origin: Origin,
    pub message: String,
}

impl ScenarioError {
    pub fn at(origin: &Origin, message: impl Into<String>) -> Self {
        ScenarioError {
            origin: origin.clone(),
            message: message.into(),
        }
    }
}

/// A value without a source position (for defaults).
pub(crate) fn unspanned<T>(value: T) -> serde_saphyr::Spanned<T> {
    serde_saphyr::Spanned {
        value,
        referenced: serde_saphyr::Location::UNKNOWN,
        defined: serde_saphyr::Location::UNKNOWN,
    }
}

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub path: PathBuf,
    pub start: Timestamp,
    pub duration: Option<SimTime>,
    pub seed: Option<u64>,
    pub profile: Option<String>,
    pub nodes: Vec<NodeModel>,
    pub control_plane: ControlPlaneOverrides,
    pub manifests: Vec<Manifest>,
    pub behaviours: Vec<Behaviour>,
    pub webhooks: Vec<WebhookModel>,
    pub timeline: Vec<TimedAction>,
    pub faults: Vec<Fault>,
    pub assertions: Vec<Assertion>,
    pub invariants: InvariantModes,
    pub store_events: bool,
    pub sample_every: SimTime,
}

/// One simulated node.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeModel {
    pub name: String,
    pub milli_cpu: i64,
    pub memory_bytes: i64,
    pub pods: u32,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
}

/// Scenario overrides of the profile's control-plane settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ControlPlaneOverrides {
    pub job_workers: Option<usize>,
    pub cronjob_workers: Option<usize>,
    pub client_qps: Option<f64>,
    pub client_burst: Option<u32>,
    pub api_latency: Option<Dist>,
    pub request_timeout: Option<Duration>,
    pub cronjob_v1_pager_abort: Option<bool>,
}

/// An object created at the start.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub object: KubeObject,
    pub origin: Origin,
}

/// How the containers of matching pods behave (the simulated container runtime).
#[derive(Clone, Debug, PartialEq)]
pub struct Behaviour {
    pub image: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub namespace: Option<String>,
    pub run_time: Dist,
    pub exit_code: i32,
    pub failure_probability: f64,
    pub failure_exit_code: i32,
    pub image_pull_fails: bool,
    pub pull_time: Dist,
    pub crash_loop: bool,
    pub oom_killed: bool,
}

impl Default for Behaviour {
    /// Unmatched containers run 10 s and exit 0.
    fn default() -> Self {
        Behaviour {
            image: None,
            labels: BTreeMap::new(),
            namespace: None,
            run_time: Dist::Fixed(Duration::from_secs(10)),
            exit_code: 0,
            failure_probability: 0.0,
            failure_exit_code: 1,
            image_pull_fails: false,
            pull_time: Dist::Fixed(Duration::ZERO),
            crash_loop: false,
            oom_killed: false,
        }
    }
}

impl Behaviour {
    /// Whether this model applies to a container of a pod.
    pub fn matches(
        &self,
        image: &str,
        namespace: &str,
        labels: Option<&BTreeMap<String, String>>,
    ) -> bool {
        if self
            .image
            .as_deref()
            .is_some_and(|glob| !glob_match(glob, image))
        {
            return false;
        }
        if self.namespace.as_deref().is_some_and(|ns| ns != namespace) {
            return false;
        }
        self.labels
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
    }
}

/// `*` matches any run of characters.
pub fn glob_match(glob: &str, text: &str) -> bool {
    let parts: Vec<&str> = glob.split('*').collect();
    if parts.len() == 1 {
        return glob == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

/// What a webhook answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    Allow,
    Deny,
    /// The call fails (connection refused, 500): `failurePolicy` decides.
    Error,
}

/// A webhook's latency and outcome over time.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookModel {
    pub name: String,
    pub latency: Dist,
    pub outcome: WebhookOutcome,
    pub phases: Vec<WebhookPhase>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WebhookPhase {
    pub from: SimTime,
    pub until: SimTime,
    pub latency: Option<Dist>,
    pub outcome: Option<WebhookOutcome>,
}

impl WebhookModel {
    /// The latency distribution and outcome in force at `t`.
    pub fn at(&self, t: SimTime) -> (&Dist, WebhookOutcome) {
        let phase = self.phases.iter().find(|p| p.from <= t && t < p.until);
        match phase {
            Some(p) => (
                p.latency.as_ref().unwrap_or(&self.latency),
                p.outcome.unwrap_or(self.outcome),
            ),
            None => (&self.latency, self.outcome),
        }
    }
}

/// A scripted change at a point in time.
#[derive(Clone, Debug)]
pub struct TimedAction {
    pub at: SimTime,
    pub action: ScenarioAction,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub enum ScenarioAction {
    Suspend(ObjectKey),
    Resume(ObjectKey),
    DeleteJobs {
        of: ObjectRef,
        unfinished_only: bool,
    },
    Delete(ObjectKey),
    NodeDown(String),
    NodeUp(String),
    ScaleJob {
        job: ObjectKey,
        parallelism: i32,
    },
    Apply(Box<KubeObject>),
}

impl ScenarioAction {
    /// A short label for reports and traces.
    pub fn label(&self) -> String {
        match self {
            ScenarioAction::Suspend(k) => format!("suspend {}", ObjectRef::Object(k.clone())),
            ScenarioAction::Resume(k) => format!("resume {}", ObjectRef::Object(k.clone())),
            ScenarioAction::DeleteJobs { of, .. } => format!("delete jobs of {of}"),
            ScenarioAction::Delete(k) => format!("delete {}", ObjectRef::Object(k.clone())),
            ScenarioAction::NodeDown(n) => format!("node {n} down"),
            ScenarioAction::NodeUp(n) => format!("node {n} up"),
            ScenarioAction::ScaleJob { job, parallelism } => {
                format!("scale {} to {parallelism}", ObjectRef::Object(job.clone()))
            }
            ScenarioAction::Apply(o) => format!("apply {}", o.key()),
        }
    }
}

/// The error an injected fault returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    Internal,
    Timeout,
    Conflict,
    TooManyRequests,
}

/// API calls that fail with a probability.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub from: SimTime,
    pub until: SimTime,
    pub probability: f64,
    pub clients: Vec<String>,
    pub verbs: Vec<String>,
    pub resources: Vec<String>,
    pub status_only: bool,
    pub error: FaultError,
    pub persisted: bool,
    pub origin: Origin,
}

/// What an assertion measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Jobs,
    UnfinishedJobs,
    JobsWithoutPod,
    Pods,
    ActivePods,
    CompletedPods,
    FailedPods,
    PendingPods,
    /// Seconds a Job waits for its first pod (the oldest waiting Job, or the longest
    /// observed wait).
    PodCreationWait,
    /// Seconds from a Job's last pod succeeding to the Job's `Complete` condition.
    CompletionLag,
    JobQueueDepth,
    /// Events recorded (after the event filter), optionally of one reason.
    Events,
    /// Pods created for a CronJob's Jobs while the CronJob was suspended (guard 4: the
    /// backlog gets none).
    PodsCreatedWhileSuspended,
    /// cpu (millicores) requested by pods that hold node resources without running
    /// (guard 6's holdings).
    HeldCpu,
}

impl Metric {
    pub const NAMES: &'static [(&'static str, Metric)] = &[
        ("jobs", Metric::Jobs),
        ("unfinishedJobs", Metric::UnfinishedJobs),
        ("jobsWithoutPod", Metric::JobsWithoutPod),
        ("pods", Metric::Pods),
        ("activePods", Metric::ActivePods),
        ("completedPods", Metric::CompletedPods),
        ("failedPods", Metric::FailedPods),
        ("pendingPods", Metric::PendingPods),
        ("podCreationWait", Metric::PodCreationWait),
        ("completionLag", Metric::CompletionLag),
        ("jobQueueDepth", Metric::JobQueueDepth),
        ("events", Metric::Events),
        (
            "podsCreatedWhileSuspended",
            Metric::PodsCreatedWhileSuspended,
        ),
        ("heldCpu", Metric::HeldCpu),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, m)| *m == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    pub fn is_time(self) -> bool {
        matches!(self, Metric::PodCreationWait | Metric::CompletionLag)
    }
}

/// When an assertion is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Always,
    End,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Assertion {
    pub name: String,
    pub metric: Metric,
    pub of: Option<ObjectRef>,
    pub reason: Option<String>,
    pub max: Option<f64>,
    pub min: Option<f64>,
    pub when: When,
    pub origin: Origin,
}

/// What a violated invariant does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Fail,
    Warn,
    Off,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvariantModes {
    pub job_parallelism: Mode,
    pub success_counted_once: Mode,
    pub node_overcommit: Mode,
    pub gc_live_owner: Mode,
    pub ttl_early: Mode,
}

impl Default for InvariantModes {
    fn default() -> Self {
        InvariantModes {
            job_parallelism: Mode::Fail,
            success_counted_once: Mode::Fail,
            node_overcommit: Mode::Fail,
            gc_live_owner: Mode::Fail,
            ttl_early: Mode::Fail,
        }
    }
}
