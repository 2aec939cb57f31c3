//! [`RbacAuthorizer`]: the [`Authorizer`] backed by the Roles, ClusterRoles, RoleBindings
//! and ClusterRoleBindings in the store, through corral-registry's RBAC evaluation
//! (`system:masters` first, then RBAC; RBAC never denies, "no opinion" is a 403).
//!
//! The policy is held in memory and kept current by four store watch cursors (one per
//! RBAC kind): a request first polls them (cheap when nothing changed: a scan of the log
//! entries since the last check), and any RBAC change or a compacted cursor reloads the
//! whole policy. A request therefore always sees every RBAC write committed before it
//! started.
//!
//! [`ApiService::ensure_bootstrap_rbac`] stores upstream's default cluster roles and
//! bindings (missing ones only: idempotent, and admins' edits of existing ones stay).

use std::sync::Arc;

use corral_api::k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use corral_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use corral_api::{ApiError, KubeObject, ResourceKind, TypedObject};
use corral_registry::authz::{self, RbacState, StaticRbac};
use corral_store::{
    JsonBytes, ListRequest, ObjectStore, Representation, Revision, WatchCursor, WatchRequest,
};
use parking_lot::Mutex;
use serde_json::json;

use super::admission_chain::registry_user;
use super::authz::{Attributes, Authorizer, Decision, RuleSet};
use super::types::{UserInfo, WriteOptions};
use super::{ApiService, Target};

const KINDS: [ResourceKind; 4] = [
    ResourceKind::Role,
    ResourceKind::ClusterRole,
    ResourceKind::RoleBinding,
    ResourceKind::ClusterRoleBinding,
];
/// Events one cursor poll takes at most.
const POLL_EVENTS_MAX: usize = 1024;
/// Polls of one cursor per check before giving up and reloading.
const POLLS_MAX: usize = 64;

struct Cache {
    policy: Arc<StaticRbac>,
    cursors: Vec<WatchCursor>,
    /// The store revision every cursor has reached.
    checked: Revision,
}

/// RBAC over the store's roles and bindings.
pub struct RbacAuthorizer {
    store: ObjectStore<JsonBytes>,
    cache: Mutex<Option<Cache>>,
}

impl std::fmt::Debug for RbacAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RbacAuthorizer").finish_non_exhaustive()
    }
}

fn list_typed<T: TypedObject + Clone>(
    store: &ObjectStore<JsonBytes>,
    kind: ResourceKind,
) -> Vec<T> {
    let Ok(page) = store.list(&ListRequest::all(kind)) else {
        return Vec::new();
    };
    page.items
        .iter()
        .filter_map(|v| JsonBytes::decode(&v.value).ok())
        .filter_map(|o: Arc<KubeObject>| o.as_typed::<T>().cloned())
        .collect()
}

impl RbacAuthorizer {
    pub fn new(store: Arc<corral_store::Store<JsonBytes>>) -> Self {
        RbacAuthorizer {
            store: ObjectStore::new(store),
            cache: Mutex::new(None),
        }
    }

    fn load(&self) -> Cache {
        let revision = self.store.store().current_revision();
        let cursors = KINDS
            .iter()
            .filter_map(|kind| self.store.watch(WatchRequest::all(*kind, revision)).ok())
            .collect();
        let policy = StaticRbac {
            roles: list_typed::<Role>(&self.store, ResourceKind::Role),
            cluster_roles: list_typed::<ClusterRole>(&self.store, ResourceKind::ClusterRole),
            role_bindings: list_typed::<RoleBinding>(&self.store, ResourceKind::RoleBinding),
            cluster_role_bindings: list_typed::<ClusterRoleBinding>(
                &self.store,
                ResourceKind::ClusterRoleBinding,
            ),
        };
        Cache {
            policy: Arc::new(policy),
            cursors,
            checked: revision,
        }
    }

    /// True when some RBAC object changed since the cache's check (or the log is gone).
    fn changed(&self, cache: &mut Cache, current: Revision) -> bool {
        if cache.cursors.len() != KINDS.len() {
            return true;
        }
        for cursor in &mut cache.cursors {
            let mut polls = 0;
            while cursor.position() < current {
                match self.store.poll_watch(cursor, POLL_EVENTS_MAX) {
                    Ok(events) if events.is_empty() => {}
                    _ => return true,
                }
                polls += 1;
                if polls >= POLLS_MAX {
                    return true;
                }
            }
        }
        cache.checked = current;
        false
    }

    /// The policy as of now.
    pub fn policy(&self) -> Arc<StaticRbac> {
        let current = self.store.store().current_revision();
        let mut guard = self.cache.lock();
        let reload = match guard.as_mut() {
            None => true,
            Some(cache) => cache.checked < current && self.changed(cache, current),
        };
        if reload {
            *guard = Some(self.load());
        }
        guard
            .as_ref()
            .map(|c| Arc::clone(&c.policy))
            .unwrap_or_default()
    }
}

