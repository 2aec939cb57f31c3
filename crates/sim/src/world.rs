//! The simulated cluster state: the real object store (`ObjectStore<TypedArc>` over the
//! in-memory backend: revisions, preconditions, finalizers, deletionTimestamp, a watch
//! log), the shared informer cache fed from one watch cursor per kind, and the execution
//! of writes with the API server's semantics (defaulting, strategies and validation
//! through the registry, generated names, graceful pod deletion, deletion propagation,
//! `pods/binding`).

use std::sync::Arc;

use corral_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use corral_api::{ApiError, GroupResource, KubeObject, ObjectKey, ResourceKind, StatusReason, Uid};
use corral_core::{
    Action, ChangeKind, ObjectCache, ObjectEvent, Outcome, Preconditions, Propagation, SimRng,
    Subresource, Timestamp, clock,
};
use corral_node::StatusUpdate;
use corral_store::{
    Compare, DeleteOptions, MemoryBackend, ObjectStore, Store, StoreConfig, StoreError, TxnOp,
    TxnOutcome, TypedArc, WatchCursor, WatchEvent, WatchRequest,
};
use k8s_openapi::api::core::v1::{Pod, PodCondition};

use corral_registry::admission::Admitted;
use corral_registry::authz::UserInfo;

use crate::admission::Admission;
use crate::patching;

/// Attempts at a free generated name (upstream retries creates with generateName).
const GENERATE_NAME_ATTEMPTS: usize = 8;
const FINALIZER_FOREGROUND: &str = "foregroundDeletion";
const FINALIZER_ORPHAN: &str = "orphan";

/// One write as the simulator's API layer receives it (owned, for calls in flight).
#[derive(Clone, Debug, PartialEq)]
pub enum WriteOp {
    Action(Action),
    /// A kubelet status write (a merge patch of the whole status with a uid precondition),
    /// applied without encoding it to JSON.
    PodStatus(StatusUpdate),
}

impl WriteOp {
    pub fn as_op(&self) -> Op<'_> {
        match self {
            WriteOp::Action(action) => Op::Action(action),
            WriteOp::PodStatus(update) => Op::PodStatus(update),
        }
    }
}

/// A borrowed [`WriteOp`]: controller actions are executed straight from their plan.
#[derive(Clone, Copy, Debug)]
pub enum Op<'a> {
    Action(&'a Action),
    PodStatus(&'a StatusUpdate),
}

impl Op<'_> {
    pub fn key(&self) -> Option<ObjectKey> {
        match self {
            Op::Action(action) => action.key(),
            Op::PodStatus(update) => Some(update.key.clone()),
        }
    }

    pub fn to_owned(self) -> WriteOp {
        match self {
            Op::Action(action) => WriteOp::Action(action.clone()),
            Op::PodStatus(update) => WriteOp::PodStatus(update.clone()),
        }
    }

    /// `create`, `update`, `patch`, `delete` (`event` for events).
    pub fn verb(&self) -> &'static str {
        match self {
            Op::Action(Action::Create { .. }) => "create",
            Op::Action(Action::Update { .. }) => "update",
            Op::Action(Action::Patch { .. }) | Op::PodStatus(_) => "patch",
            Op::Action(Action::Delete { .. }) => "delete",
            Op::Action(Action::Event(_)) => "event",
        }
    }

    /// Whether the write addresses the `/status` subresource.
    pub fn is_status(&self) -> bool {
        matches!(
            self,
            Op::PodStatus(_)
                | Op::Action(Action::Update {
                    subresource: Subresource::Status,
                    ..
                })
                | Op::Action(Action::Patch {
                    subresource: Subresource::Status,
                    ..
                })
        )
    }
}

/// Store, cache and the write path.
pub struct World {
    pub start: Timestamp,
    pub store: ObjectStore<TypedArc>,
    pub cache: ObjectCache,
    cursors: Vec<WatchCursor>,
    /// Generated names and uids.
    rng: SimRng,
    /// Kinds written since the last poll (bit per `ResourceKind` ordinal).
    touched: u64,
    /// Whether a write returns a copy of the stored object (`Outcome::Done(Some(_))`). Only
    /// controller workers read it; kubelets and the user do not, and a deep copy of every
    /// pod on each kubelet status write was a large share of the write path.
    pub return_objects: bool,
}

