//! [`StoreView`]: the store's latest durable state as admission's [`ClusterView`].

use std::sync::Arc;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_store::{JsonBytes, ListRequest, ObjectStore, Representation};

use super::admission::ClusterView;

/// Reads through an object store.
pub(crate) struct StoreView<'a>(pub &'a ObjectStore<JsonBytes>);

impl ClusterView for StoreView<'_> {
    fn get(&self, key: &ObjectKey) -> Option<Arc<KubeObject>> {
        let stored = self.0.get(key)?;
        JsonBytes::decode(&stored.value).ok()
    }

    fn list(&self, kind: ResourceKind, namespace: Option<&str>) -> Vec<Arc<KubeObject>> {
        let mut request = ListRequest::all(kind);
        request.namespace = namespace.map(str::to_string);
        let Ok(page) = self.0.list(&request) else {
            return Vec::new();
        };
        page.items
            .iter()
            .filter_map(|v| JsonBytes::decode(&v.value).ok())
            .collect()
    }
}
