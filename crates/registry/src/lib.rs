//! L1: defaulting, validation and the admission chain (as a sans-IO step machine)
