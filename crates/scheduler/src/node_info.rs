//! Per-node accounting: allocatable minus the requests of every bound, non-terminal pod,
//! kept incrementally from cache events, plus the pods this scheduler has *assumed*
//! (decided but not yet seen bound), as upstream's scheduler cache does.
//!
//! Nodes live in a vector sorted by name so the filter loop walks plain memory and the
//! rotating start index is deterministic; a name index finds a node's slot. Pods are
//! accounted by key, so seeing the same pod twice (assumed, then confirmed by the watch)
//! never counts it twice.

use std::collections::{BTreeMap, HashMap};

use corral_api::ObjectKey;
use k8s_openapi::api::core::v1::{Node, Pod, Taint};

use crate::resources::{Resources, node_allocatable, pod_object_requests};

/// What one node offers and what is already placed on it.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub allocatable: Resources,
    pub allocatable_pods: i64,
    /// Sum of the requests of the pods placed here (assumed included).
    pub requested: Resources,
    /// The same with upstream's non-zero defaults, for scoring.
    pub non_zero_requested_milli_cpu: i64,
    pub non_zero_requested_memory: i64,
    pub pod_count: i64,
    /// Whether any taint has effect `PreferNoSchedule` (scoring shortcut).
    pub has_prefer_no_schedule: bool,
}

impl NodeInfo {
    fn empty(name: &str) -> NodeInfo {
        NodeInfo {
            name: name.to_string(),
            labels: BTreeMap::new(),
            taints: Vec::new(),
            unschedulable: false,
            allocatable: Resources::default(),
            allocatable_pods: 0,
            requested: Resources::default(),
            non_zero_requested_milli_cpu: 0,
            non_zero_requested_memory: 0,
            pod_count: 0,
            has_prefer_no_schedule: false,
        }
    }

    fn set_node(&mut self, node: &Node) {
        self.labels = node.metadata.labels.clone().unwrap_or_default();
        let spec = node.spec.as_ref();
        self.taints = spec.and_then(|s| s.taints.clone()).unwrap_or_default();
        self.unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        let (allocatable, pods) = node_allocatable(node);
        self.allocatable = allocatable;
        self.allocatable_pods = pods;
        self.has_prefer_no_schedule = self.taints.iter().any(|t| t.effect == "PreferNoSchedule");
    }

    fn add_pod(&mut self, account: &PodAccount) {
        self.requested.add(&account.request);
        self.non_zero_requested_milli_cpu += account.non_zero_milli_cpu;
        self.non_zero_requested_memory += account.non_zero_memory;
        self.pod_count += 1;
    }

    fn remove_pod(&mut self, account: &PodAccount) {
        self.requested.sub(&account.request);
        self.non_zero_requested_milli_cpu -= account.non_zero_milli_cpu;
        self.non_zero_requested_memory -= account.non_zero_memory;
        self.pod_count -= 1;
    }
}

/// What one pod costs its node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodAccount {
    pub node: String,
    pub request: Resources,
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    /// Decided by this scheduler but not yet seen bound in the cache.
    pub assumed: bool,
}

impl PodAccount {
    pub fn for_pod(pod: &Pod, node: &str, assumed: bool) -> PodAccount {
        let non_zero = pod_object_requests(pod, true);
        PodAccount {
            node: node.to_string(),
            request: pod_object_requests(pod, false),
            non_zero_milli_cpu: non_zero.milli_cpu,
            non_zero_memory: non_zero.memory,
            assumed,
        }
    }
}

/// Whether a pod occupies its node: bound and not terminal. (The scheduler's informer
/// drops Succeeded and Failed pods, so they release capacity at once.)
pub fn occupies_node(pod: &Pod) -> Option<&str> {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return None;
    }
    pod.spec
        .as_ref()?
        .node_name
        .as_deref()
        .filter(|n| !n.is_empty())
}

/// Every node and every placed pod.
#[derive(Clone, Debug, Default)]
pub struct NodeTable {
    /// Sorted by name; only nodes that exist.
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    /// Pods on nodes the table does not know (yet): folded in when the node appears.
    pods: HashMap<ObjectKey, PodAccount>,
}

