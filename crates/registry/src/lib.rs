//! L1: what the API server does to an object between decoding it and storing it —
//! upstream's defaulting (`SetDefaults_*`), REST strategies (`PrepareForCreate`,
//! `PrepareForUpdate`), validation (`Validate*` with upstream's field paths and
//! messages), strict field validation, and the events.k8s.io conversion.
//!
//! The API layer calls two functions:
//!
//! - [`prepare_create`]: defaults, `PrepareForCreate`, validation (a 422 `Invalid` or a
//!   400 for malformed quantities), then the read-back defaults upstream applies when it
//!   decodes the stored object (which is why a Job's metadata shows its template labels);
//! - [`prepare_update`]: the same for a PUT or a patched object, through the main
//!   resource or `/status`.
//!
//! Before calling, the API layer decodes the body (see [`strict`] for
//! `fieldValidation`), generates the name from `generateName`, and sets `uid` and
//! `creationTimestamp` (this crate has no clock and no randomness). Admission lives in
//! [`admission`] and runs between defaulting and validation upstream; the pod-level
//! admission defaults it needs are in [`defaults::pod`].
//!
//! Pure: no I/O, no clock, no randomness, and no panics on any input.

pub mod admission;
pub mod conversion;
pub mod defaults;
mod gofmt;
pub mod names;
pub mod strategy;
pub mod strict;
pub mod validation;

use corral_api::{ApiError, FieldError, KubeObject};
use corral_core::Subresource;

pub use strategy::{
    allow_create_on_update, allow_unconditional_update, default_propagation, has_generation,
    has_status_subresource, namespace_scoped,
};
pub use validation::{
    validate_create, validate_status_update, validate_update, warnings_on_create,
};

/// Defaults, prepares and validates an object about to be created.
pub fn prepare_create(object: &mut KubeObject) -> Result<(), ApiError> {
    if let Some(message) = strict::check_quantities(object) {
        return Err(ApiError::bad_request(message));
    }
    defaults::apply_defaults(object);
    strategy::prepare_for_create(object);
    let errors = validation::validate_create(object);
    if !errors.is_empty() {
        return Err(invalid(object, &errors));
    }
    defaults::apply_defaults(object);
    Ok(())
}

/// Defaults, prepares and validates `new`, which replaces the stored `old` through the
/// main resource or the `/status` subresource.
pub fn prepare_update(
    new: &mut KubeObject,
    old: &KubeObject,
    subresource: Subresource,
) -> Result<(), ApiError> {
    if new.kind() != old.kind() {
        return Err(ApiError::bad_request(format!(
            "{} cannot replace a {}",
            new.kind().kind_name(),
            old.kind().kind_name()
        )));
    }
    if let Some(message) = strict::check_quantities_update(new, old) {
        return Err(ApiError::bad_request(message));
    }
    defaults::apply_defaults(new);
    strategy::prepare_for_update(new, old, subresource);
    let errors = validation::validate_write(new, old, subresource);
    if !errors.is_empty() {
        return Err(invalid(new, &errors));
    }
    defaults::apply_defaults(new);
    Ok(())
}

/// The 422 upstream's `errors.NewInvalid` builds: `Job.batch "x" is invalid: …`.
pub fn invalid(object: &KubeObject, errors: &[FieldError]) -> ApiError {
    let kind = object.kind();
    ApiError::invalid(kind.kind_name(), kind.group(), object.name(), errors)
}
pub mod authz;
