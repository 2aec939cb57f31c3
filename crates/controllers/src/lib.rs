//! L1: the controllers as pure reconcilers.
//!
//! Each controller owns explicit state (expectations, backoff records) and decides in
//! `reconcile(&mut self, snapshot, key, now) -> Plan`: it reads an [`corral_core::ObjectCache`]
//! snapshot, never performs I/O, never reads a clock. Drivers (`corral-runtime` for the real
//! cluster, `corral-sim` for virtual time) execute the plans and feed the outcomes back.

pub mod cronjob;
pub mod expectations;
pub mod gc;
pub mod job;
pub mod podgc;
pub mod quota;
pub mod serviceaccount;
pub mod ttl;

pub mod holdings;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
