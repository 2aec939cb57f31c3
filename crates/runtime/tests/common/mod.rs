//! The end-to-end harness: a real [`ApiService`] over `Store<JsonBytes>` + `MemoryBackend`,
//! every clock tied to tokio's (paused) time, the controller manager under test, and a
//! fake kubelet that writes pod status through the API as a node agent would.
//!
//! Tests run on `#[tokio::test(start_paused = true)]`: tokio jumps to the next timer
//! whenever every task is idle (never while an API call runs on the blocking pool), so
//! minutes of controller time pass in milliseconds and no test sleeps for real.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use corral_api::{KubeObject, TypedObject};
use corral_apiserver::service::{ListParams, TypedWatchEvent, UserInfo};
use corral_apiserver::{ApiClient, ApiService};
use corral_core::clock::{self, epoch};
use corral_core::{Clock, PatchBody, Subresource, Timestamp};
use corral_runtime::{
    ControllerManager, ControllerManagerConfig, ControllerManagerHandle, Profile, TokioClock,
};
use corral_store::{JsonBytes, MemoryBackend, Store, StoreConfig};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

pub const NAMESPACE: &str = "default";

/// An API service and a controller manager sharing one tokio-driven clock.
pub struct Cluster {
    pub api: ApiService,
    pub client: ApiClient,
    pub clock: Arc<TokioClock>,
    pub manager: ControllerManagerHandle,
}

/// Logs to the test output when `RUST_LOG` is set (e.g. `RUST_LOG=corral_runtime=debug`).
pub fn init_logging() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

/// A fresh API service (system namespaces created) whose clock follows tokio's.
pub fn api_service() -> (ApiService, Arc<TokioClock>) {
    init_logging();
    let store = Store::<JsonBytes>::open(Box::new(MemoryBackend), StoreConfig::default())
        .expect("memory store opens");
    let clock = Arc::new(TokioClock::new(epoch()));
    let api = ApiService::builder(Arc::new(store))
        .clock(clock.clone())
        .seed(7)
        .build();
    api.ensure_system_namespaces().expect("system namespaces");
    (api, clock)
}

impl Cluster {
    /// Starts the manager with `config` (its clock replaced by the cluster's) and waits
    /// for the informer to list everything once.
    pub async fn start(config: ControllerManagerConfig) -> Cluster {
        let (api, clock) = api_service();
        Cluster::start_on(api, clock, config).await
    }

    /// Starts the manager on an existing API service (objects written before: a restart).
    pub async fn start_on(
        api: ApiService,
        clock: Arc<TokioClock>,
        config: ControllerManagerConfig,
    ) -> Cluster {
        let manager = ControllerManager::start(api.clone(), config.with_clock(clock.clone()));
        assert!(manager.wait_for_sync().await, "informer caches sync");
        let client = api.client(UserInfo::system("test"));
        Cluster {
            api,
            client,
            clock,
            manager,
        }
    }

    /// Every built-in controller, profile `upstream` (guards off, upstream constants).
    pub async fn start_upstream() -> Cluster {
        Cluster::start(ControllerManagerConfig::upstream()).await
    }

    /// Every built-in controller, profile `corral` (guards on; `Default`).
    pub async fn start_corral() -> Cluster {
        Cluster::start(ControllerManagerConfig::corral()).await
    }

