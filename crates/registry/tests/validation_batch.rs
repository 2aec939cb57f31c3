//! Goal: Job and CronJob creates and updates fail with exactly the causes a real API
//! server returns (field path and message, as kubectl prints them).
//! Method: table-driven; each case merges a patch into a minimal valid manifest, runs
//! the registry facade and compares the full list of causes.

mod support;

use corral_api::ResourceKind;
use corral_core::Subresource;
use serde_json::{Value, json};
use support::{UID, assert_causes, create_errors, created, merge, update_errors, updated};

const DNS_LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS_SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn job(patch: Value) -> Value {
    let base = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default"},
        "spec": {"template": {"spec": {
            "containers": [{"name": "pi", "image": "perl:5.34.0", "command": ["perl", "-e", "1"]}],
            "restartPolicy": "Never"
        }}}
    });
    merge(base, &patch)
}

fn containers(list: Value) -> Value {
    json!({"spec": {"template": {"spec": {"containers": list}}}})
}

fn template_spec(patch: Value) -> Value {
    json!({"spec": {"template": {"spec": patch}}})
}

#[test]
fn a_minimal_job_is_valid() {
    assert_causes(
        "minimal",
        &create_errors(ResourceKind::Job, job(json!({}))),
        &[],
    );
}

#[test]
fn job_create_errors_match_upstream() {
    let restart_required =
        "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"";
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        ("restart policy unset defaults to Always, which jobs reject", template_spec(json!({"restartPolicy": null})), vec![restart_required]),
        ("restart policy Always", template_spec(json!({"restartPolicy": "Always"})), vec![restart_required]),
        ("unknown restart policy fails pod and job checks", template_spec(json!({"restartPolicy": "Sometimes"})), vec![
            "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"OnFailure\", \"Never\"",
        ]),
        ("negative parallelism", json!({"spec": {"parallelism": -1}}), vec!["spec.parallelism: Invalid value: -1: must be greater than or equal to 0"]),
        ("negative counts", json!({"spec": {"completions": -1, "backoffLimit": -2, "activeDeadlineSeconds": -3, "ttlSecondsAfterFinished": -4}}), vec![
            "spec.completions: Invalid value: -1: must be greater than or equal to 0",
            "spec.activeDeadlineSeconds: Invalid value: -3: must be greater than or equal to 0",
            "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0",
            "spec.ttlSecondsAfterFinished: Invalid value: -4: must be greater than or equal to 0",
        ]),
        ("no containers", containers(json!([])), vec!["spec.template.spec.containers: Required value"]),
        ("container without image", containers(json!([{"name": "pi"}])), vec!["spec.template.spec.containers[0].image: Required value"]),
        ("bad container name", containers(json!([{"name": "Pi_1", "image": "perl"}])), vec![
            "spec.template.spec.containers[0].name: Invalid value: \"Pi_1\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        ]),
        ("duplicate container names", containers(json!([{"name": "pi", "image": "a"}, {"name": "pi", "image": "b"}])), vec![
            "spec.template.spec.containers[1].name: Duplicate value: \"pi\"",
        ]),
        ("env var name with '='", containers(json!([{"name": "pi", "image": "a", "env": [{"name": "A=B", "value": "1"}]}])), vec![
            "spec.template.spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
        ]),
        ("mount of a missing volume", containers(json!([{"name": "pi", "image": "a", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}])), vec![
            "spec.template.spec.containers[0].volumeMounts[0].name: Not found: \"data\"",
        ]),
        ("requests above limits", containers(json!([{"name": "pi", "image": "a", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}}])), vec![
            "spec.template.spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
        ]),
        ("pod active deadline zero", template_spec(json!({"activeDeadlineSeconds": 0})), vec![
            "spec.template.spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
        ]),
        ("backoffLimitPerIndex needs Indexed", json!({"spec": {"backoffLimitPerIndex": 1}}), vec![
            "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode",
        ]),
        ("Indexed needs completions", json!({"spec": {"completionMode": "Indexed", "parallelism": 2}}), vec![
            "spec.completions: Required value: when completion mode is Indexed",
        ]),
        ("maxFailedIndexes needs backoffLimitPerIndex", json!({"spec": {"completionMode": "Indexed", "completions": 5, "maxFailedIndexes": 1}}), vec![
            "spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified",
        ]),
        ("maxFailedIndexes above completions", json!({"spec": {"completionMode": "Indexed", "completions": 2, "backoffLimitPerIndex": 1, "maxFailedIndexes": 3}}), vec![
            "spec.maxFailedIndexes: Invalid value: 3: must be less than or equal to completions",
        ]),
        ("unknown completion mode", json!({"spec": {"completionMode": "Weird"}}), vec![
            "spec.completionMode: Unsupported value: \"Weird\": supported values: \"NonIndexed\", \"Indexed\"",
        ]),
        ("unknown pod replacement policy", json!({"spec": {"podReplacementPolicy": "Bogus"}}), vec![
            "spec.podReplacementPolicy: Unsupported value: \"Bogus\": supported values: \"Failed\", \"TerminatingOrFailed\"",
        ]),
        ("pod failure policy needs restartPolicy Never", merge(
            json!({"spec": {"podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}}]}}}),
            &template_spec(json!({"restartPolicy": "OnFailure"}))), vec![
            "spec.template.spec.restartPolicy: Invalid value: \"OnFailure\": only \"Never\" is supported when podFailurePolicy is specified",
        ]),
        ("pod failure policy rule without action", json!({"spec": {"podFailurePolicy": {"rules": [{"onExitCodes": {"operator": "In", "values": [1]}}]}}}), vec![
            "spec.podFailurePolicy.rules[0].action: Required value: valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]",
        ]),
        ("pod failure policy exit code 0 with In, unordered, duplicated", json!({"spec": {"podFailurePolicy": {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3, 0, 3]}}]}}}), vec![
            "spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 0: must not be 0 for the In operator",
            "spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value: 3",
            "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{3, 0, 3}: must be ordered",
        ]),
        ("pod failure policy rule with neither matcher", json!({"spec": {"podFailurePolicy": {"rules": [{"action": "Count"}]}}}), vec![
            "spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
        ]),
        ("FailIndex needs backoffLimitPerIndex", json!({"spec": {"podFailurePolicy": {"rules": [{"action": "FailIndex", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}}), vec![
            "spec.podFailurePolicy.rules[0].action: Invalid value: \"FailIndex\": requires the backoffLimitPerIndex to be set",
        ]),
        ("success policy on a NonIndexed job", json!({"spec": {"successPolicy": {"rules": [{"succeededCount": 1}]}}}), vec![
            "spec.successPolicy: Invalid value: {\"rules\":[{\"succeededCount\":1}]}: requires indexed completion mode",
        ]),
        ("success policy indexes out of range", json!({"spec": {"completionMode": "Indexed", "completions": 3, "successPolicy": {"rules": [{"succeededIndexes": "0-5", "succeededCount": 4}]}}}), vec![
            "spec.successPolicy.rules[0].succeededIndexes: Invalid value: \"0-5\": error parsing succeededIndexes: too large index: \"5\"",
            "spec.successPolicy.rules[0].succeededCount: Invalid value: 4: must be less than or equal to 3 (the number of specified completions)",
            "spec.successPolicy.rules[0].succeededCount: Invalid value: 4: must be less than or equal to 0 (the number of indexes in the specified succeededIndexes field)",
        ]),
        ("Indexed pod hostnames must be labels", json!({"metadata": {"name": "a".repeat(60)}, "spec": {"completionMode": "Indexed", "completions": 1000, "parallelism": 1}}), vec![
            &*Box::leak(format!("metadata.name: Invalid value: \"{0}\": will not able to create pod with invalid DNS label: {0}-999", "a".repeat(60)).into_boxed_str()),
        ]),
        ("bad job name", json!({"metadata": {"name": "My_Job"}}), vec![
            &*Box::leak(format!("metadata.name: Invalid value: \"My_Job\": {DNS_SUBDOMAIN}").into_boxed_str()),
        ]),
        // A nil selector converts to "nothing" upstream, so it also fails to match.
        ("manual selector without selector", json!({"spec": {"manualSelector": true}}), vec![
            "spec.selector: Required value",
            "spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not match template `labels`",
        ]),
        ("manual selector that does not match the template", json!({"spec": {"manualSelector": true, "selector": {"matchLabels": {"app": "x"}}}}), vec![
            "spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not match template `labels`",
        ]),
        ("user label conflicting with the generated one", json!({"spec": {"template": {"metadata": {"labels": {"controller-uid": "other"}}}}}), vec![
            &*Box::leak(format!(
                "spec.template.metadata.labels[controller-uid]: Invalid value: map[string]string{{\"batch.kubernetes.io/controller-uid\":\"{UID}\", \"batch.kubernetes.io/job-name\":\"pi\", \"controller-uid\":\"other\", \"job-name\":\"pi\"}}: must be '{UID}'"
            ).into_boxed_str()),
        ]),
        // SetDefaults_Job copies template labels onto an unlabelled Job, so both fail.
        ("bad template label", json!({"spec": {"template": {"metadata": {"labels": {"a b": "c"}}}}}), vec![
            "metadata.labels: Invalid value: \"a b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            "spec.template.labels: Invalid value: \"a b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ]),
    ];
    for (name, patch, expected) in cases {
        assert_causes(
            name,
            &create_errors(ResourceKind::Job, job(patch)),
            &expected,
        );
    }
    let _ = DNS_LABEL;
}

#[test]
fn job_updates_keep_the_template_selector_and_completions() {
    let base = job(json!({}));
    let stored = created(ResourceKind::Job, base);
    let stored_json = stored.to_value();
    let errors = |patch: Value| {
        let mut new = merge(stored_json.clone(), &patch);
        new["metadata"]["resourceVersion"] = json!("1");
        let old_json = stored_json.clone();
        let mut old = support::object(ResourceKind::Job, old_json);
        old.meta_mut().resource_version = Some("1".into());
        let mut new_object = corral_api::KubeObject::from_value(ResourceKind::Job, new).unwrap();
        match corral_registry::prepare_update(&mut new_object, &old, Subresource::Main) {
            Ok(()) => Vec::new(),
            Err(e) => support::causes(&e),
        }
    };
    assert_causes(
        "parallelism is mutable",
        &errors(json!({"spec": {"parallelism": 3}})),
        &[],
    );
    assert_causes(
        "completions are immutable",
        &errors(json!({"spec": {"completions": 2}})),
        &["spec.completions: Invalid value: 2: field is immutable"],
    );
    assert_causes(
        "completion mode is immutable",
        &errors(json!({"spec": {"completionMode": "Indexed"}})),
        &["spec.completionMode: Invalid value: \"Indexed\": field is immutable"],
    );
    let template = errors(
        json!({"spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.36"}]}}}}),
    );
    assert_eq!(template.len(), 1, "{template:?}");
    assert!(
        template[0].starts_with("spec.template: Invalid value: {"),
        "{}",
        template[0]
    );
    assert!(
        template[0].ends_with("}: field is immutable"),
        "{}",
        template[0]
    );
    let selector = errors(json!({"spec": {"selector": {"matchLabels": {"extra": "x"}}}}));
    assert!(selector.contains(&format!(
        "spec.selector: Invalid value: v1.LabelSelector{{MatchLabels:map[string]string{{\"batch.kubernetes.io/controller-uid\":\"{UID}\", \"extra\":\"x\"}}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}}: field is immutable"
    )), "{selector:?}");
}

