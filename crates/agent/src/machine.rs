//! What a node reports about its machine: capacity (cpus, `MemTotal`, pods 110,
//! ephemeral storage of the data directory's filesystem), allocatable (capacity less
//! upstream's default hard eviction thresholds: 100 Mi of memory, 10 % of the node
//! filesystem), node info, addresses, labels, and the Node object registered with them.

use std::collections::BTreeMap;
use std::path::Path;

use corral_api::Quantity;
use corral_api::quantity::QuantityFormat;
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeDaemonEndpoints, NodeSpec, NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Upstream's default `evictionHard` `memory.available<100Mi`.
pub const EVICTION_MEMORY: i64 = 100 * 1024 * 1024;
/// Upstream's default `maxPods`.
pub const DEFAULT_MAX_PODS: i64 = 110;
/// The kubelet version the node reports.
pub fn kubelet_version() -> String {
    format!("v1.32.0-corral.{}", env!("CARGO_PKG_VERSION"))
}

/// A node's resources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capacity {
    pub milli_cpu: i64,
    pub memory: i64,
    pub pods: i64,
    pub ephemeral_storage: i64,
}

/// Operator overrides of the detected capacity (`corral node --cpu/--memory/--pods`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapacityOverrides {
    pub milli_cpu: Option<i64>,
    pub memory: Option<i64>,
    pub pods: Option<i64>,
    pub ephemeral_storage: Option<i64>,
}

impl CapacityOverrides {
    /// The overrides of the `--cpu`, `--memory` and `--pods` flags (Kubernetes quantities);
    /// a flag that does not parse is a configuration error naming it.
    pub fn from_flags(
        cpu: Option<&str>,
        memory: Option<&str>,
        pods: Option<i64>,
    ) -> Result<CapacityOverrides, crate::error::AgentError> {
        let quantity = |text: &str, flag: &str| {
            corral_api::Quantity::parse(text)
                .map_err(|e| crate::error::AgentError::Config(format!("--{flag} {text:?}: {e}")))
        };
        Ok(CapacityOverrides {
            milli_cpu: cpu
                .map(|c| quantity(c, "cpu"))
                .transpose()?
                .map(|q| q.milli_value()),
            memory: memory
                .map(|m| quantity(m, "memory"))
                .transpose()?
                .map(|q| q.value()),
            pods,
            ephemeral_storage: None,
        })
    }
}

impl Capacity {
    /// Reads the machine: logical cpus, `/proc/meminfo` `MemTotal`, `statvfs` of
    /// `data_dir`.
    pub fn detect(data_dir: &Path, overrides: &CapacityOverrides) -> Capacity {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kib| kib.parse::<i64>().ok())
            })
            .map_or(0, |kib| kib * 1024);
        let storage = nix::sys::statvfs::statvfs(data_dir)
            .map(|s| s.blocks() as i64 * s.fragment_size() as i64)
            .unwrap_or(0);
        Capacity {
            milli_cpu: overrides.milli_cpu.unwrap_or(cpus * 1000),
            memory: overrides.memory.unwrap_or(memory),
            pods: overrides.pods.unwrap_or(DEFAULT_MAX_PODS),
            ephemeral_storage: overrides.ephemeral_storage.unwrap_or(storage),
        }
    }

    /// Allocatable: capacity less the default hard eviction thresholds.
    pub fn allocatable(&self) -> Capacity {
        Capacity {
            milli_cpu: self.milli_cpu,
            memory: (self.memory - EVICTION_MEMORY).max(0),
            pods: self.pods,
            ephemeral_storage: self.ephemeral_storage - self.ephemeral_storage / 10,
        }
    }
}

fn cpu_quantity(milli: i64) -> WireQuantity {
    if milli % 1000 == 0 {
        WireQuantity((milli / 1000).to_string())
    } else {
        Quantity::from_milli(milli).to_wire()
    }
}

/// Bytes as upstream prints node memory: `<n>Ki` when a whole number of KiB.
fn bytes_quantity(bytes: i64) -> WireQuantity {
    if bytes % 1024 == 0 {
        WireQuantity(format!("{}Ki", bytes / 1024))
    } else {
        Quantity::from_units(bytes, QuantityFormat::BinarySI).to_wire()
    }
}

