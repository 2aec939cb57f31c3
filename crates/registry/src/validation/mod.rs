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
pub mod core_kinds;
mod cronjob;
mod diff;
mod job;
mod job_policy;
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

pub use job::{
    CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL,
};
pub use job_policy::validate_indexes_format;
pub use misc::{EventApi, validate_event_create};
pub use pod_spec::PodOptions;

use crate::names;
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

/// Each kind's strategy `Validate`.
fn strategy_validate(object: &KubeObject) -> Vec<FieldError> {
    match object {
        KubeObject::Namespace(o) => core::validate_namespace(o),
        KubeObject::Node(o) => core::validate_node(o),
        KubeObject::Pod(o) => pod::validate_pod_create(o),
        KubeObject::Event(o) => misc::validate_event_create(o, EventApi::CoreV1),
        KubeObject::ServiceAccount(o) => core::validate_service_account(o),
        KubeObject::PersistentVolumeClaim(o) => core::validate_pvc(o),
        KubeObject::PersistentVolume(o) => core::validate_pv(o),
        KubeObject::ResourceQuota(o) => core::validate_resource_quota(o),
        KubeObject::LimitRange(o) => core::validate_limit_range(o),
        KubeObject::ConfigMap(o) => core::validate_config_map(o),
        KubeObject::Secret(o) => core::validate_secret(o),
        KubeObject::Job(o) => job::validate_job(o, true),
        KubeObject::CronJob(o) => cronjob::validate_cronjob_create(o),
        KubeObject::Lease(o) => misc::validate_lease(o),
        KubeObject::MutatingWebhookConfiguration(o) => webhook::validate_configuration(
            &o.metadata,
            &webhook::mutating_views(o),
            webhook::WebhookOptions::STRICT,
        ),
        KubeObject::ValidatingWebhookConfiguration(o) => webhook::validate_configuration(
            &o.metadata,
            &webhook::validating_views(o),
            webhook::WebhookOptions::STRICT,
        ),
        KubeObject::Role(o) => {
            rbac::validate_role(&o.metadata, o.rules.as_deref().unwrap_or_default(), true)
        }
        KubeObject::ClusterRole(o) => rbac::validate_cluster_role(o),
        KubeObject::RoleBinding(o) => rbac::validate_binding(
            &o.metadata,
            &o.role_ref,
            o.subjects.as_deref().unwrap_or_default(),
            true,
        ),
        KubeObject::ClusterRoleBinding(o) => rbac::validate_binding(
            &o.metadata,
            &o.role_ref,
            o.subjects.as_deref().unwrap_or_default(),
            false,
        ),
        KubeObject::PodDisruptionBudget(o) => misc::validate_pdb(o),
    }
}

fn meta_update(new: &KubeObject, old: &KubeObject) -> Vec<FieldError> {
    meta::validate_object_meta_update(
        new.meta(),
        old.meta(),
        FinalizerRules::Core,
        &FieldPath::root("metadata"),
    )
}

