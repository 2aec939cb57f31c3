//! Quota evaluators (`pkg/quota/v1/evaluator/core/pods.go`, `persistent_volume_claims.go`,
//! `k8s.io/apiserver/pkg/quota/v1/generic/evaluator.go`): which quota resource names a
//! kind consumes, how much one object consumes, and which quota scopes it falls under.
//!
//! The one implementation of these rules: the ResourceQuota admission plugin charges with
//! them and the resource-quota controller (`corral-controllers`) recalculates with them.

use std::collections::BTreeMap;

use corral_api::{KubeObject, Quantity, ResourceInfo};
use corral_core::Timestamp;
use k8s_openapi::api::core::v1::{Container, PersistentVolumeClaim, Pod, ResourceQuota};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;

use crate::admission::request::Operation;

/// Usage or limits by quota resource name.
pub type Usage = BTreeMap<String, Quantity>;

/// One scope requirement of a quota (`spec.scopes` entries become `Exists`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeSelector {
    pub scope_name: String,
    pub operator: String,
    pub values: Vec<String>,
}

/// `getScopeSelectorsFromQuota`.
pub fn scope_selectors(quota: &ResourceQuota) -> Vec<ScopeSelector> {
    let Some(spec) = &quota.spec else {
        return Vec::new();
    };
    let mut selectors: Vec<ScopeSelector> = spec
        .scopes
        .iter()
        .flatten()
        .map(|scope| ScopeSelector {
            scope_name: scope.clone(),
            operator: "Exists".to_string(),
            values: Vec::new(),
        })
        .collect();
    for expression in spec
        .scope_selector
        .iter()
        .flat_map(|s| s.match_expressions.iter().flatten())
    {
        selectors.push(ScopeSelector {
            scope_name: expression.scope_name.clone(),
            operator: expression.operator.clone(),
            values: expression.values.clone().unwrap_or_default(),
        });
    }
    selectors
}

/// The evaluator of a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evaluator {
    Pods,
    PersistentVolumeClaims,
    /// The generic object-count evaluator: `count/<resource>[.<group>]` plus the legacy
    /// names (`configmaps`, `secrets`, `resourcequotas`).
    Count {
        names: Vec<String>,
    },
}

const POD_RESOURCES: &[&str] = &[
    "count/pods",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
];

