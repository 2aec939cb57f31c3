//! Namespaces, nodes and service accounts: upstream's `ValidateNamespace`,
//! `ValidateNode`, `validateNodeTaints`, `ValidateServiceAccount` and their update and
//! status variants. Claims are in [`super::storage`], quotas and limit ranges in
//! [`super::quota`], config maps and secrets in [`super::config_data`].

use std::collections::BTreeSet;

use corral_api::{FieldError, FieldErrorType, FieldPath};
use k8s_openapi::api::core::v1::{Namespace, Node, ServiceAccount, Taint};

use crate::gofmt;
use crate::names;
use crate::validation::meta::{
    FinalizerRules, invalid_each, kube_finalizer_name, validate_label_name, validate_object_meta,
    validate_object_meta_update,
};
use crate::validation::resources::validate_quantity_value;
use crate::validation::scheduling::validate_taint_effect;

fn meta_path() -> FieldPath {
    FieldPath::root("metadata")
}

/// `ValidateNamespace`.
pub fn validate_namespace(namespace: &Namespace) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &namespace.metadata,
        false,
        names::name_is_dns_label,
        FinalizerRules::Core,
        &meta_path(),
    );
    let path = FieldPath::root("spec").child("finalizers");
    for finalizer in namespace
        .spec
        .iter()
        .flat_map(|s| s.finalizers.iter().flatten())
    {
        errors.extend(validate_finalizer_name(finalizer, &path));
    }
    errors
}

/// `validateFinalizerName`: a qualified name, and a standard one when unprefixed.
fn validate_finalizer_name(value: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = invalid_each(path, value, names::is_qualified_name(value));
    errors.extend(kube_finalizer_name(value, path));
    errors
}

/// `ValidateNamespaceStatusUpdate`.
pub fn validate_namespace_status_update(new: &Namespace, old: &Namespace) -> Vec<FieldError> {
    let mut errors = validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        FinalizerRules::Core,
        &meta_path(),
    );
    let phase = new
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("");
    let path = FieldPath::root("status").child("Phase");
    if new.metadata.deletion_timestamp.is_none() {
        if phase != "Active" {
            errors.push(FieldError::invalid_str(
                path,
                phase,
                "may only be 'Active' if `deletionTimestamp` is empty",
            ));
        }
    } else if phase != "Terminating" {
        errors.push(FieldError::invalid_str(
            path,
            phase,
            "may only be 'Terminating' if `deletionTimestamp` is not empty",
        ));
    }
    errors
}

/// `ValidateNamespaceFinalizeUpdate`.
pub fn validate_namespace_finalize_update(new: &Namespace, old: &Namespace) -> Vec<FieldError> {
    let mut errors = validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        FinalizerRules::Core,
        &meta_path(),
    );
    let path = FieldPath::root("spec").child("finalizers");
    for (i, finalizer) in new
        .spec
        .iter()
        .flat_map(|s| s.finalizers.iter().flatten())
        .enumerate()
    {
        errors.extend(validate_finalizer_name(finalizer, &path.index(i)));
    }
    errors
}

