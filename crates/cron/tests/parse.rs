//! Goal: `Schedule::parse` accepts and rejects exactly what robfig/cron v3.0.1's
//! `ParseStandard` does, with robfig's error text (Kubernetes shows it to users).
//!
//! Method: table tests of schedule strings against expected messages, checked
//! against robfig's Go source; plus descriptor, `@every` and `TZ=` behaviour
//! observed through `next`.

use corral_cron::{CronError, Schedule, TZ_IN_SCHEDULE_MESSAGE, contains_tz_prefix};
use jiff::Timestamp;
use jiff::tz::TimeZone;

fn error_text(spec: &str) -> String {
    match Schedule::parse(spec) {
        Ok(_) => panic!("`{spec}` was accepted"),
        Err(error) => error.to_string(),
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn next_utc(spec: &str, after: &str) -> Option<Timestamp> {
    Schedule::parse(spec)
        .unwrap()
        .next(at(after), &TimeZone::UTC)
}

fn runs(spec: &str, after: &str, count: usize) -> Vec<String> {
    let schedule = Schedule::parse(spec).unwrap();
    let mut after = at(after);
    let mut runs = Vec::new();
    for _ in 0..count {
        after = schedule.next(after, &TimeZone::UTC).unwrap();
        runs.push(after.to_string());
    }
    runs
}

#[test]
fn rejections_carry_robfig_messages() {
    let cases = [
        ("", "empty spec string"),
        (
            "0 0 0 * * *",
            "expected exactly 5 fields, found 6: [0 0 0 * * *]",
        ),
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("   ", "expected exactly 5 fields, found 0: []"),
        (" @hourly", "expected exactly 5 fields, found 1: [@hourly]"),
        ("0 0 * * 7", "end of range (7) above maximum (6): 7"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("0 0 * 0 *", "beginning of range (0) below minimum (1): 0"),
        (
            "5-1 * * * *",
            "beginning of range (5) beyond end of range (1): 5-1",
        ),
        (
            "*/0 * * * *",
            "step of range should be a positive number: */0",
        ),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("1/2/3 * * * *", "too many slashes: 1/2/3"),
        ("*/-1 * * * *", "negative number (-1) not allowed: -1"),
        (
            "0 0 L * *",
            "failed to parse int from L: strconv.Atoi: parsing \"L\": invalid syntax",
        ),
        (
            "0 0 * * 5#3",
            "failed to parse int from 5#3: strconv.Atoi: parsing \"5#3\": invalid syntax",
        ),
        (
            "0 0 * * sunday",
            "failed to parse int from sunday: strconv.Atoi: parsing \"sunday\": invalid syntax",
        ),
        (
            "- * * * *",
            "failed to parse int from : strconv.Atoi: parsing \"\": invalid syntax",
        ),
        (
            "99999999999999999999 * * * *",
            "failed to parse int from 99999999999999999999: strconv.Atoi: parsing \
             \"99999999999999999999\": value out of range",
        ),
        ("@reboot", "unrecognized descriptor: @reboot"),
        ("@hourly ", "unrecognized descriptor: @hourly "),
        ("@every", "unrecognized descriptor: @every"),
        (
            "@every 1d",
            "failed to parse duration @every 1d: time: unknown unit \"d\" in duration \"1d\"",
        ),
        (
            "@every ",
            "failed to parse duration @every : time: invalid duration \"\"",
        ),
        (
            "TZ=Not/AZone 0 9 * * *",
            "provided bad location Not/AZone: unknown time zone Not/AZone",
        ),
        (
            "TZ=../etc 0 9 * * *",
            "provided bad location ../etc: time: invalid location name",
        ),
        (
            "TZ=UTC",
            "invalid schedule format: runtime error: slice bounds out of range [:-1]",
        ),
    ];
    for (spec, message) in cases {
        assert_eq!(error_text(spec), message, "spec {spec:?}");
    }
}

#[test]
fn field_errors_are_typed() {
    assert_eq!(
        Schedule::parse("0 0 * * 7").unwrap_err(),
        CronError::AboveMaximum {
            end: 7,
            maximum: 6,
            expression: "7".to_owned()
        }
    );
    assert!(matches!(
        Schedule::parse("0 0 0 * * *").unwrap_err(),
        CronError::FieldCount {
            expected: 5,
            found: 6,
            ..
        }
    ));
}

#[test]
fn accepted_oddities_match_robfig() {
    for spec in [
        "+5 * * * *",
        "007 * * * *",
        "*-5 * * * *",
        "0 0 , * *",
        "0 0 1,,2 * *",
        "0 0 ? * ?",
        "0\t0  *\u{a0}* *",
        "0 0 * JAN-mar Mon-FRI",
        "@every -5m",
        "@every 0",
        "TZ= 0 0 * * *",
        "TZ=Local 0 0 * * *",
        "CRON_TZ=Europe/Berlin   @daily",
    ] {
        assert!(Schedule::parse(spec).is_ok(), "`{spec}` was rejected");
    }
}

#[test]
fn descriptors_expand_to_their_five_field_forms() {
    let after = "2024-02-15T10:20:30Z";
    let pairs = [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ];
    for (descriptor, fields) in pairs {
        assert_eq!(
            runs(descriptor, after, 3),
            runs(fields, after, 3),
            "{descriptor}"
        );
    }
    assert_eq!(
        runs("@yearly", after, 2),
        ["2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"]
    );
}

#[test]
fn every_adds_its_delay_to_the_instant_asked_about() {
    assert_eq!(
        runs("@every 90m", "2024-04-01T00:30:00Z", 2),
        ["2024-04-01T02:00:00Z", "2024-04-01T03:30:00Z"]
    );
    // Sub-second parts of the instant are dropped first.
    assert_eq!(
        next_utc("@every 1h", "2024-04-01T00:30:00.75Z"),
        Some(at("2024-04-01T01:30:00Z"))
    );
}

#[test]
fn every_rounds_short_and_fractional_delays_like_robfig() {
    // Below one second becomes one second; fractions of a second are dropped.
    assert_eq!(
        next_utc("@every 300ms", "2024-01-01T00:00:00Z"),
        Some(at("2024-01-01T00:00:01Z"))
    );
    assert_eq!(
        next_utc("@every -5m", "2024-01-01T00:00:00Z"),
        Some(at("2024-01-01T00:00:01Z"))
    );
    assert_eq!(
        next_utc("@every 1.9s", "2024-01-01T00:00:00Z"),
        Some(at("2024-01-01T00:00:01Z"))
    );
}

#[test]
fn every_ignores_time_zones() {
    let schedule = Schedule::parse("TZ=Asia/Tokyo @every 1h").unwrap();
    assert!(schedule.is_constant_delay());
    let new_york = TimeZone::get("America/New_York").unwrap();
    assert_eq!(
        schedule.next(at("2024-03-10T06:30:00Z"), &new_york),
        Some(at("2024-03-10T07:30:00Z"))
    );
}

#[test]
fn february_twenty_ninth_runs_only_in_leap_years() {
    assert_eq!(
        runs("0 0 29 2 *", "2024-03-01T00:00:00Z", 3),
        [
            "2028-02-29T00:00:00Z",
            "2032-02-29T00:00:00Z",
            "2036-02-29T00:00:00Z"
        ]
    );
}

#[test]
fn february_twenty_ninth_is_out_of_reach_across_a_skipped_century_leap_year() {
    // 2100 is not a leap year: from 2096-03-01 the next 29 February is in 2104,
    // beyond robfig's five-year horizon.
    assert_eq!(next_utc("0 0 29 2 *", "2096-03-01T00:00:00Z"), None);
}

#[test]
fn impossible_dates_never_run() {
    assert_eq!(next_utc("0 0 30 2 *", "2024-01-01T00:00:00Z"), None);
    assert_eq!(next_utc("0 0 31 4 *", "2024-01-01T00:00:00Z"), None);
    assert_eq!(next_utc("0 0 , * *", "2024-01-01T00:00:00Z"), None);
}

#[test]
fn day_of_month_and_day_of_week_are_ored_without_a_star() {
    // 1st of the month OR a Monday.
    assert_eq!(
        runs("0 0 1 * 1", "2024-04-20T00:00:00Z", 3),
        [
            "2024-04-22T00:00:00Z",
            "2024-04-29T00:00:00Z",
            "2024-05-01T00:00:00Z"
        ]
    );
    // `?` counts as a star: Mondays only.
    assert_eq!(
        runs("0 0 ? * 1", "2024-04-20T00:00:00Z", 2),
        ["2024-04-22T00:00:00Z", "2024-04-29T00:00:00Z"]
    );
}

#[test]
fn next_is_strictly_after_an_exact_slot() {
    assert_eq!(
        next_utc("0 * * * *", "2024-01-01T10:00:00Z"),
        Some(at("2024-01-01T11:00:00Z"))
    );
    assert_eq!(
        next_utc("0 * * * *", "2024-01-01T09:59:59.999999999Z"),
        Some(at("2024-01-01T10:00:00Z"))
    );
}

#[test]
fn time_zone_prefix_is_remembered_and_overrides_the_callers_zone() {
    let schedule = Schedule::parse("CRON_TZ=Asia/Tokyo 30 8 * * *").unwrap();
    assert!(schedule.has_timezone_prefix());
    assert_eq!(schedule.timezone_prefix(), Some("Asia/Tokyo"));
    let new_york = TimeZone::get("America/New_York").unwrap();
    assert_eq!(
        schedule.next(at("2024-04-05T00:00:00Z"), &new_york),
        Some(at("2024-04-05T23:30:00Z"))
    );
    assert!(!Schedule::parse("30 8 * * *").unwrap().has_timezone_prefix());
}

#[test]
fn local_and_empty_tz_prefixes_mean_the_callers_zone_and_utc() {
    let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
    let after = at("2024-04-05T00:00:00Z");
    let local = Schedule::parse("TZ=Local 0 9 * * *").unwrap();
    assert!(local.has_timezone_prefix());
    assert_eq!(local.next(after, &tokyo), Some(at("2024-04-06T00:00:00Z")));
    let empty = Schedule::parse("TZ= 0 9 * * *").unwrap();
    assert_eq!(empty.next(after, &tokyo), Some(at("2024-04-05T09:00:00Z")));
}

#[test]
fn kubernetes_rejects_any_schedule_mentioning_tz() {
    assert!(contains_tz_prefix("TZ=UTC 0 0 * * *"));
    assert!(contains_tz_prefix("CRON_TZ=UTC 0 0 * * *"));
    assert!(contains_tz_prefix("0 0 * * * TZ"));
    assert!(!contains_tz_prefix("0 0 * * *"));
    assert!(!contains_tz_prefix("tz=UTC 0 0 * * *"));
    assert_eq!(
        TZ_IN_SCHEDULE_MESSAGE,
        "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    );
}

#[test]
fn time_zone_field_rules_follow_kubernetes_validation() {
    assert!(Schedule::parse_time_zone("Europe/Berlin").is_ok());
    assert_eq!(
        Schedule::parse_time_zone("").unwrap_err().to_string(),
        "timeZone must be nil or non-empty string"
    );
    assert_eq!(
        Schedule::parse_time_zone("LOCAL").unwrap_err().to_string(),
        "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
    );
    assert_eq!(
        Schedule::parse_time_zone("Not/AZone")
            .unwrap_err()
            .to_string(),
        "unknown time zone Not/AZone"
    );
}

#[test]
fn robfig_quirk_a_missing_midnight_can_let_the_wrong_day_through() {
    // robfig's hour loop only restarts the search at hour 0. On 2018-11-04 Sao
    // Paulo had no midnight, so searching for 05:00 on the 3rd of November rolls
    // into the 4th without re-checking the day. Reproduced on purpose (verified
    // against robfig v3.0.1): Kubernetes runs this Job on the wrong day too.
    let sao_paulo = TimeZone::get("America/Sao_Paulo").unwrap();
    let schedule = Schedule::parse("0 5 3 11 *").unwrap();
    assert_eq!(
        schedule.next(at("2018-11-03T10:00:00Z"), &sao_paulo),
        Some(at("2018-11-04T07:00:00Z"))
    );
}

#[test]
fn a_civil_day_that_never_existed_ends_the_search_where_robfig_would_hang() {
    // Samoa skipped 2011-12-30. robfig's day loop keeps landing on the 29th and
    // never returns (seen with robfig v3.0.1); we stop after a bounded search.
    let apia = TimeZone::get("Pacific/Apia").unwrap();
    let schedule = Schedule::parse("@monthly").unwrap();
    assert_eq!(schedule.next(at("2011-12-05T11:53:00Z"), &apia), None);
    // Before the skipped day, results are normal.
    assert_eq!(
        schedule.next(at("2011-11-05T00:00:00Z"), &apia),
        Some(at("2011-12-01T10:00:00Z"))
    );
}