/// Compute resources a quota cannot track unless every container names them.
const POD_VALIDATION_SET: &[&str] = &[
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// `ObjectCountQuotaResourceNameFor`: `count/jobs.batch`, `count/pods`.
pub fn object_count_name(group: &str, resource: &str) -> String {
    if group.is_empty() {
        format!("count/{resource}")
    } else {
        format!("count/{resource}.{group}")
    }
}

/// The evaluator for a served resource; `None` for resources quota ignores (events, and
/// anything not stored or cluster-scoped).
pub fn evaluator_for(resource: &ResourceInfo) -> Option<Evaluator> {
    if !resource.namespaced || resource.stored_kind().is_none() {
        return None;
    }
    match (resource.group, resource.resource) {
        ("", "events") | ("events.k8s.io", "events") => None,
        ("", "pods") => Some(Evaluator::Pods),
        ("", "persistentvolumeclaims") => Some(Evaluator::PersistentVolumeClaims),
        (group, name) => {
            let mut names = vec![object_count_name(group, name)];
            if group.is_empty() && matches!(name, "configmaps" | "secrets" | "resourcequotas") {
                names.push(name.to_string());
            }
            Some(Evaluator::Count { names })
        }
    }
}

/// `helper.IsNativeResource`: no domain, or a `kubernetes.io` one.
fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_extended_resource_name_for_quota(name: &str) -> bool {
    !is_native(name) && name.starts_with("requests.")
}

const STORAGE_CLASS_SUFFIX: &str = ".storageclass.storage.k8s.io/";

impl Evaluator {
    /// `Handles`: which operations can change this kind's usage.
    pub fn handles(&self, operation: Operation, subresource: &str) -> bool {
        match self {
            Evaluator::Pods => subresource.is_empty() && operation == Operation::Create,
            Evaluator::PersistentVolumeClaims => {
                subresource.is_empty() && matches!(operation, Operation::Create | Operation::Update)
            }
            Evaluator::Count { .. } => operation == Operation::Create,
        }
    }

    /// `MatchingResources`: the subset of `input` this evaluator tracks.
    pub fn matching_resources<'a>(&self, input: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        input
            .into_iter()
            .filter(|name| match self {
                Evaluator::Pods => {
                    POD_RESOURCES.contains(name)
                        || name.starts_with("hugepages-")
                        || name.starts_with("requests.hugepages-")
                        || is_extended_resource_name_for_quota(name)
                }
                Evaluator::PersistentVolumeClaims => {
                    matches!(
                        *name,
                        "count/persistentvolumeclaims"
                            | "persistentvolumeclaims"
                            | "requests.storage"
                    ) || (name.contains(STORAGE_CLASS_SUFFIX)
                        && (name.ends_with("/requests.storage")
                            || name.ends_with("/persistentvolumeclaims")))
                }
                Evaluator::Count { names } => names.iter().any(|n| n == name),
            })
            .map(str::to_string)
            .collect()
    }

    /// `Constraints`: a quota tracking cpu or memory requires every container to state it.
    pub fn constraints(&self, required: &[String], object: &KubeObject) -> Result<(), String> {
        let (Evaluator::Pods, KubeObject::Pod(pod)) = (self, object) else {
            return Ok(());
        };
        let required: Vec<&str> = required
            .iter()
            .map(String::as_str)
            .filter(|r| POD_VALIDATION_SET.contains(r))
            .collect();
        if required.is_empty() {
            return Ok(());
        }
        let mut missing: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let spec = pod.spec.as_ref();
        let containers = spec.iter().flat_map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
        });
        for container in containers {
            let (requests, limits) = container_resources(container);
            let usage = compute_usage(&requests, &limits);
            for resource in &required {
                if !usage.contains_key(*resource) {
                    let names = missing.entry(resource).or_default();
                    if !names.contains(&container.name) {
                        names.push(container.name.clone());
                    }
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let parts: Vec<String> = missing
            .into_iter()
            .map(|(resource, mut names)| {
                names.sort();
                format!("{resource} for: {}", names.join(","))
            })
            .collect();
        Err(format!("must specify {}", parts.join("; ")))
    }

    /// Whether the object falls under one scope selector.
    pub fn matches_scope(&self, selector: &ScopeSelector, object: &KubeObject) -> bool {
        match (self, object) {
            (Evaluator::Pods, KubeObject::Pod(pod)) => pod_matches_scope(selector, pod),
            // Other evaluators match no scope: a scoped quota never counts them.
            _ => false,
        }
    }

    /// `generic.Matches`: the quota tracks at least one of this kind's resources, and the
    /// object falls under all of its scopes.
    pub fn matches(&self, quota: &ResourceQuota, object: &KubeObject) -> bool {
        let hard = quota.status.as_ref().and_then(|s| s.hard.as_ref());
        let tracks = !self
            .matching_resources(hard.iter().flat_map(|h| h.keys().map(String::as_str)))
            .is_empty();
        tracks
            && scope_selectors(quota)
                .iter()
                .all(|s| self.matches_scope(s, object))
    }

    /// `Usage`: what one object consumes.
    pub fn usage(&self, object: &KubeObject, now: Timestamp) -> Result<Usage, String> {
        match (self, object) {
            (Evaluator::Pods, KubeObject::Pod(pod)) => pod_usage(pod, now),
            (Evaluator::PersistentVolumeClaims, KubeObject::PersistentVolumeClaim(claim)) => {
                pvc_usage(claim)
            }
            (Evaluator::Count { names }, _) => Ok(names
                .iter()
                .map(|n| {
                    (
                        n.clone(),
                        Quantity::from_units(1, corral_api::quantity::QuantityFormat::DecimalSI),
                    )
                })
                .collect()),
            _ => Ok(Usage::new()),
        }
    }
}

fn parse_list(list: Option<&BTreeMap<String, WireQuantity>>) -> Result<Usage, String> {
    let mut out = Usage::new();
    for (name, value) in list.into_iter().flatten() {
        let quantity =
            Quantity::parse(&value.0).map_err(|e| format!("quantity {name}={:?}: {e}", value.0))?;
        out.insert(name.clone(), quantity);
    }
    Ok(out)
}

/// Parsed requests and limits of a container; unparseable values are treated as absent
/// (validation rejects them before admission).
fn container_resources(container: &Container) -> (Usage, Usage) {
    let resources = container.resources.as_ref();
    let requests = parse_list(resources.and_then(|r| r.requests.as_ref())).unwrap_or_default();
    let limits = parse_list(resources.and_then(|r| r.limits.as_ref())).unwrap_or_default();
    (requests, limits)
}

fn add_into(total: &mut Usage, more: &Usage) {
    for (name, quantity) in more {
        total
            .entry(name.clone())
            .and_modify(|q| q.add(quantity))
            .or_insert(*quantity);
    }
}

fn max_into(total: &mut Usage, other: &Usage) {
    for (name, quantity) in other {
        match total.get(name) {
            Some(current) if current >= quantity => {}
            _ => {
                total.insert(name.clone(), *quantity);
            }
        }
    }
}

/// `resourcehelper.PodRequests`/`PodLimits`: containers summed, init containers as a
/// floor (restartable "sidecar" init containers add to both), plus the pod overhead.
pub fn pod_requests_and_limits(pod: &Pod) -> (Usage, Usage) {
    let mut requests = Usage::new();
    let mut limits = Usage::new();
    let Some(spec) = &pod.spec else {
        return (requests, limits);
    };
    for container in &spec.containers {
        let (r, l) = container_resources(container);
        add_into(&mut requests, &r);
        add_into(&mut limits, &l);
    }
    let (mut sidecar_requests, mut sidecar_limits) = (Usage::new(), Usage::new());
    let (mut init_requests, mut init_limits) = (Usage::new(), Usage::new());
    for container in spec.init_containers.iter().flatten() {
        let (r, l) = container_resources(container);
        if container.restart_policy.as_deref() == Some("Always") {
            add_into(&mut requests, &r);
            add_into(&mut limits, &l);
            add_into(&mut sidecar_requests, &r);
            add_into(&mut sidecar_limits, &l);
            max_into(&mut init_requests, &sidecar_requests);
            max_into(&mut init_limits, &sidecar_limits);
        } else {
            let mut rr = r.clone();
            add_into(&mut rr, &sidecar_requests);
            let mut ll = l.clone();
            add_into(&mut ll, &sidecar_limits);
            max_into(&mut init_requests, &rr);
            max_into(&mut init_limits, &ll);
        }
    }
    max_into(&mut requests, &init_requests);
    max_into(&mut limits, &init_limits);
    if let Ok(overhead) = parse_list(spec.overhead.as_ref()) {
        add_into(&mut requests, &overhead);
        for (name, quantity) in &overhead {
            if let Some(limit) = limits.get_mut(name) {
                limit.add(quantity);
            }
        }
    }
    (requests, limits)
}

/// `podComputeUsageHelper`.
pub fn compute_usage(requests: &Usage, limits: &Usage) -> Usage {
    let mut result = Usage::new();
    result.insert("pods".into(), one());
    for (resource, plain, request_name, limit_name) in [
        ("cpu", "cpu", "requests.cpu", "limits.cpu"),
        ("memory", "memory", "requests.memory", "limits.memory"),
        (
            "ephemeral-storage",
            "ephemeral-storage",
            "requests.ephemeral-storage",
            "limits.ephemeral-storage",
        ),
    ] {
        if let Some(q) = requests.get(resource) {
            result.insert(plain.into(), *q);
            result.insert(request_name.into(), *q);
        }
        if let Some(q) = limits.get(resource) {
            result.insert(limit_name.into(), *q);
        }
    }
    for (name, q) in requests {
        if name.starts_with("hugepages-") {
            result.insert(name.clone(), *q);
            result.insert(format!("requests.{name}"), *q);
        }
        // Extended resources (`example.com/gpu`) are quota'd as `requests.<name>`.
        if !is_native(name) && !name.starts_with("requests.") {
            result.insert(format!("requests.{name}"), *q);
        }
    }
    result
}

fn one() -> Quantity {
    Quantity::from_units(1, corral_api::quantity::QuantityFormat::DecimalSI)
}

/// `QuotaV1Pod`: terminal pods, and pods past their deletion grace period, consume no
/// compute quota (they still count in `count/pods`).
pub fn pod_counts_for_compute(pod: &Pod, now: Timestamp) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return false;
    }
    if let (Some(deleted), Some(grace)) = (
        pod.metadata.deletion_timestamp.as_ref(),
        pod.metadata.deletion_grace_period_seconds,
    ) {
        let until = deleted
            .0
            .checked_add(jiff::SignedDuration::from_secs(grace))
            .unwrap_or(Timestamp::MAX);
        if now > until {
            return false;
        }
    }
    true
}

