//! Job lifecycle: completion, work queues, suspend and resume, pod replacement policy,
//! which pods a sync reads, conflicts, and Jobs the controller must leave alone.

use super::harness::*;

fn status_writes(h: &Harness) -> usize {
    h.plans
        .iter()
        .flat_map(|(_, p)| p.actions())
        .filter(|a| matches!(a, corral_core::Action::Update { .. }))
        .count()
}

#[test]
fn suspend_deletes_pods_and_resume_resets_start_time() {
    let mut h = Harness::new(Box::new(|_, _| Behaviour::Run));
    h.submit(job_with("sus", |s| {
        s.parallelism = Some(3);
        s.completions = Some(3);
        s.active_deadline_seconds = Some(600);
    }));
    h.advance(secs(50));
    assert_eq!(h.status("sus").active, Some(3));
    let first_start = h.status("sus").start_time.unwrap().0;

    h.edit_job("sus", |s| s.suspend = Some(true));
    h.advance(secs(10));
    let status = h.status("sus");
    assert!(h.pods().is_empty(), "suspended: all pods deleted");
    assert_eq!(status.active, None);
    assert_eq!(
        status.failed, None,
        "pods deleted by suspension are not failures"
    );
    let suspended = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Suspended")
        .unwrap();
    assert_eq!(
        (suspended.status.as_str(), suspended.reason.as_deref()),
        ("True", Some("JobSuspended"))
    );
    assert_eq!(h.events("Suspended")[0].message, "Job suspended");
    assert_eq!(h.events("SuccessfulDelete").len(), 3);

    // Suspended time does not count: the Job stays unfinished past its first start + 600 s.
    h.advance(secs(500));
    assert!(h.finished_condition("sus").is_none());
    h.edit_job("sus", |s| s.suspend = Some(false));
    let resumed_at = h.now;
    h.advance(secs(10));
    let status = h.status("sus");
    assert_eq!(status.active, Some(3), "{}", h.trace());
    assert_eq!(
        status.start_time.unwrap().0,
        resumed_at,
        "startTime reset on resume"
    );
    assert_ne!(resumed_at, first_start);
    let suspended = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Suspended")
        .unwrap();
    assert_eq!(
        (suspended.status.as_str(), suspended.reason.as_deref()),
        ("False", Some("JobResumed"))
    );
    assert_eq!(h.events("Resumed")[0].message, "Job resumed");
    // The deadline now counts from the resume.
    h.run_until_finished("sus", secs(3600));
    let target = h
        .status("sus")
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "FailureTarget")
        .unwrap();
    assert_eq!(target.reason.as_deref(), Some("DeadlineExceeded"));
    assert_eq!(
        target.last_transition_time.unwrap().0,
        corral_core::clock::add(resumed_at, secs(600))
    );
}

#[test]
fn resuming_after_a_suspension_longer_than_the_deadline_fails_at_once() {
    // Upstream 1.31–1.34 checks the deadline against the old startTime before the resume
    // resets it (later releases clear startTime on suspend). Faithful, and pinned here.
    let mut h = Harness::new(Box::new(|_, _| Behaviour::Run));
    h.submit(job_with("late", |s| s.active_deadline_seconds = Some(100)));
    h.advance(secs(10));
    h.edit_job("late", |s| s.suspend = Some(true));
    h.advance(secs(200));
    assert!(
        h.finished_condition("late").is_none(),
        "no deadline while suspended"
    );
    h.edit_job("late", |s| s.suspend = Some(false));
    h.run_until_finished("late", secs(3600));
    assert_eq!(
        h.finished_condition("late"),
        Some(("Failed".into(), "DeadlineExceeded".into()))
    );
    assert_eq!(h.created.len(), 1, "no pod was started on resume");
}

#[test]
fn a_job_created_suspended_has_no_start_time_until_resumed() {
    let mut h = Harness::new(all_exit(5, 0));
    h.submit(job_with("later", |s| s.suspend = Some(true)));
    h.advance(secs(30));
    assert!(h.created.is_empty());
    assert!(h.status("later").start_time.is_none());
    assert_eq!(h.condition_types("later"), vec!["Suspended"]);
    h.edit_job("later", |s| s.suspend = Some(false));
    h.run_until_finished("later", secs(600));
    assert_eq!(
        h.finished_condition("later"),
        Some(("Complete".into(), "CompletionsReached".into()))
    );
}

