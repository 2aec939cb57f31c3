//! Which items an event puts in the collector's queue: the queueing half of upstream's graph
//! builder (`graph_builder.go`, `processGraphChanges`, `processTransitions`).
//!
//! - an object deleted: its dependents (their owner may now be dangling) and its owners that
//!   are deleting dependents (one blocker fewer);
//! - an object entering orphan or foreground deletion: itself, and for foreground all its
//!   dependents (upstream `startsWaitingForDependentsDeleted`);
//! - an object with an owner that is absent or waiting (upstream: the virtual node created
//!   for an unknown owner, or `referencesDiffs` adding one): itself;
//! - any change to an object whose owner is deleting dependents (a reference removed or
//!   unblocked, or the object starting its own deletion): that owner.

use std::collections::BTreeSet;

use corral_api::{KubeObject, ObjectKey};
use corral_core::{ChangeKind, ObjectCache, ObjectEvent};

use super::classify::{is_deleting_dependents, is_orphaning_dependents, resolve_owner};

/// The keys to queue for one event, in key order without duplicates.
pub fn items_to_attempt(
    event: &ObjectEvent,
    previous: Option<&KubeObject>,
    cache: &ObjectCache,
) -> BTreeSet<ObjectKey> {
    let object = event.object.as_ref();
    let mut keys = BTreeSet::new();
    let uid = object.meta().uid.clone().unwrap_or_default();
    match event.change {
        ChangeKind::Deleted => {
            keys.extend(cache.dependents_of(&uid.as_str().into()).map(|d| d.key()));
        }
        ChangeKind::Added | ChangeKind::Modified => {
            if is_orphaning_dependents(object) || is_deleting_dependents(object) {
                keys.insert(object.key());
            }
            if is_deleting_dependents(object) {
                keys.extend(cache.dependents_of(&uid.as_str().into()).map(|d| d.key()));
            }
            if !object.is_being_deleted() && has_unsolid_owner(cache, object) {
                keys.insert(object.key());
            }
        }
    }
    for item in previous.into_iter().chain(std::iter::once(object)) {
        keys.extend(owners_deleting_dependents(cache, item));
    }
    keys
}

/// Whether some owner reference is dangling or waiting (or cannot be resolved, which the
/// reconcile then reports as unresolvable).
fn has_unsolid_owner(cache: &ObjectCache, item: &KubeObject) -> bool {
    item.meta()
        .owner_references
        .iter()
        .flatten()
        .any(|reference| match resolve_owner(cache, item, reference) {
            Ok(Some(owner)) => is_deleting_dependents(owner),
            Ok(None) | Err(_) => true,
        })
}

fn owners_deleting_dependents<'c>(
    cache: &'c ObjectCache,
    item: &'c KubeObject,
) -> impl Iterator<Item = ObjectKey> + 'c {
    item.meta()
        .owner_references
        .iter()
        .flatten()
        .filter_map(move |reference| resolve_owner(cache, item, reference).ok().flatten())
        .filter(|owner| is_deleting_dependents(owner))
        .map(|owner| owner.key())
}
