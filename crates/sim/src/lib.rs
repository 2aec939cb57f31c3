//! L2: corral sim, the deterministic virtual-time simulator driving the same pure cores
