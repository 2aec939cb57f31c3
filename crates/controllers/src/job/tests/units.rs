//! Single-step checks: queue settings, event handlers, the pods a Job creates, slow-start
//! batches.

use std::sync::Arc;
use std::time::Duration;

use corral_api::{ApiError, GroupResource, KubeObject, ResourceKind, Revision};
use corral_core::{
    Action, ChangeKind, Enqueue, ObjectCache, ObjectEvent, OnFailure, Outcome, Reconciler, clock,
};
use k8s_openapi::api::core::v1::Pod;

use super::harness::*;
use crate::job::{JobController, JobControllerConfig};

fn event(change: ChangeKind, object: KubeObject) -> ObjectEvent {
    ObjectEvent {
        change,
        object: Arc::new(object),
        revision: Revision(1),
    }
}

#[test]
fn defaults_are_upstreams_constants_and_time_scale_shrinks_backoffs_only() {
    let config = JobControllerConfig::default();
    assert_eq!(config.workers, 5);
    assert_eq!(
        (config.api_backoff_base, config.api_backoff_max),
        (secs(1), secs(60))
    );
    assert_eq!(config.sync_batch_period, secs(1));
    assert_eq!(
        (
            config.pod_failure_backoff_base,
            config.pod_failure_backoff_max
        ),
        (secs(10), secs(600))
    );
    assert_eq!(
        (
            config.max_pod_create_delete_per_sync,
            config.max_uncounted_pods
        ),
        (500, 500)
    );
    assert_eq!(config.expectations_timeout, secs(300));
    let fast = config.clone().with_time_scale(0.01);
    assert_eq!(fast.pod_failure_backoff_base, Duration::from_millis(100));
    assert_eq!(fast.pod_failure_backoff_max, secs(6));
    assert_eq!(fast.api_backoff_max, Duration::from_millis(600));
    assert_eq!(fast.sync_batch_period, secs(1));
    assert_eq!(config.clone().with_time_scale(f64::NAN), config);

    let controller = JobController::default();
    let queue = controller.queue_config();
    assert_eq!((queue.name, queue.workers), ("job", 5));
    assert_eq!(
        controller.watched_kinds(),
        &[ResourceKind::Job, ResourceKind::Pod]
    );
}

#[test]
fn job_events_enqueue_now_or_batched_and_a_deadline_change_adds_a_timer() {
    let now = clock::epoch();
    let cache = ObjectCache::new();
    let mut controller = JobController::default();
    let base = job("j");
    let added = controller.handle_event(
        &event(ChangeKind::Added, base.clone().into()),
        None,
        &cache,
        now,
    );
    assert_eq!(added, vec![Enqueue::now(job_key("j"))]);

    let mut status_only = base.clone();
    status_only.status = Some(Default::default());
    let updated = controller.handle_event(
        &event(ChangeKind::Modified, status_only.clone().into()),
        Some(&base.clone().into()),
        &cache,
        now,
    );
    assert_eq!(
        updated,
        vec![Enqueue::after(job_key("j"), secs(1))],
        "status-only: batched"
    );

    let mut spec_change = status_only.clone();
    spec_change.metadata.generation = Some(2);
    spec_change.spec.as_mut().unwrap().active_deadline_seconds = Some(100);
    spec_change.status.as_mut().unwrap().start_time = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(clock::sub(now, secs(30))),
    );
    let previous: KubeObject = status_only.into();
    let updated = controller.handle_event(
        &event(ChangeKind::Modified, spec_change.clone().into()),
        Some(&previous),
        &cache,
        now,
    );
    assert_eq!(
        updated,
        vec![
            Enqueue::now(job_key("j")),
            Enqueue::after(job_key("j"), secs(70))
        ]
    );

    let deleted = controller.handle_event(
        &event(ChangeKind::Deleted, spec_change.into()),
        None,
        &cache,
        now,
    );
    assert_eq!(deleted, vec![Enqueue::now(job_key("j"))]);
}

#[test]
fn pod_events_enqueue_the_owner_after_the_batch_period_and_lower_expectations() {
    let mut h = Harness::new(Box::new(|_, _| Behaviour::Run));
    h.hold_events = true;
    h.submit(job("p"));
    h.hold_events = false;
    h.deliver();
    h.hold_events = true;
    h.sync_ready();
    let k = job_key("p");
    assert!(
        !h.controller.expectations_satisfied(&k, h.now),
        "one create expected"
    );
    let pod_event = h
        .undelivered
        .iter()
        .find(|e| e.object.kind() == ResourceKind::Pod)
        .cloned()
        .unwrap();
    h.informer.apply(&pod_event);
    let enqueue = h
        .controller
        .handle_event(&pod_event, None, &h.informer, h.now);
    assert_eq!(enqueue, vec![Enqueue::after(k.clone(), secs(1))]);
    assert!(
        h.controller.expectations_satisfied(&k, h.now),
        "the pod add lowered it"
    );

    // A resync (same resourceVersion) is not a change.
    let same = event(ChangeKind::Modified, (*pod_event.object).clone());
    assert!(
        h.controller
            .handle_event(&same, Some(&pod_event.object), &h.informer, h.now)
            .is_empty()
    );
}

