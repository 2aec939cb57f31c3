//! The failing-Job scenarios of spec §7.2, the §8 backoff numbers, and expectations
//! under a lagging cache.

use corral_api::{ApiError, GroupResource};
use corral_core::SyncResult;

use super::harness::*;

#[test]
fn never_restart_exit_1_creates_seven_pods_with_doubling_delays_then_fails() {
    let mut h = Harness::new(all_exit(5, 1));
    h.submit(job("fail"));
    h.run_until_finished("fail", secs(3600));

    assert_eq!(h.created.len(), 7, "backoffLimit 6 allows 7 pods");
    assert_eq!(h.replacement_delays(), vec![10, 20, 40, 80, 160, 320]);
    let status = h.status("fail");
    assert_eq!(status.failed, Some(7));
    assert_eq!(status.succeeded, None);
    assert_eq!(status.active, None);
    assert_eq!(
        h.finished_condition("fail"),
        Some(("Failed".into(), "BackoffLimitExceeded".into()))
    );
    assert_eq!(h.condition_types("fail"), vec!["FailureTarget", "Failed"]);
    let failed = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Failed")
        .unwrap();
    assert_eq!(
        failed.message.as_deref(),
        Some("Job has reached the specified backoff limit")
    );
    let uncounted = status.uncounted_terminated_pods.unwrap_or_default();
    assert!(uncounted.failed.unwrap_or_default().is_empty());

    let warnings = h.events("BackoffLimitExceeded");
    assert_eq!(warnings.len(), 1);
    assert_eq!(
        warnings[0].message,
        "Job has reached the specified backoff limit"
    );
    assert_eq!(warnings[0].event_type, corral_core::EventType::Warning);
    assert_eq!(warnings[0].component, "job-controller");
    let creates: Vec<String> = h
        .events("SuccessfulCreate")
        .iter()
        .map(|e| e.message.clone())
        .collect();
    let expected: Vec<String> = h
        .created
        .iter()
        .map(|(name, _)| format!("Created pod: {name}"))
        .collect();
    assert_eq!(creates, expected);
    assert!(
        h.pods()
            .iter()
            .all(|p| !crate::job::pods::has_tracking_finalizer(p)),
        "every pod counted and released"
    );
    // Last pod created at 5+10+5+20+…+320 + its run, failure recorded a few syncs later.
    assert!(h.elapsed() < 700, "finished after {} s", h.elapsed());
}

#[test]
fn on_failure_fails_once_restarts_sum_to_the_backoff_limit_and_counts_one_failure() {
    let mut h = Harness::new(Box::new(|_, _| Behaviour::CrashLoop { run: secs(5) }));
    h.submit(job_with("crash", |s| {
        s.template.spec.as_mut().unwrap().restart_policy = Some("OnFailure".into());
    }));
    h.run_until_finished("crash", secs(3600));

    assert_eq!(h.created.len(), 1, "restarts happen in place");
    assert_eq!(
        h.finished_condition("crash"),
        Some(("Failed".into(), "BackoffLimitExceeded".into()))
    );
    assert_eq!(
        h.status("crash").failed,
        Some(1),
        "the deleted pod is counted once"
    );
    // Restarts at 5, 15, 35, 75, 155, 315 s: the sixth one fails the Job.
    let finished = h.elapsed();
    assert!((315..=320).contains(&finished), "failed at {finished} s");
    assert_eq!(h.events("SuccessfulDelete").len(), 1);
}

#[test]
fn on_failure_with_backoff_limit_zero_fails_at_the_first_restart() {
    let mut h = Harness::new(Box::new(|_, _| Behaviour::CrashLoop { run: secs(5) }));
    h.submit(job_with("crash0", |s| {
        s.backoff_limit = Some(0);
        s.template.spec.as_mut().unwrap().restart_policy = Some("OnFailure".into());
    }));
    h.run_until_finished("crash0", secs(3600));
    assert_eq!(
        h.finished_condition("crash0"),
        Some(("Failed".into(), "BackoffLimitExceeded".into()))
    );
    assert!(h.elapsed() <= 8, "failed at {} s", h.elapsed());
    assert_eq!(h.status("crash0").failed, Some(1));
}

