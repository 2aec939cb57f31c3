//! The scheduler core: queue, node accounting, one scheduling cycle per call.
//!
//! Two ways to drive it, same decisions:
//! - **quinn-style**: [`Scheduler::handle_event`] for every watch event,
//!   [`Scheduler::schedule_next`] to pop the best pod and decide, then
//!   [`Scheduler::handle_bind_outcomes`]; sleep until [`Scheduler::next_wakeup`].
//!   Strict priority order; this is what the benchmark measures.
//! - **[`Reconciler`]**: the driver's work queue carries pod keys; `reconcile(key)`
//!   schedules that pod if the scheduling queue says it is ready. Every transition to a
//!   waiting state comes with a timer for the driver (an `Enqueue::after` or a
//!   `requeue_after`), so nothing is lost, but the order among pods ready at once is the
//!   driver queue's FIFO rather than priority.
//!
//! **Binding.** A decision is a [`Plan`] whose first stage (skip-rest on failure) is
//! `Action::Patch { subresource: Main, patch: Merge({"metadata":{"uid"},"spec":{"nodeName"}}) }`.
//! Pod update validation forbids changing `spec.nodeName`, so **drivers route a pod patch
//! whose only spec change is `nodeName` through the `pods/binding` subresource** (a
//! `Binding` with `target.name = node` and `metadata.uid` as precondition). The second
//! stage writes `PodScheduled=True` (strategic merge on the status) and the `Scheduled`
//! event. The node's accounting includes the pod from the decision on (*assumed*); a
//! failed bind releases it and sends the pod to backoff.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::controller::{Enqueue, QueueConfig, Reconciler, SyncResult};
use corral_core::plan::{Action, EventRecord, EventType, Outcome, PatchBody, Plan, Subresource};
use corral_core::{ChangeKind, ObjectCache, ObjectEvent, RateLimiter, Timestamp, clock};
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use crate::filters::{
    self, NodeRejection, PodFacts, WEIGHT_AFFINITY, WEIGHT_FIT, WEIGHT_TAINT, filter_node,
};
use crate::message::Diagnosis;
use crate::node_info::{NodeTable, PodAccount};
use crate::queue::{Location, QueueTiming, SchedulingQueue};
use crate::volume::volume_prefilter;

/// The event source component.
pub const COMPONENT: &str = "default-scheduler";

/// Scheduler settings.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// Pods with this `spec.schedulerName` (or none) are ours.
    pub scheduler_name: String,
    /// `percentageOfNodesToScore`; `None` is upstream's adaptive default.
    pub percentage_of_nodes_to_score: Option<u32>,
    pub timing: QueueTiming,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            scheduler_name: COMPONENT.to_string(),
            percentage_of_nodes_to_score: None,
            timing: QueueTiming::default(),
        }
    }
}

/// Upstream's `minFeasibleNodesToFind`.
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// Upstream's `minFeasibleNodesPercentageToFind`.
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// How many feasible nodes to look for before scoring (`numFeasibleNodesToFind`).
pub fn num_feasible_nodes_to_find(percentage: Option<u32>, all_nodes: usize) -> usize {
    if all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return all_nodes;
    }
    let percentage = match percentage {
        Some(p) if p > 0 => (p as usize).min(100),
        _ => 50usize
            .saturating_sub(all_nodes / 125)
            .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND),
    };
    (all_nodes * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// The result of one scheduling attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Bind to this node.
    Bind { node: String },
    /// No node fits.
    Unschedulable(Diagnosis),
}

/// The scheduler.
#[derive(Debug)]
pub struct Scheduler {
    config: SchedulerConfig,
    queue: SchedulingQueue,
    nodes: NodeTable,
    next_start_node_index: usize,
    /// Assumed pods whose bind outcome is not known yet, with their node.
    binding: HashMap<ObjectKey, String>,
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler::new(SchedulerConfig::default())
    }
}

