//! Compiles the `.proto` sources under this directory with `protox` (a
//! pure-Rust protobuf compiler, so no system `protoc` is needed) and generates
//! prost messages and tonic clients and servers for the `eigen.*` packages.
//!
//! It also writes the encoded file descriptor set of every file, imports
//! included (`google.protobuf`, `google.rpc`), which `src/lib.rs` exposes as
//! `FILE_DESCRIPTOR_SET` for server reflection.

use std::path::PathBuf;

/// Every source file, relative to this crate's root (the include root).
const PROTOS: &[&str] = &[
    "eigen/api/v1/program.proto",
    "eigen/api/v1/job.proto",
    "eigen/api/v1/device.proto",
    "eigen/api/v1/compilation.proto",
    "eigen/kernel/v0/gateway.proto",
    // Not imported by the eigen files, but registered for reflection so that
    // clients can decode the error details every failed call carries.
    "google/rpc/status.proto",
    "google/rpc/error_details.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    for dir in ["eigen", "google"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }

    let mut compiler = protox::Compiler::new([&root])?;
    compiler.include_imports(true).include_source_info(true);
    for proto in PROTOS {
        compiler.open_file(proto).map_err(|e| format!("{proto}: {e:?}"))?;
    }
    std::fs::write(out_dir.join("eigen_descriptor.bin"), compiler.encode_file_descriptor_set())?;

    // Rust is generated for our packages only: google.protobuf comes from
    // prost-types (an extern path prost-build sets by default; its
    // descriptors stay in the set so prost-build can see the imported
    // types), google.rpc from tonic-types in the crates that need it.
    let mut fds = compiler.file_descriptor_set();
    fds.file.retain(|f| f.package() != "google.rpc");
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .emit_rerun_if_changed(false)
        .compile_fds(fds)?;
    Ok(())
}
