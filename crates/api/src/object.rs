//! [`KubeObject`]: one enum over every stored Kubernetes kind, and [`ObjectKey`].
//!
//! Pure cores, the registry and the store speak typed objects (the k8s-openapi structs);
//! JSON appears only at the API edge and in the durable backend. The enum lets generic code
//! (deletion, garbage collection, selectors) reach `metadata` without knowing the kind,
//! while typed code gets the struct back with [`KubeObject::as_typed`].

use std::fmt;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Event, LimitRange, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod,
    ResourceQuota, Secret, ServiceAccount,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::ids::{Revision, Uid};

macro_rules! kube_kinds {
    ($( $variant:ident => $ty:ty ),* $(,)?) => {
        /// Every kind Corral stores. The order is the store's key order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ResourceKind {
            $( $variant, )*
        }

        impl ResourceKind {
            /// All stored kinds, in declaration order.
            pub const ALL: &'static [ResourceKind] = &[ $( ResourceKind::$variant, )* ];

            /// The API kind name (`Job`).
            pub fn kind_name(self) -> &'static str {
                match self {
                    $( ResourceKind::$variant => <$ty as k8s_openapi::Resource>::KIND, )*
                }
            }

            /// The API group (`batch`; empty for the core group).
            pub fn group(self) -> &'static str {
                match self {
                    $( ResourceKind::$variant => <$ty as k8s_openapi::Resource>::GROUP, )*
                }
            }

            /// The API version within the group (`v1`).
            pub fn version(self) -> &'static str {
                match self {
                    $( ResourceKind::$variant => <$ty as k8s_openapi::Resource>::VERSION, )*
                }
            }

            /// `apiVersion` as written in objects (`batch/v1`, or `v1` for core).
            pub fn api_version(self) -> &'static str {
                match self {
                    $( ResourceKind::$variant => <$ty as k8s_openapi::Resource>::API_VERSION, )*
                }
            }

            /// The plural resource name used in URLs (`jobs`).
            pub fn plural(self) -> &'static str {
                match self {
                    $( ResourceKind::$variant => <$ty as k8s_openapi::Resource>::URL_PATH_SEGMENT, )*
                }
            }

            pub fn namespaced(self) -> bool {
                match self {
                    $( ResourceKind::$variant => std::any::TypeId::of::<<$ty as k8s_openapi::Resource>::Scope>()
                        == std::any::TypeId::of::<k8s_openapi::NamespaceResourceScope>(), )*
                }
            }
        }

        /// A stored object of any kind.
        #[derive(Clone, Debug, PartialEq)]
        pub enum KubeObject {
            $( $variant($ty), )*
        }

        impl KubeObject {
            pub fn kind(&self) -> ResourceKind {
                match self {
                    $( KubeObject::$variant(_) => ResourceKind::$variant, )*
                }
            }

            pub fn meta(&self) -> &ObjectMeta {
                match self {
                    $( KubeObject::$variant(o) => &o.metadata, )*
                }
            }

            pub fn meta_mut(&mut self) -> &mut ObjectMeta {
                match self {
                    $( KubeObject::$variant(o) => &mut o.metadata, )*
                }
            }

            /// Decodes JSON of the given kind. `apiVersion` and `kind` may be absent (they
            /// are filled in); if present they must match, as upstream's decoder demands.
            pub fn from_value(kind: ResourceKind, mut value: serde_json::Value) -> Result<KubeObject, DecodeError> {
                fill_type_meta(kind, &mut value)?;
                match kind {
                    $( ResourceKind::$variant => serde_json::from_value::<$ty>(value)
                        .map(KubeObject::$variant)
                        .map_err(|e| DecodeError::Malformed { kind: kind.kind_name(), message: e.to_string() }), )*
                }
            }

            /// Encodes to a JSON value with `apiVersion` and `kind`.
            pub fn to_value(&self) -> serde_json::Value {
                let result = match self {
                    $( KubeObject::$variant(o) => serde_json::to_value(o), )*
                };
                // Serialising a k8s-openapi struct cannot fail: every field is plain data.
                result.unwrap_or(serde_json::Value::Null)
            }

            /// Encodes to JSON bytes with `apiVersion` and `kind`.
            pub fn to_json_vec(&self) -> Vec<u8> {
                let result = match self {
                    $( KubeObject::$variant(o) => serde_json::to_vec(o), )*
                };
                result.unwrap_or_default()
            }

            /// Decodes JSON bytes of the given kind.
            pub fn from_json_slice(kind: ResourceKind, bytes: &[u8]) -> Result<KubeObject, DecodeError> {
                let value: serde_json::Value = serde_json::from_slice(bytes)
                    .map_err(|e| DecodeError::Malformed { kind: kind.kind_name(), message: e.to_string() })?;
                KubeObject::from_value(kind, value)
            }
        }

        $(
            impl From<$ty> for KubeObject {
                fn from(o: $ty) -> KubeObject {
                    KubeObject::$variant(o)
                }
            }

            impl TypedObject for $ty {
                const KIND: ResourceKind = ResourceKind::$variant;

                fn peek(object: &KubeObject) -> Option<&Self> {
                    match object {
                        KubeObject::$variant(o) => Some(o),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }

                fn peek_mut(object: &mut KubeObject) -> Option<&mut Self> {
                    match object {
                        KubeObject::$variant(o) => Some(o),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }

                fn take(object: KubeObject) -> Option<Self> {
                    match object {
                        KubeObject::$variant(o) => Some(o),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }
            }
        )*
    };
}

kube_kinds! {
    Namespace => Namespace,
    Node => Node,
    Pod => Pod,
    Event => Event,
    ServiceAccount => ServiceAccount,
    PersistentVolumeClaim => PersistentVolumeClaim,
    PersistentVolume => PersistentVolume,
    ResourceQuota => ResourceQuota,
    LimitRange => LimitRange,
    ConfigMap => ConfigMap,
    Secret => Secret,
    Job => Job,
    CronJob => CronJob,
    Lease => Lease,
    MutatingWebhookConfiguration => MutatingWebhookConfiguration,
    ValidatingWebhookConfiguration => ValidatingWebhookConfiguration,
    Role => Role,
    ClusterRole => ClusterRole,
    RoleBinding => RoleBinding,
    ClusterRoleBinding => ClusterRoleBinding,
    PodDisruptionBudget => PodDisruptionBudget,
}

/// A k8s-openapi struct that is one of the [`KubeObject`] variants.
pub trait TypedObject: Sized + Clone + Into<KubeObject> {
    const KIND: ResourceKind;
    fn peek(object: &KubeObject) -> Option<&Self>;
    fn peek_mut(object: &mut KubeObject) -> Option<&mut Self>;
    fn take(object: KubeObject) -> Option<Self>;
}

/// A body that cannot be turned into an object of the expected kind.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{kind} in version \"{version}\" cannot be handled as a {kind}: {message}")]
    WrongType {
        kind: &'static str,
        version: &'static str,
        message: String,
    },
    #[error("{kind} cannot be decoded: {message}")]
    Malformed { kind: &'static str, message: String },
    #[error("the body is not a JSON object")]
    NotAnObject,
}

fn fill_type_meta(kind: ResourceKind, value: &mut serde_json::Value) -> Result<(), DecodeError> {
    let map = value.as_object_mut().ok_or(DecodeError::NotAnObject)?;
    for (field, expected) in [
        ("apiVersion", kind.api_version()),
        ("kind", kind.kind_name()),
    ] {
        match map.get(field) {
            None | Some(serde_json::Value::Null) => {
                map.insert(field.to_string(), expected.into());
            }
            Some(serde_json::Value::String(s)) if s == expected => {}
            Some(other) => {
                return Err(DecodeError::WrongType {
                    kind: kind.kind_name(),
                    version: kind.version(),
                    message: format!("expected {field} {expected:?}, got {other}"),
                });
            }
        }
    }
    Ok(())
}

impl KubeObject {
    pub fn key(&self) -> ObjectKey {
        let meta = self.meta();
        ObjectKey::new(
            self.kind(),
            meta.namespace.as_deref().unwrap_or(""),
            meta.name.as_deref().unwrap_or(""),
        )
    }

    pub fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or("")
    }

    pub fn namespace(&self) -> &str {
        self.meta().namespace.as_deref().unwrap_or("")
    }

    pub fn uid(&self) -> Uid {
        Uid(self.meta().uid.clone().unwrap_or_default())
    }

    /// The stored revision, if the object came from the store and carries a valid one.
    pub fn revision(&self) -> Option<Revision> {
        self.meta()
            .resource_version
            .as_deref()
            .and_then(|rv| rv.parse().ok())
    }

    pub fn set_revision(&mut self, revision: Revision) {
        self.meta_mut().resource_version = Some(revision.to_string());
    }

    pub fn as_typed<T: TypedObject>(&self) -> Option<&T> {
        T::peek(self)
    }

    pub fn as_typed_mut<T: TypedObject>(&mut self) -> Option<&mut T> {
        T::peek_mut(self)
    }

    pub fn into_typed<T: TypedObject>(self) -> Option<T> {
        T::take(self)
    }

    pub fn is_being_deleted(&self) -> bool {
        self.meta().deletion_timestamp.is_some()
    }

    pub fn has_finalizer(&self, finalizer: &str) -> bool {
        self.meta()
            .finalizers
            .as_ref()
            .is_some_and(|f| f.iter().any(|x| x == finalizer))
    }

    /// The owner reference with `controller: true`, if any.
    pub fn controller_ref(
        &self,
    ) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference> {
        self.meta()
            .owner_references
            .as_ref()?
            .iter()
            .find(|r| r.controller == Some(true))
    }

    /// The status part as JSON, used by the status subresource and no-op detection.
    pub fn status_value(&self) -> serde_json::Value {
        self.to_value()
            .get("status")
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }
}

