//! One sync at a time: the controller called directly against a `TestCluster`, to pin the
//! decisions of single steps (history order, requeue arithmetic, stops, the update handler,
//! outcome handling).

use std::sync::Arc;
use std::time::Duration;

use corral_api::{ApiError, GroupResource, KubeObject, ObjectKey, ResourceKind, Revision};
use corral_core::{
    Action, ChangeKind, Enqueue, ObjectEvent, Outcome, Plan, Reconciler, SyncResult, Timestamp,
};
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job, JobStatus};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::*;
use crate::cronjob::finish::status_of;
use crate::cronjob::job_build::controller_ref;
use crate::gc::harness::finish_job;
use crate::testing::TestCluster;

struct Bench {
    cluster: TestCluster,
    controller: CronJobController,
}

impl Bench {
    fn new() -> Self {
        Bench {
            cluster: TestCluster::new(),
            controller: CronJobController::new(CronJobControllerConfig::default()),
        }
    }

    fn put(&mut self, object: impl Into<KubeObject>, now: Timestamp) -> KubeObject {
        (*self.cluster.put(object.into(), now).object).clone()
    }

    fn cron_job(&self, name: &str) -> CronJob {
        self.cluster
            .cache
            .get_typed::<CronJob>(NAMESPACE, name)
            .cloned()
            .unwrap()
    }

    /// One reconcile, executed, and its result.
    fn step(&mut self, key: &ObjectKey, now: Timestamp) -> (Plan, Vec<Outcome>, SyncResult) {
        let plan = self.controller.reconcile(&self.cluster.cache, key, now);
        let (outcomes, _) = self.cluster.execute(&plan, now);
        let result = self.controller.handle_outcomes(key, &plan, &outcomes, now);
        (plan, outcomes, result)
    }

    /// A whole sync: the write plan, then its follow-up if one was asked for.
    fn sync(&mut self, key: &ObjectKey, now: Timestamp) -> (Vec<Action>, SyncResult) {
        let (plan, _, mut result) = self.step(key, now);
        let mut actions: Vec<Action> = plan.actions().cloned().collect();
        if result
            == (SyncResult::Done {
                requeue_after: Some(Duration::ZERO),
            })
        {
            let (plan, _, follow_up) = self.step(key, now);
            actions.extend(plan.actions().cloned());
            result = follow_up;
        }
        (actions, result)
    }
}

fn reasons(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Event(e) => Some(e.reason.clone()),
            _ => None,
        })
        .collect()
}

fn deleted_names(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Delete { key, .. } => Some(key.name.clone()),
            _ => None,
        })
        .collect()
}

fn owned_job(cj: &CronJob, name: &str, started: Option<f64>, finished: Option<Finished>) -> Job {
    let mut status = JobStatus {
        start_time: started.map(|s| Time(at(s))),
        ..Default::default()
    };
    if let Some(how) = finished {
        finish_job(&mut status, how, at(started.unwrap_or(0.0) + 30.0));
    }
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NAMESPACE.into()),
            owner_references: Some(vec![controller_ref(cj)]),
            ..Default::default()
        },
        spec: Some(Default::default()),
        status: Some(status),
    }
}

fn suspended(name: &str) -> CronJob {
    let mut cj = cron_job(name, "* * * * *");
    cj.spec.suspend = Some(true);
    cj
}