/// `ValidateNode`.
pub fn validate_node(node: &Node) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &node.metadata,
        false,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &meta_path(),
    );
    let spec = node.spec.clone().unwrap_or_default();
    // Upstream reports taints under "metadata.taints", a long-standing path quirk.
    errors.extend(validate_taints(
        spec.taints.as_deref().unwrap_or_default(),
        &meta_path().child("taints"),
    ));
    errors.extend(validate_node_resources(node));
    let cidrs = spec.pod_cidrs.as_deref().unwrap_or_default();
    let cidrs_path = FieldPath::root("spec").child("podCIDRs");
    for (i, cidr) in cidrs.iter().enumerate() {
        if !names::is_cidr(cidr) {
            errors.push(FieldError::invalid_str(
                cidrs_path.index(i),
                cidr,
                names::INVALID_CIDR_MESSAGE,
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, cidr) in cidrs.iter().enumerate() {
        if !seen.insert(cidr) {
            errors.push(FieldError::duplicate_str(cidrs_path.index(i), cidr));
        }
    }
    if cidrs.len() > 2 {
        errors.push(
            FieldError::new(&cidrs_path, FieldErrorType::Invalid)
                .value_plain(gofmt::string_slice("string", Some(cidrs)))
                .detail("may specify no more than one CIDR for each IP family"),
        );
    }
    errors
}

/// `validateNodeTaints`.
pub fn validate_taints(taints: &[Taint], path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut unique = BTreeSet::new();
    for (i, taint) in taints.iter().enumerate() {
        let item = path.index(i);
        errors.extend(validate_label_name(&taint.key, &item.child("key")));
        let value = taint.value.as_deref().unwrap_or("");
        let messages = names::is_valid_label_value(value);
        if !messages.is_empty() {
            errors.push(FieldError::invalid_str(
                item.child("value"),
                value,
                messages.join(";"),
            ));
        }
        errors.extend(validate_taint_effect(
            &taint.effect,
            false,
            &item.child("effect"),
        ));
        if !unique.insert((taint.effect.clone(), taint.key.clone())) {
            let rendered = format!(
                "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:(*v1.Time)(nil)}}",
                corral_api::validation::go_quote(&taint.key),
                corral_api::validation::go_quote(value),
                corral_api::validation::go_quote(&taint.effect)
            );
            errors.push(
                FieldError::new(&item, FieldErrorType::Duplicate)
                    .value_plain(rendered)
                    .detail("taints must be unique by key and effect pair"),
            );
        }
    }
    errors
}

/// `ValidateNodeResources`: capacity and allocatable quantities (paths use `.name`).
fn validate_node_resources(node: &Node) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let status = node.status.clone().unwrap_or_default();
    for (list, name) in [
        (&status.capacity, "capacity"),
        (&status.allocatable, "allocatable"),
    ] {
        for (resource, quantity) in list.iter().flatten() {
            let path = FieldPath::root("status").child(name).child(resource);
            errors.extend(validate_quantity_value(resource, quantity, &path));
        }
    }
    errors
}

/// `ValidateNodeUpdate`.
pub fn validate_node_update(new: &Node, old: &Node) -> Vec<FieldError> {
    let mut errors = validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        FinalizerRules::Core,
        &meta_path(),
    );
    errors.extend(validate_node_resources(new));
    let (spec, old_spec) = (
        new.spec.clone().unwrap_or_default(),
        old.spec.clone().unwrap_or_default(),
    );
    let old_cidrs = old_spec.pod_cidrs.clone().unwrap_or_default();
    if !old_cidrs.is_empty() && spec.pod_cidrs.clone().unwrap_or_default() != old_cidrs {
        errors.push(FieldError::forbidden(
            FieldPath::root("spec").child("podCIDRs"),
            "node updates may not change podCIDR except from \"\" to valid",
        ));
    }
    let old_provider = old_spec.provider_id.as_deref().unwrap_or("");
    if !old_provider.is_empty() && Some(old_provider) != spec.provider_id.as_deref() {
        errors.push(FieldError::forbidden(
            FieldPath::root("spec").child("providerID"),
            "node updates may not change providerID except from \"\" to valid",
        ));
    }
    errors.extend(validate_taints(
        spec.taints.as_deref().unwrap_or_default(),
        &meta_path().child("taints"),
    ));
    if spec.external_id != old_spec.external_id {
        errors.push(FieldError::forbidden(
            FieldPath::root("spec").child("externalID"),
            "may not be updated",
        ));
    }
    errors
}

/// `ValidateServiceAccount`.
pub fn validate_service_account(account: &ServiceAccount) -> Vec<FieldError> {
    validate_object_meta(
        &account.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &meta_path(),
    )
}
