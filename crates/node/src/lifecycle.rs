//! The node lifecycle controller core (upstream `pkg/controller/nodelifecycle` plus the
//! taint-eviction controller `pkg/controller/tainteviction`), as a [`Reconciler`] keyed by
//! node.
//!
//! - **Health**: a node is heard from when its Lease `renewTime` or its Ready condition's
//!   `lastHeartbeatTime` changes; the controller records *its own* observation time (as
//!   upstream, to be immune to clock skew). Silent for longer than the grace period
//!   (40 s): every condition becomes `Unknown` (`NodeStatusUnknown`, "Kubelet stopped
//!   posting node status.").
//! - **Taints**: Ready Unknown → `node.kubernetes.io/unreachable` NoSchedule and
//!   NoExecute; Ready False → `node.kubernetes.io/not-ready` likewise; Ready True → none.
//! - **Eviction**: a pod on a node with NoExecute taints is deleted when some taint is not
//!   tolerated, or when the shortest matching `tolerationSeconds` since the taint's
//!   `timeAdded` has passed. Pods without a toleration for the two taints get the
//!   DefaultTolerationSeconds admission default (300 s) when
//!   [`LifecycleConfig::default_toleration_seconds`] is set, since Corral's admission may
//!   not add them.

use std::collections::BTreeMap;
use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::controller::{Enqueue, QueueConfig, Reconciler, SyncResult};
use corral_core::plan::{Action, EventRecord, EventType, Outcome, PatchBody, Plan, Subresource};
use corral_core::{ObjectCache, ObjectEvent, RateLimiter, Timestamp, clock};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;

pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";

/// Controller settings (upstream defaults).
#[derive(Clone, Debug)]
pub struct LifecycleConfig {
    /// `nodeMonitorGracePeriod`.
    pub grace_period: Duration,
    /// Applied to pods without a not-ready/unreachable NoExecute toleration.
    pub default_toleration_seconds: Option<i64>,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            grace_period: Duration::from_secs(40),
            default_toleration_seconds: Some(300),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Observation {
    heard_at: Timestamp,
    lease_renew: Option<String>,
    heartbeat: Option<String>,
}

/// The controller.
#[derive(Debug, Default)]
pub struct NodeLifecycleController {
    config: LifecycleConfig,
    observed: BTreeMap<String, Observation>,
}

impl NodeLifecycleController {
    pub fn new(config: LifecycleConfig) -> Self {
        NodeLifecycleController {
            config,
            observed: BTreeMap::new(),
        }
    }

    /// Records a heartbeat if the lease or the Ready heartbeat changed; returns when the
    /// node was last heard from.
    fn observe(&mut self, node: &Node, lease: Option<&Lease>, now: Timestamp) -> Timestamp {
        let name = node.metadata.name.clone().unwrap_or_default();
        let lease_renew = lease
            .and_then(|l| l.spec.as_ref())
            .and_then(|s| s.renew_time.as_ref())
            .map(|t| t.0.to_string());
        let heartbeat = ready_condition(node)
            .and_then(|c| c.last_heartbeat_time.as_ref())
            .map(|t| t.0.to_string());
        let entry = self.observed.entry(name).or_insert(Observation {
            heard_at: now,
            lease_renew: lease_renew.clone(),
            heartbeat: heartbeat.clone(),
        });
        if entry.lease_renew != lease_renew || entry.heartbeat != heartbeat {
            entry.heard_at = now;
            entry.lease_renew = lease_renew;
            entry.heartbeat = heartbeat;
        }
        entry.heard_at
    }
}

fn ready_condition(node: &Node) -> Option<&k8s_openapi::api::core::v1::NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

fn desired_taints(node: &Node, ready: &str, now: Timestamp) -> Vec<Taint> {
    let mut taints: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.key != TAINT_UNREACHABLE && t.key != TAINT_NOT_READY)
        .collect();
    let existing = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let key = match ready {
        "Unknown" => Some(TAINT_UNREACHABLE),
        "False" => Some(TAINT_NOT_READY),
        _ => None,
    };
    if let Some(key) = key {
        for effect in ["NoSchedule", "NoExecute"] {
            let kept = existing
                .iter()
                .find(|t| t.key == key && t.effect == effect)
                .cloned();
            taints.push(kept.unwrap_or_else(|| Taint {
                key: key.to_string(),
                effect: effect.to_string(),
                value: None,
                time_added: (effect == "NoExecute").then(|| Time(clock::truncate_to_seconds(now))),
            }));
        }
    }
    taints
}

