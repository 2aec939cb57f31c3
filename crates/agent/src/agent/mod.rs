//! [`NodeAgent`]: one node. [`NodeAgent::start`] registers the Node (capacity read from
//! the machine, node info, addresses, labels, the log endpoint's port), starts the
//! informers (this node's pods by `spec.nodeName`, ConfigMaps, Secrets), the static pod
//! poller, the optional HTTPS log endpoint and the driver loop, and returns a
//! [`NodeAgentHandle`]. [`NodeAgentHandle::shutdown`] stops everything and leaves no
//! container process behind; dropping the handle without shutting down SIGKILLs every
//! container at once.

mod driver;
pub mod informer;
pub mod writer;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use corral_api::{ApiError, KubeObject, ResourceKind};
use corral_apiserver::ApiService;
use corral_apiserver::service::UserInfo;
use corral_core::{Action, EventRecord, EventType, PatchBody, Subresource, Timestamp};
use corral_node::{NodeAgentCore, NodeConfig};
use k8s_openapi::api::core::v1::{Node, ObjectReference};
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::api::{InProcessApi, NodeApi};
use crate::error::AgentError;
use crate::logs::NodeLogFiles;
use crate::machine::{self, Capacity, CapacityOverrides};
use crate::runtime::{
    HostCapabilities, HostImageCatalog, IsolationSettings, ProcessRuntime, RuntimeConfig,
};
use driver::{Driver, DriverInputs};

/// The node's HTTPS log endpoint (for nodes whose logs the API server must fetch).
#[derive(Clone, Debug)]
pub struct LogEndpointConfig {
    /// Where to listen (`0.0.0.0:10250`, or port 0 for any).
    pub bind: SocketAddr,
    /// The bearer token the API server presents.
    pub token: String,
}

/// Node agent settings.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    pub node_name: String,
    /// Pods, logs, volumes and the default static pod directory live here.
    pub data_dir: PathBuf,
    /// The node's InternalIP (where its log endpoint is reached).
    pub node_ip: String,
    pub capacity: CapacityOverrides,
    pub labels: BTreeMap<String, String>,
    /// Default `<data_dir>/manifests`.
    pub static_pod_dir: Option<PathBuf>,
    pub static_pod_poll: Duration,
    pub image_catalog: Option<PathBuf>,
    pub isolation: IsolationSettings,
    pub log_endpoint: Option<LogEndpointConfig>,
    /// Pod IPs are `<prefix><n>`; the default `127.0.0.` keeps them reachable on the
    /// machine (containers share the host network).
    pub pod_ip_prefix: String,
    /// SIGTERM → SIGKILL delay for containers at shutdown.
    pub shutdown_grace: Duration,
    pub lease_renew_interval: Duration,
    pub node_status_update_frequency: Duration,
}

impl AgentConfig {
    pub fn new(node_name: &str, data_dir: impl Into<PathBuf>) -> AgentConfig {
        AgentConfig {
            node_name: node_name.to_string(),
            data_dir: data_dir.into(),
            node_ip: "127.0.0.1".to_string(),
            capacity: CapacityOverrides::default(),
            labels: BTreeMap::new(),
            static_pod_dir: None,
            static_pod_poll: Duration::from_secs(1),
            image_catalog: None,
            isolation: IsolationSettings::default(),
            log_endpoint: None,
            pod_ip_prefix: "127.0.0.".to_string(),
            shutdown_grace: Duration::from_secs(5),
            lease_renew_interval: Duration::from_secs(10),
            node_status_update_frequency: Duration::from_secs(10),
        }
    }

    pub fn static_pod_dir(&self) -> PathBuf {
        self.static_pod_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("manifests"))
    }
}

/// The running agent.
pub struct NodeAgentHandle {
    node_name: String,
    capabilities: HostCapabilities,
    log_port: Option<u16>,
    runtime: ProcessRuntime,
    shutdown: watch::Sender<bool>,
    driver: Option<JoinHandle<Driver>>,
    tasks: Vec<JoinHandle<()>>,
    writer: Arc<writer::ApiWriter>,
    shutdown_grace: Duration,
}

impl std::fmt::Debug for NodeAgentHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeAgentHandle")
            .field("node", &self.node_name)
            .finish()
    }
}

/// Starts node agents.
#[derive(Debug)]
pub struct NodeAgent;

