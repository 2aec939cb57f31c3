//! Compiles the vendored upstream `generated.proto` files (see `proto/README.md`) into an
//! encoded `FileDescriptorSet` that the library embeds and decodes at run time with
//! `prost-reflect`. Pure Rust (`protox`): no `protoc` is needed on the machine.

use std::path::PathBuf;

/// The object packages Corral decodes; everything they import is pulled in as well.
const ROOTS: &[&str] = &[
    "k8s.io/apimachinery/pkg/runtime/generated.proto",
    "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto",
    "k8s.io/api/core/v1/generated.proto",
    "k8s.io/api/batch/v1/generated.proto",
    "k8s.io/api/authorization/v1/generated.proto",
    "k8s.io/api/authentication/v1/generated.proto",
    "k8s.io/api/policy/v1/generated.proto",
    "corral/rbac_v1.proto",
];

fn main() {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let proto_dir = manifest_dir.join("proto");
    println!("cargo:rerun-if-changed={}", proto_dir.display());
    for root in ROOTS {
        println!("cargo:rerun-if-changed={}", proto_dir.join(root).display());
    }

    let mut compiler = match protox::Compiler::new([&proto_dir]) {
        Ok(compiler) => compiler,
        Err(err) => panic!("cannot set up the proto compiler: {err}"),
    };
    compiler.include_imports(true).include_source_info(false);
    if let Err(err) = compiler.open_files(ROOTS) {
        panic!("cannot compile the vendored Kubernetes protos: {err}");
    }
    let bytes = compiler.encode_file_descriptor_set();

    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let out = out_dir.join("k8s_descriptor_set.bin");
    if let Err(err) = std::fs::write(&out, bytes) {
        panic!("cannot write {}: {err}", out.display());
    }
}
