//! [`ApiClient`]: the in-process, typed face of the pipeline for controllers running
//! inside `corral up`. Typed objects in, typed objects out; every call takes the same path
//! as an HTTP request (admission, strategy, validation, store), minus HTTP and JSON text.
//! [`ApiClient::execute`] runs one `corral_core::Action` of a controller's plan.

use std::marker::PhantomData;
use std::sync::Arc;

use corral_api::resource::resource_of;
use corral_api::{ApiError, KubeObject, Revision, TypedObject};
use corral_core::{Action, Outcome, PatchBody, Preconditions, Propagation, Subresource};
use corral_patch::PatchType;

use super::ApiService;
use super::types::{
    DecodedBody, DeleteRequest, ListOptions, Part, ServedObject, Target, UserInfo, WriteOptions,
};
use super::watch::{WatchEventType, WatchObject, WatchStream};

/// An in-process client acting as one user.
#[derive(Clone, Debug)]
pub struct ApiClient {
    service: ApiService,
    user: UserInfo,
}

/// List and watch parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListParams {
    pub label_selector: String,
    pub field_selector: String,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    /// For watches: start after this revision (`None`: synthetic ADDED events first).
    pub resource_version: Option<Revision>,
}

/// Delete parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteParams {
    pub propagation: Option<Propagation>,
    pub grace_period_seconds: Option<i64>,
    pub preconditions: Preconditions,
    pub dry_run: bool,
}

/// One page of a typed list.
#[derive(Clone, Debug, PartialEq)]
pub struct TypedList<T> {
    pub items: Vec<T>,
    pub resource_version: Revision,
    pub continue_token: Option<String>,
}

/// A typed watch event.
#[derive(Clone, Debug, PartialEq)]
pub enum TypedWatchEvent<T> {
    Added(T),
    Modified(T),
    Deleted(T),
    Bookmark(Revision),
}

/// A typed watch.
pub struct TypedWatch<T> {
    stream: WatchStream,
    _type: PhantomData<fn() -> T>,
}

impl<T: TypedObject> TypedWatch<T> {
    /// The next event; `None` at the end of the stream, `Err` for an ERROR event (410:
    /// re-list).
    pub async fn next(&mut self) -> Option<Result<TypedWatchEvent<T>, ApiError>> {
        let item = self.stream.next().await?;
        Some(match item.object {
            WatchObject::Error(e) => Err(e),
            WatchObject::Bookmark(revision) => Ok(TypedWatchEvent::Bookmark(revision)),
            WatchObject::Object(encoded) => {
                decode_typed::<T>(encoded.json()).map(|object| match item.event_type {
                    WatchEventType::Added => TypedWatchEvent::Added(object),
                    WatchEventType::Deleted => TypedWatchEvent::Deleted(object),
                    _ => TypedWatchEvent::Modified(object),
                })
            }
        })
    }
}

fn decode_typed<T: TypedObject>(json: &[u8]) -> Result<T, ApiError> {
    let object = KubeObject::from_json_slice(T::KIND, json)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    T::take(object).ok_or_else(|| ApiError::internal("stored object has an unexpected kind"))
}

fn from_served<T: TypedObject>(served: &ServedObject) -> Result<T, ApiError> {
    let object = served
        .object()?
        .ok_or_else(|| ApiError::internal("not a stored object"))?;
    T::take(Arc::unwrap_or_clone(object))
        .ok_or_else(|| ApiError::internal("stored object has an unexpected kind"))
}

fn namespace_of(object: &KubeObject) -> Option<String> {
    object
        .kind()
        .namespaced()
        .then(|| object.namespace().to_string())
}

fn part_of(subresource: Subresource) -> Part {
    match subresource {
        Subresource::Main => Part::Main,
        Subresource::Status => Part::Status,
    }
}

impl ApiClient {
    pub fn new(service: ApiService, user: UserInfo) -> ApiClient {
        ApiClient { service, user }
    }

    pub fn service(&self) -> &ApiService {
        &self.service
    }

    pub async fn create<T: TypedObject>(&self, object: &T) -> Result<T, ApiError> {
        from_served(&self.create_any(&object.clone().into()).await?)
    }

    pub async fn get<T: TypedObject>(&self, namespace: &str, name: &str) -> Result<T, ApiError> {
        let target = Target::object(resource_of(T::KIND), Some(namespace), name);
        from_served(&self.service.get(&target)?)
    }

    pub async fn list<T: TypedObject>(
        &self,
        namespace: Option<&str>,
        params: &ListParams,
    ) -> Result<TypedList<T>, ApiError> {
        let target = Target::collection(resource_of(T::KIND), namespace);
        let page = self
            .service
            .list_async(&target, &list_options(params))
            .await?;
        let items = page
            .items
            .iter()
            .map(|e| decode_typed::<T>(e.json()))
            .collect::<Result<_, _>>()?;
        Ok(TypedList {
            items,
            resource_version: page.revision,
            continue_token: page.continue_token,
        })
    }

    /// PUT of the main resource (status ignored). The object's `resourceVersion`, if set,
    /// is the optimistic-concurrency precondition.
    pub async fn update<T: TypedObject>(&self, object: &T) -> Result<T, ApiError> {
        self.put(object, Part::Main).await
    }

