//! [`ObjectStore`]: Kubernetes object semantics over [`Store`]: uid and
//! creationTimestamp on create, generateName with retries, resourceVersion and uid
//! preconditions, preserved system fields and no-op detection on update, finalizers and
//! graceful deletion (see `deletion`), and dry runs that do everything but write.
//!
//! Every write is a compare-and-swap on the stored object's mod revision; read-modify-write
//! operations retry when another writer got there first.

use std::sync::Arc;

use corral_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use corral_api::{ApiError, KubeObject, ObjectKey, Revision, Uid};
use corral_core::clock::truncate_to_seconds;
use corral_core::{Preconditions, SimRng, Timestamp};

use crate::deletion::{DeletionPlan, deletes_during_update, plan_deletion};
use crate::error::StoreError;
use crate::key::{StoreKey, validate_segment};
use crate::representation::Representation;
use crate::store::Store;
use crate::types::{
    Compare, ListPage, ListRequest, Txn, TxnOp, TxnOutcome, Versioned, WatchEvent, WatchRequest,
};
use crate::watch::WatchCursor;

/// Upstream: names are at most 63 characters after the 5 random ones are added.
const GENERATED_PREFIX_LENGTH_MAX: usize = 58;
const GENERATED_SUFFIX_LENGTH: usize = 5;
const MODIFIED_MESSAGE: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// How a delete is asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    pub preconditions: Preconditions,
    /// `None`: no grace period (the registry passes the kind's default, e.g. a pod's
    /// `terminationGracePeriodSeconds`).
    pub grace_period_seconds: Option<i64>,
}

/// The result of an update.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateOutcome<V> {
    /// The stored value (unchanged for a no-op; the last state if the update deleted it).
    pub value: Versioned<V>,
    /// False for a no-op: no new revision, no watch event.
    pub changed: bool,
    /// True when the update removed the last finalizer of an object being deleted, which
    /// deleted it.
    pub deleted: bool,
}

/// The result of a delete.
#[derive(Clone, Debug, PartialEq)]
pub struct DeleteOutcome<V> {
    /// The last state if deleted, else the object as marked for deletion.
    pub value: Versioned<V>,
    /// False: marked for deletion (finalizers or grace period), still present.
    pub deleted: bool,
}

/// Kubernetes object semantics over a shared [`Store`].
pub struct ObjectStore<R: Representation> {
    store: Arc<Store<R>>,
}

impl<R: Representation> Clone for ObjectStore<R> {
    fn clone(&self) -> Self {
        ObjectStore {
            store: Arc::clone(&self.store),
        }
    }
}

impl<R: Representation> std::fmt::Debug for ObjectStore<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore")
            .field("store", &self.store)
            .finish()
    }
}

fn check_preconditions(
    key: &ObjectKey,
    preconditions: &Preconditions,
    current: &KubeObject,
    revision: Revision,
) -> Result<(), StoreError> {
    if let Some(uid) = &preconditions.uid {
        let stored = current.uid();
        if *uid != stored {
            return Err(StoreError::PreconditionFailed {
                key: key.clone(),
                message: format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {stored}"
                ),
            });
        }
    }
    if let Some(expected) = preconditions.resource_version
        && expected != revision
    {
        return Err(StoreError::PreconditionFailed {
            key: key.clone(),
            message: format!(
                "Precondition failed: ResourceVersion in precondition: {expected}, ResourceVersion in object meta: {revision}"
            ),
        });
    }
    Ok(())
}

/// The `resourceVersion` an object carries, if any (empty counts as unset).
fn carried_revision(object: &KubeObject) -> Result<Option<Revision>, StoreError> {
    match object.meta().resource_version.as_deref() {
        None | Some("") => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| StoreError::InvalidRevision(text.to_string())),
    }
}

