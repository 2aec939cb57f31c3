//! Which validation each kind's REST strategy runs (`Validate`, `ValidateUpdate`, and
//! the status strategy's `ValidateUpdate`).

use corral_api::{FieldError, FieldPath, KubeObject};

use crate::validation::meta::{self, FinalizerRules};
use crate::validation::misc::{self, EventApi};
use crate::validation::{
    config_data, core_kinds, cronjob, job, job_update, pod, quota, rbac, storage, webhook,
};

/// Each kind's strategy `Validate`.
pub fn strategy_validate(object: &KubeObject) -> Vec<FieldError> {
    match object {
        KubeObject::Namespace(o) => core_kinds::validate_namespace(o),
        KubeObject::Node(o) => core_kinds::validate_node(o),
        KubeObject::Pod(o) => pod::validate_pod_create(o),
        KubeObject::Event(o) => misc::validate_event_create(o, EventApi::CoreV1),
        KubeObject::ServiceAccount(o) => core_kinds::validate_service_account(o),
        KubeObject::PersistentVolumeClaim(o) => storage::validate_pvc(o),
        KubeObject::PersistentVolume(o) => storage::validate_pv(o),
        KubeObject::ResourceQuota(o) => quota::validate_resource_quota(o),
        KubeObject::LimitRange(o) => quota::validate_limit_range(o),
        KubeObject::ConfigMap(o) => config_data::validate_config_map(o),
        KubeObject::Secret(o) => config_data::validate_secret(o),
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
pub fn strategy_validate_update(new: &KubeObject, old: &KubeObject) -> Vec<FieldError> {
    if new.kind() != old.kind() {
        return Vec::new();
    }
    if let Some(errors) = dedicated_update(new, old) {
        return errors;
    }
    // The rest: validate the new object, then the update rules (metadata, roleRef).
    let mut errors = strategy_validate(new);
    errors.extend(meta_update(new, old));
    match (new, old) {
        (KubeObject::RoleBinding(n), KubeObject::RoleBinding(o)) => {
            errors.extend(rbac::validate_role_ref_update(&n.role_ref, &o.role_ref))
        }
        (KubeObject::ClusterRoleBinding(n), KubeObject::ClusterRoleBinding(o)) => {
            errors.extend(rbac::validate_role_ref_update(&n.role_ref, &o.role_ref));
        }
        _ => {}
    }
    errors
}

/// The kinds whose update validation is its own function upstream.
fn dedicated_update(new: &KubeObject, old: &KubeObject) -> Option<Vec<FieldError>> {
    let errors = match (new, old) {
        (KubeObject::Pod(n), KubeObject::Pod(o)) => pod::validate_pod_update(n, o),
        (KubeObject::Job(n), KubeObject::Job(o)) => job_update::validate_job_update(n, o),
        (KubeObject::CronJob(n), KubeObject::CronJob(o)) => cronjob::validate_cronjob_update(n, o),
        (KubeObject::Node(n), KubeObject::Node(o)) => {
            let mut errors = core_kinds::validate_node(n);
            errors.extend(core_kinds::validate_node_update(n, o));
            errors
        }
        (KubeObject::PersistentVolumeClaim(n), KubeObject::PersistentVolumeClaim(o)) => {
            storage::validate_pvc_update(n, o)
        }
        (KubeObject::ResourceQuota(n), KubeObject::ResourceQuota(o)) => {
            let mut errors = quota::validate_resource_quota(n);
            errors.extend(quota::validate_resource_quota_update(n, o));
            errors
        }
        (KubeObject::Secret(n), KubeObject::Secret(o)) => config_data::validate_secret_update(n, o),
        (KubeObject::ConfigMap(n), KubeObject::ConfigMap(o)) => {
            let mut errors = meta_update(new, old);
            errors.extend(config_data::validate_config_map_update(n, o));
            errors
        }
        (KubeObject::Event(n), KubeObject::Event(_)) => {
            misc::validate_event_create(n, EventApi::CoreV1)
        }
        (KubeObject::PodDisruptionBudget(n), KubeObject::PodDisruptionBudget(_)) => {
            misc::validate_pdb(n)
        }
        (
            KubeObject::MutatingWebhookConfiguration(n),
            KubeObject::MutatingWebhookConfiguration(o),
        ) => {
            let opts = webhook::WebhookOptions::for_update(&webhook::mutating_views(o));
            webhook::validate_configuration(&n.metadata, &webhook::mutating_views(n), opts)
        }
        (
            KubeObject::ValidatingWebhookConfiguration(n),
            KubeObject::ValidatingWebhookConfiguration(o),
        ) => {
            let opts = webhook::WebhookOptions::for_update(&webhook::validating_views(o));
            webhook::validate_configuration(&n.metadata, &webhook::validating_views(n), opts)
        }
        _ => return None,
    };
    Some(errors)
}

/// Each kind's status strategy `ValidateUpdate`.
pub fn status_validate_update(new: &KubeObject, old: &KubeObject) -> Vec<FieldError> {
    match (new, old) {
        (KubeObject::Pod(n), KubeObject::Pod(o)) => pod::validate_pod_status_update(n, o),
        (KubeObject::Job(n), KubeObject::Job(o)) => job_update::validate_job_status_update(n, o),
        (KubeObject::Namespace(n), KubeObject::Namespace(o)) => {
            core_kinds::validate_namespace_status_update(n, o)
        }
        (KubeObject::Node(n), KubeObject::Node(o)) => {
            let mut errors = core_kinds::validate_node(n);
            errors.extend(core_kinds::validate_node_update(n, o));
            errors
        }
        (KubeObject::ResourceQuota(n), KubeObject::ResourceQuota(_)) => {
            let mut errors = meta_update(new, old);
            errors.extend(quota::validate_quota_status(n));
            errors
        }
        (KubeObject::PodDisruptionBudget(n), KubeObject::PodDisruptionBudget(_)) => {
            let mut errors = meta_update(new, old);
            errors.extend(misc::validate_pdb_status(n));
            errors
        }
        (KubeObject::CronJob(_), KubeObject::CronJob(_)) => Vec::new(),
        _ => meta_update(new, old),
    }
}
