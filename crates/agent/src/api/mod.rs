//! [`NodeApi`]: what the node agent needs from the API server (get, list, watch, and the
//! writes of the core's plans), with two implementations: [`InProcessApi`] over the
//! in-process [`ApiClient`] (the local node of `corral up`) and [`RemoteApi`] over HTTPS
//! (`corral node --server URL --token …`).

pub mod http_client;
pub mod remote;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use corral_api::resource::resource_of;
use corral_api::{ApiError, KubeObject, ResourceKind, Revision, StatusReason};
use corral_apiserver::ApiClient;
use corral_apiserver::service::{ListOptions, Target, WatchEventType, WatchObject};
use corral_core::{Action, Outcome};
use futures::Stream;

pub use remote::{RemoteApi, RemoteApiConfig};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One watch event.
#[derive(Clone, Debug, PartialEq)]
pub enum ObjectEvent {
    Added(KubeObject),
    Modified(KubeObject),
    Deleted(KubeObject),
    Bookmark(Revision),
}

/// A watch: events until the server ends it; `Err` for an ERROR event (410: re-list).
pub type ObjectStream = Pin<Box<dyn Stream<Item = Result<ObjectEvent, ApiError>> + Send>>;

/// The agent's view of the API server. All lists and watches span every namespace.
pub trait NodeApi: Send + Sync + 'static {
    fn get(
        &self,
        kind: ResourceKind,
        namespace: &str,
        name: &str,
    ) -> BoxFuture<'_, Result<KubeObject, ApiError>>;

    /// Every object of `kind` matching `field_selector`, and the list's revision.
    fn list(
        &self,
        kind: ResourceKind,
        field_selector: &str,
    ) -> BoxFuture<'_, Result<(Vec<KubeObject>, Revision), ApiError>>;

    /// Changes after `after`.
    fn watch(
        &self,
        kind: ResourceKind,
        field_selector: &str,
        after: Revision,
    ) -> BoxFuture<'_, Result<ObjectStream, ApiError>>;

    /// Runs one write (create, update, patch, delete). `Action::Event` is not used: the
    /// agent's event recorder turns events into creates and patches first.
    fn execute(&self, action: Action) -> BoxFuture<'_, Result<Option<KubeObject>, ApiError>>;
}

/// [`NodeApi`] in process: the same pipeline as HTTP requests, without HTTP.
#[derive(Clone, Debug)]
pub struct InProcessApi {
    client: ApiClient,
}

impl InProcessApi {
    /// `client` should act as the node (`system:node:<name>`) or a system user.
    pub fn new(client: ApiClient) -> InProcessApi {
        InProcessApi { client }
    }

    pub fn shared(client: ApiClient) -> Arc<dyn NodeApi> {
        Arc::new(InProcessApi::new(client))
    }
}

fn decode(kind: ResourceKind, json: &[u8]) -> Result<KubeObject, ApiError> {
    KubeObject::from_json_slice(kind, json).map_err(|e| ApiError::internal(e.to_string()))
}

impl NodeApi for InProcessApi {
    fn get(
        &self,
        kind: ResourceKind,
        namespace: &str,
        name: &str,
    ) -> BoxFuture<'_, Result<KubeObject, ApiError>> {
        let target = Target::object(resource_of(kind), Some(namespace), name);
        Box::pin(async move {
            let served = self.client.service().get(&target)?;
            served
                .object()?
                .map(Arc::unwrap_or_clone)
                .ok_or_else(|| ApiError::internal("not a stored object"))
        })
    }

    fn list(
        &self,
        kind: ResourceKind,
        field_selector: &str,
    ) -> BoxFuture<'_, Result<(Vec<KubeObject>, Revision), ApiError>> {
        let target = Target::collection(resource_of(kind), None);
        let options = ListOptions {
            field_selector: field_selector.to_string(),
            ..ListOptions::default()
        };
        Box::pin(async move {
            let page = self.client.service().list_async(&target, &options).await?;
            let items = page
                .items
                .iter()
                .map(|e| decode(kind, e.json()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((items, page.revision))
        })
    }

    fn watch(
        &self,
        kind: ResourceKind,
        field_selector: &str,
        after: Revision,
    ) -> BoxFuture<'_, Result<ObjectStream, ApiError>> {
        let target = Target::collection(resource_of(kind), None);
        let options = ListOptions {
            field_selector: field_selector.to_string(),
            resource_version: Some(after.to_string()),
            allow_bookmarks: true,
            ..ListOptions::default()
        };
        Box::pin(async move {
            let stream = self.client.service().watch(&target, &options)?;
            let events = futures::stream::unfold(stream, move |mut stream| async move {
                let item = stream.next().await?;
                let event = match item.object {
                    WatchObject::Error(e) => Err(e),
                    WatchObject::Bookmark(revision) => Ok(ObjectEvent::Bookmark(revision)),
                    WatchObject::Object(encoded) => {
                        decode(kind, encoded.json()).map(|object| match item.event_type {
                            WatchEventType::Added => ObjectEvent::Added(object),
                            WatchEventType::Deleted => ObjectEvent::Deleted(object),
                            _ => ObjectEvent::Modified(object),
                        })
                    }
                };
                Some((event, stream))
            });
            Ok(Box::pin(events) as ObjectStream)
        })
    }

    fn execute(&self, action: Action) -> BoxFuture<'_, Result<Option<KubeObject>, ApiError>> {
        Box::pin(async move {
            match self.client.execute(&action).await {
                Outcome::Done(object) => Ok(object),
                Outcome::Failed(e) => Err(e),
                Outcome::Skipped => Ok(None),
            }
        })
    }
}

/// The `reason` of a `Status` (from its code when it names none Corral knows).
pub fn parse_reason(text: &str, code: u16) -> StatusReason {
    StatusReason::parse(text).unwrap_or_else(|| StatusReason::for_code(code))
}

/// An `ApiError` from a `Status` body (or any body, for non-Status errors).
pub fn error_from_status(code: u16, body: &[u8]) -> ApiError {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let message = value
        .get("message")
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    let code = value
        .get("code")
        .and_then(|c| c.as_u64())
        .map_or(code, |c| c as u16);
    let reason = parse_reason(
        value
            .get("reason")
            .and_then(|r| r.as_str())
            .unwrap_or_default(),
        code,
    );
    let mut error = ApiError::new(reason, message);
    error.code = code;
    error
}