impl Authorizer for RbacAuthorizer {
    fn authorize(&self, user: &UserInfo, attributes: &Attributes) -> Decision {
        let user = registry_user(user);
        let registry = registry_attributes(&user, attributes);
        let policy = self.policy();
        match authz::authorize(&registry, policy.as_ref() as &dyn RbacState) {
            authz::Decision::Allow(_) => Decision::Allow,
            authz::Decision::Deny(reason) | authz::Decision::NoOpinion(reason) => {
                Decision::Deny { reason }
            }
        }
    }

    fn rules(&self, user: &UserInfo, namespace: &str) -> RuleSet {
        let user = registry_user(user);
        let policy = self.policy();
        let mut review = authz::rules_for(&user, namespace, policy.as_ref());
        if user.in_group(authz::user::SYSTEM_PRIVILEGED_GROUP) {
            review.resource_rules.insert(
                0,
                authz::ResourceRule {
                    verbs: vec!["*".into()],
                    api_groups: vec!["*".into()],
                    resources: vec!["*".into()],
                    resource_names: Vec::new(),
                },
            );
        }
        RuleSet {
            resource_rules: review
                .resource_rules
                .iter()
                .map(|r| {
                    let mut rule = json!({"verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources});
                    if !r.resource_names.is_empty() {
                        rule["resourceNames"] = json!(r.resource_names);
                    }
                    rule
                })
                .collect(),
            non_resource_rules: review
                .non_resource_rules
                .iter()
                .map(|r| json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}))
                .collect(),
            incomplete: !review.evaluation_error.is_empty(),
        }
    }
}

/// The API server's attributes in the registry's form.
pub(crate) fn registry_attributes<'a>(
    user: &'a corral_registry::authz::UserInfo,
    attributes: &'a Attributes,
) -> authz::Attributes<'a> {
    match &attributes.path {
        Some(path) => authz::Attributes::non_resource(user, &attributes.verb, path),
        None => authz::Attributes::resource(
            user,
            &attributes.verb,
            &attributes.group,
            &attributes.resource,
            &attributes.namespace,
            &attributes.name,
        )
        .with_subresource(&attributes.subresource),
    }
}

/// Upstream's 403 for a refused request (`pods "x" is forbidden: User "bob" cannot get
/// resource "pods" in API group "" in the namespace "b"`).
pub fn forbidden(user: &UserInfo, attributes: &Attributes, reason: &str) -> ApiError {
    let user = registry_user(user);
    let registry = registry_attributes(&user, attributes);
    let decision = authz::Decision::NoOpinion(reason.to_string());
    authz::forbidden_error(&registry, &decision)
}

