//! What the CronJob, TTL and history code needs to know about a Job's state: whether it has
//! finished, how, and when. Ports of upstream `pkg/controller/job/util/utils.go`
//! (`FinishedCondition`, `IsJobFinished`, `IsJobSucceeded`).
//!
//! Only the conditions count: a Job is finished when it has `Complete=True` or `Failed=True`,
//! whatever its pods are doing. This is why the snowball (spec §7.1) happens: a Job whose
//! pod succeeded long ago but whose Job controller has not caught up is still unfinished.

use k8s_openapi::api::batch::v1::{Job, JobCondition};

use corral_core::Timestamp;

/// The condition type of a successfully finished Job.
pub const JOB_COMPLETE: &str = "Complete";
/// The condition type of a failed Job.
pub const JOB_FAILED: &str = "Failed";

/// How a Job finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finished {
    Complete,
    Failed,
}

impl Finished {
    /// The condition type, as upstream prints it in `SawCompletedJob`.
    pub fn as_str(self) -> &'static str {
        match self {
            Finished::Complete => JOB_COMPLETE,
            Finished::Failed => JOB_FAILED,
        }
    }
}

/// Upstream `FinishedCondition`: the first `Complete=True` or `Failed=True` condition.
pub fn finished_condition(job: &Job) -> Option<(Finished, &JobCondition)> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    conditions.iter().find_map(|condition| {
        if condition.status != "True" {
            return None;
        }
        match condition.type_.as_str() {
            JOB_COMPLETE => Some((Finished::Complete, condition)),
            JOB_FAILED => Some((Finished::Failed, condition)),
            _ => None,
        }
    })
}

/// Upstream `IsJobFinished`.
pub fn is_job_finished(job: &Job) -> bool {
    finished_condition(job).is_some()
}

/// Upstream `IsJobSucceeded`: `Complete=True` anywhere in the conditions (not only the first
/// finished condition; a Job never carries both).
pub fn is_job_succeeded(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == JOB_COMPLETE && c.status == "True")
        })
}

/// `status.startTime`, if set.
pub fn start_time(job: &Job) -> Option<Timestamp> {
    job.status.as_ref()?.start_time.as_ref().map(|t| t.0)
}

/// `status.completionTime`, if set.
pub fn completion_time(job: &Job) -> Option<Timestamp> {
    job.status.as_ref()?.completion_time.as_ref().map(|t| t.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::JobStatus;

    fn job_with(conditions: &[(&str, &str)]) -> Job {
        Job {
            status: Some(JobStatus {
                conditions: Some(
                    conditions
                        .iter()
                        .map(|(type_, status)| JobCondition {
                            type_: type_.to_string(),
                            status: status.to_string(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn only_true_complete_or_failed_conditions_finish_a_job() {
        assert!(!is_job_finished(&Job::default()));
        assert!(!is_job_finished(&job_with(&[("Complete", "False")])));
        assert!(!is_job_finished(&job_with(&[(
            "SuccessCriteriaMet",
            "True"
        )])));
        let failed = job_with(&[("FailureTarget", "True"), ("Failed", "True")]);
        assert_eq!(
            finished_condition(&failed).map(|(f, _)| f),
            Some(Finished::Failed)
        );
        assert!(!is_job_succeeded(&failed));
        let complete = job_with(&[("Complete", "True")]);
        assert_eq!(
            finished_condition(&complete).map(|(f, _)| f),
            Some(Finished::Complete)
        );
        assert!(is_job_succeeded(&complete));
    }
}
