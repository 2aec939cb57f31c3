//! L2: the admission webhook client (in progress).