/// Each kind's strategy `ValidateUpdate`. Objects of different kinds yield nothing.
fn strategy_validate_update(new: &KubeObject, old: &KubeObject) -> Vec<FieldError> {
    let mut errors = match (new, old) {
        (KubeObject::Pod(n), KubeObject::Pod(o)) => return pod::validate_pod_update(n, o),
        (KubeObject::Job(n), KubeObject::Job(o)) => return job::validate_job_update(n, o),
        (KubeObject::CronJob(n), KubeObject::CronJob(o)) => {
            return cronjob::validate_cronjob_update(n, o);
        }
        (KubeObject::Node(n), KubeObject::Node(o)) => {
            let mut errors = core::validate_node(n);
            errors.extend(core::validate_node_update(n, o));
            return errors;
        }
        (KubeObject::PersistentVolumeClaim(n), KubeObject::PersistentVolumeClaim(o)) => {
            return core::validate_pvc_update(n, o);
        }
        (KubeObject::ResourceQuota(n), KubeObject::ResourceQuota(o)) => {
            let mut errors = core::validate_resource_quota(n);
            errors.extend(core::validate_resource_quota_update(n, o));
            return errors;
        }
        (KubeObject::Secret(n), KubeObject::Secret(o)) => {
            return core::validate_secret_update(n, o);
        }
        (KubeObject::ConfigMap(n), KubeObject::ConfigMap(o)) => {
            let mut errors = meta_update(new, old);
            errors.extend(core::validate_immutable_data(
                n.immutable,
                o.immutable,
                &[
                    (
                        "data",
                        &serde_json::to_value(&n.data).ok(),
                        &serde_json::to_value(&o.data).ok(),
                    ),
                    (
                        "binaryData",
                        &serde_json::to_value(&n.binary_data).ok(),
                        &serde_json::to_value(&o.binary_data).ok(),
                    ),
                ],
            ));
            errors.extend(core::validate_config_map(n));
            return errors;
        }
        (KubeObject::Event(n), KubeObject::Event(_)) => {
            return misc::validate_event_create(n, EventApi::CoreV1);
        }
        (KubeObject::PodDisruptionBudget(n), KubeObject::PodDisruptionBudget(_)) => {
            return misc::validate_pdb(n);
        }
        (
            KubeObject::MutatingWebhookConfiguration(n),
            KubeObject::MutatingWebhookConfiguration(o),
        ) => {
            let opts = webhook::WebhookOptions::for_update(&webhook::mutating_views(o));
            return webhook::validate_configuration(&n.metadata, &webhook::mutating_views(n), opts);
        }
        (
            KubeObject::ValidatingWebhookConfiguration(n),
            KubeObject::ValidatingWebhookConfiguration(o),
        ) => {
            let opts = webhook::WebhookOptions::for_update(&webhook::validating_views(o));
            return webhook::validate_configuration(
                &n.metadata,
                &webhook::validating_views(n),
                opts,
            );
        }
        (KubeObject::RoleBinding(n), KubeObject::RoleBinding(o)) => {
            rbac::validate_role_ref_update(&n.role_ref, &o.role_ref)
        }
        (KubeObject::ClusterRoleBinding(n), KubeObject::ClusterRoleBinding(o)) => {
            rbac::validate_role_ref_update(&n.role_ref, &o.role_ref)
        }
        _ if new.kind() == old.kind() => Vec::new(),
        _ => return Vec::new(),
    };
    // Kinds whose update is "validate the new object, then the metadata update rules".
    errors.splice(0..0, strategy_validate(new));
    errors.extend(meta_update(new, old));
    errors
}

/// Each kind's status strategy `ValidateUpdate`.
fn status_validate_update(new: &KubeObject, old: &KubeObject) -> Vec<FieldError> {
    match (new, old) {
        (KubeObject::Pod(n), KubeObject::Pod(o)) => pod::validate_pod_status_update(n, o),
        (KubeObject::Job(n), KubeObject::Job(o)) => job::validate_job_status_update(n, o),
        (KubeObject::Namespace(n), KubeObject::Namespace(o)) => {
            core::validate_namespace_status_update(n, o)
        }
        (KubeObject::Node(n), KubeObject::Node(o)) => {
            let mut errors = core::validate_node(n);
            errors.extend(core::validate_node_update(n, o));
            errors
        }
        (KubeObject::ResourceQuota(n), KubeObject::ResourceQuota(_)) => {
            let mut errors = meta_update(new, old);
            errors.extend(core::validate_quota_status(n));
            errors
        }
        (KubeObject::PodDisruptionBudget(n), KubeObject::PodDisruptionBudget(_)) => {
            let mut errors = meta_update(new, old);
            let status = n.status.clone().unwrap_or_default();
            let path = FieldPath::root("status");
            for (value, name) in [
                (status.disruptions_allowed, "disruptionsAllowed"),
                (status.current_healthy, "currentHealthy"),
                (status.desired_healthy, "desiredHealthy"),
                (status.expected_pods, "expectedPods"),
            ] {
                errors.extend(meta::nonnegative(
                    i64::from(value.unwrap_or(0)),
                    &path.child(name),
                ));
            }
            errors
        }
        (KubeObject::CronJob(_), KubeObject::CronJob(_)) => Vec::new(),
        _ => meta_update(new, old),
    }
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
