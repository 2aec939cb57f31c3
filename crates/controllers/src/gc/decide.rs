//! What the garbage collector does with one item: upstream `attemptToDeleteItem`,
//! `processDeletingDependentsItem` and `attemptToOrphanWorker` (`garbagecollector.go`), and
//! the patch bodies of `operations.go` / `patch.go`.
//!
//! Every write carries the item's UID, and deletes and reference edits also its
//! resourceVersion: the decision was made on that version, so if the item changed since
//! (a new owner reference, say) the write conflicts and the item is decided again. This is
//! what makes "never delete an object with a live owner" hold under concurrency, not only on
//! a quiet cache.

use corral_api::KubeObject;
use corral_core::{Action, ObjectCache, PatchBody, Plan, Preconditions, Propagation, Subresource};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use serde_json::{Value, json};

use super::classify::{
    FINALIZER_FOREGROUND, FINALIZER_ORPHAN, Unresolvable, blocks_owner, classify_references,
    is_deleting_dependents, is_orphaning_dependents,
};

/// Upstream `attemptToDeleteItem` plus the orphan worker, for the object at a key.
pub fn decide(cache: &ObjectCache, item: &KubeObject) -> Result<Plan, Unresolvable> {
    if is_orphaning_dependents(item) {
        return Ok(orphan_dependents(cache, item));
    }
    if item.is_being_deleted() && !is_deleting_dependents(item) {
        // A one-way trip: wait for the final deletion, then deal with the dependents.
        return Ok(Plan::empty());
    }
    if is_deleting_dependents(item) {
        return Ok(process_deleting_dependents(cache, item));
    }
    if item
        .meta()
        .owner_references
        .as_ref()
        .is_none_or(|r| r.is_empty())
    {
        return Ok(Plan::empty());
    }
    let classified = classify_references(cache, item)?;
    let mut plan = Plan::empty();
    if !classified.solid.is_empty() {
        // A live owner: never delete; only drop references that can no longer hold it.
        let doomed: Vec<&str> = classified
            .dangling
            .iter()
            .chain(&classified.waiting)
            .map(|r| r.uid.as_str())
            .collect();
        if !doomed.is_empty() {
            plan.push(remove_owner_references(item, &doomed));
        }
        return Ok(plan);
    }
    let uid = item.meta().uid.as_deref().unwrap_or("");
    if !classified.waiting.is_empty() && cache.dependents_of(&uid.into()).next().is_some() {
        // Upstream's cycle guard: a dependent that is itself deleting dependents could wait
        // for this item forever, so stop this item from blocking its owners first.
        // The patch moves the resourceVersion, so that delete is guarded by the UID alone.
        let cycle = cache
            .dependents_of(&uid.into())
            .any(|d| is_deleting_dependents(d));
        if cycle {
            plan.then_or_stop(vec![unblock_owner_references(item)]);
        }
        plan.push(delete_item(item, Propagation::Foreground, !cycle));
        return Ok(plan);
    }
    plan.push(delete_item(item, own_propagation(item), true));
    Ok(plan)
}

/// The policy of a GC delete: the item's own finalizers say how its dependents go, else
/// Background.
fn own_propagation(item: &KubeObject) -> Propagation {
    if item.has_finalizer(FINALIZER_ORPHAN) {
        Propagation::Orphan
    } else if item.has_finalizer(FINALIZER_FOREGROUND) {
        Propagation::Foreground
    } else {
        Propagation::Background
    }
}

/// Upstream `processDeletingDependentsItem`: once no dependent blocks, drop the finalizer;
/// blocking dependents are themselves queued (by the event handler) and deleted as items
/// whose owner is waiting.
fn process_deleting_dependents(cache: &ObjectCache, owner: &KubeObject) -> Plan {
    let uid = owner.meta().uid.clone().unwrap_or_default();
    let blocked = cache
        .dependents_of(&uid.as_str().into())
        .any(|d| blocks_owner(d, &uid));
    let mut plan = Plan::empty();
    if !blocked {
        plan.push(remove_finalizer(owner, FINALIZER_FOREGROUND));
    }
    plan
}

