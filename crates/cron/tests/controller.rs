//! Goal: the ports of the CronJob controller's schedule helpers
//! (`mostRecentScheduleTime`, `nextScheduleTimeDuration`, the `earliestTime`
//! computation and `getTimeHashInMinutes` from upstream `utils.go`) produce
//! upstream's numbers, including its estimate of missed slots and its quirks.
//!
//! Method: hand-computed scenarios, each stating the arithmetic upstream does.

use corral_cron::{
    CronError, MissedSchedules, Schedule, earliest_schedule_time, most_recent_schedule_time,
    next_schedule_time_duration, time_hash_in_minutes,
};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn most_recent(
    spec: &str,
    earliest: &str,
    now: &str,
) -> Result<(Option<Timestamp>, u64), CronError> {
    let schedule = Schedule::parse(spec).unwrap();
    most_recent_schedule_time(at(earliest), at(now), &schedule, &TimeZone::UTC)
}

#[test]
fn nothing_is_due_before_the_first_slot() {
    assert_eq!(
        most_recent("0 * * * *", "2024-05-01T10:00:00Z", "2024-05-01T10:59:59Z"),
        Ok((None, 0))
    );
}

#[test]
fn the_first_slot_alone_is_due_until_the_second_arrives() {
    assert_eq!(
        most_recent("0 * * * *", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"),
        Ok((Some(at("2024-05-01T11:00:00Z")), 0))
    );
    assert_eq!(
        most_recent("0 * * * *", "2024-05-01T10:00:00Z", "2024-05-01T11:59:59Z"),
        Ok((Some(at("2024-05-01T11:00:00Z")), 0))
    );
}

#[test]
fn a_few_missed_slots_report_the_latest_and_the_estimate() {
    // t1 = 11:00, t2 = 12:00, now - t1 = 3h30m: 3 + 1 = 4 missed.
    let result = most_recent("0 * * * *", "2024-05-01T10:00:00Z", "2024-05-01T14:30:00Z");
    assert_eq!(result, Ok((Some(at("2024-05-01T14:00:00Z")), 4)));
    assert_eq!(MissedSchedules::from_count(4), MissedSchedules::Few);
}

#[test]
fn a_minutely_schedule_with_150_missed_minutes_warns_and_still_runs_the_latest() {
    // t1 = 10:01, t2 = 10:02, now - t1 = 8,970 s: 8,970 / 60 + 1 = 150 missed.
    let (latest, missed) = most_recent(
        "*/1 * * * *",
        "2024-05-01T10:00:00Z",
        "2024-05-01T12:30:30Z",
    )
    .unwrap();
    assert_eq!(latest, Some(at("2024-05-01T12:30:00Z")));
    assert_eq!(missed, 150);
    assert!(missed > 100);
    assert_eq!(MissedSchedules::from_count(missed), MissedSchedules::Many);
}

#[test]
fn a_starting_deadline_moves_earliest_and_shrinks_the_estimate() {
    let now = at("2024-05-01T12:30:30Z");
    let earliest = earliest_schedule_time(
        at("2024-05-01T09:00:00Z"),
        Some(at("2024-05-01T10:00:00Z")),
        Some(200),
        now,
        true,
    );
    assert_eq!(earliest, at("2024-05-01T12:27:10Z"));
    // t1 = 12:28, t2 = 12:29, now - t1 = 150 s: 150 / 60 + 1 = 3 missed.
    let schedule = Schedule::parse("*/1 * * * *").unwrap();
    assert_eq!(
        most_recent_schedule_time(earliest, now, &schedule, &TimeZone::UTC),
        Ok((Some(at("2024-05-01T12:30:00Z")), 3))
    );
}

#[test]
fn earliest_is_last_schedule_then_creation_and_the_deadline_only_when_asked() {
    let creation = at("2024-05-01T09:00:00Z");
    let last = at("2024-05-01T11:58:00Z");
    let now = at("2024-05-01T12:00:00Z");
    assert_eq!(
        earliest_schedule_time(creation, None, None, now, true),
        creation
    );
    assert_eq!(
        earliest_schedule_time(creation, Some(last), None, now, true),
        last
    );
    // The deadline (11:55) is before the last schedule: the later one wins.
    assert_eq!(
        earliest_schedule_time(creation, Some(last), Some(300), now, true),
        last
    );
    assert_eq!(
        earliest_schedule_time(creation, None, Some(300), now, true),
        at("2024-05-01T11:55:00Z")
    );
    assert_eq!(
        earliest_schedule_time(creation, None, Some(300), now, false),
        creation
    );
    // Absurd deadlines saturate instead of overflowing.
    assert_eq!(
        earliest_schedule_time(creation, None, Some(i64::MAX), now, true),
        creation
    );
}

#[test]
fn an_impossible_date_is_an_invalid_schedule() {
    // Upstream's own example: 31 February never comes.
    assert_eq!(
        most_recent(
            "59 23 31 2 *",
            "2024-01-01T00:00:00Z",
            "2024-06-01T00:00:00Z"
        ),
        Err(CronError::ScheduleSlotsTooClose)
    );
    assert_eq!(
        CronError::ScheduleSlotsTooClose.to_string(),
        "time difference between two schedules is less than 1 second"
    );
}

#[test]
fn a_single_reachable_slot_is_fine_until_now_passes_it() {
    // From 2096-02-28 the only 29 February within five years is 2096's own; the
    // next is 2104, out of robfig's reach, so upstream sees t2 as the zero time.
    let spec = "0 0 29 2 *";
    assert_eq!(
        most_recent(spec, "2096-02-28T00:00:00Z", "2096-02-28T12:00:00Z"),
        Ok((None, 0))
    );
    assert_eq!(
        most_recent(spec, "2096-02-28T00:00:00Z", "2096-03-01T00:00:00Z"),
        Err(CronError::ScheduleSlotsTooClose)
    );
}

#[test]
fn an_irregular_schedule_finds_its_true_latest_slot() {
    // Weekdays at 06:30, 10:30, 14:30. t1 = Mon 06:30, t2 = Mon 10:30 (4 h);
    // now - t1 = 53 h 30 m: 13 + 1 = 14; the scan starts at t1 + 12 * 4 h.
    let result = most_recent(
        "30 6-16/4 * * 1-5",
        "2024-04-05T14:30:00Z",
        "2024-04-10T12:00:00Z",
    );
    assert_eq!(result, Ok((Some(at("2024-04-10T10:30:00Z")), 14)));
}

#[test]
fn upstream_quirk_the_estimate_can_overshoot_the_latest_slot() {
    // Slots at 00:00 and 00:01 daily: t2 - t1 is one minute, so the scan starts a
    // minute or two before now and finds nothing, although 00:01 today was
    // missed. Upstream then starts no Job; reproduced on purpose.
    let result = most_recent(
        "0,1 0 * * *",
        "2024-04-01T12:00:00Z",
        "2024-04-04T12:00:00Z",
    );
    let (latest, missed) = result.unwrap();
    assert_eq!(latest, None);
    assert_eq!(missed, 3_601);
}

#[test]
fn every_schedules_count_from_earliest_and_land_on_their_own_grid() {
    // @every 1h from 10:00:00.5: t1 = 11:00, t2 = 12:00; 4 h 30 m later 5 were
    // missed and the latest is 15:00.
    assert_eq!(
        most_recent(
            "@every 1h",
            "2024-05-01T10:00:00.5Z",
            "2024-05-01T15:30:00Z"
        ),
        Ok((Some(at("2024-05-01T15:00:00Z")), 5))
    );
}

#[test]
fn time_zones_shift_slots_not_the_arithmetic() {
    let schedule = Schedule::parse("0 9 * * *").unwrap();
    let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
    // 09:00 Tokyo is 00:00Z.
    let result = most_recent_schedule_time(
        at("2024-05-01T00:00:00Z"),
        at("2024-05-03T01:00:00Z"),
        &schedule,
        &tokyo,
    );
    assert_eq!(result, Ok((Some(at("2024-05-03T00:00:00Z")), 2)));
}

#[test]
fn requeue_waits_for_the_next_slot_plus_one_hundred_milliseconds() {
    let schedule = Schedule::parse("0 * * * *").unwrap();
    // Just ran the 10:00 slot; the next is 11:00.
    let delay = next_schedule_time_duration(
        at("2024-05-01T10:00:00Z"),
        at("2024-05-01T10:00:05Z"),
        &schedule,
        &TimeZone::UTC,
    );
    assert_eq!(
        delay,
        Some(SignedDuration::from_secs(3_595) + SignedDuration::from_millis(100))
    );
}

#[test]
fn requeue_after_missed_slots_counts_from_the_latest_missed_slot() {
    let schedule = Schedule::parse("*/1 * * * *").unwrap();
    let delay = next_schedule_time_duration(
        at("2024-05-01T10:00:00Z"),
        at("2024-05-01T12:30:30Z"),
        &schedule,
        &TimeZone::UTC,
    );
    // Latest missed slot 12:30, next 12:31: 30 s + 100 ms from now.
    assert_eq!(delay, Some(SignedDuration::from_millis(30_100)));
}

#[test]
fn requeue_counts_from_now_when_the_estimate_found_nothing() {
    let schedule = Schedule::parse("0,1 0 * * *").unwrap();
    let delay = next_schedule_time_duration(
        at("2024-04-01T12:00:00Z"),
        at("2024-04-04T12:00:00Z"),
        &schedule,
        &TimeZone::UTC,
    );
    assert_eq!(
        delay,
        Some(SignedDuration::from_secs(12 * 3_600) + SignedDuration::from_millis(100))
    );
}

#[test]
fn requeue_of_a_schedule_that_never_runs_is_none() {
    let schedule = Schedule::parse("0 0 31 2 *").unwrap();
    let delay = next_schedule_time_duration(
        at("2024-01-01T00:00:00Z"),
        at("2024-06-01T00:00:00Z"),
        &schedule,
        &TimeZone::UTC,
    );
    assert_eq!(delay, None);
}

#[test]
fn job_names_use_the_slot_in_unix_minutes() {
    assert_eq!(time_hash_in_minutes(at("2024-05-01T10:01:00Z")), 28_575_961);
    assert_eq!(time_hash_in_minutes(at("1970-01-01T00:00:59Z")), 0);
}
