//! The terminal summary: the run's identity, peaks and final values of the main series,
//! an hourly table, totals, API and admission counters, top events, invariants,
//! assertions, the trace hash and (on failure) the command that reproduces the run.

use std::fmt::Write;

use crate::metrics::Sample;
use crate::sim::RunReport;
use crate::time::{NANOS_PER_SECOND, format_duration, format_offset};

fn peak(samples: &[Sample], get: impl Fn(&Sample) -> f64) -> f64 {
    samples.iter().map(get).fold(0.0, f64::max)
}

pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let s = &report.samples;
    let last = s.last().cloned().unwrap_or_default();
    let _ = writeln!(
        out,
        "corral sim: {} — seed {}, profile {}, {} simulated in {:.1} s wall{}",
        report.scenario,
        report.seed,
        report.profile.name(),
        format_duration(report.stats.simulated_seconds),
        report.stats.wall_seconds,
        report
            .stopped_at
            .map(|t| format!(" (STOPPED at {})", format_offset(t)))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "\n{:<34} {:>12} {:>12}", "series", "peak", "end");
    let rows: [(&str, fn(&Sample) -> f64, bool); 9] = [
        ("jobs", |x| x.jobs as f64, false),
        ("unfinished jobs", |x| x.unfinished_jobs as f64, false),
        (
            "unfinished jobs without a pod",
            |x| x.jobs_without_pod as f64,
            false,
        ),
        ("completed pods present", |x| x.pods_succeeded as f64, false),
        ("pending pods", |x| x.pods_pending as f64, false),
        (
            "job-controller queue depth",
            |x| x.job_queue_depth as f64,
            false,
        ),
        (
            "pod-creation lag (max/min)",
            |x| x.pod_creation_lag_max_s,
            true,
        ),
        (
            "oldest Job waiting for a pod",
            |x| x.oldest_waiting_job_s,
            true,
        ),
        ("completion lag (max/min)", |x| x.completion_lag_max_s, true),
    ];
    for (name, get, time) in rows {
        let (p, e) = (peak(s, get), get(&last));
        if time {
            let _ = writeln!(
                out,
                "{name:<34} {:>12} {:>12}",
                format_duration(p),
                format_duration(e)
            );
        } else {
            let _ = writeln!(out, "{name:<34} {p:>12.0} {e:>12.0}");
        }
    }
    hourly(&mut out, s);
    let t = &report.totals;
    let _ = writeln!(
        out,
        "\ntotals: {} jobs created, {} pods created, {} jobs completed, {} jobs failed",
        t.jobs_created, t.pods_created, t.jobs_completed, t.jobs_failed
    );
    let (a, w) = (&report.api, &report.webhooks);
    let _ = writeln!(
        out,
        "api: {} calls, {} refused by admission, {} request timeouts ({} persisted anyway), {} injected faults; webhooks: {} calls, {} timeouts, {} failed open, {} rejections, {} skipped with the circuit open ({} trips)",
        a.calls,
        a.admission_rejections,
        a.request_timeouts,
        a.persisted_after_timeout,
        a.injected_faults,
        w.calls,
        w.timeouts,
        w.failed_open,
        w.rejections,
        w.circuit_open,
        report.breaker_trips
    );
    let mut events: Vec<(&String, &u64)> = t.events.iter().collect();
    events.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
    let top: Vec<String> = events
        .iter()
        .take(12)
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "events (after the event filter; {} dropped by the spam filter): {}",
        t.events_dropped,
        top.join(", ")
    );
    out.push_str(&super::holdings::render(&report.holdings));
    let _ = writeln!(
        out,
        "kubelets: {} pods tracked at the end ({} pods in the store)",
        report.stats.kubelet_pods, report.stats.store_pods
    );
    let busy: Vec<String> = report
        .controllers
        .iter()
        .map(|(name, syncs, busy, _)| format!("{name} {syncs} syncs {:.0}% busy", busy * 100.0))
        .collect();
    let _ = writeln!(out, "controllers: {}", busy.join("; "));
    if report.violations.is_empty() {
        let _ = writeln!(out, "invariants: all held");
    }
    for v in report.violations.iter().take(10) {
        let _ = writeln!(
            out,
            "invariant {} {} at {}: {}",
            v.invariant,
            if v.fatal { "VIOLATED" } else { "warning" },
            format_offset(v.at),
            v.message
        );
    }
    for r in &report.assertions {
        let status = if r.passed { "PASS" } else { "FAIL" };
        let at = r
            .failed_at
            .map(|t| format!(" (first failed at {})", format_offset(t)))
            .unwrap_or_default();
        let worst = r
            .worst
            .map(|w| format!("{w:.1}"))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "assertion {status}: {} [{}] worst {worst}{at}",
            r.assertion.name, r.assertion.origin
        );
    }
    let _ = writeln!(
        out,
        "trace: {} mutations, hash {:016x}; {:.0} events/s ({} heap, {} watch, {} reconciles)",
        report.mutations,
        report.trace_hash,
        report.stats.events_per_second(),
        report.stats.heap_events,
        report.stats.watch_events,
        report.stats.reconciles
    );
    if !report.passed() {
        let _ = writeln!(out, "FAILED — reproduce with: {}", report.repro_command());
    }
    out
}

