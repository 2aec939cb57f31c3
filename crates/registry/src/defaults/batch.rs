//! Job and CronJob defaulting: upstream's `SetDefaults_Job`, `SetDefaults_CronJob` and
//! `SetDefaults_PodFailurePolicyOnPodConditionsPattern` (`pkg/apis/batch/v1/defaults.go`),
//! with the pod template defaults below them.

use k8s_openapi::api::batch::v1::{CronJob, Job, JobSpec};

use crate::defaults::pod::default_pod_template;

/// Whether `manualSelector` is defaulted to `false`. Upstream's newest `SetDefaults_Job`
/// does so; Kubernetes 1.32 (the version Corral reports) leaves it unset, which is what
/// the kubectl-facing spec (§9) records.
pub const DEFAULT_MANUAL_SELECTOR: bool = false;

/// `SetDefaults_Job`.
pub fn default_job(job: &mut Job) {
    let spec = job.spec.get_or_insert_with(JobSpec::default);
    if spec.completions.is_none() && spec.parallelism.is_none() {
        spec.completions = Some(1);
        spec.parallelism = Some(1);
    }
    if spec.parallelism.is_none() {
        spec.parallelism = Some(1);
    }
    if spec.backoff_limit.is_none() {
        spec.backoff_limit = Some(if spec.backoff_limit_per_index.is_some() {
            i32::MAX
        } else {
            6
        });
    }
    let template_labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone());
    if template_labels.is_some() && job.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
        job.metadata.labels = template_labels;
    }
    if spec.completion_mode.is_none() {
        spec.completion_mode = Some("NonIndexed".into());
    }
    if spec.suspend.is_none() {
        spec.suspend = Some(false);
    }
    if spec.pod_replacement_policy.is_none() {
        let policy = if spec.pod_failure_policy.is_some() {
            "Failed"
        } else {
            "TerminatingOrFailed"
        };
        spec.pod_replacement_policy = Some(policy.into());
    }
    if DEFAULT_MANUAL_SELECTOR && spec.manual_selector.is_none() {
        spec.manual_selector = Some(false);
    }
    default_job_spec_template(spec);
}

/// The generated defaults inside a job spec: the pod template and pod failure policy
/// condition patterns (status `True`).
fn default_job_spec_template(spec: &mut JobSpec) {
    default_pod_template(&mut spec.template);
    for rule in spec
        .pod_failure_policy
        .iter_mut()
        .flat_map(|p| p.rules.iter_mut())
    {
        for pattern in rule.on_pod_conditions.iter_mut().flatten() {
            if pattern.status.as_deref().unwrap_or("").is_empty() {
                pattern.status = Some("True".into());
            }
        }
    }
}

/// `SetDefaults_CronJob`. The job template gets the pod template defaults but not the
/// Job ones (it is not a Job).
pub fn default_cronjob(cronjob: &mut CronJob) {
    let spec = &mut cronjob.spec;
    if spec.concurrency_policy.as_deref().unwrap_or("").is_empty() {
        spec.concurrency_policy = Some("Allow".into());
    }
    if spec.suspend.is_none() {
        spec.suspend = Some(false);
    }
    if spec.successful_jobs_history_limit.is_none() {
        spec.successful_jobs_history_limit = Some(3);
    }
    if spec.failed_jobs_history_limit.is_none() {
        spec.failed_jobs_history_limit = Some(1);
    }
    if spec.job_template.metadata.is_none() {
        spec.job_template.metadata = Some(Default::default());
    }
    default_job_spec_template(spec.job_template.spec.get_or_insert_with(JobSpec::default));
}
