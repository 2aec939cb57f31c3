//! Update (PUT) and patch (PATCH) of the main resource and its `status` (or namespace
//! `finalize`) subresource: one read-modify-write through the store's
//! `guaranteed_update` (compare-and-swap, retried on races; a body `resourceVersion` that
//! differs from the stored one is a 409), with admission and the registry strategy inside
//! the mutation. A result equal to the stored object writes nothing (no-op).

use corral_api::status::ErrorCause;
use corral_api::{ApiError, Backing, KubeObject, ResourceKind, StatusReason};
use corral_core::Preconditions;
use corral_patch::{PatchError, PatchType, apply_patch};
use corral_store::UpdateOutcome;

use super::admission::{AdmissionRequest, Operation};
use super::create::resolve_namespace;
use super::decode::{decode_checked, enforce_field_validation};
use super::types::{DecodedBody, Part, ServedObject, Target, UserInfo, WriteOptions, WriteResult};
use super::{
    ApiService, blocking, events_view, require_subresource, require_verb, served_value,
    store_error, strategy,
};

impl ApiService {
    /// PUT: replaces the object (or its status) with `body`.
    pub async fn update(
        &self,
        user: &UserInfo,
        target: &Target,
        part: Part,
        body: DecodedBody,
        options: &WriteOptions,
    ) -> Result<WriteResult, ApiError> {
        let (service, user, target, options) =
            (self.clone(), user.clone(), target.clone(), options.clone());
        blocking(move || service.update_blocking(&user, &target, part, body, &options)).await
    }

    /// PATCH: applies `patch` (of `patch_type`) to the object (or its status).
    pub async fn patch(
        &self,
        user: &UserInfo,
        target: &Target,
        part: Part,
        patch_type: PatchType,
        patch: Vec<u8>,
        options: &WriteOptions,
    ) -> Result<WriteResult, ApiError> {
        let (service, user, target, options) =
            (self.clone(), user.clone(), target.clone(), options.clone());
        blocking(move || service.patch_blocking(&user, &target, part, patch_type, &patch, &options))
            .await
    }

    pub(crate) fn update_blocking(
        &self,
        user: &UserInfo,
        target: &Target,
        part: Part,
        body: DecodedBody,
        options: &WriteOptions,
    ) -> Result<WriteResult, ApiError> {
        let kind = writable_kind(target, part, "update")?;
        let mut body = body;
        if target.resource.backing == Backing::EventsV1View {
            body.value = events_view::from_events_v1(body.value);
        }
        let (mut object, problems) = decode_checked(kind, body, options.field_validation)?;
        let mut warnings = enforce_field_validation(kind, options.field_validation, problems)?;
        check_identity(&mut object, target)?;
        match self.write_existing(user, target, part, options, &mut warnings, &mut |_| {
            Ok(object.clone())
        }) {
            Ok(outcome) => Ok(write_result(target, outcome, warnings)),
            Err(e) if e.is_not_found() && part == Part::Main && creates_on_update(&object) => {
                let created = self.create_object(user, target, object, options, &mut warnings)?;
                Ok(WriteResult {
                    object: created,
                    created: true,
                    changed: true,
                    warnings,
                })
            }
            Err(e) => Err(e),
        }
    }

    pub(crate) fn patch_blocking(
        &self,
        user: &UserInfo,
        target: &Target,
        part: Part,
        patch_type: PatchType,
        patch: &[u8],
        options: &WriteOptions,
    ) -> Result<WriteResult, ApiError> {
        let kind = writable_kind(target, part, "patch")?;
        if patch_type == PatchType::Apply {
            return self.apply_blocking(user, target, part, kind, patch, options);
        }
        let resource = target.resource;
        let schema = strategy::patch_schema(kind);
        let mut patch_warnings = Vec::new();
        let mut mutate = |current: &KubeObject| -> Result<KubeObject, ApiError> {
            let original = served_value(resource, current);
            let mut patched =
                apply_patch(&original, patch_type, patch, schema).map_err(patch_error)?;
            if resource.backing == Backing::EventsV1View {
                patched = events_view::from_events_v1(patched);
            }
            let (mut object, problems) = decode_checked(
                kind,
                DecodedBody::from_value(patched),
                options.field_validation,
            )?;
            patch_warnings = enforce_field_validation(kind, options.field_validation, problems)?;
            check_identity(&mut object, target)?;
            Ok(object)
        };
        let mut warnings = Vec::new();
        let outcome =
            self.write_existing(user, target, part, options, &mut warnings, &mut mutate)?;
        patch_warnings.extend(warnings);
        Ok(write_result(target, outcome, patch_warnings))
    }

