//! CronJobs: upstream's `ValidateCronJobCreate`, `ValidateCronJobUpdate`,
//! `validateCronJobSpec`, `validateScheduleFormat`, `validateTimeZone` and
//! `ValidateJobTemplateSpec`, with schedules parsed by `corral-cron` (a port of
//! robfig/cron's `ParseStandard`, so the error texts are robfig's).

use corral_api::{FieldError, FieldErrorType, FieldPath};
use corral_cron::{CronError, Schedule};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobTemplateSpec};

use crate::gofmt;
use crate::names;
use crate::validation::job::validate_job_spec_inner;
use crate::validation::meta::{
    FinalizerRules, nonnegative, validate_object_meta, validate_object_meta_update,
};

/// A CronJob's Jobs are named `<cronjob>-<11 characters>`, and a Job name is a label.
const MAX_CRONJOB_NAME_LENGTH: usize = names::DNS1035_LABEL_MAX_LENGTH - 11;

/// `ValidateCronJobCreate`.
pub fn validate_cronjob_create(cronjob: &CronJob) -> Vec<FieldError> {
    let mut errors = validate_object_meta(
        &cronjob.metadata,
        true,
        names::name_is_dns_subdomain,
        FinalizerRules::Core,
        &FieldPath::root("metadata"),
    );
    let spec = cronjob.spec.clone();
    errors.extend(validate_cronjob_spec(&spec, None, &FieldPath::root("spec")));
    let name = cronjob.metadata.name.as_deref().unwrap_or("");
    if name.len() > MAX_CRONJOB_NAME_LENGTH {
        errors.push(FieldError::invalid_str(
            FieldPath::root("metadata").child("name"),
            name,
            "must be no more than 52 characters",
        ));
    }
    errors
}

/// `ValidateCronJobUpdate` (the 52-character limit is not re-checked on update).
pub fn validate_cronjob_update(new: &CronJob, old: &CronJob) -> Vec<FieldError> {
    let mut errors = validate_object_meta_update(
        &new.metadata,
        &old.metadata,
        FinalizerRules::Core,
        &FieldPath::root("metadata"),
    );
    let (spec, old_spec) = (&new.spec, &old.spec);
    errors.extend(validate_cronjob_spec(
        spec,
        Some(old_spec),
        &FieldPath::root("spec"),
    ));
    errors
}

/// `validateCronJobSpec`.
fn validate_cronjob_spec(
    spec: &CronJobSpec,
    old: Option<&CronJobSpec>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if spec.schedule.is_empty() {
        errors.push(FieldError::required(path.child("schedule"), ""));
    } else {
        let allow_tz = old.is_some_and(|o| o.schedule.contains("TZ"));
        errors.extend(validate_schedule_format(
            &spec.schedule,
            allow_tz,
            spec.time_zone.as_deref(),
            &path.child("schedule"),
        ));
    }
    if let Some(deadline) = spec.starting_deadline_seconds {
        errors.extend(nonnegative(
            deadline,
            &path.child("startingDeadlineSeconds"),
        ));
    }
    if old.is_none_or(|o| o.time_zone != spec.time_zone) {
        errors.extend(validate_time_zone(
            spec.time_zone.as_deref(),
            &path.child("timeZone"),
        ));
    }
    errors.extend(validate_concurrency_policy(
        spec.concurrency_policy.as_deref(),
        &path.child("concurrencyPolicy"),
    ));
    errors.extend(validate_job_template_spec(
        &spec.job_template,
        &path.child("jobTemplate"),
    ));
    for (value, name) in [
        (
            spec.successful_jobs_history_limit,
            "successfulJobsHistoryLimit",
        ),
        (spec.failed_jobs_history_limit, "failedJobsHistoryLimit"),
    ] {
        if let Some(value) = value {
            errors.extend(nonnegative(i64::from(value), &path.child(name)));
        }
    }
    errors
}

/// `validateScheduleFormat`.
fn validate_schedule_format(
    schedule: &str,
    allow_tz: bool,
    time_zone: Option<&str>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Err(error) = Schedule::parse(schedule) {
        errors.push(FieldError::invalid_str(path, schedule, error.to_string()));
    }
    let has_tz = corral_cron::contains_tz_prefix(schedule);
    if allow_tz && has_tz && time_zone.is_some() {
        errors.push(FieldError::invalid_str(
            path,
            schedule,
            "cannot use both timeZone field and TZ or CRON_TZ in schedule",
        ));
    } else if !allow_tz && has_tz {
        errors.push(FieldError::invalid_str(
            path,
            schedule,
            corral_cron::TZ_IN_SCHEDULE_MESSAGE,
        ));
    }
    errors
}

/// `validateTimeZone`: `Local` in another letter case fails twice upstream (the explicit
/// message, then `time.LoadLocation`'s).
fn validate_time_zone(time_zone: Option<&str>, path: &FieldPath) -> Vec<FieldError> {
    let Some(name) = time_zone else {
        return Vec::new();
    };
    match Schedule::parse_time_zone(name) {
        Ok(_) => Vec::new(),
        Err(CronError::LocalTimeZone) if name != "Local" => vec![
            FieldError::invalid_str(path, name, CronError::LocalTimeZone.to_string()),
            FieldError::invalid_str(path, name, format!("unknown time zone {name}")),
        ],
        Err(error) => vec![FieldError::invalid_str(path, name, error.to_string())],
    }
}

/// `validateConcurrencyPolicy`.
fn validate_concurrency_policy(policy: Option<&str>, path: &FieldPath) -> Vec<FieldError> {
    match policy.unwrap_or("") {
        "Allow" | "Forbid" | "Replace" => Vec::new(),
        "" => vec![FieldError::required(path, "")],
        other => vec![FieldError::not_supported(
            path,
            other,
            &["Allow", "Forbid", "Replace"],
        )],
    }
}

/// `ValidateJobTemplateSpec`: the job spec, with the selector left to the controller.
fn validate_job_template_spec(template: &JobTemplateSpec, path: &FieldPath) -> Vec<FieldError> {
    let spec = template.spec.clone().unwrap_or_default();
    let spec_path = path.child("spec");
    let mut errors = validate_job_spec_inner(&spec, &spec_path);
    if let Some(selector) = &spec.selector {
        errors.push(
            FieldError::new(spec_path.child("selector"), FieldErrorType::Invalid)
                .value_plain(gofmt::label_selector(selector))
                .detail("`selector` will be auto-generated"),
        );
    }
    if spec.manual_selector == Some(true) {
        errors.push(
            FieldError::new(
                spec_path.child("manualSelector"),
                FieldErrorType::NotSupported,
            )
            .value_plain("true")
            .detail("supported values: \"nil\", \"false\""),
        );
    }
    errors
}
