//! v1 poller tests: the ≤ 1.20 behaviours the simulator needs to replay old incidents.
//! Same setup as the timelines (minutely CronJob created at 00:00:10); the poller's first
//! pass starts with the CronJob's creation event and repeats 10 s after each pass ends.

use corral_api::{ApiError, StatusReason};
use corral_core::Action;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;
use crate::cronjob::finish::status_of;
use crate::cronjob::{CronJobV1Poller, CronJobV1PollerConfig};
use crate::gc::harness::Fault;

const POLLER: &str = "cronjob-v1";

fn v1_harness(config: CronJobV1PollerConfig, run_for_minutes: f64) -> Harness {
    let mut harness = Harness::new(t0());
    harness.add(CronJobV1Poller::new(config));
    harness.job_runner = Some(JobRunner {
        run_for: minutes(run_for_minutes),
        outcome: Finished::Complete,
        create_pods: false,
    });
    harness.now = at(10.0);
    harness
}

fn poller_writes(harness: &Harness) -> Vec<&Action> {
    harness
        .writes
        .iter()
        .filter(|w| w.controller == POLLER)
        .map(|w| &w.action)
        .collect()
}

fn poller_creates(harness: &Harness) -> Vec<String> {
    harness
        .successful_writes(POLLER)
        .into_iter()
        .filter_map(|w| match &w.action {
            Action::Create { object } => Some(object.name().to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn the_poller_writes_the_status_twice_per_cron_job_per_pass_even_when_nothing_changes() {
    let mut harness = v1_harness(CronJobV1PollerConfig::default(), 0.5);
    create(&mut harness, cron_job("report", "0 * * * *"));
    harness.run_until(at(40.5));
    // Passes at 10, 20, 30 and 40 s; each writes after syncOne and after the cleanup.
    let status_writes = poller_writes(&harness)
        .into_iter()
        .filter(|a| status_of(a).is_some())
        .count();
    assert_eq!(status_writes, 4 * 2);
}

#[test]
fn the_poller_names_jobs_by_unix_second_and_starts_them_at_its_next_pass() {
    let mut harness = v1_harness(CronJobV1PollerConfig::default(), 0.5);
    create(&mut harness, cron_job("report", "* * * * *"));
    harness.run_until(at(125.0));
    let slot = |m: i64| at((m * 60) as f64).as_second();
    assert_eq!(
        poller_creates(&harness),
        vec![format!("report-{}", slot(1)), format!("report-{}", slot(2))]
    );
    // Passes run at 10 s intervals from the first event (00:00:10), so slots are picked up
    // by the pass at or after them; a pass takes no virtual time here.
    let created_at: Vec<f64> = harness
        .successful_writes(POLLER)
        .into_iter()
        .filter(|w| matches!(w.action, Action::Create { .. }))
        .map(|w| corral_core::clock::since(w.at, t0()).as_secs_f64())
        .collect();
    assert_eq!(created_at, vec![60.0, 120.0]);
    assert_eq!(
        status(&harness, "report").last_schedule_time,
        Some(Time(at(120.0)))
    );
}

#[test]
fn more_than_one_hundred_unmet_slots_stop_the_poller_from_starting_anything() {
    let mut harness = v1_harness(CronJobV1PollerConfig::default(), 0.5);
    let mut cj = cron_job("report", "* * * * *");
    cj.metadata.creation_timestamp = Some(Time(at(10.0)));
    harness.now = at(10.0 + 200.0 * 60.0);
    create(&mut harness, cj);
    harness.run_for(minutes(1.0));
    assert!(poller_creates(&harness).is_empty());
    assert!(
        harness.event_count("FailedNeedsStart") >= 6,
        "every pass reports it"
    );
    assert_eq!(
        harness.event_messages("FailedNeedsStart")[0],
        "Cannot determine if job needs to be started: too many missed start time (> 100). Set or decrease .spec.startingDeadlineSeconds or check clock skew"
    );
}

#[test]
fn lost_status_writes_leak_a_job_past_forbid_and_the_retry_hits_already_exists() {
    let mut harness = v1_harness(CronJobV1PollerConfig::default(), 3.5);
    create(
        &mut harness,
        with_policy(cron_job("report", "* * * * *"), "Forbid"),
    );
    // Both status writes that follow the slot-1 create time out (a slow API server).
    harness.faults.push(Fault {
        matches: Box::new(|a| status_of(a).is_some_and(|s| s.last_schedule_time.is_some())),
        error: ApiError::new(
            StatusReason::Timeout,
            "Timeout: request did not complete within requested timeout",
        ),
        remaining: 2,
    });
    harness.run_until(at(121.0));
    let slot = |m: i64| format!("report-{}", at((m * 60) as f64).as_second());
    // The next pass re-tries slot 1 (lastScheduleTime never moved): AlreadyExists is a
    // plain FailedCreate in v1. The slot-1 Job is unexpected, not in `active`.
    assert!(harness.event_count("UnexpectedJob") >= 1);
    let failed = harness.event_messages("FailedCreate");
    assert!(failed[0].starts_with("Error creating job: "), "{failed:?}");
    assert!(failed[0].contains("already exists"), "{failed:?}");
    // Slot 2 finds `active` empty: Forbid lets a second Job run next to the leaked one.
    assert_eq!(poller_creates(&harness), vec![slot(1), slot(2)]);
    assert_eq!(unfinished_job_names(&harness), vec![slot(1), slot(2)]);
    assert_eq!(active_names(&harness, "report"), vec![slot(2)]);
    assert_eq!(
        harness.event_count("JobAlreadyActive"),
        0,
        "v1 skips silently"
    );
}

#[test]
fn the_unpatched_pager_defect_stops_every_cron_job_above_five_hundred_jobs() {
    let config = CronJobV1PollerConfig {
        abort_above_jobs: Some(2),
        ..CronJobV1PollerConfig::default()
    };
    let mut harness = v1_harness(config, 10.0);
    create(&mut harness, cron_job("report", "* * * * *"));
    harness.run_until(at(300.5));
    // The third Job pushes the cluster over the limit (2 in this test, 500 upstream); every
    // later pass returns before looking at any CronJob: no writes at all.
    assert_eq!(poller_creates(&harness).len(), 3);
    let writes_after: Vec<&Action> = harness
        .writes
        .iter()
        .filter(|w| w.controller == POLLER && w.at > at(185.0))
        .map(|w| &w.action)
        .collect();
    assert!(writes_after.is_empty(), "{writes_after:?}");
}
