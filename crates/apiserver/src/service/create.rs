//! Create (POST): namespace and name resolution, generateName, uid and
//! creationTimestamp, admission, registry strategy, and a compare-and-swap create (absent
//! key) in the store. Dry runs do everything but the write.

use corral_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use corral_api::{ApiError, Backing, KubeObject, ResourceKind};
use corral_core::clock::truncate_to_seconds;
use corral_store::{Compare, JsonBytes, Representation, StoreError, TxnOp, TxnOutcome};
use serde_json::Value;

use super::admission::{AdmissionRequest, Admitted, Commit, CommitOutcome, Operation};
use super::decode::{decode_checked, enforce_field_validation};
use super::types::{
    DecodedBody, ServedBody, ServedObject, Target, UserInfo, WriteOptions, WriteResult,
};
use super::{ApiService, authz, blocking, events_view, require_verb, store_error, strategy};

/// Why a create's store write did not happen.
enum CreateFailure {
    Exists,
    /// A compare admission added (a quota's revision) failed: admit again.
    ChargeChanged,
    Store(StoreError),
}

/// Re-admissions after a quota changed between admission and the write.
const QUOTA_RETRIES: usize = 3;

/// Upstream: generated names are at most 63 characters (58 of prefix + 5 random).
const GENERATED_PREFIX_LENGTH_MAX: usize = 58;

impl ApiService {
    /// POST: creates the object in `body` in `target`'s collection.
    pub async fn create(
        &self,
        user: &UserInfo,
        target: &Target,
        body: DecodedBody,
        options: &WriteOptions,
    ) -> Result<WriteResult, ApiError> {
        let (service, user, target, options) =
            (self.clone(), user.clone(), target.clone(), options.clone());
        blocking(move || service.create_blocking(&user, &target, body, &options)).await
    }

