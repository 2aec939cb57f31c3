//! Profiles of control-plane behaviour. A profile picks the *configuration* of the same
//! cores and the driver's characteristics (workers, client rate limits, API latency); it
//! never selects alternative logic.
//!
//! - `upstream`: current Kubernetes (1.31–1.34): the v2 CronJob controller, 5 Job
//!   workers creating pods with blocking calls from one FIFO queue, client QPS 20 /
//!   burst 30, the backoff constants of spec §8 (sync errors 1 s → 60 s, pod failures
//!   10 s → 600 s).
//! - `upstream-1.14`: the snowball era: the CronJob v1 poller (10 s passes, serial
//!   unconditional status writes, the > 500 Jobs pager abort, lost status-write
//!   bookkeeping), Job sync-error backoff 10 s → 360 s and pod-failure backoff capped at
//!   360 s.
//! - `corral`: the upstream settings with every guard the cores implement turned on
//!   (`docs/guards.md`): `JobGuards::corral()` (guard 1's fair queue and detached pod
//!   creates, guard 5's start and creation-failure deadlines), `CronJobGuards::corral()`
//!   (guards 2, 3, 4 and 8) and guard 7's webhook breakers (`BreakerConfig::corral()`, one
//!   `SharedBreakers` per simulated world). The driver honours the cores' requests for a
//!   fair queue and detachable stages under every profile; only `corral` makes them.

use std::time::Duration;

use corral_controllers::cronjob::{
    CronJobControllerConfig, CronJobGuards, CronJobProfile, CronJobV1PollerConfig,
};
use corral_controllers::job::{JobControllerConfig, JobGuards};
use corral_registry::admission::{AdmissionConfig, BreakerConfig, SharedBreakers};

use crate::scenario::{ControlPlaneOverrides, Dist};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Upstream,
    Upstream114,
    Corral,
}

impl Profile {
    pub const NAMES: &'static [&'static str] = &["upstream", "upstream-1.14", "corral"];

    pub fn parse(text: &str) -> Option<Profile> {
        match text {
            "upstream" => Some(Profile::Upstream),
            "upstream-1.14" => Some(Profile::Upstream114),
            "corral" => Some(Profile::Corral),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Profile::Upstream => "upstream",
            Profile::Upstream114 => "upstream-1.14",
            Profile::Corral => "corral",
        }
    }
}

/// Rate limit of one API client (client-go's token bucket).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClientLimits {
    pub qps: f64,
    pub burst: u32,
}

/// Everything a profile decides, after scenario overrides.
#[derive(Clone, Debug)]
pub struct Settings {
    pub profile: Profile,
    pub job: JobControllerConfig,
    pub cronjob: CronJobProfile,
    /// kube-controller-manager clients (one per controller).
    pub controller_client: ClientLimits,
    pub scheduler_client: ClientLimits,
    pub kubelet_client: ClientLimits,
    /// Per-request latency of the API server (storage and everything but webhooks).
    pub api_latency: Dist,
    /// kube-apiserver `--request-timeout`.
    pub request_timeout: Duration,
    /// The admission chain's settings (the request deadline is enforced in admission
    /// from 1.15 on; in 1.14 the handler went on after the client's 504).
    pub admission: AdmissionConfig,
}

