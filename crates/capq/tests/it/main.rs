//! End-to-end tests of the `capq` binary: exit codes, messages, and the files it leaves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dashboard;
mod process;
mod queue;
mod reliability;
mod run;

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

pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/capmetrics")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
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
