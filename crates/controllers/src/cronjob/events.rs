//! The CronJob controller's events, worded exactly as upstream's
//! (`cronjob_controllerv2.go`, `utils.go`; v1 wording in `cronjob_controller.go`). Reasons and
//! messages are observable through `kubectl describe` and through the event recorder's spam
//! filter, so they are constants here rather than strings scattered through the logic.

use corral_core::{EventRecord, EventType, Timestamp};
use k8s_openapi::api::batch::v1::CronJob;

use super::job_state::Finished;

/// `source.component` of every event this controller records.
pub const COMPONENT: &str = "cronjob-controller";

/// Events about one CronJob, in the order the sync decided them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CronJobEvents {
    pub records: Vec<EventRecord>,
}

impl CronJobEvents {
    fn push(&mut self, cron_job: &CronJob, event_type: EventType, reason: &str, message: String) {
        let object = cron_job.clone().into();
        self.records.push(EventRecord::about(
            &object, event_type, reason, message, COMPONENT,
        ));
    }

    pub fn normal(&mut self, cron_job: &CronJob, reason: &str, message: String) {
        self.push(cron_job, EventType::Normal, reason, message);
    }

    pub fn warning(&mut self, cron_job: &CronJob, reason: &str, message: String) {
        self.push(cron_job, EventType::Warning, reason, message);
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn reasons(&self) -> Vec<&str> {
        self.records.iter().map(|r| r.reason.as_str()).collect()
    }
}

pub fn unexpected_job(job_name: &str) -> String {
    format!("Saw a job that the controller did not create or forgot: {job_name}")
}

/// Current upstream (1.30+, `jobutil.FinishedCondition`) prints the condition type; 1.15 to
/// 1.29 printed `status: <type>` with the same value.
pub fn saw_completed_job(job_name: &str, finished: Finished) -> String {
    format!(
        "Saw completed job: {job_name}, condition: {}",
        finished.as_str()
    )
}

pub fn missing_job(job_name: &str) -> String {
    format!("Active job went missing: {job_name}")
}

pub fn unknown_time_zone(time_zone: &str, error: &str) -> String {
    format!("invalid timeZone: {time_zone:?}: {error}")
}

pub fn unsupported_schedule(schedule: &str) -> String {
    format!(
        "CRON_TZ or TZ used in schedule {schedule:?} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details"
    )
}

pub fn unparseable_schedule(schedule: &str, error: &str) -> String {
    format!("unparseable schedule: {schedule:?} : {error}")
}

pub fn invalid_schedule(schedule: &str, error: &str) -> String {
    format!("invalid schedule: {schedule} : {error}")
}

pub const TOO_MANY_MISSED_TIMES: &str = "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew";

/// `Missed scheduled time to start a job: <RFC 1123 with numeric zone, in UTC>`.
pub fn miss_schedule(scheduled_time: Timestamp) -> String {
    let formatted = scheduled_time
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%a, %d %b %Y %H:%M:%S %z")
        .to_string();
    format!("Missed scheduled time to start a job: {formatted}")
}

pub const JOB_ALREADY_ACTIVE: &str =
    "Not starting job because prior execution is running and concurrency policy is Forbid";

pub fn failed_get(error: &str) -> String {
    format!("Get job: {error}")
}

pub fn successful_delete(job_name: &str) -> String {
    format!("Deleted job {job_name}")
}

/// Upstream's wording, including its odd "Deleted job:" for a failure.
pub fn failed_delete(error: &str) -> String {
    format!("Deleted job: {error}")
}

pub fn failed_create(error: &str) -> String {
    format!("Error creating job: {error}")
}

pub fn successful_create(job_name: &str) -> String {
    format!("Created job {job_name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn miss_schedule_prints_rfc_1123_with_a_numeric_utc_offset() {
        let slot: Timestamp = "2026-01-02T03:04:00Z".parse().unwrap();
        assert_eq!(
            miss_schedule(slot),
            "Missed scheduled time to start a job: Fri, 02 Jan 2026 03:04:00 +0000"
        );
    }

    #[test]
    fn messages_quote_like_go_percent_q() {
        assert_eq!(
            unparseable_schedule("* * *", "expected exactly 5 fields"),
            "unparseable schedule: \"* * *\" : expected exactly 5 fields"
        );
        assert_eq!(
            unknown_time_zone("Mars/Olympus", "unknown time zone Mars/Olympus"),
            "invalid timeZone: \"Mars/Olympus\": unknown time zone Mars/Olympus"
        );
    }
}