#[test]
fn created_pods_copy_the_template_and_carry_owner_and_finalizer() {
    let mut h = Harness::new(Box::new(|_, _| Behaviour::Run));
    let mut j = job("tpl");
    let template_meta = j.spec.as_mut().unwrap().template.metadata.as_mut().unwrap();
    template_meta.annotations = Some([("note".to_string(), "x".to_string())].into());
    let template_labels = template_meta.labels.clone();
    h.submit(j);
    h.advance(secs(1));
    let create = h
        .plans
        .iter()
        .flat_map(|(_, p)| p.actions())
        .find_map(|a| match a {
            Action::Create { object } => Some(object.clone()),
            _ => None,
        })
        .unwrap();
    let pod = create.as_typed::<Pod>().unwrap();
    assert_eq!(pod.metadata.generate_name.as_deref(), Some("tpl-"));
    assert_eq!(pod.metadata.name, None);
    assert_eq!(pod.metadata.namespace.as_deref(), Some(NS));
    assert_eq!(pod.metadata.labels, template_labels, "labels verbatim");
    assert_eq!(
        pod.metadata
            .annotations
            .as_ref()
            .unwrap()
            .get("note")
            .map(String::as_str),
        Some("x")
    );
    assert_eq!(
        pod.metadata.finalizers,
        Some(vec!["batch.kubernetes.io/job-tracking".to_string()])
    );
    let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(owner.uid, "uid-job-tpl");
    assert_eq!(
        (owner.controller, owner.block_owner_deletion),
        (Some(true), Some(true))
    );
    assert_eq!(pod.spec.as_ref().unwrap().containers[0].name, "main");
}

#[test]
fn creates_go_in_slow_start_batches_capped_per_sync_and_stop_at_a_failure() {
    let mut h = Harness::new(Box::new(|_, _| Behaviour::Pending));
    h.submit(job_with("wide", |s| {
        s.parallelism = Some(1000);
        s.completions = Some(1000);
    }));
    h.sync_ready();
    let (_, plan) = h
        .plans
        .iter()
        .find(|(_, p)| p.actions().any(|a| matches!(a, Action::Create { .. })))
        .unwrap();
    let sizes: Vec<usize> = plan
        .stages
        .iter()
        .filter(|s| s.actions.iter().all(|a| matches!(a, Action::Create { .. })))
        .map(|s| s.actions.len())
        .collect();
    assert_eq!(
        sizes,
        vec![1, 2, 4, 8, 16, 32, 64, 128, 245],
        "500 per sync, doubling"
    );
    assert!(
        plan.stages
            .iter()
            .all(|s| s.on_failure == OnFailure::SkipRest
                || !s.actions.iter().any(|a| matches!(a, Action::Create { .. })))
    );

    let mut h = Harness::new(Box::new(|_, _| Behaviour::Pending));
    h.cluster.fail_creates.push((
        "quota-".into(),
        ApiError::forbidden(&GroupResource::new("", "pods"), "", "exceeded quota"),
    ));
    h.submit(job_with("quota", |s| {
        s.parallelism = Some(8);
        s.completions = Some(8);
    }));
    h.sync_ready();
    assert_eq!(
        h.events("FailedCreate").len(),
        0,
        "events wait for the next sync"
    );
    h.advance(secs(1));
    assert_eq!(
        h.events("FailedCreate").len(),
        1,
        "the first batch (1 pod) failed, the rest skipped"
    );
    assert!(
        h.controller
            .expectations_satisfied(&job_key("quota"), h.now)
    );
}

#[test]
fn outcomes_of_a_status_conflict_ask_for_a_retry() {
    let mut controller = JobController::default();
    let mut cache = ObjectCache::new();
    let mut j = job("c");
    j.metadata.resource_version = Some("5".into());
    cache.upsert(Arc::new(j.into()));
    let now = clock::epoch();
    let plan = controller.reconcile(&cache, &job_key("c"), now);
    let outcomes: Vec<Outcome> = plan
        .actions()
        .map(|a| match a {
            Action::Update { .. } => Outcome::Failed(ApiError::conflict_modified(
                &GroupResource::new("batch", "jobs"),
                "c",
            )),
            Action::Create { .. } => Outcome::Done(None),
            _ => Outcome::Skipped,
        })
        .collect();
    let result = controller.handle_outcomes(&job_key("c"), &plan, &outcomes, now);
    assert!(
        matches!(result, corral_core::SyncResult::Retry { .. }),
        "{result:?}"
    );
    assert!(
        !controller.expectations_satisfied(&job_key("c"), now),
        "the created pod is still expected"
    );
}