/// The identity of a stored object: kind, namespace ("" for cluster-scoped kinds) and name.
/// Ordered by kind, then namespace, then name, which is the store's key order, so a kind or
/// a namespace of a kind is one contiguous range.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub kind: ResourceKind,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(kind: ResourceKind, namespace: &str, name: &str) -> Self {
        ObjectKey {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    pub fn cluster(kind: ResourceKind, name: &str) -> Self {
        Self::new(kind, "", name)
    }
}

impl fmt::Display for ObjectKey {
    /// `jobs/ns/name` or `nodes/name`: unambiguous in logs and traces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.kind.plural(), self.name)
        } else {
            write!(f, "{}/{}/{}", self.kind.plural(), self.namespace, self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_report_upstream_group_version_and_scope() {
        assert_eq!(ResourceKind::Job.api_version(), "batch/v1");
        assert_eq!(ResourceKind::Job.plural(), "jobs");
        assert!(ResourceKind::Job.namespaced());
        assert!(!ResourceKind::Node.namespaced());
        assert_eq!(ResourceKind::Pod.group(), "");
        assert_eq!(
            ResourceKind::MutatingWebhookConfiguration.group(),
            "admissionregistration.k8s.io"
        );
    }

    #[test]
    fn decoding_fills_missing_type_meta_and_rejects_a_mismatch() {
        let job = KubeObject::from_value(
            ResourceKind::Job,
            json!({"metadata": {"name": "a", "namespace": "n"}}),
        )
        .unwrap();
        assert_eq!(job.key(), ObjectKey::new(ResourceKind::Job, "n", "a"));
        assert_eq!(job.to_value()["kind"], "Job");

        let err = KubeObject::from_value(
            ResourceKind::Job,
            json!({"kind": "Pod", "apiVersion": "v1", "metadata": {}}),
        )
        .unwrap_err();
        assert!(matches!(err, DecodeError::WrongType { .. }));
    }

    #[test]
    fn typed_access_returns_the_struct_of_the_right_kind_only() {
        let pod: KubeObject = Pod::default().into();
        assert!(pod.as_typed::<Pod>().is_some());
        assert!(pod.as_typed::<Job>().is_none());
    }
}