fn hourly(out: &mut String, samples: &[Sample]) {
    if samples.is_empty() {
        return;
    }
    let span = samples.last().map_or(0, |s| s.t) / NANOS_PER_SECOND;
    let step = if span <= 2 * 3600 {
        600
    } else if span <= 24 * 3600 {
        3600
    } else {
        6 * 3600
    };
    let _ = writeln!(
        out,
        "\n{:>10} {:>8} {:>10} {:>9} {:>10} {:>8} {:>12} {:>12} {:>12}",
        "time",
        "jobs",
        "unfinished",
        "no pod",
        "completed",
        "queue",
        "create lag",
        "oldest wait",
        "complete lag"
    );
    let mut next = step;
    for (i, s) in samples.iter().enumerate() {
        let t = s.t / NANOS_PER_SECOND;
        if t < next && i + 1 != samples.len() {
            continue;
        }
        while next <= t {
            next += step;
        }
        let _ = writeln!(
            out,
            "{:>10} {:>8} {:>10} {:>9} {:>10} {:>8} {:>12} {:>12} {:>12}",
            format_offset(s.t).trim_end_matches(".000"),
            s.jobs,
            s.unfinished_jobs,
            s.jobs_without_pod,
            s.pods_succeeded,
            s.job_queue_depth,
            format_duration(s.pod_creation_lag_max_s),
            format_duration(s.oldest_waiting_job_s),
            format_duration(s.completion_lag_max_s)
        );
    }
}

