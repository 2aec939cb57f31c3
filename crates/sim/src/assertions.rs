//! Scenario assertions: a metric, optionally scoped to a CronJob's Jobs and pods or to a
//! namespace, bounded by `max`/`min`, checked at every sample (`when: always`) or at the
//! end (`when: end`). A failed assertion makes `corral sim` exit non-zero and prints the
//! command that reproduces the run.

use corral_api::{KubeObject, ResourceKind, Uid};
use corral_core::{ObjectCache, Timestamp, clock};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

use crate::metrics::{Metrics, Observation, job_finished};
use crate::scenario::{Assertion, Metric, ObjectRef, When};
use crate::time::SimTime;

/// The state of one assertion.
#[derive(Clone, Debug, PartialEq)]
pub struct AssertionResult {
    pub assertion: Assertion,
    pub passed: bool,
    /// The value furthest outside (or closest to) the bounds.
    pub worst: Option<f64>,
    pub last: Option<f64>,
    /// When it first failed.
    pub failed_at: Option<SimTime>,
}

/// What a measurement reads.
pub struct Context<'a> {
    pub cache: &'a ObjectCache,
    pub metrics: &'a Metrics,
    pub job_queue_depth: u64,
    pub now: Timestamp,
}

/// Which objects an assertion looks at.
enum Scope {
    All,
    Namespace(String),
    /// A CronJob (namespace, name, uid if it exists).
    CronJob(String, String, Option<Uid>),
}

impl Scope {
    fn of(reference: Option<&ObjectRef>, cache: &ObjectCache) -> Scope {
        match reference {
            None => Scope::All,
            Some(ObjectRef::Namespace(ns)) => Scope::Namespace(ns.clone()),
            Some(ObjectRef::Object(key)) => {
                let uid = cache.get(key).map(|o| o.uid());
                match key.kind {
                    ResourceKind::CronJob => {
                        Scope::CronJob(key.namespace.clone(), key.name.clone(), uid)
                    }
                    _ => Scope::Namespace(key.namespace.clone()),
                }
            }
        }
    }

    fn namespace(&self) -> Option<&str> {
        match self {
            Scope::All => None,
            Scope::Namespace(ns) | Scope::CronJob(ns, _, _) => Some(ns),
        }
    }

    fn job(&self, job: &KubeObject) -> bool {
        match self {
            Scope::All => true,
            Scope::Namespace(ns) => job.namespace() == ns,
            Scope::CronJob(ns, name, uid) => {
                job.namespace() == ns
                    && job.controller_ref().is_some_and(|r| {
                        r.kind == "CronJob"
                            && r.name == *name
                            && uid.as_ref().is_none_or(|u| u.0 == r.uid)
                    })
            }
        }
    }

    fn pod(&self, pod: &KubeObject, cache: &ObjectCache) -> bool {
        match self {
            Scope::All => true,
            Scope::Namespace(ns) => pod.namespace() == ns,
            Scope::CronJob(..) => pod
                .controller_ref()
                .and_then(|r| cache.get_by_uid(&Uid(r.uid.clone())))
                .is_some_and(|job| self.job(job)),
        }
    }

