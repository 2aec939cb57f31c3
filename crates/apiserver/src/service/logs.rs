//! `pods/log`: container resolution with upstream's 400 messages, then a [`LogSource`]
//! (the node agent will provide the real one). Until then [`NoNodeLogs`] answers what the
//! kubelet would for containers that have not started, and an empty log otherwise.

use std::pin::Pin;

use bytes::Bytes;
use corral_api::k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use corral_api::{ApiError, GroupResource};
use futures::Stream;

use super::types::Target;
use super::{ApiService, require_subresource};

/// The query of a log request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogOptions {
    pub container: Option<String>,
    pub follow: bool,
    pub previous: bool,
    pub timestamps: bool,
    pub tail_lines: Option<i64>,
    pub since_seconds: Option<i64>,
    pub since_time: Option<String>,
    pub limit_bytes: Option<i64>,
}

/// A stream of log bytes (`text/plain`).
pub type LogStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// Where container logs come from. `container` is resolved and exists in the pod spec.
pub trait LogSource: Send + Sync {
    fn open(&self, pod: &Pod, container: &str, options: &LogOptions)
    -> Result<LogStream, ApiError>;
}

/// The log source while no node agent serves logs.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoNodeLogs;

impl LogSource for NoNodeLogs {
    fn open(
        &self,
        pod: &Pod,
        container: &str,
        options: &LogOptions,
    ) -> Result<LogStream, ApiError> {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let status = container_status(pod, container);
        let terminated_before = status
            .and_then(|s| s.last_state.as_ref())
            .and_then(|s| s.terminated.as_ref());
        if options.previous && terminated_before.is_none() {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        }
        if let Some(reason) = waiting_reason(status) {
            return Err(ApiError::bad_request(format!(
                "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
            )));
        }
        Ok(Box::pin(futures::stream::empty()))
    }
}

fn container_status<'a>(pod: &'a Pod, container: &str) -> Option<&'a ContainerStatus> {
    let status = pod.status.as_ref()?;
    let all = status
        .container_statuses
        .iter()
        .flatten()
        .chain(status.init_container_statuses.iter().flatten());
    all.into_iter().find(|s| s.name == container)
}

/// The waiting reason the kubelet reports; a container without status has not been
/// created yet.
fn waiting_reason(status: Option<&ContainerStatus>) -> Option<String> {
    let Some(status) = status else {
        return Some("ContainerCreating".into());
    };
    let state = status.state.as_ref()?;
    if state.running.is_some() || state.terminated.is_some() {
        return None;
    }
    let waiting = state.waiting.as_ref()?;
    Some(
        waiting
            .reason
            .clone()
            .unwrap_or_else(|| "ContainerCreating".into()),
    )
}

/// The container a log request addresses (upstream `pod.LogLocation`).
fn resolve_container(pod: &Pod, requested: Option<&str>) -> Result<String, ApiError> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let spec = pod.spec.as_ref();
    let containers: Vec<&str> = spec
        .map(|s| s.containers.iter().map(|c| c.name.as_str()).collect())
        .unwrap_or_default();
    let init: Vec<&str> = spec
        .and_then(|s| s.init_containers.as_ref())
        .map(|c| c.iter().map(|c| c.name.as_str()).collect())
        .unwrap_or_default();
    match requested.filter(|c| !c.is_empty()) {
        Some(container) if containers.contains(&container) || init.contains(&container) => {
            Ok(container.to_string())
        }
        Some(container) => Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        ))),
        None if containers.len() == 1 => Ok(containers[0].to_string()),
        None => {
            let mut message = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !init.is_empty() {
                message.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            Err(ApiError::bad_request(message))
        }
    }
}

impl ApiService {
    /// GET `pods/{name}/log`.
    pub fn logs(&self, target: &Target, options: &LogOptions) -> Result<LogStream, ApiError> {
        require_subresource(target.resource, "log")?;
        let object = self
            .get(target)?
            .object()?
            .ok_or_else(ApiError::method_not_allowed)?;
        let pod = object.as_typed::<Pod>().ok_or_else(|| {
            ApiError::not_found(&GroupResource::new("", "pods"), target.name_or_empty())
        })?;
        let container = resolve_container(pod, options.container.as_deref())?;
        self.inner.logs.open(pod, &container, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::{KubeObject, ResourceKind};
    use serde_json::json;

    fn pod(value: serde_json::Value) -> Pod {
        KubeObject::from_value(ResourceKind::Pod, value)
            .unwrap()
            .into_typed()
            .unwrap()
    }

    #[test]
    fn multi_container_pods_need_a_container_name() {
        let p = pod(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}}),
        );
        let err = resolve_container(&p, None).unwrap_err();
        assert_eq!(
            err.message,
            "a container name must be specified for pod p, choose one of: [a b]"
        );
        assert_eq!(resolve_container(&p, Some("b")).unwrap(), "b");
        assert_eq!(
            resolve_container(&p, Some("c")).unwrap_err().message,
            "container c is not valid for pod p"
        );
    }

    #[test]
    fn waiting_containers_answer_with_the_kubelets_message() {
        let p = pod(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "main"}]},
            "status": {"containerStatuses": [{"name": "main", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ErrImagePull"}}}]}}),
        );
        let err = NoNodeLogs
            .open(&p, "main", &LogOptions::default())
            .err()
            .unwrap();
        assert_eq!(
            err.message,
            "container \"main\" in pod \"p\" is waiting to start: ErrImagePull"
        );
        let err = NoNodeLogs
            .open(
                &p,
                "main",
                &LogOptions {
                    previous: true,
                    ..LogOptions::default()
                },
            )
            .err()
            .unwrap();
        assert_eq!(
            err.message,
            "previous terminated container \"main\" in pod \"p\" not found"
        );
    }
}
