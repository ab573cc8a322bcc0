//! Computes the processor fingerprint (`capmetrics::PROCESSOR_FINGERPRINT`) at every build from
//! this crate's sources, its `Cargo.toml` and its dependencies' locked versions.
//!
//! The computation lives in `src/fingerprint/compute.rs`, compiled here as a module and in the
//! library too, so its tests run exactly the code that produced the constant. Cargo reruns this
//! script when any hashed file changes, or when a file appears in or disappears from `src/`.

// The library uses more of the module (its tests, the hasher) than this script does.
#[allow(dead_code)]
#[path = "src/fingerprint/compute.rs"]
mod compute;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(crate_dir) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        eprintln!("capmetrics build script: CARGO_MANIFEST_DIR is not set (run it through cargo)");
        return ExitCode::FAILURE;
    };
    let Some(lock_file) = compute::find_lock_file(&crate_dir) else {
        eprintln!(
            "capmetrics build script: no Cargo.lock in {} or above it; the processor \
             fingerprint needs the locked dependency versions",
            crate_dir.display()
        );
        return ExitCode::FAILURE;
    };
    let computed = match compute::processor_fingerprint(&crate_dir, &lock_file) {
        Ok(computed) => computed,
        Err(e) => {
            eprintln!("capmetrics build script: cannot compute the processor fingerprint: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The folder itself: cargo then notices files added to or removed from it.
    println!(
        "cargo::rerun-if-changed={}",
        crate_dir.join("src").display()
    );
    for file in &computed.files {
        println!("cargo::rerun-if-changed={}", file.display());
    }
    println!(
        "cargo::rustc-env=CAPMETRICS_PROCESSOR_FINGERPRINT={}",
        computed.fingerprint
    );
    ExitCode::SUCCESS
}
