//! Goal: `examples/snowball.yaml` reproduces the mechanism of spec §7.1 under both the
//! 1.14 and the current profile. Method: the full scenario takes 6 simulated hours; CI
//! runs a shortened copy (the webhook degrades after 5 minutes, suspend at 45 min, the
//! Jobs deleted at 60 min, 70 minutes in all) and checks the shape: pod-creation lag
//! grows with time, unfinished Jobs and completed pods pile up, suspending the CronJob
//! stops new Jobs but not new pods, deleting its Jobs stops its pods.

use super::common::{load, minutes, run};
use corral_sim::Profile;
use corral_sim::scenario::ScenarioAction;
use corral_sim::time::NANOS_PER_SECOND;

pub fn shortened() -> corral_sim::Scenario {
    let mut scenario = load("snowball.yaml");
    for model in &mut scenario.webhooks {
        for phase in &mut model.phases {
            phase.from = 5 * 60 * NANOS_PER_SECOND;
        }
    }
    for action in &mut scenario.timeline {
        action.at = match action.action {
            ScenarioAction::Suspend(_) => 45 * 60 * NANOS_PER_SECOND,
            _ => 60 * 60 * NANOS_PER_SECOND,
        };
    }
    scenario
}

fn at(report: &corral_sim::RunReport, minute: u64) -> &corral_sim::metrics::Sample {
    report
        .samples
        .iter()
        .find(|s| s.t >= minute * 60 * NANOS_PER_SECOND)
        .expect("a sample at that minute")
}

fn check_snowball(profile: Profile) {
    let report = run(shortened(), 1, Some(profile), minutes(70));
    let early = at(&report, 10);
    let late = at(&report, 44);
    // Pod creation is capped near 5 workers / 30 s = 10 pods a minute for 14 Jobs a minute.
    assert!(
        late.oldest_waiting_job_s > 3.0 * early.oldest_waiting_job_s.max(60.0),
        "the wait grows: {} → {}",
        early.oldest_waiting_job_s,
        late.oldest_waiting_job_s
    );
    assert!(
        late.oldest_waiting_job_s > 6.0 * 60.0,
        "after 40 degraded minutes Jobs wait more than 6 minutes for a pod: {}",
        late.oldest_waiting_job_s
    );
    assert!(
        late.jobs_without_pod > early.jobs_without_pod + 100,
        "unfinished Jobs without pods pile up"
    );
    assert!(
        late.unfinished_jobs > 200,
        "unfinished Jobs pile up: {}",
        late.unfinished_jobs
    );
    assert!(
        late.pods_succeeded > 100,
        "completed pods pile up: {}",
        late.pods_succeeded
    );
    assert!(
        late.job_queue_depth > 100,
        "the Job controller's FIFO is deep: {}",
        late.job_queue_depth
    );
    assert!(
        report.webhooks.timeouts > 100 && report.webhooks.failed_open == report.webhooks.timeouts
    );
    // The Job controller works flat out: ~10 pods a minute.
    let created: u64 = report
        .samples
        .iter()
        .filter(|s| s.t > 20 * 60 * NANOS_PER_SECOND && s.t <= 44 * 60 * NANOS_PER_SECOND)
        .map(|s| s.pods_created)
        .sum();
    let per_minute = created as f64 / 24.0;
    assert!(
        (8.0..=12.5).contains(&per_minute),
        "pod creation rate {per_minute}/min"
    );
    assert!(
        !report.passed(),
        "the SLO assertions fail, as in the incident"
    );
    assert!(
        report.violations.iter().all(|v| !v.fatal),
        "{:?}",
        report.violations
    );
}

#[test]
fn the_snowball_builds_up_under_upstream_1_14() {
    check_snowball(Profile::Upstream114);
}

/// Counts (Jobs added, pods added) in the CronJob's namespace between two minutes.
fn added(trace: &str, from: u64, to: u64) -> (usize, usize) {
    let mut counts = (0, 0);
    for line in trace.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let t = corral_sim::time::parse_duration(&format!(
            "{}h{}m{}s",
            &v["t"].as_str().unwrap()[1..3],
            &v["t"].as_str().unwrap()[4..6],
            &v["t"].as_str().unwrap()[7..13]
        ))
        .unwrap()
        .as_secs();
        if v["type"] != "ADDED" || v["namespace"] != "batch" || t < from * 60 || t >= to * 60 {
            continue;
        }
        match v["kind"].as_str() {
            Some("Job") => counts.0 += 1,
            Some("Pod") => counts.1 += 1,
            _ => {}
        }
    }
    counts
}

#[test]
fn suspending_the_cronjob_stops_new_jobs_but_not_new_pods_and_deleting_its_jobs_ends_it() {
    let (_, trace) = super::common::run_traced(shortened(), 1, minutes(70));
    let trace = String::from_utf8(trace).unwrap();
    let (jobs_before, pods_before) = added(&trace, 30, 45);
    let (jobs_suspended, pods_suspended) = added(&trace, 46, 60);
    let (jobs_deleted, pods_deleted) = added(&trace, 61, 70);
    assert!(
        jobs_before >= 14 && pods_before >= 5,
        "before: {jobs_before} jobs, {pods_before} pods"
    );
    assert_eq!(jobs_suspended, 0, "suspend stops new Jobs");
    assert!(
        pods_suspended >= 5,
        "but the backlog keeps getting pods: {pods_suspended}"
    );
    assert_eq!(
        (jobs_deleted, pods_deleted),
        (0, 0),
        "deleting the Jobs ends it"
    );
}

#[test]
fn current_kubernetes_snowballs_the_same_way_with_allow() {
    check_snowball(Profile::Upstream);
}
