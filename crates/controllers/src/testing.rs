//! A minimal cluster for controller unit tests: it applies [`Plan`]s to an
//! [`ObjectCache`] with the store's basic semantics (generated names, uids, revisions,
//! finalizers and deletionTimestamp, status subresource writes) and returns the watch
//! events the writes produce, so tests can drive a [`Reconciler`] in virtual time.
//!
//! It deliberately skips admission, defaulting and validation: those have their own tests,
//! and the simulator (`corral-sim`) runs controllers against the real registry and store.

use std::sync::Arc;

use corral_api::{ApiError, GroupResource, KubeObject, ObjectKey, Revision};
use corral_core::plan::{Action, EventRecord, Outcome, PatchBody, Plan, Subresource};
use corral_core::{ChangeKind, ObjectCache, ObjectEvent, OnFailure, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// The test cluster.
#[derive(Debug, Default)]
pub struct TestCluster {
    pub cache: ObjectCache,
    pub revision: u64,
    pub events: Vec<EventRecord>,
    name_counter: u64,
    /// Creates of objects whose generateName starts with one of these prefixes fail
    /// with the given error (to test FailedCreate paths).
    pub fail_creates: Vec<(String, ApiError)>,
}

impl TestCluster {
    pub fn new() -> Self {
        TestCluster::default()
    }

    /// Stores an object as if created by a client; returns the event.
    pub fn put(&mut self, mut object: KubeObject, now: Timestamp) -> ObjectEvent {
        let exists = self.cache.get(&object.key()).is_some();
        if object.meta().uid.is_none() {
            self.revision += 1;
            object.meta_mut().uid = Some(format!("uid-{}", self.revision));
        }
        if object.meta().creation_timestamp.is_none() {
            object.meta_mut().creation_timestamp = Some(Time(now));
        }
        self.commit(
            object,
            if exists {
                ChangeKind::Modified
            } else {
                ChangeKind::Added
            },
        )
    }

    fn commit(&mut self, mut object: KubeObject, change: ChangeKind) -> ObjectEvent {
        self.revision += 1;
        object.set_revision(Revision(self.revision));
        let object = Arc::new(object);
        let event = ObjectEvent {
            change,
            object: object.clone(),
            revision: Revision(self.revision),
        };
        self.cache.apply(&event);
        event
    }

    /// Removes an object immediately (as a finished graceful deletion would).
    pub fn remove(&mut self, key: &ObjectKey) -> Option<ObjectEvent> {
        let last = self.cache.get(key)?.clone();
        self.revision += 1;
        let event = ObjectEvent {
            change: ChangeKind::Deleted,
            object: last,
            revision: Revision(self.revision),
        };
        self.cache.apply(&event);
        Some(event)
    }

    /// Executes a plan; returns the outcomes (aligned with `plan.actions()`) and the
    /// watch events the writes produced, in order.
    pub fn execute(&mut self, plan: &Plan, now: Timestamp) -> (Vec<Outcome>, Vec<ObjectEvent>) {
        let mut outcomes = Vec::new();
        let mut events = Vec::new();
        let mut skipping = false;
        for stage in &plan.stages {
            let mut failed = false;
            for action in &stage.actions {
                if skipping {
                    outcomes.push(Outcome::Skipped);
                    continue;
                }
                let outcome = self.apply(action, now, &mut events);
                failed |= outcome.is_failure();
                outcomes.push(outcome);
            }
            if failed && stage.on_failure == OnFailure::SkipRest {
                skipping = true;
            }
        }
        (outcomes, events)
    }

    fn apply(&mut self, action: &Action, now: Timestamp, events: &mut Vec<ObjectEvent>) -> Outcome {
        match action {
            Action::Create { object } => self.create(object.clone(), now, events),
            Action::Update {
                object,
                subresource,
            } => self.update(object, *subresource, events),
            Action::Patch {
                key,
                subresource,
                patch,
            } => self.patch(key, *subresource, patch, events),
            Action::Delete {
                key, preconditions, ..
            } => {
                let Some(current) = self.cache.get(key).cloned() else {
                    return Outcome::Failed(not_found(key));
                };
                if let Some(uid) = &preconditions.uid
                    && current.meta().uid.as_deref() != Some(uid.as_str())
                {
                    return Outcome::Failed(ApiError::conflict(
                        &group_resource(key),
                        &key.name,
                        "Precondition failed",
                    ));
                }
                if current
                    .meta()
                    .finalizers
                    .as_ref()
                    .is_some_and(|f| !f.is_empty())
                {
                    if current.is_being_deleted() {
                        return Outcome::Done(Some((*current).clone()));
                    }
                    let mut marked = (*current).clone();
                    marked.meta_mut().deletion_timestamp = Some(Time(now));
                    let event = self.commit(marked, ChangeKind::Modified);
                    let stored = (*event.object).clone();
                    events.push(event);
                    return Outcome::Done(Some(stored));
                }
                let event = self.remove(key);
                events.extend(event);
                Outcome::Done(Some((*current).clone()))
            }
            Action::Event(record) => {
                self.events.push(record.clone());
                Outcome::Done(None)
            }
        }
    }

    fn create(
        &mut self,
        mut object: KubeObject,
        now: Timestamp,
        events: &mut Vec<ObjectEvent>,
    ) -> Outcome {
        if let Some(prefix) = object
            .meta()
            .generate_name
            .clone()
            .filter(|_| object.meta().name.is_none())
        {
            if let Some((_, err)) = self
                .fail_creates
                .iter()
                .find(|(p, _)| prefix.starts_with(p.as_str()))
            {
                return Outcome::Failed(err.clone());
            }
            self.name_counter += 1;
            object.meta_mut().name = Some(format!("{prefix}{:05}", self.name_counter));
        }
        let key = object.key();
        if self.cache.get(&key).is_some() {
            return Outcome::Failed(ApiError::already_exists(&group_resource(&key), &key.name));
        }
        object.meta_mut().uid = None;
        object.meta_mut().creation_timestamp = None;
        let event = self.put(object, now);
        let stored = (*event.object).clone();
        events.push(event);
        Outcome::Done(Some(stored))
    }

    fn update(
        &mut self,
        object: &KubeObject,
        subresource: Subresource,
        events: &mut Vec<ObjectEvent>,
    ) -> Outcome {
        let key = object.key();
        let Some(current) = self.cache.get(&key).cloned() else {
            return Outcome::Failed(not_found(&key));
        };
        if let Some(rv) = object.revision()
            && current.revision() != Some(rv)
        {
            return Outcome::Failed(ApiError::conflict_modified(
                &group_resource(&key),
                &key.name,
            ));
        }
        let mut value = current.to_value();
        let new = object.to_value();
        match subresource {
            Subresource::Status => {
                value["status"] = new
                    .get("status")
                    .cloned()
                    .unwrap_or(serde_json::Value::Null);
            }
            Subresource::Main => {
                let status = value.get("status").cloned();
                value = new;
                if let Some(status) = status {
                    value["status"] = status;
                }
            }
        }
        self.store_value(&key, &current, value, events)
    }

    fn patch(
        &mut self,
        key: &ObjectKey,
        subresource: Subresource,
        patch: &PatchBody,
        events: &mut Vec<ObjectEvent>,
    ) -> Outcome {
        let Some(current) = self.cache.get(key).cloned() else {
            return Outcome::Failed(not_found(key));
        };
        let mut value = current.to_value();
        match patch {
            PatchBody::Merge(p) => json_patch::merge(&mut value, p),
            PatchBody::Strategic(p) => apply_simple_strategic(&mut value, p),
            PatchBody::Json(p) => {
                let Ok(ops) = serde_json::from_value::<json_patch::Patch>(p.clone()) else {
                    return Outcome::Failed(ApiError::bad_request("malformed JSON patch"));
                };
                if let Err(e) = json_patch::patch(&mut value, &ops) {
                    return Outcome::Failed(ApiError::new(
                        corral_api::StatusReason::Invalid,
                        e.to_string(),
                    ));
                }
            }
        }
        let _ = subresource;
        self.store_value(key, &current, value, events)
    }

    fn store_value(
        &mut self,
        key: &ObjectKey,
        current: &KubeObject,
        mut value: serde_json::Value,
        events: &mut Vec<ObjectEvent>,
    ) -> Outcome {
        value["metadata"]["resourceVersion"] =
            current.to_value()["metadata"]["resourceVersion"].clone();
        let updated = match KubeObject::from_value(key.kind, value) {
            Ok(o) => o,
            Err(e) => return Outcome::Failed(ApiError::bad_request(e.to_string())),
        };
        if &updated == current {
            return Outcome::Done(Some(updated));
        }
        let finalized = updated.is_being_deleted()
            && updated
                .meta()
                .finalizers
                .as_ref()
                .is_none_or(|f| f.is_empty());
        if finalized {
            events.extend(self.remove(key));
            return Outcome::Done(Some(updated));
        }
        let event = self.commit(updated, ChangeKind::Modified);
        let stored = (*event.object).clone();
        events.push(event);
        Outcome::Done(Some(stored))
    }
}

/// Enough strategic merge patch for controller tests: `$deleteFromPrimitiveList/finalizers`
/// plus plain merge for everything else.
fn apply_simple_strategic(value: &mut serde_json::Value, patch: &serde_json::Value) {
    let mut patch = patch.clone();
    if let Some(remove) = patch
        .get_mut("metadata")
        .and_then(|m| m.as_object_mut())
        .and_then(|m| m.remove("$deleteFromPrimitiveList/finalizers"))
    {
        let remove: Vec<String> = serde_json::from_value(remove).unwrap_or_default();
        if let Some(list) = value["metadata"]["finalizers"].as_array_mut() {
            list.retain(|f| !remove.iter().any(|r| f == r));
        }
    }
    json_patch::merge(value, &patch);
}

fn group_resource(key: &ObjectKey) -> GroupResource {
    GroupResource::new(key.kind.group(), key.kind.plural())
}

fn not_found(key: &ObjectKey) -> ApiError {
    ApiError::not_found(&group_resource(key), &key.name)
}
