//! Tests of the Job controller in virtual time.
//!
//! Goal: the spec's §7.2 scenarios and §8 constants, upstream's edge cases, and the
//! counting invariants, checked end to end. Method: the [`harness`] drives the controller
//! against `TestCluster` with a scripted kubelet; each test states the scenario, runs it
//! to a bound, and asserts counts, conditions, events and timing.

mod failing;
mod guards;
mod harness;
mod indexed;
mod kubelet;
mod lifecycle;
mod policies;
mod properties;
mod rig;
mod units;
