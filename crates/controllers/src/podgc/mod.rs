//! Pod garbage collection (`pkg/controller/podgc/gc_controller.go`): a periodic pass over all
//! pods that force-deletes
//!
//! 1. terminated pods beyond `--terminated-pod-gc-threshold` (12 500), evicted ones first,
//!    then oldest first (`gcTerminated`, `byEvictionAndCreationTimestamp`);
//! 2. terminating pods on a node that is not Ready and carries the
//!    `node.kubernetes.io/out-of-service` taint (`gcTerminating`);
//! 3. pods bound to a node that has been missing for the quarantine time, 40 s
//!    (`gcOrphaned`);
//! 4. terminating pods that were never scheduled (`gcUnscheduledTerminating`).
//!
//! Each deletion first marks a non-terminal pod `Failed` (with a `DisruptionTarget` condition
//! for orphans), then deletes with grace period 0 (`markFailedAndDeletePodWithCondition`).
//!
//! **Periodic trigger.** Upstream runs the pass every `gcCheckPeriod` (20 s) from a goroutine.
//! Here the pass is the reconcile of one synthetic key, [`PodGcController::pass_key`]
//! (`pods/pod-gc`, a namespace-less pod key no real pod can have). The controller queues it
//! itself on the first watch event it sees (a driver's initial list delivers those), and
//! every pass ends with `requeue_after = gc_check_period`, so a driver needs nothing special;
//! a driver without events may also enqueue `pass_key()` once at start.
//!
//! **Quarantine.** Upstream remembers a missing node in a delaying queue for 40 s and then
//! confirms with a live GET. Here the first pass that sees a pod on a missing node records
//! the time; a later pass at least `quarantine_time` after it, with the node still absent
//! from the cache, deletes the node's pods (the cache lookup replaces the GET).

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::{
    Action, Enqueue, ObjectCache, ObjectEvent, Outcome, PatchBody, Plan, Preconditions,
    QueueConfig, RateLimiter, Reconciler, Subresource, SyncResult, Timestamp,
};
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::json;

/// The taint that lets pod GC delete terminating pods of a dead node.
pub const TAINT_OUT_OF_SERVICE: &str = "node.kubernetes.io/out-of-service";

/// Settings (kube-controller-manager flags and constants).
#[derive(Clone, Debug)]
pub struct PodGcConfig {
    /// `--terminated-pod-gc-threshold`, default 12 500; 0 disables step 1.
    pub terminated_pod_gc_threshold: usize,
    /// `gcCheckPeriod`, 20 s.
    pub gc_check_period: Duration,
    /// `quarantineTime`, 40 s.
    pub quarantine_time: Duration,
    /// A bound on deletions per pass (upstream has none); the rest wait for the next pass.
    pub deletions_per_pass_max: usize,
}

impl Default for PodGcConfig {
    fn default() -> Self {
        PodGcConfig {
            terminated_pod_gc_threshold: 12_500,
            gc_check_period: Duration::from_secs(20),
            quarantine_time: Duration::from_secs(40),
            deletions_per_pass_max: 10_000,
        }
    }
}

/// Why a pod is deleted (upstream's metric label), for tests and traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PodGcReason {
    Terminated,
    TerminatingOutOfService,
    Orphaned,
    TerminatingUnscheduled,
}

/// The controller core.
#[derive(Debug)]
pub struct PodGcController {
    config: PodGcConfig,
    /// Missing node → when a pass first saw a pod bound to it.
    missing_nodes: BTreeMap<String, Timestamp>,
    seeded: bool,
}

impl PodGcController {
    pub fn new(config: PodGcConfig) -> Self {
        assert!(
            !config.gc_check_period.is_zero(),
            "a periodic pass needs a period"
        );
        assert!(
            config.deletions_per_pass_max > 0,
            "a pass must be able to delete"
        );
        PodGcController {
            config,
            missing_nodes: BTreeMap::new(),
            seeded: false,
        }
    }

    /// The synthetic key whose reconcile is one pass.
    pub fn pass_key() -> ObjectKey {
        ObjectKey::new(ResourceKind::Pod, "", "pod-gc")
    }

