//! Safety checkers, run on every store mutation (and on every controller delete before it
//! lands), as TigerBeetle's state checker runs every tick:
//!
//! - a Job never has more active pods than its parallelism (after a scale-down, until the
//!   surplus is gone, the earlier parallelism is allowed);
//! - every success is counted once: `status.succeeded` never exceeds the distinct pods of
//!   the Job seen succeeding, and never decreases;
//! - no node is overcommitted: requests of its bound, non-terminal pods fit its
//!   allocatable cpu, memory and pod count;
//! - the garbage collector never deletes an object with a live owner;
//! - the TTL controller never deletes a Job before `finish + ttlSecondsAfterFinished`.
//!
//! A violation in `fail` mode stops the run; the report prints the command that
//! reproduces it.

use std::collections::{BTreeMap, HashMap, HashSet};

use corral_api::{KubeObject, ObjectKey, ResourceKind, Uid};
use corral_core::{ChangeKind, ObjectCache, ObjectEvent, Timestamp, clock};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod};

use crate::scenario::{InvariantModes, Mode};
use crate::time::SimTime;

/// A broken invariant.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    pub invariant: &'static str,
    pub at: SimTime,
    pub message: String,
    pub fatal: bool,
}

#[derive(Default, Debug)]
pub struct Invariants {
    pub modes: Option<InvariantModes>,
    pub violations: Vec<Violation>,
    /// Job uid → the parallelism its active pods may reach now.
    allowance: HashMap<Uid, i32>,
    /// Job uid → pods seen succeeded.
    succeeded_pods: HashMap<Uid, HashSet<Uid>>,
    last_succeeded: HashMap<Uid, i32>,
    /// Pod uid → (node, milli cpu, memory) while it holds node resources.
    holding: HashMap<Uid, (String, i64, i64)>,
    /// Node → (milli cpu, memory, pods) in use.
    usage: BTreeMap<String, (i64, i64, u32)>,
    /// Checks done (for the summary).
    pub checks: u64,
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()?
        .node_name
        .as_deref()
        .filter(|n| !n.is_empty())
}

impl Invariants {
    pub fn new(modes: InvariantModes) -> Self {
        Invariants {
            modes: Some(modes),
            ..Default::default()
        }
    }

    fn report(&mut self, invariant: &'static str, mode: Mode, at: SimTime, message: String) {
        if mode == Mode::Off {
            return;
        }
        if self.violations.len() < 1000 {
            self.violations.push(Violation {
                invariant,
                at,
                message,
                fatal: mode == Mode::Fail,
            });
        }
    }

    /// The first fatal violation, if any.
    pub fn fatal(&self) -> Option<&Violation> {
        self.violations.iter().find(|v| v.fatal)
    }