/// Upstream `attemptToOrphanWorker`: drop the owner's reference from every dependent, then
/// the `orphan` finalizer. A failed patch skips the finalizer removal and the item is
/// retried (upstream ignores NotFound there; a retry sees the dependent gone instead).
fn orphan_dependents(cache: &ObjectCache, owner: &KubeObject) -> Plan {
    let uid = owner.meta().uid.clone().unwrap_or_default();
    let patches: Vec<Action> = cache
        .dependents_of(&uid.as_str().into())
        .map(|dependent| remove_owner_references(dependent, &[uid.as_str()]))
        .collect();
    let mut plan = Plan::empty();
    plan.then_or_stop(patches);
    plan.push(remove_finalizer(owner, FINALIZER_ORPHAN));
    plan
}

/// A delete with the UID (and, unless told otherwise, the resourceVersion) the decision was
/// made on.
fn delete_item(item: &KubeObject, propagation: Propagation, guard_revision: bool) -> Action {
    Action::Delete {
        key: item.key(),
        preconditions: Preconditions {
            uid: Some(item.uid()),
            resource_version: item.revision().filter(|_| guard_revision),
        },
        propagation: Some(propagation),
        grace_period_seconds: None,
    }
}

/// A JSON merge patch of `metadata` guarded by the item's UID and resourceVersion (upstream
/// `deleteOwnerRefJSONMergePatch` and `removeFinalizer` carry the resourceVersion; the
/// strategic patches carry the UID).
fn guarded_metadata_patch(
    item: &KubeObject,
    mut metadata: serde_json::Map<String, Value>,
) -> Action {
    metadata.insert("uid".into(), json!(item.meta().uid));
    metadata.insert(
        "resourceVersion".into(),
        json!(item.meta().resource_version),
    );
    Action::Patch {
        key: item.key(),
        subresource: Subresource::Main,
        patch: PatchBody::Merge(json!({ "metadata": Value::Object(metadata) })),
    }
}

fn references_value(references: Vec<OwnerReference>) -> Value {
    if references.is_empty() {
        Value::Null
    } else {
        serde_json::to_value(references).unwrap_or(Value::Null)
    }
}

/// Upstream `deleteOwnerRefJSONMergePatch`: the references minus the given owner UIDs.
pub fn remove_owner_references(item: &KubeObject, owner_uids: &[&str]) -> Action {
    let remaining: Vec<OwnerReference> = item
        .meta()
        .owner_references
        .iter()
        .flatten()
        .filter(|r| !owner_uids.contains(&r.uid.as_str()))
        .cloned()
        .collect();
    let mut metadata = serde_json::Map::new();
    metadata.insert("ownerReferences".into(), references_value(remaining));
    guarded_metadata_patch(item, metadata)
}

/// Upstream `unblockOwnerReferencesJSONMergePatch`: every `blockOwnerDeletion` set to false.
fn unblock_owner_references(item: &KubeObject) -> Action {
    let references: Vec<OwnerReference> = item
        .meta()
        .owner_references
        .iter()
        .flatten()
        .map(|r| {
            let mut r = r.clone();
            if r.block_owner_deletion == Some(true) {
                r.block_owner_deletion = Some(false);
            }
            r
        })
        .collect();
    let mut metadata = serde_json::Map::new();
    metadata.insert("ownerReferences".into(), references_value(references));
    guarded_metadata_patch(item, metadata)
}

/// Upstream `removeFinalizer`: the finalizer list without `finalizer`.
fn remove_finalizer(item: &KubeObject, finalizer: &str) -> Action {
    let remaining: Vec<&String> = item
        .meta()
        .finalizers
        .iter()
        .flatten()
        .filter(|f| f.as_str() != finalizer)
        .collect();
    let mut metadata = serde_json::Map::new();
    let value = if remaining.is_empty() {
        Value::Null
    } else {
        json!(remaining)
    };
    metadata.insert("finalizers".into(), value);
    guarded_metadata_patch(item, metadata)
}
