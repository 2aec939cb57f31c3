//! `corral sim SCENARIO.yaml [--seed N] [--until DURATION] [--out DIR] [--profile P]
//! [--trace]`: the command-line face of the simulator. The binary (`crates/corral`) wires
//! its `sim` subcommand to [`SimArgs`] and [`run`].
//!
//! Output: the seed and every derived setting first; the summary table at the end (and in
//! `DIR/summary.txt`); `DIR/metrics.csv`, `DIR/report.html`, and with `--trace`
//! `DIR/trace.jsonl`. Exit status 1 when an assertion or invariant failed (the summary then
//! ends with the command that reproduces the run), 2 for an invalid scenario or arguments.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::profiles::Profile;
use crate::scenario::{self, ScenarioError};
use crate::sim::{RunReport, SimOptions, Simulation};

/// Arguments of `corral sim`.
#[derive(Clone, Debug, clap::Args)]
#[command(about = "Run a scenario in virtual time with the real control logic")]
pub struct SimArgs {
    /// The scenario file (YAML; see docs/sim.md).
    pub scenario: PathBuf,
    /// The seed every random choice derives from (default: the scenario's, else 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How much virtual time to run, e.g. 90m or 6h (default: the scenario's duration).
    #[arg(long, value_parser = parse_duration_arg)]
    pub until: Option<Duration>,
    /// Where to write metrics.csv, report.html, summary.txt and trace.jsonl.
    #[arg(long, default_value = "sim-out")]
    pub out: PathBuf,
    /// Control-plane profile: upstream, upstream-1.14 or corral (default: the scenario's,
    /// else upstream). Several, comma-separated (`--profile upstream,corral`, or
    /// `--compare upstream,corral`), run the scenario once per profile with the same seed:
    /// each run's outputs go to DIR/PROFILE/, and DIR/report.html and DIR/summary.txt show
    /// them side by side.
    #[arg(long, alias = "compare", value_parser = parse_profile_arg, value_delimiter = ',')]
    pub profile: Vec<Profile>,
    /// Write every store mutation as JSON lines to DIR/trace.jsonl.
    #[arg(long)]
    pub trace: bool,
    /// Do not show the progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

fn parse_duration_arg(text: &str) -> Result<Duration, String> {
    crate::time::parse_duration(text)
}

fn parse_profile_arg(text: &str) -> Result<Profile, String> {
    Profile::parse(text).ok_or_else(|| {
        format!(
            "unknown profile {text:?}: expected {}",
            Profile::NAMES.join(", ")
        )
    })
}

/// How `corral sim` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every assertion and invariant held.
    Passed,
    /// An assertion or invariant failed.
    Failed,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Passed => 0,
            ExitStatus::Failed => 1,
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}

/// Why `corral sim` could not run (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid scenario: {0}")]
    Scenario(#[from] ScenarioError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SimError + '_ {
    move |source| SimError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs `corral sim` with `args`, printing to stdout.
pub fn run(args: SimArgs) -> Result<ExitStatus, SimError> {
    let mut stdout = std::io::stdout();
    run_with_output(args, &mut stdout)
}

/// [`run`] with the terminal output going to `out` (tests capture it).
pub fn run_with_output(args: SimArgs, out: &mut dyn Write) -> Result<ExitStatus, SimError> {
    let scenario = scenario::load(&args.scenario)?;
    std::fs::create_dir_all(&args.out).map_err(io_error(&args.out))?;
    if args.profile.len() > 1 {
        return run_comparison(args, scenario, out);
    }
    let report = run_one(
        &args,
        scenario,
        args.profile.first().copied(),
        &args.out,
        out,
    )?;
    let _ = write!(out, "\n{}", crate::report::table::render(&report));
    print_outputs(out, &args.out, args.trace);
    if let Some(error) = &report.trace_error {
        let _ = writeln!(out, "warning: writing the trace failed: {error}");
    }
    Ok(if report.passed() {
        ExitStatus::Passed
    } else {
        ExitStatus::Failed
    })
}

fn print_outputs(out: &mut dyn Write, dir: &Path, trace: bool) {
    let mut files = vec!["metrics.csv", "report.html", "summary.txt"];
    if trace {
        files.push("trace.jsonl");
    }
    let _ = writeln!(out, "outputs in {}: {}", dir.display(), files.join(", "));
}

/// One run into `dir`: the settings are printed first, the outputs written at the end.
fn run_one(
    args: &SimArgs,
    scenario: scenario::Scenario,
    profile: Option<Profile>,
    dir: &Path,
    out: &mut dyn Write,
) -> Result<RunReport, SimError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let trace_path = dir.join("trace.jsonl");
    let trace: Option<Box<dyn Write>> = if args.trace {
        let file = std::fs::File::create(&trace_path).map_err(io_error(&trace_path))?;
        Some(Box::new(std::io::BufWriter::new(file)))
    } else {
        None
    };
    let simulation = Simulation::new(
        scenario,
        SimOptions {
            seed: args.seed,
            until: args.until,
            profile,
            trace,
            progress: !args.no_progress,
        },
    );
    for line in simulation.describe() {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
    let report = simulation.run();
    write_outputs(&report, dir)?;
    Ok(report)
}

/// `--profile a,b,…`: the scenario once per profile (same seed), each into `DIR/<profile>/`,
/// then the comparison page and table into `DIR`. Fails when any run failed.
fn run_comparison(
    args: SimArgs,
    scenario: scenario::Scenario,
    out: &mut dyn Write,
) -> Result<ExitStatus, SimError> {
    let mut reports = Vec::new();
    for profile in &args.profile {
        let dir = args.out.join(profile.name());
        let _ = writeln!(out, "== profile {} ==", profile.name());
        let report = run_one(&args, scenario.clone(), Some(*profile), &dir, out)?;
        let _ = writeln!(
            out,
            "{} in {:.1} s wall: {}",
            profile.name(),
            report.stats.wall_seconds,
            if report.passed() { "passed" } else { "FAILED" }
        );
        print_outputs(out, &dir, args.trace);
        reports.push(report);
    }
    let table = crate::report::table::render_comparison(&reports);
    for (name, text) in [
        (
            "report.html",
            crate::report::html::render_comparison(&reports),
        ),
        ("summary.txt", table.clone()),
    ] {
        let path = args.out.join(name);
        std::fs::write(&path, text).map_err(io_error(&path))?;
    }
    let _ = write!(out, "\n{table}");
    let _ = writeln!(
        out,
        "comparison in {}: report.html, summary.txt",
        args.out.display()
    );
    Ok(if reports.iter().all(RunReport::passed) {
        ExitStatus::Passed
    } else {
        ExitStatus::Failed
    })
}

/// Writes `metrics.csv`, `report.html` and `summary.txt` into `dir`.
pub fn write_outputs(report: &RunReport, dir: &Path) -> Result<(), SimError> {
    let files = [
        ("metrics.csv", crate::report::csv::render(&report.samples)),
        ("report.html", crate::report::html::render(report)),
        ("summary.txt", crate::report::table::render(report)),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(io_error(&path))?;
    }
    Ok(())
}