/// `PodUsageFunc`.
pub fn pod_usage(pod: &Pod, now: Timestamp) -> Result<Usage, String> {
    let mut result = Usage::from([("count/pods".to_string(), one())]);
    if !pod_counts_for_compute(pod, now) {
        return Ok(result);
    }
    let (requests, limits) = pod_requests_and_limits(pod);
    add_into(&mut result, &compute_usage(&requests, &limits));
    Ok(result)
}

fn pvc_usage(claim: &PersistentVolumeClaim) -> Result<Usage, String> {
    let mut result = Usage::from([
        ("count/persistentvolumeclaims".to_string(), one()),
        ("persistentvolumeclaims".to_string(), one()),
    ]);
    let class = claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .filter(|c| !c.is_empty());
    if let Some(class) = class {
        result.insert(
            format!("{class}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"),
            one(),
        );
    }
    let requests = parse_list(
        claim
            .spec
            .as_ref()
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.as_ref()),
    )?;
    if let Some(storage) = requests.get("storage") {
        result.insert("requests.storage".into(), *storage);
        if let Some(class) = class {
            result.insert(
                format!("{class}{STORAGE_CLASS_SUFFIX}requests.storage"),
                *storage,
            );
        }
    }
    Ok(result)
}

/// `qos.GetPodQOS(pod) == BestEffort`: no container requests or limits cpu or memory.
pub fn is_best_effort(pod: &Pod) -> bool {
    let Some(spec) = &pod.spec else {
        return true;
    };
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .all(|c| {
            let (requests, limits) = container_resources(c);
            ["cpu", "memory"].iter().all(|r| {
                requests.get(*r).is_none_or(Quantity::is_zero)
                    && limits.get(*r).is_none_or(Quantity::is_zero)
            })
        })
}

