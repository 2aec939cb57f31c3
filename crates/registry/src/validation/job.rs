//! Jobs: upstream's `ValidateJob`, `ValidateJobSpec`/`validateJobSpec`,
//! `validateGeneratedSelector`, `ValidateJobUpdate` and the status checks
//! (`pkg/apis/batch/validation/validation.go`). Pod failure and success policies live in
//! [`super::job_policy`].

use corral_api::{FieldError, FieldErrorType, FieldPath};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;

use crate::gofmt;
use crate::names;
use crate::validation::job_policy::{validate_pod_failure_policy, validate_success_policy};
use crate::validation::meta::{
    FinalizerRules, nonnegative, validate_label_selector, validate_object_meta,
};
use crate::validation::pod_spec::{PodOptions, validate_pod_template_spec};

/// `maxParallelismForIndexedJob` and `maxFailedIndexesForIndexedJob`.
const MAX_PARALLELISM_INDEXED: i32 = 100_000;
const MAX_FAILED_INDEXES: i32 = 100_000;
const COMPLETIONS_SOFT_LIMIT: i32 = 100_000;
const PARALLELISM_LIMIT_HIGH_COMPLETIONS: i32 = 10_000;
const MAX_FAILED_INDEXES_HIGH_COMPLETIONS: i32 = 10_000;
const MAX_MANAGED_BY_LENGTH: usize = 63;

pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";

pub(crate) fn template_labels(
    template: &PodTemplateSpec,
) -> Option<&std::collections::BTreeMap<String, String>> {
    template.metadata.as_ref().and_then(|m| m.labels.as_ref())
}

/// `ValidateJob`. `require_prefixed_labels` is upstream's `RequirePrefixedLabels` option.
pub fn validate_job(job: &Job, require_prefixed_labels: bool) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &job.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &FieldPath::root("metadata"),
    );
    let spec = job.spec.clone().unwrap_or_default();
    errors.extend(validate_generated_selector(
        job,
        &spec,
        require_prefixed_labels,
    ));
    errors.extend(validate_job_spec(&spec, &FieldPath::root("spec")));
    let name = job.metadata.name.as_deref().unwrap_or("");
    if spec.completion_mode.as_deref() == Some("Indexed") && spec.completions.unwrap_or(0) > 0 {
        let hostname = format!("{name}-{}", spec.completions.unwrap_or(0) - 1);
        if !names::is_dns1123_label(&hostname).is_empty() {
            errors.push(FieldError::invalid_str(
                FieldPath::root("metadata").child("name"),
                name,
                format!("will not able to create pod with invalid DNS label: {hostname}"),
            ));
        }
    }
    errors
}

/// `validateGeneratedSelector`: with a generated selector, the template must carry the
/// controller labels and the selector must select them.
fn validate_generated_selector(
    job: &Job,
    spec: &JobSpec,
    require_prefixed_labels: bool,
) -> Vec<FieldError> {
    if spec.manual_selector == Some(true) || spec.selector.is_none() {
        return Vec::new();
    }
    let mut errors = Vec::new();
    let uid = job.metadata.uid.as_deref().unwrap_or("");
    let name = job.metadata.name.as_deref().unwrap_or("");
    if uid.is_empty() {
        errors.push(FieldError::required(
            FieldPath::root("metadata").child("uid"),
            "",
        ));
    }
    let labels = template_labels(&spec.template);
    let meta_path = FieldPath::root("spec").child("template").child("metadata");
    let mut expected = vec![
        (LEGACY_CONTROLLER_UID_LABEL, uid),
        (LEGACY_JOB_NAME_LABEL, name),
    ];
    if require_prefixed_labels {
        expected.push((CONTROLLER_UID_LABEL, uid));
        expected.push((JOB_NAME_LABEL, name));
    }
    for (key, value) in &expected {
        errors.extend(validate_has_label(labels, &meta_path, key, value));
    }
    let expected_labels: std::collections::BTreeMap<String, String> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if crate::validation::meta::selector_matches(spec.selector.as_ref(), Some(&expected_labels))
        == Some(false)
    {
        errors.push(
            FieldError::new(
                FieldPath::root("spec").child("selector"),
                FieldErrorType::Invalid,
            )
            .value_plain(
                spec.selector
                    .as_ref()
                    .map(gofmt::label_selector)
                    .unwrap_or_default(),
            )
            .detail("`selector` not auto-generated"),
        );
    }
    errors
}

