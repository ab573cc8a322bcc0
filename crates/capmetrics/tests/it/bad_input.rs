//! Malformed input fails the day with a message naming the file, line and column, and odd but
//! well-formed input is handled as the spec decides.

use std::fs;
use std::io::Write;
use std::path::Path;

use capmetrics::{Catalog, DayOutput, DropReason, Error, LocalDir};
use flate2::Compression;
use flate2::write::GzEncoder;
use tempfile::TempDir;

use crate::testdata;

const DAY: &str = "2016-11-25";
const HEADER: &str = "vehicle_id,timestamp,speed,route_id,trip_id,latitude,longitude,trip_headsign";
const GOOD: &str = "2223,2016-11-25T23:34:14-06:00,4.91744,1,1669610,30.290358,-97.74142,1-Metric/South Congress-SB";

/// A data folder holding the fixture's metadata and `positions` as the day's positions file.
fn data_dir(positions: &[u8], gzip: bool) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = testdata().join("fixture/data");
    for folder in ["stops", "schedule"] {
        copy_folder(&fixture.join(folder), &dir.path().join(folder));
    }
    let folder = dir.path().join("vehicle_positions");
    fs::create_dir_all(&folder).unwrap();
    if gzip {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(positions).unwrap();
        fs::write(folder.join(format!("{DAY}.csv.gz")), enc.finish().unwrap()).unwrap();
    } else {
        fs::write(folder.join(format!("{DAY}.csv")), positions).unwrap();
    }
    dir
}

fn copy_folder(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn run(dir: &TempDir) -> Result<DayOutput, Error> {
    Catalog::new(LocalDir::new(dir.path())).process(DAY.parse().unwrap())
}

fn failure(positions: &str) -> String {
    let dir = data_dir(positions.as_bytes(), false);
    let err = run(&dir).expect_err("the day must fail");
    assert!(err.is_input_error(), "{err}");
    err.to_string()
}

fn assert_names(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{message:?} should name {part:?}");
    }
}

#[test]
fn non_numeric_coordinate() {
    let bad = GOOD.replace("30.290358", "30.29o358");
    let message = failure(&format!("{HEADER}\n{GOOD}\n{bad}\n"));
    assert_names(
        &message,
        &[
            "2016-11-25.csv",
            "line 3",
            "`latitude`",
            "not a number",
            "30.29o358",
        ],
    );
}

#[test]
fn short_row() {
    let message = failure(&format!(
        "{HEADER}\n{GOOD}\n{GOOD}\n2223,2016-11-25T23:34:14-06:00,4.9\n"
    ));
    assert_names(
        &message,
        &["2016-11-25.csv", "line 4", "expected 8 fields", "found 3"],
    );
}

#[test]
fn unparsable_timestamp() {
    let bad = GOOD.replace("2016-11-25T23:34:14-06:00", "25/11/2016 23:34");
    let message = failure(&format!("{HEADER}\n{bad}\n"));
    assert_names(
        &message,
        &[
            "2016-11-25.csv",
            "line 2",
            "`timestamp`",
            "25/11/2016 23:34",
        ],
    );
}

#[test]
fn missing_column() {
    let header = HEADER.replace("longitude", "lng");
    let message = failure(&format!("{header}\n{GOOD}\n"));
    assert_names(
        &message,
        &["2016-11-25.csv", "line 1", "missing column `longitude`"],
    );
}

#[test]
fn invalid_utf8() {
    let mut bytes = format!("{HEADER}\n{GOOD}\n").into_bytes();
    bytes.extend_from_slice(GOOD.replace("Congress", "Congr\u{e8}s").as_bytes());
    let at = bytes.len() - 8;
    bytes[at] = 0xff;
    let dir = data_dir(&bytes, false);
    let message = run(&dir).unwrap_err().to_string();
    assert_names(
        &message,
        &[
            "2016-11-25.csv",
            "line 3",
            "`trip_headsign`",
            "invalid UTF-8",
        ],
    );
}

