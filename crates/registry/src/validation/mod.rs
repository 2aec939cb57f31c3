//! Validation of every stored kind, with upstream's field paths and messages.
//!
//! [`validate_create`] and [`validate_update`] reproduce what upstream's
//! `rest.BeforeCreate`/`rest.BeforeUpdate` run: the kind's strategy (`Validate`,
//! `ValidateUpdate`) plus the generic metadata checks every resource gets
//! (`validateCommonFields`: path-segment names and the metadata update rules). The
//! returned errors are deduplicated: upstream runs some checks twice on update (a Job's
//! spec, metadata rules) and only de-duplicates the summary line, not the causes.

mod compare;
mod config_data;
mod containers;
mod core_kinds;
mod cronjob;
mod diff;
mod dispatch;
mod job;
mod job_policy;
mod job_update;
mod limit_range;
pub mod meta;
mod misc;
mod mounts;
mod pod;
mod pod_spec;
mod probes;
mod quota;
mod rbac;
mod resources;
mod scheduling;
mod storage;
mod volumes;
mod webhook;

use corral_api::{FieldError, FieldPath, KubeObject};
use corral_core::Subresource;

/// The `namespaces/{name}/finalize` subresource's validation.
pub use core_kinds::validate_namespace_finalize_update;
pub use job::{
    CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL,
};
pub use job_policy::validate_indexes_format;
pub use misc::{EventApi, validate_event_create};
pub use pod_spec::PodOptions;

use crate::names;
use dispatch::{status_validate_update, strategy_validate, strategy_validate_update};
use meta::FinalizerRules;

/// All errors of creating `object` (names already generated, uid already set).
pub fn validate_create(object: &KubeObject) -> Vec<FieldError> {
    let errors = strategy_validate(object);
    if !errors.is_empty() {
        return dedup(errors);
    }
    // `BeforeCreate` runs the generic metadata check only once the strategy passed.
    generic_meta(object)
}

/// All errors of replacing `old` by `new` through the main resource.
pub fn validate_update(new: &KubeObject, old: &KubeObject) -> Vec<FieldError> {
    let mut errors = generic_meta_update(new, old);
    errors.extend(strategy_validate_update(new, old));
    dedup(errors)
}

/// All errors of writing `new` through the `/status` subresource.
pub fn validate_status_update(new: &KubeObject, old: &KubeObject) -> Vec<FieldError> {
    let mut errors = generic_meta_update(new, old);
    errors.extend(status_validate_update(new, old));
    dedup(errors)
}

/// [`validate_update`] or [`validate_status_update`] by subresource.
pub fn validate_write(
    new: &KubeObject,
    old: &KubeObject,
    subresource: Subresource,
) -> Vec<FieldError> {
    match subresource {
        Subresource::Main => validate_update(new, old),
        Subresource::Status => validate_status_update(new, old),
    }
}

fn dedup(errors: Vec<FieldError>) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = Vec::with_capacity(errors.len());
    for error in errors {
        if !out.contains(&error) {
            out.push(error);
        }
    }
    out
}

/// `genericvalidation.ValidateObjectMetaAccessor` with `ValidatePathSegmentName`.
fn generic_meta(object: &KubeObject) -> Vec<FieldError> {
    meta::validate_object_meta(
        object.meta(),
        object.kind().namespaced(),
        names::name_is_path_segment,
        FinalizerRules::Generic,
        &FieldPath::root("metadata"),
    )
}

/// `validateCommonFields` of `BeforeUpdate`.
fn generic_meta_update(new: &KubeObject, old: &KubeObject) -> Vec<FieldError> {
    let mut errors = generic_meta(new);
    errors.extend(meta::validate_object_meta_update(
        new.meta(),
        old.meta(),
        FinalizerRules::Generic,
        &FieldPath::root("metadata"),
    ));
    errors
}

/// Upstream's `WarningsOnCreate` for the kinds that have one: Job names that are not DNS
/// labels, and negative pod grace periods.
pub fn warnings_on_create(object: &KubeObject) -> Vec<String> {
    let mut warnings = Vec::new();
    if let KubeObject::Job(job) = object {
        let messages = names::is_dns1123_label(job.metadata.name.as_deref().unwrap_or(""));
        if !messages.is_empty() {
            warnings.push(format!(
                "metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; a DNS label is recommended: [{}]",
                messages.join(" ")
            ));
        }
    }
    let (spec, path) = match object {
        KubeObject::Pod(p) => (p.spec.as_ref(), "spec"),
        KubeObject::Job(j) => (
            j.spec.as_ref().and_then(|s| s.template.spec.as_ref()),
            "spec.template.spec",
        ),
        KubeObject::CronJob(c) => (
            c.spec
                .job_template
                .spec
                .as_ref()
                .and_then(|s| s.template.spec.as_ref()),
            "spec.jobTemplate.spec.template.spec",
        ),
        _ => (None, ""),
    };
    if spec
        .and_then(|s| s.termination_grace_period_seconds)
        .is_some_and(|g| g < 0)
    {
        warnings.push(format!(
            "{path}.terminationGracePeriodSeconds: must be >= 0; negative values are invalid and will be treated as 1"
        ));
    }
    warnings
}
