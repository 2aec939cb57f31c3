//! Guards 2, 3, 4 and 8 in the CronJob controller, each on and off, and guard 5 seen from
//! a Forbid CronJob.
//!
//! Goal: the snowball's links (spec §7.1) are cut where `docs/guards.md` says, and profile
//! `upstream` still shows them. Method: the shared virtual-time [`Harness`], with no Job
//! runner unless a test needs Jobs to run (a Job nobody runs is the backlog: unfinished,
//! no pod), a checker that samples the cache before every controller write, and the real
//! Job controller where the test is about pods.

use std::cell::Cell;
use std::rc::Rc;

use corral_api::{ApiError, GroupResource, KubeObject, ObjectKey, ResourceKind, StatusReason};
use corral_core::{Action, ObjectCache, PatchBody};
use k8s_openapi::api::batch::v1::{CronJob, Job, JobSpec};
use k8s_openapi::api::core::v1::{Pod, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;
use crate::cronjob::guards::{
    CronJobGuards, MAX_UNFINISHED_JOBS_ANNOTATION, NEXT_SCHEDULE_TIME_ANNOTATION,
    SUSPENDED_BY_CRONJOB_ANNOTATION,
};
use crate::cronjob::job_build::controller_ref;
use crate::cronjob::job_state::is_job_finished;
use crate::gc::harness::{Fault, finish_job, owner_ref};
use crate::job::{JobController, JobControllerConfig, JobGuards};

fn slot(minute: i64) -> corral_core::Timestamp {
    at((minute * 60) as f64)
}

fn slot_names(minutes: &[i64]) -> Vec<String> {
    minutes
        .iter()
        .map(|m| slot_job_name("report", slot(*m)))
        .collect()
}

/// A harness whose CronJob controller runs `guards`, and nothing runs the Jobs.
fn guarded(guards: CronJobGuards) -> Harness {
    let mut harness = Harness::new(t0());
    harness.add(CronJobController::new(CronJobControllerConfig {
        guards,
        ..CronJobControllerConfig::default()
    }));
    harness
}

/// The minutely `report` CronJob, created at 00:00:10.
fn report(harness: &mut Harness, policy: &str, edit: impl FnOnce(&mut CronJob)) {
    harness.now = at(10.0);
    let mut cj = with_policy(cron_job("report", "* * * * *"), policy);
    edit(&mut cj);
    create(harness, cj);
}

/// Counts unfinished Jobs before every controller write and keeps the largest count.
fn track_unfinished(harness: &mut Harness) -> Rc<Cell<usize>> {
    let most = Rc::new(Cell::new(0));
    let seen = most.clone();
    harness.checker = Some(Box::new(move |cache: &ObjectCache, _, _: &Action| {
        let unfinished = cache
            .list_typed::<Job>()
            .filter(|j| !is_job_finished(j))
            .count();
        seen.set(seen.get().max(unfinished));
    }));
    most
}

fn set_suspend(harness: &mut Harness, suspend: bool) {
    let mut cj = stored_cron_job(harness, "report");
    cj.spec.suspend = Some(suspend);
    harness.put(KubeObject::CronJob(cj));
}

fn job_named(harness: &Harness, name: &str) -> Option<Job> {
    harness
        .get(&ObjectKey::new(ResourceKind::Job, NAMESPACE, name))
        .and_then(|o| o.as_typed::<Job>())
        .cloned()
}

fn annotation_of(job: &Job, name: &str) -> Option<String> {
    job.metadata.annotations.as_ref()?.get(name).cloned()
}

fn suspended(job: &Job) -> Option<bool> {
    job.spec.as_ref()?.suspend
}

// --- guard 2: Forbid that forbids -----------------------------------------------------

/// A Job the CronJob controls that is not in `status.active` (its status write was lost)
/// and has no pod.
fn forbid_with_a_lost_job(guards: CronJobGuards) -> Harness {
    let mut harness = guarded(guards);
    report(&mut harness, "Forbid", |_| {});
    let cj = stored_cron_job(&harness, "report");
    harness.put(KubeObject::Job(Job {
        metadata: ObjectMeta {
            name: Some("report-lost".into()),
            namespace: Some(NAMESPACE.into()),
            owner_references: Some(vec![controller_ref(&cj)]),
            ..Default::default()
        },
        spec: Some(JobSpec::default()),
        status: None,
    }));
    harness.run_until(at(185.0));
    harness
}

#[test]
fn upstream_forbid_ignores_an_unfinished_job_missing_from_active() {
    let harness = forbid_with_a_lost_job(CronJobGuards::default());
    assert_eq!(created_job_names(&harness), slot_names(&[1]));
    assert_eq!(
        unfinished_job_names(&harness).len(),
        2,
        "two runs at once under Forbid"
    );
}

#[test]
fn forbid_by_owner_blocks_on_an_unfinished_job_missing_from_active() {
    let harness = forbid_with_a_lost_job(CronJobGuards {
        forbid_by_owner: true,
        ..CronJobGuards::default()
    });
    assert!(created_job_names(&harness).is_empty());
    assert_eq!(
        harness.event_count("JobAlreadyActive"),
        3,
        "slots 1, 2 and 3"
    );
    assert_eq!(unfinished_job_names(&harness), ["report-lost"]);
}

/// Every CronJob status write fails (a slow API server); Jobs never finish.
fn forbid_with_failing_status_writes(guards: CronJobGuards) -> usize {
    let mut harness = guarded(guards);
    let most = track_unfinished(&mut harness);
    harness.faults.push(Fault {
        matches: Box::new(|a| {
            matches!(a, Action::Update { object, subresource: corral_core::Subresource::Status } if object.kind() == ResourceKind::CronJob)
        }),
        error: ApiError::new(StatusReason::Timeout, "the server was unable to return a response in the time allotted"),
        remaining: usize::MAX,
    });
    report(&mut harness, "Forbid", |_| {});
    harness.run_until(at(30.0 * 60.0));
    most.get().max(unfinished_job_names(&harness).len())
}

#[test]
fn upstream_forbid_leaks_jobs_when_status_writes_fail() {
    let most = forbid_with_failing_status_writes(CronJobGuards::default());
    assert!(most > 1, "Forbid let {most} Jobs run at once");
}

#[test]
fn forbid_by_owner_keeps_one_unfinished_job_at_every_instant_when_status_writes_fail() {
    let most = forbid_with_failing_status_writes(CronJobGuards {
        forbid_by_owner: true,
        ..CronJobGuards::default()
    });
    assert_eq!(most, 1);
}

// --- guard 3: a cap on unfinished Jobs under Allow ------------------------------------

fn allow_with_a_cap(guards: CronJobGuards, annotation: Option<&str>) -> Harness {
    let mut harness = guarded(guards);
    report(&mut harness, "Allow", |cj| {
        if let Some(value) = annotation {
            cj.metadata.annotations = Some(
                [(
                    MAX_UNFINISHED_JOBS_ANNOTATION.to_string(),
                    value.to_string(),
                )]
                .into(),
            );
        }
    });
    harness.run_until(at(630.0));
    harness
}

#[test]
fn upstream_allow_piles_up_every_unfinished_job() {
    let harness = allow_with_a_cap(CronJobGuards::default(), Some("3"));
    assert_eq!(
        unfinished_job_names(&harness).len(),
        10,
        "the annotation means nothing upstream"
    );
}

#[test]
fn allow_stops_at_the_cap_with_too_many_unfinished_jobs_and_catches_up_when_one_finishes() {
    let guards = CronJobGuards {
        max_unfinished_jobs: Some(50),
        ..CronJobGuards::default()
    };
    let mut harness = allow_with_a_cap(guards, Some("3"));
    assert_eq!(created_job_names(&harness), slot_names(&[1, 2, 3]));
    let warnings = harness.event_messages("TooManyUnfinishedJobs");
    assert_eq!(warnings.len(), 7, "slots 4 to 10 were skipped");
    assert_eq!(
        warnings[0],
        "Not starting job because the CronJob has 3 unfinished jobs and the limit is 3 (annotation corral.dev/max-unfinished-jobs)"
    );
    assert_eq!(status(&harness, "report").last_schedule_time, time(slot(3)));

    // One finishes: the most recent missed slot (10) starts at once, like a Forbid catch-up.
    let mut first = job_named(&harness, &slot_names(&[1])[0]).unwrap();
    finish_job(
        first.status.get_or_insert_with(Default::default),
        Finished::Complete,
        harness.now,
    );
    harness.write_status(first.into());
    harness.run_until(at(631.0));
    assert_eq!(created_job_names(&harness), slot_names(&[1, 2, 3, 10]));
    assert_eq!(unfinished_job_names(&harness).len(), 3);
}

#[test]
fn the_server_default_cap_applies_without_an_annotation_and_zero_lifts_it() {
    let guards = CronJobGuards {
        max_unfinished_jobs: Some(2),
        ..CronJobGuards::default()
    };
    let harness = allow_with_a_cap(guards.clone(), None);
    assert_eq!(created_job_names(&harness), slot_names(&[1, 2]));
    let harness = allow_with_a_cap(guards, Some("0"));
    assert_eq!(created_job_names(&harness).len(), 10);
}

// --- guard 4: suspend reaches the backlog ---------------------------------------------

/// Slots 1 to 4 made Jobs no pod was created for, except slot 1's, which runs a pod; the
/// CronJob is suspended at 04:30.
fn suspended_backlog(guards: CronJobGuards, deadline: Option<i64>) -> Harness {
    let mut harness = guarded(guards);
    report(&mut harness, "Allow", |cj| {
        cj.spec.starting_deadline_seconds = deadline
    });
    harness.run_until(at(250.0));
    let running = job_named(&harness, &slot_names(&[1])[0]).unwrap();
    harness.put(KubeObject::Pod(Pod {
        metadata: ObjectMeta {
            name: Some("report-1-pod".into()),
            namespace: Some(NAMESPACE.into()),
            owner_references: Some(vec![owner_ref(&KubeObject::Job(running))]),
            ..Default::default()
        },
        spec: Some(PodSpec::default()),
        status: None,
    }));
    harness.run_until(at(270.0));
    set_suspend(&mut harness, true);
    harness.run_until(at(271.0));
    harness
}

#[test]
fn upstream_suspend_leaves_the_backlog_alone() {
    let harness = suspended_backlog(CronJobGuards::default(), None);
    for name in slot_names(&[1, 2, 3, 4]) {
        assert_eq!(
            suspended(&job_named(&harness, &name).unwrap()),
            None,
            "{name}"
        );
    }
}

#[test]
fn suspend_suspends_backlog_jobs_leaves_running_ones_and_resume_releases_exactly_those() {
    let guards = CronJobGuards {
        suspend_backlog: true,
        ..CronJobGuards::default()
    };
    let mut harness = suspended_backlog(guards, None);
    let uid = stored_cron_job(&harness, "report").metadata.uid.unwrap();
    let running = job_named(&harness, &slot_names(&[1])[0]).unwrap();
    assert_eq!(suspended(&running), None, "a Job with a pod is left alone");
    assert_eq!(
        annotation_of(&running, SUSPENDED_BY_CRONJOB_ANNOTATION),
        None
    );
    for name in slot_names(&[2, 3, 4]) {
        let job = job_named(&harness, &name).unwrap();
        assert_eq!(suspended(&job), Some(true), "{name}");
        assert_eq!(
            annotation_of(&job, SUSPENDED_BY_CRONJOB_ANNOTATION).as_deref(),
            Some(uid.as_str())
        );
    }
    assert_eq!(harness.event_count("SuspendedJob"), 3);

    // A Job the user suspended by hand is not the CronJob's to resume.
    let mut manual = job_named(&harness, &slot_names(&[1])[0]).unwrap();
    manual.spec.as_mut().unwrap().suspend = Some(true);
    harness.put(KubeObject::Job(manual));

    harness.run_until(at(390.0));
    assert_eq!(harness.event_count("SuspendedJob"), 3, "written once");
    set_suspend(&mut harness, false);
    harness.run_until(at(391.0));
    for name in slot_names(&[2, 3, 4]) {
        let job = job_named(&harness, &name).unwrap();
        assert_eq!(suspended(&job), Some(false), "{name}");
        assert_eq!(annotation_of(&job, SUSPENDED_BY_CRONJOB_ANNOTATION), None);
    }
    assert_eq!(
        suspended(&job_named(&harness, &slot_names(&[1])[0]).unwrap()),
        Some(true)
    );
    assert_eq!(harness.event_count("ResumedJob"), 3);
    assert_eq!(
        created_job_names(&harness),
        slot_names(&[1, 2, 3, 4, 6]),
        "slot 6 catches up"
    );
}

#[test]
fn resume_deletes_suspended_backlog_jobs_past_their_starting_deadline() {
    let guards = CronJobGuards {
        suspend_backlog: true,
        ..CronJobGuards::default()
    };
    let mut harness = suspended_backlog(guards, Some(200));
    // Resumed at 06:30: slots 2 and 3 (+200 s) are past, slot 4 (04:00 + 200 s = 07:20) is not.
    harness.run_until(at(390.0));
    set_suspend(&mut harness, false);
    harness.run_until(at(391.0));
    assert!(job_named(&harness, &slot_names(&[2])[0]).is_none());
    assert!(job_named(&harness, &slot_names(&[3])[0]).is_none());
    assert_eq!(
        suspended(&job_named(&harness, &slot_names(&[4])[0]).unwrap()),
        Some(false)
    );
    assert!(
        job_named(&harness, &slot_names(&[1])[0]).is_some(),
        "the running Job stays"
    );
    assert_eq!(harness.event_count("DeletedSuspendedJob"), 2);
    let deletes: Vec<&Action> = harness
        .successful_writes("cronjob")
        .into_iter()
        .map(|w| &w.action)
        .filter(|a| matches!(a, Action::Delete { .. }))
        .collect();
    assert!(deletes.iter().all(|d| matches!(
        d,
        Action::Delete {
            propagation: Some(corral_core::Propagation::Background),
            ..
        }
    )));
}

/// Pods of the CronJob's Jobs cannot be created until 05:00 (a webhook), the CronJob is
/// suspended at 04:30; with the real Job controller. Returns the pods that exist at 08:00.
fn backlog_pods_after_suspend(guards: CronJobGuards) -> usize {
    let mut harness = guarded(guards);
    harness.add(JobController::new(JobControllerConfig::default()));
    harness.faults.push(Fault {
        matches: Box::new(
            |a| matches!(a, Action::Create { object } if object.kind() == ResourceKind::Pod),
        ),
        error: ApiError::new(
            StatusReason::InternalError,
            "failed calling webhook \"slow.example.com\"",
        ),
        remaining: usize::MAX,
    });
    report(&mut harness, "Allow", |cj| {
        cj.spec.job_template.spec = Some(runnable_job_spec());
    });
    harness.run_until(at(270.0));
    assert_eq!(
        unfinished_job_names(&harness).len(),
        4,
        "a backlog of four Jobs"
    );
    set_suspend(&mut harness, true);
    harness.run_until(at(300.0));
    harness.faults.clear();
    harness.run_until(at(480.0));
    harness.objects(ResourceKind::Pod).len()
}

fn runnable_job_spec() -> JobSpec {
    JobSpec {
        template: PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "report".to_string())].into()),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                restart_policy: Some("Never".into()),
                ..Default::default()
            }),
        },
        selector: Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                match_labels: Some([("app".to_string(), "report".to_string())].into()),
                match_expressions: None,
            },
        ),
        ..Default::default()
    }
}