    pub(crate) fn create_blocking(
        &self,
        user: &UserInfo,
        target: &Target,
        body: DecodedBody,
        options: &WriteOptions,
    ) -> Result<WriteResult, ApiError> {
        let resource = target.resource;
        require_verb(resource, "create")?;
        let Some(kind) = resource.stored_kind() else {
            return self.create_virtual(user, target, body.value);
        };
        let mut body = body;
        if resource.backing == Backing::EventsV1View {
            body.value = events_view::from_events_v1(body.value);
        }
        let (mut object, problems) = decode_checked(kind, body, options.field_validation)?;
        let mut warnings = enforce_field_validation(kind, options.field_validation, problems)?;
        resolve_namespace(&mut object, target)?;
        if object
            .meta()
            .resource_version
            .as_deref()
            .is_some_and(|rv| !rv.is_empty())
        {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let result = self.create_object(user, target, object, options, &mut warnings)?;
        if !options.dry_run && kind == ResourceKind::Namespace {
            self.after_namespace_created(result.json().as_ref());
        }
        Ok(WriteResult {
            object: result,
            created: true,
            changed: true,
            warnings,
        })
    }

    /// Name generation, system fields, admission (with the registry strategy inside) and
    /// the store write; retried with a fresh name when a generated one is taken, and with
    /// fresh admission when a quota charged alongside changed.
    pub(crate) fn create_object(
        &self,
        user: &UserInfo,
        target: &Target,
        object: KubeObject,
        options: &WriteOptions,
        warnings: &mut Vec<String>,
    ) -> Result<ServedObject, ApiError> {
        let resource = target.resource;
        let prefix = object.meta().generate_name.clone().unwrap_or_default();
        let generate = object.name().is_empty() && !prefix.is_empty();
        let attempts = self.inner.config.generate_name_attempts.max(1) + QUOTA_RETRIES;
        let mut last_key = None;
        for _ in 0..attempts {
            let mut candidate = object.clone();
            if generate {
                candidate.meta_mut().name = Some(generated_name(&prefix, &self.name_suffix()));
            }
            self.fill_create_fields(&mut candidate);
            // The store write happens inside admission so a quota charge conflict is
            // re-charged by the chain (without calling webhooks again).
            let mut written: Option<Result<corral_store::EncodedObject, CreateFailure>> = None;
            let mut commit = |admitted: &Admitted| {
                let Some(candidate) = admitted.object.clone() else {
                    return CommitOutcome::Done;
                };
                match self.store_create(
                    candidate,
                    admitted.compares.clone(),
                    admitted.ops.clone(),
                    options.dry_run,
                ) {
                    Err(CreateFailure::ChargeChanged) => CommitOutcome::RetryQuota,
                    other => {
                        written = Some(other);
                        CommitOutcome::Done
                    }
                }
            };
            let admitted =
                self.admit_create(user, target, &object, candidate, options, &mut commit)?;
            let Some(candidate) = admitted.object else {
                return Err(ApiError::internal(
                    "admission returned no object for a create",
                ));
            };
            let key = candidate.key();
            let Some(written) = written else {
                return Err(ApiError::internal("admission did not commit the create"));
            };
            match written {
                Ok(encoded) => {
                    warnings.extend(admitted.warnings);
                    return Ok(ServedObject::encoded(resource, encoded));
                }
                Err(CreateFailure::Exists) if generate => last_key = Some(key),
                Err(CreateFailure::Exists) => {
                    return Err(ApiError::already_exists(
                        &resource.group_resource(),
                        &key.name,
                    ));
                }
                Err(CreateFailure::ChargeChanged) => last_key = Some(key),
                Err(CreateFailure::Store(e)) => return Err(store_error(resource, e)),
            }
        }
        let name = last_key.map(|k| k.name).unwrap_or_default();
        Err(ApiError::already_exists(&resource.group_resource(), &name))
    }

    /// uid and creationTimestamp (assigned here, not in the store, because Job selector
    /// defaulting needs the uid), and no deletion state.
    fn fill_create_fields(&self, object: &mut KubeObject) {
        let uid = self.next_uid();
        let now = truncate_to_seconds(self.now());
        let meta = object.meta_mut();
        meta.uid = Some(uid);
        meta.creation_timestamp = Some(Time(now));
        meta.deletion_timestamp = None;
        meta.deletion_grace_period_seconds = None;
        meta.resource_version = None;
        meta.managed_fields = None;
    }

    /// The admission chain for a create; `requested` is the object as the client sent it
    /// (its name is empty with `generateName`).
    fn admit_create(
        &self,
        user: &UserInfo,
        target: &Target,
        requested: &KubeObject,
        candidate: KubeObject,
        options: &WriteOptions,
        commit: Commit<'_>,
    ) -> Result<Admitted, ApiError> {
        let namespace = candidate.namespace().to_string();
        let request = AdmissionRequest {
            operation: Operation::Create,
            resource: target.resource,
            subresource: None,
            namespace: &namespace,
            name: requested.name(),
            user,
            dry_run: options.dry_run,
            old: None,
            field_manager: options.field_manager.as_deref(),
        };
        let mut prepare = |object: &mut KubeObject| strategy::prepare_create(object);
        self.inner.admission.admit_and_commit(
            &request,
            &self.view(),
            Some(candidate),
            &mut prepare,
            commit,
        )
    }

    /// The store write: a transaction that requires the key to be absent (and whatever
    /// admission charged alongside to be unchanged).
    fn store_create(
        &self,
        object: KubeObject,
        mut compares: Vec<Compare>,
        mut ops: Vec<TxnOp>,
        dry_run: bool,
    ) -> Result<corral_store::EncodedObject, CreateFailure> {
        let key = object.key();
        let store = self.objects();
        if dry_run {
            if store.get(&key).is_some() {
                return Err(CreateFailure::Exists);
            }
            return Ok(JsonBytes::encode_owned(object));
        }
        compares.insert(0, Compare::Absent(key.clone()));
        ops.insert(0, TxnOp::Put(object));
        match store.commit(compares, ops).map_err(CreateFailure::Store)? {
            TxnOutcome::Committed { results, .. } => results
                .into_iter()
                .next()
                .flatten()
                .map(|v| v.value)
                .ok_or(CreateFailure::Store(StoreError::NotFound(key))),
            TxnOutcome::CompareFailed { index: 0 } => Err(CreateFailure::Exists),
            TxnOutcome::CompareFailed { .. } => Err(CreateFailure::ChargeChanged),
        }
    }

    /// Reviews and other computed resources: answered, never stored.
    fn create_virtual(
        &self,
        user: &UserInfo,
        target: &Target,
        body: Value,
    ) -> Result<WriteResult, ApiError> {
        let resource = target.resource;
        let authorizer = self.inner.authorizer.as_ref();
        let value = match (resource.group, resource.resource) {
            ("authorization.k8s.io", "selfsubjectaccessreviews") => {
                authz::self_subject_access_review(authorizer, user, body)?
            }
            ("authorization.k8s.io", "selfsubjectrulesreviews") => {
                authz::self_subject_rules_review(authorizer, user, body)?
            }
            ("authentication.k8s.io", "selfsubjectreviews") => {
                authz::self_subject_review(user, body)?
            }
            _ => return Err(ApiError::method_not_allowed()),
        };
        Ok(WriteResult {
            object: ServedObject {
                resource,
                body: ServedBody::Value(value),
            },
            created: true,
            changed: true,
            warnings: Vec::new(),
        })
    }
}

/// The body's namespace against the URL's: filled in when empty, 400 when different;
/// cleared for cluster-scoped kinds.
pub(crate) fn resolve_namespace(object: &mut KubeObject, target: &Target) -> Result<(), ApiError> {
    if !target.resource.namespaced {
        object.meta_mut().namespace = None;
        return Ok(());
    }
    let url = target.namespace.as_deref().unwrap_or_default();
    if url.is_empty() {
        return Err(ApiError::bad_request(
            "the server could not find the requested resource: a namespace is required",
        ));
    }
    match object.meta().namespace.as_deref() {
        None | Some("") => object.meta_mut().namespace = Some(url.to_string()),
        Some(body) if body == url => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    Ok(())
}

/// `prefix` cut to upstream's bound (on a character boundary) plus the random suffix.
fn generated_name(prefix: &str, suffix: &str) -> String {
    let mut end = prefix.len().min(GENERATED_PREFIX_LENGTH_MAX);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}", &prefix[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_keep_upstreams_length_bound() {
        assert_eq!(generated_name(&"a".repeat(80), "bcdfg").len(), 63);
        assert_eq!(generated_name("job-", "bcdfg"), "job-bcdfg");
    }
}