#[test]
fn history_cleanup_deletes_the_oldest_finished_jobs_by_start_time_and_ignores_unfinished_ones() {
    let mut bench = Bench::new();
    let cj = bench
        .put(suspended("report"), at(0.0))
        .into_typed::<CronJob>()
        .unwrap();
    let jobs = [
        owned_job(&cj, "c-no-start", None, Some(Finished::Complete)),
        owned_job(&cj, "c-oldest", Some(10.0), Some(Finished::Complete)),
        owned_job(&cj, "c-middle", Some(20.0), Some(Finished::Complete)),
        owned_job(&cj, "c-newest", Some(30.0), Some(Finished::Complete)),
        owned_job(&cj, "f-old", Some(5.0), Some(Finished::Failed)),
        owned_job(&cj, "f-new", Some(50.0), Some(Finished::Failed)),
        owned_job(&cj, "running-old", Some(1.0), None),
        owned_job(&cj, "waiting", None, None),
    ];
    for job in jobs {
        bench.put(job, at(60.0));
    }
    let (actions, result) = bench.sync(&cron_job_key("report"), at(100.0));
    // Complete: 4 > 3, the one with the oldest start goes (no start time sorts last).
    // Failed: 2 > 1, the older goes. Unfinished Jobs are never counted or deleted.
    assert_eq!(deleted_names(&actions), vec!["c-oldest", "f-old"]);
    let deletes_are_background = actions.iter().all(|a| match a {
        Action::Delete { propagation, .. } => {
            *propagation == Some(corral_core::Propagation::Background)
        }
        _ => true,
    });
    assert!(deletes_are_background);
    assert!(
        reasons(&actions)
            .iter()
            .filter(|r| *r == "SuccessfulDelete")
            .count()
            == 2
    );
    assert!(reasons(&actions).contains(&"UnexpectedJob".to_string()));
    // Suspended: no requeue; the key waits for the next event.
    assert_eq!(
        result,
        SyncResult::Done {
            requeue_after: None
        }
    );
}

#[test]
fn with_nothing_due_the_sync_writes_nothing_and_requeues_just_after_the_next_slot() {
    let mut bench = Bench::new();
    bench.put(cron_job("report", "*/5 * * * *"), at(10.0));
    let (actions, result) = bench.sync(&cron_job_key("report"), at(90.0));
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(
        result,
        SyncResult::Done {
            requeue_after: Some(Duration::from_millis(210_100))
        }
    );
}

#[test]
fn a_due_slot_creates_its_job_and_records_it_in_one_status_write() {
    let mut bench = Bench::new();
    bench.put(cron_job("report", "*/5 * * * *"), at(10.0));
    let (actions, result) = bench.sync(&cron_job_key("report"), at(300.1));
    let job_name = slot_job_name("report", at(300.0));
    let created: Vec<&Action> = actions
        .iter()
        .filter(|a| matches!(a, Action::Create { .. }))
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(reasons(&actions), vec!["SuccessfulCreate"]);
    let statuses: Vec<&CronJobStatus> = actions.iter().filter_map(status_of).collect();
    assert_eq!(statuses.len(), 1);
    let active = statuses[0].active.as_ref().unwrap();
    assert_eq!(active[0].name.as_deref(), Some(job_name.as_str()));
    assert!(
        active[0].uid.is_some(),
        "the reference carries the created Job's UID"
    );
    assert_eq!(statuses[0].last_schedule_time, time(at(300.0)));
    // Next slot 10:00, plus 100 ms, from 05:00.1.
    assert_eq!(
        result,
        SyncResult::Done {
            requeue_after: Some(Duration::from_secs(300))
        }
    );
}

