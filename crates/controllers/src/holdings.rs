//! Guard 6 (`docs/guards.md`): *holdings* answer "are my failing Jobs consuming
//! resources?" — the pods that hold node resources without running, per Job.
//!
//! A pod holds its node's requests from binding until it is terminal or deleted (spec
//! §7.2): an `ImagePullBackOff` or `CrashLoopBackOff` pod keeps cpu and memory reserved
//! indefinitely, which `kubectl get jobs` does not show. [`compute_holdings`] is a pure
//! function of the cache: it lists every bound, non-terminal pod that is not running
//! (some regular container is not running), grouped per controlling Job — pods without a
//! Job controller are listed on their own — with each pod's requests, state and since when,
//! plus per-namespace totals. It is served read-only as `corral.dev/v1alpha1` `holdings`
//! (the [`Holding`] kind below) and as Prometheus gauges ([`HoldingsReport::metrics`]).
//!
//! What counts as held:
//! - bound (`spec.nodeName`), not `Succeeded`/`Failed`, not being deleted;
//! - some regular container is not running: waiting with a reason (`ImagePullBackOff`,
//!   `ErrImagePull`, `CrashLoopBackOff`, `CreateContainerError`, …; init containers as
//!   `Init:<reason>`), or no container running yet;
//! - a pod that is merely starting (`ContainerCreating`, `PodInitializing`, or no container
//!   status yet) counts only after [`STARTING_GRACE`] since it was bound, so ordinary
//!   starts do not flicker through the list; pods waiting with an error reason count at once.
//!
//! *Since*: when the pod stopped (or never started) running — the `Ready=False`
//! transition, else the `PodScheduled=True` transition, else its creation.
//!
//! Requests come from the caller (`requests`), so the scheduler's accounting
//! (`corral_scheduler::resources::pod_object_requests(pod, false)`: containers, sidecars,
//! init maximum, overhead) is the one definition; this crate does not depend on the
//! scheduler, which dev-depends on it.

use std::collections::BTreeMap;
use std::time::Duration;

use corral_api::quantity::QuantityFormat;
use corral_api::{Quantity, ResourceKind};
use corral_core::{ObjectCache, Timestamp, clock};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta, Time};
use serde::{Deserialize, Serialize};

/// `apiVersion` of [`Holding`].
pub const HOLDING_API_VERSION: &str = "corral.dev/v1alpha1";
pub const HOLDING_KIND: &str = "Holding";
pub const HOLDING_LIST_KIND: &str = "HoldingList";
/// Name of the per-namespace total row ([`NamespaceHoldings::to_holding`]); `_` keeps it
/// apart from every Job and pod name (DNS names have no underscore).
pub const NAMESPACE_TOTAL_NAME: &str = "_total";
/// How long a bound pod may be starting (no error reason) before it counts as held.
pub const STARTING_GRACE: Duration = Duration::from_secs(60);

/// A pod's effective requests, as the scheduler accounts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodRequests {
    pub milli_cpu: i64,
    /// Bytes.
    pub memory: i64,
}

impl PodRequests {
    fn add(&mut self, other: PodRequests) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
    }

    /// Wire quantities: cpu in cores (`500m`, `2`), memory in binary units (`1Gi`).
    pub fn to_wire(self) -> HeldRequests {
        HeldRequests {
            cpu: Quantity::from_milli(self.milli_cpu).to_wire(),
            memory: Quantity::from_units(self.memory, QuantityFormat::BinarySI).to_wire(),
        }
    }
}

/// One Job's (or one bare pod's) held pods: `corral.dev/v1alpha1` `Holding`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Holding {
    pub api_version: String,
    pub kind: String,
    /// Name and namespace of the Job (or pod); `creationTimestamp` is the earliest since.
    pub metadata: ObjectMeta,
    pub status: HoldingStatus,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldingStatus {
    pub owner: HoldingOwner,
    /// Number of held pods.
    pub pods: i64,
    /// Their summed requests.
    pub requests: HeldRequests,
    /// The state of the pod held longest.
    pub state: String,
    /// When the pod held longest stopped running.
    pub since: Option<Time>,
    pub held_pods: Vec<HeldPod>,
}

