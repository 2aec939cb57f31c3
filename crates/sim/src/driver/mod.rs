//! Drivers: how the simulator runs each pure core in virtual time.
//!
//! - [`controller`]: any [`corral_core::Reconciler`] (controllers and the scheduler):
//!   its queue with its own rate limiter, W workers, plans executed action by action
//!   through the virtual API client with the worker busy while its calls are in flight;
//! - [`node`]: one kubelet core per simulated node, with the scenario's behaviour models
//!   playing the container runtime.
//!
//! The loop that ties them together is in `crate::engine`.

pub mod controller;
pub mod node;
