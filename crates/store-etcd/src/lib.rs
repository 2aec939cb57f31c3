//! L2: etcd v3 backend for corral-store (in progress).
