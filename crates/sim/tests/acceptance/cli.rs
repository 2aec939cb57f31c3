//! Goal: `corral sim` prints the seed and derived settings first, writes its outputs, and
//! exits non-zero with a repro command when an assertion fails. Method: run the CLI entry
//! point on the quickstart scenario with an impossible assertion added.

use clap::Parser;
use corral_sim::{ExitStatus, SimArgs};

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
