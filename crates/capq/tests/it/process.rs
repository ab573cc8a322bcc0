//! `capq process`: one day, exit codes 0/1/2, and nothing written on failure.

use std::fs;
use std::path::Path;

use capmetrics::equivalence::compare;
use tempfile::TempDir;

use crate::{capq, files_in, stderr, testdata};

const HEADER: &str = "vehicle_id,timestamp,speed,route_id,trip_id,latitude,longitude,trip_headsign";
const GOOD: &str = "2223,2016-11-25T23:34:14-06:00,4.91744,1,1669610,30.290358,-97.74142,1-Metric/South Congress-SB";

/// A data folder with the fixture's metadata and the given positions file for 2016-11-25.
fn data_with(positions: &[u8], name: &str) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = testdata().join("fixture/data");
    for folder in ["stops", "schedule"] {
        fs::create_dir_all(dir.path().join(folder)).unwrap();
        for entry in fs::read_dir(fixture.join(folder)).unwrap() {
            let entry = entry.unwrap();
            fs::copy(
                entry.path(),
                dir.path().join(folder).join(entry.file_name()),
            )
            .unwrap();
        }
    }
    fs::create_dir_all(dir.path().join("vehicle_positions")).unwrap();
    fs::write(dir.path().join("vehicle_positions").join(name), positions).unwrap();
    dir
}

fn process(data: &Path, day: &str, out: &Path) -> std::process::Output {
    capq(&[
        "process",
        "--data",
        data.to_str().unwrap(),
        "--day",
        day,
        "--output",
        out.to_str().unwrap(),
    ])
}

#[test]
fn the_fixture_day_matches_the_old_output() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("2016-11-25_processed.csv");
    let result = process(&testdata().join("fixture/data"), "2016-11-25", &out);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert!(
        stderr(&result).contains("2016-11-25: 29 rows in, 21 out"),
        "{}",
        stderr(&result)
    );
    let expected = fs::read(testdata().join("fixture/expected/2016-11-25.csv")).unwrap();
    assert_eq!(compare(&expected, &fs::read(&out).unwrap()), Ok(21));
    assert_eq!(files_in(out_dir.path()), ["2016-11-25_processed.csv"]);
}

#[test]
fn output_to_stdout() {
    let result = capq(&[
        "process",
        "--data",
        testdata().join("fixture/data").to_str().unwrap(),
        "--day",
        "2016-11-25",
        "--output",
        "-",
    ]);
    assert_eq!(result.status.code(), Some(0));
    assert_eq!(result.stdout.iter().filter(|&&b| b == b'\n').count(), 22);
}

/// Each kind of bad input exits 1, names the file and the line or day, and writes nothing.
#[test]
fn bad_input_exits_1_and_writes_nothing() {
    let gzip_cut = {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(format!("{HEADER}\n{}", format!("{GOOD}\n").repeat(500)).as_bytes())
            .unwrap();
        let packed = enc.finish().unwrap();
        packed[..packed.len() / 2].to_vec()
    };
    let mut bad_utf8 = format!("{HEADER}\n{GOOD}\n").into_bytes();
    bad_utf8.extend_from_slice(
        b"2223,2016-11-25T23:34:14-06:00,4.9,1,1669610,30.29,-97.74,Congr\xe8s\n",
    );
    let cases: Vec<(&str, Vec<u8>, &str, Vec<&str>)> = vec![
        (
            "non-numeric coordinate",
            format!("{HEADER}\n{}\n", GOOD.replace("30.290358", "north")).into_bytes(),
            "2016-11-25.csv",
            vec!["line 2", "latitude", "north"],
        ),
        (
            "short row",
            format!("{HEADER}\n{GOOD}\n2223,2016-11-25T23:34:14-06:00\n").into_bytes(),
            "2016-11-25.csv",
            vec!["line 3", "expected 8 fields", "found 2"],
        ),
        (
            "unparsable timestamp",
            format!("{HEADER}\n{}\n", GOOD.replace("T23:34:14", "T25:34:14")).into_bytes(),
            "2016-11-25.csv",
            vec!["line 2", "timestamp"],
        ),
        (
            "missing column",
            format!("{}\n{GOOD}\n", HEADER.replace(",speed", ",velocity")).into_bytes(),
            "2016-11-25.csv",
            vec!["line 1", "missing column `speed`"],
        ),
        (
            "invalid UTF-8",
            bad_utf8,
            "2016-11-25.csv",
            vec!["line 3", "trip_headsign", "UTF-8"],
        ),
        (
            "truncated gzip",
            gzip_cut,
            "2016-11-25.csv.gz",
            vec!["gzip"],
        ),
    ];
    for (what, positions, name, expected) in cases {
        let data = data_with(&positions, name);
        let out_dir = tempfile::tempdir().unwrap();
        let result = process(data.path(), "2016-11-25", &out_dir.path().join("day.csv"));
        let message = stderr(&result);
        assert_eq!(result.status.code(), Some(1), "{what}: {message}");
        assert!(message.contains(name), "{what}: {message:?} names {name}");
        for part in expected {
            assert!(
                message.contains(part),
                "{what}: {message:?} should contain {part:?}"
            );
        }
        assert!(!message.contains("panicked"), "{what}: {message}");
        assert!(
            files_in(out_dir.path()).is_empty(),
            "{what}: wrote {:?}",
            files_in(out_dir.path())
        );
    }
}

