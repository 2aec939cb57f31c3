//! Ports of the Kubernetes CronJob controller's (v2) schedule helpers from
//! `pkg/controller/cronjob/utils.go`: which slot is due now, roughly how many
//! were missed, and when to look again.
//!
//! Why ported rather than redesigned: the estimate is observable. More than 100
//! "missed" slots raises a `TooManyMissedTimes` warning, a schedule whose slots
//! are less than a second apart (or that never fires, like `0 0 31 2 *`) raises
//! `InvalidSchedule`, and requeues land 100 ms after the next slot. Go's
//! `time.Duration` arithmetic (nanoseconds in an `int64`, saturating subtraction,
//! round-half-away-from-zero) is reproduced where it feeds those numbers.
//!
//! Deliberate divergence: Go's `Next` returns the zero time (year 1) when nothing
//! matches within five years, and upstream then keeps computing with year 1.
//! Here `Schedule::next` returns `None`; a missing first or second slot is the
//! `InvalidSchedule` error (what upstream reports for never-firing schedules), and
//! a missing slot during the catch-up scan ends the scan (upstream would restart
//! from year 1 and could loop forever).

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::error::CronError;
use crate::schedule::Schedule;

/// Upstream `nextScheduleDelta`: requeue this long after the next slot, to absorb
/// clock skew between the controller and the API server.
pub const NEXT_SCHEDULE_DELTA: SignedDuration = SignedDuration::from_millis(100);

/// More estimated missed slots than this is upstream's `manyMissed`, reported as
/// the `TooManyMissedTimes` warning (the latest slot still runs).
pub const MISSED_SCHEDULES_MANY_ABOVE: u64 = 100;

/// An upper bound on `next` calls in the catch-up scan. The scan covers about
/// two gaps between the first two slots, so real schedules need a few thousand
/// calls at most; the bound only guards against bugs.
const SCAN_STEPS_MAX: u32 = 1_000_000;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Upstream's `missedSchedulesType`: how many slots went by without a Job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissedSchedules {
    /// At most the one due slot (`noneMissed`).
    Zero,
    /// Between 1 and 100 estimated (`fewMissed`).
    Few,
    /// More than 100 estimated (`manyMissed`): warn `TooManyMissedTimes`.
    Many,
}

impl MissedSchedules {
    /// Classifies the count returned by [`most_recent_schedule_time`].
    #[must_use]
    pub fn from_count(missed: u64) -> MissedSchedules {
        match missed {
            0 => MissedSchedules::Zero,
            count if count > MISSED_SCHEDULES_MANY_ABOVE => MissedSchedules::Many,
            _ => MissedSchedules::Few,
        }
    }
}

/// The earliest time from which slots count, as upstream computes it at the top
/// of `mostRecentScheduleTime`: `status.lastScheduleTime`, else the CronJob's
/// `creationTimestamp`; with `include_starting_deadline` (true when deciding what
/// to run, false when computing the requeue), raised to
/// `now - startingDeadlineSeconds` when that is later.
#[must_use]
pub fn earliest_schedule_time(
    creation_timestamp: Timestamp,
    last_schedule_time: Option<Timestamp>,
    starting_deadline_seconds: Option<i64>,
    now: Timestamp,
    include_starting_deadline: bool,
) -> Timestamp {
    let earliest = last_schedule_time.unwrap_or(creation_timestamp);
    let Some(deadline_seconds) = starting_deadline_seconds.filter(|_| include_starting_deadline)
    else {
        return earliest;
    };
    // Go: now.Add(-time.Second * time.Duration(seconds)); saturate instead of
    // wrapping for absurd deadlines.
    let deadline_nanos = i128::from(deadline_seconds) * NANOS_PER_SECOND;
    let scheduling_deadline = go_add(now, -clamp_to_go_duration(deadline_nanos));
    earliest.max(scheduling_deadline)
}

/// Port of upstream `mostRecentScheduleTime`.
///
/// Returns the most recent slot at or before `now` that comes after `earliest`
/// (`None` if the first slot after `earliest` is still in the future), and
/// upstream's *estimate* of how many slots were missed: 0 when at most one slot
/// is due, otherwise `(now - t1) / (t2 - t1) + 1` with `t1`, `t2` the first two
/// slots after `earliest` (whole seconds, as upstream). Compare the count with
/// [`MISSED_SCHEDULES_MANY_ABOVE`] or use [`MissedSchedules::from_count`].
///
/// # Errors
///
/// [`CronError::ScheduleSlotsTooClose`] (upstream's `InvalidSchedule` case)
/// when the first two slots are less than a second apart or do not both exist
/// while `now` has reached the first.
pub fn most_recent_schedule_time(
    earliest: Timestamp,
    now: Timestamp,
    schedule: &Schedule,
    zone: &TimeZone,
) -> Result<(Option<Timestamp>, u64), CronError> {
    let first = schedule
        .next(earliest, zone)
        .ok_or(CronError::ScheduleSlotsTooClose)?;
    let second = schedule.next(first, zone);
    if now < first {
        return Ok((None, 0));
    }
    let second = match second {
        Some(second) if now < second => return Ok((Some(first), 0)),
        Some(second) => second,
        // Go compares against the zero time here: a negative gap, so an error.
        None => return Err(CronError::ScheduleSlotsTooClose),
    };
    // int64(t2.Sub(t1).Round(time.Second).Seconds())
    let seconds_between = go_seconds(go_round_to_second(go_sub(second, first)));
    if seconds_between < 1 {
        return Err(CronError::ScheduleSlotsTooClose);
    }
    // int64(now.Sub(t1).Seconds())
    let seconds_elapsed = go_seconds(go_sub(now, first));
    let missed = seconds_elapsed / seconds_between + 1;
    // Start two estimated slots back so irregular schedules (e.g. `30 6-16/4 * *
    // 1-5`) and `@every` land on their true latest slot.
    let back_nanos = i128::from((missed - 2).saturating_mul(seconds_between)) * NANOS_PER_SECOND;
    let potential_earliest = go_add(first, clamp_to_go_duration(back_nanos));
    let most_recent = scan_latest_slot(potential_earliest, now, schedule, zone);
    Ok((most_recent, u64::try_from(missed).unwrap_or(0)))
}

