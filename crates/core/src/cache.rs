//! [`ObjectCache`]: an informer's local copy of the cluster, fed by watch events and read
//! by pure cores as their snapshot.
//!
//! Iteration is in key order (kind, namespace, name) so decisions are deterministic, and
//! the indexes the controllers need are kept up to date on every event: dependents by
//! owner uid (a Job's pods without scanning the namespace), pods by node, objects by uid.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use corral_api::{KubeObject, ObjectKey, ResourceKind, Revision, TypedObject, Uid};

/// What a watch said happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// One change delivered to an informer.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectEvent {
    pub change: ChangeKind,
    /// For `Deleted`, the last state.
    pub object: Arc<KubeObject>,
    pub revision: Revision,
}

/// The cache.
#[derive(Clone, Debug, Default)]
pub struct ObjectCache {
    objects: BTreeMap<ObjectKey, Arc<KubeObject>>,
    by_uid: HashMap<Uid, ObjectKey>,
    dependents: HashMap<Uid, BTreeSet<ObjectKey>>,
    pods_by_node: HashMap<String, BTreeSet<ObjectKey>>,
    counts: HashMap<ResourceKind, usize>,
    revision: Revision,
}

impl ObjectCache {
    pub fn new() -> Self {
        ObjectCache::default()
    }

    /// The revision of the last event applied.
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// Applies one watch event; returns the previous state of the object, if any.
    pub fn apply(&mut self, event: &ObjectEvent) -> Option<Arc<KubeObject>> {
        self.revision = self.revision.max(event.revision);
        match event.change {
            ChangeKind::Added | ChangeKind::Modified => self.upsert(event.object.clone()),
            ChangeKind::Deleted => self.remove(&event.object.key()),
        }
    }

    /// Inserts or replaces an object; returns the previous state.
    pub fn upsert(&mut self, object: Arc<KubeObject>) -> Option<Arc<KubeObject>> {
        let key = object.key();
        let previous = self.objects.insert(key.clone(), object.clone());
        if let Some(old) = &previous {
            self.unindex(&key, old);
        } else {
            *self.counts.entry(key.kind).or_insert(0) += 1;
        }
        self.index(&key, &object);
        previous
    }

    /// Removes an object; returns its last state.
    pub fn remove(&mut self, key: &ObjectKey) -> Option<Arc<KubeObject>> {
        let previous = self.objects.remove(key)?;
        self.unindex(key, &previous);
        if let Some(count) = self.counts.get_mut(&key.kind) {
            *count = count.saturating_sub(1);
        }
        Some(previous)
    }

    fn index(&mut self, key: &ObjectKey, object: &KubeObject) {
        let meta = object.meta();
        if let Some(uid) = &meta.uid {
            self.by_uid.insert(Uid(uid.clone()), key.clone());
        }
        for owner in meta.owner_references.iter().flatten() {
            self.dependents
                .entry(Uid(owner.uid.clone()))
                .or_default()
                .insert(key.clone());
        }
        if let Some(node) = pod_node(object) {
            self.pods_by_node
                .entry(node.to_string())
                .or_default()
                .insert(key.clone());
        }
    }

    fn unindex(&mut self, key: &ObjectKey, object: &KubeObject) {
        let meta = object.meta();
        if let Some(uid) = &meta.uid {
            let uid = Uid(uid.clone());
            if self.by_uid.get(&uid) == Some(key) {
                self.by_uid.remove(&uid);
            }
        }
        for owner in meta.owner_references.iter().flatten() {
            let owner_uid = Uid(owner.uid.clone());
            if let Some(set) = self.dependents.get_mut(&owner_uid) {
                set.remove(key);
                if set.is_empty() {
                    self.dependents.remove(&owner_uid);
                }
            }
        }
        if let Some(node) = pod_node(object)
            && let Some(set) = self.pods_by_node.get_mut(node)
        {
            set.remove(key);
            if set.is_empty() {
                self.pods_by_node.remove(node);
            }
        }
    }

    pub fn get(&self, key: &ObjectKey) -> Option<&Arc<KubeObject>> {
        self.objects.get(key)
    }

    /// A typed object by namespace and name.
    pub fn get_typed<T: TypedObject>(&self, namespace: &str, name: &str) -> Option<&T> {
        self.objects
            .get(&ObjectKey::new(T::KIND, namespace, name))
            .and_then(|o| T::peek(o))
    }

    pub fn get_by_uid(&self, uid: &Uid) -> Option<&Arc<KubeObject>> {
        self.by_uid.get(uid).and_then(|k| self.objects.get(k))
    }

