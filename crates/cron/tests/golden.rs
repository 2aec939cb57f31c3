//! Goal: `Schedule::parse` and `Schedule::next` agree with robfig/cron v3.0.1 on
//! every case of the golden table (`testdata/robfig_golden.txt`), which was
//! produced by robfig itself.
//!
//! Method: parse the table (its abbreviated run times are expanded as its header
//! describes), then for each case check the rejection or the next four runs, both
//! with the zone passed to `next` and, as the controller does it, with the zone
//! written as a `TZ=` prefix.

use corral_cron::Schedule;
use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;

const TABLE: &str = include_str!("../testdata/robfig_golden.txt");

#[derive(Debug)]
struct Case {
    line: usize,
    schedule: String,
    time_zone: Option<String>,
    expected: Expected,
}

#[derive(Debug)]
enum Expected {
    Rejected,
    Runs {
        from: Timestamp,
        runs: Vec<Timestamp>,
    },
}

fn cases() -> Vec<Case> {
    TABLE
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|(index, line)| parse_case(index + 1, line))
        .collect()
}

fn parse_case(line: usize, text: &str) -> Case {
    let columns: Vec<&str> = text.split('|').map(str::trim).collect();
    let [schedule, time_zone, outcome] = columns[..] else {
        panic!("line {line}: expected three columns: {text}");
    };
    let time_zone = (!time_zone.is_empty()).then(|| time_zone.to_owned());
    let expected = if outcome.starts_with("ERR") {
        Expected::Rejected
    } else {
        parse_runs(line, outcome)
    };
    Case {
        line,
        schedule: schedule.to_owned(),
        time_zone,
        expected,
    }
}

/// `from -> run, run, ... (comment)`, expanded against the previous run.
fn parse_runs(line: usize, outcome: &str) -> Expected {
    let (from, runs) = outcome
        .split_once("->")
        .unwrap_or_else(|| panic!("line {line}: missing '->'"));
    let from: Timestamp = from.trim().parse().expect("from is RFC 3339");
    let (runs, comment) = match runs.split_once('(') {
        Some((runs, comment)) => (runs, Some(comment.trim_end_matches(')'))),
        None => (runs, None),
    };
    let default_time = comment.and_then(parse_time_token);
    let mut current = from.to_zoned(TimeZone::UTC).datetime();
    let mut expanded = Vec::new();
    for run in runs.split(',') {
        current = expand_run(current, run.trim(), default_time);
        expanded.push(current.to_zoned(TimeZone::UTC).unwrap().timestamp());
    }
    Expected::Runs {
        from,
        runs: expanded,
    }
}

fn expand_run(previous: DateTime, run: &str, default_time: Option<Time>) -> DateTime {
    let mut date = previous.date();
    let mut time = previous.time();
    let mut saw_date = false;
    let mut saw_time = false;
    for token in run.split_whitespace() {
        if let Some(parsed) = parse_time_token(token) {
            time = parsed;
            saw_time = true;
        } else {
            date = parse_date_token(token, date.year());
            saw_date = true;
        }
    }
    if saw_date
        && !saw_time
        && let Some(default_time) = default_time
    {
        time = default_time;
    }
    date.to_datetime(time)
}

fn parse_time_token(token: &str) -> Option<Time> {
    let (hour, minute) = token.trim_end_matches('Z').split_once(':')?;
    Time::new(hour.parse().ok()?, minute.parse().ok()?, 0, 0).ok()
}

fn parse_date_token(token: &str, year: i16) -> Date {
    let parts: Vec<i16> = token
        .split('-')
        .map(|part| part.parse().expect("numeric date part"))
        .collect();
    match parts[..] {
        [year, month, day] => Date::new(year, month as i8, day as i8).unwrap(),
        [month, day] => Date::new(year, month as i8, day as i8).unwrap(),
        _ => panic!("unexpected date token {token}"),
    }
}

fn next_runs(
    schedule: &Schedule,
    from: Timestamp,
    zone: &TimeZone,
    count: usize,
) -> Vec<Timestamp> {
    let mut runs = Vec::new();
    let mut after = from;
    for _ in 0..count {
        let Some(next) = schedule.next(after, zone) else {
            break;
        };
        runs.push(next);
        after = next;
    }
    runs
}

/// The whole pipeline the controller runs: validate `timeZone`, parse, evaluate.
fn evaluate(case: &Case, from: Timestamp, count: usize) -> Result<Vec<Timestamp>, String> {
    let zone = match &case.time_zone {
        Some(name) => Schedule::parse_time_zone(name).map_err(|error| error.to_string())?,
        None => TimeZone::UTC,
    };
    let schedule = Schedule::parse(&case.schedule).map_err(|error| error.to_string())?;
    Ok(next_runs(&schedule, from, &zone, count))
}

#[test]
fn golden_table_has_all_thirty_two_cases() {
    assert_eq!(cases().len(), 32);
}

#[test]
fn every_golden_case_matches_robfig() {
    let mut failures = Vec::new();
    for case in cases() {
        match &case.expected {
            Expected::Rejected => {
                if let Ok(runs) = evaluate(&case, Timestamp::UNIX_EPOCH, 1) {
                    failures.push(format!("line {}: accepted, runs {runs:?}", case.line));
                }
            }
            Expected::Runs { from, runs } => match evaluate(&case, *from, runs.len()) {
                Ok(actual) if actual == *runs => {}
                other => failures.push(format!(
                    "line {} `{}`: expected {runs:?}, got {other:?}",
                    case.line, case.schedule
                )),
            },
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn golden_cases_with_a_time_zone_agree_when_written_as_a_tz_prefix() {
    for case in cases() {
        let (Some(name), Expected::Runs { from, runs }) = (&case.time_zone, &case.expected) else {
            continue;
        };
        let prefixed = Schedule::parse(&format!("TZ={name} {}", case.schedule)).unwrap();
        assert!(prefixed.has_timezone_prefix());
        // The prefix wins over whatever zone the caller passes.
        let elsewhere = TimeZone::get("Pacific/Kiritimati").unwrap();
        assert_eq!(
            next_runs(&prefixed, *from, &elsewhere, runs.len()),
            *runs,
            "line {}",
            case.line
        );
    }
}

#[test]
fn unknown_zone_in_a_tz_prefix_is_rejected_with_robfig_wording() {
    let error = Schedule::parse("TZ=Not/AZone 0 9 * * *").unwrap_err();
    assert_eq!(
        error.to_string(),
        "provided bad location Not/AZone: unknown time zone Not/AZone"
    );
}
