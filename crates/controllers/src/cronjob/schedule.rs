//! From a CronJob's `schedule`, `timeZone`, `startingDeadlineSeconds` and status to "which
//! slot is due now" and "when to look again". Thin wrappers over `corral-cron`'s ports of
//! upstream `utils.go` (`mostRecentScheduleTime`, `nextScheduleTimeDuration`) plus the
//! controller's own glue (`formatSchedule`, `nextScheduleTime`).

use std::time::Duration;

use corral_core::Timestamp;
use corral_cron::{CronError, MissedSchedules, Schedule};
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::CronJob;

/// The zone a CronJob's schedule is evaluated in.
///
/// Upstream `formatSchedule` prefixes the schedule with `TZ=<timeZone>` when the zone loads
/// (robfig then evaluates in it) and otherwise leaves the schedule alone, which means the
/// controller manager's local zone. A `TZ=`/`CRON_TZ=` prefix written in the schedule itself
/// overrides both; [`Schedule::next`] applies that override.
pub fn schedule_zone(cron_job: &CronJob, local_zone: &TimeZone) -> Result<TimeZone, CronError> {
    match spec_time_zone(cron_job) {
        None => Ok(local_zone.clone()),
        Some(name) => load_location(name, local_zone),
    }
}

/// Go's `time.LoadLocation` as the controller uses it: `""` is UTC and `Local` is the
/// controller's zone. API validation rejects both in `spec.timeZone`, but objects stored
/// before that validation existed may still carry them.
pub fn load_location(name: &str, local_zone: &TimeZone) -> Result<TimeZone, CronError> {
    match name {
        "" => Ok(TimeZone::UTC),
        "Local" => Ok(local_zone.clone()),
        _ => Schedule::parse_time_zone(name),
    }
}

/// The zone of the `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation: upstream
/// loads `ptr.Deref(spec.timeZone, "")`, so a CronJob without `timeZone` gets UTC there even
/// though its schedule runs in the controller's local zone.
pub fn annotation_zone(cron_job: &CronJob) -> TimeZone {
    match spec_time_zone(cron_job) {
        None => TimeZone::UTC,
        Some(name) => load_location(name, &TimeZone::UTC).unwrap_or(TimeZone::UTC),
    }
}

pub fn spec_time_zone(cron_job: &CronJob) -> Option<&str> {
    cron_job.spec.time_zone.as_deref()
}

pub fn spec_schedule(cron_job: &CronJob) -> &str {
    &cron_job.spec.schedule
}

/// A parsed schedule and the zone it runs in.
#[derive(Clone, Debug)]
pub struct ZonedSchedule {
    pub schedule: Schedule,
    pub zone: TimeZone,
}

impl ZonedSchedule {
    /// Upstream `cron.ParseStandard(formatSchedule(cj, ...))`. An unloadable `timeZone` falls
    /// back to the local zone here, as `formatSchedule` does (the sync stops earlier with
    /// `UnknownTimeZone`; the update handler does not).
    pub fn for_cron_job(cron_job: &CronJob, local_zone: &TimeZone) -> Result<Self, CronError> {
        let schedule = Schedule::parse(spec_schedule(cron_job))?;
        let zone = schedule_zone(cron_job, local_zone).unwrap_or_else(|_| local_zone.clone());
        Ok(ZonedSchedule { schedule, zone })
    }
}

/// Whether upstream `formatSchedule` warns `UnsupportedSchedule` (any `TZ` in the schedule).
pub fn schedule_has_tz(cron_job: &CronJob) -> bool {
    corral_cron::contains_tz_prefix(spec_schedule(cron_job))
}

fn creation_timestamp(cron_job: &CronJob) -> Timestamp {
    cron_job
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(Timestamp::UNIX_EPOCH, |t| t.0)
}

fn last_schedule_time(cron_job: &CronJob) -> Option<Timestamp> {
    cron_job
        .status
        .as_ref()?
        .last_schedule_time
        .as_ref()
        .map(|t| t.0)
}

fn starting_deadline_seconds(cron_job: &CronJob) -> Option<i64> {
    cron_job.spec.starting_deadline_seconds
}

/// What `nextScheduleTime` found.
#[derive(Clone, Debug, PartialEq)]
pub enum DueSlot {
    /// No slot between the earliest time and now.
    None,
    /// The most recent unmet slot; `too_many_missed` is upstream's `manyMissed`.
    Due {
        slot: Timestamp,
        too_many_missed: bool,
    },
    /// `InvalidSchedule`: slots less than a second apart, or none at all.
    Invalid(CronError),
}