    /// Server-side apply (`application/apply-patch+yaml`), without field ownership: the
    /// applied configuration (YAML or JSON, a whole object) is created when the object
    /// does not exist, and otherwise merged onto it with strategic-merge semantics (its
    /// fields win; list items merge by their keys). What this subset does not do:
    /// `metadata.managedFields` are not tracked, so fields dropped from a later applied
    /// configuration stay, and no conflict with another manager is reported (every apply
    /// behaves as `force=true`). `fieldManager` is required, as upstream.
    fn apply_blocking(
        &self,
        user: &UserInfo,
        target: &Target,
        part: Part,
        kind: ResourceKind,
        patch: &[u8],
        options: &WriteOptions,
    ) -> Result<WriteResult, ApiError> {
        if options.field_manager.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::new(
                StatusReason::Invalid,
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
            ));
        }
        let applied = super::decode::decode_body(super::decode::BodyFormat::Yaml, patch)?.value;
        if !applied.is_object() {
            return Err(ApiError::bad_request(
                "the applied configuration must be an object",
            ));
        }
        let applied_bytes = serde_json::to_vec(&applied).unwrap_or_default();
        match self.patch_blocking(
            user,
            target,
            part,
            PatchType::StrategicMerge,
            &applied_bytes,
            options,
        ) {
            Err(e) if e.is_not_found() && part == Part::Main => {
                let (mut object, problems) = decode_checked(
                    kind,
                    DecodedBody::from_value(applied),
                    options.field_validation,
                )?;
                let mut warnings =
                    enforce_field_validation(kind, options.field_validation, problems)?;
                check_identity(&mut object, target)?;
                let created = self.create_object(user, target, object, options, &mut warnings)?;
                Ok(WriteResult {
                    object: created,
                    created: true,
                    changed: true,
                    warnings,
                })
            }
            other => other,
        }
    }

    /// The read-modify-write shared by update and patch: `produce` builds the new object
    /// from the stored one; admission and the strategy run on every attempt.
    fn write_existing(
        &self,
        user: &UserInfo,
        target: &Target,
        part: Part,
        options: &WriteOptions,
        warnings: &mut Vec<String>,
        produce: &mut dyn FnMut(&KubeObject) -> Result<KubeObject, ApiError>,
    ) -> Result<UpdateOutcome<corral_store::EncodedObject>, ApiError> {
        let resource = target.resource;
        let key = target.key().ok_or_else(ApiError::method_not_allowed)?;
        let subresource = match part {
            Part::Main => None,
            Part::Status => Some("status"),
            Part::Finalize => Some("finalize"),
        };
        let view = self.view();
        let mut mutate = |current: &KubeObject| -> Result<KubeObject, ApiError> {
            warnings.clear();
            let object = produce(current)?;
            let request = AdmissionRequest {
                operation: Operation::Update,
                resource,
                subresource,
                namespace: &key.namespace,
                name: &key.name,
                user,
                dry_run: options.dry_run,
                old: Some(current),
                field_manager: options.field_manager.as_deref(),
            };
            let mut prepare = |object: &mut KubeObject| {
                strategy::prepare_update(object, current, part).map(|()| Vec::new())
            };
            let admitted =
                self.inner
                    .admission
                    .admit(&request, &view, Some(object), &mut prepare)?;
            warnings.extend(admitted.warnings);
            admitted
                .object
                .ok_or_else(|| ApiError::internal("admission returned no object for an update"))
        };
        let now = self.now();
        self.objects()
            .guaranteed_update(
                &key,
                &Preconditions::default(),
                now,
                options.dry_run,
                &mut mutate,
            )
            .map_err(|e| store_error(resource, e))
    }
}

/// The stored kind a PUT/PATCH addresses, after checking verb and subresource.
fn writable_kind(target: &Target, part: Part, verb: &str) -> Result<ResourceKind, ApiError> {
    let resource = target.resource;
    match part {
        Part::Main => require_verb(resource, verb)?,
        Part::Status => require_subresource(resource, "status")?,
        Part::Finalize => require_subresource(resource, "finalize")?,
    }
    resource
        .stored_kind()
        .ok_or_else(ApiError::method_not_allowed)
}

/// A PUT of a missing object creates it for kinds that allow it (upstream
/// `AllowCreateOnUpdate`), unless the body names a revision.
fn creates_on_update(object: &KubeObject) -> bool {
    strategy::allow_create_on_update(object.kind())
        && object
            .meta()
            .resource_version
            .as_deref()
            .is_none_or(str::is_empty)
}

/// The body's name and namespace against the URL's (upstream's wording for mismatches).
fn check_identity(object: &mut KubeObject, target: &Target) -> Result<(), ApiError> {
    let url_name = target.name_or_empty();
    match object.meta().name.as_deref() {
        None | Some("") => object.meta_mut().name = Some(url_name.to_string()),
        Some(name) if name == url_name => {}
        Some(name) => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({name}) does not match the name on the URL ({url_name})"
            )));
        }
    }
    resolve_namespace(object, target)
}

fn write_result(
    target: &Target,
    outcome: UpdateOutcome<corral_store::EncodedObject>,
    warnings: Vec<String>,
) -> WriteResult {
    WriteResult {
        object: ServedObject::encoded(target.resource, outcome.value.value),
        created: false,
        changed: outcome.changed,
        warnings,
    }
}

/// A patch failure as the `Status` upstream sends: 400 for malformed bodies, 422 with the
/// detail as a cause for inapplicable patches.
pub(crate) fn patch_error(error: PatchError) -> ApiError {
    let reason = match error.status_code() {
        400 => StatusReason::BadRequest,
        413 => StatusReason::RequestEntityTooLarge,
        415 => StatusReason::UnsupportedMediaType,
        _ => StatusReason::Invalid,
    };
    let mut api = ApiError::new(reason, error.status_message()).with_code(error.status_code());
    if let Some(cause) = error.status_cause() {
        api = api.with_causes(vec![ErrorCause {
            reason: "UnexpectedServerResponse".into(),
            message: cause,
            field: String::new(),
        }]);
    }
    api
}
