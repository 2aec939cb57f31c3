//! [`JobView`]: a Job's spec with the API defaults applied and the fields the controller
//! dereferences checked, so the sync code never unwraps.
//!
//! Upstream relies on the API server having defaulted and validated the Job
//! (`pkg/apis/batch/v1/defaults.go`, `validation.go`) and dereferences `*Parallelism`,
//! `*BackoffLimit`, `*Completions` freely. A pure core fed from any cache must not panic,
//! so the same defaults are applied here and a Job that cannot be acted on is reported
//! (a Warning event) instead.

use corral_api::{KubeObject, LabelSelector};
use k8s_openapi::api::batch::v1::{Job, JobSpec, JobStatus, PodFailurePolicy, SuccessPolicy};
use k8s_openapi::api::core::v1::PodSpec;

/// `batch.NonIndexedCompletion` / `batch.IndexedCompletion`.
pub const COMPLETION_MODE_NON_INDEXED: &str = "NonIndexed";
pub const COMPLETION_MODE_INDEXED: &str = "Indexed";
/// `pkg/apis/batch/v1/defaults.go`.
pub const DEFAULT_BACKOFF_LIMIT: i32 = 6;

/// Why a Job cannot be synced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViewError {
    /// `spec.completionMode` is neither `NonIndexed` nor `Indexed`.
    UnknownCompletionMode,
    /// Something validation should have rejected; the message says what.
    Invalid(String),
}

/// The defaulted, checked spec the sync works from.
#[derive(Clone, Debug)]
pub struct JobView<'a> {
    pub object: &'a KubeObject,
    pub job: &'a Job,
    pub spec: &'a JobSpec,
    pub pod_spec: &'a PodSpec,
    pub selector: LabelSelector,
    pub parallelism: i32,
    /// `None`: a work-queue Job.
    pub completions: Option<i32>,
    pub backoff_limit: i32,
    pub indexed: bool,
    /// Only for Indexed Jobs.
    pub backoff_limit_per_index: Option<i32>,
    pub max_failed_indexes: Option<i32>,
    pub active_deadline_seconds: Option<i64>,
    pub suspended: bool,
    /// `onlyReplaceFailedPods`: `podReplacementPolicy: Failed`, implied by a pod failure
    /// policy.
    pub only_replace_failed: bool,
    pub restart_on_failure: bool,
    pub pod_failure_policy: Option<&'a PodFailurePolicy>,
    pub success_policy: Option<&'a SuccessPolicy>,
}

impl<'a> JobView<'a> {
    pub fn new(object: &'a KubeObject) -> Result<JobView<'a>, ViewError> {
        let job: &Job = object
            .as_typed()
            .ok_or_else(|| ViewError::Invalid("the object is not a Job".into()))?;
        let spec = job
            .spec
            .as_ref()
            .ok_or_else(|| ViewError::Invalid("spec is missing".into()))?;
        let indexed = match spec.completion_mode.as_deref() {
            None | Some(COMPLETION_MODE_NON_INDEXED) => false,
            Some(COMPLETION_MODE_INDEXED) => true,
            Some(_) => return Err(ViewError::UnknownCompletionMode),
        };
        let pod_spec = spec
            .template
            .spec
            .as_ref()
            .ok_or_else(|| ViewError::Invalid("spec.template.spec is missing".into()))?;
        let selector = checked_selector(spec)?;
        let (parallelism, completions) = match (spec.parallelism, spec.completions) {
            (None, None) => (1, Some(1)),
            (parallelism, completions) => (
                parallelism.unwrap_or(1).max(0),
                completions.map(|c| c.max(0)),
            ),
        };
        if indexed && completions.is_none() {
            return Err(ViewError::Invalid(
                "spec.completions is required for Indexed Jobs".into(),
            ));
        }
        let backoff_limit_per_index = spec
            .backoff_limit_per_index
            .filter(|_| indexed)
            .map(|b| b.max(0));
        let default_backoff_limit = if backoff_limit_per_index.is_some() {
            i32::MAX
        } else {
            DEFAULT_BACKOFF_LIMIT
        };
        Ok(JobView {
            object,
            job,
            spec,
            pod_spec,
            selector,
            parallelism,
            completions,
            backoff_limit: spec.backoff_limit.unwrap_or(default_backoff_limit).max(0),
            indexed,
            backoff_limit_per_index,
            max_failed_indexes: spec.max_failed_indexes.filter(|_| indexed),
            active_deadline_seconds: spec.active_deadline_seconds,
            suspended: spec.suspend == Some(true),
            only_replace_failed: spec.pod_replacement_policy.as_deref() == Some("Failed")
                || spec.pod_failure_policy.is_some(),
            restart_on_failure: pod_spec.restart_policy.as_deref() == Some("OnFailure"),
            pod_failure_policy: spec.pod_failure_policy.as_ref(),
            success_policy: spec.success_policy.as_ref(),
        })
    }

    pub fn status(&self) -> Option<&'a JobStatus> {
        self.job.status.as_ref()
    }

    /// `completions` for index arithmetic (Indexed Jobs always have it).
    pub fn completions_or_zero(&self) -> i64 {
        i64::from(self.completions.unwrap_or(0))
    }

    pub fn name(&self) -> &'a str {
        self.object.name()
    }

    pub fn namespace(&self) -> &'a str {
        self.object.namespace()
    }

    pub fn uid(&self) -> &'a str {
        self.job.metadata.uid.as_deref().unwrap_or("")
    }

    pub fn is_being_deleted(&self) -> bool {
        self.job.metadata.deletion_timestamp.is_some()
    }
}

/// The selector, which must exist, parse, and match the template's labels: a Job whose
/// own pods do not match its selector would never see them and create pods forever.
fn checked_selector(spec: &JobSpec) -> Result<LabelSelector, ViewError> {
    if spec.selector.is_none() {
        return Err(ViewError::Invalid("spec.selector is missing".into()));
    }
    let selector = LabelSelector::from_k8s(spec.selector.as_ref())
        .map_err(|e| ViewError::Invalid(format!("couldn't convert Job selector: {e}")))?;
    let labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref());
    if !selector.matches_opt(labels) {
        return Err(ViewError::Invalid(
            "`selector` does not match template `labels`".into(),
        ));
    }
    Ok(selector)
}

/// `managedByExternalController`: the other controller's name, if not this one.
pub fn managed_by_other(job: &Job) -> Option<&str> {
    let name = job.spec.as_ref()?.managed_by.as_deref()?;
    (name != super::status::JOB_CONTROLLER_NAME).then_some(name)
}