/// Copies what an update may not change from the stored object (upstream
/// `rest.BeforeUpdate` and the store's own fields).
fn preserve_system_fields(updated: &mut KubeObject, stored: &KubeObject) {
    let source = stored.meta();
    let meta = updated.meta_mut();
    meta.name.clone_from(&source.name);
    meta.namespace.clone_from(&source.namespace);
    meta.uid.clone_from(&source.uid);
    meta.creation_timestamp
        .clone_from(&source.creation_timestamp);
    meta.deletion_timestamp
        .clone_from(&source.deletion_timestamp);
    meta.deletion_grace_period_seconds = source.deletion_grace_period_seconds;
    meta.resource_version.clone_from(&source.resource_version);
    meta.generate_name.clone_from(&source.generate_name);
}

/// Sets what a create decides: uid, creationTimestamp, no deletion fields, no revision.
fn prepare_for_create(object: &mut KubeObject, now: Timestamp, rng: &mut SimRng) {
    let meta = object.meta_mut();
    meta.uid = Some(Uid::from_random_bits(rng.next_u128()).0);
    meta.creation_timestamp = Some(Time(truncate_to_seconds(now)));
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
    meta.resource_version = None;
}

/// `prefix` cut to upstream's bound (on a character boundary) plus 5 random characters.
fn generated_name(prefix: &str, rng: &mut SimRng) -> String {
    let mut end = prefix.len().min(GENERATED_PREFIX_LENGTH_MAX);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}{}",
        &prefix[..end],
        rng.name_suffix(GENERATED_SUFFIX_LENGTH)
    )
}

fn first_result<V>(
    outcome: Vec<Option<Versioned<V>>>,
    key: &ObjectKey,
) -> Result<Versioned<V>, StoreError> {
    outcome
        .into_iter()
        .next()
        .flatten()
        .ok_or_else(|| StoreError::NotFound(key.clone()))
}

impl<R: Representation> ObjectStore<R> {
    pub fn new(store: Arc<Store<R>>) -> Self {
        ObjectStore { store }
    }

    pub fn store(&self) -> &Arc<Store<R>> {
        &self.store
    }

    pub fn get(&self, key: &ObjectKey) -> Option<Versioned<R::Value>> {
        self.store.get(key)
    }

    /// The latest durable object, decoded.
    pub fn get_object(&self, key: &ObjectKey) -> Result<Option<Arc<KubeObject>>, StoreError> {
        self.store.get(key).map(|v| R::decode(&v.value)).transpose()
    }

    pub fn list(&self, request: &ListRequest) -> Result<ListPage<R::Value>, StoreError> {
        self.store.list(request)
    }

    pub fn watch(&self, request: WatchRequest) -> Result<WatchCursor, StoreError> {
        self.store.watch(request)
    }

    pub fn poll_watch(
        &self,
        cursor: &mut WatchCursor,
        max_events: usize,
    ) -> Result<Vec<WatchEvent<R::Value>>, StoreError> {
        self.store.poll_watch(cursor, max_events)
    }

    /// An atomic multi-object write (e.g. charge a ResourceQuota and create a Pod).
    pub fn commit(
        &self,
        compares: Vec<Compare>,
        ops: Vec<TxnOp>,
    ) -> Result<TxnOutcome<R::Value>, StoreError> {
        self.store.txn(Txn { compares, ops })
    }

    /// Creates `object`: uid, creationTimestamp (seconds), resourceVersion; honours
    /// `generateName` (retrying collisions a few times); `AlreadyExists` if the name is
    /// taken. `generation` is kept as given.
    pub fn create(
        &self,
        mut object: KubeObject,
        now: Timestamp,
        rng: &mut SimRng,
        dry_run: bool,
    ) -> Result<Versioned<R::Value>, StoreError> {
        prepare_for_create(&mut object, now, rng);
        let prefix = object.meta().generate_name.clone().unwrap_or_default();
        let generate = object.name().is_empty() && !prefix.is_empty();
        if !generate {
            validate_segment("name", object.name())?;
            let key = object.key();
            return self
                .try_create(object, dry_run)?
                .ok_or(StoreError::AlreadyExists(key));
        }
        let mut last_key = object.key();
        for _ in 0..self.store.config().generate_name_attempts.max(1) {
            let mut candidate = object.clone();
            candidate.meta_mut().name = Some(generated_name(&prefix, rng));
            let key = candidate.key();
            if let Some(created) = self.try_create(candidate, dry_run)? {
                return Ok(created);
            }
            last_key = key;
        }
        Err(StoreError::AlreadyExists(last_key))
    }