fn is_terminating(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.active_deadline_seconds)
        .is_some_and(|d| d >= 0)
}

fn uses_cross_namespace_affinity(pod: &Pod) -> bool {
    let Some(affinity) = pod.spec.as_ref().and_then(|s| s.affinity.as_ref()) else {
        return false;
    };
    let cross = |t: &k8s_openapi::api::core::v1::PodAffinityTerm| {
        t.namespaces.as_ref().is_some_and(|n| !n.is_empty()) || t.namespace_selector.is_some()
    };
    let pod_affinity = affinity.pod_affinity.as_ref().is_some_and(|a| {
        a.required_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .any(cross)
            || a.preferred_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
                .any(|w| cross(&w.pod_affinity_term))
    });
    let anti = affinity.pod_anti_affinity.as_ref().is_some_and(|a| {
        a.required_during_scheduling_ignored_during_execution
            .iter()
            .flatten()
            .any(cross)
            || a.preferred_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
                .any(|w| cross(&w.pod_affinity_term))
    });
    pod_affinity || anti
}

/// `podMatchesScopeFunc`.
pub fn pod_matches_scope(selector: &ScopeSelector, pod: &Pod) -> bool {
    match selector.scope_name.as_str() {
        "Terminating" => is_terminating(pod),
        "NotTerminating" => !is_terminating(pod),
        "BestEffort" => is_best_effort(pod),
        "NotBestEffort" => !is_best_effort(pod),
        "PriorityClass" => {
            let class = pod
                .spec
                .as_ref()
                .and_then(|s| s.priority_class_name.as_deref())
                .filter(|c| !c.is_empty());
            match selector.operator.as_str() {
                "Exists" => class.is_some(),
                "DoesNotExist" => class.is_none(),
                "In" => class.is_some_and(|c| selector.values.iter().any(|v| v == c)),
                "NotIn" => !class.is_some_and(|c| selector.values.iter().any(|v| v == c)),
                _ => false,
            }
        }
        "CrossNamespacePodAffinity" => uses_cross_namespace_affinity(pod),
        _ => false,
    }
}