#[test]
fn upstream_the_backlog_keeps_creating_pods_after_suspend() {
    assert_eq!(backlog_pods_after_suspend(CronJobGuards::default()), 4);
}

#[test]
fn after_suspend_no_pod_is_created_for_the_backlog() {
    let guards = CronJobGuards {
        suspend_backlog: true,
        ..CronJobGuards::default()
    };
    assert_eq!(backlog_pods_after_suspend(guards), 0);
}

// --- guard 8: the next run, visible ---------------------------------------------------

fn next_run_patches(harness: &Harness) -> usize {
    harness
        .successful_writes("cronjob")
        .into_iter()
        .filter(|w| matches!(&w.action, Action::Patch { key, patch: PatchBody::Merge(body), .. } if key.kind == ResourceKind::CronJob && body["metadata"]["annotations"].get(NEXT_SCHEDULE_TIME_ANNOTATION).is_some()))
        .count()
}

fn next_run(harness: &Harness) -> Option<String> {
    stored_cron_job(harness, "report")
        .metadata
        .annotations?
        .get(NEXT_SCHEDULE_TIME_ANNOTATION)
        .cloned()
}

#[test]
fn the_next_run_annotation_names_the_next_slot_and_changes_only_with_it() {
    let mut harness = guarded(CronJobGuards {
        next_run_annotation: true,
        ..CronJobGuards::default()
    });
    harness.job_runner = Some(crate::gc::harness::JobRunner {
        run_for: minutes(0.5),
        outcome: Finished::Complete,
        create_pods: false,
    });
    report(&mut harness, "Allow", |_| {});
    harness.run_until(at(11.0));
    assert_eq!(next_run(&harness).as_deref(), Some("2026-01-01T00:01:00Z"));
    harness.run_until(at(330.0));
    assert_eq!(next_run(&harness).as_deref(), Some("2026-01-01T00:06:00Z"));
    // One write at creation and one per slot, although every Job start and finish syncs
    // the CronJob again.
    assert_eq!(next_run_patches(&harness), 6);

    set_suspend(&mut harness, true);
    harness.run_until(at(331.0));
    assert_eq!(next_run(&harness), None, "no next run while suspended");
    set_suspend(&mut harness, false);
    harness.run_until(at(332.0));
    assert_eq!(next_run(&harness).as_deref(), Some("2026-01-01T00:06:00Z"));
}

