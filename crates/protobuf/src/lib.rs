//! L1: decoding of Kubernetes protobuf request bodies into JSON (in progress).
pub const DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/k8s_descriptor_set.bin"));