impl Scheduler {
    pub fn new(config: SchedulerConfig) -> Self {
        Scheduler {
            queue: SchedulingQueue::new(config.timing.clone()),
            config,
            nodes: NodeTable::new(),
            next_start_node_index: 0,
            binding: HashMap::new(),
        }
    }

    pub fn queue(&self) -> &SchedulingQueue {
        &self.queue
    }

    pub fn nodes(&self) -> &NodeTable {
        &self.nodes
    }

    /// The earliest time a waiting pod becomes ready.
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        self.queue.next_wakeup()
    }

    /// Whether this scheduler should place the pod: unbound, ours, not finished, not being
    /// deleted, not gated.
    pub fn wants(&self, pod: &Pod) -> bool {
        let Some(spec) = pod.spec.as_ref() else {
            return false;
        };
        let ours = spec
            .scheduler_name
            .as_deref()
            .is_none_or(|n| n.is_empty() || n == self.config.scheduler_name);
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        ours && spec.node_name.as_deref().is_none_or(str::is_empty)
            && !matches!(phase, Some("Succeeded" | "Failed"))
            && pod.metadata.deletion_timestamp.is_none()
            && spec.scheduling_gates.as_ref().is_none_or(Vec::is_empty)
    }

    /// Applies one watch event (the cache already holds the new state). Returns the pods
    /// that became ready to schedule, with the delay before they are (backoff).
    pub fn handle_event(
        &mut self,
        event: &ObjectEvent,
        previous: Option<&KubeObject>,
        now: Timestamp,
    ) -> Vec<(ObjectKey, Duration)> {
        let mut ready = self
            .queue
            .advance(now)
            .into_iter()
            .map(|k| (k, Duration::ZERO))
            .collect::<Vec<_>>();
        let key = event.object.key();
        let deleted = event.change == ChangeKind::Deleted;
        match &*event.object {
            KubeObject::Pod(pod) => {
                ready.extend(self.handle_pod(&key, pod, previous, deleted, now))
            }
            KubeObject::Node(node) => {
                if deleted {
                    self.nodes.remove_node(&key.name);
                } else if self.nodes.upsert_node(node) {
                    ready.extend(self.queue.move_all_to_active_or_backoff(now));
                }
            }
            KubeObject::PersistentVolumeClaim(_) if !deleted => {
                ready.extend(self.queue.move_all_to_active_or_backoff(now));
            }
            _ => {}
        }
        ready
    }

    fn handle_pod(
        &mut self,
        key: &ObjectKey,
        pod: &Pod,
        previous: Option<&KubeObject>,
        deleted: bool,
        now: Timestamp,
    ) -> Vec<(ObjectKey, Duration)> {
        let released = self.nodes.observe_pod(key, (!deleted).then_some(pod));
        let mut ready = Vec::new();
        if deleted {
            self.queue.remove(key);
            self.binding.remove(key);
        } else if self.wants(pod) {
            let priority = pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
            if self.queue.add(key, priority, now) {
                ready.push((key.clone(), Duration::ZERO));
            } else {
                // Only a spec change (tolerations, affinity, gates) can make the pod fit;
                // our own status writes must not requeue it. Without the previous state
                // there is no evidence of a change.
                let previous_pod = previous.and_then(|p| p.as_typed::<Pod>());
                if previous_pod.is_some_and(|p| p.spec != pod.spec) {
                    ready.extend(self.queue.move_one(key, now).map(|d| (key.clone(), d)));
                }
            }
        } else if self.queue.location(key) != Some(Location::InFlight)
            || !self.binding.contains_key(key)
        {
            self.queue.remove(key);
        }
        if released {
            ready.extend(self.queue.move_all_to_active_or_backoff(now));
        }
        ready
    }

    /// Pops the best ready pod and decides for it.
    pub fn schedule_next(
        &mut self,
        cache: &ObjectCache,
        now: Timestamp,
    ) -> Option<(ObjectKey, Plan)> {
        loop {
            let key = self.queue.pop(now)?;
            if let Some(plan) = self.attempt(cache, &key, now) {
                return Some((key, plan));
            }
        }
    }

    /// Runs one scheduling cycle for a pod already taken from the queue; `None` when the
    /// pod is gone or no longer ours (it left the queue).
    fn attempt(&mut self, cache: &ObjectCache, key: &ObjectKey, now: Timestamp) -> Option<Plan> {
        let object = cache.get(key).cloned();
        let Some(pod) = object
            .as_deref()
            .and_then(|o| o.as_typed::<Pod>())
            .filter(|p| self.wants(p))
        else {
            self.queue.remove(key);
            return None;
        };
        let object = object.as_deref()?;
        match self.decide(pod, cache) {
            Decision::Bind { node } => {
                self.nodes
                    .set_pod(key, PodAccount::for_pod(pod, &node, true));
                self.binding.insert(key.clone(), node.clone());
                Some(bind_plan(object, pod, &node, now))
            }
            Decision::Unschedulable(diagnosis) => {
                self.queue.requeue_unschedulable(key, now);
                Some(unschedulable_plan(object, pod, &diagnosis.message(), now))
            }
        }
    }

    /// Filters and scores: the decision for one pod against the current accounting.
    pub fn decide(&mut self, pod: &Pod, cache: &ObjectCache) -> Decision {
        let node_count = self.nodes.len();
        let preemption_never = pod
            .spec
            .as_ref()
            .and_then(|s| s.preemption_policy.as_deref())
            == Some("Never");
        if let Some(prefilter) = volume_prefilter(pod, cache) {
            return Decision::Unschedulable(Diagnosis {
                node_count,
                prefilter: Some(prefilter),
                preemption_never,
                ..Default::default()
            });
        }
        if node_count == 0 {
            return Decision::Unschedulable(Diagnosis::default());
        }
        let facts = PodFacts::of(pod);
        let (feasible, rejections) = self.find_feasible(&facts);
        if feasible.is_empty() {
            let mut diagnosis = Diagnosis {
                node_count,
                preemption_never,
                ..Default::default()
            };
            for rejection in rejections {
                *diagnosis.codes.entry(rejection.code).or_insert(0) += 1;
                for reason in rejection.reasons {
                    *diagnosis.reasons.entry(reason).or_insert(0) += 1;
                }
            }
            return Decision::Unschedulable(diagnosis);
        }
        let chosen = self.select_host(&facts, &feasible);
        Decision::Bind {
            node: self.nodes.nodes()[chosen].name.clone(),
        }
    }

    /// Walks the nodes from the rotating start index until enough feasible ones are found.
    fn find_feasible(&mut self, facts: &PodFacts) -> (Vec<usize>, Vec<NodeRejection>) {
        let nodes = self.nodes.nodes();
        let count = nodes.len();
        let wanted = num_feasible_nodes_to_find(self.config.percentage_of_nodes_to_score, count);
        let start = self.next_start_node_index % count;
        let mut feasible = Vec::with_capacity(wanted.min(count));
        let mut rejections = Vec::new();
        let mut processed = 0;
        for offset in 0..count {
            let slot = (start + offset) % count;
            processed += 1;
            match filter_node(facts, &nodes[slot]) {
                None => {
                    feasible.push(slot);
                    if feasible.len() >= wanted {
                        break;
                    }
                }
                Some(rejection) => rejections.push(rejection),
            }
        }
        self.next_start_node_index = (start + processed) % count;
        (feasible, rejections)
    }

    /// Highest weighted score; ties go to the first node in walk order.
    fn select_host(&self, facts: &PodFacts, feasible: &[usize]) -> usize {
        if feasible.len() == 1 {
            return feasible[0];
        }
        let nodes = self.nodes.nodes();
        let mut totals: Vec<i64> = feasible
            .iter()
            .map(|&i| WEIGHT_FIT * filters::least_allocated_score(facts, &nodes[i]))
            .collect();
        if feasible.iter().any(|&i| nodes[i].has_prefer_no_schedule) {
            let mut raw: Vec<i64> = feasible
                .iter()
                .map(|&i| filters::intolerable_prefer_no_schedule(facts, &nodes[i]))
                .collect();
            filters::normalize(&mut raw, true);
            totals
                .iter_mut()
                .zip(raw)
                .for_each(|(t, s)| *t += WEIGHT_TAINT * s);
        }
        if !facts.preferred_terms.is_empty() {
            let mut raw: Vec<i64> = feasible
                .iter()
                .map(|&i| filters::preferred_affinity_weight(facts, &nodes[i]))
                .collect();
            filters::normalize(&mut raw, false);
            totals
                .iter_mut()
                .zip(raw)
                .for_each(|(t, s)| *t += WEIGHT_AFFINITY * s);
        }
        let mut best = 0;
        for (position, total) in totals.iter().enumerate() {
            if *total > totals[best] {
                best = position;
            }
        }
        feasible[best]
    }

    /// Learns the outcome of a plan from [`schedule_next`](Self::schedule_next). Returns
    /// when to look at the pod again, if ever (the queue keeps the truth).
    pub fn handle_bind_outcomes(
        &mut self,
        key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        now: Timestamp,
    ) -> Option<Duration> {
        let Some(node) = self.binding.remove(key) else {
            // An unschedulable attempt: the pod waits in the pool until flushed or moved.
            let entered = self.queue.entered_at(key)?;
            return match self.queue.location(key)? {
                Location::Unschedulable => {
                    self.queue.flush_time(entered).map(|t| clock::since(t, now))
                }
                Location::Backoff => self.queue.backoff_expiry(key).map(|t| clock::since(t, now)),
                _ => Some(Duration::ZERO),
            };
        };
        debug_assert!(matches!(plan.actions().next(), Some(Action::Patch { .. })));
        match outcomes.first() {
            Some(Outcome::Done(stored)) => {
                self.queue.done(key);
                if let Some(pod) = stored.as_ref().and_then(|o| o.as_typed::<Pod>())
                    && pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node.as_str())
                {
                    self.nodes.observe_pod(key, Some(pod));
                }
                None
            }
            Some(Outcome::Failed(error)) if error.reason == corral_api::StatusReason::NotFound => {
                self.nodes.remove_pod(key);
                self.queue.remove(key);
                None
            }
            _ => {
                self.nodes.remove_pod(key);
                let expiry = self.queue.requeue_backoff(key, now)?;
                Some(clock::since(expiry, now))
            }
        }
    }
}

