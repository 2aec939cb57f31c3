//! [`RbacState`]: the read-only view of roles and bindings the authorizer needs, with
//! implementations over the informer cache and over plain vectors (tests, bootstrap).

use corral_api::ResourceKind;
use corral_core::ObjectCache;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};

/// Roles and bindings, as listers provide them upstream.
pub trait RbacState {
    fn role(&self, namespace: &str, name: &str) -> Option<&Role>;
    fn cluster_role(&self, name: &str) -> Option<&ClusterRole>;
    /// Every ClusterRole (for aggregation rules).
    fn cluster_roles(&self) -> Vec<&ClusterRole>;
    fn role_bindings(&self, namespace: &str) -> Vec<&RoleBinding>;
    fn cluster_role_bindings(&self) -> Vec<&ClusterRoleBinding>;
}

impl RbacState for ObjectCache {
    fn role(&self, namespace: &str, name: &str) -> Option<&Role> {
        self.get_typed::<Role>(namespace, name)
    }

    fn cluster_role(&self, name: &str) -> Option<&ClusterRole> {
        self.get_typed::<ClusterRole>("", name)
    }

    fn cluster_roles(&self) -> Vec<&ClusterRole> {
        self.list_typed::<ClusterRole>().collect()
    }

    fn role_bindings(&self, namespace: &str) -> Vec<&RoleBinding> {
        // `list_namespace` ties its items to the namespace argument's lifetime; bindings
        // are few, so a scan of the kind is cheap.
        self.list(ResourceKind::RoleBinding)
            .filter(|o| o.namespace() == namespace)
            .filter_map(|o| o.as_typed::<RoleBinding>())
            .collect()
    }

    fn cluster_role_bindings(&self) -> Vec<&ClusterRoleBinding> {
        self.list_typed::<ClusterRoleBinding>().collect()
    }
}

/// Roles and bindings held in vectors: for tests, the simulator and a server that has
/// not stored its bootstrap policy yet.
#[derive(Clone, Debug, Default)]
pub struct StaticRbac {
    pub roles: Vec<Role>,
    pub cluster_roles: Vec<ClusterRole>,
    pub role_bindings: Vec<RoleBinding>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
}

impl StaticRbac {
    /// The bootstrap ClusterRoles and ClusterRoleBindings (see [`super::bootstrap`]).
    pub fn with_bootstrap() -> Self {
        StaticRbac {
            cluster_roles: super::bootstrap::cluster_roles(),
            cluster_role_bindings: super::bootstrap::cluster_role_bindings(),
            ..StaticRbac::default()
        }
    }
}

fn ns_name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> (&str, &str) {
    (
        meta.namespace.as_deref().unwrap_or(""),
        meta.name.as_deref().unwrap_or(""),
    )
}

impl RbacState for StaticRbac {
    fn role(&self, namespace: &str, name: &str) -> Option<&Role> {
        self.roles
            .iter()
            .find(|r| ns_name(&r.metadata) == (namespace, name))
    }

    fn cluster_role(&self, name: &str) -> Option<&ClusterRole> {
        self.cluster_roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
    }

    fn cluster_roles(&self) -> Vec<&ClusterRole> {
        self.cluster_roles.iter().collect()
    }

    fn role_bindings(&self, namespace: &str) -> Vec<&RoleBinding> {
        self.role_bindings
            .iter()
            .filter(|b| b.metadata.namespace.as_deref() == Some(namespace))
            .collect()
    }

    fn cluster_role_bindings(&self) -> Vec<&ClusterRoleBinding> {
        self.cluster_role_bindings.iter().collect()
    }
}