/// Upstream `nextScheduleTime`: `mostRecentScheduleTime` with the starting deadline applied.
pub fn next_schedule_time(cron_job: &CronJob, now: Timestamp, schedule: &ZonedSchedule) -> DueSlot {
    let earliest = corral_cron::earliest_schedule_time(
        creation_timestamp(cron_job),
        last_schedule_time(cron_job),
        starting_deadline_seconds(cron_job),
        now,
        true,
    );
    match corral_cron::most_recent_schedule_time(earliest, now, &schedule.schedule, &schedule.zone)
    {
        Err(error) => DueSlot::Invalid(error),
        Ok((None, _)) => DueSlot::None,
        Ok((Some(slot), _)) if slot > now => DueSlot::None,
        Ok((Some(slot), missed)) => DueSlot::Due {
            slot,
            too_many_missed: MissedSchedules::from_count(missed) == MissedSchedules::Many,
        },
    }
}

/// Upstream `nextScheduleTimeDuration`: the next slot after the last one (or after now when
/// slots were missed) plus 100 ms, minus now. `last_schedule_time` overrides the status value
/// (the sync computes the requeue after recording a new slot).
///
/// `None` when the schedule has no further slot within robfig's five-year search; upstream
/// would then requeue at once, forever, so Corral drops the key until the next event.
pub fn next_schedule_delay(
    cron_job: &CronJob,
    last_schedule_time_override: Option<Timestamp>,
    now: Timestamp,
    schedule: &ZonedSchedule,
) -> Option<Duration> {
    let earliest = last_schedule_time_override
        .or_else(|| last_schedule_time(cron_job))
        .unwrap_or_else(|| creation_timestamp(cron_job));
    let delay = corral_cron::next_schedule_time_duration(
        earliest,
        now,
        &schedule.schedule,
        &schedule.zone,
    )?;
    // A negative delay means "now" (client-go's AddAfter adds at once).
    Some(delay.try_into().unwrap_or(Duration::ZERO))
}

/// Upstream `startingDeadlineSeconds` "too late" test: `slot + deadline < now`.
pub fn is_too_late(cron_job: &CronJob, slot: Timestamp, now: Timestamp) -> bool {
    let Some(deadline_seconds) = starting_deadline_seconds(cron_job) else {
        return false;
    };
    let deadline = jiff::SignedDuration::from_secs(deadline_seconds);
    slot.checked_add(deadline).is_ok_and(|latest| latest < now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::CronJobSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn cron_job(schedule: &str, created: &str, time_zone: Option<&str>) -> CronJob {
        CronJob {
            metadata: ObjectMeta {
                creation_timestamp: Some(Time(created.parse().unwrap())),
                ..Default::default()
            },
            spec: CronJobSpec {
                schedule: schedule.into(),
                time_zone: time_zone.map(String::from),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn the_requeue_lands_one_hundred_milliseconds_after_the_next_slot() {
        let cj = cron_job("*/5 * * * *", "2026-01-01T00:00:00Z", None);
        let schedule = ZonedSchedule::for_cron_job(&cj, &TimeZone::UTC).unwrap();
        let now: Timestamp = "2026-01-01T00:01:30Z".parse().unwrap();
        let delay = next_schedule_delay(&cj, None, now, &schedule).unwrap();
        assert_eq!(delay, Duration::from_millis(210_100));
    }

    #[test]
    fn the_annotation_zone_is_utc_without_a_time_zone_even_if_the_controller_is_elsewhere() {
        let cj = cron_job("0 * * * *", "2026-01-01T00:00:00Z", None);
        assert_eq!(annotation_zone(&cj), TimeZone::UTC);
        let cj = cron_job("0 * * * *", "2026-01-01T00:00:00Z", Some("Europe/Berlin"));
        assert_eq!(annotation_zone(&cj).iana_name(), Some("Europe/Berlin"));
    }

    #[test]
    fn a_slot_is_too_late_only_strictly_after_the_deadline() {
        let mut cj = cron_job("* * * * *", "2026-01-01T00:00:00Z", None);
        cj.spec.starting_deadline_seconds = Some(10);
        let slot: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        assert!(!is_too_late(
            &cj,
            slot,
            "2026-01-01T00:01:10Z".parse().unwrap()
        ));
        assert!(is_too_late(
            &cj,
            slot,
            "2026-01-01T00:01:11Z".parse().unwrap()
        ));
    }
}
