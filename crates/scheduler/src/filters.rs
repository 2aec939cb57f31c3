//! Filter and score plugins, with upstream's per-node reason strings
//! (`pkg/scheduler/framework/plugins/*`). A pod is compiled once per attempt into a
//! [`PodFacts`] (requests parsed, selectors gathered), so checking one node is a few
//! integer comparisons and, only when the pod or node has them, a label or taint scan.
//!
//! As upstream's default profile (without `runAllFilters`), the first failing plugin
//! decides a node's reasons, in the default order: NodeUnschedulable, TaintToleration,
//! NodeAffinity, NodeResourcesFit.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    NodeSelectorRequirement, NodeSelectorTerm, Pod, PreferredSchedulingTerm, Taint, Toleration,
};

use crate::node_info::NodeInfo;
use crate::resources::{Resources, pod_requests};

pub const REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
pub const REASON_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
pub const REASON_TOO_MANY_PODS: &str = "Too many pods";

/// How bad a node's rejection is (upstream's status codes): preemption may help only
/// with `Unschedulable`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rejection {
    Unschedulable,
    UnschedulableAndUnresolvable,
}

/// Why one node does not fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRejection {
    pub code: Rejection,
    pub reasons: Vec<String>,
}

impl NodeRejection {
    fn unresolvable(reason: impl Into<String>) -> NodeRejection {
        NodeRejection {
            code: Rejection::UnschedulableAndUnresolvable,
            reasons: vec![reason.into()],
        }
    }
}

/// What the filters and scores need to know about the pod, computed once per attempt.
#[derive(Clone, Debug)]
pub struct PodFacts {
    pub request: Resources,
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    pub tolerations: Vec<Toleration>,
    pub node_selector: BTreeMap<String, String>,
    pub required_terms: Option<Vec<NodeSelectorTerm>>,
    pub preferred_terms: Vec<PreferredSchedulingTerm>,
}

impl PodFacts {
    pub fn of(pod: &Pod) -> PodFacts {
        let spec = pod.spec.clone().unwrap_or_default();
        let non_zero = pod_requests(&spec, true);
        let node_affinity = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref());
        PodFacts {
            request: pod_requests(&spec, false),
            non_zero_milli_cpu: non_zero.milli_cpu,
            non_zero_memory: non_zero.memory,
            tolerations: spec.tolerations.clone().unwrap_or_default(),
            node_selector: spec.node_selector.clone().unwrap_or_default(),
            required_terms: node_affinity
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .map(|s| s.node_selector_terms.clone()),
            preferred_terms: node_affinity
                .and_then(|a| {
                    a.preferred_during_scheduling_ignored_during_execution
                        .clone()
                })
                .unwrap_or_default(),
        }
    }
}

/// Runs the filters on one node; `None` means it fits.
pub fn filter_node(pod: &PodFacts, node: &NodeInfo) -> Option<NodeRejection> {
    if node.unschedulable && !tolerates_unschedulable(&pod.tolerations) {
        return Some(NodeRejection::unresolvable(REASON_UNSCHEDULABLE));
    }
    if !node.taints.is_empty()
        && let Some(taint) = find_untolerated_taint(&node.taints, &pod.tolerations)
    {
        let value = taint.value.as_deref().unwrap_or("");
        return Some(NodeRejection::unresolvable(format!(
            "node(s) had untolerated taint {{{}: {}}}",
            taint.key, value
        )));
    }
    if !matches_node_selector_and_affinity(pod, node) {
        return Some(NodeRejection::unresolvable(REASON_AFFINITY));
    }
    fit_node(pod, node)
}