fn kind_index(kind: ResourceKind) -> usize {
    ResourceKind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(0)
}

fn resource(kind: ResourceKind) -> GroupResource {
    GroupResource::new(kind.group(), kind.plural())
}

fn store_error(kind: ResourceKind, error: &StoreError) -> ApiError {
    error.to_api_error(&resource(kind))
}

impl World {
    pub fn new(start: Timestamp, rng: SimRng) -> World {
        let store = Store::open(Box::new(MemoryBackend), StoreConfig::default())
            .expect("the in-memory backend always opens");
        let store = ObjectStore::new(Arc::new(store));
        let revision = store.store().current_revision();
        let cursors = ResourceKind::ALL
            .iter()
            .map(|kind| {
                store
                    .watch(WatchRequest::all(*kind, revision))
                    .expect("a watch from the current revision always starts")
            })
            .collect();
        World {
            start,
            store,
            cache: ObjectCache::new(),
            cursors,
            rng,
            touched: 0,
            return_objects: true,
        }
    }

    /// Watch events committed since the last poll, in revision order (the informers'
    /// view; the caller applies them to the cache and dispatches them). Every cursor is
    /// polled after every write, so none falls behind the store's retained history, and
    /// each poll is repeated until the cursor has caught up (a poll scans a bounded
    /// number of log entries).
    pub fn poll(&mut self) -> Vec<ObjectEvent> {
        let mut events = Vec::new();
        if self.touched == 0 {
            return events;
        }
        self.touched = 0;
        let revision = self.store.store().current_revision();
        for cursor in self.cursors.iter_mut() {
            while cursor.position() < revision {
                let polled = self
                    .store
                    .poll_watch(cursor, usize::MAX)
                    .expect("the simulator's cursors are polled after every write");
                for event in polled {
                    let (change, versioned) = match event {
                        WatchEvent::Added(v) => (ChangeKind::Added, v),
                        WatchEvent::Modified(v) => (ChangeKind::Modified, v),
                        WatchEvent::Deleted(v) => (ChangeKind::Deleted, v),
                        WatchEvent::Bookmark(_) => continue,
                    };
                    events.push(ObjectEvent {
                        change,
                        object: versioned.value,
                        revision: versioned.mod_revision,
                    });
                }
            }
        }
        events.sort_by_key(|e| e.revision);
        events
    }

    fn touch(&mut self, kind: ResourceKind) {
        self.touched |= 1 << kind_index(kind);
    }

    /// Marks a write of a kind the store did not tell us about (defensive: a poll of
    /// every cursor costs little).
    pub fn touch_all(&mut self) {
        self.touched = u64::MAX;
    }

    /// Executes one write at `now` (virtual), returning what the client learns. Creates
    /// are admitted here too (setup and inline calls); timed creates go through
    /// [`World::prepare_new`], [`Admission::admit_create`] and [`World::commit_admitted`].
    pub fn execute(
        &mut self,
        op: Op<'_>,
        now: Timestamp,
        admission: &mut Admission,
        user: &UserInfo,
    ) -> Outcome {
        let result = match op {
            Op::Action(Action::Create { object }) => {
                self.create_now(object.clone(), now, admission, user)
            }
            Op::Action(Action::Update {
                object,
                subresource,
            }) => self.update(object, *subresource, now, admission, user),
            Op::Action(Action::Patch {
                key,
                subresource,
                patch,
            }) => match patching::binding_of(patch) {
                Some((uid, node))
                    if key.kind == ResourceKind::Pod && *subresource == Subresource::Main =>
                {
                    self.bind(key, uid, node, now)
                }
                _ => self.patch(key, *subresource, patch, now, admission, user),
            },
            Op::Action(Action::Delete {
                key,
                preconditions,
                propagation,
                grace_period_seconds,
            }) => self.delete(key, preconditions, *propagation, *grace_period_seconds, now),
            Op::Action(Action::Event(_)) => Ok(None),
            Op::PodStatus(update) => self.pod_status(update, now, admission, user),
        };
        match result {
            Ok(object) => Outcome::Done(object),
            Err(error) => Outcome::Failed(error),
        }
    }

