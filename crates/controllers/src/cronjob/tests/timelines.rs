//! Timelines: a CronJob, the v2 controller and a scripted Job runner in virtual time.
//! Unless said otherwise the CronJob is minutely and created at 00:00:10, so slot *n* is
//! 00:0n:00, synced 100 ms later.

use corral_api::{ApiError, GroupResource, KubeObject, ResourceKind, StatusReason};
use corral_core::{Action, Subresource, Timestamp};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;
use crate::cronjob::job_build::{SCHEDULED_TIMESTAMP_ANNOTATION, controller_ref};
use crate::gc::harness::Fault;

fn slot(minute: i64) -> Timestamp {
    at((minute * 60) as f64)
}

fn slot_names(name: &str, minutes: &[i64]) -> Vec<String> {
    minutes
        .iter()
        .map(|m| slot_job_name(name, slot(*m)))
        .collect()
}

fn minutely(policy: &str, run_for_minutes: f64, outcome: Finished) -> Harness {
    let mut harness = harness(minutes(run_for_minutes), outcome);
    harness.now = at(10.0);
    create(
        &mut harness,
        with_policy(cron_job("report", "* * * * *"), policy),
    );
    harness
}

#[test]
fn allow_piles_up_jobs_that_outlast_the_period_and_names_them_by_unix_minute() {
    let mut harness = minutely("Allow", 3.5, Finished::Complete);
    harness.run_until(at(600.5));

    let all_slots: Vec<i64> = (1..=10).collect();
    assert_eq!(
        created_job_names(&harness),
        slot_names("report", &all_slots)
    );
    let expected_times: Vec<f64> = all_slots.iter().map(|m| *m as f64 * 60.0 + 0.1).collect();
    for (created, expected) in created_at_seconds(&harness).iter().zip(&expected_times) {
        assert!(
            (created - expected).abs() < 1e-6,
            "created at {created}, expected {expected}"
        );
    }
    // Slots 7 to 10 still run (3.5 min each): four at once, all in `active`.
    let running = slot_names("report", &[7, 8, 9, 10]);
    assert_eq!(unfinished_job_names(&harness), running);
    assert_eq!(active_names(&harness, "report"), running);
    // Six finished, three kept by the default successfulJobsHistoryLimit.
    let mut kept = slot_names("report", &[4, 5, 6]);
    kept.extend(running);
    assert_eq!(job_names(&harness), kept);
    assert_eq!(harness.event_count("SawCompletedJob"), 6);
    assert_eq!(harness.event_count("SuccessfulDelete"), 3);
    let status = status(&harness, "report");
    assert_eq!(status.last_schedule_time, time(slot(10)));
    // The slot-6 Job started at 06:00.1, stored as 06:00 (metav1.Time has whole seconds),
    // and ran 3.5 minutes.
    assert_eq!(status.last_successful_time, time(at(360.0 + 210.0)));
}

#[test]
fn forbid_skips_slots_while_a_job_runs_and_catches_up_when_it_finishes() {
    let mut harness = minutely("Forbid", 3.5, Finished::Complete);
    harness.run_until(at(269.9));
    assert_eq!(created_job_names(&harness), slot_names("report", &[1]));
    assert_eq!(
        harness.event_count("JobAlreadyActive"),
        3,
        "slots 2, 3 and 4 were refused"
    );
    assert_eq!(
        harness.event_messages("JobAlreadyActive")[0],
        "Not starting job because prior execution is running and concurrency policy is Forbid"
    );

    // 04:30 (the slot-1 Job's stored start, 01:00, plus 3.5 minutes): it finishes; its
    // update re-syncs the CronJob, which starts the most recent missed slot (4) at once:
    // the catch-up run.
    harness.run_until(at(270.2));
    assert_eq!(created_job_names(&harness), slot_names("report", &[1, 4]));
    assert!((created_at_seconds(&harness)[1] - 270.0).abs() < 1e-6);
    assert_eq!(status(&harness, "report").last_schedule_time, time(slot(4)));

    harness.run_until(at(600.5));
    assert!(
        unfinished_job_names(&harness).len() <= 1,
        "Forbid never runs two Jobs at once"
    );
    // The slot-4 Job ends at 08:00, exactly when slot 8 is due: it starts then.
    assert_eq!(
        created_job_names(&harness),
        slot_names("report", &[1, 4, 8])
    );
    assert!((created_at_seconds(&harness)[2] - 480.0).abs() < 1e-6);
    assert_eq!(
        harness.event_messages("SawCompletedJob")[0],
        format!(
            "Saw completed job: {}, condition: Complete",
            slot_job_name("report", slot(1))
        )
    );
}

