//! Delete: propagation policies, graceful pod deletion, namespace termination and
//! collection deletes.
//!
//! - Background: the store deletes now (or marks, if the object has finalizers); the
//!   garbage collector removes dependents afterwards.
//! - Orphan / Foreground: the `orphan` / `foregroundDeletion` finalizer is added, then the
//!   store marks the object (`deletionTimestamp`); the garbage collector orphans or
//!   deletes the dependents and removes the finalizer, which deletes the object.
//! - Pods bound to a node are deleted gracefully (`deletionTimestamp` = now + grace; the
//!   node agent finishes); unbound or terminal pods are deleted at once.
//! - Namespaces turn `Terminating` (phase and `deletionTimestamp`); the namespace
//!   controller deletes their content and then the namespace.

use corral_api::k8s_openapi::api::core::v1::Pod;
use corral_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use corral_api::{ApiError, KubeObject, ResourceKind};
use corral_core::clock::truncate_to_seconds;
use corral_core::{Preconditions, Propagation};
use corral_store::{
    Compare, DeleteOptions, JsonBytes, Representation, StoreError, TxnOp, TxnOutcome,
};

use super::admission::{AdmissionRequest, Operation};
use super::types::{DeleteRequest, DeleteResult, ListOptions, ServedObject, Target, UserInfo};
use super::{ApiService, blocking, require_verb, store_error, strategy};

pub(crate) const FINALIZER_ORPHAN: &str = "orphan";
pub(crate) const FINALIZER_FOREGROUND: &str = "foregroundDeletion";
/// Upstream's default pod `terminationGracePeriodSeconds`.
const POD_GRACE_DEFAULT: i64 = 30;
/// Compare-and-swap attempts of the namespace termination write.
const CAS_ATTEMPTS: usize = 64;

impl ApiService {
    /// DELETE of one object.
    pub async fn delete(
        &self,
        user: &UserInfo,
        target: &Target,
        request: &DeleteRequest,
    ) -> Result<DeleteResult, ApiError> {
        let (service, user, target, request) =
            (self.clone(), user.clone(), target.clone(), request.clone());
        blocking(move || service.delete_blocking(&user, &target, &request)).await
    }

