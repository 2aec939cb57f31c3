//! Owner references, classified: upstream `classifyReferences` and `isDangling`
//! (`pkg/controller/garbagecollector/garbagecollector.go`).
//!
//! - *solid*: the owner exists and is not waiting for its dependents' deletion;
//! - *dangling*: no object of the reference's kind exists under its name (in the dependent's
//!   namespace for namespaced kinds) with its UID;
//! - *waiting*: the owner exists, has a deletionTimestamp and the `foregroundDeletion`
//!   finalizer.
//!
//! Upstream confirms a dangling owner with a live GET because its graph may lag; Corral's
//! cache is fed by one ordered watch, so the cache lookup by (kind, namespace, name) plus the
//! UID comparison is the same test upstream's GET makes.

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::ObjectCache;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// `metav1.FinalizerDeleteDependents`.
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";
/// `metav1.FinalizerOrphanDependents`.
pub const FINALIZER_ORPHAN: &str = "orphan";

/// Upstream `isDeletingDependents`: deleted in the foreground, dependents still to go.
pub fn is_deleting_dependents(object: &KubeObject) -> bool {
    object.is_being_deleted() && object.has_finalizer(FINALIZER_FOREGROUND)
}

/// Upstream `isOrphaningDependents` (the graph builder's trigger for the orphan queue).
pub fn is_orphaning_dependents(object: &KubeObject) -> bool {
    object.is_being_deleted() && object.has_finalizer(FINALIZER_ORPHAN)
}

/// Why an item's owners cannot be classified. Upstream logs and retries the first forever
/// and drops the second; Corral drops both (a retry cannot change the answer without an
/// event, and every event re-queues the item).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unresolvable {
    /// The reference names a kind this server does not store (upstream: the REST mapper has
    /// no resource for it).
    UnknownKind { api_version: String, kind: String },
    /// A cluster-scoped item names a namespaced owner (`namespacedOwnerOfClusterScopedObjectErr`).
    NamespacedOwnerOfClusterScopedObject,
}

/// The kind an owner reference names: matched by group and kind (any version of a group
/// maps to the same stored resource, as the REST mapper maps it).
pub fn reference_kind(reference: &OwnerReference) -> Option<ResourceKind> {
    let group = reference
        .api_version
        .rsplit_once('/')
        .map_or("", |(group, _)| group);
    ResourceKind::ALL
        .iter()
        .copied()
        .find(|kind| kind.kind_name() == reference.kind && kind.group() == group)
}

/// The owner a reference points at, if it exists (upstream `isDangling`, negated).
pub fn resolve_owner<'c>(
    cache: &'c ObjectCache,
    item: &KubeObject,
    reference: &OwnerReference,
) -> Result<Option<&'c KubeObject>, Unresolvable> {
    let Some(kind) = reference_kind(reference) else {
        return Err(Unresolvable::UnknownKind {
            api_version: reference.api_version.clone(),
            kind: reference.kind.clone(),
        });
    };
    let namespace = if kind.namespaced() {
        if item.namespace().is_empty() {
            return Err(Unresolvable::NamespacedOwnerOfClusterScopedObject);
        }
        item.namespace()
    } else {
        ""
    };
    let owner = cache
        .get(&ObjectKey::new(kind, namespace, &reference.name))
        .map(|o| o.as_ref())
        .filter(|o| o.meta().uid.as_deref() == Some(reference.uid.as_str()));
    Ok(owner)
}

/// An item's owner references by class.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Classified {
    pub solid: Vec<OwnerReference>,
    pub dangling: Vec<OwnerReference>,
    pub waiting: Vec<OwnerReference>,
}

/// Upstream `classifyReferences`.
pub fn classify_references(
    cache: &ObjectCache,
    item: &KubeObject,
) -> Result<Classified, Unresolvable> {
    let mut classified = Classified::default();
    for reference in item.meta().owner_references.iter().flatten() {
        match resolve_owner(cache, item, reference)? {
            None => classified.dangling.push(reference.clone()),
            Some(owner) if is_deleting_dependents(owner) => {
                classified.waiting.push(reference.clone())
            }
            Some(_) => classified.solid.push(reference.clone()),
        }
    }
    Ok(classified)
}

/// The owner reference of `dependent` that points at `owner_uid` blocks the owner's
/// foreground deletion (upstream `blockingDependents`).
pub fn blocks_owner(dependent: &KubeObject, owner_uid: &str) -> bool {
    dependent
        .meta()
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.uid == owner_uid && r.block_owner_deletion == Some(true))
}
