//! Pod resource requests as the scheduler counts them (upstream
//! `k8s.io/component-helpers/resource.PodRequests`): the sum of the regular containers plus
//! every restartable init container (native sidecar), the per-resource maximum with each
//! init container's step (a regular init container runs beside the sidecars started before
//! it), plus `spec.overhead`. Requests, never limits.
//!
//! Values are integers: CPU in millicores (`MilliValue`), everything else in units
//! (`Value`), so accounting is exact and cheap to compare in the filter loop.

use std::collections::BTreeMap;

use corral_api::Quantity;
use k8s_openapi::api::core::v1::{Container, Node, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;

/// Upstream's `DefaultMilliCPURequest`: what scoring assumes for a container without a CPU
/// request.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Upstream's `DefaultMemoryRequest` (200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// A vector of resource amounts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Extended resources and hugepages, by name, in units.
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    /// Parses a resource list (`requests`, `allocatable`, `overhead`); unparsable
    /// quantities count as zero (validation rejects them before they reach a core).
    pub fn from_list(list: Option<&BTreeMap<String, WireQuantity>>) -> Resources {
        let mut resources = Resources::default();
        for (name, quantity) in list.into_iter().flatten() {
            let parsed = Quantity::from_wire(quantity).unwrap_or(Quantity::ZERO);
            match name.as_str() {
                "cpu" => resources.milli_cpu = parsed.milli_value(),
                "memory" => resources.memory = parsed.value(),
                "ephemeral-storage" => resources.ephemeral_storage = parsed.value(),
                "pods" => {}
                other if is_scalar_resource(other) => {
                    resources.scalar.insert(other.to_string(), parsed.value());
                }
                _ => {}
            }
        }
        resources
    }

    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_add(other.ephemeral_storage);
        for (name, value) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_insert(0);
            *entry = entry.saturating_add(*value);
        }
    }

    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_sub(other.milli_cpu);
        self.memory = self.memory.saturating_sub(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_sub(other.ephemeral_storage);
        for (name, value) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_insert(0);
            *entry = entry.saturating_sub(*value);
            if *entry == 0 {
                self.scalar.remove(name);
            }
        }
    }

    /// Per-resource maximum.
    pub fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (name, value) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_insert(0);
            *entry = (*entry).max(*value);
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

/// Extended resources (`example.com/gpu`), hugepages and attachable volumes: everything
/// the fit check compares besides cpu, memory, ephemeral-storage and pods.
fn is_scalar_resource(name: &str) -> bool {
    name.starts_with("hugepages-") || name.contains('/')
}

/// Whether an init container is a native sidecar (`restartPolicy: Always`).
pub fn is_restartable_init_container(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

fn container_requests(container: &Container, non_zero: bool) -> Resources {
    let requests = container
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref());
    let mut resources = Resources::from_list(requests);
    if non_zero {
        let has = |name: &str| requests.is_some_and(|r| r.contains_key(name));
        if !has("cpu") {
            resources.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !has("memory") {
            resources.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    resources
}

/// The pod's effective request. With `non_zero`, containers without a cpu or memory
/// request count upstream's defaults (used for scoring only, as upstream's
/// `NonZeroRequested`).
pub fn pod_requests(spec: &PodSpec, non_zero: bool) -> Resources {
    let mut total = Resources::default();
    for container in &spec.containers {
        total.add(&container_requests(container, non_zero));
    }
    let mut sidecars = Resources::default();
    let mut init_step_max = Resources::default();
    for container in spec.init_containers.iter().flatten() {
        let own = container_requests(container, non_zero);
        let step = if is_restartable_init_container(container) {
            total.add(&own);
            sidecars.add(&own);
            sidecars.clone()
        } else {
            let mut step = own;
            step.add(&sidecars);
            step
        };
        init_step_max.max_with(&step);
    }
    total.max_with(&init_step_max);
    if !non_zero {
        total.add(&Resources::from_list(spec.overhead.as_ref()));
    }
    total
}

/// The request of a whole pod object (zero for a pod without a spec).
pub fn pod_object_requests(pod: &Pod, non_zero: bool) -> Resources {
    pod.spec
        .as_ref()
        .map(|s| pod_requests(s, non_zero))
        .unwrap_or_default()
}

/// A node's allocatable resources (capacity when allocatable is not reported) and its
/// pod limit.
pub fn node_allocatable(node: &Node) -> (Resources, i64) {
    let status = node.status.as_ref();
    let list = status
        .and_then(|s| s.allocatable.as_ref())
        .or_else(|| status.and_then(|s| s.capacity.as_ref()));
    let pods = list
        .and_then(|l| l.get("pods"))
        .and_then(|q| Quantity::from_wire(q).ok())
        .map(|q| q.value())
        .unwrap_or(0);
    (Resources::from_list(list), pods)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ResourceRequirements;

    fn container(name: &str, cpu: &str, memory: &str, sidecar: bool) -> Container {
        let mut requests = BTreeMap::new();
        if !cpu.is_empty() {
            requests.insert("cpu".to_string(), WireQuantity(cpu.into()));
        }
        if !memory.is_empty() {
            requests.insert("memory".to_string(), WireQuantity(memory.into()));
        }
        Container {
            name: name.into(),
            resources: Some(ResourceRequirements {
                requests: Some(requests),
                ..Default::default()
            }),
            restart_policy: sidecar.then(|| "Always".to_string()),
            ..Default::default()
        }
    }

    #[test]
    fn the_largest_init_container_wins_over_a_smaller_sum_of_containers() {
        let spec = PodSpec {
            containers: vec![
                container("a", "100m", "64Mi", false),
                container("b", "200m", "", false),
            ],
            init_containers: Some(vec![container("init", "1", "32Mi", false)]),
            ..Default::default()
        };
        let r = pod_requests(&spec, false);
        assert_eq!(r.milli_cpu, 1000);
        assert_eq!(r.memory, 64 * 1024 * 1024);
    }

    #[test]
    fn sidecars_add_to_the_containers_and_to_every_later_init_step() {
        let spec = PodSpec {
            containers: vec![container("main", "500m", "", false)],
            init_containers: Some(vec![
                container("sidecar", "200m", "", true),
                container("migrate", "600m", "", false),
            ]),
            overhead: Some(BTreeMap::from([(
                "cpu".to_string(),
                WireQuantity("50m".into()),
            )])),
            ..Default::default()
        };
        // containers: 500 + 200 (sidecar) = 700; init step: 600 + 200 = 800; + 50 overhead.
        assert_eq!(pod_requests(&spec, false).milli_cpu, 850);
    }

    #[test]
    fn non_zero_requests_default_missing_cpu_and_memory() {
        let spec = PodSpec {
            containers: vec![container("a", "", "", false)],
            ..Default::default()
        };
        let r = pod_requests(&spec, true);
        assert_eq!((r.milli_cpu, r.memory), (100, 200 * 1024 * 1024));
        assert!(pod_requests(&spec, false).is_zero());
    }
}