impl NodeAgent {
    /// Registers the node and starts the agent.
    pub async fn start(
        api: Arc<dyn NodeApi>,
        config: AgentConfig,
    ) -> Result<NodeAgentHandle, AgentError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            AgentError::io(
                format!("create data directory {}", config.data_dir.display()),
                e,
            )
        })?;
        let static_dir = config.static_pod_dir();
        std::fs::create_dir_all(&static_dir).map_err(|e| {
            AgentError::io(
                format!("create static pod directory {}", static_dir.display()),
                e,
            )
        })?;
        let catalog = match &config.image_catalog {
            Some(path) => HostImageCatalog::from_file(path)?,
            None => HostImageCatalog::builtin(),
        };
        let capabilities = HostCapabilities::detect(&config.node_name, config.isolation).await;
        tracing::info!(node = %config.node_name, capabilities = %capabilities.describe(), "node agent starting");
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        let log_port = match &config.log_endpoint {
            Some(endpoint) => {
                let files = NodeLogFiles::new(&config.data_dir);
                let names = vec![
                    config.node_ip.clone(),
                    config.node_name.clone(),
                    "localhost".to_string(),
                ];
                let (port, task) =
                    crate::logs::server::serve(endpoint, files, &names, shutdown_rx.clone())
                        .await?;
                tasks.push(task);
                Some(port)
            }
            None => None,
        };
        let capacity = Capacity::detect(&config.data_dir, &config.capacity);
        let node = match register(api.as_ref(), &config, &capacity, log_port).await {
            Ok(node) => node,
            Err(e) => {
                let _ = shutdown.send(true);
                if let Some(driver) = &capabilities.cgroups {
                    driver.remove_node_dirs();
                }
                return Err(e);
            }
        };
        let allocatable = capacity.allocatable();
        let mut node_config = NodeConfig::new(&config.node_name, &config.node_ip);
        node_config.node_uid = node.metadata.uid.clone().unwrap_or_default();
        node_config.pod_ip_prefix = config.pod_ip_prefix.clone();
        node_config.allocatable_milli_cpu = allocatable.milli_cpu;
        node_config.allocatable_memory = allocatable.memory;
        node_config.lease_renew_interval = config.lease_renew_interval;
        node_config.node_status_update_frequency = config.node_status_update_frequency;
        let core = NodeAgentCore::new(node_config, Box::new(catalog.clone()));

        let (runtime_sender, runtime_events) = mpsc::unbounded_channel();
        let objects = Arc::new(crate::runtime::ConfigObjects::default());
        let runtime = ProcessRuntime::new(
            RuntimeConfig {
                node_name: config.node_name.clone(),
                data_dir: config.data_dir.clone(),
                catalog: Arc::new(catalog),
                capabilities: capabilities.clone(),
            },
            objects,
            runtime_sender,
        );
        let (failure_sender, failures) = mpsc::unbounded_channel();
        let writer = writer::ApiWriter::new(Arc::clone(&api), failure_sender);
        let (informer_sender, informer_events) = mpsc::channel(4096);
        let selector = format!("spec.nodeName={}", config.node_name);
        for (kind, selector) in [
            (ResourceKind::Pod, selector),
            (ResourceKind::ConfigMap, String::new()),
            (ResourceKind::Secret, String::new()),
        ] {
            tasks.push(tokio::spawn(informer::run(
                Arc::clone(&api),
                kind,
                selector,
                informer_sender.clone(),
                shutdown_rx.clone(),
            )));
        }
        let (static_sender, static_pods) = mpsc::channel(4);
        tasks.push(tokio::spawn(crate::static_pods::poll(
            static_dir,
            config.static_pod_poll,
            static_sender,
            shutdown_rx.clone(),
        )));
        let mut driver = Driver::new(core, runtime.clone(), Arc::clone(&writer));
        record_startup_events(&mut driver, &config.node_name);
        let inputs = DriverInputs {
            informer: informer_events,
            static_pods,
            runtime: runtime_events,
            failures,
            shutdown: shutdown_rx,
        };
        let driver = tokio::spawn(driver.run(inputs));
        Ok(NodeAgentHandle {
            node_name: config.node_name.clone(),
            capabilities,
            log_port,
            runtime,
            shutdown,
            driver: Some(driver),
            tasks,
            writer,
            shutdown_grace: config.shutdown_grace,
        })
    }

    /// The local node of `corral up`: in process, acting as `system:node:<name>` (in the
    /// `system:nodes` and `system:masters` groups).
    pub async fn start_local(
        service: &ApiService,
        config: AgentConfig,
    ) -> Result<NodeAgentHandle, AgentError> {
        let user = UserInfo::new(
            &format!("system:node:{}", config.node_name),
            &["system:nodes", "system:masters", "system:authenticated"],
        );
        NodeAgent::start(InProcessApi::shared(service.client(user)), config).await
    }
}

