//! Goal: `corral sim` prints the seed and derived settings first, writes its outputs, and
//! exits non-zero with a repro command when an assertion fails. Method: run the CLI entry
//! point on the quickstart scenario with an impossible assertion added.

use clap::Parser;
use corral_sim::{ExitStatus, Profile, SimArgs};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: SimArgs,
}

#[test]
fn the_cli_prints_settings_first_and_fails_with_a_repro_command() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(super::common::example("quickstart.yaml")).unwrap();
    let text = text.replace("    max: 2\n    when: end", "    max: 0\n    when: end");
    let scenario = dir.path().join("strict.yaml");
    std::fs::write(&scenario, text).unwrap();
    let out = dir.path().join("out");
    let cli = Cli::parse_from([
        "corral-sim",
        scenario.to_str().unwrap(),
        "--seed",
        "9",
        "--until",
        "5m",
        "--out",
        out.to_str().unwrap(),
        "--trace",
        "--no-progress",
    ]);
    let mut printed = Vec::new();
    let status = corral_sim::cli::run_with_output(cli.args, &mut printed).unwrap();
    let printed = String::from_utf8(printed).unwrap();
    assert!(printed.starts_with("scenario: quickstart"), "{printed}");
    assert!(
        printed.lines().nth(1).unwrap().starts_with("seed: 9"),
        "{printed}"
    );
    assert_eq!(status, ExitStatus::Failed, "{printed}");
    assert!(
        printed.contains("FAILED — reproduce with: corral sim"),
        "{printed}"
    );
    assert!(printed.contains("--seed 9"), "{printed}");
    for file in ["metrics.csv", "report.html", "summary.txt", "trace.jsonl"] {
        assert!(out.join(file).exists(), "{file} written");
    }
}

/// Goal: one invocation runs several profiles and shows them side by side. Method: the
/// quickstart under `--profile upstream,corral` for 5 minutes; each run's outputs land in
/// its own directory, and the top-level report and summary carry both.
#[test]
fn several_profiles_run_side_by_side_in_one_invocation() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let scenario = super::common::example("quickstart.yaml");
    let cli = Cli::parse_from([
        "corral-sim",
        scenario.to_str().unwrap(),
        "--compare",
        "upstream,corral",
        "--until",
        "5m",
        "--out",
        out.to_str().unwrap(),
        "--no-progress",
    ]);
    assert_eq!(cli.args.profile, [Profile::Upstream, Profile::Corral]);
    let mut printed = Vec::new();
    corral_sim::cli::run_with_output(cli.args, &mut printed).unwrap();
    let printed = String::from_utf8(printed).unwrap();
    assert!(
        printed.contains("profiles compared: upstream vs corral"),
        "{printed}"
    );
    assert!(
        printed.contains("guards: none"),
        "upstream lists no guard: {printed}"
    );
    assert!(
        printed.contains("guards: 1 fair queue"),
        "corral lists its guards: {printed}"
    );
    for profile in ["upstream", "corral"] {
        for file in ["metrics.csv", "report.html", "summary.txt"] {
            assert!(out.join(profile).join(file).exists(), "{profile}/{file}");
        }
    }
    let summary = std::fs::read_to_string(out.join("summary.txt")).unwrap();
    let header = summary
        .lines()
        .find(|l| l.contains("upstream") && l.contains("corral") && !l.contains(':'))
        .unwrap_or_else(|| panic!("a header with both columns: {summary}"));
    assert!(header.find("upstream") < header.find("corral"), "{header}");
    assert!(
        summary.contains("unfinished jobs (peak / end)"),
        "{summary}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for series in ["unfinished jobs [upstream]", "unfinished jobs [corral]"] {
        assert!(html.contains(series), "the comparison charts name {series}");
    }
    assert!(html.contains("href=\"corral/report.html\""));
}

#[test]
fn a_single_profile_flag_still_runs_once() {
    let cli = Cli::parse_from(["corral-sim", "x.yaml", "--profile", "upstream-1.14"]);
    assert_eq!(cli.args.profile, [Profile::Upstream114]);
    assert!(Cli::try_parse_from(["corral-sim", "x.yaml", "--profile", "upstream,nope"]).is_err());
}