#[test]
fn completions_five_parallelism_two_never_runs_more_than_two() {
    let mut h = Harness::new(all_exit(30, 0));
    h.submit(job_with("batch", |s| {
        s.parallelism = Some(2);
        s.completions = Some(5);
    }));
    h.run_until_finished("batch", secs(3600));
    assert_eq!(
        h.finished_condition("batch"),
        Some(("Complete".into(), "CompletionsReached".into()))
    );
    assert_eq!(h.max_active.get("batch"), Some(&2));
    assert_eq!(h.created.len(), 5);
    let status = h.status("batch");
    assert_eq!(
        (status.succeeded, status.failed, status.active),
        (Some(5), None, None)
    );
    assert!(status.completion_time.is_some());
    assert!(h.events("TooManySucceededPods").is_empty());
}

#[test]
fn a_single_pod_job_completes_with_upstream_conditions_events_and_few_writes() {
    let mut h = Harness::new(all_exit(10, 0));
    h.submit(job("ok"));
    h.run_until_finished("ok", secs(600));
    let status = h.status("ok");
    let conditions = status.conditions.clone().unwrap();
    let types: Vec<&str> = conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(types, vec!["SuccessCriteriaMet", "Complete"]);
    for c in &conditions {
        assert_eq!(c.reason.as_deref(), Some("CompletionsReached"));
        assert_eq!(
            c.message.as_deref(),
            Some(crate::job::status::MESSAGE_COMPLETIONS_REACHED)
        );
    }
    assert_eq!(status.completion_time, conditions[1].last_transition_time);
    assert_eq!(status.succeeded, Some(1));
    assert_eq!(status.ready, Some(0));
    assert_eq!(status.terminating, Some(0));
    assert_eq!(h.events("Completed")[0].message, "Job completed");
    assert_eq!(h.events("SuccessfulCreate").len(), 1);
    // start (active 1) + ready + uncounted/SuccessCriteriaMet + counted/Complete.
    assert_eq!(status_writes(&h), 4);

    // A finished Job is left alone: further syncs write nothing.
    let writes = h.plans.len();
    h.edit_job("ok", |s| s.backoff_limit = Some(10));
    h.advance(secs(60));
    assert_eq!(h.plans.len(), writes);
}

#[test]
fn work_queue_job_starts_no_pod_after_the_first_success_and_completes_when_all_exit() {
    let script: Script = Box::new(|ordinal, _| Behaviour::Exit {
        run: secs(10 + 10 * ordinal as u64),
        exit_code: if ordinal == 2 { 1 } else { 0 },
    });
    let mut h = Harness::new(script);
    h.submit(job_with("queue", |s| {
        s.parallelism = Some(3);
        s.completions = None;
    }));
    h.run_until_finished("queue", secs(600));
    assert_eq!(h.created.len(), 3, "no replacement once a pod succeeded");
    assert_eq!(
        h.finished_condition("queue"),
        Some(("Complete".into(), "CompletionsReached".into()))
    );
    let status = h.status("queue");
    assert_eq!(
        (status.succeeded, status.failed),
        (Some(2), Some(1)),
        "later failures are tolerated"
    );
}

#[test]
fn pod_replacement_policy_failed_waits_for_terminating_pods() {
    for (policy, replaced_after) in [("Failed", 30 + 10), ("TerminatingOrFailed", 10)] {
        let mut h = Harness::new(Box::new(|_, _| Behaviour::Run));
        h.termination_grace = secs(30);
        h.submit(job_with("rp", |s| {
            s.pod_replacement_policy = Some(policy.into())
        }));
        h.advance(secs(20));
        let first = h.created[0].0.clone();
        let deleted_at = h.elapsed();
        h.delete_pod(&first);
        h.advance(secs(5));
        let status = h.status("rp");
        if policy == "Failed" {
            assert_eq!(
                status.terminating,
                Some(1),
                "{policy}: the pod is terminating"
            );
            assert_eq!(
                h.created.len(),
                1,
                "{policy}: no replacement while terminating"
            );
        }
        h.advance(secs(60));
        assert_eq!(h.created.len(), 2, "{policy}");
        let replaced = h.secs(h.created[1].1) - deleted_at;
        assert_eq!(
            replaced, replaced_after,
            "{policy}: replacement after {replaced} s"
        );
        assert_eq!(
            h.status("rp").failed,
            Some(1),
            "{policy}: the deleted pod counts as failed"
        );
    }
}

