//! [`RemoteApi`]: a minimal Kubernetes REST client over HTTPS (hyper + rustls): GET,
//! POST, PUT, PATCH (merge, strategic, JSON patch) and DELETE with JSON bodies, LIST, and
//! WATCH as newline-delimited JSON with `resourceVersion`, bookmarks and `ERROR` events
//! (a 410 makes the caller re-list). Errors are the server's `Status` objects.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use corral_api::{ApiError, KubeObject, ResourceKind, Revision};
use corral_core::{Action, PatchBody, Subresource};
use http::Method;
use http_body_util::BodyExt;
use serde_json::{Value, json};

use super::http_client::HttpsClient;
use super::{BoxFuture, NodeApi, ObjectEvent, ObjectStream, error_from_status};
use crate::error::AgentError;

/// How to reach the API server.
#[derive(Clone, Debug)]
pub struct RemoteApiConfig {
    /// `https://host:port`.
    pub server: String,
    pub token: String,
    /// PEM CA bundle to verify the server; `None` skips verification (insecure).
    pub ca_pem: Option<String>,
}

/// [`NodeApi`] over HTTPS.
#[derive(Debug)]
pub struct RemoteApi {
    client: HttpsClient,
}

fn transport(e: AgentError) -> ApiError {
    ApiError::new(corral_api::StatusReason::ServiceUnavailable, e.to_string())
}

fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
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

/// The URL path of a collection (`namespace` empty: all namespaces or cluster-scoped).
pub fn collection_path(kind: ResourceKind, namespace: &str) -> String {
    let prefix = if kind.group().is_empty() {
        format!("/api/{}", kind.version())
    } else {
        format!("/apis/{}/{}", kind.group(), kind.version())
    };
    if kind.namespaced() && !namespace.is_empty() {
        format!("{prefix}/namespaces/{namespace}/{}", kind.plural())
    } else {
        format!("{prefix}/{}", kind.plural())
    }
}

fn object_path(
    kind: ResourceKind,
    namespace: &str,
    name: &str,
    subresource: Subresource,
) -> String {
    let mut path = format!("{}/{name}", collection_path(kind, namespace));
    if subresource == Subresource::Status {
        path.push_str("/status");
    }
    path
}

impl RemoteApi {
    pub fn new(config: &RemoteApiConfig) -> Result<RemoteApi, AgentError> {
        let alpn = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let tls = match &config.ca_pem {
            Some(ca) => crate::tls::client_config_with_ca(ca, alpn)?,
            None => crate::tls::insecure_client_config(alpn),
        };
        Ok(RemoteApi {
            client: HttpsClient::new(&config.server, tls, Some(config.token.clone()))?,
        })
    }

    pub fn shared(config: &RemoteApiConfig) -> Result<Arc<dyn NodeApi>, AgentError> {
        Ok(Arc::new(RemoteApi::new(config)?))
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Bytes, ApiError> {
        let response = self
            .client
            .send(method, path, content_type, body)
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| transport(AgentError::Http(e.to_string())))?
            .to_bytes();
        if (200..300).contains(&status) {
            Ok(bytes)
        } else {
            Err(error_from_status(status, &bytes))
        }
    }

    async fn call_object(
        &self,
        kind: ResourceKind,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Option<KubeObject>, ApiError> {
        let bytes = self.call(method, path, content_type, body).await?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| ApiError::internal(e.to_string()))?;
        // A delete may answer with a `Status` instead of the object.
        if value.get("kind").and_then(|k| k.as_str()) != Some(kind.kind_name()) {
            return Ok(None);
        }
        KubeObject::from_value(kind, value)
            .map(Some)
            .map_err(|e| ApiError::internal(e.to_string()))
    }

