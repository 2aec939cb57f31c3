//! The shared conformance suite against the in-memory twin, for both representations.

use crate::{Backend, MemoryBackend};

fn memory_backend() -> Box<dyn Backend> {
    Box::new(MemoryBackend)
}

crate::conformance_suite!(memory_backend);
