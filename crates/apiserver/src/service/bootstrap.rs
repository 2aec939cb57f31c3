//! First-start objects and namespace-creation side effects: the system namespaces
//! (`default`, `kube-system`, `kube-public`, `kube-node-lease`) and a `default`
//! ServiceAccount in every new namespace (the job of upstream's ServiceAccount controller,
//! done on the namespace-creation path until Corral has that controller).

use corral_api::k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use corral_api::resource::resource_of;
use corral_api::{ApiError, KubeObject, ObjectKey, ResourceKind};
use serde_json::json;

use super::ApiService;
use super::types::{DecodedBody, Target, UserInfo, WriteOptions};

/// The namespaces every cluster has.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

impl ApiService {
    /// Creates the system namespaces that do not exist yet (and, through the namespace
    /// creation path, their `default` ServiceAccounts). Idempotent.
    pub fn ensure_system_namespaces(&self) -> Result<(), ApiError> {
        let user = UserInfo::system("apiserver");
        let resource = resource_of(ResourceKind::Namespace);
        for name in SYSTEM_NAMESPACES {
            let key = ObjectKey::cluster(ResourceKind::Namespace, name);
            if self.objects().get(&key).is_some() {
                self.ensure_default_service_account(name);
                continue;
            }
            let body = DecodedBody::from_value(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
            );
            match self.create_blocking(
                &user,
                &Target::collection(resource, None),
                body,
                &WriteOptions::internal(),
            ) {
                Ok(_) => tracing::info!(namespace = name, "created system namespace"),
                Err(e) if e.is_already_exists() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The namespace-creation hook: the `default` ServiceAccount.
    pub(crate) fn after_namespace_created(&self, namespace_json: &[u8]) {
        let Ok(object) = KubeObject::from_json_slice(ResourceKind::Namespace, namespace_json)
        else {
            return;
        };
        if let Some(namespace) = object.as_typed::<Namespace>() {
            self.ensure_default_service_account(
                namespace.metadata.name.as_deref().unwrap_or_default(),
            );
        }
    }

    fn ensure_default_service_account(&self, namespace: &str) {
        let key = ObjectKey::new(ResourceKind::ServiceAccount, namespace, "default");
        if namespace.is_empty() || self.objects().get(&key).is_some() {
            return;
        }
        let account = ServiceAccount {
            metadata: corral_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("default".into()),
                namespace: Some(namespace.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let resource = resource_of(ResourceKind::ServiceAccount);
        let body = DecodedBody::from_value(KubeObject::from(account).to_value());
        let target = Target::collection(resource, Some(namespace));
        let user = UserInfo::system("serviceaccount-controller");
        match self.create_blocking(&user, &target, body, &WriteOptions::internal()) {
            Ok(_) => {}
            Err(e) if e.is_already_exists() => {}
            Err(e) => {
                tracing::warn!(namespace, error = %e, "cannot create the default service account")
            }
        }
    }
}