/// Who the held pods belong to: kind `Job`, `Pod` (a pod without a Job), or `Namespace`
/// (a total row).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldingOwner {
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldRequests {
    pub cpu: WireQuantity,
    pub memory: WireQuantity,
}

/// One pod that holds node resources without running.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldPod {
    pub name: String,
    pub node_name: String,
    /// `ImagePullBackOff`, `CrashLoopBackOff`, `Init:ErrImagePull`, `ContainerCreating`, …
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub since: Time,
    pub requests: HeldRequests,
}

/// `HoldingList`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldingList {
    pub api_version: String,
    pub kind: String,
    pub metadata: ListMeta,
    pub items: Vec<Holding>,
}

impl HoldingList {
    pub fn new(items: Vec<Holding>, resource_version: Option<String>) -> HoldingList {
        HoldingList {
            api_version: HOLDING_API_VERSION.to_string(),
            kind: HOLDING_LIST_KIND.to_string(),
            metadata: ListMeta {
                resource_version,
                ..Default::default()
            },
            items,
        }
    }
}

/// A namespace's totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespaceHoldings {
    pub namespace: String,
    /// Holdings (Jobs and bare pods) with held pods.
    pub owners: usize,
    pub pods: usize,
    pub requests: PodRequests,
    pub since: Option<Timestamp>,
}

impl NamespaceHoldings {
    /// The total as a `Holding` row named `_total` (owner kind `Namespace`), for list
    /// responses that show totals.
    pub fn to_holding(&self) -> Holding {
        Holding {
            api_version: HOLDING_API_VERSION.to_string(),
            kind: HOLDING_KIND.to_string(),
            metadata: ObjectMeta {
                name: Some(NAMESPACE_TOTAL_NAME.to_string()),
                namespace: Some(self.namespace.clone()),
                creation_timestamp: self.since.map(Time),
                ..Default::default()
            },
            status: HoldingStatus {
                owner: HoldingOwner {
                    kind: "Namespace".to_string(),
                    name: self.namespace.clone(),
                    uid: None,
                },
                pods: i64::try_from(self.pods).unwrap_or(i64::MAX),
                requests: self.requests.to_wire(),
                state: String::new(),
                since: self.since.map(Time),
                held_pods: Vec::new(),
            },
        }
    }
}

/// Everything [`compute_holdings`] found, in (namespace, owner kind, name) order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HoldingsReport {
    pub holdings: Vec<Holding>,
    pub namespaces: Vec<NamespaceHoldings>,
}

/// One Prometheus sample: a gauge name, its labels, its value.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSample {
    pub name: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

/// Gauge names (help texts in `docs/guards.md`).
pub const METRIC_HELD_PODS: &str = "corral_holdings_pods";
pub const METRIC_HELD_CPU: &str = "corral_holdings_cpu_request_cores";
pub const METRIC_HELD_MEMORY: &str = "corral_holdings_memory_request_bytes";
pub const METRIC_NAMESPACE_PODS: &str = "corral_holdings_namespace_pods";
pub const METRIC_NAMESPACE_CPU: &str = "corral_holdings_namespace_cpu_request_cores";
pub const METRIC_NAMESPACE_MEMORY: &str = "corral_holdings_namespace_memory_request_bytes";

impl HoldingsReport {
    /// The list items: per owner, then (when asked) one `_total` row per namespace after
    /// that namespace's rows.
    pub fn items(&self, with_totals: bool) -> Vec<Holding> {
        let mut items = Vec::with_capacity(self.holdings.len() + self.namespaces.len());
        let mut totals = self.namespaces.iter().peekable();
        for holding in &self.holdings {
            let namespace = holding.metadata.namespace.as_deref().unwrap_or("");
            while let Some(total) = totals.peek().filter(|t| t.namespace.as_str() < namespace) {
                if with_totals {
                    items.push(total.to_holding());
                }
                totals.next();
            }
            items.push(holding.clone());
        }
        if with_totals {
            items.extend(totals.map(NamespaceHoldings::to_holding));
        }
        items
    }