#[test]
fn truncated_gzip() {
    let body = format!("{HEADER}\n{}", format!("{GOOD}\n").repeat(2000));
    let dir = data_dir(body.as_bytes(), true);
    let path = dir.path().join(format!("vehicle_positions/{DAY}.csv.gz"));
    let packed = fs::read(&path).unwrap();
    fs::write(&path, &packed[..packed.len() * 2 / 3]).unwrap();
    let err = run(&dir).unwrap_err();
    assert!(matches!(err, Error::Gzip { .. }), "{err:?}");
    assert_names(&err.to_string(), &["2016-11-25.csv.gz", "truncated"]);
}

#[test]
fn a_day_with_no_metadata() {
    let dir = data_dir(format!("{HEADER}\n{GOOD}\n").as_bytes(), false);
    fs::remove_dir_all(dir.path().join("stops")).unwrap();
    fs::remove_dir_all(dir.path().join("schedule")).unwrap();
    let message = run(&dir).unwrap_err().to_string();
    assert_names(&message, &["2016-11-25", "no stops file covers"]);
}

#[test]
fn a_missing_schedule_file() {
    let dir = data_dir(format!("{HEADER}\n{GOOD}\n").as_bytes(), false);
    fs::remove_file(
        dir.path()
            .join("schedule/schedule_20160821_20170121.csv.gz"),
    )
    .unwrap();
    let message = run(&dir).unwrap_err().to_string();
    assert_names(
        &message,
        &["2016-11-25", "no schedule file covers", "schedule"],
    );
}

#[test]
fn a_corrupt_schedule_names_its_file_and_line() {
    let dir = data_dir(format!("{HEADER}\n{GOOD}\n").as_bytes(), false);
    let path = dir
        .path()
        .join("schedule/schedule_20160821_20170121.csv.gz");
    fs::write(&path, "trip_id,arrival_time,stop_id,sunday,monday,tuesday,wednesday,thursday,friday,saturday\n1669610,5:3x:00,495,1,1,1,1,1,1,1\n").unwrap();
    let message = run(&dir).unwrap_err().to_string();
    assert_names(
        &message,
        &[
            "schedule_20160821_20170121.csv.gz",
            "line 2",
            "`arrival_time`",
            "5:3x:00",
        ],
    );
}

#[test]
fn a_header_only_day_succeeds_empty() {
    let dir = data_dir(format!("{HEADER}\n").as_bytes(), false);
    let out = run(&dir).unwrap();
    assert_eq!(out.diagnostics.rows_in, 0);
    assert_eq!(
        out.csv,
        format!("{}\n", capmetrics::output::HEADER).into_bytes()
    );
}

#[test]
fn an_empty_file_has_no_header() {
    let message = failure("");
    assert_names(&message, &["2016-11-25.csv", "empty", "header"]);
}

#[test]
fn no_position_matches_a_scheduled_trip() {
    let unknown = GOOD.replace("1669610", "999");
    let out = run(&data_dir(
        format!("{HEADER}\n{unknown}\n{unknown}\n").as_bytes(),
        false,
    ))
    .unwrap();
    assert_eq!(out.diagnostics.rows_out, 0);
    assert_eq!(out.diagnostics.dropped(DropReason::NoCandidateStop), 2);
}

#[test]
fn empty_trip_ids_are_skipped_and_counted() {
    let no_trip = GOOD.replace("1669610", "");
    let out = run(&data_dir(
        format!("{HEADER}\n{no_trip}\n{GOOD}\n").as_bytes(),
        false,
    ))
    .unwrap();
    let d = out.diagnostics;
    assert_eq!(
        (d.rows_in, d.rows_out, d.dropped(DropReason::EmptyTripId)),
        (2, 1, 1)
    );
}

