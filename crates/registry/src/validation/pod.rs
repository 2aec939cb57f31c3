//! Pods: upstream's `ValidatePodCreate`, `ValidatePodUpdate` (only images, active
//! deadline, added tolerations, removed scheduling gates and a negative grace period may
//! change) and `ValidatePodStatusUpdate`.

use corral_api::{FieldError, FieldPath};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};

use crate::names;
use crate::validation::meta::{FinalizerRules, validate_object_meta, validate_object_meta_update};
use crate::validation::pod_spec::{PodOptions, validate_pod_annotations, validate_pod_spec};

/// `updatablePodSpecFields`, joined as upstream prints them.
const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// The pod's spec, borrowed (an empty one only when it has none).
fn spec_of(pod: &Pod) -> std::borrow::Cow<'_, PodSpec> {
    match &pod.spec {
        Some(spec) => std::borrow::Cow::Borrowed(spec),
        None => std::borrow::Cow::Owned(PodSpec::default()),
    }
}

/// `validatePodMetadataAndSpec`.
fn validate_metadata_and_spec(pod: &Pod, spec: &PodSpec) -> Vec<FieldError> {
    let meta_path = FieldPath::root("metadata");
    let spec_path = FieldPath::root("spec");
    let mut errors = validate_object_meta(
        &pod.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &meta_path,
    );
    errors.extend(validate_pod_annotations(
        &pod.metadata,
        spec,
        &meta_path.child("annotations"),
    ));
    errors.extend(validate_pod_spec(
        spec,
        Some(&pod.metadata),
        &spec_path,
        PodOptions {
            resource_is_pod: true,
        },
    ));
    if spec
        .service_account_name
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        for (vi, volume) in spec.volumes.iter().flatten().enumerate() {
            for (si, source) in volume
                .projected
                .iter()
                .flat_map(|p| p.sources.iter().flatten())
                .enumerate()
            {
                if source.service_account_token.is_some() {
                    let path = spec_path
                        .child("volumes")
                        .index(vi)
                        .child("projected")
                        .child("sources")
                        .index(si)
                        .child("serviceAccountToken");
                    errors.push(FieldError::forbidden(
                        path,
                        "must not be specified when serviceAccountName is not set",
                    ));
                }
            }
        }
    }
    errors.extend(images_without_whitespace(
        &spec.containers,
        &spec_path.child("containers"),
    ));
    errors.extend(images_without_whitespace(
        spec.init_containers.as_deref().unwrap_or_default(),
        &spec_path.child("initContainers"),
    ));
    errors
}

/// `validateContainersOnlyForPod`.
fn images_without_whitespace(containers: &[Container], path: &FieldPath) -> Vec<FieldError> {
    containers
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let image = c.image.as_deref().unwrap_or("");
            (image.trim() != image).then(|| {
                FieldError::invalid_str(
                    path.index(i).child("image"),
                    image,
                    "must not have leading or trailing whitespace",
                )
            })
        })
        .collect()
}