#[test]
fn already_exists_on_create_re_adds_the_job_found_in_the_cache() {
    let mut bench = Bench::new();
    let cj = bench
        .put(cron_job("report", "* * * * *"), at(10.0))
        .into_typed::<CronJob>()
        .unwrap();
    let key = cron_job_key("report");
    let plan = bench
        .controller
        .reconcile(&bench.cluster.cache, &key, at(60.1));
    assert!(plan.actions().any(|a| matches!(a, Action::Create { .. })));
    // Another writer (or a lagging cache) beat us to it: the API answers AlreadyExists and
    // the Job, controlled by this CronJob, shows up in the cache.
    let job_name = slot_job_name("report", at(60.0));
    bench.put(owned_job(&cj, &job_name, Some(60.0), None), at(60.1));
    let outcomes: Vec<Outcome> = plan
        .actions()
        .map(|a| match a {
            Action::Create { .. } => Outcome::Failed(ApiError::already_exists(
                &GroupResource::new("batch", "jobs"),
                &job_name,
            )),
            _ => Outcome::Done(None),
        })
        .collect();
    let result = bench
        .controller
        .handle_outcomes(&key, &plan, &outcomes, at(60.1));
    assert_eq!(
        result,
        SyncResult::Done {
            requeue_after: Some(Duration::ZERO)
        }
    );
    let (follow_up, _, result) = bench.step(&key, at(60.1));
    let statuses: Vec<&CronJobStatus> = follow_up.actions().filter_map(status_of).collect();
    let active = statuses[0].active.as_ref().unwrap();
    assert_eq!(active[0].name.as_deref(), Some(job_name.as_str()));
    assert!(
        !follow_up
            .actions()
            .any(|a| matches!(a, Action::Event(e) if e.reason == "SuccessfulCreate"))
    );
    assert_eq!(
        result,
        SyncResult::Done {
            requeue_after: Some(Duration::from_secs(60))
        }
    );
}

#[test]
fn an_active_job_that_is_gone_is_reported_missing_and_dropped() {
    let mut bench = Bench::new();
    let mut cj = suspended("report");
    cj.status = Some(CronJobStatus {
        active: Some(vec![ObjectReference {
            name: Some("report-gone".into()),
            namespace: Some(NAMESPACE.into()),
            uid: Some("gone-uid".into()),
            ..Default::default()
        }]),
        ..Default::default()
    });
    bench.put(cj, at(0.0));
    let (actions, _) = bench.sync(&cron_job_key("report"), at(5.0));
    assert_eq!(reasons(&actions), vec!["MissingJob"]);
    assert_eq!(
        actions.iter().filter_map(status_of).next().unwrap().active,
        None
    );
    assert!(bench.cron_job("report").status.unwrap().active.is_none());
}

fn stop_reasons(cj: CronJob) -> (Vec<String>, SyncResult) {
    let mut bench = Bench::new();
    bench.put(cj, at(0.0));
    let (actions, result) = bench.sync(&cron_job_key("report"), at(3600.0));
    assert!(!actions.iter().any(|a| matches!(a, Action::Create { .. })));
    (reasons(&actions), result)
}

#[test]
fn bad_schedules_and_zones_are_reported_and_the_key_waits_for_an_update() {
    let done = SyncResult::Done {
        requeue_after: None,
    };
    let (reasons, result) = stop_reasons(cron_job("report", "0 0 31 2 *"));
    assert_eq!(
        (reasons, &result),
        (vec!["InvalidSchedule".to_string()], &done)
    );
    let (reasons, result) = stop_reasons(cron_job("report", "every day"));
    assert_eq!(
        (reasons, &result),
        (vec!["UnparseableSchedule".to_string()], &done)
    );
    let mut zoned = cron_job("report", "* * * * *");
    zoned.spec.time_zone = Some("Mars/Olympus".into());
    let (reasons, result) = stop_reasons(zoned);
    assert_eq!(
        (reasons, &result),
        (vec!["UnknownTimeZone".to_string()], &done)
    );
}

#[test]
fn a_cron_job_being_deleted_only_updates_its_status() {
    let mut cj = cron_job("report", "* * * * *");
    cj.metadata.deletion_timestamp = Some(Time(at(0.0)));
    cj.metadata.finalizers = Some(vec!["foregroundDeletion".into()]);
    let (reasons, result) = stop_reasons(cj);
    assert!(reasons.is_empty());
    assert_eq!(
        result,
        SyncResult::Done {
            requeue_after: None
        }
    );
}