    async fn run(&self, action: Action) -> Result<Option<KubeObject>, ApiError> {
        match action {
            Action::Create { object } => {
                let kind = object.kind();
                let path = collection_path(kind, object.namespace());
                let body = Bytes::from(object.to_json_vec());
                self.call_object(kind, Method::POST, &path, Some("application/json"), body)
                    .await
            }
            Action::Update {
                object,
                subresource,
            } => {
                let kind = object.kind();
                let path = object_path(kind, object.namespace(), object.name(), subresource);
                let body = Bytes::from(object.to_json_vec());
                self.call_object(kind, Method::PUT, &path, Some("application/json"), body)
                    .await
            }
            Action::Patch {
                key,
                subresource,
                patch,
            } => {
                let (content_type, value) = match &patch {
                    PatchBody::Merge(v) => ("application/merge-patch+json", v),
                    PatchBody::Strategic(v) => ("application/strategic-merge-patch+json", v),
                    PatchBody::Json(v) => ("application/json-patch+json", v),
                };
                let path = object_path(key.kind, &key.namespace, &key.name, subresource);
                let body = Bytes::from(serde_json::to_vec(value).unwrap_or_default());
                self.call_object(key.kind, Method::PATCH, &path, Some(content_type), body)
                    .await
            }
            Action::Delete {
                key,
                preconditions,
                propagation,
                grace_period_seconds,
            } => {
                let mut options = json!({"apiVersion": "v1", "kind": "DeleteOptions"});
                if let Some(grace) = grace_period_seconds {
                    options["gracePeriodSeconds"] = json!(grace);
                }
                if let Some(propagation) = propagation {
                    options["propagationPolicy"] = json!(propagation.as_str());
                }
                let mut pre = serde_json::Map::new();
                if let Some(uid) = &preconditions.uid {
                    pre.insert("uid".into(), json!(uid.as_str()));
                }
                if let Some(rv) = preconditions.resource_version {
                    pre.insert("resourceVersion".into(), json!(rv.to_string()));
                }
                if !pre.is_empty() {
                    options["preconditions"] = Value::Object(pre);
                }
                let path = object_path(key.kind, &key.namespace, &key.name, Subresource::Main);
                let body = Bytes::from(serde_json::to_vec(&options).unwrap_or_default());
                self.call_object(
                    key.kind,
                    Method::DELETE,
                    &path,
                    Some("application/json"),
                    body,
                )
                .await
            }
            Action::Event(_) => Err(ApiError::bad_request(
                "events are recorded through the event recorder",
            )),
        }
    }
}