    /// PUT of the status subresource.
    pub async fn update_status<T: TypedObject>(&self, object: &T) -> Result<T, ApiError> {
        self.put(object, Part::Status).await
    }

    async fn put<T: TypedObject>(&self, object: &T, part: Part) -> Result<T, ApiError> {
        from_served(&self.update_any(&object.clone().into(), part).await?)
    }

    pub async fn patch<T: TypedObject>(
        &self,
        namespace: &str,
        name: &str,
        subresource: Subresource,
        patch: &PatchBody,
    ) -> Result<T, ApiError> {
        let target = Target::object(resource_of(T::KIND), Some(namespace), name);
        from_served(&self.patch_any(&target, part_of(subresource), patch).await?)
    }

    /// Deletes; returns the last state (deleted) or the object marked for deletion, and
    /// whether it is gone.
    pub async fn delete<T: TypedObject>(
        &self,
        namespace: &str,
        name: &str,
        params: &DeleteParams,
    ) -> Result<(T, bool), ApiError> {
        let target = Target::object(resource_of(T::KIND), Some(namespace), name);
        let request = DeleteRequest {
            dry_run: params.dry_run,
            grace_period_seconds: params.grace_period_seconds,
            propagation: params.propagation,
            preconditions: params.preconditions.clone(),
        };
        let result = self.service.delete(&self.user, &target, &request).await?;
        Ok((from_served(&result.object)?, result.deleted))
    }

    pub async fn watch<T: TypedObject>(
        &self,
        namespace: Option<&str>,
        params: &ListParams,
    ) -> Result<TypedWatch<T>, ApiError> {
        let target = Target::collection(resource_of(T::KIND), namespace);
        let stream = self.service.watch(&target, &list_options(params))?;
        Ok(TypedWatch {
            stream,
            _type: PhantomData,
        })
    }

    /// Executes one action of a controller's plan. Events are stored as core/v1 Events
    /// without correlation (the event recorder in corral-core does that before).
    pub async fn execute(&self, action: &Action) -> Outcome {
        match self.execute_inner(action).await {
            Ok(object) => Outcome::Done(object),
            Err(e) => Outcome::Failed(e),
        }
    }

    async fn execute_inner(&self, action: &Action) -> Result<Option<KubeObject>, ApiError> {
        let served = match action {
            Action::Create { object } => self.create_any(object).await?,
            Action::Update {
                object,
                subresource,
            } => self.update_any(object, part_of(*subresource)).await?,
            Action::Patch {
                key,
                subresource,
                patch,
            } => {
                let target = Target::object(resource_of(key.kind), Some(&key.namespace), &key.name);
                self.patch_any(&target, part_of(*subresource), patch)
                    .await?
            }
            Action::Delete {
                key,
                preconditions,
                propagation,
                grace_period_seconds,
            } => {
                let target = Target::object(resource_of(key.kind), Some(&key.namespace), &key.name);
                let request = DeleteRequest {
                    dry_run: false,
                    grace_period_seconds: *grace_period_seconds,
                    propagation: *propagation,
                    preconditions: preconditions.clone(),
                };
                self.service
                    .delete(&self.user, &target, &request)
                    .await?
                    .object
            }
            Action::Event(record) => {
                let event = super::events_view::event_from_record(
                    record,
                    self.service.now(),
                    &self.service.name_suffix(),
                );
                self.create_any(&event).await?
            }
        };
        Ok(served.object()?.map(Arc::unwrap_or_clone))
    }

    async fn create_any(&self, object: &KubeObject) -> Result<ServedObject, ApiError> {
        let target =
            Target::collection(resource_of(object.kind()), namespace_of(object).as_deref());
        let body = DecodedBody::from_value(object.to_value());
        Ok(self
            .service
            .create(&self.user, &target, body, &WriteOptions::internal())
            .await?
            .object)
    }

    async fn update_any(&self, object: &KubeObject, part: Part) -> Result<ServedObject, ApiError> {
        let target = Target::object(
            resource_of(object.kind()),
            namespace_of(object).as_deref(),
            object.name(),
        );
        let body = DecodedBody::from_value(object.to_value());
        Ok(self
            .service
            .update(&self.user, &target, part, body, &WriteOptions::internal())
            .await?
            .object)
    }

    async fn patch_any(
        &self,
        target: &Target,
        part: Part,
        patch: &PatchBody,
    ) -> Result<ServedObject, ApiError> {
        let (patch_type, value) = match patch {
            PatchBody::Merge(v) => (PatchType::Merge, v),
            PatchBody::Strategic(v) => (PatchType::StrategicMerge, v),
            PatchBody::Json(v) => (PatchType::Json, v),
        };
        let bytes = serde_json::to_vec(value).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let options = WriteOptions::internal();
        Ok(self
            .service
            .patch(&self.user, target, part, patch_type, bytes, &options)
            .await?
            .object)
    }
}

fn list_options(params: &ListParams) -> ListOptions {
    ListOptions {
        label_selector: params.label_selector.clone(),
        field_selector: params.field_selector.clone(),
        limit: params.limit,
        continue_token: params.continue_token.clone(),
        resource_version: params.resource_version.map(|r| r.to_string()),
        ..ListOptions::default()
    }
}