    /// One create attempt: `None` if the name is taken.
    fn try_create(
        &self,
        object: KubeObject,
        dry_run: bool,
    ) -> Result<Option<Versioned<R::Value>>, StoreError> {
        let key = object.key();
        StoreKey::new(&key)?;
        if dry_run {
            if self.store.get(&key).is_some() {
                return Err(StoreError::AlreadyExists(key));
            }
            return Ok(Some(Versioned {
                value: R::encode_owned(object),
                create_revision: Revision::ZERO,
                mod_revision: Revision::ZERO,
            }));
        }
        let txn = Txn {
            compares: vec![Compare::Absent(key.clone())],
            ops: vec![TxnOp::Put(object)],
        };
        match self.store.txn(txn)? {
            TxnOutcome::Committed { results, .. } => first_result(results, &key).map(Some),
            TxnOutcome::CompareFailed { .. } => Ok(None),
        }
    }
}

impl<R: Representation> ObjectStore<R> {
    /// Replaces the object. Its `resourceVersion`, if set, must match (else `Conflict`);
    /// system fields are kept from the stored object; a no-op writes nothing.
    pub fn update(
        &self,
        object: KubeObject,
        now: Timestamp,
        dry_run: bool,
    ) -> Result<UpdateOutcome<R::Value>, StoreError> {
        carried_revision(&object)?;
        let key = object.key();
        self.guaranteed_update(&key, &Preconditions::default(), now, dry_run, &mut |_| {
            Ok(object.clone())
        })
    }

    /// Read-modify-write with compare-and-swap, retried when another writer interleaves.
    /// If `mutate` returns an object carrying a `resourceVersion` other than the stored
    /// one, that is a `Conflict` (optimistic locking), not a retry.
    pub fn guaranteed_update(
        &self,
        key: &ObjectKey,
        preconditions: &Preconditions,
        now: Timestamp,
        dry_run: bool,
        mutate: &mut dyn FnMut(&KubeObject) -> Result<KubeObject, ApiError>,
    ) -> Result<UpdateOutcome<R::Value>, StoreError> {
        let _ = now; // Updates stamp no time today; kept so policy can without an API change.
        StoreKey::new(key)?;
        for _ in 0..self.store.config().update_attempts.max(1) {
            let stored = self
                .store
                .get(key)
                .ok_or_else(|| StoreError::NotFound(key.clone()))?;
            let current = R::decode(&stored.value)?;
            check_preconditions(key, preconditions, &current, stored.mod_revision)?;
            let mut updated = mutate(&current).map_err(StoreError::Rejected)?;
            if carried_revision(&updated)?.is_some_and(|r| r != stored.mod_revision) {
                return Err(StoreError::Conflict {
                    key: key.clone(),
                    message: MODIFIED_MESSAGE.into(),
                });
            }
            preserve_system_fields(&mut updated, &current);
            if deletes_during_update(&updated, &current) {
                match self.remove(key, &stored, dry_run)? {
                    Some(value) => {
                        return Ok(UpdateOutcome {
                            value,
                            changed: true,
                            deleted: true,
                        });
                    }
                    None => continue,
                }
            }
            if updated == *current {
                return Ok(UpdateOutcome {
                    value: stored,
                    changed: false,
                    deleted: false,
                });
            }
            if let Some(value) = self.replace(key, &stored, updated, dry_run)? {
                return Ok(UpdateOutcome {
                    value,
                    changed: true,
                    deleted: false,
                });
            }
        }
        Err(StoreError::Conflict {
            key: key.clone(),
            message: MODIFIED_MESSAGE.into(),
        })
    }