fn pod_scheduled_condition(
    status: &str,
    reason: Option<&str>,
    message: Option<&str>,
    now: Timestamp,
) -> serde_json::Value {
    let mut condition = json!({
        "type": "PodScheduled",
        "status": status,
        "lastProbeTime": null,
        "lastTransitionTime": clock::truncate_to_seconds(now).to_string(),
    });
    if let Some(reason) = reason {
        condition["reason"] = json!(reason);
    }
    if let Some(message) = message {
        condition["message"] = json!(message);
    }
    condition
}

fn bind_plan(object: &KubeObject, pod: &Pod, node: &str, now: Timestamp) -> Plan {
    let key = object.key();
    let uid = pod.metadata.uid.clone();
    let mut plan = Plan::empty();
    plan.then_or_stop(vec![Action::Patch {
        key: key.clone(),
        subresource: Subresource::Main,
        patch: PatchBody::Merge(json!({"metadata": {"uid": uid}, "spec": {"nodeName": node}})),
    }]);
    let message = format!(
        "Successfully assigned {}/{} to {}",
        key.namespace, key.name, node
    );
    plan.then(vec![
        Action::Patch {
            key,
            subresource: Subresource::Status,
            patch: PatchBody::Strategic(json!({
                "status": {"conditions": [pod_scheduled_condition("True", None, None, now)]}
            })),
        },
        Action::Event(EventRecord::about(
            object,
            EventType::Normal,
            "Scheduled",
            message,
            COMPONENT,
        )),
    ]);
    plan
}

