//! SVG line charts of the time series (plotters' SVG backend: text stays `<text>`, no font
//! files), one chart per question the incident timelines ask: how many Jobs pile up, what
//! the pods are doing, how long Jobs wait, how deep the Job queue is, what pods hold on
//! nodes, and which events fire. Timeline actions are drawn as vertical markers.

use std::collections::BTreeMap;

use plotters::prelude::*;

use crate::metrics::Sample;
use crate::time::NANOS_PER_SECOND;

/// One rendered chart.
#[derive(Clone, Debug)]
pub struct Chart {
    pub id: String,
    pub title: String,
    pub series: Vec<String>,
    pub svg: String,
}

type Getter = fn(&Sample) -> f64;

const WIDTH: u32 = 1100;
const HEIGHT: u32 = 340;

fn hours(s: &Sample) -> f64 {
    s.t as f64 / NANOS_PER_SECOND as f64 / 3600.0
}

/// Draws one chart; `series` are (name, points).
pub fn draw_chart(
    id: &str,
    title: &str,
    unit: &str,
    series: &[(String, Vec<(f64, f64)>)],
    markers: &[f64],
) -> Chart {
    let x_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(x, _)| *x))
        .fold(1e-3, f64::max);
    let y_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.08;
    let mut svg = String::new();
    let drawn = draw(&mut svg, title, unit, series, markers, x_max, y_max);
    if let Err(message) = drawn {
        svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\"><text x=\"10\" y=\"20\">chart failed: {message}</text></svg>"
        );
    }
    Chart {
        id: id.to_string(),
        title: title.to_string(),
        series: series.iter().map(|(n, _)| n.clone()).collect(),
        svg,
    }
}