/// `ValidatePodCreate`.
pub fn validate_pod_create(pod: &Pod) -> Vec<FieldError> {
    let spec = spec_of(pod);
    let mut errors = validate_metadata_and_spec(pod, &spec);
    let spec_path = FieldPath::root("spec");
    if !spec
        .ephemeral_containers
        .as_deref()
        .unwrap_or_default()
        .is_empty()
    {
        errors.push(FieldError::forbidden(
            spec_path.child("ephemeralContainers"),
            "cannot be set on create",
        ));
    }
    if !spec.node_name.as_deref().unwrap_or("").is_empty()
        && !spec
            .scheduling_gates
            .as_deref()
            .unwrap_or_default()
            .is_empty()
    {
        errors.push(FieldError::forbidden(
            spec_path.child("nodeName"),
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    errors
}

/// `ValidatePodUpdate`.
pub fn validate_pod_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let meta_path = FieldPath::root("metadata");
    let (new_spec, old_spec) = (spec_of(new), spec_of(old));
    let mut errors = validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        FinalizerRules::Core,
        &meta_path,
    );
    errors.extend(validate_metadata_and_spec(new, &new_spec));
    errors.extend(mirror_annotation_updates(
        new,
        old,
        &meta_path.child("annotations"),
    ));
    let spec_path = FieldPath::root("spec");
    for (new_list, old_list, name) in [
        (
            &new_spec.containers[..],
            &old_spec.containers[..],
            "containers",
        ),
        (
            new_spec.init_containers.as_deref().unwrap_or_default(),
            old_spec.init_containers.as_deref().unwrap_or_default(),
            "initContainers",
        ),
    ] {
        if new_list.len() != old_list.len() {
            errors.push(FieldError::forbidden(
                spec_path.child(name),
                "pod updates may not add or remove containers",
            ));
            return errors;
        }
        for (i, container) in new_list.iter().enumerate() {
            if container.image.as_deref().unwrap_or("").is_empty() {
                errors.push(FieldError::required(
                    spec_path.child(name).index(i).child("image"),
                    "",
                ));
            }
        }
    }
    if let Some((error, stop)) = active_deadline_update(&new_spec, &old_spec, &spec_path) {
        errors.push(error);
        if stop {
            return errors;
        }
    }
    errors.extend(only_added_tolerations(
        &new_spec,
        &old_spec,
        &spec_path.child("tolerations"),
    ));
    errors.extend(only_deleted_gates(
        &new_spec,
        &old_spec,
        &spec_path.child("schedulingGates"),
    ));
    errors.extend(munged_spec_equal(&new_spec, &old_spec, &spec_path));
    errors
}

fn mirror_annotation_updates(new: &Pod, old: &Pod, path: &FieldPath) -> Vec<FieldError> {
    let key = "kubernetes.io/config.mirror";
    let get = |p: &Pod| {
        p.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .cloned()
    };
    match (get(old), get(new)) {
        (Some(o), n) if n.as_ref() != Some(&o) => vec![FieldError::forbidden(
            path.key(key),
            "may not remove or update mirror pod annotation",
        )],
        (None, Some(_)) => vec![FieldError::forbidden(
            path.key(key),
            "may not add mirror pod annotation",
        )],
        _ => Vec::new(),
    }
}

/// The `activeDeadlineSeconds` rules: it may be set, or lowered, never raised or cleared.
/// The flag says whether upstream stops validating after this error.
fn active_deadline_update(
    new: &PodSpec,
    old: &PodSpec,
    spec_path: &FieldPath,
) -> Option<(FieldError, bool)> {
    let path = spec_path.child("activeDeadlineSeconds");
    match (new.active_deadline_seconds, old.active_deadline_seconds) {
        (Some(value), _) if !(0..=i64::from(i32::MAX)).contains(&value) => Some((
            FieldError::invalid_int(
                path,
                value,
                names::inclusive_range_error(0, i64::from(i32::MAX)),
            ),
            true,
        )),
        (Some(value), Some(old)) if old < value => Some((
            FieldError::invalid_int(path, value, "must be less than or equal to previous value"),
            true,
        )),
        (None, Some(_)) => Some((
            FieldError::new(path, corral_api::FieldErrorType::Invalid)
                .value_plain("null")
                .detail("must not update from a positive integer to nil value"),
            false,
        )),
        _ => None,
    }
}

/// `validateOnlyAddedTolerations`.
fn only_added_tolerations(new: &PodSpec, old: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    let new_list = new.tolerations.as_deref().unwrap_or_default();
    for existing in old.tolerations.iter().flatten() {
        let kept = new_list.iter().any(|candidate| {
            let mut relaxed = existing.clone();
            relaxed.toleration_seconds = candidate.toleration_seconds;
            &relaxed == candidate
        });
        if !kept {
            return vec![FieldError::forbidden(
                path,
                "existing toleration can not be modified except its tolerationSeconds",
            )];
        }
    }
    crate::validation::scheduling::validate_tolerations(new_list, path)
}

/// `validateOnlyDeletedSchedulingGates`.
fn only_deleted_gates(new: &PodSpec, old: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    let old_names: Vec<&str> = old
        .scheduling_gates
        .iter()
        .flatten()
        .map(|g| g.name.as_str())
        .collect();
    new.scheduling_gates
        .iter()
        .flatten()
        .enumerate()
        .filter(|(_, gate)| !old_names.contains(&gate.name.as_str()))
        .map(|(i, gate)| {
            FieldError::forbidden(
                path.index(i).child("name"),
                format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    gate.name
                ),
            )
        })
        .collect()
}