fn unschedulable_plan(object: &KubeObject, pod: &Pod, message: &str, now: Timestamp) -> Plan {
    let mut actions = Vec::with_capacity(2);
    let current = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
    let unchanged = current.is_some_and(|c| {
        c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
            && c.message.as_deref() == Some(message)
    });
    if !unchanged {
        // lastTransitionTime moves only when the status flips (upstream UpdatePodCondition).
        let mut condition =
            pod_scheduled_condition("False", Some("Unschedulable"), Some(message), now);
        if let Some(since) = current
            .filter(|c| c.status == "False")
            .and_then(|c| c.last_transition_time.as_ref())
        {
            condition["lastTransitionTime"] = json!(since.0.to_string());
        }
        actions.push(Action::Patch {
            key: object.key(),
            subresource: Subresource::Status,
            patch: PatchBody::Strategic(json!({"status": {"conditions": [condition]}})),
        });
    }
    actions.push(Action::Event(EventRecord::about(
        object,
        EventType::Warning,
        "FailedScheduling",
        message,
        COMPONENT,
    )));
    let mut plan = Plan::empty();
    plan.then(actions);
    plan
}

static WATCHED: [ResourceKind; 3] = [
    ResourceKind::Pod,
    ResourceKind::Node,
    ResourceKind::PersistentVolumeClaim,
];

