//! The self-contained HTML report: summary, settings, SVG charts inline, the event
//! timeline (scenario actions and webhook phases), events by reason, assertions and
//! invariants. No scripts, no external resources: it renders offline and in headless
//! Chromium.

use std::fmt::Write;

use super::svg::{Chart, charts, compare_charts};
use crate::sim::RunReport;
use crate::time::{NANOS_PER_SECOND, format_offset};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The charts of a report (also used by tests).
pub fn report_charts(report: &RunReport) -> Vec<Chart> {
    let markers: Vec<f64> = report
        .timeline
        .iter()
        .map(|(t, _)| *t as f64 / NANOS_PER_SECOND as f64 / 3600.0)
        .collect();
    charts(&report.samples, &markers)
}

const STYLE: &str = "<style>\
body{font-family:sans-serif;margin:24px;color:#222;max-width:1180px}\
h1{font-size:22px} h2{font-size:17px;margin-top:28px}\
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}\
.passed{color:#1a7f37} .FAILED{color:#c62828} pre{background:#f6f6f6;padding:10px;font-size:12px;overflow-x:auto}\
figure{margin:12px 0} figcaption{font-size:13px;color:#555}\
</style>";

/// The charts of several runs of one scenario, each series once per run (also used by
/// tests).
pub fn comparison_charts(reports: &[RunReport]) -> Vec<Chart> {
    let markers: Vec<f64> = reports
        .first()
        .map(|r| {
            r.timeline
                .iter()
                .map(|(t, _)| *t as f64 / NANOS_PER_SECOND as f64 / 3600.0)
                .collect()
        })
        .unwrap_or_default();
    let runs: Vec<(&str, &[crate::metrics::Sample])> = reports
        .iter()
        .map(|r| (r.profile.name(), r.samples.as_slice()))
        .collect();
    compare_charts(&runs, &markers)
}

fn figure(out: &mut String, chart: &Chart) {
    let _ = writeln!(
        out,
        "<figure id=\"chart-{}\" data-series=\"{}\">{}<figcaption>{}</figcaption></figure>",
        chart.id,
        escape(&chart.series.join("|")),
        chart.svg,
        escape(&chart.title)
    );
}

/// One page for several runs of a scenario (`--profile upstream,corral`): the summary
/// side by side, every chart with every run's series, assertions per run, and links to
/// each run's own report.
pub fn render_comparison(reports: &[RunReport]) -> String {
    let mut out = String::new();
    let name = reports.first().map_or("", |r| r.scenario.as_str());
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>corral sim: {} compared</title>\n{STYLE}</head><body>",
        escape(name)
    );
    let profiles: Vec<String> = reports
        .iter()
        .map(|r| {
            let status = if r.passed() { "passed" } else { "FAILED" };
            format!(
                "{} <span class=\"{status}\">{status}</span>",
                escape(r.profile.name())
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "<h1>corral sim: {} — {}</h1>",
        escape(name),
        profiles.join(" vs ")
    );
    let _ = writeln!(
        out,
        "<pre>{}</pre>",
        escape(&super::table::render_comparison(reports))
    );
    let _ = writeln!(out, "<h2>Charts</h2>");
    for chart in comparison_charts(reports) {
        figure(&mut out, &chart);
    }
    let _ = writeln!(
        out,
        "<h2>Event timeline</h2><table><tr><th>time</th><th>what</th></tr>"
    );
    if let Some(first) = reports.first() {
        for (t, label) in &first.timeline {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td></tr>",
                format_offset(*t),
                escape(label)
            );
        }
    }
    let _ = writeln!(out, "</table><h2>Each run</h2><ul>");
    for r in reports {
        let _ = writeln!(
            out,
            "<li><a href=\"{0}/report.html\">{0}</a>: <code>{1}</code></li>",
            escape(r.profile.name()),
            escape(&r.repro_command())
        );
    }
    let _ = writeln!(out, "</ul></body></html>");
    out
}

pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let status = if report.passed() { "passed" } else { "FAILED" };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>corral sim: {}</title>\n<style>\
body{{font-family:sans-serif;margin:24px;color:#222;max-width:1180px}}\
h1{{font-size:22px}} h2{{font-size:17px;margin-top:28px}}\
table{{border-collapse:collapse;font-size:13px}} td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}\
.passed{{color:#1a7f37}} .FAILED{{color:#c62828}} pre{{background:#f6f6f6;padding:10px;font-size:12px;overflow-x:auto}}\
figure{{margin:12px 0}} figcaption{{font-size:13px;color:#555}}\
</style></head><body>\n",
        escape(&report.scenario)
    );
    let _ = writeln!(
        out,
        "<h1>corral sim: {} <span class=\"{status}\">{status}</span></h1>",
        escape(&report.scenario)
    );
    let _ = writeln!(out, "<pre>{}</pre>", escape(&super::table::render(report)));
    let _ = writeln!(
        out,
        "<h2>Settings</h2><pre>{}</pre>",
        escape(&report.settings.join("\n"))
    );
    let _ = writeln!(out, "<h2>Charts</h2>");
    for chart in report_charts(report) {
        figure(&mut out, &chart);
    }
    let _ = writeln!(
        out,
        "<h2>Event timeline</h2><table><tr><th>time</th><th>what</th></tr>"
    );
    for (t, label) in &report.timeline {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            format_offset(*t),
            escape(label)
        );
    }
    for v in &report.violations {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"FAILED\">invariant {}: {}</td></tr>",
            format_offset(v.at),
            v.invariant,
            escape(&v.message)
        );
    }
    let _ = writeln!(out, "</table>");
    let _ = writeln!(
        out,
        "<h2>Events by reason</h2><table><tr><th>reason</th><th>count</th></tr>"
    );
    for (reason, count) in &report.totals.events {
        let _ = writeln!(out, "<tr><td>{}</td><td>{count}</td></tr>", escape(reason));
    }
    let _ = writeln!(out, "</table>");
    let _ = writeln!(
        out,
        "<h2>Holdings</h2><pre>{}</pre>",
        escape(&super::holdings::render(&report.holdings))
    );
    if !report.assertions.is_empty() {
        let _ = writeln!(
            out,
            "<h2>Assertions</h2><table><tr><th>assertion</th><th>result</th><th>worst</th><th>where</th></tr>"
        );
        for r in &report.assertions {
            let class = if r.passed { "passed" } else { "FAILED" };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"{class}\">{class}</td><td>{}</td><td>{}</td></tr>",
                escape(&r.assertion.name),
                r.worst.map(|w| format!("{w:.1}")).unwrap_or_default(),
                escape(&r.assertion.origin.to_string())
            );
        }
        let _ = writeln!(out, "</table>");
    }
    if !report.passed() {
        let _ = writeln!(
            out,
            "<p class=\"FAILED\">Reproduce with: <code>{}</code></p>",
            escape(&report.repro_command())
        );
    }
    let _ = writeln!(out, "</body></html>");
    out
}