impl ApiService {
    /// Stores the bootstrap ClusterRoles and ClusterRoleBindings that are missing.
    pub fn ensure_bootstrap_rbac(&self) -> Result<(), ApiError> {
        let system = UserInfo::system("apiserver");
        let mut cluster_roles = authz::bootstrap::cluster_roles();
        cluster_roles.push(node_cluster_role());
        let mut cluster_role_bindings = authz::bootstrap::cluster_role_bindings();
        cluster_role_bindings.push(node_cluster_role_binding());
        let roles = cluster_roles.into_iter().map(KubeObject::ClusterRole);
        let bindings = cluster_role_bindings
            .into_iter()
            .map(KubeObject::ClusterRoleBinding);
        for object in roles.chain(bindings) {
            let resource = corral_api::resource::resource_of(object.kind());
            let target = Target::collection(resource, None);
            let mut warnings = Vec::new();
            if self.objects().get(&object.key()).is_some() {
                continue;
            }
            match self.create_object(
                &system,
                &target,
                object,
                &WriteOptions::internal(),
                &mut warnings,
            ) {
                Ok(_) => {}
                Err(e) if e.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The ClusterRole node agents run with (upstream `system:node`, without the Node
/// authorizer's per-node restriction), bound to the group `system:nodes`.
pub const NODE_ROLE: &str = "system:node";
/// The group of node identities (join token, node client certificates).
pub const NODES_GROUP: &str = "system:nodes";

fn rule(verbs: &[&str], group: &str, resources: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..PolicyRule::default()
    }
}

/// `system:node`: what the node agent reads and writes.
pub fn node_cluster_role() -> ClusterRole {
    const READ: &[&str] = &["get", "list", "watch"];
    ClusterRole {
        metadata: ObjectMeta {
            name: Some(NODE_ROLE.into()),
            labels: Some(
                [(
                    "kubernetes.io/bootstrapping".to_string(),
                    "rbac-defaults".to_string(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        rules: Some(vec![
            rule(
                &[
                    "get", "list", "watch", "create", "update", "patch", "delete",
                ],
                "",
                &["nodes"],
            ),
            rule(&["get", "update", "patch"], "", &["nodes/status"]),
            rule(&["get", "list", "watch", "create", "delete"], "", &["pods"]),
            rule(&["get", "update", "patch"], "", &["pods/status"]),
            rule(&["create"], "", &["pods/eviction", "serviceaccounts/token"]),
            rule(&["create", "update", "patch"], "", &["events"]),
            rule(&["create", "update", "patch"], "events.k8s.io", &["events"]),
            rule(
                &[
                    "get", "list", "watch", "create", "update", "patch", "delete",
                ],
                "coordination.k8s.io",
                &["leases"],
            ),
            rule(
                READ,
                "",
                &[
                    "configmaps",
                    "secrets",
                    "serviceaccounts",
                    "persistentvolumeclaims",
                    "persistentvolumes",
                    "namespaces",
                    "services",
                    "endpoints",
                ],
            ),
        ]),
        ..ClusterRole::default()
    }
}

/// Binds `system:node` to the group `system:nodes`.
pub fn node_cluster_role_binding() -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(NODE_ROLE.into()),
            labels: Some(
                [(
                    "kubernetes.io/bootstrapping".to_string(),
                    "rbac-defaults".to_string(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: NODE_ROLE.into(),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Group".into(),
            name: NODES_GROUP.into(),
            namespace: None,
        }]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_store::{MemoryBackend, Store, StoreConfig};
    use serde_json::Value;

    fn service() -> (ApiService, RbacAuthorizer) {
        let store = Arc::new(
            Store::<JsonBytes>::open(Box::new(MemoryBackend), StoreConfig::default()).unwrap(),
        );
        let service = ApiService::new(Arc::clone(&store));
        service.ensure_bootstrap_rbac().unwrap();
        (service, RbacAuthorizer::new(store))
    }

    fn create(
        service: &ApiService,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        body: Value,
    ) {
        let info = corral_api::resource::find_resource(group, "v1", resource).unwrap();
        service
            .create_blocking(
                &UserInfo::system("test"),
                &Target::collection(info, namespace),
                super::super::DecodedBody::from_value(body),
                &WriteOptions::internal(),
            )
            .unwrap();
    }

    fn list_pods(namespace: &str) -> Attributes {
        Attributes {
            verb: "list".into(),
            version: "v1".into(),
            resource: "pods".into(),
            namespace: namespace.into(),
            ..Attributes::default()
        }
    }

    /// Goal: the cached policy follows RBAC writes at once, and bootstrap is idempotent.
    #[test]
    fn a_new_binding_is_honoured_by_the_next_request_and_a_deleted_one_is_not() {
        let (service, authorizer) = service();
        let bob = UserInfo::new("bob", &["system:authenticated"]);
        assert!(matches!(
            authorizer.authorize(&bob, &list_pods("team")),
            Decision::Deny { .. }
        ));
        create(
            &service,
            "",
            "namespaces",
            None,
            serde_json::json!({"metadata": {"name": "team"}}),
        );
        create(
            &service,
            "rbac.authorization.k8s.io",
            "rolebindings",
            Some("team"),
            serde_json::json!({"metadata": {"name": "bob-view"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]}),
        );
        assert_eq!(
            authorizer.authorize(&bob, &list_pods("team")),
            Decision::Allow
        );
        assert!(matches!(
            authorizer.authorize(&bob, &list_pods("other")),
            Decision::Deny { .. }
        ));
        let rules = authorizer.rules(&bob, "team");
        assert!(rules.resource_rules.iter().any(|r| {
            r["resources"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == "pods"))
        }));
        // Writes of other kinds do not reload; a binding's deletion does.
        create(
            &service,
            "",
            "configmaps",
            Some("team"),
            serde_json::json!({"metadata": {"name": "c"}}),
        );
        assert_eq!(
            authorizer.authorize(&bob, &list_pods("team")),
            Decision::Allow
        );
        let key = corral_api::ObjectKey::new(ResourceKind::RoleBinding, "team", "bob-view");
        service
            .objects()
            .delete(&key, &Default::default(), service.now(), false)
            .unwrap();
        assert!(matches!(
            authorizer.authorize(&bob, &list_pods("team")),
            Decision::Deny { .. }
        ));
        // Bootstrapping again creates nothing.
        let revision = service.store().current_revision();
        service.ensure_bootstrap_rbac().unwrap();
        assert_eq!(service.store().current_revision(), revision);
    }

    #[test]
    fn masters_and_nodes_are_authorized_by_the_bootstrap_policy() {
        let (_service, authorizer) = service();
        let admin = UserInfo::new("admin", &["system:masters"]);
        assert_eq!(
            authorizer.authorize(&admin, &list_pods("any")),
            Decision::Allow
        );
        let node = UserInfo::new("system:node:n1", &[NODES_GROUP, "system:authenticated"]);
        assert_eq!(authorizer.authorize(&node, &list_pods("")), Decision::Allow);
        let secrets = Attributes {
            verb: "delete".into(),
            resource: "secrets".into(),
            namespace: "team".into(),
            ..Attributes::default()
        };
        assert!(matches!(
            authorizer.authorize(&node, &secrets),
            Decision::Deny { .. }
        ));
    }
}