#[test]
fn a_failed_status_write_is_retried_after_the_rate_limiters_delay() {
    let mut bench = Bench::new();
    bench.put(cron_job("report", "* * * * *"), at(10.0));
    let key = cron_job_key("report");
    let (plan, _, result) = bench.step(&key, at(60.1));
    assert_eq!(
        result,
        SyncResult::Done {
            requeue_after: Some(Duration::ZERO)
        }
    );
    assert!(plan.actions().any(|a| matches!(a, Action::Create { .. })));
    let follow_up = bench
        .controller
        .reconcile(&bench.cluster.cache, &key, at(60.1));
    let conflict = ApiError::conflict_modified(&GroupResource::new("batch", "cronjobs"), "report");
    let outcomes: Vec<Outcome> = follow_up
        .actions()
        .map(|a| {
            if status_of(a).is_some() {
                Outcome::Failed(conflict.clone())
            } else {
                Outcome::Done(None)
            }
        })
        .collect();
    let result = bench
        .controller
        .handle_outcomes(&key, &follow_up, &outcomes, at(60.1));
    // The controller applies upstream's DefaultControllerRateLimiter itself: 5 ms first.
    assert_eq!(
        result,
        SyncResult::Done {
            requeue_after: Some(Duration::from_millis(5))
        }
    );
    assert!(
        bench
            .controller
            .last_error(&key)
            .unwrap()
            .contains("the object has been modified")
    );
}

fn modified(old: &CronJob, new: CronJob) -> (ObjectEvent, KubeObject) {
    let event = ObjectEvent {
        change: ChangeKind::Modified,
        object: Arc::new(new.into()),
        revision: Revision(9),
    };
    (event, old.clone().into())
}

#[test]
fn a_schedule_change_requeues_at_the_new_schedules_next_slot_and_other_changes_at_once() {
    let mut bench = Bench::new();
    let old = bench
        .put(cron_job("report", "0 * * * *"), at(0.0))
        .into_typed::<CronJob>()
        .unwrap();
    let mut new = old.clone();
    new.spec.schedule = "*/5 * * * *".into();
    let (event, previous) = modified(&old, new);
    let wanted =
        bench
            .controller
            .handle_event(&event, Some(&previous), &bench.cluster.cache, at(90.0));
    assert_eq!(
        wanted,
        vec![Enqueue::after(
            cron_job_key("report"),
            Duration::from_millis(210_100)
        )]
    );

    let mut relabelled = old.clone();
    relabelled.metadata.labels = Some([("team".to_string(), "x".to_string())].into());
    let (event, previous) = modified(&old, relabelled);
    let wanted =
        bench
            .controller
            .handle_event(&event, Some(&previous), &bench.cluster.cache, at(90.0));
    assert_eq!(wanted, vec![Enqueue::now(cron_job_key("report"))]);
}

#[test]
fn a_job_event_wakes_the_cron_job_its_controller_reference_resolves_to() {
    let mut bench = Bench::new();
    let cj = bench
        .put(cron_job("report", "* * * * *"), at(0.0))
        .into_typed::<CronJob>()
        .unwrap();
    let job = bench.put(owned_job(&cj, "report-1", None, None), at(1.0));
    let added = ObjectEvent {
        change: ChangeKind::Added,
        object: Arc::new(job.clone()),
        revision: Revision(3),
    };
    let wanted = bench
        .controller
        .handle_event(&added, None, &bench.cluster.cache, at(1.0));
    assert_eq!(wanted, vec![Enqueue::now(cron_job_key("report"))]);

    // A controller reference whose UID does not match the stored CronJob wakes nothing.
    let mut impostor = job.into_typed::<Job>().unwrap();
    impostor.metadata.owner_references.as_mut().unwrap()[0].uid = "another-uid".into();
    let event = ObjectEvent {
        change: ChangeKind::Deleted,
        object: Arc::new(impostor.into()),
        revision: Revision(4),
    };
    assert!(
        bench
            .controller
            .handle_event(&event, None, &bench.cluster.cache, at(1.0))
            .is_empty()
    );
    let _ = ResourceKind::Job;
}
