//! Crate tests that need the whole store: the conformance suite on the in-memory twin,
//! model-based property tests, and concurrency tests.

mod concurrency;
mod conformance_memory;
mod model;