#[test]
fn a_suspended_job_that_never_started_may_change_scheduling_directives() {
    let stored = created(ResourceKind::Job, job(json!({"spec": {"suspend": true}})));
    let mut new = merge(
        stored.to_value(),
        &template_spec(
            json!({"nodeSelector": {"disk": "ssd"}, "tolerations": [{"key": "k", "operator": "Exists"}]}),
        ),
    );
    let updated = updated(ResourceKind::Job, &stored, new.take(), Subresource::Main);
    assert_eq!(
        updated.to_value()["spec"]["template"]["spec"]["nodeSelector"]["disk"],
        "ssd"
    );

    let running = created(ResourceKind::Job, job(json!({})));
    let new = merge(
        running.to_value(),
        &template_spec(json!({"nodeSelector": {"disk": "ssd"}})),
    );
    let errors = update_errors(ResourceKind::Job, job(json!({})), new, Subresource::Main);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("spec.template: Invalid value:")),
        "{errors:?}"
    );
}

fn cronjob(patch: Value) -> Value {
    let base = json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {
            "schedule": "*/5 * * * *",
            "jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "hello", "image": "busybox"}],
                "restartPolicy": "OnFailure"
            }}}}
        }
    });
    merge(base, &patch)
}

#[test]
fn a_minimal_cronjob_is_valid() {
    assert_causes(
        "minimal",
        &create_errors(ResourceKind::CronJob, cronjob(json!({}))),
        &[],
    );
    for schedule in ["@hourly", "@every 1h30m", "0 0 * * MON-FRI", "*/1 * * * *"] {
        assert_causes(
            schedule,
            &create_errors(
                ResourceKind::CronJob,
                cronjob(json!({"spec": {"schedule": schedule}})),
            ),
            &[],
        );
    }
    let zoned = cronjob(json!({"spec": {"timeZone": "Europe/Berlin"}}));
    assert_causes(
        "time zone",
        &create_errors(ResourceKind::CronJob, zoned),
        &[],
    );
}