    /// Upstream `gc`: the four sweeps, in upstream's order; a pod picked by several sweeps
    /// is deleted once, for the first reason.
    fn pass<'c>(&mut self, cache: &'c ObjectCache, now: Timestamp) -> Vec<(PodGcReason, &'c Pod)> {
        let pods: Vec<&Pod> = cache.list_typed::<Pod>().collect();
        let mut doomed: Vec<(PodGcReason, &Pod)> = Vec::new();
        if self.config.terminated_pod_gc_threshold > 0 {
            let excess =
                terminated_beyond_threshold(&pods, self.config.terminated_pod_gc_threshold);
            doomed.extend(excess.into_iter().map(|p| (PodGcReason::Terminated, p)));
        }
        doomed.extend(
            terminating_out_of_service(&pods, cache)
                .map(|p| (PodGcReason::TerminatingOutOfService, p)),
        );
        let deleted_nodes = self.discover_deleted_nodes(&pods, cache, now);
        doomed.extend(
            pods.iter()
                .filter(|p| node_name(p).is_some_and(|n| deleted_nodes.contains(n)))
                .map(|p| (PodGcReason::Orphaned, *p)),
        );
        doomed.extend(
            pods.iter()
                .filter(|p| p.metadata.deletion_timestamp.is_some() && node_name(p).is_none())
                .map(|p| (PodGcReason::TerminatingUnscheduled, *p)),
        );
        let mut seen = BTreeSet::new();
        doomed.retain(|(_, pod)| {
            seen.insert((pod.metadata.namespace.clone(), pod.metadata.name.clone()))
        });
        doomed.truncate(self.config.deletions_per_pass_max);
        doomed
    }

    /// Upstream's quarantine (`gcOrphaned`, `discoverDeletedNodes`): nodes referenced by
    /// pods, absent from the cache, and first seen missing at least `quarantine_time` ago.
    /// A node is forgotten once it exists again, is no longer referenced, or was reported
    /// (upstream pops it from its queue; a new sighting starts a new quarantine).
    fn discover_deleted_nodes(
        &mut self,
        pods: &[&Pod],
        cache: &ObjectCache,
        now: Timestamp,
    ) -> BTreeSet<String> {
        let missing: BTreeSet<&str> = pods
            .iter()
            .filter_map(|p| node_name(p))
            .filter(|n| {
                cache
                    .get(&ObjectKey::cluster(ResourceKind::Node, n))
                    .is_none()
            })
            .collect();
        self.missing_nodes
            .retain(|name, _| missing.contains(name.as_str()));
        let mut deleted = BTreeSet::new();
        for name in missing {
            let first_seen = *self.missing_nodes.entry(name.to_string()).or_insert(now);
            if corral_core::clock::since(now, first_seen) >= self.config.quarantine_time {
                deleted.insert(name.to_string());
                self.missing_nodes.remove(name);
            }
        }
        deleted
    }
}

impl Default for PodGcController {
    fn default() -> Self {
        PodGcController::new(PodGcConfig::default())
    }
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()?
        .node_name
        .as_deref()
        .filter(|n| !n.is_empty())
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Upstream `isPodTerminated`: any phase but Pending, Running and Unknown, including an unset
/// one.
pub fn is_pod_terminated(pod: &Pod) -> bool {
    !matches!(phase(pod), "Pending" | "Running" | "Unknown")
}

/// Upstream `eviction.PodIsEvicted`.
fn is_evicted(pod: &Pod) -> bool {
    phase(pod) == "Failed"
        && pod.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("Evicted")
}

/// Upstream `gcTerminated`: the terminated pods beyond the threshold, evicted first, then by
/// creation time, then by name. Pods already being deleted still count and still take their
/// place in the order (upstream deletes them again, a no-op); they are filtered out later.
pub fn terminated_beyond_threshold<'c>(pods: &[&'c Pod], threshold: usize) -> Vec<&'c Pod> {
    let mut terminated: Vec<&Pod> = pods
        .iter()
        .copied()
        .filter(|p| is_pod_terminated(p))
        .collect();
    let excess = terminated.len().saturating_sub(threshold);
    if excess == 0 {
        return Vec::new();
    }
    terminated.sort_by(|a, b| {
        let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
        is_evicted(b)
            .cmp(&is_evicted(a))
            .then_with(|| created(a).cmp(&created(b)))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
    terminated.truncate(excess);
    terminated
}

/// Upstream `gcTerminating`: terminating pods on a NotReady node tainted out-of-service.
fn terminating_out_of_service<'c>(
    pods: &[&'c Pod],
    cache: &'c ObjectCache,
) -> impl Iterator<Item = &'c Pod> + 'c {
    let pods: Vec<&'c Pod> = pods.to_vec();
    pods.into_iter().filter(move |pod| {
        if pod.metadata.deletion_timestamp.is_none() {
            return false;
        }
        let Some(node) = node_name(pod).and_then(|n| cache.get_typed::<Node>("", n)) else {
            return false;
        };
        !is_node_ready(node) && has_taint(node, TAINT_OUT_OF_SERVICE)
    })
}

fn is_node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn has_taint(node: &Node, key: &str) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| t.iter().any(|t| t.key == key))
}