fn draw(
    out: &mut String,
    title: &str,
    unit: &str,
    series: &[(String, Vec<(f64, f64)>)],
    markers: &[f64],
    x_max: f64,
    y_max: f64,
) -> Result<(), String> {
    let root = SVGBackend::with_string(out, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("simulated hours")
        .y_desc(unit)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| e.to_string())?;
    for x in markers {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(*x, 0.0), (*x, y_max)],
                BLACK.mix(0.35),
            )))
            .map_err(|e| e.to_string())?;
    }
    for (i, (name, points)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

fn series(samples: &[Sample], items: &[(&str, Getter)]) -> Vec<(String, Vec<(f64, f64)>)> {
    items
        .iter()
        .map(|(name, get)| {
            (
                name.to_string(),
                samples.iter().map(|s| (hours(s), get(s))).collect(),
            )
        })
        .collect()
}

/// A chart's data before drawing: id, title, unit, series.
pub struct ChartData {
    pub id: &'static str,
    pub title: &'static str,
    pub unit: &'static str,
    pub series: Vec<(String, Vec<(f64, f64)>)>,
}

fn line_chart(
    id: &'static str,
    title: &'static str,
    unit: &'static str,
    series: &[(String, Vec<(f64, f64)>)],
    _markers: &[f64],
) -> ChartData {
    ChartData {
        id,
        title,
        unit,
        series: series.to_vec(),
    }
}

/// The report's charts.
pub fn charts(samples: &[Sample], markers: &[f64]) -> Vec<Chart> {
    chart_data(samples)
        .into_iter()
        .map(|c| draw_chart(c.id, c.title, c.unit, &c.series, markers))
        .collect()
}

/// Several runs on the same charts (`--profile upstream,corral`): every series of every
/// run, named `<series> [<run>]`, one chart per question.
pub fn compare_charts(runs: &[(&str, &[Sample])], markers: &[f64]) -> Vec<Chart> {
    let mut merged: Vec<ChartData> = Vec::new();
    for (run, samples) in runs {
        for chart in chart_data(samples) {
            let series = chart
                .series
                .into_iter()
                .map(|(name, points)| (format!("{name} [{run}]"), points));
            match merged.iter_mut().find(|c| c.id == chart.id) {
                Some(existing) => existing.series.extend(series),
                None => merged.push(ChartData {
                    series: series.collect(),
                    ..chart
                }),
            }
        }
    }
    merged
        .into_iter()
        .map(|c| draw_chart(c.id, c.title, c.unit, &c.series, markers))
        .collect()
}

/// The data of the report's charts.
pub fn chart_data(samples: &[Sample]) -> Vec<ChartData> {
    let markers: &[f64] = &[];
    let minutes = |v: f64| v / 60.0;
    let mut out = vec![
        line_chart(
            "jobs",
            "Jobs",
            "count",
            &series(
                samples,
                &[
                    ("jobs total", |s| s.jobs as f64),
                    ("unfinished jobs", |s| s.unfinished_jobs as f64),
                    ("jobs with a pod", |s| s.jobs_with_pod as f64),
                    ("unfinished jobs without a pod", |s| {
                        s.jobs_without_pod as f64
                    }),
                ],
            ),
            markers,
        ),
        line_chart(
            "pods",
            "Pods by phase",
            "count",
            &series(
                samples,
                &[
                    ("pending pods", |s| s.pods_pending as f64),
                    ("running pods", |s| s.pods_running as f64),
                    ("completed pods present", |s| s.pods_succeeded as f64),
                    ("failed pods present", |s| s.pods_failed as f64),
                ],
            ),
            markers,
        ),
    ];
    // Lags are observed when something happens: samples without a first pod (or without
    // a completion) carry no lag point rather than a zero.
    let lags: Vec<(String, Vec<(f64, f64)>)> = [
        (
            "pod-creation lag (max)",
            samples
                .iter()
                .filter(|s| s.pods_created > 0)
                .map(|s| (hours(s), minutes(s.pod_creation_lag_max_s)))
                .collect(),
        ),
        (
            "oldest job waiting for a pod",
            samples
                .iter()
                .map(|s| (hours(s), minutes(s.oldest_waiting_job_s)))
                .collect(),
        ),
        (
            "completion lag (max)",
            samples
                .iter()
                .filter(|s| s.jobs_completed > 0)
                .map(|s| (hours(s), minutes(s.completion_lag_max_s)))
                .collect(),
        ),
    ]
    .into_iter()
    .map(|(n, p)| (n.to_string(), p))
    .collect();
    out.push(line_chart("lags", "Lags", "minutes", &lags, markers));
    out.push(line_chart(
        "queue",
        "Job controller",
        "keys / workers",
        &series(
            samples,
            &[
                ("job queue depth", |s| s.job_queue_depth as f64),
                ("busy job workers", |s| s.job_workers_busy as f64),
                ("pods created per sample", |s| s.pods_created as f64),
                ("jobs created per sample", |s| s.jobs_created as f64),
            ],
        ),
        markers,
    ));
    out.push(line_chart(
        "reserved",
        "Node resources held by pods",
        "cores / GiB",
        &series(
            samples,
            &[
                ("cpu held by pending pods", |s| {
                    s.cpu_reserved_pending_m as f64 / 1000.0
                }),
                ("cpu held by running pods", |s| {
                    s.cpu_reserved_running_m as f64 / 1000.0
                }),
                ("memory held by pending pods (GiB)", |s| {
                    s.memory_reserved_pending_bytes as f64 / (1u64 << 30) as f64
                }),
                ("memory held by running pods (GiB)", |s| {
                    s.memory_reserved_running_bytes as f64 / (1u64 << 30) as f64
                }),
            ],
        ),
        markers,
    ));
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for s in samples {
        for (reason, n) in &s.events {
            *totals.entry(reason).or_insert(0) += n;
        }
    }
    let mut reasons: Vec<(&str, u64)> = totals.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let events: Vec<(String, Vec<(f64, f64)>)> = reasons
        .iter()
        .take(8)
        .map(|(reason, _)| {
            let points = samples
                .iter()
                .map(|s| (hours(s), s.events.get(*reason).copied().unwrap_or(0) as f64))
                .collect();
            (format!("events {reason}"), points)
        })
        .collect();
    if !events.is_empty() {
        out.push(line_chart(
            "events",
            "Events by reason (per sample)",
            "events",
            &events,
            markers,
        ));
    }
    out
}
