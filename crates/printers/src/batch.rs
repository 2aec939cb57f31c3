//! Jobs and CronJobs: upstream `printJob` and `printCronJob`
//! (`pkg/printers/internalversion/printers.go`), plus Corral's `Next Run` column on
//! CronJobs (guard 8, `docs/guards.md`).

use corral_api::KubeObject;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{CronJob, Job, JobCondition, JobSpec};
use k8s_openapi::api::core::v1::Container;

use crate::descriptions as doc;
use crate::duration::{between, human_duration, since};
use crate::format::{self, int, string};
use crate::table::{AGE, CONTAINERS, Cells, Column, IMAGES, NAME, Printer};

const JOB_COLUMNS: &[Column] = &[
    NAME,
    Column::string("Status", "Status of the job."),
    Column::string("Completions", doc::JOB_STATUS_SUCCEEDED),
    Column::string("Duration", "Time required to complete the job."),
    AGE,
    CONTAINERS,
    IMAGES,
    Column::string("Selector", doc::JOB_SPEC_SELECTOR).wide(),
];

pub(crate) const JOB_PRINTER: Printer = Printer {
    columns: JOB_COLUMNS,
    cells: job_cells,
};

/// Upstream `printJob`.
fn job_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let job = object.as_typed::<Job>()?;
    let default_spec = JobSpec::default();
    let spec = job.spec.as_ref().unwrap_or(&default_spec);
    let (names, images) = template_containers(Some(spec));
    Some(Cells::new(vec![
        format::name(&job.metadata),
        string(job_status(job)),
        string(job_completions(job)),
        string(job_duration(job, now)),
        format::age(&job.metadata, now),
        string(names),
        string(images),
        string(format::format_label_selector(spec.selector.as_ref())),
    ]))
}

/// The STATUS cell (upstream since 1.30): the first of Complete, Failed, Terminating,
/// Suspended, FailureTarget that holds, else Running.
fn job_status(job: &Job) -> &'static str {
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    if has_job_condition(conditions, "Complete") {
        "Complete"
    } else if has_job_condition(conditions, "Failed") {
        "Failed"
    } else if job.metadata.deletion_timestamp.is_some() {
        "Terminating"
    } else if has_job_condition(conditions, "Suspended") {
        "Suspended"
    } else if has_job_condition(conditions, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

/// Upstream `hasJobCondition`: the first condition of the type decides.
fn has_job_condition(conditions: &[JobCondition], type_: &str) -> bool {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .is_some_and(|c| c.status == "True")
}

/// COMPLETIONS: `succeeded/completions`, or `succeeded/1 of parallelism` for a work queue
/// with parallelism above one, else `succeeded/1`.
fn job_completions(job: &Job) -> String {
    let succeeded = job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0);
    let spec = job.spec.as_ref();
    if let Some(completions) = spec.and_then(|s| s.completions) {
        return format!("{succeeded}/{completions}");
    }
    let parallelism = spec.and_then(|s| s.parallelism).unwrap_or(0);
    if parallelism > 1 {
        format!("{succeeded}/1 of {parallelism}")
    } else {
        format!("{succeeded}/1")
    }
}

/// DURATION: empty before the job starts, then start → completion (or → now).
fn job_duration(job: &Job, now: Timestamp) -> String {
    let status = job.status.as_ref();
    let Some(start) = status.and_then(|s| s.start_time.as_ref()) else {
        return String::new();
    };
    match status.and_then(|s| s.completion_time.as_ref()) {
        Some(completion) => human_duration(between(start.0, completion.0)),
        None => human_duration(since(now, start.0)),
    }
}

/// The wide CONTAINERS and IMAGES cells of a job template.
fn template_containers(spec: Option<&JobSpec>) -> (String, String) {
    let containers: &[Container] = spec
        .and_then(|s| s.template.spec.as_ref())
        .map_or(&[], |pod| pod.containers.as_slice());
    format::layout_container_cells(containers)
}

const CRON_JOB_COLUMNS: &[Column] = &[
    NAME,
    Column::string("Schedule", doc::CRON_JOB_SPEC_SCHEDULE),
    Column::string("Timezone", doc::CRON_JOB_SPEC_TIME_ZONE),
    Column::typed("Suspend", "boolean", doc::CRON_JOB_SPEC_SUSPEND),
    Column::typed("Active", "integer", doc::CRON_JOB_STATUS_ACTIVE),
    Column::string("Last Schedule", doc::CRON_JOB_STATUS_LAST_SCHEDULE_TIME),
    // Corral's column (not upstream's): the time until the next scheduled run.
    Column::string("Next Run", NEXT_RUN_DESCRIPTION),
    AGE,
    CONTAINERS,
    IMAGES,
    Column::string("Selector", doc::JOB_SPEC_SELECTOR).wide(),
];

/// The CronJob controller's `corral.dev/next-schedule-time` annotation (guard 8): the next
/// slot, RFC 3339.
const NEXT_SCHEDULE_TIME_ANNOTATION: &str = "corral.dev/next-schedule-time";

const NEXT_RUN_DESCRIPTION: &str = "Time until the next scheduled run, from the corral.dev/next-schedule-time annotation the CronJob controller maintains.";

/// A next run this far in the past is not about to happen: the annotation is stale.
const NEXT_RUN_OVERDUE: SignedDuration = SignedDuration::from_secs(1);

/// NEXT RUN: the human duration until the annotated time; `<none>` without the annotation
/// (a suspended CronJob, or a controller without guard 8), `<overdue>` once it is more than
/// a second in the past.
fn next_run(cron_job: &CronJob, now: Timestamp) -> String {
    let next = cron_job
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(NEXT_SCHEDULE_TIME_ANNOTATION))
        .and_then(|v| v.parse::<Timestamp>().ok());
    match next {
        None => "<none>".into(),
        Some(next) => {
            let until = between(now, next);
            if until < -NEXT_RUN_OVERDUE {
                "<overdue>".into()
            } else {
                human_duration(until.max(SignedDuration::ZERO))
            }
        }
    }
}

pub(crate) const CRON_JOB_PRINTER: Printer = Printer {
    columns: CRON_JOB_COLUMNS,
    cells: cron_job_cells,
};

/// Upstream `printCronJob`.
fn cron_job_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let cron_job = object.as_typed::<CronJob>()?;
    let spec = &cron_job.spec;
    let status = cron_job.status.as_ref();
    let last_schedule = match status.and_then(|s| s.last_schedule_time.as_ref()) {
        Some(time) => format::timestamp_since(Some(time), now),
        None => "<none>".into(),
    };
    let active = status.and_then(|s| s.active.as_ref()).map_or(0, Vec::len);
    let job_spec = spec.job_template.spec.as_ref();
    let (names, images) = template_containers(job_spec);
    Some(Cells::new(vec![
        format::name(&cron_job.metadata),
        string(spec.schedule.as_str()),
        string(spec.time_zone.as_deref().unwrap_or("<none>")),
        string(format::bool_ptr(spec.suspend)),
        int(i64::try_from(active).unwrap_or(i64::MAX)),
        string(last_schedule),
        string(next_run(cron_job, now)),
        format::age(&cron_job.metadata, now),
        string(names),
        string(images),
        string(format::format_label_selector(
            job_spec.and_then(|s| s.selector.as_ref()),
        )),
    ]))
}
