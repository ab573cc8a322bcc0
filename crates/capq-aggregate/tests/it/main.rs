//! Integration tests of the aggregate: exact tables against an independent computation (a
//! Python script written from AGGREGATE.md), partials against CSVs, and the rules on a tiny
//! hand-made data set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod errors;
mod exact;
mod partials;
mod report;
mod tiny;

use std::path::{Path, PathBuf};
use std::process::Command;

use capmetrics::{Catalog, Date, LocalDir};
use capq_aggregate::{
    DayEntry, Error, FileInfo, FolderOptions, FolderOutput, aggregate_folder, folder_days,
};

/// `testdata/capmetrics` in the repository.
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/capmetrics")
}

/// The folder's files as a local listing would give them (sizes and modification times).
pub fn list(dir: &Path) -> Vec<DayEntry> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        files.push(FileInfo {
            name: entry.file_name().into_string().unwrap(),
            size: Some(meta.len()),
            modified: meta.modified().ok(),
        });
    }
    folder_days(files).0
}

/// Aggregates a local folder through the library call the binary uses.
pub fn aggregate_dir(dir: &Path, options: &FolderOptions) -> FolderOutput {
    let entries = list(dir);
    let fetch = |name: &str| -> Result<Option<Vec<u8>>, Error> {
        match std::fs::read(dir.join(name)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Fetch {
                file: name.to_owned(),
                detail: e.to_string(),
                input_error: false,
            }),
        }
    };
    aggregate_folder(&entries, &fetch, options).unwrap()
}

/// The files of an aggregate, by name (everything but report.html).
pub fn files_of(output: &FolderOutput) -> Vec<(&'static str, Vec<u8>)> {
    let f = &output.aggregate.files;
    vec![
        ("system_daily.csv", f.system_daily.clone()),
        ("route.csv", f.route.clone()),
        ("route_hour.csv", f.route_hour.clone()),
        ("stop.csv", f.stop.clone()),
        ("histogram.csv", f.histogram.clone()),
        ("headway.csv", f.headway.clone()),
        ("summary.json", f.summary_json.clone()),
    ]
}

/// Runs the independent Python computation on `input` and returns its files.
pub fn reference(input: &Path, args: &[&str]) -> Vec<(&'static str, Vec<u8>)> {
    let out = tempfile::tempdir().unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/aggregate_reference.py");
    let output = Command::new(capq_test_support::python::venv_python())
        .arg(&script)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(out.path())
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the reference script failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    [
        "system_daily.csv",
        "route.csv",
        "route_hour.csv",
        "stop.csv",
        "histogram.csv",
        "headway.csv",
        "summary.json",
    ]
    .into_iter()
    .map(|name| (name, std::fs::read(out.path().join(name)).unwrap()))
    .collect()
}

/// Asserts that two sets of files are byte-identical, showing the first differing line.
pub fn assert_same(what: &str, expected: &[(&str, Vec<u8>)], actual: &[(&str, Vec<u8>)]) {
    assert_eq!(expected.len(), actual.len());
    for ((name, want), (_, got)) in expected.iter().zip(actual) {
        if want == got {
            continue;
        }
        let want = String::from_utf8_lossy(want);
        let got = String::from_utf8_lossy(got);
        let line = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| want.lines().count().min(got.lines().count()));
        panic!(
            "{what}: {name} differs at line {}:\nexpected: {:?}\nactual:   {:?}\n({} vs {} lines)",
            line + 1,
            want.lines().nth(line),
            got.lines().nth(line),
            want.lines().count(),
            got.lines().count(),
        );
    }
}

/// A folder of processed days made with the capmetrics processor from
/// `testdata/capmetrics/data`: every day it processes (days that fail to process are left out,
/// as a run leaves no output for them). Made once per test binary; tests must not change it.
pub fn processed_data_days() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(make_processed_data_days).path()
}

fn make_processed_data_days() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = testdata().join("data");
    let catalog = Catalog::new(LocalDir::new(&data));
    for entry in std::fs::read_dir(data.join("vehicle_positions")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let day: Date = name.split('.').next().unwrap().parse().unwrap();
        if let Ok(output) = catalog.process(day) {
            std::fs::write(dir.path().join(format!("{day}_processed.csv")), output.csv).unwrap();
        }
    }
    dir
}

/// A folder with the old program's reference outputs (printed by pandas with 12 significant
/// digits, `sched_dev` as `48.0`), gzipped as they are stored.
pub fn reference_days() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(testdata().join("reference")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        let day = name.strip_suffix(".csv.gz").unwrap();
        std::fs::copy(&path, dir.path().join(format!("{day}_processed.csv.gz"))).unwrap();
    }
    dir
}
