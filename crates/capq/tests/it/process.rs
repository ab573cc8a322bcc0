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
    crate::copy_metadata(&fixture, dir.path());
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
    // The day's aggregate partial beside it, describing exactly that file.
    assert_eq!(
        files_in(out_dir.path()),
        ["2016-11-25_processed.csv", "2016-11-25_processed.partial"]
    );
    let csv = fs::read(&out).unwrap();
    let partial = capq_aggregate::DayPartial::decode(
        "partial",
        &fs::read(out_dir.path().join("2016-11-25_processed.partial")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        partial,
        capq_aggregate::DayPartial::from_csv(
            "2016-11-25".parse().unwrap(),
            "2016-11-25_processed.csv",
            &csv
        )
        .unwrap()
    );
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

/// `capq process` of the fixture day into `output` (a path or URL), with extra environment.
fn process_to(output: &str, env: &[(String, String)]) -> std::process::Output {
    process_in(&std::env::temp_dir(), output, env)
}

/// [`process_to`] run in the folder `cwd`.
fn process_in(cwd: &Path, output: &str, env: &[(String, String)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_capq"))
        .current_dir(cwd)
        .args([
            "process",
            "--data",
            testdata().join("fixture/data").to_str().unwrap(),
            "--day",
            "2016-11-25",
            "--output",
            output,
        ])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

/// The fixture day's output as written to a plain file.
fn fixture_output() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("day.csv");
    let result = process_to(out.to_str().unwrap(), &[]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    fs::read(out).unwrap()
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_fifo_output_is_streamed_into_and_stays_a_fifo() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("day.csv");
    mkfifo(&fifo);
    // The reader opens first, as a user reading the FIFO would; the writer then streams in.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read(fifo).unwrap())
    };
    let result = process_to(fifo.to_str().unwrap(), &[]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    // Checked before joining the reader: had the FIFO been replaced, the reader would wait on
    // the old one forever.
    let kind = fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "replaced by {kind:?}");
    assert_eq!(
        files_in(dir.path()),
        ["day.csv"],
        "no temporary file beside it"
    );
    assert_eq!(reader.join().unwrap(), fixture_output());
}

#[test]
fn dev_null_as_output_stays_the_null_device() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let before = fs::symlink_metadata("/dev/null").unwrap();
    let result = process_to("/dev/null", &[]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    let after = fs::symlink_metadata("/dev/null").unwrap();
    assert!(after.file_type().is_char_device(), "{after:?}");
    assert_eq!((after.ino(), after.rdev()), (before.ino(), before.rdev()));
    assert!(fs::read("/dev/null").unwrap().is_empty());
}

#[test]
fn a_symlink_output_replaces_its_target_and_stays_a_link() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("real")).unwrap();
    let target = dir.path().join("real/2016-11-25.csv");
    fs::write(&target, b"old contents").unwrap();
    let link = dir.path().join("latest.csv");
    std::os::unix::fs::symlink("real/2016-11-25.csv", &link).unwrap();
    let result = process_to(link.to_str().unwrap(), &[]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read(&target).unwrap(), fixture_output());
    assert_eq!(files_in(&dir.path().join("real")), ["2016-11-25.csv"]);

    // A link to nothing is refused: creating its target could write anywhere.
    let dangling = dir.path().join("dangling.csv");
    let nowhere = dir.path().join("nowhere/day.csv");
    std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
    let result = process_to(dangling.to_str().unwrap(), &[]);
    assert_eq!(result.status.code(), Some(2), "{}", stderr(&result));
    assert!(
        stderr(&result).contains("symbolic link to nothing"),
        "{}",
        stderr(&result)
    );
    assert!(!dir.path().join("nowhere").exists());
}

