//! The simulator's acceptance tests, in one binary (one link, one process): determinism,
//! the two example scenarios of the issue, the checkers, scenario validation, the
//! outputs and the CLI.

mod cli;
mod common;
mod determinism;
mod failing_jobs;
mod guards;
mod invariants;
mod report;
mod scenario_errors;
mod snowball;
