//! Shared harness: a real `ApiService` over the in-memory store, a node agent driving real
//! processes, pods created with `spec.nodeName` set (no scheduler), and bounded waits on
//! conditions. Every agent is shut down (or, if a test panics, SIGKILLs its containers on
//! drop), and containers carry a marker variable so tests can scan `/proc` for leftovers.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use corral_agent::{AgentConfig, NodeAgent, NodeAgentHandle, RoutingLogSource};
use corral_api::resource::resource_of;
use corral_api::{KubeObject, ResourceKind};
use corral_apiserver::service::{LogOptions, Target, UserInfo};
use corral_apiserver::{ApiClient, ApiService};
use corral_store::{MemoryBackend, Store, StoreConfig};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use serde_json::{Value, json};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique name for this test process.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

pub fn service_with_logs(logs: Arc<RoutingLogSource>) -> ApiService {
    let store =
        Arc::new(Store::open(Box::new(MemoryBackend), StoreConfig::default()).expect("store"));
    let service = ApiService::builder(store).log_source(logs.clone()).build();
    logs.attach(service.clone());
    service
        .ensure_system_namespaces()
        .expect("system namespaces");
    service
}

pub struct Cluster {
    pub service: ApiService,
    pub client: ApiClient,
    pub node: String,
    pub dir: tempfile::TempDir,
    pub agent: Option<NodeAgentHandle>,
    pub marker: String,
}

impl Cluster {
    pub async fn start() -> Cluster {
        Cluster::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut AgentConfig)) -> Cluster {
        let node = unique("node");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = AgentConfig::new(&node, dir.path().join("data"));
        config.static_pod_poll = Duration::from_millis(100);
        config.shutdown_grace = Duration::from_secs(2);
        adjust(&mut config);
        let logs = Arc::new(RoutingLogSource::new().with_local_node(&node, &config.data_dir));
        let service = service_with_logs(logs);
        let client = service.client(UserInfo::system("test"));
        let agent = NodeAgent::start_local(&service, config)
            .await
            .expect("agent starts");
        Cluster {
            service,
            client,
            node,
            dir,
            agent: Some(agent),
            marker: unique("marker"),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn agent(&self) -> &NodeAgentHandle {
        self.agent.as_ref().expect("agent running")
    }

    pub async fn shutdown(&mut self) {
        if let Some(agent) = self.agent.take() {
            agent.shutdown().await;
        }
    }

    /// A pod on this node: `containers` is a list of container JSON objects; the marker
    /// variable is added to each.
    pub fn pod(&self, name: &str, restart_policy: &str, mut containers: Value) -> Value {
        for c in containers.as_array_mut().expect("containers") {
            let env = c
                .as_object_mut()
                .unwrap()
                .entry("env")
                .or_insert_with(|| json!([]));
            env.as_array_mut()
                .unwrap()
                .push(json!({"name": "CORRAL_TEST_MARKER", "value": self.marker}));
            c.as_object_mut()
                .unwrap()
                .entry("image")
                .or_insert_with(|| json!("busybox:1.36"));
        }
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": self.node, "restartPolicy": restart_policy,
                     "terminationGracePeriodSeconds": 2, "containers": containers}
        })
    }

    pub async fn create(&self, pod: Value) -> Pod {
        let object = KubeObject::from_value(ResourceKind::Pod, pod).expect("pod json");
        let pod: Pod = object.into_typed().unwrap();
        self.client.create(&pod).await.expect("create pod")
    }

    pub async fn create_object(&self, kind: ResourceKind, value: Value) {
        let object = KubeObject::from_value(kind, value).expect("json");
        let outcome = self
            .client
            .execute(&corral_core::Action::Create { object })
            .await;
        assert!(!outcome.is_failure(), "{outcome:?}");
    }

    pub async fn get(&self, name: &str) -> Option<Pod> {
        self.client.get::<Pod>("default", name).await.ok()
    }

    /// Waits (bounded) until the pod satisfies `check`; panics with the last state.
    pub async fn wait_pod(&self, name: &str, limit: Duration, check: impl Fn(&Pod) -> bool) -> Pod {
        let deadline = Instant::now() + limit;
        loop {
            let pod = self.get(name).await;
            if let Some(pod) = &pod
                && check(pod)
            {
                return pod.clone();
            }
            if Instant::now() > deadline {
                panic!(
                    "pod {name} did not reach the condition in {limit:?}; last: {}",
                    serde_json::to_string_pretty(&pod.map(|p| p.status)).unwrap()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn wait_gone(&self, name: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.get(name).await.is_some() {
            assert!(
                Instant::now() < deadline,
                "pod {name} still exists after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn logs(
        &self,
        name: &str,
        options: LogOptions,
    ) -> Result<String, corral_api::ApiError> {
        let target = Target::object(resource_of(ResourceKind::Pod), Some("default"), name);
        let mut stream = self.service.logs(&target, &options)?;
        let mut out = Vec::new();
        while let Some(chunk) = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("log stream stalled")
        {
            out.extend_from_slice(&chunk.expect("log chunk"));
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    pub async fn events(&self) -> Vec<k8s_openapi::api::core::v1::Event> {
        self.client
            .list::<k8s_openapi::api::core::v1::Event>(Some("default"), &Default::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default()
    }

    pub async fn wait_event(
        &self,
        limit: Duration,
        check: impl Fn(&k8s_openapi::api::core::v1::Event) -> bool,
    ) -> k8s_openapi::api::core::v1::Event {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(e) = self.events().await.into_iter().find(|e| check(e)) {
                return e;
            }
            if Instant::now() > deadline {
                let all: Vec<String> = self
                    .events()
                    .await
                    .iter()
                    .map(|e| format!("{:?} {:?}", e.reason, e.message))
                    .collect();
                panic!("event not seen in {limit:?}; events: {all:#?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Processes whose environment carries this cluster's marker.
    pub fn marked_processes(&self) -> Vec<i32> {
        marked_processes(&self.marker)
    }

    pub async fn wait_no_marked_processes(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let left = self.marked_processes();
            if left.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "processes left running: {left:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A failed test drops the agent handle, which SIGKILLs every container.
        self.agent.take();
    }
}

/// Processes (not zombies) whose environment contains `CORRAL_TEST_MARKER=<marker>`.
pub fn marked_processes(marker: &str) -> Vec<i32> {
    let needle = format!("CORRAL_TEST_MARKER={marker}");
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        if !zombie && environ.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

pub fn main_status(pod: &Pod) -> Option<ContainerStatus> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()
        .cloned()
}

pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

pub fn terminated(pod: &Pod) -> Option<k8s_openapi::api::core::v1::ContainerStateTerminated> {
    main_status(pod)?.state?.terminated
}

pub fn waiting_reason(pod: &Pod) -> Option<String> {
    main_status(pod)?.state?.waiting?.reason
}

pub fn path_exists(p: &Path) -> bool {
    p.exists()
}