#[test]
fn active_deadline_fails_the_job_and_deletes_its_active_pods() {
    let mut h = Harness::new(Box::new(|_, _| Behaviour::Run));
    h.termination_grace = secs(30);
    h.submit(job_with("slow", |s| {
        s.active_deadline_seconds = Some(100);
        s.parallelism = Some(2);
        s.completions = Some(2);
    }));
    h.run_until(secs(99), |_| false);
    assert!(h.finished_condition("slow").is_none());
    assert!(
        !h.condition_types("slow")
            .contains(&"FailureTarget".to_string())
    );

    h.run_until_finished("slow", secs(1000));
    assert_eq!(
        h.finished_condition("slow"),
        Some(("Failed".into(), "DeadlineExceeded".into()))
    );
    let failure_target = h
        .status("slow")
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "FailureTarget")
        .unwrap();
    assert_eq!(
        h.secs(failure_target.last_transition_time.unwrap().0),
        100,
        "exactly at startTime + deadline"
    );
    assert_eq!(h.events("SuccessfulDelete").len(), 2);
    assert_eq!(
        h.events("DeadlineExceeded")[0].message,
        "Job was active longer than specified deadline"
    );
    assert_eq!(
        h.status("slow").failed,
        Some(2),
        "deleted active pods count as failed"
    );
    assert!(h.pods().is_empty(), "the terminated pods were released");
}

#[test]
fn failed_creates_are_retried_forever_without_counting_a_pod() {
    let mut h = Harness::new(all_exit(5, 0));
    let forbidden = ApiError::forbidden(
        &GroupResource::new("", "pods"),
        "",
        "error looking up service account ns/missing: serviceaccount \"missing\" not found",
    );
    h.cluster
        .fail_creates
        .push(("nosa-".into(), forbidden.clone()));
    h.submit(job("nosa"));
    h.run_until(secs(1800), |_| false);

    assert!(h.pods().is_empty(), "no pod ever exists");
    let status = h.status("nosa");
    assert_eq!(
        (status.active, status.failed, status.succeeded),
        (None, None, None)
    );
    assert_eq!(
        h.secs(status.start_time.unwrap().0),
        1,
        "recorded by the first retry"
    );
    assert!(h.finished_condition("nosa").is_none());
    let failed = h.events("FailedCreate");
    assert!(!failed.is_empty());
    assert_eq!(
        failed[0].message,
        format!("Error creating: {}", forbidden.message)
    );
    assert_eq!(failed[0].event_type, corral_core::EventType::Warning);
    // Retries back off 1, 2, 4, … 60 s: about 35 in half an hour.
    let retries: Vec<u64> = h
        .syncs
        .iter()
        .filter(|(_, k, r)| k.name == "nosa" && matches!(r, SyncResult::Retry { .. }))
        .map(|(t, _, _)| h.secs(*t))
        .collect();
    // The first retry writes the status (startTime), whose watch event brings one extra
    // sync a second later; then the rate limiter's doubling takes over.
    assert_eq!(&retries[..8], &[0, 1, 2, 6, 14, 30, 62, 122]);
    let gaps: Vec<u64> = retries.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| *g <= 60), "{gaps:?}");
    assert!(
        (30..=40).contains(&retries.len()),
        "{} retries",
        retries.len()
    );
    assert!(h.controller.expectations_satisfied(&job_key("nosa"), h.now));
}

#[test]
fn failed_creates_end_only_through_the_active_deadline() {
    let mut h = Harness::new(all_exit(5, 0));
    h.cluster.fail_creates.push((
        "dead-".into(),
        ApiError::forbidden(&GroupResource::new("", "pods"), "", "quota"),
    ));
    h.submit(job_with("dead", |s| s.active_deadline_seconds = Some(120)));
    h.run_until_finished("dead", secs(600));
    assert_eq!(
        h.finished_condition("dead"),
        Some(("Failed".into(), "DeadlineExceeded".into()))
    );
    assert!(
        (121..=125).contains(&h.elapsed()),
        "failed at {}",
        h.elapsed()
    );
    assert_eq!(h.status("dead").failed, None);
}

