//! Goal: job and cronjob rows print what upstream's `printJob` and `printCronJob` print:
//! every job STATUS, COMPLETIONS for each completion mode, DURATION, AGE, the wide cells,
//! and cronjob TIMEZONE/SUSPEND/ACTIVE/LAST SCHEDULE, plus Corral's NEXT RUN.
//!
//! Method: upstream's `TestPrintJob` and `TestPrintJobList` cases (`printers_test.go`), with
//! `time.Now()` offsets taken from a fixed `now`, plus cronjob cases built the same way.

mod common;

use common::{ago, object, texts};
use corral_api::ResourceKind;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

fn job(metadata: Value, spec: Value, status: Value) -> Vec<String> {
    let job = object(
        ResourceKind::Job,
        json!({"metadata": metadata, "spec": spec, "status": status}),
    );
    texts(&common::cells("batch", "jobs", &job))
}

/// `time.Now().Add(1.9e9)`: a creation time 1.9 s in the future, which upstream tolerates as
/// clock skew and prints `0s`.
fn skewed() -> String {
    (common::now() + SignedDuration::from_millis(1900)).to_string()
}

fn two_containers() -> Value {
    json!({"spec": {"containers": [
        {"name": "fake-job-container1", "image": "fake-job-image1"},
        {"name": "fake-job-container2", "image": "fake-job-image2"}]}})
}

#[test]
fn job_rows_match_upstream_print_job() {
    let spec = json!({"completions": 2, "template": two_containers(),
        "selector": {"matchLabels": {"job-label": "job-label-value"}}});
    assert_eq!(
        job(
            json!({"name": "job1", "creationTimestamp": skewed()}),
            spec,
            json!({"succeeded": 1})
        ),
        [
            "job1",
            "Running",
            "1/2",
            "",
            "0s",
            "fake-job-container1,fake-job-container2",
            "fake-job-image1,fake-job-image2",
            "job-label=job-label-value"
        ]
    );
    let ten_years: Timestamp = "2014-06-01T12:00:00Z".parse().unwrap();
    let old = json!({"name": "job2", "creationTimestamp": ten_years.to_string()});
    assert_eq!(
        job(old.clone(), json!({"template": {}}), json!({}))[..5],
        ["job2", "Running", "0/1", "", "10y"]
    );
    let now = common::now();
    let finished = json!({"startTime": (now + SignedDuration::from_mins(1)).to_string(),
        "completionTime": (now + SignedDuration::from_mins(31)).to_string()});
    assert_eq!(
        job(old.clone(), json!({"template": {}}), finished)[..5],
        ["job2", "Running", "0/1", "30m", "10y"]
    );
    let running = json!({"startTime": ago(20 * 60)});
    assert_eq!(
        job(old, json!({"template": {}}), running)[..5],
        ["job2", "Running", "0/1", "20m", "10y"]
    );
}

#[test]
fn job_status_follows_upstream_precedence() {
    let conditions = |types: &[(&str, &str)]| {
        let list: Vec<Value> = types
            .iter()
            .map(|(t, s)| json!({"type": t, "status": s}))
            .collect();
        json!({"conditions": list})
    };
    let status = |meta: Value, status: Value| job(meta, json!({"template": {}}), status)[1].clone();
    let plain = || json!({"name": "j", "creationTimestamp": skewed()});
    let deleted = || json!({"name": "j", "deletionTimestamp": skewed()});
    assert_eq!(
        status(plain(), conditions(&[("Complete", "True")])),
        "Complete"
    );
    assert_eq!(status(plain(), conditions(&[("Failed", "True")])), "Failed");
    assert_eq!(
        status(plain(), conditions(&[("Suspended", "True")])),
        "Suspended"
    );
    assert_eq!(
        status(plain(), conditions(&[("FailureTarget", "True")])),
        "FailureTarget"
    );
    assert_eq!(status(deleted(), json!({})), "Terminating");
    // Precedence: finished beats deletion, deletion beats suspension and failure target.
    assert_eq!(
        status(deleted(), conditions(&[("Complete", "True")])),
        "Complete"
    );
    assert_eq!(
        status(deleted(), conditions(&[("Failed", "True")])),
        "Failed"
    );
    assert_eq!(
        status(deleted(), conditions(&[("Suspended", "True")])),
        "Terminating"
    );
    assert_eq!(
        status(
            plain(),
            conditions(&[("FailureTarget", "True"), ("Failed", "True")])
        ),
        "Failed"
    );
    assert_eq!(
        status(
            plain(),
            conditions(&[("SuccessCriteriaMet", "True"), ("Complete", "True")])
        ),
        "Complete"
    );
    // A condition that is not True, or a later duplicate of a False one, does not count.
    assert_eq!(
        status(plain(), conditions(&[("Suspended", "False")])),
        "Running"
    );
    assert_eq!(
        status(
            plain(),
            conditions(&[("Complete", "False"), ("Complete", "True")])
        ),
        "Running"
    );
    assert_eq!(
        job(plain(), json!({"template": {}}), json!({}))[..5],
        ["j", "Running", "0/1", "", "0s"]
    );
}