    /// One holding by namespace and name (`_total` is the namespace total).
    pub fn get(&self, namespace: &str, name: &str) -> Option<Holding> {
        if name == NAMESPACE_TOTAL_NAME {
            return self
                .namespaces
                .iter()
                .find(|n| n.namespace == namespace)
                .map(NamespaceHoldings::to_holding);
        }
        self.holdings
            .iter()
            .find(|h| {
                h.metadata.namespace.as_deref() == Some(namespace)
                    && h.metadata.name.as_deref() == Some(name)
            })
            .cloned()
    }

    /// Gauges per owner (`namespace`, `owner_kind`, `owner`) and per namespace.
    pub fn metrics(&self) -> Vec<MetricSample> {
        let mut samples = Vec::new();
        for holding in &self.holdings {
            let labels = vec![
                (
                    "namespace",
                    holding.metadata.namespace.clone().unwrap_or_default(),
                ),
                ("owner_kind", holding.status.owner.kind.clone()),
                ("owner", holding.status.owner.name.clone()),
            ];
            let requests = sum_requests(&holding.status.held_pods);
            push_gauges(
                &mut samples,
                [METRIC_HELD_PODS, METRIC_HELD_CPU, METRIC_HELD_MEMORY],
                &labels,
                holding.status.pods,
                requests,
            );
        }
        for total in &self.namespaces {
            let labels = vec![("namespace", total.namespace.clone())];
            push_gauges(
                &mut samples,
                [
                    METRIC_NAMESPACE_PODS,
                    METRIC_NAMESPACE_CPU,
                    METRIC_NAMESPACE_MEMORY,
                ],
                &labels,
                i64::try_from(total.pods).unwrap_or(i64::MAX),
                total.requests,
            );
        }
        samples
    }
}