/// Creates the Node, or takes over an existing one (labels and status refreshed).
async fn register(
    api: &dyn NodeApi,
    config: &AgentConfig,
    capacity: &Capacity,
    log_port: Option<u16>,
) -> Result<Node, AgentError> {
    let wanted = machine::node_object(
        &config.node_name,
        &config.node_ip,
        capacity,
        &config.labels,
        log_port,
    );
    let created = api
        .execute(Action::Create {
            object: wanted.clone().into(),
        })
        .await;
    let node = match created {
        Ok(Some(KubeObject::Node(node))) => node,
        Ok(_) => typed_node(api.get(ResourceKind::Node, "", &config.node_name).await?)?,
        Err(e) if e.is_already_exists() => {
            let labels = wanted.metadata.labels.clone().unwrap_or_default();
            let patched = api
                .execute(Action::Patch {
                    key: corral_api::ObjectKey::cluster(ResourceKind::Node, &config.node_name),
                    subresource: Subresource::Main,
                    patch: PatchBody::Merge(json!({"metadata": {"labels": labels}})),
                })
                .await?;
            match patched {
                Some(object) => typed_node(object)?,
                None => typed_node(api.get(ResourceKind::Node, "", &config.node_name).await?)?,
            }
        }
        Err(e) => return Err(e.into()),
    };
    // Status is written through the status subresource whatever create kept.
    let status = serde_json::to_value(wanted.status.unwrap_or_default()).unwrap_or_default();
    api.execute(Action::Patch {
        key: corral_api::ObjectKey::cluster(ResourceKind::Node, &config.node_name),
        subresource: Subresource::Status,
        patch: PatchBody::Merge(json!({"status": status})),
    })
    .await?;
    Ok(node)
}

fn typed_node(object: KubeObject) -> Result<Node, AgentError> {
    object.into_typed().ok_or_else(|| {
        AgentError::Api(ApiError::internal(
            "the API returned something other than a Node",
        ))
    })
}

/// The kubelet's startup events (`describe node`).
fn record_startup_events(driver: &mut Driver, node: &str) {
    let now = Timestamp::now();
    let involved = ObjectReference {
        kind: Some("Node".into()),
        name: Some(node.to_string()),
        uid: Some(node.to_string()),
        ..Default::default()
    };
    let events = [
        ("Starting", "Starting kubelet.".to_string()),
        (
            "NodeHasSufficientMemory",
            format!("Node {node} status is now: NodeHasSufficientMemory"),
        ),
        (
            "NodeHasNoDiskPressure",
            format!("Node {node} status is now: NodeHasNoDiskPressure"),
        ),
        (
            "NodeHasSufficientPID",
            format!("Node {node} status is now: NodeHasSufficientPID"),
        ),
        (
            "NodeAllocatableEnforced",
            "Updated Node Allocatable limit across pods".to_string(),
        ),
        ("NodeReady", format!("Node {node} status is now: NodeReady")),
    ];
    for (reason, message) in events {
        let record = EventRecord {
            involved: involved.clone(),
            event_type: EventType::Normal,
            reason: reason.to_string(),
            message,
            component: "kubelet".to_string(),
            host: Some(node.to_string()),
        };
        driver.record(&record, now);
    }
}

impl NodeAgentHandle {
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    pub fn capabilities(&self) -> &HostCapabilities {
        &self.capabilities
    }

    /// The port of the node's log endpoint, when it serves one.
    pub fn log_port(&self) -> Option<u16> {
        self.log_port
    }

    /// Container processes running now (main process ids).
    pub fn running_pids(&self) -> Vec<i32> {
        self.runtime.running_pids()
    }

    /// Stops the agent: informers and endpoints first, then every container (SIGTERM,
    /// SIGKILL after the shutdown grace), waiting until all are gone. Pod statuses are
    /// not rewritten (as upstream's kubelet, the node lifecycle controller notices).
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(driver) = self.driver.take() {
            let _ = driver.await;
        }
        for task in self.tasks.drain(..) {
            task.abort();
        }
        self.runtime.shutdown(self.shutdown_grace).await;
        // Give queued writes (final statuses, events) a moment to land.
        for _ in 0..100 {
            if self.writer.in_flight() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for NodeAgentHandle {
    fn drop(&mut self) {
        if self.driver.is_some() {
            let _ = self.shutdown.send(true);
            if let Some(driver) = self.driver.take() {
                driver.abort();
            }
            for task in self.tasks.drain(..) {
                task.abort();
            }
            self.runtime.kill_all_now();
            if let Some(driver) = &self.capabilities.cgroups {
                driver.remove_node_dirs();
            }
        }
    }
}
