//! Indexed Jobs: pod identity, completed/failed index strings, per-index backoff limits.

use k8s_openapi::api::core::v1::Pod;

use super::harness::*;
use crate::job::indexed::{
    COMPLETION_INDEX_ANNOTATION, INDEX_FAILURE_COUNT_ANNOTATION, completion_index,
};

fn indexed(name: &str, completions: i32, parallelism: i32) -> k8s_openapi::api::batch::v1::Job {
    job_with(name, |s| {
        s.completion_mode = Some("Indexed".into());
        s.completions = Some(completions);
        s.parallelism = Some(parallelism);
    })
}

fn created_pod(h: &Harness, name: &str) -> Pod {
    h.cluster
        .cache
        .get(&corral_api::ObjectKey::new(
            corral_api::ResourceKind::Pod,
            NS,
            name,
        ))
        .and_then(|o| o.as_typed::<Pod>())
        .cloned()
        .expect("pod exists")
}

#[test]
fn indexed_pods_carry_their_index_everywhere_and_complete_all_indexes() {
    let mut h = Harness::new(all_exit(5, 0));
    h.submit(indexed("idx", 3, 3));
    h.run_until_finished("idx", secs(600));
    assert_eq!(
        h.finished_condition("idx"),
        Some(("Complete".into(), "CompletionsReached".into()))
    );
    let status = h.status("idx");
    assert_eq!(status.completed_indexes.as_deref(), Some("0-2"));
    assert_eq!(status.succeeded, Some(3));
    assert_eq!(
        status.failed_indexes, None,
        "no per-index limit: no failedIndexes"
    );

    let mut seen = Vec::new();
    for (name, _) in &h.created {
        let pod = created_pod(&h, name);
        let index = completion_index(&pod).expect("index annotation");
        seen.push(index);
        assert!(name.starts_with(&format!("idx-{index}-")), "{name}");
        let labels = pod.metadata.labels.clone().unwrap();
        assert_eq!(
            labels.get(COMPLETION_INDEX_ANNOTATION),
            Some(&index.to_string())
        );
        assert_eq!(
            labels
                .get("batch.kubernetes.io/job-name")
                .map(String::as_str),
            Some("idx"),
            "template labels kept"
        );
        let spec = pod.spec.clone().unwrap();
        assert_eq!(spec.hostname, Some(format!("idx-{index}")));
        let env = spec.containers[0].env.clone().unwrap();
        let var = env
            .iter()
            .find(|v| v.name == "JOB_COMPLETION_INDEX")
            .unwrap();
        let field = var.value_from.as_ref().unwrap().field_ref.as_ref().unwrap();
        assert_eq!(
            field.field_path,
            "metadata.labels['batch.kubernetes.io/job-completion-index']"
        );
        let owner = &pod.metadata.owner_references.clone().unwrap()[0];
        assert_eq!(
            (
                owner.kind.as_str(),
                owner.api_version.as_str(),
                owner.name.as_str()
            ),
            ("Job", "batch/v1", "idx")
        );
        assert_eq!(
            (owner.controller, owner.block_owner_deletion),
            (Some(true), Some(true))
        );
    }
    seen.sort();
    assert_eq!(seen, vec![0, 1, 2]);
}

#[test]
fn backoff_limit_per_index_fails_only_the_exhausted_index() {
    let script: Script = Box::new(|_, pod| Behaviour::Exit {
        run: secs(5),
        exit_code: if completion_index(pod) == Some(2) {
            1
        } else {
            0
        },
    });
    let mut h = Harness::new(script);
    h.submit(job_with("per", |s| {
        s.completion_mode = Some("Indexed".into());
        s.completions = Some(4);
        s.parallelism = Some(4);
        s.backoff_limit = None;
        s.backoff_limit_per_index = Some(1);
    }));
    h.run_until_finished("per", secs(600));
    assert_eq!(
        h.finished_condition("per"),
        Some(("Failed".into(), "FailedIndexes".into()))
    );
    let status = h.status("per");
    assert_eq!(status.failed_indexes.as_deref(), Some("2"));
    assert_eq!(status.completed_indexes.as_deref(), Some("0,1,3"));
    assert_eq!((status.succeeded, status.failed), (Some(3), Some(2)));
    assert_eq!(h.created.len(), 5, "index 2 ran twice");

    let retry = &h.created[4];
    let pod = created_pod(&h, &retry.0);
    assert_eq!(completion_index(&pod), Some(2));
    let annotations = pod.metadata.annotations.unwrap();
    assert_eq!(
        annotations
            .get(INDEX_FAILURE_COUNT_ANNOTATION)
            .map(String::as_str),
        Some("1")
    );
    let first_failure = h.finished.values().min().copied().unwrap();
    assert_eq!(
        h.secs(retry.1) - h.secs(first_failure),
        10,
        "the index waits its own backoff"
    );
}

#[test]
fn more_failed_indexes_than_allowed_fail_the_job_and_stop_the_rest() {
    let script: Script = Box::new(|_, pod| match completion_index(pod) {
        Some(1) | Some(3) => Behaviour::Exit {
            run: secs(5),
            exit_code: 1,
        },
        _ => Behaviour::Run,
    });
    let mut h = Harness::new(script);
    h.submit(job_with("maxf", |s| {
        s.completion_mode = Some("Indexed".into());
        s.completions = Some(4);
        s.parallelism = Some(4);
        s.backoff_limit = None;
        s.backoff_limit_per_index = Some(0);
        s.max_failed_indexes = Some(1);
    }));
    h.run_until_finished("maxf", secs(600));
    assert_eq!(
        h.finished_condition("maxf"),
        Some(("Failed".into(), "MaxFailedIndexesExceeded".into()))
    );
    let status = h.status("maxf");
    assert_eq!(status.failed_indexes.as_deref(), Some("1,3"));
    assert_eq!(
        status.failed,
        Some(4),
        "two failed, two deleted while running"
    );
    assert_eq!(h.events("SuccessfulDelete").len(), 2);
    assert_eq!(
        h.events("MaxFailedIndexesExceeded")[0].message,
        "Job has exceeded the specified maximal number of failed indexes"
    );
    assert_eq!(h.created.len(), 4, "no index retried");
}