/// Compares the specs after undoing the changes that are allowed; anything left is the
/// "pod updates may not change fields other than …" error, with a short diff.
fn munged_spec_equal(new: &PodSpec, old: &PodSpec, spec_path: &FieldPath) -> Vec<FieldError> {
    if new == old {
        return Vec::new();
    }
    let mut munged = new.clone();
    for (container, original) in munged.containers.iter_mut().zip(&old.containers) {
        container.image.clone_from(&original.image);
    }
    if let (Some(list), Some(originals)) = (
        munged.init_containers.as_mut(),
        old.init_containers.as_ref(),
    ) {
        for (container, original) in list.iter_mut().zip(originals) {
            container.image.clone_from(&original.image);
        }
    }
    munged.active_deadline_seconds = old.active_deadline_seconds;
    munged.scheduling_gates.clone_from(&old.scheduling_gates);
    munged.tolerations.clone_from(&old.tolerations);
    let old_grace = old.termination_grace_period_seconds;
    if old_grace.is_some_and(|g| g < 0) && munged.termination_grace_period_seconds == Some(1) {
        munged.termination_grace_period_seconds = old_grace;
    }
    if crate::validation::meta::semantic_eq(&munged, old) {
        return Vec::new();
    }
    let diff = crate::validation::diff::render(old, &munged, "core.PodSpec");
    vec![FieldError::forbidden(
        spec_path,
        format!("pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n{diff}"),
    )]
}

/// `ValidatePodStatusUpdate` (metadata, node name, QoS class, terminated containers).
pub fn validate_pod_status_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let mut errors = validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        FinalizerRules::Core,
        &FieldPath::root("metadata"),
    );
    let status_path = FieldPath::root("status");
    let (new_spec, old_spec) = (spec_of(new), spec_of(old));
    if new_spec.node_name != old_spec.node_name {
        errors.push(FieldError::forbidden(
            status_path.child("nodeName"),
            "may not be changed directly",
        ));
    }
    let qos = |p: &Pod| p.status.as_ref().and_then(|s| s.qos_class.clone());
    errors.extend(crate::validation::meta::immutable_str(
        qos(new).as_deref(),
        qos(old).as_deref(),
        &status_path.child("qosClass"),
    ));
    let restart = old_spec.restart_policy.as_deref().unwrap_or("Always");
    if restart != "Always" {
        errors.extend(terminated_stay_terminated(
            new,
            old,
            restart,
            &status_path.child("containerStatuses"),
        ));
    }
    errors
}

/// `ValidateContainerStateTransition`.
fn terminated_stay_terminated(
    new: &Pod,
    old: &Pod,
    restart: &str,
    path: &FieldPath,
) -> Vec<FieldError> {
    let statuses = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.container_statuses.clone())
            .unwrap_or_default()
    };
    let (new_statuses, old_statuses) = (statuses(new), statuses(old));
    let mut errors = Vec::new();
    for (i, old_status) in old_statuses.iter().enumerate() {
        let Some(terminated) = old_status
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
        else {
            continue;
        };
        if terminated.exit_code != 0 && restart == "OnFailure" {
            continue;
        }
        let reopened = new_statuses.iter().any(|n| {
            n.name == old_status.name
                && n.state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .is_none()
        });
        if reopened {
            errors.push(FieldError::forbidden(
                path.index(i).child("state"),
                "may not be transitioned to non-terminated state",
            ));
        }
    }
    errors
}
