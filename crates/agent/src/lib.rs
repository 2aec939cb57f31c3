//! L2: the node agent runtime (in progress).
