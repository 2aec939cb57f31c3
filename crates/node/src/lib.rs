//! L1: the node agent's pod lifecycle state machine (kubelet semantics) as a pure core
