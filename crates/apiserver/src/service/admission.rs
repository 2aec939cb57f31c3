//! The admission seam. Every write (create, update, patch, delete, and the binding and
//! eviction subresources) passes one [`Admission::admit`] call, which runs the whole chain
//! as upstream orders it: mutating plugins, then the registry's defaults, strategy and
//! validation (handed in as `prepare`, to be called exactly once on the object), then
//! validating plugins. What it returns ([`Admitted`]) is what gets stored, plus store
//! compares and writes to commit atomically with a created object (quota charges).
//!
//! [`NamespaceLifecycle`] is the minimal chain (tests, embedded uses); production servers
//! use [`super::admission_chain::AdmissionChain`], which drives corral-registry's
//! `AdmissionFlow`. NamespaceLifecycle: creating content in a namespace that does not exist is 404 `namespaces "x" not
//! found`, in one being terminated 403 `unable to create new content in namespace x
//! because it is being terminated`, and the immortal namespaces cannot be deleted.

use std::sync::Arc;

use corral_api::k8s_openapi::api::core::v1::Namespace;
use corral_api::{ApiError, GroupResource, KubeObject, ObjectKey, ResourceInfo, ResourceKind};
use corral_store::{Compare, TxnOp};

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

/// Everything admission may look at besides the object.
#[derive(Clone, Copy, Debug)]
pub struct AdmissionRequest<'a> {
    pub operation: Operation,
    pub resource: &'static ResourceInfo,
    pub subresource: Option<&'a str>,
    pub namespace: &'a str,
    /// The name as requested (empty for a create with `generateName`, even though the
    /// object already carries the generated name, as upstream).
    pub name: &'a str,
    pub user: &'a UserInfo,
    pub dry_run: bool,
    /// The stored object (update, delete, connect).
    pub old: Option<&'a KubeObject>,
    pub field_manager: Option<&'a str>,
}

/// The chain's verdict for an admitted request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Admitted {
    /// The object to store (mutated and prepared); `None` for delete and connect.
    pub object: Option<KubeObject>,
    /// `Warning` headers.
    pub warnings: Vec<String>,
    /// Extra compares and writes committed in the same transaction as a created object
    /// (quota charges with their revision preconditions); a failed extra compare re-runs
    /// admission. Not supported for updates yet (ignored there).
    pub compares: Vec<Compare>,
    pub ops: Vec<TxnOp>,
    /// Audit annotations (`failed-open.validating.webhook.admission.k8s.io/round_0_index_0`,
    /// webhooks' own annotations).
    pub audit_annotations: std::collections::BTreeMap<String, String>,
}

/// What the caller's store write made of an admitted request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Written, or failed for a reason the caller handles itself: admission is over.
    Done,
    /// A compare admission added (a quota charge's revision) failed: charge again from
    /// fresh quotas and commit again.
    RetryQuota,
}

/// The store write of an admitted request (see [`Admission::admit_and_commit`]).
pub type Commit<'c> = &'c mut dyn FnMut(&Admitted) -> CommitOutcome;

/// Re-admissions of the default [`Admission::admit_and_commit`] after a charge changed.
const DEFAULT_QUOTA_RETRIES: usize = 3;

/// Read access to the cluster for admission plugins (the latest durable state).
pub trait ClusterView {
    fn get(&self, key: &ObjectKey) -> Option<Arc<KubeObject>>;
    /// Every object of `kind` (in `namespace`, or everywhere).
    fn list(&self, kind: ResourceKind, namespace: Option<&str>) -> Vec<Arc<KubeObject>>;
}

/// The registry step the chain runs between mutating and validating plugins; returns the
/// strategy's warnings.
pub type Prepare<'p> = &'p mut dyn FnMut(&mut KubeObject) -> Result<Vec<String>, ApiError>;

/// An admission chain. `admit` runs on a blocking thread inside the write path.
pub trait Admission: Send + Sync {
    fn admit(
        &self,
        request: &AdmissionRequest<'_>,
        view: &dyn ClusterView,
        object: Option<KubeObject>,
        prepare: Prepare<'_>,
    ) -> Result<Admitted, ApiError>;