    /// Checks one watch event against the cache that already holds it.
    pub fn observe(&mut self, event: &ObjectEvent, cache: &ObjectCache, now: SimTime) {
        let Some(modes) = self.modes else { return };
        self.checks += 1;
        match &*event.object {
            KubeObject::Pod(pod) => {
                self.track_node_usage(
                    pod,
                    event.change == ChangeKind::Deleted,
                    cache,
                    modes.node_overcommit,
                    now,
                );
                if let Some(owner) = event.object.controller_ref().filter(|r| r.kind == "Job") {
                    let job_uid = Uid(owner.uid.clone());
                    if pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded") {
                        self.succeeded_pods
                            .entry(job_uid.clone())
                            .or_default()
                            .insert(event.object.uid());
                    }
                    self.check_parallelism(&job_uid, cache, modes.job_parallelism, now);
                }
            }
            KubeObject::Job(job) => {
                let uid = event.object.uid();
                if event.change == ChangeKind::Deleted {
                    self.allowance.remove(&uid);
                    self.succeeded_pods.remove(&uid);
                    self.last_succeeded.remove(&uid);
                    return;
                }
                self.check_succeeded(&uid, job, modes.success_counted_once, now);
                self.check_parallelism(&uid, cache, modes.job_parallelism, now);
            }
            _ => {}
        }
    }

    fn check_parallelism(&mut self, job_uid: &Uid, cache: &ObjectCache, mode: Mode, now: SimTime) {
        let Some(object) = cache.get_by_uid(job_uid) else {
            return;
        };
        let Some(job) = object.as_typed::<Job>() else {
            return;
        };
        let parallelism = job.spec.as_ref().and_then(|s| s.parallelism).unwrap_or(1);
        let active = cache
            .dependents_of(job_uid)
            .filter_map(|o| o.as_typed::<Pod>())
            .filter(|p| {
                p.metadata.deletion_timestamp.is_none()
                    && !is_terminal(p)
                    && p.metadata
                        .owner_references
                        .iter()
                        .flatten()
                        .any(|r| r.controller == Some(true) && r.uid == job_uid.0)
            })
            .count() as i32;
        let allowance = self.allowance.entry(job_uid.clone()).or_insert(parallelism);
        if active <= parallelism {
            *allowance = parallelism;
        } else {
            *allowance = (*allowance).max(parallelism);
        }
        let allowed = *allowance;
        if active > allowed {
            let key = object.key();
            self.report(
                "job-parallelism",
                mode,
                now,
                format!("{key} has {active} active pods, parallelism {parallelism}"),
            );
        }
    }

    fn check_succeeded(&mut self, uid: &Uid, job: &Job, mode: Mode, now: SimTime) {
        let succeeded = job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0);
        let seen = self.succeeded_pods.get(uid).map_or(0, HashSet::len) as i32;
        let name = job.metadata.name.clone().unwrap_or_default();
        if succeeded > seen {
            self.report(
                "success-counted-once",
                mode,
                now,
                format!("job {name}: status.succeeded = {succeeded} but only {seen} distinct pods succeeded"),
            );
        }
        let last = self
            .last_succeeded
            .insert(uid.clone(), succeeded)
            .unwrap_or(0);
        if succeeded < last {
            self.report(
                "success-counted-once",
                mode,
                now,
                format!("job {name}: status.succeeded went down from {last} to {succeeded}"),
            );
        }
    }

    fn track_node_usage(
        &mut self,
        pod: &Pod,
        deleted: bool,
        cache: &ObjectCache,
        mode: Mode,
        now: SimTime,
    ) {
        let uid = Uid(pod.metadata.uid.clone().unwrap_or_default());
        let holds = !deleted && !is_terminal(pod) && node_of(pod).is_some();
        if let Some((node, cpu, memory)) = self.holding.remove(&uid)
            && let Some(u) = self.usage.get_mut(&node)
        {
            u.0 -= cpu;
            u.1 -= memory;
            u.2 = u.2.saturating_sub(1);
        }
        if !holds {
            return;
        }
        let node = node_of(pod).unwrap_or_default().to_string();
        let requests = corral_scheduler::resources::pod_object_requests(pod, false);
        let used = self.usage.entry(node.clone()).or_default();
        used.0 += requests.milli_cpu;
        used.1 += requests.memory;
        used.2 += 1;
        let used = *used;
        self.holding
            .insert(uid, (node.clone(), requests.milli_cpu, requests.memory));
        let Some(node_object) = cache
            .get(&ObjectKey::cluster(ResourceKind::Node, &node))
            .and_then(|o| o.as_typed::<Node>().cloned())
        else {
            return;
        };
        let (allocatable, pods_max) = corral_scheduler::resources::node_allocatable(&node_object);
        if used.0 > allocatable.milli_cpu
            || used.1 > allocatable.memory
            || i64::from(used.2) > pods_max
        {
            self.report(
                "node-overcommit",
                mode,
                now,
                format!(
                    "node {node}: requests cpu {}m / {}m, memory {} / {}, pods {} / {}",
                    used.0, allocatable.milli_cpu, used.1, allocatable.memory, used.2, pods_max
                ),
            );
        }
    }

    /// Checks a delete about to land, issued by `client`.
    pub fn check_delete(
        &mut self,
        client: &str,
        key: &ObjectKey,
        cache: &ObjectCache,
        now: SimTime,
        now_ts: Timestamp,
    ) {
        let Some(modes) = self.modes else { return };
        let Some(object) = cache.get(key) else { return };
        if client == "generic-garbage-collector" {
            for owner in object.meta().owner_references.iter().flatten() {
                let live = cache
                    .get_by_uid(&Uid(owner.uid.clone()))
                    .is_some_and(|o| !o.is_being_deleted());
                if live {
                    self.report(
                        "gc-live-owner",
                        modes.gc_live_owner,
                        now,
                        format!(
                            "the garbage collector deleted {key} although its owner {}/{} is live",
                            owner.kind, owner.name
                        ),
                    );
                }
            }
        }
        if client == "ttl-after-finished-controller" && key.kind == ResourceKind::Job {
            let Some(job) = object.as_typed::<Job>() else {
                return;
            };
            let ttl = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished);
            let finished = job
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| {
                    c.iter().find(|c| {
                        c.status == "True" && (c.type_ == "Complete" || c.type_ == "Failed")
                    })
                })
                .and_then(|c| c.last_transition_time.as_ref());
            match (ttl, finished) {
                (Some(ttl), Some(at)) => {
                    let due = clock::add(at.0, std::time::Duration::from_secs(ttl.max(0) as u64));
                    if now_ts < due {
                        self.report(
                            "ttl-early",
                            modes.ttl_early,
                            now,
                            format!(
                                "{key} deleted {:?} before its TTL expired",
                                clock::since(due, now_ts)
                            ),
                        );
                    }
                }
                _ => self.report(
                    "ttl-early",
                    modes.ttl_early,
                    now,
                    format!("{key} deleted by TTL but not finished or without a TTL"),
                ),
            }
        }
    }
}
