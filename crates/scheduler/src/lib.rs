//! L1: scheduling queue, filters and scores as a pure core