impl Settings {
    pub fn new(profile: Profile, overrides: &ControlPlaneOverrides) -> Settings {
        let mut job = JobControllerConfig::default();
        let mut cronjob_v2 = CronJobControllerConfig::default();
        let cronjob_v1 = CronJobV1PollerConfig {
            abort_above_jobs: match overrides.cronjob_v1_pager_abort {
                Some(false) => None,
                _ => Some(500),
            },
            ..CronJobV1PollerConfig::default()
        };
        if profile == Profile::Upstream114 {
            job.api_backoff_base = Duration::from_secs(10);
            job.api_backoff_max = Duration::from_secs(360);
            job.pod_failure_backoff_max = Duration::from_secs(360);
        }
        if profile == Profile::Corral {
            job.guards = JobGuards::corral();
            cronjob_v2.guards = CronJobGuards::corral();
        }
        if let Some(workers) = overrides.job_workers {
            job.workers = workers;
        }
        if let Some(workers) = overrides.cronjob_workers {
            cronjob_v2.workers = workers;
        }
        let cronjob = match profile {
            Profile::Upstream114 => CronJobProfile::V1(cronjob_v1),
            Profile::Upstream | Profile::Corral => CronJobProfile::V2(cronjob_v2),
        };
        Settings {
            profile,
            job,
            cronjob,
            controller_client: ClientLimits {
                qps: overrides.client_qps.unwrap_or(20.0),
                burst: overrides.client_burst.unwrap_or(30),
            },
            scheduler_client: ClientLimits {
                qps: 50.0,
                burst: 100,
            },
            kubelet_client: ClientLimits {
                qps: 50.0,
                burst: 100,
            },
            api_latency: overrides
                .api_latency
                .clone()
                .unwrap_or(Dist::Fixed(Duration::from_millis(10))),
            request_timeout: overrides.request_timeout.unwrap_or(Duration::from_secs(60)),
            admission: AdmissionConfig {
                request_timeout: overrides.request_timeout.unwrap_or(Duration::from_secs(60)),
                enforce_request_deadline: profile != Profile::Upstream114,
                // A fresh `SharedBreakers` per `Settings` (one per simulated world): the
                // `Arc` must never carry state from one run to the next.
                webhook_breakers: (profile == Profile::Corral)
                    .then(|| SharedBreakers::new(BreakerConfig::corral())),
                ..AdmissionConfig::default()
            },
        }
    }

    /// One line per derived setting, printed before the run.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = self.describe_base();
        lines.push(self.describe_guards());
        lines
    }

    fn describe_guards(&self) -> String {
        let job = &self.job.guards;
        let cronjob = match &self.cronjob {
            CronJobProfile::V2(c) => c.guards.clone(),
            CronJobProfile::V1(_) => CronJobGuards::default(),
        };
        let mut on = Vec::new();
        if job.fair_queue {
            on.push("1 fair queue".to_string());
        }
        if job.non_blocking_creates {
            on.push("1 detached pod creates".to_string());
        }
        if cronjob.forbid_by_owner {
            on.push("2 Forbid by owner".to_string());
        }
        if let Some(cap) = cronjob.max_unfinished_jobs {
            on.push(format!("3 Allow cap {cap}"));
        }
        if cronjob.suspend_backlog {
            on.push("4 suspend backlog".to_string());
        }
        if let Some(d) = job.start_deadline {
            on.push(format!("5 start deadline {d:?}"));
        }
        if let Some(d) = job.creation_failure_deadline {
            on.push(format!("5 creation-failure deadline {d:?}"));
        }
        if self.admission.webhook_breakers.is_some() {
            on.push("7 webhook breakers".to_string());
        }
        if cronjob.next_run_annotation {
            on.push("8 next-run annotation".to_string());
        }
        if on.is_empty() {
            "guards: none (upstream behaviour)".to_string()
        } else {
            format!("guards: {}", on.join(", "))
        }
    }

    fn describe_base(&self) -> Vec<String> {
        let cronjob = match &self.cronjob {
            CronJobProfile::V2(c) => format!("v2 controller, {} workers", c.workers),
            CronJobProfile::V1(c) => format!(
                "v1 poller every {:?}, {}",
                c.sync_period,
                c.abort_above_jobs
                    .map_or("pager defect fixed (back-port)".to_string(), |n| format!(
                        "pass aborts above {n} Jobs (unpatched pager)"
                    ))
            ),
        };
        vec![
            format!("profile: {}", self.profile.name()),
            format!(
                "job controller: {} workers, sync-error backoff {:?} → {:?}, pod-failure backoff {:?} → {:?}, batch period {:?}",
                self.job.workers,
                self.job.api_backoff_base,
                self.job.api_backoff_max,
                self.job.pod_failure_backoff_base,
                self.job.pod_failure_backoff_max,
                self.job.sync_batch_period
            ),
            format!("cronjob controller: {cronjob}"),
            format!(
                "clients: controllers {} qps / burst {}, scheduler {} / {}, kubelets {} / {}",
                self.controller_client.qps,
                self.controller_client.burst,
                self.scheduler_client.qps,
                self.scheduler_client.burst,
                self.kubelet_client.qps,
                self.kubelet_client.burst
            ),
            format!(
                "api: latency {:?}, request timeout {:?} ({})",
                self.api_latency,
                self.request_timeout,
                if self.admission.enforce_request_deadline {
                    "admission stops at the deadline"
                } else {
                    "the handler goes on after the client's 504"
                }
            ),
        ]
    }
}
