#![allow(dead_code)]
//! Shared helpers: load an example scenario, run it with options, capture the trace.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corral_sim::{Profile, RunReport, Scenario, SimOptions, Simulation};

pub fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

pub fn load(name: &str) -> Scenario {
    corral_sim::scenario::load(&example(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// A `Write` whose bytes the test can read afterwards.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

pub fn run(scenario: Scenario, seed: u64, profile: Option<Profile>, until: Duration) -> RunReport {
    Simulation::new(
        scenario,
        SimOptions {
            seed: Some(seed),
            until: Some(until),
            profile,
            ..Default::default()
        },
    )
    .run()
}

pub fn run_traced(scenario: Scenario, seed: u64, until: Duration) -> (RunReport, Vec<u8>) {
    let captured = Captured::default();
    let report = Simulation::new(
        scenario,
        SimOptions {
            seed: Some(seed),
            until: Some(until),
            trace: Some(Box::new(captured.clone())),
            ..Default::default()
        },
    )
    .run();
    (report, captured.bytes())
}

pub fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}
