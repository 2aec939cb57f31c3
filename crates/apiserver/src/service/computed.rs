//! Computed collections: resources the API serves without storing them (Corral's
//! `holdings` and `webhookbreakers`, `corral.dev/v1alpha1`). Their contents come from
//! components the API service does not own (the controllers' cache, the admission
//! breakers), so they are plugged in after the service is built with
//! [`ApiService::set_computed`]. Reads only: `get` and `list`; watching them is 405, as
//! for any resource without the `watch` verb.

use std::sync::Arc;

use corral_api::{ApiError, Backing, ResourceInfo, Revision};
use serde_json::Value;

use super::ApiService;
use super::types::Target;

/// A source of computed objects.
pub trait ComputedResources: Send + Sync {
    /// Every object of `resource` (in `namespace`, or everywhere when `None`), as served
    /// JSON with `apiVersion`, `kind` and `metadata`; `None` when this source does not
    /// serve `resource`.
    fn list(&self, resource: &'static ResourceInfo, namespace: Option<&str>) -> Option<Vec<Value>>;
}

/// One page of a computed collection.
#[derive(Clone, Debug, PartialEq)]
pub struct ComputedList {
    pub resource: &'static ResourceInfo,
    pub items: Vec<Value>,
    /// The store's revision when the list was computed.
    pub revision: Revision,
}

impl ComputedList {
    /// `{"kind":"<Kind>List","apiVersion":…,"metadata":{…},"items":[…]}`.
    pub fn to_json(&self) -> Vec<u8> {
        let list = serde_json::json!({
            "kind": format!("{}List", self.resource.kind),
            "apiVersion": self.resource.group_version(),
            "metadata": {"resourceVersion": self.revision.to_string()},
            "items": self.items,
        });
        serde_json::to_vec(&list).unwrap_or_default()
    }
}

/// Whether `resource` is a computed collection (not a review, which is create-only).
pub fn is_computed(resource: &ResourceInfo) -> bool {
    resource.backing == Backing::Virtual && resource.verbs.contains(&"list")
}

impl ApiService {
    /// Plugs in the source of computed collections (once; later calls are ignored).
    pub fn set_computed(&self, source: Arc<dyn ComputedResources>) {
        let _ = self.inner.computed.set(source);
    }

    /// LIST of a computed collection. Without a source (or when it does not serve the
    /// resource) the list is empty.
    pub fn list_computed(&self, target: &Target) -> Result<ComputedList, ApiError> {
        let resource = target.resource;
        if !is_computed(resource) {
            return Err(ApiError::method_not_allowed());
        }
        let revision = self.store().current_revision();
        let namespace = target.namespace.as_deref().filter(|_| resource.namespaced);
        let items = self
            .inner
            .computed
            .get()
            .and_then(|source| source.list(resource, namespace))
            .unwrap_or_default();
        Ok(ComputedList {
            resource,
            items,
            revision,
        })
    }

    /// GET of one computed object (404 as for a stored one).
    pub fn get_computed(&self, target: &Target) -> Result<Value, ApiError> {
        let name = target.name.clone().unwrap_or_default();
        self.list_computed(target)?
            .items
            .into_iter()
            .find(|item| item["metadata"]["name"].as_str() == Some(name.as_str()))
            .ok_or_else(|| ApiError::not_found(&target.resource.group_resource(), &name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::resource::find_resource;
    use corral_store::{JsonBytes, MemoryBackend, Store, StoreConfig};
    use serde_json::json;

    struct Fixed;

    impl ComputedResources for Fixed {
        fn list(
            &self,
            resource: &'static ResourceInfo,
            namespace: Option<&str>,
        ) -> Option<Vec<Value>> {
            (resource.resource == "holdings").then(|| {
                ["a", "b"]
                    .iter()
                    .filter(|ns| namespace.is_none_or(|n| n == **ns))
                    .map(|ns| json!({"kind": "Holding", "metadata": {"name": format!("job-{ns}"), "namespace": ns}}))
                    .collect()
            })
        }
    }

    fn service() -> ApiService {
        let store = Store::<JsonBytes>::open(Box::new(MemoryBackend), StoreConfig::default())
            .expect("memory store");
        ApiService::new(Arc::new(store))
    }

    #[test]
    fn computed_lists_come_from_the_source_and_filter_by_namespace() {
        let service = service();
        let holdings = find_resource("corral.dev", "v1alpha1", "holdings").unwrap();
        let all = Target::collection(holdings, None);
        assert!(service.list_computed(&all).unwrap().items.is_empty());
        service.set_computed(Arc::new(Fixed));
        assert_eq!(service.list_computed(&all).unwrap().items.len(), 2);
        let in_b = Target::collection(holdings, Some("b"));
        let page = service.list_computed(&in_b).unwrap();
        assert_eq!(page.items.len(), 1);
        let list: Value = serde_json::from_slice(&page.to_json()).unwrap();
        assert_eq!(list["kind"], "HoldingList");
        assert_eq!(list["apiVersion"], "corral.dev/v1alpha1");
        let one = Target::object(holdings, Some("b"), "job-b");
        assert_eq!(
            service.get_computed(&one).unwrap()["metadata"]["name"],
            "job-b"
        );
        let missing = Target::object(holdings, Some("b"), "job-a");
        assert_eq!(service.get_computed(&missing).unwrap_err().code, 404);
    }

    #[test]
    fn reviews_are_not_computed_collections() {
        let review =
            find_resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews").unwrap();
        assert!(!is_computed(review));
    }
}