    /// Every built-in controller with the given profile.
    pub async fn start_profile(profile: Profile) -> Cluster {
        Cluster::start(ControllerManagerConfig::for_profile(profile)).await
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Seconds since the cluster's epoch.
    pub fn seconds(&self, at: Timestamp) -> f64 {
        clock::since(at, epoch()).as_secs_f64()
    }

    pub async fn create<T: TypedObject>(&self, manifest: Value) -> T {
        let object: T = typed(manifest);
        self.client.create(&object).await.expect("create")
    }

    pub async fn list<T: TypedObject>(&self) -> Vec<T> {
        self.list_in(NAMESPACE).await
    }

    pub async fn list_in<T: TypedObject>(&self, namespace: &str) -> Vec<T> {
        self.client
            .list::<T>(Some(namespace), &ListParams::default())
            .await
            .expect("list")
            .items
    }

    /// Creates a namespace.
    pub async fn namespace(&self, name: &str) {
        create_namespace(&self.client, name).await;
    }

    pub async fn get<T: TypedObject>(&self, name: &str) -> Option<T> {
        match self.client.get::<T>(NAMESPACE, name).await {
            Ok(object) => Some(object),
            Err(error) if error.is_not_found() => None,
            Err(error) => panic!("get {name}: {error}"),
        }
    }

    /// Starts a fake kubelet: every new pod runs for `run`, then ends with the exit code
    /// `exit_code(pod)` gives (0 = Succeeded).
    pub fn kubelet(
        &self,
        run: Duration,
        exit_code: fn(&Pod) -> i32,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(run_kubelet(
            self.client.clone(),
            self.clock.clone(),
            run,
            exit_code,
        ))
    }
}

pub fn typed<T: TypedObject>(manifest: Value) -> T {
    let kind = T::KIND;
    let object = KubeObject::from_value(kind, manifest).expect("manifest decodes");
    T::take(object).expect("manifest has the right kind")
}

/// Polls `probe` every 100 ms (virtual) until it returns `Some`, for at most `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_every(what, Duration::from_millis(100), timeout, probe).await
}

/// Polls `probe` every `every` (virtual) until it returns `Some`, for at most `timeout`.
pub async fn eventually_every<T, F, Fut>(
    what: &str,
    every: Duration,
    timeout: Duration,
    mut probe: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(every).await;
    }
}

pub async fn create_namespace(client: &ApiClient, name: &str) {
    let namespace: Namespace = typed(json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name},
    }));
    client.create(&namespace).await.expect("create namespace");
}

async fn run_kubelet(
    client: ApiClient,
    clock: Arc<TokioClock>,
    run: Duration,
    exit_code: fn(&Pod) -> i32,
) {
    let Ok(mut watch) = client.watch::<Pod>(None, &ListParams::default()).await else {
        return;
    };
    let mut started = std::collections::BTreeSet::new();
    while let Some(event) = watch.next().await {
        let Ok(TypedWatchEvent::Added(pod)) = event else {
            continue;
        };
        let name = pod.metadata.name.clone().unwrap_or_default();
        let terminal = matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        if terminal || !started.insert(name.clone()) {
            continue;
        }
        let (client, clock) = (client.clone(), clock.clone());
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let code = exit_code(&pod);
        tokio::spawn(async move {
            let start = clock.now();
            tokio::time::sleep(run).await;
            let patch = terminated_status(code, start, clock.now());
            let _ = client
                .patch::<Pod>(&namespace, &name, Subresource::Status, &patch)
                .await;
        });
    }
}

fn time(at: Timestamp) -> Value {
    serde_json::to_value(Time(at)).unwrap_or(Value::Null)
}

/// The status a kubelet writes when the pod's only container exits with `code`.
pub fn terminated_status(code: i32, started: Timestamp, finished: Timestamp) -> PatchBody {
    let phase = if code == 0 { "Succeeded" } else { "Failed" };
    let reason = if code == 0 { "Completed" } else { "Error" };
    PatchBody::Merge(json!({"status": {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": time(finished)}],
        "containerStatuses": [{
            "name": "main", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": code, "reason": reason,
                "startedAt": time(started), "finishedAt": time(finished)}},
        }],
    }}))
}

pub fn job_manifest(name: &str, backoff_limit: i32, ttl: Option<i32>) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "backoffLimit": backoff_limit,
            "ttlSecondsAfterFinished": ttl,
            "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox", "command": ["true"]}],
            }},
        },
    })
}

pub fn cronjob_manifest(name: &str, schedule: &str) -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox"}],
            }}}},
        },
    })
}

pub fn node_manifest(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name},
        "status": {
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    })
}

/// Whether a condition of this type is `True` (Job or Pod style conditions as JSON).
pub fn condition_true(status: &Value, type_: &str) -> Option<Value> {
    status
        .get("conditions")?
        .as_array()?
        .iter()
        .find(|c| {
            c.get("type").and_then(Value::as_str) == Some(type_)
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
        .cloned()
}
