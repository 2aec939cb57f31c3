//! The time series as CSV: one row per sample, a column per series, and one `events_<Reason>`
//! column per event reason seen during the run.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::metrics::Sample;
use crate::time::NANOS_PER_SECOND;

/// The fixed columns, in order, with their accessor.
pub const COLUMNS: &[(&str, fn(&Sample) -> f64)] = &[
    ("jobs", |s| s.jobs as f64),
    ("unfinished_jobs", |s| s.unfinished_jobs as f64),
    ("jobs_with_pod", |s| s.jobs_with_pod as f64),
    ("jobs_without_pod", |s| s.jobs_without_pod as f64),
    ("pods", |s| s.pods as f64),
    ("pods_pending", |s| s.pods_pending as f64),
    ("pods_running", |s| s.pods_running as f64),
    ("pods_succeeded", |s| s.pods_succeeded as f64),
    ("pods_failed", |s| s.pods_failed as f64),
    ("job_queue_depth", |s| s.job_queue_depth as f64),
    ("job_workers_busy", |s| s.job_workers_busy as f64),
    ("pod_creation_lag_max_s", |s| s.pod_creation_lag_max_s),
    ("pod_creation_lag_mean_s", |s| s.pod_creation_lag_mean_s),
    ("oldest_waiting_job_s", |s| s.oldest_waiting_job_s),
    ("completion_lag_max_s", |s| s.completion_lag_max_s),
    ("completion_lag_mean_s", |s| s.completion_lag_mean_s),
    ("jobs_created", |s| s.jobs_created as f64),
    ("pods_created", |s| s.pods_created as f64),
    ("jobs_completed", |s| s.jobs_completed as f64),
    ("jobs_failed", |s| s.jobs_failed as f64),
    ("cpu_reserved_pending_m", |s| {
        s.cpu_reserved_pending_m as f64
    }),
    ("cpu_reserved_running_m", |s| {
        s.cpu_reserved_running_m as f64
    }),
    ("memory_reserved_pending_bytes", |s| {
        s.memory_reserved_pending_bytes as f64
    }),
    ("memory_reserved_running_bytes", |s| {
        s.memory_reserved_running_bytes as f64
    }),
];

fn number(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}

/// The CSV text.
pub fn render(samples: &[Sample]) -> String {
    let reasons: BTreeSet<&str> = samples
        .iter()
        .flat_map(|s| s.events.keys().map(String::as_str))
        .collect();
    let mut out = String::from("time_s,minute");
    for (name, _) in COLUMNS {
        out.push(',');
        out.push_str(name);
    }
    for reason in &reasons {
        let _ = write!(out, ",events_{reason}");
    }
    out.push('\n');
    for sample in samples {
        let seconds = sample.t / NANOS_PER_SECOND;
        let _ = write!(out, "{seconds},{}", seconds / 60);
        for (_, get) in COLUMNS {
            out.push(',');
            out.push_str(&number(get(sample)));
        }
        for reason in &reasons {
            let _ = write!(out, ",{}", sample.events.get(*reason).copied().unwrap_or(0));
        }
        out.push('\n');
    }
    out
}