    /// A create admitted and committed at once.
    fn create_now(
        &mut self,
        object: KubeObject,
        now: Timestamp,
        admission: &mut Admission,
        user: &UserInfo,
    ) -> Result<Option<KubeObject>, ApiError> {
        let prepared = self.prepare_new(object, now)?;
        let mut admitted = admission.admit_create(prepared, user, &self.cache, now);
        let result = std::mem::replace(&mut admitted.result, Err(ApiError::internal("taken")));
        self.commit_admitted(result, &mut admitted, admission, now)
    }

    /// Commits an admitted create, charging quotas again after a quota conflict.
    pub fn commit_admitted(
        &mut self,
        mut result: Result<Admitted, ApiError>,
        state: &mut crate::admission::CreateAdmission,
        admission: &mut Admission,
        now: Timestamp,
    ) -> Result<Option<KubeObject>, ApiError> {
        for _ in 0..=admission.config.quota_conflict_retries {
            let admitted = result?;
            match self.commit_create(admitted)? {
                Ok(stored) => return Ok(stored),
                Err(again) => result = admission.retry_quota(state, again, &self.cache, now),
            }
        }
        Err(ApiError::internal("resource quota kept changing"))
    }

    /// What the API server does to a new object before admission: default namespace,
    /// generated name (retried against taken names), uid and creation time.
    pub fn prepare_new(
        &mut self,
        mut object: KubeObject,
        now: Timestamp,
    ) -> Result<KubeObject, ApiError> {
        let kind = object.kind();
        if kind.namespaced() && object.namespace().is_empty() {
            object.meta_mut().namespace = Some("default".to_string());
        }
        let prefix = object.meta().generate_name.clone().unwrap_or_default();
        if object.name().is_empty() {
            if prefix.is_empty() {
                return Err(ApiError::new(
                    StatusReason::Invalid,
                    format!(
                        "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                        kind.kind_name()
                    ),
                ));
            }
            let cut = (0..=prefix.len().min(58))
                .rev()
                .find(|i| prefix.is_char_boundary(*i))
                .unwrap_or(0);
            for _ in 0..GENERATE_NAME_ATTEMPTS {
                let name = format!("{}{}", &prefix[..cut], self.rng.name_suffix(5));
                object.meta_mut().name = Some(name);
                if self.store.get(&object.key()).is_none() {
                    break;
                }
            }
        }
        let meta = object.meta_mut();
        meta.uid = Some(Uid::from_random_bits(self.rng.next_u128()).0);
        meta.creation_timestamp = Some(Time(clock::truncate_to_seconds(now)));
        meta.resource_version = None;
        Ok(object)
    }

    /// The create-if-absent transaction with the admission's quota charges. `Ok(Err(_))`:
    /// a quota changed since it was charged (charge again and retry).
    pub fn commit_create(
        &mut self,
        admitted: Admitted,
    ) -> Result<Result<Option<KubeObject>, Admitted>, ApiError> {
        let Some(object) = admitted.object.clone() else {
            return Err(ApiError::internal("admission returned no object"));
        };
        let kind = object.kind();
        let key = object.key();
        let mut compares = vec![Compare::Absent(key.clone())];
        let mut ops = vec![TxnOp::Put(object)];
        for charge in &admitted.quota {
            compares.push(charge.precondition());
            ops.push(charge.op());
        }
        match self
            .store
            .commit(compares, ops)
            .map_err(|e| store_error(kind, &e))?
        {
            TxnOutcome::Committed { results, .. } => {
                self.touch(kind);
                if !admitted.quota.is_empty() {
                    self.touch(ResourceKind::ResourceQuota);
                }
                Ok(Ok(results
                    .into_iter()
                    .next()
                    .flatten()
                    .map(|v| (*v.value).clone())))
            }
            TxnOutcome::CompareFailed { index: 0 } => {
                Err(ApiError::already_exists(&resource(kind), &key.name))
            }
            TxnOutcome::CompareFailed { .. } => Ok(Err(admitted)),
        }
    }