/// NodeResourcesFit (`fitsRequest`): pod count first, then cpu, memory,
/// ephemeral-storage and extended resources; every shortfall is a reason.
pub fn fit_node(pod: &PodFacts, node: &NodeInfo) -> Option<NodeRejection> {
    let mut reasons = Vec::new();
    if node.pod_count + 1 > node.allocatable_pods {
        reasons.push(REASON_TOO_MANY_PODS.to_string());
    }
    let request = &pod.request;
    let free = |allocatable: i64, requested: i64| allocatable - requested;
    if request.milli_cpu > 0
        && request.milli_cpu > free(node.allocatable.milli_cpu, node.requested.milli_cpu)
    {
        reasons.push("Insufficient cpu".to_string());
    }
    if request.memory > 0 && request.memory > free(node.allocatable.memory, node.requested.memory) {
        reasons.push("Insufficient memory".to_string());
    }
    if request.ephemeral_storage > 0
        && request.ephemeral_storage
            > free(
                node.allocatable.ephemeral_storage,
                node.requested.ephemeral_storage,
            )
    {
        reasons.push("Insufficient ephemeral-storage".to_string());
    }
    for (name, amount) in &request.scalar {
        if *amount == 0 {
            continue;
        }
        let allocatable = node.allocatable.scalar.get(name).copied().unwrap_or(0);
        let requested = node.requested.scalar.get(name).copied().unwrap_or(0);
        if *amount > allocatable - requested {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    if reasons.is_empty() {
        None
    } else {
        Some(NodeRejection {
            code: Rejection::Unschedulable,
            reasons,
        })
    }
}

/// `Toleration.ToleratesTaint`: an empty effect or key matches all; an empty operator is
/// `Equal`.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = toleration.effect.as_deref().filter(|e| !e.is_empty())
        && effect != taint.effect
    {
        return false;
    }
    if let Some(key) = toleration.key.as_deref().filter(|k| !k.is_empty())
        && key != taint.key
    {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("") {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        "Exists" => true,
        _ => false,
    }
}

pub fn tolerations_tolerate(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

/// The first `NoSchedule`/`NoExecute` taint, in the node's order, no toleration covers.
pub fn find_untolerated_taint<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|t| !tolerations_tolerate(tolerations, t))
}

fn tolerates_unschedulable(tolerations: &[Toleration]) -> bool {
    let taint = Taint {
        key: "node.kubernetes.io/unschedulable".into(),
        effect: "NoSchedule".into(),
        ..Default::default()
    };
    tolerations_tolerate(tolerations, &taint)
}

fn matches_node_selector_and_affinity(pod: &PodFacts, node: &NodeInfo) -> bool {
    for (key, value) in &pod.node_selector {
        if node.labels.get(key) != Some(value) {
            return false;
        }
    }
    match &pod.required_terms {
        None => true,
        Some(terms) => terms.iter().any(|term| term_matches(term, node)),
    }
}

/// A node selector term: every expression and field must match; an empty term matches
/// nothing (upstream's `nodeaffinity.NewNodeSelector`).
pub fn term_matches(term: &NodeSelectorTerm, node: &NodeInfo) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    expressions
        .iter()
        .all(|r| requirement_matches(r, node.labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| {
            let value = (r.key == "metadata.name").then_some(node.name.as_str());
            matches!(r.operator.as_str(), "In" | "NotIn") && requirement_matches(r, value)
        })
}

fn requirement_matches(requirement: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = requirement.values.as_deref().unwrap_or(&[]);
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), [bound]) = (value, values) else {
                return false;
            };
            match (v.parse::<i64>(), bound.parse::<i64>()) {
                (Ok(v), Ok(bound)) if requirement.operator == "Gt" => v > bound,
                (Ok(v), Ok(bound)) => v < bound,
                _ => false,
            }
        }
        _ => false,
    }
}

/// Upstream's `MaxNodeScore`.
pub const MAX_NODE_SCORE: i64 = 100;
/// Default profile weights.
pub const WEIGHT_FIT: i64 = 1;
pub const WEIGHT_TAINT: i64 = 3;
pub const WEIGHT_AFFINITY: i64 = 2;

/// NodeResourcesFit's LeastAllocated strategy over cpu and memory (weights 1, 1), with
/// non-zero requests as upstream.
pub fn least_allocated_score(pod: &PodFacts, node: &NodeInfo) -> i64 {
    let score = |capacity: i64, requested: i64| {
        if capacity == 0 || requested > capacity {
            0
        } else {
            (capacity - requested) * MAX_NODE_SCORE / capacity
        }
    };
    let cpu = score(
        node.allocatable.milli_cpu,
        node.non_zero_requested_milli_cpu + pod.non_zero_milli_cpu,
    );
    let memory = score(
        node.allocatable.memory,
        node.non_zero_requested_memory + pod.non_zero_memory,
    );
    (cpu + memory) / 2
}

/// TaintToleration's raw score: intolerable `PreferNoSchedule` taints (lower is better).
pub fn intolerable_prefer_no_schedule(pod: &PodFacts, node: &NodeInfo) -> i64 {
    if !node.has_prefer_no_schedule {
        return 0;
    }
    let relevant: Vec<&Toleration> = pod
        .tolerations
        .iter()
        .filter(|t| {
            t.effect
                .as_deref()
                .is_none_or(|e| e.is_empty() || e == "PreferNoSchedule")
        })
        .collect();
    node.taints
        .iter()
        .filter(|t| t.effect == "PreferNoSchedule")
        .filter(|t| !relevant.iter().any(|tol| tolerates(tol, t)))
        .count() as i64
}

/// NodeAffinity's raw score: the weights of the preferred terms the node matches.
pub fn preferred_affinity_weight(pod: &PodFacts, node: &NodeInfo) -> i64 {
    pod.preferred_terms
        .iter()
        .filter(|t| t.weight != 0 && term_matches(&t.preference, node))
        .map(|t| i64::from(t.weight))
        .sum()
}

/// Upstream's `DefaultNormalizeScore`.
pub fn normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for score in scores.iter_mut() {
        let scaled = MAX_NODE_SCORE * *score / max;
        *score = if reverse {
            MAX_NODE_SCORE - scaled
        } else {
            scaled
        };
    }
}