/// `ValidateHasLabel`.
fn validate_has_label(
    labels: Option<&std::collections::BTreeMap<String, String>>,
    meta_path: &FieldPath,
    key: &str,
    expected: &str,
) -> Vec<FieldError> {
    let path = meta_path.child("labels").key(key);
    match labels.and_then(|l| l.get(key)) {
        None => vec![FieldError::required(path, format!("must be '{expected}'"))],
        Some(actual) if actual != expected => vec![
            FieldError::new(path, FieldErrorType::Invalid)
                .value_plain(gofmt::string_map(labels))
                .detail(format!("must be '{expected}'")),
        ],
        Some(_) => Vec::new(),
    }
}

/// `ValidateJobSpec`: the inner checks plus the selector rules.
pub fn validate_job_spec(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = validate_job_spec_inner(spec, path);
    match &spec.selector {
        None => errors.push(FieldError::required(path.child("selector"), "")),
        Some(selector) => errors.extend(validate_label_selector(
            Some(selector),
            &path.child("selector"),
        )),
    }
    let labels = template_labels(&spec.template);
    if crate::validation::meta::selector_matches(spec.selector.as_ref(), labels) == Some(false) {
        errors.push(
            FieldError::new(
                path.child("template").child("metadata").child("labels"),
                FieldErrorType::Invalid,
            )
            .value_plain(gofmt::string_map(labels))
            .detail("`selector` does not match template `labels`"),
        );
    }
    errors
}

/// `validateJobSpec`: counts, completion mode, policies, the pod template and its
/// restart policy.
pub fn validate_job_spec_inner(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = validate_counts(spec, path);
    errors.extend(validate_completion_mode(spec, path));
    if spec.pod_failure_policy.is_some() {
        errors.extend(validate_pod_failure_policy(
            spec,
            &path.child("podFailurePolicy"),
        ));
    }
    if let Some(policy) = &spec.success_policy {
        if spec.completion_mode.as_deref() != Some("Indexed") {
            errors.push(
                FieldError::new(path.child("successPolicy"), FieldErrorType::Invalid)
                    .value_plain(gofmt::json(policy))
                    .detail("requires indexed completion mode"),
            );
        } else {
            errors.extend(validate_success_policy(spec, &path.child("successPolicy")));
        }
    }
    errors.extend(validate_pod_replacement_policy(
        spec,
        &path.child("podReplacementPolicy"),
    ));
    errors.extend(validate_pod_template_spec(
        &spec.template,
        &path.child("template"),
        PodOptions::default(),
    ));
    errors.extend(validate_job_restart_policy(spec, path));
    errors
}

/// The non-negative counts, `maxFailedIndexes` and `managedBy` of `validateJobSpec`.
fn validate_counts(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (value, name) in [
        (spec.parallelism.map(i64::from), "parallelism"),
        (spec.completions.map(i64::from), "completions"),
        (spec.active_deadline_seconds, "activeDeadlineSeconds"),
        (spec.backoff_limit.map(i64::from), "backoffLimit"),
        (
            spec.ttl_seconds_after_finished.map(i64::from),
            "ttlSecondsAfterFinished",
        ),
        (
            spec.backoff_limit_per_index.map(i64::from),
            "backoffLimitPerIndex",
        ),
    ] {
        if let Some(value) = value {
            errors.extend(nonnegative(value, &path.child(name)));
        }
    }
    if let Some(max_failed) = spec.max_failed_indexes {
        errors.extend(nonnegative(
            i64::from(max_failed),
            &path.child("maxFailedIndexes"),
        ));
        if spec.backoff_limit_per_index.is_none() {
            errors.push(FieldError::required(
                path.child("backoffLimitPerIndex"),
                "when maxFailedIndexes is specified",
            ));
        }
    }
    if let Some(managed_by) = &spec.managed_by {
        errors.extend(domain_prefixed_path(managed_by, &path.child("managedBy")));
        if managed_by.len() > MAX_MANAGED_BY_LENGTH {
            errors.push(FieldError::too_long(
                path.child("managedBy"),
                MAX_MANAGED_BY_LENGTH,
            ));
        }
    }
    errors
}

/// The completion-mode rules of `validateJobSpec`.
fn validate_completion_mode(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mode = spec.completion_mode.as_deref();
    if let Some(mode) = mode
        && mode != "NonIndexed"
        && mode != "Indexed"
    {
        errors.push(FieldError::not_supported(
            path.child("completionMode"),
            mode,
            &["NonIndexed", "Indexed"],
        ));
    }
    if mode == Some("Indexed") {
        errors.extend(validate_indexed(spec, path));
    }
    if mode.is_none() || mode == Some("NonIndexed") {
        for (value, name) in [
            (spec.backoff_limit_per_index, "backoffLimitPerIndex"),
            (spec.max_failed_indexes, "maxFailedIndexes"),
        ] {
            if let Some(value) = value {
                errors.push(FieldError::invalid_int(
                    path.child(name),
                    i64::from(value),
                    "requires indexed completion mode",
                ));
            }
        }
    }
    errors
}