#[test]
fn replace_deletes_the_running_job_before_starting_the_next() {
    let mut harness = minutely("Replace", 3.5, Finished::Complete);
    harness.run_until(at(240.5));
    assert_eq!(
        created_job_names(&harness),
        slot_names("report", &[1, 2, 3, 4])
    );
    assert_eq!(job_names(&harness), slot_names("report", &[4]));
    assert_eq!(active_names(&harness, "report"), slot_names("report", &[4]));
    let deleted: Vec<String> = slot_names("report", &[1, 2, 3])
        .iter()
        .map(|n| format!("Deleted job {n}"))
        .collect();
    assert_eq!(harness.event_messages("SuccessfulDelete"), deleted);
    // Replace deletes with Background propagation, guarded by the Job's UID.
    let deletes: Vec<&Action> = harness
        .successful_writes("cronjob")
        .into_iter()
        .map(|w| &w.action)
        .filter(|a| matches!(a, Action::Delete { .. }))
        .collect();
    assert_eq!(deletes.len(), 3);
    for delete in deletes {
        let Action::Delete {
            propagation,
            preconditions,
            ..
        } = delete
        else {
            unreachable!()
        };
        assert_eq!(*propagation, Some(corral_core::Propagation::Background));
        assert!(preconditions.uid.is_some());
    }
}

#[test]
fn history_keeps_three_successful_jobs() {
    let mut harness = minutely("Allow", 0.5, Finished::Complete);
    harness.run_until(at(640.0));
    assert_eq!(created_job_names(&harness).len(), 10);
    assert_eq!(job_names(&harness), slot_names("report", &[8, 9, 10]));
}

#[test]
fn history_keeps_one_failed_job() {
    let mut harness = minutely("Allow", 0.5, Finished::Failed);
    harness.run_until(at(640.0));
    assert_eq!(created_job_names(&harness).len(), 10);
    assert_eq!(job_names(&harness), slot_names("report", &[10]));
    assert_eq!(status(&harness, "report").last_successful_time, None);
}

#[test]
fn history_limits_of_zero_delete_finished_jobs_at_once_but_never_unfinished_ones() {
    let mut harness = harness(minutes(3.5), Finished::Complete);
    harness.now = at(10.0);
    let mut cj = cron_job("report", "* * * * *");
    cj.spec.successful_jobs_history_limit = Some(0);
    cj.spec.failed_jobs_history_limit = Some(0);
    create(&mut harness, cj);
    harness.run_until(at(600.5));
    assert_eq!(job_names(&harness), slot_names("report", &[7, 8, 9, 10]));
    assert_eq!(unfinished_job_names(&harness), job_names(&harness));
}

#[test]
fn more_than_one_hundred_missed_slots_warn_but_the_latest_slot_still_starts() {
    let mut harness = harness(minutes(0.5), Finished::Complete);
    // The controller first sees a CronJob created 200 minutes ago (it was down).
    let mut cj = cron_job("report", "* * * * *");
    cj.metadata.creation_timestamp = Some(Time(at(10.0)));
    harness.now = at(10.0 + 200.0 * 60.0);
    create(&mut harness, cj);
    harness.run_until(at(10.0 + 200.0 * 60.0 + 1.0));
    assert_eq!(harness.event_count("TooManyMissedTimes"), 1);
    assert_eq!(
        harness.event_messages("TooManyMissedTimes")[0],
        "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"
    );
    assert_eq!(created_job_names(&harness), slot_names("report", &[200]));
    assert_eq!(
        status(&harness, "report").last_schedule_time,
        time(slot(200))
    );
}

fn late_controller(deadline_seconds: i64) -> Harness {
    let mut harness = harness(minutes(0.5), Finished::Complete);
    let mut cj = cron_job("report", "* * * * *");
    cj.metadata.creation_timestamp = Some(Time(at(10.0)));
    cj.spec.starting_deadline_seconds = Some(deadline_seconds);
    harness.now = at(345.0);
    create(&mut harness, cj);
    harness
}

#[test]
fn a_starting_deadline_skips_slots_older_than_it_silently() {
    // At 05:45 with a 30 s deadline, slot 5 (45 s ago) is out of reach: nothing starts,
    // nothing is reported, and slot 6 starts on time.
    let mut harness = late_controller(30);
    harness.run_until(at(359.0));
    assert!(created_job_names(&harness).is_empty());
    harness.run_until(at(361.0));
    assert_eq!(created_job_names(&harness), slot_names("report", &[6]));
    assert_eq!(harness.event_count("MissSchedule"), 0);
    assert_eq!(harness.event_count("TooManyMissedTimes"), 0);
}