#[test]
fn quoted_fields_crlf_bom_and_reordered_columns() {
    // The same row, written differently: CRLF endings, a byte-order mark, columns reordered and
    // a headsign that needs quoting.
    let text = "\u{feff}trip_id,vehicle_id,timestamp,speed,route_id,latitude,longitude,trip_headsign\r\n\
        1669610,2223,2016-11-25T23:34:14-06:00,4.91744,1,30.290358,-97.74142,\"Metric, \"\"SB\"\"\"\r\n";
    let out = run(&data_dir(text.as_bytes(), false)).unwrap();
    let csv = String::from_utf8(out.csv).unwrap();
    assert_eq!(out.diagnostics.rows_out, 1, "{csv}");
    assert!(
        csv.contains(",\"Metric, \"\"SB\"\"\",30.29067,-97.74141,495,2016-11-25T23:34:46-06:00,"),
        "{csv}"
    );
}

/// The longest error message a bad file may produce: a path, a position and short excerpts.
const SHORT_MESSAGE: usize = 500;

#[test]
fn a_huge_file_on_one_line_gives_a_short_error() {
    // 64 MB with no line feed: the header is the whole file.
    let size = 64 << 20;
    let dir = data_dir(&vec![b'x'; size], false);
    let message = run(&dir).unwrap_err().to_string();
    assert!(message.len() < SHORT_MESSAGE, "{} bytes", message.len());
    assert_names(
        &message,
        &[
            "2016-11-25.csv",
            "line 1",
            "missing column `vehicle_id`",
            &format!("…\" ({size} bytes)"),
        ],
    );
}

#[test]
fn old_mac_line_ends_are_named_in_a_short_error() {
    // About 2 MB of rows ending in a bare carriage return: one line, as far as CSV goes.
    let body = format!("{HEADER}\r{}", format!("{GOOD}\r").repeat(20_000));
    let message = failure(&body);
    assert!(message.len() < SHORT_MESSAGE, "{} bytes", message.len());
    assert_names(
        &message,
        &[
            "2016-11-25.csv",
            "line 1",
            "bare \\r",
            &format!("({} bytes)", body.len() - 1),
        ],
    );
    // Even when every column the day needs is in the header's first part, so that the merged
    // last column is not needed: an error, not a silently empty day.
    let extra = format!("{HEADER},extra\r{GOOD},x\r{GOOD},x\r");
    assert_names(&failure(&extra), &["bare \\r"]);
}

#[test]
fn a_huge_cell_is_quoted_as_an_excerpt() {
    let long = "9".repeat(1 << 20);
    let bad = GOOD.replace("30.290358", &format!("30.{long}x"));
    let message = failure(&format!("{HEADER}\n{GOOD}\n{bad}\n"));
    assert!(message.len() < SHORT_MESSAGE, "{} bytes", message.len());
    assert_names(
        &message,
        &[
            "line 3",
            "`latitude`",
            "not a number",
            "\"30.999",
            &format!("…\" ({} bytes)", long.len() + 4),
        ],
    );
    // A short value is quoted whole, escaped.
    let bad = GOOD.replace("30.290358", "30.2\t9");
    assert_names(&failure(&format!("{HEADER}\n{bad}\n")), &["\"30.2\\t9\""]);
}

#[test]
fn a_line_of_millions_of_fields_is_refused_early() {
    let message = failure(&format!("{HEADER}\n{}\n", ",".repeat(10_000_000)));
    assert!(message.len() < SHORT_MESSAGE, "{} bytes", message.len());
    assert_names(&message, &["line 2", "more than 4096 fields"]);
}

#[test]
fn invalid_utf8_in_a_huge_header_names_the_column_by_number() {
    let mut bytes = vec![b'a'; 4 << 20];
    bytes.extend_from_slice(b",b\xff\n");
    let dir = data_dir(&bytes, false);
    let message = run(&dir).unwrap_err().to_string();
    assert!(message.len() < SHORT_MESSAGE, "{} bytes", message.len());
    assert_names(&message, &["line 1", "column `b", "invalid UTF-8"]);
    let mut bytes = vec![b'a'; 4 << 20];
    bytes.extend_from_slice(b"\xff\n");
    let message = run(&data_dir(&bytes, false)).unwrap_err().to_string();
    assert!(message.len() < SHORT_MESSAGE, "{} bytes", message.len());
    assert_names(&message, &["line 1", "column `#1`", "invalid UTF-8"]);
}