impl Reconciler for Scheduler {
    fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            name: "scheduler",
            // Upstream schedules one pod at a time.
            workers: 1,
            rate_limiter: RateLimiter::item_exponential(
                self.config.timing.initial_backoff,
                self.config.timing.max_backoff,
            ),
        }
    }

    fn watched_kinds(&self) -> &'static [ResourceKind] {
        &WATCHED
    }

    fn handle_event(
        &mut self,
        event: &ObjectEvent,
        previous: Option<&KubeObject>,
        _cache: &ObjectCache,
        now: Timestamp,
    ) -> Vec<Enqueue> {
        let ready = Scheduler::handle_event(self, event, previous, now);
        // One entry per pod, keeping the shortest delay, in the order the queue gave.
        let mut seen: BTreeMap<ObjectKey, usize> = BTreeMap::new();
        let mut out: Vec<Enqueue> = Vec::new();
        for (key, delay) in ready {
            let after = (!delay.is_zero()).then_some(delay);
            match seen.get(&key) {
                Some(&i) => {
                    if out[i].after.is_some_and(|d| after.is_none_or(|a| a < d)) {
                        out[i].after = after;
                    }
                }
                None => {
                    seen.insert(key.clone(), out.len());
                    out.push(Enqueue { key, after });
                }
            }
        }
        out
    }

    fn reconcile(&mut self, cache: &ObjectCache, key: &ObjectKey, now: Timestamp) -> Plan {
        if self.queue.take(key, now) {
            return self.attempt(cache, key, now).unwrap_or_default();
        }
        match self.queue.location(key) {
            Some(Location::Backoff) => self
                .queue
                .backoff_expiry(key)
                .map(|t| Plan::requeue(clock::since(t, now)))
                .unwrap_or_default(),
            Some(Location::Unschedulable) => self
                .queue
                .entered_at(key)
                .and_then(|t| self.queue.flush_time(t))
                .map(|t| Plan::requeue(clock::since(t, now)))
                .unwrap_or_default(),
            _ => Plan::empty(),
        }
    }

    fn handle_outcomes(
        &mut self,
        key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        now: Timestamp,
    ) -> SyncResult {
        if plan.action_count() == 0 {
            return SyncResult::Done {
                requeue_after: plan.requeue_after,
            };
        }
        SyncResult::Done {
            requeue_after: self.handle_bind_outcomes(key, plan, outcomes, now),
        }
    }
}
