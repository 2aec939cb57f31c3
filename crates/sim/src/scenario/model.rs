//! The scenario file as written: serde structs that reject unknown fields and keep the
//! source position of every value a later check may complain about. `super::load` turns
//! them into the resolved [`super::Scenario`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

pub type Text = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScenarioFile {
    pub name: Option<String>,
    pub description: Option<String>,
    /// RFC 3339; default 2026-01-01T00:00:00Z.
    pub start: Option<Text>,
    /// How long to run when `--until` is not given.
    pub duration: Option<Text>,
    pub seed: Option<u64>,
    pub profile: Option<Text>,
    #[serde(default)]
    pub cluster: ClusterFile,
    #[serde(default)]
    pub control_plane: ControlPlaneFile,
    #[serde(default)]
    pub workloads: WorkloadsFile,
    #[serde(default)]
    pub behaviours: Vec<Spanned<BehaviourFile>>,
    #[serde(default)]
    pub webhooks: Vec<Spanned<WebhookFile>>,
    #[serde(default)]
    pub timeline: Vec<Spanned<TimelineFile>>,
    #[serde(default)]
    pub faults: Vec<Spanned<FaultFile>>,
    #[serde(default)]
    pub assertions: Vec<Spanned<AssertionFile>>,
    #[serde(default)]
    pub invariants: InvariantsFile,
    #[serde(default)]
    pub options: OptionsFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterFile {
    #[serde(default)]
    pub nodes: Vec<Spanned<NodeFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeFile {
    /// The node's name, or the prefix of `count` nodes (`worker` → `worker-0` …).
    pub name: String,
    pub count: Option<u32>,
    #[serde(default = "default_cpu")]
    pub cpu: Text,
    #[serde(default = "default_memory")]
    pub memory: Text,
    #[serde(default = "default_pods")]
    pub pods: u32,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub taints: Vec<TaintFile>,
}

fn default_cpu() -> Text {
    super::unspanned("4".to_string())
}

fn default_memory() -> Text {
    super::unspanned("16Gi".to_string())
}

fn default_pods() -> u32 {
    110
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TaintFile {
    pub key: String,
    pub value: Option<String>,
    pub effect: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ControlPlaneFile {
    pub job_workers: Option<u32>,
    pub cron_job_workers: Option<u32>,
    pub client_qps: Option<f64>,
    pub client_burst: Option<u32>,
    /// Per-request API latency (a distribution).
    pub api_latency: Option<Text>,
    pub request_timeout: Option<Text>,
    /// `upstream-1.14` only: whether the v1 CronJob poller has the unpatched pager defect
    /// (the whole pass aborts above 500 Jobs cluster-wide). Default true; vendors
    /// back-ported the fix to their 1.14 builds (GKE 1.14.10 of the snowball had it).
    pub cron_job_v1_pager_abort: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadsFile {
    /// Kubernetes manifests, inline.
    #[serde(default)]
    pub manifests: Vec<Spanned<serde_json::Value>>,
    /// Files or directories of manifests (multi-document YAML or JSON), relative to the
    /// scenario file.
    #[serde(default)]
    pub files: Vec<Text>,
    /// A manifest repeated `count` times; `{{i}}` in its strings becomes 0, 1, 2 …
    #[serde(default)]
    pub generate: Vec<Spanned<GenerateFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GenerateFile {
    pub count: u32,
    pub manifest: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BehaviourFile {
    #[serde(rename = "match", default)]
    pub matcher: MatchFile,
    /// A distribution: `30s`, `uniform(10s, 60s)`, `exp(30s)`, `normal(30s, 5s)`, `never`.
    pub run_time: Option<Text>,
    pub exit_code: Option<i32>,
    /// With this probability a run exits with `failureExitCode` instead.
    pub failure_probability: Option<f64>,
    pub failure_exit_code: Option<i32>,
    /// The image pull fails (ErrImagePull / ImagePullBackOff forever).
    #[serde(default)]
    pub image_pull_fails: bool,
    pub pull_time: Option<Text>,
    /// Every run exits 1 after `runTime` (CrashLoopBackOff under `Always`/`OnFailure`).
    #[serde(default)]
    pub crash_loop: bool,
    /// Runs end with an OOM kill (exit 137) instead of an exit.
    #[serde(default)]
    pub oom_killed: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MatchFile {
    /// Image glob (`*` anywhere).
    pub image: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookFile {
    /// The webhook's `name` in a Mutating/ValidatingWebhookConfiguration.
    pub name: Text,
    #[serde(default = "default_webhook_latency")]
    pub latency: Text,
    #[serde(default = "default_outcome")]
    pub outcome: Text,
    #[serde(default)]
    pub phases: Vec<Spanned<WebhookPhaseFile>>,
}

fn default_webhook_latency() -> Text {
    super::unspanned("20ms".to_string())
}

fn default_outcome() -> Text {
    super::unspanned("allow".to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookPhaseFile {
    pub from: Text,
    pub until: Option<Text>,
    pub latency: Option<Text>,
    pub outcome: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TimelineFile {
    pub at: Text,
    /// `cronjob/NS/NAME`: set `spec.suspend: true`.
    pub suspend: Option<Text>,
    pub resume: Option<Text>,
    /// Delete Jobs (Background propagation, as kubectl).
    pub delete_jobs: Option<DeleteJobsFile>,
    /// `KIND/NS/NAME` deleted with Background propagation.
    pub delete: Option<Text>,
    pub node_down: Option<Text>,
    pub node_up: Option<Text>,
    pub scale_job: Option<ScaleJobFile>,
    /// A manifest created (or replaced) at this time.
    pub apply: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeleteJobsFile {
    /// `cronjob/NS/NAME`: the Jobs it owns; or `namespace/NS`: every Job there.
    pub of: Text,
    /// Only unfinished Jobs.
    #[serde(default)]
    pub unfinished_only: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScaleJobFile {
    pub job: Text,
    pub parallelism: i32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FaultFile {
    /// `apiError` or `statusWriteFailure` (API errors on `/status` writes only).
    pub kind: Text,
    pub from: Option<Text>,
    pub until: Option<Text>,
    pub probability: f64,
    /// Client names (`job-controller`, `cronjob-controller`, `scheduler`, `kubelet`, …).
    #[serde(default)]
    pub clients: Vec<String>,
    /// `create`, `update`, `patch`, `delete`.
    #[serde(default)]
    pub verbs: Vec<String>,
    /// Plural resource names (`pods`, `jobs`).
    #[serde(default)]
    pub resources: Vec<String>,
    /// `internal` (500), `timeout` (504), `conflict` (409), `tooManyRequests` (429).
    pub error: Option<Text>,
    /// The write is stored although the client sees the error.
    #[serde(default)]
    pub persisted: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssertionFile {
    pub name: Option<String>,
    pub metric: Text,
    /// `cronjob/NS/NAME` or `namespace/NS`.
    pub of: Option<Text>,
    /// For `events`: the event reason.
    pub reason: Option<String>,
    /// A number, or a duration for time metrics.
    pub max: Option<Text>,
    pub min: Option<Text>,
    /// `always` (checked every simulated second it changes) or `end`.
    pub when: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InvariantsFile {
    pub job_parallelism: Option<Text>,
    pub success_counted_once: Option<Text>,
    pub node_overcommit: Option<Text>,
    pub gc_live_owner: Option<Text>,
    pub ttl_early: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OptionsFile {
    /// Write Event objects to the store (slower; events are always counted).
    #[serde(default)]
    pub store_events: bool,
    /// Seconds between samples of the time series (default 60).
    pub sample_every: Option<Text>,
}