/// Upstream `markFailedAndDeletePodWithCondition`: a `Failed` status patch for a pod not yet
/// terminal (with the orphan's `DisruptionTarget` condition), then a delete with grace
/// period 0. The delete carries the pod's UID (upstream's has no precondition), so a pod
/// re-created under the same name between the pass and the delete survives.
fn delete_actions(
    reason: PodGcReason,
    pod: &Pod,
    now: Timestamp,
) -> (Option<Action>, Option<Action>) {
    let key = KubeObject::Pod(pod.clone()).key();
    let uid = pod.metadata.uid.clone();
    let terminal = matches!(phase(pod), "Succeeded" | "Failed");
    let patch = (!terminal).then(|| {
        let mut status = json!({ "phase": "Failed" });
        if reason == PodGcReason::Orphaned {
            status["conditions"] = json!([{
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "DeletionByPodGC",
                "message": "PodGC: node no longer exists",
                "lastTransitionTime": corral_core::clock::truncate_to_seconds(now).to_string(),
            }]);
        }
        Action::Patch {
            key: key.clone(),
            subresource: Subresource::Status,
            patch: PatchBody::Strategic(json!({ "metadata": { "uid": uid }, "status": status })),
        }
    });
    // A pod already being deleted by an earlier pass needs no second delete.
    let delete = (pod.metadata.deletion_timestamp.is_none() || reason != PodGcReason::Terminated)
        .then(|| Action::Delete {
            key,
            preconditions: Preconditions {
                uid: uid.map(corral_api::Uid),
                resource_version: None,
            },
            propagation: None,
            grace_period_seconds: Some(0),
        });
    (patch, delete)
}

impl Reconciler for PodGcController {
    fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            name: "pod-garbage-collector",
            workers: 1,
            rate_limiter: RateLimiter::default_controller(),
        }
    }

    fn watched_kinds(&self) -> &'static [ResourceKind] {
        &[ResourceKind::Pod, ResourceKind::Node]
    }

    /// Only the first event matters: it starts the periodic pass.
    fn handle_event(
        &mut self,
        _: &ObjectEvent,
        _: Option<&KubeObject>,
        _: &ObjectCache,
        _: Timestamp,
    ) -> Vec<Enqueue> {
        if self.seeded {
            return Vec::new();
        }
        self.seeded = true;
        vec![Enqueue::now(Self::pass_key())]
    }

    fn reconcile(&mut self, cache: &ObjectCache, key: &ObjectKey, now: Timestamp) -> Plan {
        let mut plan = Plan::requeue(self.config.gc_check_period);
        if *key != Self::pass_key() {
            return Plan::empty();
        }
        self.seeded = true;
        let (patches, deletes): (Vec<_>, Vec<_>) = self
            .pass(cache, now)
            .into_iter()
            .map(|(reason, pod)| delete_actions(reason, pod, now))
            .unzip();
        // Patches first, then deletes; a failed patch does not hold its delete back (the pod
        // goes either way; only its last phase differs).
        plan.then(patches.into_iter().flatten().collect());
        plan.then(deletes.into_iter().flatten().collect());
        plan
    }

    /// Upstream logs deletion errors and carries on; the next pass retries.
    fn handle_outcomes(
        &mut self,
        _: &ObjectKey,
        plan: &Plan,
        _: &[Outcome],
        _: Timestamp,
    ) -> SyncResult {
        SyncResult::Done {
            requeue_after: plan.requeue_after,
        }
    }
}