    /// Read-modify-write through the registry's update path.
    fn guarded_update(
        &mut self,
        key: &ObjectKey,
        preconditions: &Preconditions,
        subresource: Subresource,
        now: Timestamp,
        admission: &mut Admission,
        user: &UserInfo,
        mutate: &mut dyn FnMut(&KubeObject) -> Result<KubeObject, ApiError>,
    ) -> Result<Option<KubeObject>, ApiError> {
        let cache = &self.cache;
        let outcome = self
            .store
            .guaranteed_update(key, preconditions, now, false, &mut |current| {
                let updated = mutate(current)?;
                admission.admit_update(updated, current, subresource, user, cache, now)
            })
            .map_err(|e| store_error(key.kind, &e))?;
        if outcome.changed {
            self.touch(key.kind);
        }
        Ok(self.return_objects.then(|| (*outcome.value.value).clone()))
    }

    fn update(
        &mut self,
        object: &KubeObject,
        subresource: Subresource,
        now: Timestamp,
        admission: &mut Admission,
        user: &UserInfo,
    ) -> Result<Option<KubeObject>, ApiError> {
        let key = object.key();
        self.guarded_update(
            &key,
            &Preconditions::default(),
            subresource,
            now,
            admission,
            user,
            &mut |_| Ok(object.clone()),
        )
    }

    fn patch(
        &mut self,
        key: &ObjectKey,
        subresource: Subresource,
        body: &corral_core::PatchBody,
        now: Timestamp,
        admission: &mut Admission,
        user: &UserInfo,
    ) -> Result<Option<KubeObject>, ApiError> {
        let preconditions = Preconditions {
            uid: patching::patch_uid(body).map(|u| Uid(u.to_string())),
            resource_version: None,
        };
        self.guarded_update(
            key,
            &preconditions,
            subresource,
            now,
            admission,
            user,
            &mut |current| patching::apply_patch(current, body),
        )
    }

    /// `pods/binding`: sets `spec.nodeName` once, with the uid as precondition, and marks
    /// the pod scheduled (upstream `assignPod`).
    fn bind(
        &mut self,
        key: &ObjectKey,
        uid: Option<&str>,
        node: &str,
        now: Timestamp,
    ) -> Result<Option<KubeObject>, ApiError> {
        let preconditions = Preconditions {
            uid: uid.map(|u| Uid(u.to_string())),
            resource_version: None,
        };
        let stamp = Time(clock::truncate_to_seconds(now));
        let outcome = self
            .store
            .guaranteed_update(key, &preconditions, now, false, &mut |current| {
                let Some(pod) = current.as_typed::<Pod>() else {
                    return Err(ApiError::bad_request("only pods can be bound"));
                };
                let bound = pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .unwrap_or("");
                if !bound.is_empty() {
                    return Err(ApiError::conflict(
                        &resource(ResourceKind::Pod),
                        &key.name,
                        &format!("pod {} is already assigned to node {bound:?}", key.name),
                    ));
                }
                if pod.metadata.deletion_timestamp.is_some() {
                    return Err(ApiError::conflict(
                        &resource(ResourceKind::Pod),
                        &key.name,
                        "pod is being deleted",
                    ));
                }
                let mut pod = pod.clone();
                pod.spec.get_or_insert_with(Default::default).node_name = Some(node.to_string());
                let conditions = pod
                    .status
                    .get_or_insert_with(Default::default)
                    .conditions
                    .get_or_insert_with(Vec::new);
                if !conditions
                    .iter()
                    .any(|c| c.type_ == "PodScheduled" && c.status == "True")
                {
                    conditions.retain(|c| c.type_ != "PodScheduled");
                    conditions.push(PodCondition {
                        type_: "PodScheduled".into(),
                        status: "True".into(),
                        last_transition_time: Some(stamp.clone()),
                        ..Default::default()
                    });
                }
                Ok(pod.into())
            })
            .map_err(|e| store_error(key.kind, &e))?;
        self.touch(key.kind);
        Ok(self.return_objects.then(|| (*outcome.value.value).clone()))
    }