fn push_gauges(
    samples: &mut Vec<MetricSample>,
    names: [&'static str; 3],
    labels: &[(&'static str, String)],
    pods: i64,
    requests: PodRequests,
) {
    let values = [
        pods as f64,
        requests.milli_cpu as f64 / 1000.0,
        requests.memory as f64,
    ];
    for (name, value) in names.into_iter().zip(values) {
        samples.push(MetricSample {
            name,
            labels: labels.to_vec(),
            value,
        });
    }
}

fn sum_requests(pods: &[HeldPod]) -> PodRequests {
    let mut total = PodRequests::default();
    for pod in pods {
        let cpu = Quantity::from_wire(&pod.requests.cpu).map_or(0, |q| q.milli_value());
        let memory = Quantity::from_wire(&pod.requests.memory).map_or(0, |q| q.value());
        total.add(PodRequests {
            milli_cpu: cpu,
            memory,
        });
    }
    total
}

/// Computes the holdings of every namespace from the cache at `now`.
pub fn compute_holdings(
    cache: &ObjectCache,
    now: Timestamp,
    requests: &dyn Fn(&Pod) -> PodRequests,
) -> HoldingsReport {
    // (namespace, owner kind, owner name) → (owner uid, held pods with their requests)
    let mut groups: BTreeMap<
        (String, &'static str, String),
        (Option<String>, Vec<(HeldPod, PodRequests)>),
    > = BTreeMap::new();
    for pod in cache.list_typed::<Pod>() {
        let Some((state, message, since)) = held_state(pod, now) else {
            continue;
        };
        let pod_requests = requests(pod);
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let job = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.controller == Some(true) && r.kind == ResourceKind::Job.kind_name());
        let (kind, owner, uid) = match job {
            Some(r) => ("Job", r.name.clone(), Some(r.uid.clone())),
            None => ("Pod", name.clone(), pod.metadata.uid.clone()),
        };
        let held = HeldPod {
            name,
            node_name: node_name(pod).unwrap_or_default().to_string(),
            state,
            message,
            since: Time(since),
            requests: pod_requests.to_wire(),
        };
        let entry = groups
            .entry((namespace, kind, owner))
            .or_insert((uid, Vec::new()));
        entry.1.push((held, pod_requests));
    }
    let mut report = HoldingsReport::default();
    for ((namespace, kind, owner), (uid, pods)) in groups {
        let holding = holding_of(&namespace, kind, &owner, uid, pods);
        add_to_namespace(&mut report.namespaces, &holding, &namespace);
        report.holdings.push(holding);
    }
    report
}

fn holding_of(
    namespace: &str,
    kind: &str,
    owner: &str,
    uid: Option<String>,
    pods: Vec<(HeldPod, PodRequests)>,
) -> Holding {
    let mut total = PodRequests::default();
    for (_, r) in &pods {
        total.add(*r);
    }
    let mut held: Vec<HeldPod> = pods.into_iter().map(|(p, _)| p).collect();
    held.sort_by(|a, b| a.since.0.cmp(&b.since.0).then_with(|| a.name.cmp(&b.name)));
    let oldest = held.first();
    let since = oldest.map(|p| p.since.clone());
    Holding {
        api_version: HOLDING_API_VERSION.to_string(),
        kind: HOLDING_KIND.to_string(),
        metadata: ObjectMeta {
            name: Some(owner.to_string()),
            namespace: Some(namespace.to_string()),
            creation_timestamp: since.clone(),
            ..Default::default()
        },
        status: HoldingStatus {
            owner: HoldingOwner {
                kind: kind.to_string(),
                name: owner.to_string(),
                uid,
            },
            pods: i64::try_from(held.len()).unwrap_or(i64::MAX),
            requests: total.to_wire(),
            state: oldest.map(|p| p.state.clone()).unwrap_or_default(),
            since,
            held_pods: held,
        },
    }
}

fn add_to_namespace(totals: &mut Vec<NamespaceHoldings>, holding: &Holding, namespace: &str) {
    if totals.last().is_none_or(|t| t.namespace != namespace) {
        totals.push(NamespaceHoldings {
            namespace: namespace.to_string(),
            ..Default::default()
        });
    }
    let Some(total) = totals.last_mut() else {
        return;
    };
    total.owners += 1;
    total.pods += holding.status.held_pods.len();
    total.requests.add(sum_requests(&holding.status.held_pods));
    let since = holding.status.since.as_ref().map(|t| t.0);
    total.since = match (total.since, since) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()?
        .node_name
        .as_deref()
        .filter(|n| !n.is_empty())
}

/// Waiting reasons of a container that is merely starting, not failing.
const STARTING_REASONS: &[&str] = &["ContainerCreating", "PodInitializing"];

/// `(state, message, since)` of a held pod; `None` when the pod holds nothing or runs.
fn held_state(pod: &Pod, now: Timestamp) -> Option<(String, Option<String>, Timestamp)> {
    node_name(pod)?;
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let status = pod.status.as_ref();
    if matches!(
        status.and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    ) {
        return None;
    }
    let containers = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[]);
    let expected = pod.spec.as_ref().map_or(0, |s| s.containers.len());
    let running = containers.iter().filter(|c| is_running(c)).count();
    if expected > 0 && running >= expected {
        return None;
    }
    let init = status
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or(&[]);
    let waiting = init
        .iter()
        .find_map(|c| waiting_reason(c).map(|(r, m)| (format!("Init:{r}"), m)))
        .or_else(|| {
            containers
                .iter()
                .find_map(waiting_reason)
                .map(|(r, m)| (r.to_string(), m))
        });
    let since = since(pod);
    let (state, message) = match waiting {
        Some((state, message)) => (state, message),
        None => ("Pending".to_string(), None),
    };
    let starting = STARTING_REASONS.iter().any(|r| state.ends_with(r)) || state == "Pending";
    if starting && clock::since(now, since) < STARTING_GRACE {
        return None;
    }
    Some((state, message, since))
}

fn is_running(container: &ContainerStatus) -> bool {
    container
        .state
        .as_ref()
        .is_some_and(|s| s.running.is_some())
}

fn waiting_reason(container: &ContainerStatus) -> Option<(&str, Option<String>)> {
    let waiting = container.state.as_ref()?.waiting.as_ref()?;
    Some((
        waiting.reason.as_deref().unwrap_or("Waiting"),
        waiting.message.clone(),
    ))
}

fn condition<'a>(pod: &'a Pod, type_: &str, status: &str) -> Option<&'a PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
}