    /// Deletes, or marks for deletion, per `deletion`'s policy.
    pub fn delete(
        &self,
        key: &ObjectKey,
        options: &DeleteOptions,
        now: Timestamp,
        dry_run: bool,
    ) -> Result<DeleteOutcome<R::Value>, StoreError> {
        StoreKey::new(key)?;
        for _ in 0..self.store.config().update_attempts.max(1) {
            let stored = self
                .store
                .get(key)
                .ok_or_else(|| StoreError::NotFound(key.clone()))?;
            let current = R::decode(&stored.value)?;
            check_preconditions(key, &options.preconditions, &current, stored.mod_revision)?;
            let written = match plan_deletion(&current, options.grace_period_seconds, now) {
                DeletionPlan::AlreadyPending => {
                    return Ok(DeleteOutcome {
                        value: stored,
                        deleted: false,
                    });
                }
                DeletionPlan::RemoveNow => self
                    .remove(key, &stored, dry_run)?
                    .map(|value| (value, true)),
                DeletionPlan::Mark(marked) => self
                    .replace(key, &stored, marked, dry_run)?
                    .map(|value| (value, false)),
            };
            if let Some((value, deleted)) = written {
                return Ok(DeleteOutcome { value, deleted });
            }
        }
        Err(StoreError::Conflict {
            key: key.clone(),
            message: MODIFIED_MESSAGE.into(),
        })
    }

    /// CAS-replaces `stored` with `updated`; `None` if another write came first (after
    /// waiting for it to settle, so the caller's next read sees it).
    fn replace(
        &self,
        key: &ObjectKey,
        stored: &Versioned<R::Value>,
        updated: KubeObject,
        dry_run: bool,
    ) -> Result<Option<Versioned<R::Value>>, StoreError> {
        if dry_run {
            // Upstream's dry run returns the object with the revision it was based on.
            return Ok(Some(Versioned {
                value: R::encode_owned(updated),
                create_revision: stored.create_revision,
                mod_revision: stored.mod_revision,
            }));
        }
        self.write_if_unchanged(key, stored.mod_revision, TxnOp::Put(updated))
    }

    /// CAS-deletes `stored`; `None` if another write came first.
    fn remove(
        &self,
        key: &ObjectKey,
        stored: &Versioned<R::Value>,
        dry_run: bool,
    ) -> Result<Option<Versioned<R::Value>>, StoreError> {
        if dry_run {
            return Ok(Some(stored.clone()));
        }
        self.write_if_unchanged(key, stored.mod_revision, TxnOp::Delete(key.clone()))
    }

    fn write_if_unchanged(
        &self,
        key: &ObjectKey,
        revision: Revision,
        op: TxnOp,
    ) -> Result<Option<Versioned<R::Value>>, StoreError> {
        let txn = Txn {
            compares: vec![Compare::ModRevision(key.clone(), revision)],
            ops: vec![op],
        };
        match self.store.txn(txn)? {
            TxnOutcome::Committed { results, .. } => first_result(results, key).map(Some),
            TxnOutcome::CompareFailed { .. } => {
                self.store.wait_for_pending_write(key);
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_cut_long_prefixes_to_upstreams_bound() {
        let mut rng = SimRng::seed_from_u64(1);
        let name = generated_name(&"a".repeat(80), &mut rng);
        assert_eq!(name.len(), 63);
        assert!(generated_name("job-", &mut rng).starts_with("job-"));
        let multibyte = "é".repeat(40);
        assert!(generated_name(&multibyte, &mut rng).len() <= 63);
    }
}
