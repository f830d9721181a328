//! Generates the marquee.v1 prost messages and tonic client/server from
//! `marquee/v1/*.proto` with the vendored protoc (no system install needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("marquee_v1_descriptor.bin"))
        .compile_with_config(config, &["marquee/v1/model.proto"], &["."])?;
    println!("cargo:rerun-if-changed=marquee/v1/model.proto");
    Ok(())
}