/// When the pod stopped (or never started) running.
fn since(pod: &Pod) -> Timestamp {
    condition(pod, "Ready", "False")
        .or_else(|| condition(pod, "PodScheduled", "True"))
        .and_then(|c| c.last_transition_time.as_ref())
        .or(pod.metadata.creation_timestamp.as_ref())
        .map_or(Timestamp::UNIX_EPOCH, |t| t.0)
}

#[cfg(test)]
mod tests {
    //! Goal: holdings list exactly the pods that hold node resources without running, with
    //! the right totals. Method: a cache of pods in every state that matters, a simple
    //! request function (cpu and memory of the containers), and exact expectations.

    use std::sync::Arc;

    use super::*;
    use corral_core::clock::{add, epoch};
    use k8s_openapi::api::core::v1::{
        Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
        ContainerStateWaiting, PodSpec, PodStatus, ResourceRequirements,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn at(seconds: u64) -> Timestamp {
        add(epoch(), Duration::from_secs(seconds))
    }

    /// A pod requesting `cpu` and `memory`, owned by Job `job` if given, bound to `node`.
    struct Spec {
        namespace: &'static str,
        name: &'static str,
        job: Option<&'static str>,
        node: Option<&'static str>,
        phase: &'static str,
        /// One regular container: `Some(reason)` waiting, `None` running.
        waiting: Option<&'static str>,
        created: u64,
    }

    fn pod(spec: Spec) -> Pod {
        let state = match spec.waiting {
            Some(reason) => ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.into()),
                    message: Some(format!("{reason} message")),
                }),
                ..Default::default()
            },
            None => ContainerState {
                running: Some(ContainerStateRunning::default()),
                ..Default::default()
            },
        };
        let requests = [
            ("cpu".to_string(), WireQuantity("500m".into())),
            ("memory".to_string(), WireQuantity("1Gi".into())),
        ];
        Pod {
            metadata: ObjectMeta {
                name: Some(spec.name.into()),
                namespace: Some(spec.namespace.into()),
                uid: Some(format!("uid-{}", spec.name)),
                creation_timestamp: Some(Time(at(spec.created))),
                owner_references: spec.job.map(|j| {
                    vec![OwnerReference {
                        api_version: "batch/v1".into(),
                        kind: "Job".into(),
                        name: j.into(),
                        uid: format!("uid-{j}"),
                        controller: Some(true),
                        block_owner_deletion: Some(true),
                    }]
                }),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: spec.node.map(String::from),
                containers: vec![Container {
                    name: "main".into(),
                    resources: Some(ResourceRequirements {
                        requests: Some(requests.into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(spec.phase.into()),
                container_statuses: Some(vec![ContainerStatus {
                    name: "main".into(),
                    state: Some(state),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    /// The containers' requests, summed (enough for these pods; production passes the
    /// scheduler's accounting).
    fn requests(pod: &Pod) -> PodRequests {
        let mut total = PodRequests::default();
        for container in pod.spec.iter().flat_map(|s| s.containers.iter()) {
            let list = container
                .resources
                .as_ref()
                .and_then(|r| r.requests.as_ref());
            let get = |name: &str| {
                list.and_then(|l| l.get(name))
                    .and_then(|q| Quantity::from_wire(q).ok())
            };
            total.add(PodRequests {
                milli_cpu: get("cpu").map_or(0, |q| q.milli_value()),
                memory: get("memory").map_or(0, |q| q.value()),
            });
        }
        total
    }

    fn base(namespace: &'static str, name: &'static str, job: Option<&'static str>) -> Spec {
        Spec {
            namespace,
            name,
            job,
            node: Some("n1"),
            phase: "Pending",
            waiting: Some("ImagePullBackOff"),
            created: 0,
        }
    }

    fn cache() -> ObjectCache {
        let mut cache = ObjectCache::new();
        let pods = [
            base("team-a", "nightly-1-x", Some("nightly-1")),
            Spec {
                name: "nightly-1-y",
                waiting: Some("ErrImagePull"),
                created: 30,
                ..base("team-a", "", Some("nightly-1"))
            },
            Spec {
                name: "etl-z",
                waiting: Some("CrashLoopBackOff"),
                phase: "Running",
                ..base("team-a", "", Some("etl"))
            },
            // Not held: running, unbound, terminal, starting within the grace.
            Spec {
                name: "ok",
                waiting: None,
                phase: "Running",
                ..base("team-a", "", Some("ok"))
            },
            Spec {
                name: "unbound",
                node: None,
                ..base("team-a", "", Some("unbound"))
            },
            Spec {
                name: "failed",
                phase: "Failed",
                ..base("team-a", "", Some("failed"))
            },
            Spec {
                name: "starting",
                waiting: Some("ContainerCreating"),
                created: 560,
                ..base("team-a", "", Some("starting"))
            },
            // Held: stuck creating past the grace; a bare pod.
            Spec {
                name: "stuck",
                waiting: Some("ContainerCreating"),
                ..base("team-b", "", Some("stuck"))
            },
            base("team-b", "bare", None),
        ];
        for spec in pods {
            cache.upsert(Arc::new(pod(spec).into()));
        }
        cache
    }

    #[test]
    fn holdings_list_exactly_the_bound_pods_that_do_not_run_per_job_and_bare_pod() {
        let report = compute_holdings(&cache(), at(600), &requests);
        let rows: Vec<(String, String, String, i64, String, String, String)> = report
            .holdings
            .iter()
            .map(|h| {
                (
                    h.metadata.namespace.clone().unwrap(),
                    h.status.owner.kind.clone(),
                    h.metadata.name.clone().unwrap(),
                    h.status.pods,
                    h.status.requests.cpu.0.clone(),
                    h.status.requests.memory.0.clone(),
                    h.status.state.clone(),
                )
            })
            .collect();
        let row =
            |ns: &str, kind: &str, name: &str, pods: i64, cpu: &str, memory: &str, state: &str| {
                (
                    ns.into(),
                    kind.into(),
                    name.into(),
                    pods,
                    cpu.into(),
                    memory.into(),
                    state.into(),
                )
            };
        assert_eq!(
            rows,
            [
                row("team-a", "Job", "etl", 1, "500m", "1Gi", "CrashLoopBackOff"),
                row(
                    "team-a",
                    "Job",
                    "nightly-1",
                    2,
                    "1",
                    "2Gi",
                    "ImagePullBackOff"
                ),
                row(
                    "team-b",
                    "Job",
                    "stuck",
                    1,
                    "500m",
                    "1Gi",
                    "ContainerCreating"
                ),
                row(
                    "team-b",
                    "Pod",
                    "bare",
                    1,
                    "500m",
                    "1Gi",
                    "ImagePullBackOff"
                ),
            ]
        );
        let nightly = &report.holdings[1];
        let names: Vec<&str> = nightly
            .status
            .held_pods
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["nightly-1-x", "nightly-1-y"], "held longest first");
        assert_eq!(nightly.status.since, Some(Time(at(0))));
        assert_eq!(
            nightly.status.held_pods[1].message.as_deref(),
            Some("ErrImagePull message")
        );
        assert_eq!(nightly.api_version, "corral.dev/v1alpha1");
        assert_eq!(nightly.kind, "Holding");
    }

    #[test]
    fn namespace_totals_add_up_and_serve_as_total_rows_and_gauges() {
        let report = compute_holdings(&cache(), at(600), &requests);
        let totals: Vec<(&str, usize, usize, i64, i64)> = report
            .namespaces
            .iter()
            .map(|t| {
                (
                    t.namespace.as_str(),
                    t.owners,
                    t.pods,
                    t.requests.milli_cpu,
                    t.requests.memory,
                )
            })
            .collect();
        let gib = 1024 * 1024 * 1024;
        assert_eq!(
            totals,
            [
                ("team-a", 2, 3, 1500, 3 * gib),
                ("team-b", 2, 2, 1000, 2 * gib)
            ]
        );

        let items: Vec<String> = report
            .items(true)
            .iter()
            .map(|h| {
                format!(
                    "{}/{}",
                    h.metadata.namespace.clone().unwrap(),
                    h.metadata.name.clone().unwrap()
                )
            })
            .collect();
        assert_eq!(
            items,
            [
                "team-a/etl",
                "team-a/nightly-1",
                "team-a/_total",
                "team-b/stuck",
                "team-b/bare",
                "team-b/_total"
            ]
        );
        let total = report.get("team-a", NAMESPACE_TOTAL_NAME).unwrap();
        assert_eq!(
            (total.status.pods, total.status.requests.cpu.0.as_str()),
            (3, "1500m")
        );
        assert_eq!(report.items(false).len(), 4);

        let samples = report.metrics();
        let namespace_cpu: Vec<(String, f64)> = samples
            .iter()
            .filter(|s| s.name == METRIC_NAMESPACE_CPU)
            .map(|s| (s.labels[0].1.clone(), s.value))
            .collect();
        assert_eq!(
            namespace_cpu,
            [("team-a".to_string(), 1.5), ("team-b".to_string(), 1.0)]
        );
        let nightly_memory = samples
            .iter()
            .find(|s| s.name == METRIC_HELD_MEMORY && s.labels[2].1 == "nightly-1")
            .unwrap();
        assert_eq!(nightly_memory.value, (2 * gib) as f64);
    }

    #[test]
    fn a_holding_serialises_as_a_corral_dev_object() {
        let report = compute_holdings(&cache(), at(600), &requests);
        let value = serde_json::to_value(&report.holdings[0]).unwrap();
        assert_eq!(value["apiVersion"], "corral.dev/v1alpha1");
        assert_eq!(value["kind"], "Holding");
        assert_eq!(value["metadata"]["name"], "etl");
        assert_eq!(value["status"]["owner"]["kind"], "Job");
        assert_eq!(value["status"]["heldPods"][0]["nodeName"], "n1");
        assert_eq!(value["status"]["requests"]["cpu"], "500m");
        let back: Holding = serde_json::from_value(value).unwrap();
        assert_eq!(back, report.holdings[0]);
        let list =
            serde_json::to_value(HoldingList::new(report.items(false), Some("7".into()))).unwrap();
        assert_eq!(list["kind"], "HoldingList");
        assert_eq!(list["metadata"]["resourceVersion"], "7");
    }

    #[test]
    fn a_pod_that_ran_and_stopped_is_held_since_it_stopped() {
        let mut crashed = pod(Spec {
            waiting: Some("CrashLoopBackOff"),
            phase: "Running",
            ..base("ns", "c", Some("j"))
        });
        let status = crashed.status.as_mut().unwrap();
        status.conditions = Some(vec![PodCondition {
            type_: "Ready".into(),
            status: "False".into(),
            last_transition_time: Some(Time(at(400))),
            ..Default::default()
        }]);
        status.container_statuses.as_mut().unwrap()[0].last_state = Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: 1,
                ..Default::default()
            }),
            ..Default::default()
        });
        let mut cache = ObjectCache::new();
        cache.upsert(Arc::new(crashed.into()));
        let report = compute_holdings(&cache, at(600), &requests);
        assert_eq!(report.holdings[0].status.since, Some(Time(at(400))));
    }
}
