//! L2: `corral sim`, the time machine. It runs the *same* control logic as production —
//! the Job, CronJob, garbage-collection, TTL, pod-GC and node-lifecycle controllers, the
//! scheduler, the kubelet core, the registry's admission path and the real object store —
//! in virtual time, deterministically from one seed, so a day of a busy cluster or a slow
//! webhook plays out in seconds.
//!
//! - [`scenario`]: the scenario file (cluster, control plane, manifests, behaviour models,
//!   webhook models, timeline, faults, assertions), validated with file and line;
//! - [`world`]: the store, the informer cache and the write path;
//! - [`queue`]: the event heap ordered by (virtual time, sequence);
//! - [`driver`]: the generic reconciler driver and the node driver with its simulated
//!   container runtime; `engine`: the event loop that ties them together;
//! - [`api`] and [`admission`]: the virtual API client (QPS, latency, faults, webhook
//!   timing, the request timeout);
//! - [`profiles`]: `upstream`, `upstream-1.14`, `corral` (configurations, never logic);
//! - [`metrics`], [`invariants`], [`assertions`], [`trace`], [`report`]: what a run
//!   measures, checks and writes;
//! - [`cli`]: `corral sim` ([`cli::SimArgs`], [`cli::run`]).
//!
//! The loop is deterministic: one [`corral_core::SimRng`] seed, per-component generators
//! derived with `fork`, ordered maps wherever order matters. File I/O happens only in
//! [`scenario::load`] and the CLI's outputs.

mod actions;
pub mod admission;
pub mod api;
pub mod assertions;
mod calls;
pub mod cli;
pub mod driver;
mod engine;
pub mod invariants;
pub mod metrics;
pub mod patching;
pub mod profiles;
pub mod queue;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod time;
pub mod trace;
pub mod world;

pub use cli::{ExitStatus, SimArgs, SimError};
pub use profiles::Profile;
pub use scenario::{Scenario, ScenarioError};
pub use sim::{RunReport, SimOptions, Simulation};