/// The last slot after `from` that is not after `now`.
fn scan_latest_slot(
    from: Timestamp,
    now: Timestamp,
    schedule: &Schedule,
    zone: &TimeZone,
) -> Option<Timestamp> {
    let mut most_recent = None;
    let mut candidate = schedule.next(from, zone);
    for _ in 0..SCAN_STEPS_MAX {
        match candidate {
            Some(slot) if slot <= now => {
                most_recent = Some(slot);
                candidate = schedule.next(slot, zone);
            }
            _ => break,
        }
    }
    most_recent
}

/// Port of upstream `nextScheduleTimeDuration`: how long to wait before syncing
/// the CronJob again, namely the slot after the most recent one (or after
/// `earliest` when none is due, or after `now` when the schedule is invalid or
/// slots were missed but none found) plus [`NEXT_SCHEDULE_DELTA`], minus `now`.
///
/// `earliest` is `status.lastScheduleTime` or else `creationTimestamp`, without
/// the starting deadline (upstream passes `includeStartingDeadlineSeconds =
/// false`). Returns `None` when the schedule has no further slot within five
/// years; upstream would then requeue at once with a huge negative duration.
#[must_use]
pub fn next_schedule_time_duration(
    earliest: Timestamp,
    now: Timestamp,
    schedule: &Schedule,
    zone: &TimeZone,
) -> Option<SignedDuration> {
    let base = match most_recent_schedule_time(earliest, now, schedule, zone) {
        Err(_) => now,
        Ok((Some(most_recent), _)) => most_recent,
        Ok((None, 0)) => earliest,
        Ok((None, _)) => now,
    };
    let next = schedule.next(base, zone)?;
    Some(next.duration_since(now) + NEXT_SCHEDULE_DELTA)
}

/// Port of upstream `getTimeHashInMinutes`: the slot in Unix minutes, the suffix
/// of the Job name `<cronjob>-<minutes>` (Go's integer division truncates
/// toward zero).
#[must_use]
pub fn time_hash_in_minutes(scheduled_time: Timestamp) -> i64 {
    scheduled_time.as_second() / 60
}

/// Go's `t.Sub(u)`: nanoseconds, saturating at the `time.Duration` range.
fn go_sub(later: Timestamp, earlier: Timestamp) -> i64 {
    clamp_to_go_duration(later.as_nanosecond() - earlier.as_nanosecond())
}

/// Go's `t.Add(d)`, saturating at jiff's timestamp range instead of Go's.
fn go_add(time: Timestamp, nanoseconds: i64) -> Timestamp {
    let target = time.as_nanosecond() + i128::from(nanoseconds);
    Timestamp::from_nanosecond(target).unwrap_or(if nanoseconds < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

fn clamp_to_go_duration(nanoseconds: i128) -> i64 {
    nanoseconds.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Go's `Duration.Round(time.Second)`: half away from zero, saturating.
fn go_round_to_second(nanoseconds: i64) -> i64 {
    const SECOND: i64 = 1_000_000_000;
    let remainder = (nanoseconds % SECOND).abs();
    let less_than_half = remainder + remainder < SECOND;
    if nanoseconds < 0 {
        let rounded = if less_than_half {
            nanoseconds.checked_add(remainder)
        } else {
            nanoseconds.checked_sub(SECOND - remainder)
        };
        return rounded.unwrap_or(i64::MIN);
    }
    let rounded = if less_than_half {
        nanoseconds.checked_sub(remainder)
    } else {
        nanoseconds.checked_add(SECOND - remainder)
    };
    rounded.unwrap_or(i64::MAX)
}

/// Go's `int64(d.Seconds())`: float seconds truncated toward zero.
fn go_seconds(nanoseconds: i64) -> i64 {
    const SECOND: i64 = 1_000_000_000;
    let seconds = (nanoseconds / SECOND) as f64 + (nanoseconds % SECOND) as f64 / 1e9;
    seconds as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_round_to_second_rounds_half_away_from_zero() {
        assert_eq!(go_round_to_second(1_499_999_999), 1_000_000_000);
        assert_eq!(go_round_to_second(1_500_000_000), 2_000_000_000);
        assert_eq!(go_round_to_second(-1_500_000_000), -2_000_000_000);
        assert_eq!(go_round_to_second(-1_400_000_000), -1_000_000_000);
        assert_eq!(go_round_to_second(i64::MAX), i64::MAX);
    }

    #[test]
    fn go_seconds_truncates_toward_zero() {
        assert_eq!(go_seconds(1_999_999_999), 1);
        assert_eq!(go_seconds(-1_999_999_999), -1);
    }

    #[test]
    fn missed_schedules_classify_like_upstream() {
        assert_eq!(MissedSchedules::from_count(0), MissedSchedules::Zero);
        assert_eq!(MissedSchedules::from_count(100), MissedSchedules::Few);
        assert_eq!(MissedSchedules::from_count(101), MissedSchedules::Many);
    }
}
