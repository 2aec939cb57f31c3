//! The admission seam. Every write passes [`Admission::admit`] (mutating, before the
//! strategy and validation) and [`Admission::validate`] (after them, just before the
//! store), like upstream's admission chain. The full chain (ServiceAccount, quota,
//! webhooks, RBAC) will come from corral-registry as a sans-IO flow; plug it in by
//! implementing [`Admission`] and passing it to `ApiService::with_admission`.
//!
//! Namespace lifecycle is built in ([`namespace_lifecycle`]): creating content in a
//! namespace that does not exist is 404 `namespaces "x" not found`, in one being
//! terminated 403 `unable to create new content in namespace x because it is being
//! terminated`, and the immortal namespaces cannot be deleted.

use corral_api::k8s_openapi::api::core::v1::Namespace;
use corral_api::{ApiError, GroupResource, KubeObject, ObjectKey, ResourceInfo, ResourceKind};

use super::types::UserInfo;

/// What a write does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    /// Subresource creations that are not object creations (binding, eviction).
    Connect,
}

/// Everything admission may look at.
#[derive(Clone, Copy, Debug)]
pub struct AdmissionRequest<'a> {
    pub operation: Operation,
    pub resource: &'static ResourceInfo,
    pub subresource: Option<&'a str>,
    pub namespace: &'a str,
    pub name: &'a str,
    pub user: &'a UserInfo,
    pub dry_run: bool,
    /// The stored object (update, delete).
    pub old: Option<&'a KubeObject>,
}

/// An admission chain. Implementations must be cheap and must not block for long: they
/// run inside the write path (on a blocking thread).
pub trait Admission: Send + Sync {
    /// Mutating admission: may change `object`. Warnings are returned to the client.
    fn admit(&self, request: &AdmissionRequest<'_>, object: &mut KubeObject) -> Result<Vec<String>, ApiError>;

    /// Validating admission on the final object (`None` for deletes).
    fn validate(&self, request: &AdmissionRequest<'_>, object: Option<&KubeObject>) -> Result<Vec<String>, ApiError>;
}

/// Admits everything: the chain until corral-registry provides one.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

impl Admission for AllowAll {
    fn admit(&self, _: &AdmissionRequest<'_>, _: &mut KubeObject) -> Result<Vec<String>, ApiError> {
        Ok(Vec::new())
    }

    fn validate(&self, _: &AdmissionRequest<'_>, _: Option<&KubeObject>) -> Result<Vec<String>, ApiError> {
        Ok(Vec::new())
    }
}

/// Namespaces that always exist and cannot be deleted (upstream's immortal namespaces).
pub const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// The namespace-lifecycle decision for a request; `lookup` reads a namespace from the
/// store.
pub fn namespace_lifecycle(
    request: &AdmissionRequest<'_>,
    lookup: impl Fn(&ObjectKey) -> Option<Namespace>,
) -> Result<(), ApiError> {
    let is_namespace = request.resource.stored_kind() == Some(ResourceKind::Namespace);
    if is_namespace && request.operation == Operation::Delete && IMMORTAL_NAMESPACES.contains(&request.name) {
        return Err(ApiError::forbidden(
            &request.resource.group_resource(),
            request.name,
            "this namespace may not be deleted",
        ));
    }
    let creates = matches!(request.operation, Operation::Create | Operation::Connect);
    if !creates || !request.resource.namespaced || request.namespace.is_empty() {
        return Ok(());
    }
    let key = ObjectKey::cluster(ResourceKind::Namespace, request.namespace);
    let Some(namespace) = lookup(&key) else {
        return Err(ApiError::not_found(&GroupResource::new("", "namespaces"), request.namespace));
    };
    let phase = namespace.status.as_ref().and_then(|s| s.phase.as_deref());
    if namespace.metadata.deletion_timestamp.is_some() || phase == Some("Terminating") {
        return Err(ApiError::forbidden(
            &request.resource.group_resource(),
            request.name,
            &format!(
                "unable to create new content in namespace {} because it is being terminated",
                request.namespace
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::k8s_openapi::api::core::v1::NamespaceStatus;
    use corral_api::resource::find_resource;

    fn request<'a>(user: &'a UserInfo, operation: Operation, namespace: &'a str) -> AdmissionRequest<'a> {
        AdmissionRequest {
            operation,
            resource: find_resource("batch", "v1", "jobs").unwrap(),
            subresource: None,
            namespace,
            name: "j",
            user,
            dry_run: false,
            old: None,
        }
    }

    #[test]
    fn creating_in_a_missing_namespace_is_not_found() {
        let user = UserInfo::anonymous();
        let err = namespace_lifecycle(&request(&user, Operation::Create, "nope"), |_| None).unwrap_err();
        assert_eq!(err.code, 404);
        assert_eq!(err.message, "namespaces \"nope\" not found");
    }

    #[test]
    fn creating_in_a_terminating_namespace_is_forbidden() {
        let user = UserInfo::anonymous();
        let terminating = Namespace {
            status: Some(NamespaceStatus {
                phase: Some("Terminating".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let err = namespace_lifecycle(&request(&user, Operation::Create, "x"), |_| Some(terminating.clone())).unwrap_err();
        assert_eq!(err.code, 403);
        assert_eq!(
            err.message,
            "jobs.batch \"j\" is forbidden: unable to create new content in namespace x because it is being terminated"
        );
        assert!(namespace_lifecycle(&request(&user, Operation::Update, "x"), |_| Some(terminating.clone())).is_ok());
    }
}