#[test]
fn missing_metadata_exits_1_and_names_the_day() {
    let data = data_with(format!("{HEADER}\n{GOOD}\n").as_bytes(), "2016-11-25.csv");
    fs::remove_dir_all(data.path().join("schedule")).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let result = process(data.path(), "2016-11-25", &out_dir.path().join("day.csv"));
    assert_eq!(result.status.code(), Some(1));
    assert!(
        stderr(&result).contains("2016-11-25") && stderr(&result).contains("no schedule file"),
        "{}",
        stderr(&result)
    );
    assert!(files_in(out_dir.path()).is_empty());

    // A day with no metadata at all, from the real data.
    let result = process(
        &testdata().join("data"),
        "2017-03-16",
        &out_dir.path().join("day.csv"),
    );
    assert_eq!(result.status.code(), Some(1));
    assert!(
        stderr(&result).contains("2017-03-16") && stderr(&result).contains("no stops file"),
        "{}",
        stderr(&result)
    );
    assert!(files_in(out_dir.path()).is_empty());
}

#[test]
fn a_header_only_day_succeeds_with_a_header_only_output() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("day.csv");
    let result = process(&testdata().join("data"), "2016-02-14", &out);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        format!("{}\n", capmetrics::output::HEADER)
    );
}

#[test]
fn bad_arguments_exit_1() {
    let data = testdata().join("data");
    let data = data.to_str().unwrap();
    for args in [
        vec![
            "process",
            "--data",
            data,
            "--day",
            "2016-13-01",
            "--output",
            "x.csv",
        ],
        vec![
            "process",
            "--data",
            data,
            "--day",
            "2016-11-28",
            "--output",
            "x.csv",
        ],
        vec![
            "process",
            "--data",
            "/nonexistent/folder",
            "--day",
            "2016-11-24",
            "--output",
            "x.csv",
        ],
        vec!["process", "--day", "2016-11-24"],
        vec!["process", "--bogus"],
        vec!["frobnicate"],
    ] {
        let result = capq(&args);
        assert_eq!(
            result.status.code(),
            Some(1),
            "{args:?}: {}",
            stderr(&result)
        );
        assert!(!stderr(&result).is_empty());
    }
    assert_eq!(capq(&["--help"]).status.code(), Some(0));
}

#[test]
fn an_unwritable_output_is_an_internal_error() {
    let out_dir = tempfile::tempdir().unwrap();
    // The output path is an existing, non-empty folder: the rename cannot replace it.
    let blocked = out_dir.path().join("blocked");
    fs::create_dir_all(blocked.join("inside")).unwrap();
    let result = process(&testdata().join("fixture/data"), "2016-11-25", &blocked);
    assert_eq!(result.status.code(), Some(2), "{}", stderr(&result));
    assert!(stderr(&result).contains("blocked"), "{}", stderr(&result));
    assert_eq!(files_in(out_dir.path()), ["blocked"]);
}
