//! Goal: the checkers catch a broken core and name the command that reproduces the run.
//! Method: add a test-only reconciler that creates two pods for every Job (a Job
//! controller that forgot its expectations) next to the real cores; the parallelism
//! invariant must stop the run.

use std::time::Duration;

use super::common::{load, minutes};
use corral_api::{KubeObject, ObjectKey, ResourceKind};
use corral_core::{
    Action, Enqueue, ObjectCache, ObjectEvent, Outcome, Plan, QueueConfig, RateLimiter, Reconciler,
    SyncResult, Timestamp,
};
use corral_sim::{SimOptions, Simulation};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// Creates two extra pods for each Job it sees.
struct OverCreator;

impl Reconciler for OverCreator {
    fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            name: "over-creator",
            workers: 1,
            rate_limiter: RateLimiter::item_exponential(
                Duration::from_secs(1),
                Duration::from_secs(60),
            ),
        }
    }

    fn watched_kinds(&self) -> &'static [ResourceKind] {
        &[ResourceKind::Job]
    }

    fn handle_event(
        &mut self,
        event: &ObjectEvent,
        _: Option<&KubeObject>,
        _: &ObjectCache,
        _: Timestamp,
    ) -> Vec<Enqueue> {
        if event.change == corral_core::ChangeKind::Added {
            vec![Enqueue::now(event.object.key())]
        } else {
            Vec::new()
        }
    }

    fn reconcile(&mut self, cache: &ObjectCache, key: &ObjectKey, _: Timestamp) -> Plan {
        let Some(job) = cache.get(key).and_then(|o| o.as_typed::<Job>().cloned()) else {
            return Plan::empty();
        };
        let owner = OwnerReference {
            api_version: "batch/v1".into(),
            kind: "Job".into(),
            name: key.name.clone(),
            uid: job.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        let pod = |i: usize| -> KubeObject {
            Pod {
                metadata: ObjectMeta {
                    name: Some(format!("{}-extra-{i}", key.name)),
                    namespace: Some(key.namespace.clone()),
                    owner_references: Some(vec![owner.clone()]),
                    ..Default::default()
                },
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![Container {
                        name: "c".into(),
                        image: Some("example.com/report:1.0".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                status: None,
            }
            .into()
        };
        let mut plan = Plan::empty();
        plan.then(vec![
            Action::Create { object: pod(0) },
            Action::Create { object: pod(1) },
        ]);
        plan
    }

    fn handle_outcomes(
        &mut self,
        _: &ObjectKey,
        _: &Plan,
        _: &[Outcome],
        _: Timestamp,
    ) -> SyncResult {
        SyncResult::Done {
            requeue_after: None,
        }
    }
}

#[test]
fn a_core_that_over_creates_pods_is_caught_with_a_repro_command() {
    let mut simulation = Simulation::new(
        load("quickstart.yaml"),
        SimOptions {
            seed: Some(5),
            until: Some(minutes(10)),
            ..Default::default()
        },
    );
    simulation.add_controller("over-creator", Box::new(OverCreator), None);
    let report = simulation.run();
    let violation = report
        .violations
        .iter()
        .find(|v| v.invariant == "job-parallelism")
        .expect("the parallelism checker fires");
    assert!(violation.fatal);
    assert!(
        violation.message.contains("active pods"),
        "{}",
        violation.message
    );
    assert!(
        report.stopped_at.is_some(),
        "a fatal violation stops the run"
    );
    assert!(!report.passed());
    let repro = report.repro_command();
    assert!(
        repro.contains("--seed 5")
            && repro.contains("quickstart.yaml")
            && repro.contains("--profile upstream"),
        "{repro}"
    );
    let summary = corral_sim::report::table::render(&report);
    assert!(summary.contains("reproduce with: corral sim"), "{summary}");
}

#[test]
fn healthy_runs_hold_every_invariant() {
    let report = Simulation::new(
        load("quickstart.yaml"),
        SimOptions {
            until: Some(minutes(20)),
            ..Default::default()
        },
    )
    .run();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert!(report.passed());
}