    /// DELETE with propagation (Foreground and Orphan add their finalizer first) and the
    /// pod grace period (unbound or terminal pods go at once).
    fn delete(
        &mut self,
        key: &ObjectKey,
        preconditions: &Preconditions,
        propagation: Option<Propagation>,
        grace_period_seconds: Option<i64>,
        now: Timestamp,
    ) -> Result<Option<KubeObject>, ApiError> {
        let Some(current) = self
            .store
            .get_object(key)
            .map_err(|e| store_error(key.kind, &e))?
        else {
            return Err(ApiError::not_found(&resource(key.kind), &key.name));
        };
        let propagation =
            propagation.unwrap_or_else(|| corral_registry::default_propagation(key.kind));
        let finalizer = match propagation {
            Propagation::Foreground => Some(FINALIZER_FOREGROUND),
            Propagation::Orphan => Some(FINALIZER_ORPHAN),
            Propagation::Background => None,
        };
        let dependents = current
            .meta()
            .uid
            .as_ref()
            .is_some_and(|u| self.cache.dependents_of(&Uid(u.clone())).next().is_some());
        if let Some(finalizer) = finalizer.filter(|_| {
            !current.is_being_deleted() && (dependents || propagation == Propagation::Orphan)
        }) && !current.has_finalizer(finalizer)
        {
            let outcome = self
                .store
                .guaranteed_update(key, preconditions, now, false, &mut |object| {
                    let mut marked = object.clone();
                    marked
                        .meta_mut()
                        .finalizers
                        .get_or_insert_with(Vec::new)
                        .push(finalizer.to_string());
                    Ok(marked)
                })
                .map_err(|e| store_error(key.kind, &e))?;
            if outcome.changed {
                self.touch(key.kind);
            }
        }
        let grace = grace_period_seconds.or_else(|| pod_grace_period(&current));
        let options = DeleteOptions {
            preconditions: preconditions.clone(),
            grace_period_seconds: grace,
        };
        let outcome = self
            .store
            .delete(key, &options, now, false)
            .map_err(|e| store_error(key.kind, &e))?;
        self.touch(key.kind);
        Ok(self.return_objects.then(|| (*outcome.value.value).clone()))
    }

    /// A kubelet status write: every field the kubelet reports replaces the stored one.
    fn pod_status(
        &mut self,
        update: &StatusUpdate,
        now: Timestamp,
        admission: &mut Admission,
        user: &UserInfo,
    ) -> Result<Option<KubeObject>, ApiError> {
        let preconditions = Preconditions {
            uid: update.uid.clone(),
            resource_version: None,
        };
        self.guarded_update(
            &update.key,
            &preconditions,
            Subresource::Status,
            now,
            admission,
            user,
            &mut |current| {
                let Some(pod) = current.as_typed::<Pod>() else {
                    return Err(ApiError::bad_request("not a pod"));
                };
                let mut pod = pod.clone();
                merge_pod_status(
                    pod.status.get_or_insert_with(Default::default),
                    &update.status,
                );
                Ok(pod.into())
            },
        )
    }
}

/// The grace period upstream's pod strategy applies when the client gives none.
fn pod_grace_period(object: &KubeObject) -> Option<i64> {
    let pod = object.as_typed::<Pod>()?;
    let bound = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if !bound || matches!(phase, Some("Succeeded" | "Failed")) {
        return Some(0);
    }
    Some(
        pod.spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30),
    )
}

/// RFC 7386 of `{"status": new}` on a typed status: set fields replace, unset ones stay.
pub fn merge_pod_status(
    stored: &mut k8s_openapi::api::core::v1::PodStatus,
    new: &k8s_openapi::api::core::v1::PodStatus,
) {
    macro_rules! replace_set {
        ($($field:ident),* $(,)?) => {
            $( if new.$field.is_some() { stored.$field.clone_from(&new.$field); } )*
        };
    }
    replace_set!(
        allocated_resources,
        conditions,
        container_statuses,
        ephemeral_container_statuses,
        extended_resource_claim_status,
        host_ip,
        host_ips,
        init_container_statuses,
        message,
        node_allocatable_resource_claim_statuses,
        nominated_node_name,
        observed_generation,
        phase,
        pod_ip,
        pod_ips,
        qos_class,
        reason,
        resize,
        resource_claim_statuses,
        resources,
        start_time,
        volume_health,
    );
}
