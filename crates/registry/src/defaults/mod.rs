//! Defaulting: upstream's `SetObjectDefaults_*` for every stored kind, applied when an
//! object is decoded (and, upstream, again whenever it is read back from storage — the
//! facade mimics that by defaulting once more after the strategy ran).
//!
//! Every function is idempotent: defaulting a defaulted object changes nothing.

mod batch;
pub mod core;
mod other;
pub mod pod;

use std::collections::BTreeMap;

use corral_api::{KubeObject, Quantity};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;

pub use batch::{DEFAULT_MANUAL_SELECTOR, default_cronjob, default_job};
pub use pod::{
    add_default_priority, add_default_tolerations, default_pod, default_pod_spec,
    default_pod_template, default_service_account, pull_policy_for,
};

/// Applies the defaults of the object's kind.
pub fn apply_defaults(object: &mut KubeObject) {
    match object {
        KubeObject::Namespace(o) => core::default_namespace(o),
        KubeObject::Node(o) => core::default_node(o),
        KubeObject::Pod(o) => pod::default_pod(o),
        KubeObject::PersistentVolumeClaim(o) => core::default_pvc(o),
        KubeObject::PersistentVolume(o) => core::default_pv(o),
        KubeObject::ResourceQuota(o) => core::default_resource_quota(o),
        KubeObject::LimitRange(o) => core::default_limit_range(o),
        KubeObject::Secret(o) => core::default_secret(o),
        KubeObject::Job(o) => batch::default_job(o),
        KubeObject::CronJob(o) => batch::default_cronjob(o),
        KubeObject::MutatingWebhookConfiguration(o) => other::default_mutating(o),
        KubeObject::ValidatingWebhookConfiguration(o) => other::default_validating(o),
        KubeObject::RoleBinding(o) => other::default_binding(&mut o.role_ref, &mut o.subjects),
        KubeObject::ClusterRoleBinding(o) => {
            other::default_binding(&mut o.role_ref, &mut o.subjects)
        }
        KubeObject::Event(_)
        | KubeObject::ServiceAccount(_)
        | KubeObject::ConfigMap(_)
        | KubeObject::Lease(_)
        | KubeObject::Role(_)
        | KubeObject::ClusterRole(_)
        | KubeObject::PodDisruptionBudget(_) => {}
    }
}

/// `SetDefaults_ResourceList`: every quantity rounded up to a whole milli-unit and
/// written in canonical form (`0.5` → `500m`, `1000m` → `1`). Unparseable quantities
/// are left alone; decoding reports them (see [`crate::strict::check_quantities`]).
pub fn canonical_resource_list(list: &mut Option<BTreeMap<String, WireQuantity>>) {
    for value in list.iter_mut().flat_map(|l| l.values_mut()) {
        if let Some(canonical) = canonical_quantity(&value.0) {
            value.0 = canonical;
        }
    }
}

/// One quantity rounded away from zero to milli-units, in canonical form.
pub fn canonical_quantity(text: &str) -> Option<String> {
    let quantity = Quantity::parse(text).ok()?;
    let nanos = quantity.nanos();
    let remainder = nanos % 1_000_000;
    let rounded = if remainder == 0 {
        nanos
    } else if nanos > 0 {
        nanos - remainder + 1_000_000
    } else {
        nanos - remainder - 1_000_000
    };
    Some(Quantity::from_nanos(rounded, quantity.format).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_rounded_to_milli_and_canonical() {
        assert_eq!(canonical_quantity("0.5").as_deref(), Some("500m"));
        assert_eq!(canonical_quantity("1000m").as_deref(), Some("1"));
        assert_eq!(canonical_quantity("0.0001").as_deref(), Some("1m"));
        assert_eq!(canonical_quantity("1Gi").as_deref(), Some("1Gi"));
        assert_eq!(canonical_quantity("1G").as_deref(), Some("1G"));
        assert_eq!(canonical_quantity("x"), None);
    }
}