fn resource_list(c: &Capacity) -> BTreeMap<String, WireQuantity> {
    BTreeMap::from([
        ("cpu".to_string(), cpu_quantity(c.milli_cpu)),
        ("memory".to_string(), bytes_quantity(c.memory)),
        ("pods".to_string(), WireQuantity(c.pods.to_string())),
        (
            "ephemeral-storage".to_string(),
            bytes_quantity(c.ephemeral_storage),
        ),
        ("hugepages-1Gi".to_string(), WireQuantity("0".into())),
        ("hugepages-2Mi".to_string(), WireQuantity("0".into())),
    ])
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn os_image() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".to_string())
}

/// Go's `GOARCH` for this machine.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// `status.nodeInfo`.
pub fn node_info(name: &str) -> NodeSystemInfo {
    let machine_id = read_trimmed("/etc/machine-id").unwrap_or_default();
    NodeSystemInfo {
        machine_id: machine_id.clone(),
        system_uuid: read_trimmed("/sys/class/dmi/id/product_uuid")
            .unwrap_or_else(|| machine_id.clone()),
        boot_id: read_trimmed("/proc/sys/kernel/random/boot_id").unwrap_or_default(),
        kernel_version: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default(),
        os_image: os_image(),
        container_runtime_version: format!("corral-process://{}", env!("CARGO_PKG_VERSION")),
        kubelet_version: kubelet_version(),
        kube_proxy_version: String::new(),
        operating_system: "linux".to_string(),
        architecture: go_arch().to_string(),
        ..Default::default()
    }
    .with_name_hint(name)
}

trait NameHint {
    fn with_name_hint(self, name: &str) -> Self;
}

impl NameHint for NodeSystemInfo {
    /// Two nodes on one machine share machine and boot ids; the system UUID tells them
    /// apart (derived from the machine's and the node's name).
    fn with_name_hint(mut self, name: &str) -> Self {
        let a = corral_node::runtime::fnv1a(format!("{}/{name}", self.system_uuid).as_bytes());
        let b = corral_node::runtime::fnv1a(format!("{name}/{}", self.system_uuid).as_bytes());
        let hex = format!("{a:016x}{b:016x}");
        self.system_uuid = format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        );
        self
    }
}

/// The Node object an agent registers.
pub fn node_object(
    name: &str,
    node_ip: &str,
    capacity: &Capacity,
    extra_labels: &BTreeMap<String, String>,
    log_port: Option<u16>,
) -> Node {
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), name.to_string()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), go_arch().to_string()),
        ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
        ("beta.kubernetes.io/arch".to_string(), go_arch().to_string()),
    ]);
    labels.extend(extra_labels.clone());
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(
                "volumes.kubernetes.io/controller-managed-attach-detach".to_string(),
                "true".to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            capacity: Some(resource_list(capacity)),
            allocatable: Some(resource_list(&capacity.allocatable())),
            addresses: Some(vec![
                NodeAddress {
                    type_: "InternalIP".into(),
                    address: node_ip.to_string(),
                },
                NodeAddress {
                    type_: "Hostname".into(),
                    address: name.to_string(),
                },
            ]),
            daemon_endpoints: Some(NodeDaemonEndpoints {
                kubelet_endpoint: Some(DaemonEndpoint {
                    port: i32::from(log_port.unwrap_or(0)),
                }),
            }),
            node_info: Some(node_info(name)),
            ..Default::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocatable_subtracts_the_default_eviction_thresholds() {
        let c = Capacity {
            milli_cpu: 2000,
            memory: 1 << 30,
            pods: 110,
            ephemeral_storage: 1000,
        };
        let a = c.allocatable();
        assert_eq!(a.memory, (1 << 30) - EVICTION_MEMORY);
        assert_eq!(a.ephemeral_storage, 900);
        let list = resource_list(&c);
        assert_eq!(list["cpu"].0, "2");
        assert_eq!(list["memory"].0, "1048576Ki");
    }

    #[test]
    fn the_machine_is_detected() {
        let c = Capacity::detect(Path::new("/"), &CapacityOverrides::default());
        assert!(c.milli_cpu >= 1000);
        assert!(c.memory > 0);
        assert_eq!(c.pods, 110);
        let info = node_info("n");
        assert_eq!(info.operating_system, "linux");
        assert!(
            info.container_runtime_version
                .starts_with("corral-process://")
        );
    }
}
