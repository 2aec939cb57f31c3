//! L1: the scheduler as a pure core (upstream `pkg/scheduler`, the parts batch workloads
//! exercise).
//!
//! - [`queue`]: active / backoff / unschedulable queues with upstream's timings;
//! - [`node_info`]: per-node accounting of bound and assumed pods, kept incrementally;
//! - [`resources`]: pod requests (init containers, sidecars, overhead);
//! - [`filters`]: NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit and
//!   the scores (LeastAllocated, PreferNoSchedule taints, preferred node affinity);
//! - [`volume`]: the VolumeBinding PreFilter;
//! - [`message`]: the FailedScheduling message;
//! - [`scheduler`]: the [`Scheduler`] core, also a [`corral_core::Reconciler`].
//!
//! No I/O, no clock reads, no randomness: ties go to the first node in the rotating walk.

pub mod filters;
pub mod message;
pub mod node_info;
pub mod queue;
pub mod resources;
pub mod scheduler;
pub mod volume;

pub use message::Diagnosis;
pub use node_info::{NodeInfo, NodeTable, PodAccount};
pub use queue::{Location, QueueTiming, SchedulingQueue};
pub use scheduler::{Decision, Scheduler, SchedulerConfig, num_feasible_nodes_to_find};