#[test]
fn cronjob_create_errors_match_upstream() {
    let long_name = "a".repeat(53);
    let cases: Vec<(&str, Value, Vec<String>)> = vec![
        ("empty schedule", json!({"spec": {"schedule": ""}}), vec!["spec.schedule: Required value".into()]),
        ("unparseable schedule", json!({"spec": {"schedule": "bad"}}), vec![
            "spec.schedule: Invalid value: \"bad\": expected exactly 5 fields, found 1: [bad]".into(),
        ]),
        ("six fields", json!({"spec": {"schedule": "0 0 0 * * *"}}), vec![
            "spec.schedule: Invalid value: \"0 0 0 * * *\": expected exactly 5 fields, found 6: [0 0 0 * * *]".into(),
        ]),
        ("out of range", json!({"spec": {"schedule": "0 0 * * 7-8"}}), vec![
            "spec.schedule: Invalid value: \"0 0 * * 7-8\": end of range (8) above maximum (6): 7-8".into(),
        ]),
        ("TZ prefix", json!({"spec": {"schedule": "TZ=UTC 0 * * * *"}}), vec![
            "spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into(),
        ]),
        ("CRON_TZ prefix", json!({"spec": {"schedule": "CRON_TZ=Europe/Paris 0 * * * *"}}), vec![
            "spec.schedule: Invalid value: \"CRON_TZ=Europe/Paris 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into(),
        ]),
        ("unknown time zone", json!({"spec": {"timeZone": "Mars/Olympus"}}), vec![
            "spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus".into(),
        ]),
        ("empty time zone", json!({"spec": {"timeZone": ""}}), vec![
            "spec.timeZone: Invalid value: \"\": timeZone must be nil or non-empty string".into(),
        ]),
        ("Local time zone", json!({"spec": {"timeZone": "Local"}}), vec![
            "spec.timeZone: Invalid value: \"Local\": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones".into(),
        ]),
        ("negative starting deadline", json!({"spec": {"startingDeadlineSeconds": -1}}), vec![
            "spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0".into(),
        ]),
        ("unknown concurrency policy", json!({"spec": {"concurrencyPolicy": "Sometimes"}}), vec![
            "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"".into(),
        ]),
        ("negative history limits", json!({"spec": {"successfulJobsHistoryLimit": -1, "failedJobsHistoryLimit": -2}}), vec![
            "spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0".into(),
            "spec.failedJobsHistoryLimit: Invalid value: -2: must be greater than or equal to 0".into(),
        ]),
        ("job template with restartPolicy Always", json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Always"}}}}}}), vec![
            "spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"".into(),
        ]),
        ("job template with a selector", json!({"spec": {"jobTemplate": {"spec": {"selector": {"matchLabels": {"a": "b"}}}}}}), vec![
            "spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"a\":\"b\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated".into(),
        ]),
        ("job template with manualSelector", json!({"spec": {"jobTemplate": {"spec": {"manualSelector": true}}}}), vec![
            "spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: \"nil\", \"false\"".into(),
        ]),
        ("job template with a negative parallelism", json!({"spec": {"jobTemplate": {"spec": {"parallelism": -1}}}}), vec![
            "spec.jobTemplate.spec.parallelism: Invalid value: -1: must be greater than or equal to 0".into(),
        ]),
        ("name longer than 52", json!({"metadata": {"name": long_name}}), vec![
            format!("metadata.name: Invalid value: \"{long_name}\": must be no more than 52 characters"),
        ]),
    ];
    for (name, patch, expected) in cases {
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        assert_causes(
            name,
            &create_errors(ResourceKind::CronJob, cronjob(patch)),
            &expected,
        );
    }
}