#[test]
fn a_starting_deadline_still_starts_a_slot_within_reach() {
    let mut harness = late_controller(60);
    harness.run_until(at(346.0));
    assert_eq!(created_job_names(&harness), slot_names("report", &[5]));
    assert!((created_at_seconds(&harness)[0] - 345.0).abs() < 1e-6);
}

fn new_york_harness(created: &str, schedule: &str) -> Harness {
    let mut harness = harness(minutes(10.0), Finished::Complete);
    let start: Timestamp = created.parse().unwrap();
    harness.now = start;
    harness.start = start;
    let mut cj = cron_job("nightly", schedule);
    cj.spec.time_zone = Some("America/New_York".into());
    create(&mut harness, cj);
    harness
}

fn created_slots_utc(harness: &Harness) -> Vec<String> {
    harness
        .successful_writes("cronjob")
        .into_iter()
        .filter_map(|w| match &w.action {
            Action::Create { object } => {
                let job = object.as_typed::<Job>()?;
                Some(job.metadata.annotations.as_ref()?[SCHEDULED_TIMESTAMP_ANNOTATION].clone())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_new_york_schedule_skips_the_spring_forward_gap() {
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist that day.
    let mut harness = new_york_harness("2026-03-06T12:00:00Z", "30 2 * * *");
    harness.run_until("2026-03-10T00:00:00Z".parse().unwrap());
    assert_eq!(
        created_slots_utc(&harness),
        vec!["2026-03-07T02:30:00-05:00", "2026-03-09T02:30:00-04:00"]
    );
    let expected = vec![
        slot_job_name("nightly", "2026-03-07T07:30:00Z".parse().unwrap()),
        slot_job_name("nightly", "2026-03-09T06:30:00Z".parse().unwrap()),
    ];
    assert_eq!(created_job_names(&harness), expected);
}

#[test]
fn a_new_york_schedule_runs_twice_in_the_fall_back_overlap() {
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST, so 01:30 happens twice.
    let mut harness = new_york_harness("2026-10-30T12:00:00Z", "30 1 * * *");
    harness.run_until("2026-11-02T12:00:00Z".parse().unwrap());
    assert_eq!(
        created_slots_utc(&harness),
        vec![
            "2026-10-31T01:30:00-04:00",
            "2026-11-01T01:30:00-04:00",
            "2026-11-01T01:30:00-05:00",
            "2026-11-02T01:30:00-05:00",
        ]
    );
}

fn set_suspend(harness: &mut Harness, suspend: bool) {
    let mut cj = stored_cron_job(harness, "report");
    cj.spec.suspend = Some(suspend);
    harness.put(KubeObject::CronJob(cj));
}

#[test]
fn suspend_stops_new_jobs_but_not_running_ones_and_resuming_catches_up() {
    let mut harness = minutely("Allow", 3.5, Finished::Complete);
    harness.run_until(at(210.0));
    set_suspend(&mut harness, true);
    harness.run_until(at(510.0));
    assert_eq!(
        created_job_names(&harness),
        slot_names("report", &[1, 2, 3])
    );
    // The running Jobs ran to completion and left `active` while suspended.
    assert!(unfinished_job_names(&harness).is_empty());
    assert!(active_names(&harness, "report").is_empty());
    assert_eq!(harness.event_count("SawCompletedJob"), 3);

    set_suspend(&mut harness, false);
    harness.run_until(at(540.5));
    assert_eq!(
        created_job_names(&harness),
        slot_names("report", &[1, 2, 3, 8, 9])
    );
    assert!(
        (created_at_seconds(&harness)[3] - 510.0).abs() < 1e-6,
        "slot 8 starts on resume"
    );
}

fn cron_job_status_write(action: &Action) -> bool {
    matches!(action, Action::Update { object, subresource: Subresource::Status } if object.kind() == ResourceKind::CronJob)
}

#[test]
fn a_lost_status_write_is_repaired_by_re_adding_the_existing_job() {
    let mut harness = minutely("Forbid", 3.5, Finished::Complete);
    harness.faults.push(Fault {
        matches: Box::new(cron_job_status_write),
        error: ApiError::new(
            StatusReason::Timeout,
            "the server was unable to return a response in the time allotted",
        ),
        remaining: 1,
    });
    harness.run_until(at(61.0));
    let job = slot_job_name("report", slot(1));
    assert_eq!(created_job_names(&harness), vec![job.clone()]);
    assert_eq!(job_names(&harness), vec![job.clone()]);
    // The next sync saw the Job without an `active` entry, then re-added it instead of
    // creating another (upstream: AlreadyExists, then GET, then append).
    assert_eq!(harness.event_count("UnexpectedJob"), 1);
    assert_eq!(active_names(&harness, "report"), vec![job]);
    assert_eq!(status(&harness, "report").last_schedule_time, time(slot(1)));
    harness.run_until(at(181.0));
    assert_eq!(
        harness.event_count("JobAlreadyActive"),
        2,
        "Forbid holds again"
    );
}

#[test]
fn a_job_the_controller_did_not_create_is_reported_and_not_adopted() {
    let mut harness = minutely("Forbid", 3.5, Finished::Complete);
    let cj = stored_cron_job(&harness, "report");
    let stranger = Job {
        metadata: ObjectMeta {
            name: Some("report-manual".into()),
            namespace: Some(NAMESPACE.into()),
            owner_references: Some(vec![controller_ref(&cj)]),
            ..Default::default()
        },
        spec: Some(JobSpec::default()),
        status: None,
    };
    harness.put(KubeObject::Job(stranger));
    harness.run_until(at(61.0));
    assert!(harness.event_count("UnexpectedJob") >= 1);
    assert_eq!(
        harness.event_messages("UnexpectedJob")[0],
        "Saw a job that the controller did not create or forgot: report-manual"
    );
    // Forbid looks at `active` only: the stranger does not block slot 1.
    assert_eq!(created_job_names(&harness), slot_names("report", &[1]));
    assert_eq!(active_names(&harness, "report"), slot_names("report", &[1]));
}

#[test]
fn a_failed_create_is_reported_and_retried_with_backoff() {
    let mut harness = minutely("Allow", 0.5, Finished::Complete);
    let quota = ApiError::forbidden(
        &GroupResource::new("batch", "jobs"),
        &slot_job_name("report", slot(1)),
        "exceeded quota: jobs, requested: count/jobs.batch=1, used: count/jobs.batch=5, limited: count/jobs.batch=5",
    );
    harness.faults.push(Fault {
        matches: Box::new(
            |a| matches!(a, Action::Create { object } if object.kind() == ResourceKind::Job),
        ),
        error: quota.clone(),
        remaining: 2,
    });
    harness.run_until(at(61.0));
    assert_eq!(
        harness.event_messages("FailedCreate"),
        vec![format!("Error creating job: {}", quota.message); 2]
    );
    assert_eq!(created_job_names(&harness), slot_names("report", &[1]));
    // Rate-limited retries: 5 ms, then 10 ms.
    assert!((created_at_seconds(&harness)[0] - 60.115).abs() < 1e-6);
    assert_eq!(status(&harness, "report").last_schedule_time, time(slot(1)));
}

#[test]
fn the_status_is_written_only_when_it_changes() {
    let mut harness = minutely("Allow", 0.5, Finished::Complete);
    harness.run_until(at(1800.5));
    let status_writes = harness
        .writes
        .iter()
        .filter(|w| w.controller == "cronjob" && cron_job_status_write(&w.action))
        .count();
    // Per slot: one write to record the new Job, one when it is seen completed (which also
    // prunes the history and advances lastSuccessfulTime in the same write). The slot-30
    // Job is still running.
    assert_eq!(status_writes, 2 * 30 - 1);
    let cj: CronJob = stored_cron_job(&harness, "report");
    assert_eq!(cj.status.unwrap().last_schedule_time, time(slot(30)));
}

#[test]
fn a_failed_replace_delete_aborts_the_start_and_the_sync_backs_off() {
    let mut harness = minutely("Replace", 3.5, Finished::Complete);
    harness.run_until(at(61.0));
    let refused = ApiError::new(StatusReason::InternalError, "etcdserver: request timed out");
    harness.faults.push(Fault {
        matches: Box::new(
            |a| matches!(a, Action::Delete { key, .. } if key.kind == ResourceKind::Job),
        ),
        error: refused.clone(),
        remaining: 1,
    });
    harness.run_until(at(120.102));
    assert_eq!(
        harness.event_messages("FailedDelete"),
        vec![format!("Deleted job: {}", refused.message)]
    );
    assert_eq!(
        created_job_names(&harness),
        slot_names("report", &[1]),
        "no start after a failed Replace"
    );
    // The retry 5 ms later deletes the slot-1 Job and starts slot 2.
    harness.run_until(at(121.0));
    assert_eq!(created_job_names(&harness), slot_names("report", &[1, 2]));
    assert!((created_at_seconds(&harness)[1] - 120.105).abs() < 1e-6);
    assert_eq!(job_names(&harness), slot_names("report", &[2]));
}