#[test]
fn expectations_prevent_double_creation_while_the_cache_lags() {
    let mut h = Harness::new(Box::new(|_, _| Behaviour::Run));
    h.submit(job_with("lag", |s| {
        s.parallelism = Some(2);
        s.completions = Some(2);
    }));
    h.hold_events = true;
    h.sync_ready();
    assert_eq!(
        h.cluster
            .cache
            .list_typed::<k8s_openapi::api::core::v1::Pod>()
            .count(),
        2
    );

    // The informer has not seen the pods; every sync meanwhile must hold back.
    for _ in 0..5 {
        h.now = corral_core::clock::add(h.now, secs(30));
        h.queue.add(job_key("lag"));
        h.sync_ready();
    }
    assert_eq!(
        h.cluster
            .cache
            .list_typed::<k8s_openapi::api::core::v1::Pod>()
            .count(),
        2,
        "no double creation"
    );

    // Once the events arrive the Job proceeds normally.
    h.hold_events = false;
    h.deliver();
    h.advance(secs(5));
    assert_eq!(h.status("lag").active, Some(2));
    assert_eq!(h.created.len(), 2);
}

#[test]
fn expectations_expire_after_five_minutes_when_events_are_lost() {
    let mut h = Harness::new(Box::new(|_, _| Behaviour::Run));
    h.submit(job("lost"));
    h.hold_events = true;
    h.sync_ready();
    // The watch dropped the pod's Added event.
    h.undelivered
        .retain(|e| e.object.kind() != corral_api::ResourceKind::Pod);
    h.hold_events = false;
    h.deliver();
    let pods = |h: &Harness| {
        h.cluster
            .cache
            .list_typed::<k8s_openapi::api::core::v1::Pod>()
            .count()
    };

    // Some other event syncs the Job at exactly 5 min: still waiting, but a timer is set.
    h.now = corral_core::clock::add(h.start, secs(300));
    h.queue.add(job_key("lost"));
    h.sync_ready();
    assert_eq!(pods(&h), 1, "not expired at exactly the timeout");
    h.run_until(secs(3600), |h| pods(h) == 2);
    assert_eq!(pods(&h), 2, "expired: the unseen pod is replaced");
    assert_eq!(
        h.elapsed(),
        300,
        "by the controller's own timer, just past the timeout"
    );
}

#[test]
fn an_update_for_a_pod_the_informer_missed_counts_as_its_creation() {
    let mut h = Harness::new(Box::new(|_, _| Behaviour::Run));
    h.submit(job("missed"));
    h.hold_events = true;
    h.sync_ready();
    let added: Vec<_> = h
        .undelivered
        .drain(..)
        .filter(|e| e.object.kind() != corral_api::ResourceKind::Pod)
        .collect();
    h.undelivered.extend(added);
    h.hold_events = false;
    h.deliver();
    assert!(
        !h.controller
            .expectations_satisfied(&job_key("missed"), h.now)
    );
    // The kubelet's first status write reaches the informer as a Modified event with no
    // cached previous state: client-go hands that to the add handler.
    let pod = h
        .cluster
        .cache
        .list_typed::<k8s_openapi::api::core::v1::Pod>()
        .next()
        .cloned()
        .unwrap();
    let event = h.cluster.put(pod.into(), h.now);
    h.undelivered.push_back(event);
    h.deliver();
    assert!(
        h.controller
            .expectations_satisfied(&job_key("missed"), h.now)
    );
}

#[test]
fn pod_failure_backoff_is_capped_at_ten_minutes() {
    let mut h = Harness::new(all_exit(5, 1));
    h.submit(job_with("many", |s| s.backoff_limit = Some(9)));
    h.run_until_finished("many", secs(4 * 3600));
    assert_eq!(h.created.len(), 10);
    assert_eq!(
        h.replacement_delays(),
        vec![10, 20, 40, 80, 160, 320, 600, 600, 600]
    );
}