/// When a pod must leave a node with these NoExecute taints (`None`: never).
pub fn eviction_time(
    pod: &Pod,
    taints: &[Taint],
    default_seconds: Option<i64>,
    now: Timestamp,
) -> Option<Timestamp> {
    let tolerations: Vec<Toleration> = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    let mut earliest: Option<Timestamp> = None;
    for taint in taints.iter().filter(|t| t.effect == "NoExecute") {
        let matching: Vec<&Toleration> = tolerations
            .iter()
            .filter(|t| crate::taints::tolerates(t, taint))
            .collect();
        let seconds = if matching.is_empty() {
            let defaulted = taint.key == TAINT_UNREACHABLE || taint.key == TAINT_NOT_READY;
            match default_seconds.filter(|_| defaulted) {
                Some(s) => Some(s),
                None => return Some(now),
            }
        } else {
            // The shortest bounded toleration wins; unbounded ones tolerate forever.
            matching.iter().filter_map(|t| t.toleration_seconds).min()
        };
        let Some(seconds) = seconds else { continue };
        let added = taint.time_added.as_ref().map_or(now, |t| t.0);
        let at = clock::add(added, Duration::from_secs(seconds.max(0) as u64));
        earliest = Some(earliest.map_or(at, |e| e.min(at)));
    }
    earliest
}

static WATCHED: [ResourceKind; 3] = [ResourceKind::Node, ResourceKind::Lease, ResourceKind::Pod];

impl Reconciler for NodeLifecycleController {
    fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            name: "node-lifecycle",
            workers: 1,
            rate_limiter: RateLimiter::default_controller(),
        }
    }

    fn watched_kinds(&self) -> &'static [ResourceKind] {
        &WATCHED
    }

    fn handle_event(
        &mut self,
        event: &ObjectEvent,
        _previous: Option<&KubeObject>,
        _cache: &ObjectCache,
        _now: Timestamp,
    ) -> Vec<Enqueue> {
        let node = match &*event.object {
            KubeObject::Node(node) => node.metadata.name.clone(),
            KubeObject::Lease(lease)
                if lease.metadata.namespace.as_deref() == Some("kube-node-lease") =>
            {
                lease.metadata.name.clone()
            }
            KubeObject::Pod(pod) => pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            _ => None,
        };
        node.map(|n| vec![Enqueue::now(ObjectKey::cluster(ResourceKind::Node, &n))])
            .unwrap_or_default()
    }

    fn reconcile(&mut self, cache: &ObjectCache, key: &ObjectKey, now: Timestamp) -> Plan {
        let Some(node) = cache.get(key).and_then(|o| o.as_typed::<Node>()).cloned() else {
            self.observed.remove(&key.name);
            return Plan::empty();
        };
        let lease = cache.get_typed::<Lease>("kube-node-lease", &key.name);
        let heard_at = self.observe(&node, lease, now);
        let mut plan = Plan::empty();
        let mut ready = ready_condition(&node).map_or("Unknown".to_string(), |c| c.status.clone());
        let silent_until = clock::add(heard_at, self.config.grace_period);
        if now > silent_until && ready != "Unknown" {
            plan.push(mark_unknown(&node, now));
            plan.push(Action::Event(EventRecord::about(
                &KubeObject::Node(node.clone()),
                EventType::Normal,
                "NodeNotReady",
                format!("Node {} status is now: NodeNotReady", key.name),
                "node-controller",
            )));
            ready = "Unknown".to_string();
        } else if ready != "Unknown" {
            plan.requeue_at_most(clock::since(silent_until, now) + Duration::from_millis(1));
        }
        let taints = desired_taints(&node, &ready, now);
        let current = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default();
        if taints != current {
            plan.push(Action::Patch {
                key: key.clone(),
                subresource: Subresource::Main,
                patch: PatchBody::Merge(json!({"spec": {"taints": taints}})),
            });
        }
        if taints.iter().any(|t| t.effect == "NoExecute") {
            self.evict(cache, &key.name, &taints, &mut plan, now);
        }
        plan
    }

    fn handle_outcomes(
        &mut self,
        _key: &ObjectKey,
        plan: &Plan,
        outcomes: &[Outcome],
        _now: Timestamp,
    ) -> SyncResult {
        let conflict = outcomes.iter().any(|o| {
            o.error()
                .is_some_and(|e| e.reason == corral_api::StatusReason::Conflict)
        });
        if conflict {
            return SyncResult::Retry {
                reason: "conflict".to_string(),
            };
        }
        SyncResult::Done {
            requeue_after: plan.requeue_after,
        }
    }
}