#[test]
fn upstream_writes_no_next_run_annotation() {
    let mut harness = guarded(CronJobGuards::default());
    report(&mut harness, "Allow", |_| {});
    harness.run_until(at(130.0));
    assert_eq!(next_run(&harness), None);
    assert_eq!(next_run_patches(&harness), 0);
}

#[test]
fn the_next_run_annotation_is_in_the_cron_jobs_time_zone() {
    let mut harness = guarded(CronJobGuards::corral());
    harness.now = at(10.0);
    let mut cj = cron_job("report", "30 2 * * *");
    cj.spec.time_zone = Some("America/New_York".into());
    create(&mut harness, cj);
    harness.run_until(at(11.0));
    assert_eq!(
        next_run(&harness).as_deref(),
        Some("2026-01-01T02:30:00-05:00")
    );
}

// --- guard 5, seen from a Forbid CronJob ----------------------------------------------

#[test]
fn a_job_whose_pods_cannot_be_created_fails_and_a_forbid_cron_job_moves_on() {
    let mut harness = guarded(CronJobGuards::corral());
    harness.add(JobController::new(JobControllerConfig {
        guards: JobGuards::corral(),
        ..JobControllerConfig::default()
    }));
    let most = track_unfinished(&mut harness);
    harness.faults.push(Fault {
        matches: Box::new(|a| matches!(a, Action::Create { object } if object.kind() == ResourceKind::Pod)),
        error: ApiError::forbidden(
            &GroupResource::new("", "pods"),
            "",
            "error looking up service account default/missing: serviceaccount \"missing\" not found",
        ),
        remaining: usize::MAX,
    });
    report(&mut harness, "Forbid", |cj| {
        cj.spec.job_template.spec = Some(runnable_job_spec());
    });
    harness.run_until(at(11.0 * 60.0));
    assert_eq!(
        created_job_names(&harness),
        slot_names(&[1]),
        "Forbid holds while it fails"
    );
    harness.run_until(at(13.0 * 60.0));
    let first = job_named(&harness, &slot_names(&[1])[0]).unwrap();
    let failed = first
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Failed" && c.status == "True")
        .expect("the first Job failed");
    assert_eq!(failed.reason.as_deref(), Some("PodCreationFailing"));
    let names = created_job_names(&harness);
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(most.get() <= 1, "never two unfinished Jobs: {}", most.get());
}