#[test]
fn a_sync_reads_only_the_pods_the_job_controls() {
    let mut h = Harness::new(Box::new(|_, _| Behaviour::Run));
    // Pods of another Job carrying this Job's labels, and an orphan with them.
    let mine = job("mine");
    let labels = mine
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone();
    for (name, owner) in [("stranger", Some("uid-job-other")), ("orphan", None)] {
        let pod = k8s_openapi::api::core::v1::Pod {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(name.into()),
                namespace: Some(NS.into()),
                labels: labels.clone(),
                owner_references: owner.map(|uid| {
                    vec![
                        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                            api_version: "batch/v1".into(),
                            kind: "Job".into(),
                            name: "other".into(),
                            uid: uid.into(),
                            controller: Some(true),
                            block_owner_deletion: Some(true),
                        },
                    ]
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let event = h.cluster.put(pod.into(), h.now);
        h.undelivered.push_back(event);
    }
    h.deliver();
    h.submit(mine);
    h.advance(secs(5));
    assert_eq!(h.status("mine").active, Some(1), "only its own pod counts");
    let names: Vec<String> = h
        .pods()
        .iter()
        .map(|p| crate::job::pods::name(p).to_string())
        .collect();
    assert!(names.contains(&"orphan".to_string()) && names.contains(&"stranger".to_string()));
    let orphan = h
        .pods()
        .into_iter()
        .find(|p| crate::job::pods::name(p) == "orphan")
        .unwrap();
    assert!(
        orphan.metadata.owner_references.is_none(),
        "orphans are not adopted"
    );
}

#[test]
fn deleting_a_job_releases_the_finalizers_of_its_pods() {
    let mut h = Harness::new(Box::new(|_, _| Behaviour::Run));
    h.submit(job_with("gone", |s| {
        s.parallelism = Some(2);
        s.completions = Some(2);
    }));
    h.advance(secs(5));
    assert_eq!(h.pods().len(), 2);
    let event = h.cluster.remove(&job_key("gone")).unwrap();
    h.undelivered.push_back(event);
    h.advance(secs(5));
    assert!(
        h.pods()
            .iter()
            .all(|p| !crate::job::pods::has_tracking_finalizer(p))
    );
    assert_eq!(
        h.controller.tracked_jobs(),
        0,
        "nothing remembered about a deleted Job"
    );
}

#[test]
fn a_status_conflict_is_retried_with_the_fresh_object() {
    let mut h = Harness::new(all_exit(10, 0));
    h.submit(job("race"));
    h.advance(secs(2));
    // Someone else writes the Job; the informer will see it only later.
    let mut job = h.job("race");
    job.metadata.annotations = Some([("touched".to_string(), "yes".to_string())].into());
    let late = h.cluster.put(job.into(), h.now);
    h.advance(secs(15)); // The pod succeeds: the status write conflicts.
    assert!(
        h.retries("race") > 0,
        "conflict → rate-limited retry\n{}",
        h.trace()
    );
    assert!(h.finished_condition("race").is_none());
    h.undelivered.push_back(late);
    h.run_until_finished("race", secs(600));
    assert_eq!(
        h.finished_condition("race"),
        Some(("Complete".into(), "CompletionsReached".into()))
    );
    assert_eq!(h.status("race").succeeded, Some(1));
    assert_eq!(
        h.job("race")
            .metadata
            .annotations
            .unwrap()
            .get("touched")
            .map(String::as_str),
        Some("yes")
    );
}

#[test]
fn a_job_managed_by_another_controller_is_skipped() {
    let mut h = Harness::new(all_exit(5, 0));
    h.submit(job_with("ext", |s| {
        s.managed_by = Some("example.com/other".into())
    }));
    h.advance(secs(30));
    assert!(h.created.is_empty());
    assert!(h.job("ext").status.is_none());
}

#[test]
fn unknown_completion_mode_and_invalid_specs_get_a_warning_and_no_action() {
    let mut h = Harness::new(all_exit(5, 0));
    h.submit(job_with("odd", |s| {
        s.completion_mode = Some("Sideways".into())
    }));
    h.submit(job_with("notemplate", |s| s.template.spec = None));
    h.submit(job_with("mismatch", |s| {
        s.selector.as_mut().unwrap().match_labels =
            Some([("app".to_string(), "x".to_string())].into());
    }));
    h.submit(job_with("badselector", |s| {
        s.selector.as_mut().unwrap().match_expressions = Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                key: "app".into(),
                operator: "Near".into(),
                values: None,
            },
        ]);
    }));
    h.submit(job_with("nocompletions", |s| {
        s.completion_mode = Some("Indexed".into());
        s.completions = None;
    }));
    h.advance(secs(10));
    assert!(h.created.is_empty());
    let unknown = h.events("UnknownCompletionMode");
    assert_eq!(
        unknown[0].message,
        "Skipped Job sync because completion mode is unknown"
    );
    let invalid: Vec<String> = h
        .events("InvalidJobSpec")
        .iter()
        .map(|e| e.involved.name.clone().unwrap())
        .collect();
    for name in ["notemplate", "mismatch", "badselector", "nocompletions"] {
        assert!(invalid.contains(&name.to_string()), "{name}: {invalid:?}");
    }
}