impl NodeLifecycleController {
    fn evict(
        &self,
        cache: &ObjectCache,
        node: &str,
        taints: &[Taint],
        plan: &mut Plan,
        now: Timestamp,
    ) {
        for object in cache.pods_on_node(node) {
            let Some(pod) = object.as_typed::<Pod>() else {
                continue;
            };
            let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
            if matches!(phase, Some("Succeeded" | "Failed"))
                || pod.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            let Some(at) = eviction_time(pod, taints, self.config.default_toleration_seconds, now)
            else {
                continue;
            };
            if at > now {
                plan.requeue_at_most(clock::since(at, now));
                continue;
            }
            let key = object.key();
            let condition = json!({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                "message": "Taint manager: deleting due to NoExecute taint",
                "lastTransitionTime": clock::truncate_to_seconds(now).to_string()});
            plan.then(vec![
                Action::Patch {
                    key: key.clone(),
                    subresource: Subresource::Status,
                    patch: PatchBody::Strategic(json!({"status": {"conditions": [condition]}})),
                },
                Action::Event(EventRecord::about(
                    object,
                    EventType::Normal,
                    "TaintManagerEviction",
                    format!("Marking for deletion Pod {}/{}", key.namespace, key.name),
                    "taint-eviction-controller",
                )),
            ]);
            plan.push(Action::delete(key, Some(object.uid()), None));
        }
    }
}

fn mark_unknown(node: &Node, now: Timestamp) -> Action {
    let conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut patched: Vec<serde_json::Value> = conditions
        .iter()
        .filter(|c| {
            matches!(
                c.type_.as_str(),
                "Ready" | "MemoryPressure" | "DiskPressure" | "PIDPressure"
            )
        })
        .map(|c| {
            json!({"type": c.type_, "status": "Unknown", "reason": "NodeStatusUnknown",
                   "message": "Kubelet stopped posting node status.",
                   "lastHeartbeatTime": c.last_heartbeat_time.as_ref().map(|t| t.0.to_string()),
                   "lastTransitionTime": clock::truncate_to_seconds(now).to_string()})
        })
        .collect();
    if !conditions.iter().any(|c| c.type_ == "Ready") {
        patched.push(
            json!({"type": "Ready", "status": "Unknown", "reason": "NodeStatusNeverUpdated",
            "message": "Kubelet never posted node status.",
            "lastTransitionTime": clock::truncate_to_seconds(now).to_string()}),
        );
    }
    Action::Patch {
        key: ObjectKey::cluster(
            ResourceKind::Node,
            node.metadata.name.as_deref().unwrap_or(""),
        ),
        subresource: Subresource::Status,
        patch: PatchBody::Strategic(json!({"status": {"conditions": patched}})),
    }
}
