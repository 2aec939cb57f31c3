//! Job updates: upstream's `ValidateJobUpdate`/`ValidateJobSpecUpdate` (immutable
//! selector, template, completions, completion mode and policies; elastic indexed jobs;
//! mutable scheduling directives while suspended) and `ValidateJobUpdateStatus`.

use corral_api::{FieldError, FieldPath};
use k8s_openapi::api::batch::v1::{Job, JobSpec};

use crate::gofmt;
use crate::validation::job::{
    CONTROLLER_UID_LABEL, JOB_NAME_LABEL, template_labels, validate_job, validate_job_spec,
};
use crate::validation::meta::{
    FinalizerRules, immutable_error, immutable_json, immutable_opt_int, immutable_opt_str,
    nonnegative, semantic_eq, validate_object_meta_update,
};

/// Options `validationOptionsForJob` derives from the old object on update.
fn update_options(old: &Job) -> (bool, bool) {
    let old_spec = old.spec.clone().unwrap_or_default();
    let suspended = old_spec.suspend == Some(true);
    let not_started = old
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .is_none();
    let labels = template_labels(&old_spec.template);
    let had_prefixed = labels
        .is_some_and(|l| l.contains_key(JOB_NAME_LABEL) && l.contains_key(CONTROLLER_UID_LABEL));
    (suspended && not_started, had_prefixed)
}

/// `jobStrategy.ValidateUpdate`: `ValidateJob` plus `ValidateJobUpdate`.
pub fn validate_job_update(new: &Job, old: &Job) -> Vec<FieldError> {
    let (mutable_scheduling, require_prefixed) = update_options(old);
    let mut errors = validate_job(new, require_prefixed);
    errors.extend(validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        FinalizerRules::Core,
        &FieldPath::root("metadata"),
    ));
    let (spec, old_spec) = (
        new.spec.clone().unwrap_or_default(),
        old.spec.clone().unwrap_or_default(),
    );
    let path = FieldPath::root("spec");
    errors.extend(validate_job_spec(&spec, &path));
    errors.extend(validate_completions_update(
        &spec,
        &old_spec,
        &path.child("completions"),
    ));
    if !semantic_eq(&spec.selector, &old_spec.selector) {
        let rendered = spec
            .selector
            .as_ref()
            .map_or_else(|| "null".to_string(), gofmt::label_selector);
        errors.push(immutable_error(&path.child("selector"), rendered));
    }
    errors.extend(validate_template_update(
        &spec,
        &old_spec,
        mutable_scheduling,
        &path,
    ));
    errors.extend(immutable_opt_str(
        spec.completion_mode.as_deref(),
        old_spec.completion_mode.as_deref(),
        &path.child("completionMode"),
    ));
    errors.extend(immutable_json(
        &spec.pod_failure_policy,
        &old_spec.pod_failure_policy,
        &path.child("podFailurePolicy"),
    ));
    errors.extend(immutable_opt_int(
        spec.backoff_limit_per_index.map(i64::from),
        old_spec.backoff_limit_per_index.map(i64::from),
        &path.child("backoffLimitPerIndex"),
    ));
    errors.extend(immutable_opt_str(
        spec.managed_by.as_deref(),
        old_spec.managed_by.as_deref(),
        &path.child("managedBy"),
    ));
    errors.extend(immutable_json(
        &spec.success_policy,
        &old_spec.success_policy,
        &path.child("successPolicy"),
    ));
    errors
}

/// `validateCompletions` with elastic indexed jobs enabled (GA since 1.31).
fn validate_completions_update(spec: &JobSpec, old: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let (new_value, old_value) = (
        spec.completions.map(i64::from),
        old.completions.map(i64::from),
    );
    if spec.completion_mode.as_deref() != Some("Indexed") {
        return immutable_opt_int(new_value, old_value, path);
    }
    match (spec.completions, new_value == old_value) {
        (_, true) | (None, _) => Vec::new(),
        (Some(completions), false) if Some(completions) != spec.parallelism => {
            vec![FieldError::invalid_int(
                path,
                i64::from(completions),
                "can only be modified in tandem with spec.parallelism",
            )]
        }
        _ => Vec::new(),
    }
}

/// `validatePodTemplateUpdate`: the template is immutable, except node affinity, node
/// selector, tolerations, labels, annotations and scheduling gates of a job that is
/// suspended and never started.
fn validate_template_update(
    spec: &JobSpec,
    old: &JobSpec,
    mutable_scheduling: bool,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut old_template = old.template.clone();
    if mutable_scheduling {
        let new_meta = spec.template.metadata.clone().unwrap_or_default();
        let meta = old_template.metadata.get_or_insert_with(Default::default);
        meta.labels = new_meta.labels;
        meta.annotations = new_meta.annotations;
        let new_spec = spec.template.spec.clone().unwrap_or_default();
        let old_spec = old_template.spec.get_or_insert_with(Default::default);
        old_spec.node_selector = new_spec.node_selector;
        old_spec.tolerations = new_spec.tolerations;
        old_spec.scheduling_gates = new_spec.scheduling_gates;
        let new_node_affinity = new_spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.clone());
        match (&new_spec.affinity, old_spec.affinity.as_mut()) {
            (None, Some(old_affinity)) => {
                old_affinity.node_affinity = None;
                if old_affinity.pod_affinity.is_none() && old_affinity.pod_anti_affinity.is_none() {
                    old_spec.affinity = None;
                }
            }
            (Some(_), None) => {
                old_spec.affinity = Some(k8s_openapi::api::core::v1::Affinity {
                    node_affinity: new_node_affinity,
                    ..Default::default()
                });
            }
            (Some(_), Some(old_affinity)) => old_affinity.node_affinity = new_node_affinity,
            (None, None) => {}
        }
    }
    immutable_json(&spec.template, &old_template, &path.child("template"))
}

/// `ValidateJobUpdateStatus`: metadata and the status counters (the managed-by status
/// transition rules are not ported; Corral's own controller is the only writer).
pub fn validate_job_status_update(new: &Job, old: &Job) -> Vec<FieldError> {
    let mut errors = validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        FinalizerRules::Core,
        &FieldPath::root("metadata"),
    );
    let Some(status) = &new.status else {
        return errors;
    };
    let path = FieldPath::root("status");
    for (value, name) in [
        (status.active, "active"),
        (status.succeeded, "succeeded"),
        (status.failed, "failed"),
        (status.ready, "ready"),
        (status.terminating, "terminating"),
    ] {
        if let Some(value) = value {
            errors.extend(nonnegative(i64::from(value), &path.child(name)));
        }
    }
    if let Some(uncounted) = &status.uncounted_terminated_pods {
        let mut seen = std::collections::BTreeSet::new();
        for (list, name) in [
            (&uncounted.succeeded, "succeeded"),
            (&uncounted.failed, "failed"),
        ] {
            for (i, uid) in list.iter().flatten().enumerate() {
                let item = path.child("uncountedTerminatedPods").child(name).index(i);
                if uid.is_empty() {
                    errors.push(FieldError::invalid_str(item, "", "must not be empty"));
                } else if !seen.insert(uid.clone()) {
                    errors.push(FieldError::duplicate_str(item, uid));
                }
            }
        }
    }
    errors
}