    /// Admits and hands the result to `commit` (the store write); when `commit` reports a
    /// quota charge conflict, charges again and commits again, within the chain's bound.
    /// The default re-runs [`Admission::admit`] a few times; chains with quota recompute
    /// only the charges (upstream retries quota without calling webhooks again).
    fn admit_and_commit(
        &self,
        request: &AdmissionRequest<'_>,
        view: &dyn ClusterView,
        object: Option<KubeObject>,
        prepare: Prepare<'_>,
        commit: Commit<'_>,
    ) -> Result<Admitted, ApiError> {
        let mut last = None;
        for _ in 0..=DEFAULT_QUOTA_RETRIES {
            let admitted = self.admit(request, view, object.clone(), prepare)?;
            match commit(&admitted) {
                CommitOutcome::Done => return Ok(admitted),
                CommitOutcome::RetryQuota => last = Some(admitted),
            }
        }
        let name = last
            .and_then(|a| a.ops.into_iter().next())
            .and_then(|op| match op {
                TxnOp::Put(quota) => Some(quota.name().to_string()),
                _ => None,
            })
            .unwrap_or_default();
        Err(ApiError::conflict_modified(
            &GroupResource::new("", "resourcequotas"),
            &name,
        ))
    }
}

/// The built-in chain: namespace lifecycle, then the registry step.
#[derive(Clone, Copy, Debug, Default)]
pub struct NamespaceLifecycle;

impl Admission for NamespaceLifecycle {
    fn admit(
        &self,
        request: &AdmissionRequest<'_>,
        view: &dyn ClusterView,
        object: Option<KubeObject>,
        prepare: Prepare<'_>,
    ) -> Result<Admitted, ApiError> {
        namespace_lifecycle(request, |key| {
            view.get(key)
                .and_then(|o| o.as_typed::<Namespace>().cloned())
        })?;
        let mut object = object;
        let warnings = match object.as_mut() {
            Some(object) => prepare(object)?,
            None => Vec::new(),
        };
        Ok(Admitted {
            object,
            warnings,
            ..Admitted::default()
        })
    }
}

/// Namespaces that always exist and cannot be deleted (upstream's immortal namespaces).
pub const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// The namespace-lifecycle decision for a request; `lookup` reads a namespace.
pub fn namespace_lifecycle(
    request: &AdmissionRequest<'_>,
    lookup: impl Fn(&ObjectKey) -> Option<Namespace>,
) -> Result<(), ApiError> {
    let is_namespace = request.resource.stored_kind() == Some(ResourceKind::Namespace);
    if is_namespace
        && request.operation == Operation::Delete
        && IMMORTAL_NAMESPACES.contains(&request.name)
    {
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
        return Err(ApiError::not_found(
            &GroupResource::new("", "namespaces"),
            request.namespace,
        ));
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

    fn request<'a>(
        user: &'a UserInfo,
        operation: Operation,
        namespace: &'a str,
    ) -> AdmissionRequest<'a> {
        AdmissionRequest {
            operation,
            resource: find_resource("batch", "v1", "jobs").unwrap(),
            subresource: None,
            namespace,
            name: "j",
            user,
            dry_run: false,
            old: None,
            field_manager: None,
        }
    }

    #[test]
    fn creating_in_a_missing_namespace_is_not_found() {
        let user = UserInfo::anonymous();
        let err =
            namespace_lifecycle(&request(&user, Operation::Create, "nope"), |_| None).unwrap_err();
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
        let err = namespace_lifecycle(&request(&user, Operation::Create, "x"), |_| {
            Some(terminating.clone())
        })
        .unwrap_err();
        assert_eq!(err.code, 403);
        assert_eq!(
            err.message,
            "jobs.batch \"j\" is forbidden: unable to create new content in namespace x because it is being terminated"
        );
        assert!(
            namespace_lifecycle(&request(&user, Operation::Update, "x"), |_| Some(
                terminating.clone()
            ))
            .is_ok()
        );
    }
}
