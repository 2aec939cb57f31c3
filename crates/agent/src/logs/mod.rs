//! Container logs: the CRI file format ([`cri`]), `pods/log` served from the node's files
//! ([`NodeLogFiles`], a [`LogSource`]), the node's HTTPS log endpoint for remote nodes
//! ([`server`]) and the API server's [`RoutingLogSource`] that serves local pods from
//! files and proxies remote ones ([`routing`]).
//!
//! Layout under a node's data directory: `pods/<pod uid>/logs/<container>/<id>.log`, one
//! file per container instance (so `previous` is the file of `lastState`'s container id),
//! and `<id>.done` once that instance has exited and its output is flushed.

pub mod cri;
pub mod routing;
pub mod server;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use corral_api::ApiError;
use corral_apiserver::service::{LogOptions, LogSource, LogStream};
use corral_node::agent::MIRROR_ANNOTATION;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

pub use routing::RoutingLogSource;

/// The scheme of container ids (`corral-process://<64 hex>`).
pub const CONTAINER_ID_SCHEME: &str = "corral-process://";

/// A pod's directory on its node.
pub fn pod_dir(data_dir: &Path, pod_uid: &str) -> PathBuf {
    data_dir.join("pods").join(pod_uid)
}

/// The log file of one container instance.
pub fn log_path(data_dir: &Path, pod_uid: &str, container: &str, container_id: &str) -> PathBuf {
    let id = container_id
        .strip_prefix(CONTAINER_ID_SCHEME)
        .unwrap_or(container_id);
    pod_dir(data_dir, pod_uid)
        .join("logs")
        .join(container)
        .join(format!("{id}.log"))
}

/// The uid the node knows a pod by: a mirror pod's static pod hash, else its uid.
pub fn node_pod_uid(pod: &Pod) -> String {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(MIRROR_ANNOTATION))
        .cloned()
        .or_else(|| pod.metadata.uid.clone())
        .unwrap_or_default()
}

fn container_status<'a>(pod: &'a Pod, container: &str) -> Option<&'a ContainerStatus> {
    let status = pod.status.as_ref()?;
    status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten())
        .chain(status.ephemeral_container_statuses.iter().flatten())
        .find(|s| s.name == container)
}

/// Upstream's `validateContainerLogStatus`: the container id whose log a request reads,
/// or the kubelet's 400 message.
pub fn select_container(pod: &Pod, container: &str, previous: bool) -> Result<String, ApiError> {
    let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
    let Some(status) = container_status(pod, container) else {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{pod_name}\" is waiting to start: ContainerCreating"
        )));
    };
    let last_terminated = status
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref());
    let last_id = last_terminated
        .and_then(|t| t.container_id.clone())
        .filter(|id| !id.is_empty());
    let state = status.state.as_ref();
    let terminated_message = || {
        ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{pod_name}\" is terminated"
        ))
    };
    if previous {
        return last_id.ok_or_else(|| {
            ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
            ))
        });
    }
    if state.and_then(|s| s.running.as_ref()).is_some() {
        return status.container_id.clone().ok_or_else(terminated_message);
    }
    if let Some(terminated) = state.and_then(|s| s.terminated.as_ref()) {
        return match terminated.container_id.clone().filter(|id| !id.is_empty()) {
            Some(id) => Ok(id),
            None => last_id.ok_or_else(terminated_message),
        };
    }
    if last_terminated.is_some() {
        return last_id.ok_or_else(terminated_message);
    }
    if let Some(waiting) = state.and_then(|s| s.waiting.as_ref()) {
        let reason = waiting.reason.as_deref().unwrap_or("ContainerCreating");
        let detail = match reason {
            "ErrImagePull" => "image can't be pulled",
            "ImagePullBackOff" => "trying and failing to pull image",
            other => other,
        };
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {detail}"
        )));
    }
    Err(ApiError::bad_request(format!(
        "container \"{container}\" in pod \"{pod_name}\" is waiting to start - no logs yet"
    )))
}

/// Streams a log file with the API's options.
pub fn stream_file(path: PathBuf, options: &LogOptions) -> LogStream {
    let read = cri::ReadOptions::from_api(options, jiff::Timestamp::now());
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(cri::read_log(path, read, sender));
    Box::pin(futures::stream::unfold(
        receiver,
        |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
    ))
}

/// `pods/log` from one node's files: the [`LogSource`] of a node whose agent runs in the
/// same process (the local node of `corral up`, and every node's own log endpoint).
#[derive(Clone, Debug)]
pub struct NodeLogFiles {
    data_dir: PathBuf,
}

impl NodeLogFiles {
    pub fn new(data_dir: impl Into<PathBuf>) -> NodeLogFiles {
        NodeLogFiles {
            data_dir: data_dir.into(),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The log of a known container id.
    pub fn open_id(
        &self,
        pod_uid: &str,
        container: &str,
        container_id: &str,
        options: &LogOptions,
    ) -> LogStream {
        stream_file(
            log_path(&self.data_dir, pod_uid, container, container_id),
            options,
        )
    }
}

impl LogSource for NodeLogFiles {
    fn open(
        &self,
        pod: &Pod,
        container: &str,
        options: &LogOptions,
    ) -> Result<LogStream, ApiError> {
        let id = select_container(pod, container, options.previous)?;
        Ok(self.open_id(&node_pod_uid(pod), container, &id, options))
    }
}
