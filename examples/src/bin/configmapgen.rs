//! `examples/examples/configmapgen.rs` as a binary of this package too, so that the integration tests
//! (`tests/binaries.rs`) run the example as users do: cargo builds a package's binaries, fresh,
//! before its integration tests and tells them where (`CARGO_BIN_EXE_configmapgen`).

#[path = "../../examples/configmapgen.rs"]
mod program;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    program::main()
}
