//! Outputs of a run: the [`RunReport`] itself (built here from the finished simulation),
//! the terminal summary ([`table`]), the CSV time series ([`csv`]), and the self-contained
//! HTML report with SVG charts ([`html`], [`svg`]); plus the progress bar.

pub mod csv;
pub mod holdings;
pub mod html;
pub mod svg;
pub mod table;

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::sim::{RunReport, Simulation};
use crate::time::{NANOS_PER_SECOND, SimTime};

/// A progress bar over simulated seconds, hidden unless asked for and on a terminal.
pub fn progress_bar(wanted: bool, until: SimTime) -> ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(until / NANOS_PER_SECOND);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} sim {msg} [{bar:40}] {percent}% ({elapsed} wall)")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The report of a finished simulation.
pub(crate) fn build(sim: Simulation) -> RunReport {
    let mut timeline: Vec<(SimTime, String)> = sim
        .scenario
        .timeline
        .iter()
        .map(|a| (a.at, a.action.label()))
        .collect();
    for model in &sim.scenario.webhooks {
        for phase in &model.phases {
            let (latency, outcome) = (
                phase
                    .latency
                    .as_ref()
                    .map(|d| format!("{d:?}"))
                    .unwrap_or_else(|| format!("{:?}", model.latency)),
                phase.outcome.unwrap_or(model.outcome),
            );
            timeline.push((
                phase.from,
                format!("webhook {}: latency {latency}, {outcome:?}", model.name),
            ));
            if phase.until != u64::MAX {
                timeline.push((
                    phase.until,
                    format!(
                        "webhook {}: back to latency {:?}, {:?}",
                        model.name, model.latency, model.outcome
                    ),
                ));
            }
        }
    }
    timeline.sort_by_key(|a| a.0);
    let mut stats = sim.stats.clone();
    stats.simulated_seconds = sim.now as f64 / NANOS_PER_SECOND as f64;
    stats.kubelet_pods = sim
        .nodes
        .iter()
        .filter_map(|n| n.agent.as_ref())
        .map(|a| a.pod_count())
        .sum();
    stats.store_pods = sim.world.cache.count(corral_api::ResourceKind::Pod);
    let workers_time = |c: &crate::driver::controller::ControllerDriver| {
        (sim.now.max(1) as f64) * c.worker_count as f64
    };
    RunReport {
        scenario: sim.scenario.name.clone(),
        scenario_path: sim.scenario.path.display().to_string(),
        seed: sim.seed,
        profile: sim.settings.profile,
        until: sim.until,
        start: sim.scenario.start,
        settings: sim.describe(),
        samples: sim.metrics.samples.clone(),
        totals: sim.metrics.totals.clone(),
        violations: sim.invariants.violations.clone(),
        assertions: sim.assertions.results.clone(),
        timeline,
        holdings: holdings::compute(&sim.world.cache, sim.now_ts),
        breaker_trips: sim.breaker_trips,
        trace_hash: sim.trace.hash(),
        mutations: sim.trace.mutations,
        stats,
        api: sim.api.stats.clone(),
        webhooks: sim.admission.stats.clone(),
        controllers: sim
            .controllers
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.syncs,
                    c.busy as f64 / workers_time(c),
                    c.depth(),
                )
            })
            .collect(),
        stopped_at: sim.stopped_at,
        trace_error: sim.trace.error().map(str::to_string),
    }
}