#[test]
fn cronjob_updates_may_keep_a_legacy_tz_schedule_but_not_add_one() {
    let errors = update_errors(
        ResourceKind::CronJob,
        cronjob(json!({})),
        cronjob(
            json!({"metadata": {"resourceVersion": "1"}, "spec": {"schedule": "TZ=UTC 0 * * * *"}}),
        ),
        Subresource::Main,
    );
    assert_causes(
        "adding TZ",
        &errors,
        &[
            "spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
        ],
    );
    let long_name = "b".repeat(60);
    let stored_long = {
        let mut object = support::object(
            ResourceKind::CronJob,
            cronjob(json!({"metadata": {"name": long_name}})),
        );
        corral_registry::defaults::apply_defaults(&mut object);
        object.meta_mut().resource_version = Some("1".into());
        object
    };
    let mut new = corral_api::KubeObject::from_value(
        ResourceKind::CronJob,
        cronjob(json!({"metadata": {"name": long_name}, "spec": {"suspend": true}})),
    )
    .unwrap();
    assert!(
        corral_registry::prepare_update(&mut new, &stored_long, Subresource::Main).is_ok(),
        "long names are not re-checked on update"
    );
}

#[test]
fn job_status_writes_reject_negative_counters() {
    let stored = created(ResourceKind::Job, job(json!({})));
    let new = merge(
        stored.to_value(),
        &json!({"status": {"active": -1, "uncountedTerminatedPods": {"succeeded": ["a", "a"]}}}),
    );
    let mut new = corral_api::KubeObject::from_value(ResourceKind::Job, new).unwrap();
    let error =
        corral_registry::prepare_update(&mut new, &stored, Subresource::Status).unwrap_err();
    assert_causes(
        "status",
        &support::causes(&error),
        &[
            "status.active: Invalid value: -1: must be greater than or equal to 0",
            "status.uncountedTerminatedPods.succeeded[1]: Duplicate value: \"a\"",
        ],
    );
}