#[test]
fn changing_the_active_deadline_schedules_a_sync_at_the_new_deadline() {
    let mut h = Harness::new(Box::new(|_, _| Behaviour::Run));
    h.submit(job("ads"));
    h.advance(secs(100));
    h.edit_job("ads", |s| s.active_deadline_seconds = Some(130));
    assert!(h.queue.next_wakeup().is_some());
    h.run_until_finished("ads", secs(1000));
    assert_eq!(
        h.finished_condition("ads"),
        Some(("Failed".into(), "DeadlineExceeded".into()))
    );
    let target = h
        .status("ads")
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "FailureTarget")
        .unwrap();
    assert_eq!(h.secs(target.last_transition_time.unwrap().0), 130);
}

#[test]
fn at_most_five_hundred_pods_are_created_or_uncounted_per_sync() {
    let mut h = Harness::new(all_exit(10, 0));
    h.submit(job_with("big", |s| {
        s.parallelism = Some(600);
        s.completions = Some(600);
    }));
    h.run_until_finished("big", secs(3600));
    assert_eq!(
        h.finished_condition("big"),
        Some(("Complete".into(), "CompletionsReached".into()))
    );
    assert_eq!(h.status("big").succeeded, Some(600));
    let creates_per_plan: Vec<usize> = h
        .plans
        .iter()
        .map(|(_, p)| {
            p.actions()
                .filter(|a| matches!(a, corral_core::Action::Create { .. }))
                .count()
        })
        .filter(|n| *n > 0)
        .collect();
    assert_eq!(creates_per_plan, vec![500, 100]);
    let most_uncounted = h
        .plans
        .iter()
        .flat_map(|(_, p)| p.actions())
        .filter_map(|a| match a {
            corral_core::Action::Update { object, .. } => object
                .as_typed::<k8s_openapi::api::batch::v1::Job>()
                .cloned(),
            _ => None,
        })
        .map(|j| {
            let u = j
                .status
                .and_then(|s| s.uncounted_terminated_pods)
                .unwrap_or_default();
            u.succeeded.map_or(0, |l| l.len()) + u.failed.map_or(0, |l| l.len())
        })
        .max()
        .unwrap();
    assert_eq!(most_uncounted, 500, "MaxUncountedPods");
}

#[test]
fn an_orphan_pod_loses_its_tracking_finalizer() {
    let mut h = Harness::new(Box::new(|_, _| Behaviour::Run));
    let pod = k8s_openapi::api::core::v1::Pod {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some("stray".into()),
            namespace: Some(NS.into()),
            finalizers: Some(vec![
                "batch.kubernetes.io/job-tracking".into(),
                "example.com/keep".into(),
            ]),
            ..Default::default()
        },
        ..Default::default()
    };
    let event = h.cluster.put(pod.into(), h.now);
    h.undelivered.push_back(event);
    h.advance(secs(1));
    let stray = h
        .pods()
        .into_iter()
        .find(|p| crate::job::pods::name(p) == "stray")
        .unwrap();
    assert_eq!(
        stray.metadata.finalizers,
        Some(vec!["example.com/keep".to_string()])
    );
}
