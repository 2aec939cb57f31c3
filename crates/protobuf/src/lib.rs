//! L1: decoding of Kubernetes protobuf request bodies into JSON (in progress).