    /// Every object of a kind, in key order.
    pub fn list(&self, kind: ResourceKind) -> impl Iterator<Item = &Arc<KubeObject>> {
        let start = ObjectKey::new(kind, "", "");
        self.objects
            .range((Bound::Included(start), Bound::Unbounded))
            .take_while(move |(k, _)| k.kind == kind)
            .map(|(_, o)| o)
    }

    /// Every object of a kind in one namespace, in name order.
    pub fn list_namespace<'a>(
        &'a self,
        kind: ResourceKind,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a Arc<KubeObject>> + 'a {
        let start = ObjectKey::new(kind, namespace, "");
        self.objects
            .range((Bound::Included(start), Bound::Unbounded))
            .take_while(move |(k, _)| k.kind == kind && k.namespace == namespace)
            .map(|(_, o)| o)
    }

    /// Typed iteration over a kind.
    pub fn list_typed<'a, T: TypedObject + 'a>(&'a self) -> impl Iterator<Item = &'a T> {
        self.list(T::KIND).filter_map(|o| T::peek(o))
    }

    /// Objects with an owner reference to `owner` (any kind), in key order.
    pub fn dependents_of(&self, owner: &Uid) -> impl Iterator<Item = &Arc<KubeObject>> {
        self.dependents
            .get(owner)
            .into_iter()
            .flat_map(|keys| keys.iter())
            .filter_map(|k| self.objects.get(k))
    }

    /// Pods bound to a node, in key order.
    pub fn pods_on_node(&self, node: &str) -> impl Iterator<Item = &Arc<KubeObject>> {
        self.pods_by_node
            .get(node)
            .into_iter()
            .flat_map(|keys| keys.iter())
            .filter_map(|k| self.objects.get(k))
    }

    pub fn count(&self, kind: ResourceKind) -> usize {
        self.counts.get(&kind).copied().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

fn pod_node(object: &KubeObject) -> Option<&str> {
    match object {
        KubeObject::Pod(pod) => pod
            .spec
            .as_ref()?
            .node_name
            .as_deref()
            .filter(|n| !n.is_empty()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Pod, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    fn pod(name: &str, owner: Option<&str>, node: Option<&str>) -> Arc<KubeObject> {
        Arc::new(
            Pod {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    namespace: Some("ns".into()),
                    uid: Some(format!("uid-{name}")),
                    owner_references: owner.map(|o| {
                        vec![OwnerReference {
                            uid: o.into(),
                            ..Default::default()
                        }]
                    }),
                    ..Default::default()
                },
                spec: Some(PodSpec {
                    node_name: node.map(String::from),
                    ..Default::default()
                }),
                ..Default::default()
            }
            .into(),
        )
    }

    #[test]
    fn indexes_follow_updates_and_deletes() {
        let mut cache = ObjectCache::new();
        cache.upsert(pod("a", Some("job1"), None));
        cache.upsert(pod("b", Some("job1"), Some("n1")));
        assert_eq!(cache.dependents_of(&Uid("job1".into())).count(), 2);
        assert_eq!(cache.pods_on_node("n1").count(), 1);

        // Re-binding a pod and changing its owner moves it between index entries.
        cache.upsert(pod("b", Some("job2"), Some("n2")));
        assert_eq!(cache.dependents_of(&Uid("job1".into())).count(), 1);
        assert_eq!(cache.pods_on_node("n1").count(), 0);
        assert_eq!(cache.pods_on_node("n2").count(), 1);

        cache.remove(&ObjectKey::new(ResourceKind::Pod, "ns", "a"));
        assert_eq!(cache.dependents_of(&Uid("job1".into())).count(), 0);
        assert_eq!(cache.count(ResourceKind::Pod), 1);
        assert!(cache.get_by_uid(&Uid("uid-b".into())).is_some());
    }

    #[test]
    fn listing_a_namespace_stays_inside_it() {
        let mut cache = ObjectCache::new();
        cache.upsert(pod("a", None, None));
        let mut other = (*pod("z", None, None)).clone();
        other.meta_mut().namespace = Some("other".into());
        other.meta_mut().uid = Some("uid-z".into());
        cache.upsert(Arc::new(other));
        assert_eq!(cache.list_namespace(ResourceKind::Pod, "ns").count(), 1);
        assert_eq!(cache.list(ResourceKind::Pod).count(), 2);
        assert_eq!(cache.list(ResourceKind::Job).count(), 0);
    }
}