/// Several runs of one scenario side by side (`--profile upstream,corral`): one column
/// per run for the peaks and ends of the main series, the totals, the admission counters,
/// the holdings and each assertion; then the command reproducing each failed run.
pub fn render_comparison(reports: &[RunReport]) -> String {
    let mut out = String::new();
    let Some(first) = reports.first() else {
        return out;
    };
    let _ = writeln!(
        out,
        "corral sim: {} — seed {}, {} simulated, profiles compared: {}",
        first.scenario,
        first.seed,
        format_duration(first.stats.simulated_seconds),
        reports
            .iter()
            .map(|r| r.profile.name())
            .collect::<Vec<_>>()
            .join(" vs ")
    );
    let width = 22;
    let mut header = format!("\n{:<60}", "");
    for r in reports {
        let _ = write!(header, " {:>width$}", r.profile.name());
    }
    let _ = writeln!(out, "{header}");
    type Row = (&'static str, Box<dyn Fn(&RunReport) -> String>);
    let peak_end = |get: fn(&Sample) -> f64, time: bool| {
        move |r: &RunReport| {
            let p = peak(&r.samples, get);
            let e = r.samples.last().map_or(0.0, get);
            if time {
                format!("{} / {}", format_duration(p), format_duration(e))
            } else {
                format!("{p:.0} / {e:.0}")
            }
        }
    };
    let rows: Vec<Row> = vec![
        (
            "jobs (peak / end)",
            Box::new(peak_end(|x| x.jobs as f64, false)),
        ),
        (
            "unfinished jobs (peak / end)",
            Box::new(peak_end(|x| x.unfinished_jobs as f64, false)),
        ),
        (
            "unfinished jobs without a pod (peak / end)",
            Box::new(peak_end(|x| x.jobs_without_pod as f64, false)),
        ),
        (
            "completed pods present (peak / end)",
            Box::new(peak_end(|x| x.pods_succeeded as f64, false)),
        ),
        (
            "job queue depth (peak / end)",
            Box::new(peak_end(|x| x.job_queue_depth as f64, false)),
        ),
        (
            "pod-creation lag max (peak / end)",
            Box::new(peak_end(|x| x.pod_creation_lag_max_s, true)),
        ),
        (
            "oldest Job waiting for a pod (peak / end)",
            Box::new(peak_end(|x| x.oldest_waiting_job_s, true)),
        ),
        (
            "completion lag max (peak / end)",
            Box::new(peak_end(|x| x.completion_lag_max_s, true)),
        ),
        (
            "jobs created / completed / failed",
            Box::new(|r: &RunReport| {
                let t = &r.totals;
                format!(
                    "{} / {} / {}",
                    t.jobs_created, t.jobs_completed, t.jobs_failed
                )
            }),
        ),
        (
            "pods created",
            Box::new(|r: &RunReport| r.totals.pods_created.to_string()),
        ),
        (
            "webhook calls / timeouts",
            Box::new(|r: &RunReport| format!("{} / {}", r.webhooks.calls, r.webhooks.timeouts)),
        ),
        (
            "calls skipped, circuit open / trips",
            Box::new(|r: &RunReport| format!("{} / {}", r.webhooks.circuit_open, r.breaker_trips)),
        ),
        (
            "held pods / cpu at the end",
            Box::new(|r: &RunReport| {
                let pods: usize = r.holdings.namespaces.iter().map(|n| n.pods).sum();
                let cpu: i64 = r
                    .holdings
                    .namespaces
                    .iter()
                    .map(|n| n.requests.milli_cpu)
                    .sum();
                format!("{pods} / {cpu}m")
            }),
        ),
        (
            "wall seconds",
            Box::new(|r: &RunReport| format!("{:.1}", r.stats.wall_seconds)),
        ),
    ];
    for (name, cell) in &rows {
        let mut line = format!("{name:<60}");
        for r in reports {
            let _ = write!(line, " {:>width$}", cell(r));
        }
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out);
    for (i, a) in first.assertions.iter().enumerate() {
        let label: String = format!("assertion: {}", a.assertion.name)
            .chars()
            .take(60)
            .collect();
        let mut line = format!("{label:<60}");
        for r in reports {
            let cell = r.assertions.get(i).map_or("-".to_string(), |x| {
                let worst = x.worst.map(|w| format!(" ({w:.1})")).unwrap_or_default();
                format!("{}{worst}", if x.passed { "PASS" } else { "FAIL" })
            });
            let _ = write!(line, " {cell:>width$}");
        }
        let _ = writeln!(out, "{line}");
    }
    let mut line = format!("{:<60}", "invariants");
    for r in reports {
        let fatal = r.violations.iter().filter(|v| v.fatal).count();
        let cell = if fatal == 0 {
            "held".to_string()
        } else {
            format!("{fatal} VIOLATED")
        };
        let _ = write!(line, " {cell:>width$}");
    }
    let _ = writeln!(out, "{line}");
    for r in reports.iter().filter(|r| !r.passed()) {
        let _ = writeln!(
            out,
            "FAILED under {} — reproduce with: {}",
            r.profile.name(),
            r.repro_command()
        );
    }
    out
}
