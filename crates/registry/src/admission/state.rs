//! [`AdmissionState`]: the read-only view of the cluster the admission chain consults,
//! provided by the driver (the API server's informer cache, the simulator's cache), with
//! an implementation for [`ObjectCache`].

use corral_api::ResourceKind;
use corral_core::ObjectCache;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota, ServiceAccount};

/// What the built-in plugins and the webhook dispatchers read. Quotas must carry their
/// `resourceVersion`: charges are written with it as a precondition.
pub trait AdmissionState {
    fn namespace(&self, name: &str) -> Option<&Namespace>;
    fn service_account(&self, namespace: &str, name: &str) -> Option<&ServiceAccount>;
    fn limit_ranges(&self, namespace: &str) -> Vec<&LimitRange>;
    fn resource_quotas(&self, namespace: &str) -> Vec<&ResourceQuota>;
    fn mutating_webhook_configurations(&self) -> Vec<&MutatingWebhookConfiguration>;
    fn validating_webhook_configurations(&self) -> Vec<&ValidatingWebhookConfiguration>;
}

impl AdmissionState for ObjectCache {
    fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.get_typed::<Namespace>("", name)
    }

    fn service_account(&self, namespace: &str, name: &str) -> Option<&ServiceAccount> {
        self.get_typed::<ServiceAccount>(namespace, name)
    }

    fn limit_ranges(&self, namespace: &str) -> Vec<&LimitRange> {
        // `list_namespace` ties its items to the namespace argument's lifetime; these
        // kinds hold a handful of objects, so a scan of the kind is cheap.
        self.list(ResourceKind::LimitRange)
            .filter(|o| o.namespace() == namespace)
            .filter_map(|o| o.as_typed::<LimitRange>())
            .collect()
    }

    fn resource_quotas(&self, namespace: &str) -> Vec<&ResourceQuota> {
        self.list(ResourceKind::ResourceQuota)
            .filter(|o| o.namespace() == namespace)
            .filter_map(|o| o.as_typed::<ResourceQuota>())
            .collect()
    }

    fn mutating_webhook_configurations(&self) -> Vec<&MutatingWebhookConfiguration> {
        self.list_typed::<MutatingWebhookConfiguration>().collect()
    }

    fn validating_webhook_configurations(&self) -> Vec<&ValidatingWebhookConfiguration> {
        self.list_typed::<ValidatingWebhookConfiguration>()
            .collect()
    }
}
