//! Computes `capq_core::runs::AGGREGATE_FINGERPRINT` at every build: the fingerprint of the
//! aggregate code (`crates/capq-aggregate`'s sources, `Cargo.toml` and locked dependencies),
//! computed exactly as the processor fingerprint is (capmetrics' `fingerprint/compute.rs`,
//! compiled here as a module). A run records it with its aggregate, so a later run recomputes
//! the aggregate after any change of that code instead of reusing a stale one.

#[allow(dead_code)]
#[path = "../capmetrics/src/fingerprint/compute.rs"]
mod compute;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(crate_dir) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        eprintln!("capq-core build script: CARGO_MANIFEST_DIR is not set (run it through cargo)");
        return ExitCode::FAILURE;
    };
    let aggregate_dir = crate_dir.join("../capq-aggregate");
    let Some(lock_file) = compute::find_lock_file(&crate_dir) else {
        eprintln!(
            "capq-core build script: no Cargo.lock in {} or above it",
            crate_dir.display()
        );
        return ExitCode::FAILURE;
    };
    let computed = match compute::processor_fingerprint(&aggregate_dir, &lock_file) {
        Ok(computed) => computed,
        Err(e) => {
            eprintln!(
                "capq-core build script: cannot fingerprint {}: {e}",
                aggregate_dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    println!(
        "cargo::rerun-if-changed={}",
        aggregate_dir.join("src").display()
    );
    println!("cargo::rerun-if-changed=../capmetrics/src/fingerprint/compute.rs");
    for file in &computed.files {
        println!("cargo::rerun-if-changed={}", file.display());
    }
    println!(
        "cargo::rustc-env=CAPQ_AGGREGATE_FINGERPRINT={}",
        computed.fingerprint
    );
    ExitCode::SUCCESS
}