impl NodeApi for RemoteApi {
    fn get(
        &self,
        kind: ResourceKind,
        namespace: &str,
        name: &str,
    ) -> BoxFuture<'_, Result<KubeObject, ApiError>> {
        let path = object_path(kind, namespace, name, Subresource::Main);
        Box::pin(async move {
            self.call_object(kind, Method::GET, &path, None, Bytes::new())
                .await?
                .ok_or_else(|| ApiError::internal("unexpected response kind"))
        })
    }

    fn list(
        &self,
        kind: ResourceKind,
        field_selector: &str,
    ) -> BoxFuture<'_, Result<(Vec<KubeObject>, Revision), ApiError>> {
        let mut path = collection_path(kind, "");
        if !field_selector.is_empty() {
            path.push_str(&format!("?fieldSelector={}", url_encode(field_selector)));
        }
        Box::pin(async move {
            let bytes = self.call(Method::GET, &path, None, Bytes::new()).await?;
            let mut value: Value =
                serde_json::from_slice(&bytes).map_err(|e| ApiError::internal(e.to_string()))?;
            let revision = value["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|rv| rv.parse::<u64>().ok())
                .map_or(Revision(0), Revision);
            let items = match value.get_mut("items").map(Value::take) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            let objects = items
                .into_iter()
                .map(|item| {
                    KubeObject::from_value(kind, item)
                        .map_err(|e| ApiError::internal(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((objects, revision))
        })
    }

    fn watch(
        &self,
        kind: ResourceKind,
        field_selector: &str,
        after: Revision,
    ) -> BoxFuture<'_, Result<ObjectStream, ApiError>> {
        let mut path = format!(
            "{}?watch=true&allowWatchBookmarks=true&resourceVersion={after}",
            collection_path(kind, "")
        );
        if !field_selector.is_empty() {
            path.push_str(&format!("&fieldSelector={}", url_encode(field_selector)));
        }
        Box::pin(async move {
            let response = self
                .client
                .send(Method::GET, &path, None, Bytes::new())
                .await
                .map_err(transport)?;
            let status = response.status().as_u16();
            if !(200..300).contains(&status) {
                let bytes = response
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                return Err(error_from_status(status, &bytes));
            }
            let state = (response.into_body(), BytesMut::new(), false);
            let events =
                futures::stream::unfold(state, move |(mut body, mut buffer, ended)| async move {
                    if ended {
                        return None;
                    }
                    loop {
                        if let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                            let line = buffer.split_to(end + 1);
                            if line.iter().all(|b| b.is_ascii_whitespace()) {
                                continue;
                            }
                            let event = parse_watch_line(kind, &line);
                            let stop = event.is_err();
                            return Some((event, (body, buffer, stop)));
                        }
                        match body.frame().await {
                            Some(Ok(frame)) => {
                                if let Some(data) = frame.data_ref() {
                                    buffer.extend_from_slice(data);
                                }
                            }
                            Some(Err(e)) => {
                                tracing::debug!(error = %e, "watch stream ended with an error");
                                return None;
                            }
                            None => return None,
                        }
                    }
                });
            Ok(Box::pin(events) as ObjectStream)
        })
    }

    fn execute(&self, action: Action) -> BoxFuture<'_, Result<Option<KubeObject>, ApiError>> {
        Box::pin(self.run(action))
    }
}

fn parse_watch_line(kind: ResourceKind, line: &[u8]) -> Result<ObjectEvent, ApiError> {
    let mut value: Value = serde_json::from_slice(line)
        .map_err(|e| ApiError::internal(format!("watch event: {e}")))?;
    let event_type = value["type"].as_str().unwrap_or_default().to_string();
    let object = value.get_mut("object").map(Value::take).unwrap_or_default();
    match event_type.as_str() {
        "ERROR" => {
            let bytes = serde_json::to_vec(&object).unwrap_or_default();
            Err(error_from_status(
                object["code"].as_u64().unwrap_or(500) as u16,
                &bytes,
            ))
        }
        "BOOKMARK" => {
            let revision = object["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|rv| rv.parse::<u64>().ok())
                .unwrap_or(0);
            Ok(ObjectEvent::Bookmark(Revision(revision)))
        }
        other => {
            let object = KubeObject::from_value(kind, object)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(match other {
                "ADDED" => ObjectEvent::Added(object),
                "DELETED" => ObjectEvent::Deleted(object),
                _ => ObjectEvent::Modified(object),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_rest_layout() {
        assert_eq!(collection_path(ResourceKind::Pod, ""), "/api/v1/pods");
        assert_eq!(
            collection_path(ResourceKind::Pod, "ns"),
            "/api/v1/namespaces/ns/pods"
        );
        assert_eq!(
            collection_path(ResourceKind::Node, "ignored"),
            "/api/v1/nodes"
        );
        assert_eq!(
            object_path(
                ResourceKind::Lease,
                "kube-node-lease",
                "n",
                Subresource::Main
            ),
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n"
        );
        assert_eq!(
            object_path(ResourceKind::Node, "", "n", Subresource::Status),
            "/api/v1/nodes/n/status"
        );
        assert_eq!(url_encode("spec.nodeName=a b"), "spec.nodeName%3Da%20b");
    }

    #[test]
    fn watch_errors_become_api_errors() {
        let line = br#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}}"#;
        let err = parse_watch_line(ResourceKind::Pod, line).unwrap_err();
        assert_eq!(err.code, 410);
        assert_eq!(err.reason, corral_api::StatusReason::Expired);
    }
}
