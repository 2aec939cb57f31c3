//! CronJob controller tests.
//!
//! Goal: the v2 controller reproduces upstream's observable behaviour: which Jobs exist when,
//! with which names, which events, and what the status says. Method: virtual time through
//! the shared [`Harness`] (a `TestCluster`, client-go work queues, and a scripted Job runner
//! in place of the Job controller); single-sync tests call the reconciler directly.

mod guards;
mod single_sync;
mod timelines;
mod v1_poller;

use std::time::Duration;

use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::Timestamp;
use k8s_openapi::api::batch::v1::{
    CronJob, CronJobSpec, CronJobStatus, Job, JobSpec, JobTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::job_state::Finished;
use super::{CronJobController, CronJobControllerConfig};
use crate::gc::harness::{Harness, JobRunner};

pub(crate) const NAMESPACE: &str = "default";

/// 2026-01-01T00:00:00Z: slots of a minutely schedule fall on whole minutes after it.
pub(crate) fn t0() -> Timestamp {
    corral_core::clock::epoch()
}

pub(crate) fn at(seconds: f64) -> Timestamp {
    corral_core::clock::add(t0(), Duration::from_secs_f64(seconds))
}

pub(crate) fn minutes(m: f64) -> Duration {
    Duration::from_secs_f64(m * 60.0)
}

/// A CronJob as the API server stores it after defaulting (history limits 3 and 1).
pub(crate) fn cron_job(name: &str, schedule: &str) -> CronJob {
    CronJob {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NAMESPACE.into()),
            ..Default::default()
        },
        spec: CronJobSpec {
            schedule: schedule.into(),
            concurrency_policy: Some("Allow".into()),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(1),
            suspend: Some(false),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some([("app".to_string(), name.to_string())].into()),
                    ..Default::default()
                }),
                spec: Some(JobSpec::default()),
            },
            ..Default::default()
        },
        status: None,
    }
}

pub(crate) fn with_policy(mut cj: CronJob, policy: &str) -> CronJob {
    cj.spec.concurrency_policy = Some(policy.into());
    cj
}

pub(crate) fn cron_job_key(name: &str) -> ObjectKey {
    ObjectKey::new(ResourceKind::CronJob, NAMESPACE, name)
}

/// A harness with the v2 controller and a Job runner.
pub(crate) fn harness(run_for: Duration, outcome: Finished) -> Harness {
    let mut harness = Harness::new(t0());
    harness.add(CronJobController::new(CronJobControllerConfig::default()));
    harness.job_runner = Some(JobRunner {
        run_for,
        outcome,
        create_pods: false,
    });
    harness
}

/// Creates the CronJob at the harness's current time.
pub(crate) fn create(harness: &mut Harness, cj: CronJob) -> ObjectKey {
    harness.put(KubeObject::CronJob(cj))
}

pub(crate) fn stored_cron_job(harness: &Harness, name: &str) -> CronJob {
    harness
        .get(&cron_job_key(name))
        .and_then(|o| o.as_typed::<CronJob>())
        .cloned()
        .expect("the CronJob exists")
}

pub(crate) fn status(harness: &Harness, name: &str) -> CronJobStatus {
    stored_cron_job(harness, name).status.unwrap_or_default()
}

pub(crate) fn active_names(harness: &Harness, name: &str) -> Vec<String> {
    status(harness, name)
        .active
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r.name.clone())
        .collect()
}

pub(crate) fn jobs(harness: &Harness) -> Vec<Job> {
    harness
        .objects(ResourceKind::Job)
        .into_iter()
        .filter_map(|o| o.as_typed::<Job>())
        .cloned()
        .collect()
}

pub(crate) fn job_names(harness: &Harness) -> Vec<String> {
    jobs(harness)
        .into_iter()
        .filter_map(|j| j.metadata.name)
        .collect()
}

pub(crate) fn unfinished_job_names(harness: &Harness) -> Vec<String> {
    jobs(harness)
        .into_iter()
        .filter(|j| !super::job_state::is_job_finished(j))
        .filter_map(|j| j.metadata.name)
        .collect()
}

/// The name the controller gives the Job of a slot.
pub(crate) fn slot_job_name(cron_job: &str, slot: Timestamp) -> String {
    format!("{cron_job}-{}", slot.as_second() / 60)
}

/// Names of all Jobs the controller created, in creation order.
pub(crate) fn created_job_names(harness: &Harness) -> Vec<String> {
    harness
        .successful_writes("cronjob")
        .into_iter()
        .filter_map(|w| match &w.action {
            corral_core::Action::Create { object } => Some(object.name().to_string()),
            _ => None,
        })
        .collect()
}

/// Creation times (seconds after t0) of the Jobs the controller created.
pub(crate) fn created_at_seconds(harness: &Harness) -> Vec<f64> {
    harness
        .successful_writes("cronjob")
        .into_iter()
        .filter(|w| matches!(w.action, corral_core::Action::Create { .. }))
        .map(|w| corral_core::clock::since(w.at, t0()).as_secs_f64())
        .collect()
}

pub(crate) fn time(t: Timestamp) -> Option<Time> {
    Some(Time(t))
}
