//! Generates the estimator's protobuf messages, client and server from `proto/`.

fn main() -> std::io::Result<()> {
    tonic_prost_build::configure()
        // Sorted maps keep requests comparable and their encoding stable.
        .btree_map(".")
        .compile_protos(&["proto/estimator.proto"], &["proto"])
}