#[test]
fn job_list_rows_match_upstream_print_job_list() {
    let spec = json!({"completions": 2, "template": two_containers(),
        "selector": {"matchLabels": {"job-label": "job-lable-value"}}});
    let meta = |name: &str| json!({"name": name, "creationTimestamp": skewed()});
    assert_eq!(
        job(meta("job1"), spec.clone(), json!({"succeeded": 1}))[..5],
        ["job1", "Running", "1/2", "", "0s"]
    );
    assert_eq!(
        job(
            meta("job2"),
            spec,
            json!({"succeeded": 2, "startTime": ago(20 * 60)})
        )[..5],
        ["job2", "Running", "2/2", "20m", "0s"]
    );
}

#[test]
fn completions_cover_every_completion_mode() {
    let completions = |spec: Value, succeeded: i32| {
        let mut spec = spec;
        spec["template"] = json!({});
        job(json!({"name": "j"}), spec, json!({"succeeded": succeeded}))[2].clone()
    };
    assert_eq!(
        completions(json!({"completions": 5, "parallelism": 2}), 3),
        "3/5"
    );
    assert_eq!(completions(json!({"parallelism": 4}), 1), "1/1 of 4");
    assert_eq!(completions(json!({"parallelism": 1}), 0), "0/1");
    assert_eq!(completions(json!({"parallelism": 0}), 0), "0/1");
    assert_eq!(completions(json!({}), 1), "1/1");
}

#[test]
fn durations_measure_start_to_completion_or_now() {
    let duration =
        |status: Value| job(json!({"name": "j"}), json!({"template": {}}), status)[3].clone();
    assert_eq!(duration(json!({})), "");
    assert_eq!(duration(json!({"startTime": ago(5)})), "5s");
    assert_eq!(
        duration(json!({"startTime": ago(3600), "completionTime": ago(3600 - 95)})),
        "95s"
    );
    assert_eq!(duration(json!({"startTime": ago(40 * 3600)})), "40h");
    assert_eq!(duration(json!({"startTime": ago(-10)})), "<invalid>");
}

fn cron_job(metadata: Value, spec: Value, status: Value) -> Vec<String> {
    let cj = object(
        ResourceKind::CronJob,
        json!({"metadata": metadata, "spec": spec, "status": status}),
    );
    texts(&common::cells("batch", "cronjobs", &cj))
}

#[test]
fn cron_job_rows_match_upstream_print_cron_job() {
    let spec = json!({"schedule": "*/5 * * * *", "suspend": false,
        "jobTemplate": {"spec": {"template": two_containers(), "selector": {"matchLabels": {"a": "b"}}}}});
    let status = json!({"lastScheduleTime": ago(150), "active": [{"name": "j1"}, {"name": "j2"}]});
    assert_eq!(
        cron_job(
            json!({"name": "cj", "creationTimestamp": ago(3 * 86400)}),
            spec,
            status
        ),
        [
            "cj",
            "*/5 * * * *",
            "<none>",
            "False",
            "#2",
            "2m30s",
            "<none>",
            "3d",
            "fake-job-container1,fake-job-container2",
            "fake-job-image1,fake-job-image2",
            "a=b"
        ]
    );
    let suspended = json!({"schedule": "@hourly", "timeZone": "Europe/Paris", "suspend": true, "jobTemplate": {}});
    assert_eq!(
        cron_job(json!({"name": "cj2"}), suspended, json!({})),
        [
            "cj2",
            "@hourly",
            "Europe/Paris",
            "True",
            "#0",
            "<none>",
            "<none>",
            "<unknown>",
            "",
            "",
            "<none>"
        ]
    );
    let unset = json!({"schedule": "0 0 * * *", "jobTemplate": {}});
    assert_eq!(
        cron_job(json!({"name": "cj3"}), unset, json!({"active": []}))[3..5],
        ["<unset>", "#0"]
    );
}

#[test]
fn next_run_shows_the_time_until_the_annotated_slot() {
    let next_run = |annotation: Option<String>| {
        let metadata = match annotation {
            Some(value) => {
                json!({"name": "cj", "annotations": {"corral.dev/next-schedule-time": value}})
            }
            None => json!({"name": "cj"}),
        };
        cron_job(
            metadata,
            json!({"schedule": "* * * * *", "jobTemplate": {}}),
            json!({}),
        )[6]
        .clone()
    };
    let in_seconds = |s: i64| (common::now() + SignedDuration::from_secs(s)).to_string();
    assert_eq!(next_run(None), "<none>");
    assert_eq!(next_run(Some(in_seconds(45))), "45s");
    assert_eq!(next_run(Some(in_seconds(3 * 3600 + 600))), "3h10m");
    assert_eq!(
        next_run(Some("2024-06-01T08:30:00-04:00".into())),
        "30m",
        "any RFC 3339 offset"
    );
    assert_eq!(next_run(Some(in_seconds(0))), "0s");
    assert_eq!(next_run(Some(in_seconds(-30))), "<overdue>");
    assert_eq!(next_run(Some("tomorrow".into())), "<none>");
}