    fn observation(&self, o: &Observation) -> bool {
        match self {
            Scope::All => true,
            Scope::Namespace(ns) => o.namespace == *ns,
            Scope::CronJob(ns, _, uid) => o.namespace == *ns && uid.is_some() && o.owner == *uid,
        }
    }
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// The current value of an assertion's metric.
pub fn measure(assertion: &Assertion, ctx: &Context) -> f64 {
    let scope = Scope::of(assertion.of.as_ref(), ctx.cache);
    // A CronJob's Jobs come from the owner index (checked at every Job event); other
    // scopes list every Job.
    let owned: Option<&Uid> = match &scope {
        Scope::CronJob(_, _, Some(uid)) => Some(uid),
        _ => None,
    };
    let jobs = || -> Box<dyn Iterator<Item = &std::sync::Arc<KubeObject>> + '_> {
        match owned {
            Some(uid) => Box::new(
                ctx.cache
                    .dependents_of(uid)
                    .filter(|j| j.kind() == ResourceKind::Job)
                    .filter(|j| scope.job(j)),
            ),
            None => Box::new(ctx.cache.list(ResourceKind::Job).filter(|j| scope.job(j))),
        }
    };
    let pods = || {
        ctx.cache
            .list(ResourceKind::Pod)
            .filter(|p| scope.pod(p, ctx.cache))
    };
    let count = |n: usize| n as f64;
    match assertion.metric {
        Metric::Jobs => count(jobs().count()),
        Metric::UnfinishedJobs => count(
            jobs()
                .filter(|j| {
                    j.as_typed::<Job>()
                        .is_some_and(|j| job_finished(j).is_none())
                })
                .count(),
        ),
        Metric::JobsWithoutPod => count(jobs().filter(|j| waiting_for_pod(j, ctx.cache)).count()),
        Metric::Pods => count(pods().count()),
        Metric::ActivePods => count(
            pods()
                .filter(|p| {
                    p.as_typed::<Pod>()
                        .is_some_and(|p| !matches!(phase(p), "Succeeded" | "Failed"))
                })
                .count(),
        ),
        Metric::CompletedPods => count(
            pods()
                .filter(|p| p.as_typed::<Pod>().is_some_and(|p| phase(p) == "Succeeded"))
                .count(),
        ),
        Metric::FailedPods => count(
            pods()
                .filter(|p| p.as_typed::<Pod>().is_some_and(|p| phase(p) == "Failed"))
                .count(),
        ),
        Metric::PendingPods => count(
            pods()
                .filter(|p| p.as_typed::<Pod>().is_some_and(|p| phase(p) == "Pending"))
                .count(),
        ),
        Metric::PodCreationWait => {
            let waiting = jobs()
                .filter(|j| waiting_for_pod(j, ctx.cache))
                .filter_map(|j| {
                    j.meta()
                        .creation_timestamp
                        .as_ref()
                        .map(|t| clock::since(ctx.now, t.0).as_secs_f64())
                })
                .fold(0.0, f64::max);
            let observed = ctx
                .metrics
                .creation_lags
                .iter()
                .filter(|o| scope.observation(o))
                .map(|o| o.seconds)
                .fold(0.0, f64::max);
            waiting.max(observed)
        }
        Metric::CompletionLag => ctx
            .metrics
            .completion_lags
            .iter()
            .filter(|o| scope.observation(o))
            .map(|o| o.seconds)
            .fold(0.0, f64::max),
        Metric::JobQueueDepth => ctx.job_queue_depth as f64,
        Metric::Events => ctx
            .metrics
            .totals
            .events_by_namespace
            .iter()
            .filter(|((reason, ns), _)| {
                assertion.reason.as_ref().is_none_or(|r| r == reason)
                    && scope.namespace().is_none_or(|s| s == ns)
            })
            .map(|(_, n)| *n as f64)
            .fold(0.0, |a, b| a + b),
        Metric::PodsCreatedWhileSuspended => ctx
            .metrics
            .pods_created_while_suspended
            .iter()
            .filter(|((ns, uid), _)| match &scope {
                Scope::All => true,
                Scope::Namespace(n) => n == ns,
                Scope::CronJob(n, _, owner) => n == ns && owner.as_ref() == Some(uid),
            })
            .map(|(_, n)| *n as f64)
            .fold(0.0, |a, b| a + b),
        Metric::HeldCpu => {
            let holdings = corral_controllers::holdings::compute_holdings(
                ctx.cache,
                ctx.now,
                &crate::report::holdings::pod_requests,
            );
            holdings
                .holdings
                .iter()
                .filter(|h| match &scope {
                    Scope::All => true,
                    Scope::Namespace(ns) => h.metadata.namespace.as_deref() == Some(ns.as_str()),
                    Scope::CronJob(..) => h
                        .status
                        .owner
                        .uid
                        .as_ref()
                        .and_then(|uid| ctx.cache.get_by_uid(&Uid(uid.clone())))
                        .is_some_and(|job| scope.job(job)),
                })
                .flat_map(|h| h.status.held_pods.iter())
                .map(|p| {
                    corral_api::Quantity::from_wire(&p.requests.cpu).map_or(0, |q| q.milli_value())
                        as f64
                })
                .fold(0.0, |a, b| a + b)
        }
    }
}

/// Whether an assertion is re-checked at every Job event (not only at samples): a Job
/// count of one CronJob, which the owner index makes cheap ("at every instant").
fn checked_per_event(assertion: &Assertion) -> bool {
    assertion.when == When::Always
        && matches!(
            assertion.metric,
            Metric::Jobs | Metric::UnfinishedJobs | Metric::JobsWithoutPod
        )
        && matches!(&assertion.of, Some(ObjectRef::Object(key)) if key.kind == ResourceKind::CronJob)
}

/// An unfinished Job without a pod that is not suspended (a suspended Job waits by
/// choice: guard 4 suspends a CronJob's backlog, and a user may suspend any Job).
fn waiting_for_pod(job: &KubeObject, cache: &ObjectCache) -> bool {
    job.as_typed::<Job>().is_some_and(|j| {
        job_finished(j).is_none() && j.spec.as_ref().and_then(|s| s.suspend) != Some(true)
    }) && !cache
        .dependents_of(&job.uid())
        .any(|d| d.kind() == ResourceKind::Pod)
}

#[derive(Debug, Default)]
pub struct Assertions {
    pub results: Vec<AssertionResult>,
}

impl Assertions {
    pub fn new(assertions: &[Assertion]) -> Self {
        Assertions {
            results: assertions
                .iter()
                .map(|a| AssertionResult {
                    assertion: a.clone(),
                    passed: true,
                    worst: None,
                    last: None,
                    failed_at: None,
                })
                .collect(),
        }
    }

    /// Whether any assertion wants a check at every Job event.
    pub fn per_event(&self) -> bool {
        self.results.iter().any(|r| checked_per_event(&r.assertion))
    }

    /// Re-checks the per-event assertions (after a Job event).
    pub fn check_event(&mut self, ctx: &Context, now: SimTime) {
        self.check_where(ctx, now, checked_per_event);
    }

    /// Checks the assertions due now (`end`: the final check, which includes `when: end`).
    pub fn check(&mut self, ctx: &Context, now: SimTime, end: bool) {
        self.check_where(ctx, now, |a| end || a.when != When::End);
    }

    fn check_where(&mut self, ctx: &Context, now: SimTime, due: impl Fn(&Assertion) -> bool) {
        for result in &mut self.results {
            let a = &result.assertion;
            if !due(a) {
                continue;
            }
            let value = measure(a, ctx);
            result.last = Some(value);
            let over = a.max.is_some_and(|m| value > m);
            let under = a.min.is_some_and(|m| value < m);
            let worse = match result.worst {
                None => true,
                Some(w) => (a.max.is_some() && value > w) || (a.max.is_none() && value < w),
            };
            if worse {
                result.worst = Some(value);
            }
            if (over || under) && result.passed {
                result.passed = false;
                result.failed_at = Some(now);
            }
        }
    }

    pub fn all_passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }
}
