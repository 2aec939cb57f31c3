//! [`RoutingLogSource`]: the API server's `pods/log` source when nodes may live in other
//! processes. Pods of the local node (the one `corral up` runs in process) are served from
//! its files; for other nodes the container id is resolved from the pod's status here
//! (with the kubelet's 400 messages) and the log is streamed from the node's HTTPS log
//! endpoint at its InternalIP and `status.daemonEndpoints.kubeletEndpoint.port`,
//! authenticated with the node token. Like upstream's API server by default, the node's
//! serving certificate is not verified.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use corral_api::resource::resource_of;
use corral_api::{ApiError, ResourceKind, StatusReason};
use corral_apiserver::ApiService;
use corral_apiserver::service::{LogOptions, LogSource, LogStream, Target};
use http::Method;
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use parking_lot::Mutex;

use super::{NodeLogFiles, node_pod_uid, select_container};
use crate::api::http_client::HttpsClient;

fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The query string the node endpoint takes.
pub fn node_query(pod_uid: &str, container_id: &str, options: &LogOptions) -> String {
    let mut query = format!(
        "podUID={}&containerID={}",
        encode(pod_uid),
        encode(container_id)
    );
    if options.follow {
        query.push_str("&follow=true");
    }
    if options.timestamps {
        query.push_str("&timestamps=true");
    }
    if let Some(n) = options.tail_lines {
        query.push_str(&format!("&tailLines={n}"));
    }
    if let Some(n) = options.since_seconds {
        query.push_str(&format!("&sinceSeconds={n}"));
    }
    if let Some(t) = &options.since_time {
        query.push_str(&format!("&sinceTime={}", encode(t)));
    }
    if let Some(n) = options.limit_bytes {
        query.push_str(&format!("&limitBytes={n}"));
    }
    query
}

/// `pods/log` for a cluster of local and remote nodes.
pub struct RoutingLogSource {
    local: Option<(String, NodeLogFiles)>,
    node_token: Option<String>,
    service: OnceLock<ApiService>,
    clients: Mutex<HashMap<String, Arc<HttpsClient>>>,
}

impl std::fmt::Debug for RoutingLogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutingLogSource")
            .field("local", &self.local.as_ref().map(|(n, _)| n))
            .finish()
    }
}

impl Default for RoutingLogSource {
    fn default() -> Self {
        RoutingLogSource::new()
    }
}

impl RoutingLogSource {
    pub fn new() -> RoutingLogSource {
        RoutingLogSource {
            local: None,
            node_token: None,
            service: OnceLock::new(),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Serves pods of `node_name` from `data_dir` directly.
    pub fn with_local_node(
        mut self,
        node_name: &str,
        data_dir: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.local = Some((node_name.to_string(), NodeLogFiles::new(data_dir)));
        self
    }

    /// The bearer token presented to node log endpoints (the node join token).
    pub fn with_node_token(mut self, token: &str) -> Self {
        self.node_token = Some(token.to_string());
        self
    }

    /// The service to look nodes up in (set once, after the service is built with this
    /// source).
    pub fn attach(&self, service: ApiService) {
        let _ = self.service.set(service);
    }

    fn node_endpoint(&self, node_name: &str) -> Result<String, ApiError> {
        let service = self.service.get().ok_or_else(|| {
            ApiError::internal("the log source is not attached to the API service")
        })?;
        let target = Target::object(resource_of(ResourceKind::Node), None, node_name);
        let object = service
            .get(&target)?
            .object()?
            .ok_or_else(|| ApiError::internal("not a node"))?;
        let node: &Node = object
            .as_typed()
            .ok_or_else(|| ApiError::internal("not a node"))?;
        let status = node.status.as_ref();
        let port = status
            .and_then(|s| s.daemon_endpoints.as_ref())
            .and_then(|d| d.kubelet_endpoint.as_ref())
            .map_or(0, |e| e.port);
        let address = status
            .and_then(|s| s.addresses.as_ref())
            .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
            .map(|a| a.address.clone());
        match (address, port) {
            (Some(address), port) if port > 0 => Ok(if address.contains(':') {
                format!("https://[{address}]:{port}")
            } else {
                format!("https://{address}:{port}")
            }),
            _ => Err(ApiError::new(
                StatusReason::ServiceUnavailable,
                format!("node \"{node_name}\" serves no container logs (no kubelet endpoint)"),
            )),
        }
    }

    fn client(&self, endpoint: &str) -> Result<Arc<HttpsClient>, ApiError> {
        let mut clients = self.clients.lock();
        if let Some(client) = clients.get(endpoint) {
            return Ok(Arc::clone(client));
        }
        let tls = crate::tls::insecure_client_config(vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        let client = HttpsClient::new(endpoint, tls, self.node_token.clone())
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let client = Arc::new(client);
        clients.insert(endpoint.to_string(), Arc::clone(&client));
        Ok(client)
    }
}

impl LogSource for RoutingLogSource {
    fn open(
        &self,
        pod: &Pod,
        container: &str,
        options: &LogOptions,
    ) -> Result<LogStream, ApiError> {
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        if node.is_empty() {
            // Upstream: a pod without a node has no log location; the body is empty.
            return Ok(Box::pin(futures::stream::empty()));
        }
        if let Some((local, files)) = &self.local
            && *local == node
        {
            return files.open(pod, container, options);
        }
        let container_id = select_container(pod, container, options.previous)?;
        let endpoint = self.node_endpoint(&node)?;
        let client = self.client(&endpoint)?;
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let path = format!(
            "/containerLogs/{}/{}/{}?{}",
            encode(&namespace),
            encode(&name),
            encode(container),
            node_query(&node_pod_uid(pod), &container_id, options)
        );
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
        tokio::spawn(async move {
            let response = match client.send(Method::GET, &path, None, Bytes::new()).await {
                Ok(r) => r,
                Err(e) => {
                    let _ = sender.send(Err(std::io::Error::other(e.to_string()))).await;
                    return;
                }
            };
            if !response.status().is_success() {
                let status = response.status();
                let _ = sender
                    .send(Err(std::io::Error::other(format!(
                        "node log endpoint answered {status}"
                    ))))
                    .await;
                return;
            }
            let mut body = response.into_body();
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(frame) => {
                        if let Ok(data) = frame.into_data()
                            && sender.send(Ok(data)).await.is_err()
                        {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = sender.send(Err(std::io::Error::other(e.to_string()))).await;
                        return;
                    }
                }
            }
        });
        Ok(Box::pin(futures::stream::unfold(
            receiver,
            |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
        )))
    }
}