fn validate_indexed(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if spec.completions.is_none() {
        errors.push(FieldError::required(
            path.child("completions"),
            "when completion mode is Indexed",
        ));
    }
    if let Some(parallelism) = spec.parallelism.filter(|p| *p > MAX_PARALLELISM_INDEXED) {
        errors.push(FieldError::invalid_int(
            path.child("parallelism"),
            i64::from(parallelism),
            format!("must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion mode is Indexed"),
        ));
    }
    if let (Some(completions), Some(max_failed)) = (spec.completions, spec.max_failed_indexes)
        && max_failed > completions
    {
        errors.push(FieldError::invalid_int(
            path.child("maxFailedIndexes"),
            i64::from(max_failed),
            "must be less than or equal to completions",
        ));
    }
    if let Some(max_failed) = spec.max_failed_indexes.filter(|m| *m > MAX_FAILED_INDEXES) {
        errors.push(FieldError::invalid_int(
            path.child("maxFailedIndexes"),
            i64::from(max_failed),
            format!("must be less than or equal to {MAX_FAILED_INDEXES}"),
        ));
    }
    if spec.completions.is_some_and(|c| c > COMPLETIONS_SOFT_LIMIT)
        && spec.backoff_limit_per_index.is_some()
    {
        if spec.max_failed_indexes.is_none() {
            errors.push(FieldError::required(
                path.child("maxFailedIndexes"),
                format!("must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}"),
            ));
        }
        let suffix = format!(
            "when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"
        );
        if let Some(parallelism) = spec
            .parallelism
            .filter(|p| *p > PARALLELISM_LIMIT_HIGH_COMPLETIONS)
        {
            errors.push(FieldError::invalid_int(
                path.child("parallelism"),
                i64::from(parallelism),
                format!(
                    "must be less than or equal to {PARALLELISM_LIMIT_HIGH_COMPLETIONS} {suffix}"
                ),
            ));
        }
        if let Some(max_failed) = spec
            .max_failed_indexes
            .filter(|m| *m > MAX_FAILED_INDEXES_HIGH_COMPLETIONS)
        {
            errors.push(FieldError::invalid_int(
                path.child("maxFailedIndexes"),
                i64::from(max_failed),
                format!(
                    "must be less than or equal to {MAX_FAILED_INDEXES_HIGH_COMPLETIONS} {suffix}"
                ),
            ));
        }
    }
    errors
}

/// `validatePodReplacementPolicy`.
fn validate_pod_replacement_policy(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let Some(policy) = spec.pod_replacement_policy.as_deref() else {
        return Vec::new();
    };
    if spec.pod_failure_policy.is_some() {
        if policy != "Failed" {
            return vec![FieldError::not_supported(path, policy, &["Failed"])];
        }
    } else if policy != "Failed" && policy != "TerminatingOrFailed" {
        return vec![FieldError::not_supported(
            path,
            policy,
            &["Failed", "TerminatingOrFailed"],
        )];
    }
    Vec::new()
}

/// The restart-policy rule at the end of `validateJobSpec`: `Always` (the pod default)
/// or empty is "Required", other values "Unsupported".
fn validate_job_restart_policy(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let restart_path = path.child("template").child("spec").child("restartPolicy");
    let policy = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("");
    match policy {
        "" | "Always" => vec![FieldError::required(
            restart_path,
            "valid values: \"OnFailure\", \"Never\"",
        )],
        "OnFailure" | "Never" if spec.pod_failure_policy.is_some() && policy != "Never" => {
            vec![FieldError::invalid_str(
                restart_path,
                policy,
                "only \"Never\" is supported when podFailurePolicy is specified",
            )]
        }
        "OnFailure" | "Never" => Vec::new(),
        other => vec![FieldError::not_supported(
            restart_path,
            other,
            &["OnFailure", "Never"],
        )],
    }
}

/// `IsDomainPrefixedPath`.
fn domain_prefixed_path(value: &str, path: &FieldPath) -> Vec<FieldError> {
    if value.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let Some((host, rest)) = value
        .split_once('/')
        .filter(|(h, r)| !h.is_empty() && !r.is_empty())
    else {
        return vec![FieldError::invalid_str(
            path,
            value,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        )];
    };
    let mut errors =
        crate::validation::meta::invalid_each(path, host, names::is_dns1123_subdomain(host));
    let path_ok = rest
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:".contains(&c));
    if !path_ok {
        errors.push(FieldError::invalid_str(
            path,
            rest,
            names::regex_error("Invalid path", "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+", &[]),
        ));
    }
    errors
}