#[test]
fn a_file_url_output_is_that_path() {
    // Run in the temporary folder, where a folder named `file:` would appear if the URL were
    // taken for a relative path.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out/day.csv");
    let result = process_in(dir.path(), &format!("file://{}", out.display()), &[]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert_eq!(files_in(dir.path()), ["out"]);
    assert_eq!(fs::read(&out).unwrap(), fixture_output());
    // Other schemes are refused by name, before any work.
    let result = process_to("https://example.com/day.csv", &[]);
    assert_eq!(result.status.code(), Some(1), "{}", stderr(&result));
    assert!(stderr(&result).contains("http(s)"), "{}", stderr(&result));
    let result = process_to("gs://bucket/day.csv", &[]);
    assert_eq!(result.status.code(), Some(1), "{}", stderr(&result));
    assert!(stderr(&result).contains("gs://"), "{}", stderr(&result));
}

#[test]
fn an_s3_output_is_written_through_storage() {
    let s3 = capq_test_support::s3::S3Server::start();
    s3.create_bucket("out");
    let result = process_to("s3://out/days/2016-11-25.csv", &s3.env());
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert_eq!(
        s3.get_object("out", "days/2016-11-25.csv"),
        Some(fixture_output())
    );
    // A bucket that is not there: an internal error naming it, said once.
    let result = process_to("s3://missing/day.csv", &s3.env());
    assert_eq!(result.status.code(), Some(2), "{}", stderr(&result));
    let message = stderr(&result);
    assert!(message.contains("s3://missing/day.csv"), "{message}");
    assert_eq!(message.matches("does not exist").count(), 1, "{message}");
}

/// The peak resident memory `capq` logged on exit (`CAPQ_LOG=capq=debug`), in KiB: the
/// `VmHWM` it read from its own `/proc/self/status`.
fn peak_memory_kib(log: &str) -> u64 {
    // Without colour codes, which the log may carry.
    let mut plain = String::new();
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            plain.push(c);
        }
    }
    plain
        .lines()
        .find_map(|line| line.split("peak_memory_kib=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in the log:\n{log}"))
}

#[test]
fn a_huge_one_line_file_gives_a_short_error_in_bounded_memory() {
    // 64 MiB with no line feed. Reading it costs 64 MiB; copies of it for the header, the
    // message and its printing cost as much again each.
    let size: usize = 64 << 20;
    let data = data_with(&vec![b'7'; size], "2016-11-25.csv");
    let out = tempfile::tempdir().unwrap();
    let debug = [("CAPQ_LOG".to_owned(), "capq=debug".to_owned())];
    let result = std::process::Command::new(env!("CARGO_BIN_EXE_capq"))
        .args([
            "process",
            "--data",
            data.path().to_str().unwrap(),
            "--day",
            "2016-11-25",
            "--output",
            out.path().join("day.csv").to_str().unwrap(),
        ])
        .envs(debug.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(1));
    let log = stderr(&result);
    let message = log.lines().find(|l| l.starts_with("error:")).unwrap_or("");
    assert!(
        message.len() < 400,
        "{} bytes: {}",
        message.len(),
        &message[..400.min(message.len())]
    );
    assert!(message.contains(&format!("({size} bytes)")), "{message}");
    let peak = peak_memory_kib(&log) * 1024;
    assert!(
        peak < size as u64 + (40 << 20),
        "peak memory {} MiB for a {} MiB input",
        peak >> 20,
        size >> 20
    );
    assert!(files_in(out.path()).is_empty());
}

#[test]
fn an_old_mac_file_gives_a_short_error() {
    let body = format!("{HEADER}\r{}", format!("{GOOD}\r").repeat(20_000));
    let data = data_with(body.as_bytes(), "2016-11-25.csv");
    let out = tempfile::tempdir().unwrap();
    let result = process(data.path(), "2016-11-25", &out.path().join("day.csv"));
    assert_eq!(result.status.code(), Some(1));
    let message = stderr(&result);
    assert!(message.len() < 500, "{} bytes", message.len());
    assert!(message.contains("bare \\r"), "{message}");
}

#[test]
fn a_closed_pipe_behind_dev_stdout_counts_as_success() {
    // A real day's output (megabytes) into a pipe whose reader is gone, as with `| head`.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_capq"))
        .args([
            "process",
            "--data",
            testdata().join("data").to_str().unwrap(),
            "--day",
            "2016-11-24",
            "--output",
            "/dev/stdout",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let result = child.wait_with_output().unwrap();
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
}
