//! End-to-end tests of the `capq` binary: exit codes, messages, and the files it leaves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aggregate;
mod batch_aggregate;
mod cluster;
mod dashboard;
mod deploy;
mod diff;
mod fuzz_regressions;
mod incremental;
mod messages;
mod partition;
mod process;
mod queue;
mod reliability;
mod report_browser;
mod run;
mod version;
mod worker_safety;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn capq(args: &[&str]) -> Output {
    capq_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

pub fn capq_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capq"))
        .args(args)
        .current_dir(dir)
        .env_remove("CAPQ_DATA")
        .output()
        .expect("capq runs")
}

/// The binary the one-machine-cluster test runs: `CAPQ_BIN` when set (scripts/test points it at
/// the release binary scripts/build-release made, the image's build), else this build's.
pub fn capq_bin() -> PathBuf {
    std::env::var_os("CAPQ_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_capq")), PathBuf::from)
}

pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/capmetrics")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Copies the `stops/` and `schedule/` folders of the data folder `from` into `to`.
pub fn copy_metadata(from: &Path, to: &Path) {
    for folder in ["stops", "schedule"] {
        std::fs::create_dir_all(to.join(folder)).unwrap();
        for entry in std::fs::read_dir(from.join(folder)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(folder).join(entry.file_name())).unwrap();
        }
    }
}

/// Files in `dir`, sorted, including hidden ones (where temporary files would hide).
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}