impl NodeTable {
    pub fn new() -> Self {
        NodeTable::default()
    }

    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|i| &self.nodes[*i])
    }

    pub fn account(&self, pod: &ObjectKey) -> Option<&PodAccount> {
        self.pods.get(pod)
    }

    /// Adds or refreshes a node. Returns whether scheduling-relevant facts changed
    /// (labels, taints, unschedulable, allocatable): heartbeats alone do not count.
    pub fn upsert_node(&mut self, node: &Node) -> bool {
        let name = node.metadata.name.clone().unwrap_or_default();
        if let Some(&slot) = self.index.get(&name) {
            let info = &mut self.nodes[slot];
            let before = (
                info.labels.clone(),
                info.taints.clone(),
                info.unschedulable,
                info.allocatable.clone(),
                info.allocatable_pods,
            );
            info.set_node(node);
            let after = (
                &info.labels,
                &info.taints,
                info.unschedulable,
                &info.allocatable,
                info.allocatable_pods,
            );
            return (&before.0, &before.1, before.2, &before.3, before.4) != after;
        }
        let mut info = NodeInfo::empty(&name);
        info.set_node(node);
        let mut accounts: Vec<&PodAccount> =
            self.pods.values().filter(|a| a.node == name).collect();
        accounts.sort_by_key(|a| a.request.milli_cpu);
        for account in accounts {
            info.add_pod(account);
        }
        let position = self.nodes.partition_point(|n| n.name < name);
        self.nodes.insert(position, info);
        self.reindex();
        true
    }

    pub fn remove_node(&mut self, name: &str) {
        if let Some(slot) = self.index.remove(name) {
            self.nodes.remove(slot);
            self.reindex();
        }
    }

    fn reindex(&mut self) {
        self.index.clear();
        for (slot, info) in self.nodes.iter().enumerate() {
            self.index.insert(info.name.clone(), slot);
        }
        debug_assert!(self.nodes.windows(2).all(|w| w[0].name < w[1].name));
    }

    /// Places (or moves, or re-prices) a pod.
    pub fn set_pod(&mut self, key: &ObjectKey, account: PodAccount) {
        if self.pods.get(key) == Some(&account) {
            return;
        }
        self.remove_pod(key);
        if let Some(&slot) = self.index.get(&account.node) {
            self.nodes[slot].add_pod(&account);
        }
        self.pods.insert(key.clone(), account);
    }

    /// Releases a pod's place; returns what it held.
    pub fn remove_pod(&mut self, key: &ObjectKey) -> Option<PodAccount> {
        let account = self.pods.remove(key)?;
        if let Some(&slot) = self.index.get(&account.node) {
            self.nodes[slot].remove_pod(&account);
        }
        Some(account)
    }

    /// Applies a pod's latest state from the cache: counted while bound and non-terminal.
    /// Returns true when the pod released capacity (deleted or finished).
    pub fn observe_pod(&mut self, key: &ObjectKey, pod: Option<&Pod>) -> bool {
        match pod.and_then(|p| occupies_node(p).map(|n| (p, n))) {
            Some((pod, node)) => {
                self.set_pod(key, PodAccount::for_pod(pod, node, false));
                false
            }
            None => {
                // An assumed pod not yet seen bound stays assumed until its bind outcome.
                let keep = pod.is_some()
                    && self.pods.get(key).is_some_and(|a| a.assumed)
                    && pod.is_some_and(|p| {
                        !matches!(
                            p.status.as_ref().and_then(|s| s.phase.as_deref()),
                            Some("Succeeded" | "Failed")
                        )
                    });
                if keep {
                    return false;
                }
                self.remove_pod(key).is_some()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::ResourceKind;
    use k8s_openapi::api::core::v1::{
        Container, NodeStatus, PodSpec, PodStatus, ResourceRequirements,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn node(name: &str, cpu: &str) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            status: Some(NodeStatus {
                allocatable: Some(BTreeMap::from([
                    ("cpu".to_string(), Quantity(cpu.into())),
                    ("pods".to_string(), Quantity("110".into())),
                ])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pod(node: &str, cpu: &str, phase: &str) -> Pod {
        Pod {
            spec: Some(PodSpec {
                node_name: Some(node.into()),
                containers: vec![Container {
                    name: "c".into(),
                    resources: Some(ResourceRequirements {
                        requests: Some(BTreeMap::from([("cpu".to_string(), Quantity(cpu.into()))])),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn finished_pods_release_their_node_and_pods_seen_twice_count_once() {
        let mut table = NodeTable::new();
        table.upsert_node(&node("n1", "4"));
        let key = ObjectKey::new(ResourceKind::Pod, "ns", "p");
        table.observe_pod(&key, Some(&pod("n1", "1", "Running")));
        table.observe_pod(&key, Some(&pod("n1", "1", "Running")));
        assert_eq!(table.get("n1").unwrap().requested.milli_cpu, 1000);
        assert_eq!(table.get("n1").unwrap().pod_count, 1);
        assert!(table.observe_pod(&key, Some(&pod("n1", "1", "Failed"))));
        assert_eq!(table.get("n1").unwrap().requested.milli_cpu, 0);
    }

    #[test]
    fn pods_seen_before_their_node_are_counted_when_it_appears() {
        let mut table = NodeTable::new();
        let key = ObjectKey::new(ResourceKind::Pod, "ns", "p");
        table.observe_pod(&key, Some(&pod("late", "500m", "Pending")));
        table.upsert_node(&node("late", "2"));
        assert_eq!(table.get("late").unwrap().requested.milli_cpu, 500);
        assert!(
            !table.upsert_node(&node("late", "2")),
            "an identical node is no change"
        );
        assert!(table.upsert_node(&node("late", "3")));
    }
}