    /// DELETE of a collection: lists with the selectors, then deletes each object.
    pub async fn delete_collection(
        &self,
        user: &UserInfo,
        target: &Target,
        list: &ListOptions,
        request: &DeleteRequest,
    ) -> Result<Vec<ServedObject>, ApiError> {
        let (service, user, target, list, request) = (
            self.clone(),
            user.clone(),
            target.clone(),
            list.clone(),
            request.clone(),
        );
        blocking(move || {
            require_verb(target.resource, "deletecollection")?;
            let page = service.list(
                &target,
                &ListOptions {
                    limit: None,
                    continue_token: None,
                    ..list
                },
            )?;
            let mut deleted = Vec::new();
            for object in page.objects()? {
                let one = Target::object(target.resource, Some(object.namespace()), object.name());
                match service.delete_blocking(&user, &one, &request) {
                    Ok(result) => deleted.push(result.object),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(deleted)
        })
        .await
    }

    pub(crate) fn delete_blocking(
        &self,
        user: &UserInfo,
        target: &Target,
        request: &DeleteRequest,
    ) -> Result<DeleteResult, ApiError> {
        let resource = target.resource;
        require_verb(resource, "delete")?;
        let key = target.key().ok_or_else(ApiError::method_not_allowed)?;
        let stored = self
            .objects()
            .get(&key)
            .ok_or_else(|| ApiError::not_found(&resource.group_resource(), &key.name))?;
        let current = JsonBytes::decode(&stored.value).map_err(|e| store_error(resource, e))?;
        let admission = AdmissionRequest {
            operation: Operation::Delete,
            resource,
            subresource: None,
            namespace: &key.namespace,
            name: &key.name,
            user,
            dry_run: request.dry_run,
            old: Some(&current),
            field_manager: None,
        };
        let warnings = self
            .inner
            .admission
            .admit(&admission, &self.view(), None, &mut |_| Ok(Vec::new()))?
            .warnings;
        if key.kind == ResourceKind::Namespace {
            return self.terminate_namespace(target, &current, request, warnings);
        }
        let propagation = request
            .propagation
            .unwrap_or_else(|| strategy::default_propagation(key.kind));
        let finalizer = match propagation {
            Propagation::Background => None,
            Propagation::Orphan => Some(FINALIZER_ORPHAN),
            Propagation::Foreground => Some(FINALIZER_FOREGROUND),
        };
        if let Some(finalizer) = finalizer.filter(|_| !current.is_being_deleted()) {
            self.add_finalizer(target, finalizer, &request.preconditions, request.dry_run)?;
        }
        if request.dry_run && finalizer.is_some() && !current.is_being_deleted() {
            let marked = dry_run_mark(&current, finalizer, self.now());
            return Ok(DeleteResult {
                object: ServedObject::encoded(resource, JsonBytes::encode_owned(marked)),
                deleted: false,
                warnings,
            });
        }
        let options = DeleteOptions {
            preconditions: request.preconditions.clone(),
            grace_period_seconds: grace_period(&current, request.grace_period_seconds),
        };
        let outcome = self
            .objects()
            .delete(&key, &options, self.now(), request.dry_run)
            .map_err(|e| store_error(resource, e))?;
        Ok(DeleteResult {
            object: ServedObject::encoded(resource, outcome.value.value),
            deleted: outcome.deleted,
            warnings,
        })
    }

    fn add_finalizer(
        &self,
        target: &Target,
        finalizer: &str,
        preconditions: &Preconditions,
        dry_run: bool,
    ) -> Result<(), ApiError> {
        if dry_run {
            return Ok(());
        }
        let key = target.key().ok_or_else(ApiError::method_not_allowed)?;
        let mut add = |current: &KubeObject| -> Result<KubeObject, ApiError> {
            let mut object = current.clone();
            let finalizers = object.meta_mut().finalizers.get_or_insert_with(Vec::new);
            if !finalizers.iter().any(|f| f == finalizer) {
                finalizers.push(finalizer.to_string());
            }
            Ok(object)
        };
        self.objects()
            .guaranteed_update(&key, preconditions, self.now(), false, &mut add)
            .map(|_| ())
            .map_err(|e| store_error(target.resource, e))
    }

    /// Namespace deletion: phase `Terminating` and `deletionTimestamp`, written with a
    /// compare-and-swap (the store keeps deletion fields out of ordinary updates).
    fn terminate_namespace(
        &self,
        target: &Target,
        current: &KubeObject,
        request: &DeleteRequest,
        warnings: Vec<String>,
    ) -> Result<DeleteResult, ApiError> {
        let resource = target.resource;
        let key = current.key();
        for _ in 0..CAS_ATTEMPTS {
            let stored = self
                .objects()
                .get(&key)
                .ok_or_else(|| ApiError::not_found(&resource.group_resource(), &key.name))?;
            let object = JsonBytes::decode(&stored.value).map_err(|e| store_error(resource, e))?;
            check_preconditions(&object, stored.mod_revision, &request.preconditions, target)?;
            if object.is_being_deleted() {
                return Ok(DeleteResult {
                    object: ServedObject::encoded(resource, stored.value),
                    deleted: false,
                    warnings,
                });
            }
            let marked = mark_namespace_terminating(&object, self.now());
            if request.dry_run {
                return Ok(DeleteResult {
                    object: ServedObject::encoded(resource, JsonBytes::encode_owned(marked)),
                    deleted: false,
                    warnings,
                });
            }
            let txn = self
                .objects()
                .commit(
                    vec![Compare::ModRevision(key.clone(), stored.mod_revision)],
                    vec![TxnOp::Put(marked)],
                )
                .map_err(|e| store_error(resource, e))?;
            if let TxnOutcome::Committed { results, .. } = txn {
                let value = results
                    .into_iter()
                    .next()
                    .flatten()
                    .ok_or_else(|| store_error(resource, StoreError::NotFound(key.clone())))?;
                return Ok(DeleteResult {
                    object: ServedObject::encoded(resource, value.value),
                    deleted: false,
                    warnings,
                });
            }
            std::thread::yield_now();
        }
        Err(ApiError::conflict_modified(
            &resource.group_resource(),
            &key.name,
        ))
    }
}

fn check_preconditions(
    object: &KubeObject,
    revision: corral_api::Revision,
    preconditions: &Preconditions,
    target: &Target,
) -> Result<(), ApiError> {
    let resource = target.resource.group_resource();
    if let Some(uid) = &preconditions.uid
        && *uid != object.uid()
    {
        let detail = format!(
            "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
            object.uid()
        );
        return Err(ApiError::conflict(&resource, object.name(), &detail));
    }
    if let Some(expected) = preconditions.resource_version
        && expected != revision
    {
        let detail = format!(
            "Precondition failed: ResourceVersion in precondition: {expected}, ResourceVersion in object meta: {revision}"
        );
        return Err(ApiError::conflict(&resource, object.name(), &detail));
    }
    Ok(())
}

fn mark_namespace_terminating(object: &KubeObject, now: corral_core::Timestamp) -> KubeObject {
    let mut marked = object.clone();
    let meta = marked.meta_mut();
    meta.deletion_timestamp = Some(Time(truncate_to_seconds(now)));
    meta.deletion_grace_period_seconds = Some(0);
    if let KubeObject::Namespace(ns) = &mut marked {
        ns.status.get_or_insert_with(Default::default).phase = Some("Terminating".into());
    }
    marked
}

/// What a dry-run Orphan/Foreground delete would store.
fn dry_run_mark(
    object: &KubeObject,
    finalizer: Option<&str>,
    now: corral_core::Timestamp,
) -> KubeObject {
    let mut marked = object.clone();
    let meta = marked.meta_mut();
    if let Some(finalizer) = finalizer {
        meta.finalizers
            .get_or_insert_with(Vec::new)
            .push(finalizer.to_string());
    }
    meta.deletion_timestamp = Some(Time(truncate_to_seconds(now)));
    meta.deletion_grace_period_seconds = Some(0);
    marked
}

/// The grace period of a delete: only pods have one (upstream `CheckGracefulDelete`):
/// unbound and terminal pods go at once, others get the requested period or their
/// `terminationGracePeriodSeconds`.
fn grace_period(object: &KubeObject, requested: Option<i64>) -> Option<i64> {
    let pod = object.as_typed::<Pod>()?;
    let spec = pod.spec.as_ref();
    let bound = spec
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if !bound || matches!(phase, Some("Succeeded") | Some("Failed")) {
        return Some(0);
    }
    let default = spec
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(POD_GRACE_DEFAULT);
    Some(requested.unwrap_or(default).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(node: Option<&str>, phase: &str) -> KubeObject {
        KubeObject::from_value(
            ResourceKind::Pod,
            json!({"metadata": {"name": "p"}, "spec": {"nodeName": node, "containers": [], "terminationGracePeriodSeconds": 7}, "status": {"phase": phase}}),
        )
        .unwrap()
    }

    #[test]
    fn only_bound_running_pods_are_deleted_gracefully() {
        assert_eq!(grace_period(&pod(None, "Pending"), Some(30)), Some(0));
        assert_eq!(grace_period(&pod(Some("n"), "Succeeded"), None), Some(0));
        assert_eq!(grace_period(&pod(Some("n"), "Running"), None), Some(7));
        assert_eq!(grace_period(&pod(Some("n"), "Running"), Some(1)), Some(1));
        let job =
            KubeObject::from_value(ResourceKind::Job, json!({"metadata": {"name": "j"}})).unwrap();
        assert_eq!(grace_period(&job, Some(5)), None);
    }
}
