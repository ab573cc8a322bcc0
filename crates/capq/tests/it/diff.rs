//! `capq diff` end to end. Exact diffs: real days processed twice, the second time with a
//! processor parameter changed (through `capmetrics::Params`), and every count of `capq diff
//! --json` against an independent comparison (`diff_reference.py`, written from the rules with
//! none of the Rust code's shortcuts), with and without partials. Then identical folders,
//! added and removed days, bad data and bad arguments, the three output formats, and a side on
//! S3 (a real moto server).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use capmetrics::{Cancel, Catalog, Date, LocalDir, Params};
use capq_test_support::s3::S3Server;
use serde_json::Value;

use crate::{capq, capq_bin, files_in, stderr, stdout, testdata};

fn diff(args: &[&str]) -> Output {
    capq(&[&["diff"], args].concat())
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.code() == Some(0) || output.status.code() == Some(1),
        "capq diff failed: {}",
        stderr(output)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

/// Processes every day of `data` that has positions and metadata into `out`, with `params`,
/// as `<DAY>_processed.csv`; returns the days written.
fn process_all(data: &Path, out: &Path, params: &Params) -> Vec<Date> {
    std::fs::create_dir_all(out).unwrap();
    let catalog = Catalog::new(LocalDir::new(data));
    let mut days = Vec::new();
    for name in files_in(&data.join("vehicle_positions")) {
        let day: Date = name.split('.').next().unwrap().parse().unwrap();
        // Days without metadata (deliberately odd test days) fail on both sides alike.
        if let Ok(output) = catalog.process_with_params(day, params, Cancel::NEVER) {
            std::fs::write(out.join(format!("{day}_processed.csv")), &output.csv).unwrap();
            days.push(day);
        }
    }
    days
}

/// Runs the independent comparison and returns its JSON.
fn reference(a: &Path, b: &Path, window: Option<&str>) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/diff_reference.py");
    let mut command = Command::new(capq_test_support::python::venv_python());
    command.arg(&script).arg(a).arg(b);
    if let Some(window) = window {
        command.arg(format!("--window={window}"));
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "the reference script failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The figures of one scope that both computations give.
fn figures(v: &Value) -> Value {
    let keys = [
        "used", "early", "on_time", "late", "otp", "otp_lo", "otp_hi", "p50",
    ];
    Value::Object(keys.iter().map(|k| (k.to_string(), v[k].clone())).collect())
}

/// Asserts that `capq diff --json`'s counts equal the reference's, one by one.
fn assert_matches_reference(got: &Value, want: &Value, what: &str) {
    let days = &got["days"];
    for key in ["changed", "added", "removed", "equivalent"] {
        assert_eq!(days[key], want["days"][key], "{what}: days.{key}");
    }
    assert_eq!(
        days["identical"], want["days"]["identical"],
        "{what}: days.identical"
    );
    for key in ["added", "removed", "changed", "unchanged"] {
        assert_eq!(got["rows"][key], want["rows"][key], "{what}: rows.{key}");
    }
    let columns: serde_json::Map<String, Value> = got["rows"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["column"].as_str().unwrap().to_owned(), c["rows"].clone()))
        .collect();
    assert_eq!(Value::Object(columns), want["columns"], "{what}: columns");
    for side in ["a", "b"] {
        assert_eq!(
            figures(&got["otp"]["system"][side]),
            figures(&want["otp"]["system"][side]),
            "{what}: otp.system.{side}"
        );
        if want["otp"]["changed_days"].is_null() {
            assert!(got["otp"]["changed_days"].is_null(), "{what}");
        } else {
            assert_eq!(
                figures(&got["otp"]["changed_days"][side]),
                figures(&want["otp"]["changed_days"][side]),
                "{what}: otp.changed_days.{side}"
            );
        }
    }
    let routes = got["otp"]["routes"].as_array().unwrap();
    let want_routes = want["otp"]["routes"].as_object().unwrap();
    assert_eq!(routes.len(), want_routes.len(), "{what}: routes that moved");
    for route in routes {
        let id = route["route_id"].to_string();
        let expected = &want_routes[&id];
        for side in ["a", "b"] {
            assert_eq!(
                figures(&route[side]),
                figures(&expected[side]),
                "{what}: route {id}, side {side}"
            );
        }
    }
    assert_eq!(
        got["transitions"]["counts"], want["transitions"],
        "{what}: transitions"
    );
    for (dimension, key) in [
        ("by_hour", "hour"),
        ("by_route", "route"),
        ("by_stop", "stop"),
        ("by_day", "day"),
    ] {
        let ranked: serde_json::Map<String, Value> = got["where"][dimension]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["key"].as_str().unwrap().to_owned(), s["rows"].clone()))
            .collect();
        assert_eq!(
            Value::Object(ranked),
            want["where"][key],
            "{what}: where.{dimension}"
        );
    }
}

/// The figures that do not depend on how a day was read: everything but the count of days
/// known identical by hash, and the notes.
fn without_reading_details(mut v: Value) -> Value {
    v["days"]["identical_by_hash"] = Value::Null;
    v["notes"] = Value::Null;
    v
}

/// Diffs `a` and `b` three ways (CSVs only, partials on both sides, the default) and checks
/// each against the reference.
fn check_exact(a: &Path, b: &Path, window: Option<&str>, what: &str) -> Value {
    let want = reference(a, b, window);
    let mut args = vec![
        a.to_str().unwrap().to_owned(),
        b.to_str().unwrap().to_owned(),
        "--json".to_owned(),
        "--top=100000".to_owned(),
    ];
    if let Some(window) = window {
        args.push(format!("--window={window}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let no_partials = json_of(&diff(&[&args[..], &["--no-partials"]].concat()));
    assert_matches_reference(&no_partials, &want, what);
    assert_eq!(no_partials["days"]["identical_by_hash"], 0);

    for side in [a, b] {
        let output = capq(&[
            "aggregate",
            "--input",
            side.to_str().unwrap(),
            "--output",
            side.join("aggregate").to_str().unwrap(),
            "--write-partials",
        ]);
        assert!(output.status.code().is_some(), "{}", stderr(&output));
    }
    let with_partials = json_of(&diff(&args));
    assert_matches_reference(&with_partials, &want, &format!("{what}, with partials"));
    assert_eq!(
        with_partials["days"]["identical_by_hash"], want["days"]["identical"],
        "{what}: every identical day is known by its partials' hashes"
    );
    assert_eq!(
        without_reading_details(with_partials.clone()),
        without_reading_details(no_partials),
        "{what}: the same diff from partials as from CSVs"
    );
    with_partials
}

#[test]
fn counts_equal_an_independent_comparison_when_group_max_distance_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let data = testdata().join("data");
    let days = process_all(&data, &a, &Params::DEFAULT);
    let params = Params::from_assignments(["group_max_distance=0.35"]).unwrap();
    assert_eq!(process_all(&data, &b, &params), days);
    assert!(days.len() > 20, "{days:?}");

    let got = check_exact(&a, &b, None, "group_max_distance=0.35");
    // The change must really move things for the comparison to mean something.
    let rows = &got["rows"];
    assert!(rows["added"].as_u64().unwrap() > 100, "{rows}");
    assert!(rows["changed"].as_u64().unwrap() > 100, "{rows}");
    // Some days move and others (header-only days, days without multi-row groups beyond
    // 0.25) do not: both paths of the comparison are exercised.
    let changed = got["days"]["changed"].as_array().unwrap().len();
    assert!(changed >= 10, "{changed} changed days: {}", got["days"]);
    assert!(
        got["days"]["identical"].as_u64().unwrap() >= 10,
        "{}",
        got["days"]
    );
    // A looser distance keeps groups that were dropped: rows are added, none removed.
    assert_eq!(rows["removed"], 0, "{rows}");

    // The transition matrix explains the net change of the on-time count.
    let counts = &got["transitions"]["counts"];
    let on_time = 1;
    let a_total: u64 = (0..6).map(|b| counts[on_time][b].as_u64().unwrap()).sum();
    let b_total: u64 = (0..6).map(|a| counts[a][on_time].as_u64().unwrap()).sum();
    assert_eq!(
        a_total,
        got["otp"]["system"]["a"]["on_time"].as_u64().unwrap()
    );
    assert_eq!(
        b_total,
        got["otp"]["system"]["b"]["on_time"].as_u64().unwrap()
    );

    // Another window moves the classes, and both computations follow it.
    check_exact(
        &a,
        &b,
        Some("-120,none"),
        "group_max_distance=0.35, -120,none",
    );
}

#[test]
fn counts_equal_an_independent_comparison_on_the_sample_when_group_arrived_min_dev_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let output = capq(&[
        "run",
        "--data",
        sample.to_str().unwrap(),
        "--output",
        a.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let params = Params::from_assignments(["group_arrived_min_dev=-120"]).unwrap();
    assert_eq!(process_all(&sample, &b, &params).len(), 4);
    let got = check_exact(&a, &b, None, "group_arrived_min_dev=-120");
    assert_eq!(got["days"]["changed"].as_array().unwrap().len(), 4);
    assert!(got["rows"]["changed"].as_u64().unwrap() > 100);
    let columns = got["rows"]["columns"].as_array().unwrap();
    assert!(
        columns.iter().any(|c| c["column"] == "sched_dev"),
        "{columns:?}"
    );
    // Samples show the change, before and after.
    let sample = &got["rows"]["samples"]["changed"][0];
    assert!(
        sample["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["before"] != c["after"])
    );
}

#[test]
fn identical_folders_exit_zero_with_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let days = process_all(&testdata().join("data"), &a, &Params::DEFAULT);
    let b = dir.path().join("b");
    std::fs::create_dir(&b).unwrap();
    for name in files_in(&a) {
        std::fs::copy(a.join(&name), b.join(&name)).unwrap();
    }
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());

    let output = diff(&[a, b, "--exit-code"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("no differences"), "{text}");
    assert!(
        text.contains(&format!(
            "{} identical, 0 changed, 0 added, 0 removed",
            days.len()
        )),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "colour on a pipe: {text:?}");

    let json = json_of(&diff(&[a, b, "--json", "--exit-code"]));
    assert_eq!(json["days"]["identical"], days.len());
    assert_eq!(json["rows"]["changed"], 0);
    assert_eq!(json["otp"]["system"]["change_pp"], 0.0);
    assert_eq!(json["otp"]["system"]["a"], json["otp"]["system"]["b"]);

    let md = diff(&[a, b, "--md", "--exit-code"]);
    assert_eq!(md.status.code(), Some(0));
    assert!(
        stdout(&md).contains("**No differences.**"),
        "{}",
        stdout(&md)
    );
}

#[test]
fn added_and_removed_days_and_the_json_shape() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    process_all(&sample, &a, &Params::DEFAULT);
    std::fs::create_dir(&b).unwrap();
    // B lacks 2016-11-24 and has 2016-11-25 gzipped (the same rows) and an extra day: the
    // fixture's expected output, as 2016-11-28.
    for day in ["2016-11-26", "2016-11-27"] {
        let name = format!("{day}_processed.csv");
        std::fs::copy(a.join(&name), b.join(&name)).unwrap();
    }
    let plain = std::fs::read(a.join("2016-11-25_processed.csv")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &plain).unwrap();
    std::fs::write(b.join("2016-11-25_processed.csv.gz"), gz.finish().unwrap()).unwrap();
    let fixture = std::fs::read(testdata().join("fixture/expected/2016-11-25.csv")).unwrap();
    std::fs::write(b.join("2016-11-28_processed.csv"), &fixture).unwrap();
    let removed_rows = std::fs::read_to_string(a.join("2016-11-24_processed.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    let added_rows = String::from_utf8_lossy(&fixture).lines().count() - 1;

    let output = diff(&[
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--json",
        "--exit-code",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let json = json_of(&output);
    // The shape the issue asks for, with its types.
    assert!(json["days"]["identical"].is_u64());
    for key in ["changed", "added", "removed"] {
        assert!(json["days"][key].is_array(), "days.{key}");
    }
    for key in ["added", "removed", "changed"] {
        assert!(json["rows"][key].is_u64(), "rows.{key}");
    }
    for key in ["otp", "otp_lo", "otp_hi", "p50", "used", "on_time"] {
        assert!(
            json["otp"]["system"]["a"].get(key).is_some(),
            "otp.system.a.{key}"
        );
    }
    assert!(json["otp"]["system"]["change_pp"].is_f64());
    assert!(json["otp"]["routes"].is_array());
    assert_eq!(json["days"]["added"], serde_json::json!(["2016-11-28"]));
    assert_eq!(json["days"]["removed"], serde_json::json!(["2016-11-24"]));
    // Gzip is storage, not content: the same text is an identical day.
    assert_eq!(json["days"]["changed"], serde_json::json!([]));
    assert_eq!(json["days"]["equivalent"], serde_json::json!([]));
    assert_eq!(json["days"]["identical"], 3);
    assert_eq!(json["rows"]["added"], added_rows);
    assert_eq!(json["rows"]["removed"], removed_rows);
    assert_eq!(json["rows"]["changed"], 0);
    let where_day = &json["where"]["by_day"];
    assert_eq!(where_day[0]["key"], "2016-11-24");
    assert_eq!(where_day[0]["removed"], removed_rows);
    assert_eq!(json["transitions"]["counts"][5][5], 0);

    // The terminal view names the days, and so does the Markdown one. Without --exit-code a
    // difference is still success.
    let output = diff(&[a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("added: 2016-11-28"), "{text}");
    assert!(text.contains("removed: 2016-11-24"), "{text}");
    assert!(text.contains("where the"), "{text}");
    let md = stdout(&diff(&[a.to_str().unwrap(), b.to_str().unwrap(), "--md"]));
    assert!(md.contains("| scope | A | B | change | p50 |"), "{md}");
    assert!(md.contains("**1 added**"), "{md}");
    assert!(md.contains("<details>"), "{md}");
}

#[test]
fn malformed_csv_on_one_side_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    process_all(&sample, &a, &Params::DEFAULT);
    std::fs::create_dir(&b).unwrap();
    for name in files_in(&a) {
        std::fs::copy(a.join(&name), b.join(&name)).unwrap();
    }
    let broken = b.join("2016-11-26_processed.csv");
    let text = std::fs::read_to_string(&broken).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[7] = format!("extra,{}", lines[7]);
    std::fs::write(&broken, lines.join("\n") + "\n").unwrap();

    let output = diff(&[a.to_str().unwrap(), b.to_str().unwrap(), "--exit-code"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains(
            "2016-11-26_processed.csv, line 8: expected 16 fields as in the header, found 17"
        ),
        "{message}"
    );
    assert!(
        stdout(&output).is_empty(),
        "no half diff: {}",
        stdout(&output)
    );

    // A value the statistics need, unreadable: the file, the line and the column.
    let mut fields: Vec<&str> = text.lines().nth(7).unwrap().split(',').collect();
    fields[13] = "late";
    lines[7] = fields.join(",");
    std::fs::write(&broken, lines.join("\n") + "\n").unwrap();
    let output = diff(&[a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output)
            .contains("line 8, column `sched_dev`: not a whole number of seconds: \"late\""),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_arguments_and_missing_folders_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    process_all(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/sample"),
        &a,
        &Params::DEFAULT,
    );
    let a = a.to_str().unwrap();
    let missing = dir.path().join("nope");
    let missing = missing.to_str().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let empty = empty.to_str().unwrap();
    for (args, needle) in [
        (
            vec![a, missing],
            format!("B: folder {missing} does not exist"),
        ),
        (
            vec![missing, a],
            format!("A: folder {missing} does not exist"),
        ),
        (
            vec![a, empty],
            format!("B: no <DAY>_processed.csv files in {empty}"),
        ),
        (
            vec![a, a, "--profile", "tcqms"],
            "unknown profile \"tcqms\"".to_owned(),
        ),
        (
            vec![a, a, "--window=300,-60"],
            "after the late bound".to_owned(),
        ),
        (vec![a, a, "--days", "2016-13-01"], "--days".to_owned()),
        (vec![a, a, "--threads", "0"], "at least 1".to_owned()),
        (
            vec![a, a, "--md", "--json"],
            "cannot be used with".to_owned(),
        ),
        (vec![a], "required".to_owned()),
        (vec![a, a, "--frobnicate"], "--frobnicate".to_owned()),
        (vec![a, "s3://"], "no bucket name".to_owned()),
    ] {
        let mut full = args.clone();
        full.push("--exit-code");
        let output = diff(&full);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(&needle),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(stdout(&output).is_empty(), "{args:?}");
    }
}

#[test]
fn a_side_on_s3_diffs_like_a_local_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    process_all(&sample, &a, &Params::DEFAULT);
    let params = Params::from_assignments(["group_max_distance=0.2"]).unwrap();
    process_all(&sample, &b, &params);
    let local = json_of(&capq(&[
        "diff",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--json",
    ]));
    assert!(!local["days"]["changed"].as_array().unwrap().is_empty());

    let s3 = S3Server::start();
    s3.create_bucket("runs");
    for name in files_in(&a) {
        s3.put_object(
            "runs",
            &format!("old/{name}"),
            &std::fs::read(a.join(&name)).unwrap(),
        );
    }
    let output = Command::new(capq_bin())
        .args(["diff", "s3://runs/old/", b.to_str().unwrap(), "--json"])
        .envs(s3.env())
        .env_remove("CAPQ_DATA")
        .output()
        .unwrap();
    let remote = json_of(&output);
    let strip = |mut v: Value| {
        v["a"] = Value::Null;
        v
    };
    assert_eq!(strip(remote.clone()), strip(local));
    assert_eq!(remote["a"]["label"], "s3://runs/old/");

    let output = Command::new(capq_bin())
        .args(["diff", "s3://runs/nothing-here/", b.to_str().unwrap()])
        .envs(s3.env())
        .env_remove("CAPQ_DATA")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("A: no <DAY>_processed.csv files in s3://runs/nothing-here/"),
        "{}",
        stderr(&output)
    );
}

// Runs as sides: `capq diff latest~1 latest --output OUT` reads what `capq run` recorded.

/// `capq run --json` over the bundled sample into `out`, with more arguments.
pub fn run_sample(out: &Path, extra: &[&str]) -> Value {
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let mut args = vec![
        "run",
        "--json",
        "--data",
        sample.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = capq(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Copies the user-facing `<DAY>_processed.csv` files of `out` into a new folder `to`.
fn snapshot(out: &Path, to: &Path) {
    std::fs::create_dir(to).unwrap();
    for name in files_in(out) {
        if name.ends_with("_processed.csv") {
            std::fs::copy(out.join(&name), to.join(&name)).unwrap();
        }
    }
}

/// The run ids of `out`, oldest first, as `capq runs --json` lists them.
fn run_ids(out: &Path) -> Vec<String> {
    let output = capq(&["runs", "--json", "--output", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let runs: Value = serde_json::from_slice(&output.stdout).unwrap();
    runs.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn two_runs_diff_exactly_like_their_outputs_and_say_what_made_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_sample(&out, &[]);
    snapshot(&out, &dir.path().join("a"));
    let second = run_sample(&out, &["--param", "group_max_distance=0.35"]);
    assert!(
        second["days"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["reason"] == "params-changed"),
        "{second}"
    );
    snapshot(&out, &dir.path().join("b"));
    let want = reference(&dir.path().join("a"), &dir.path().join("b"), None);
    let out_text = out.to_str().unwrap();

    let by_name = json_of(&diff(&[
        "latest~1",
        "latest",
        "--output",
        out_text,
        "--json",
        "--top=100000",
    ]));
    assert_matches_reference(&by_name, &want, "latest~1 against latest");
    assert!(
        by_name["days"]["changed"].as_array().unwrap().len() == 4,
        "every sample day moves with the parameter: {}",
        by_name["days"]
    );

    let ids = run_ids(&out);
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!(by_name["a"]["run_id"], ids[0].as_str());
    assert_eq!(by_name["b"]["run_id"], ids[1].as_str());
    assert_eq!(by_name["a"]["label"], "latest~1");
    let provenance = &by_name["provenance"];
    assert_eq!(provenance["known"], true, "{provenance}");
    let params = provenance["params"].as_array().unwrap();
    assert_eq!(params.len(), 1, "{provenance}");
    assert_eq!(params[0]["name"], "group_max_distance");
    assert_ne!(params[0]["a"], params[0]["b"]);
    assert_eq!(provenance["inputs_changed"], serde_json::json!([]));
    // Both runs recorded their drop counts: the diff shows how each reason moved.
    assert!(by_name["drops"].is_object(), "{}", by_name["drops"]);

    // Run ids name the same runs; the figures are the same.
    let by_id = json_of(&diff(&[
        &ids[0],
        &ids[1],
        "--output",
        out_text,
        "--json",
        "--top=100000",
    ]));
    for key in ["days", "rows", "otp", "transitions", "where", "provenance"] {
        assert_eq!(by_id[key], by_name[key], "{key}");
    }

    // The terminal view names the runs and the parameter that moved.
    let text = stdout(&diff(&["latest~1", "latest", "--output", out_text]));
    assert!(
        text.contains(&format!("A latest~1  (4 days, run {})", ids[0])),
        "{text}"
    );
    assert!(text.contains("group_max_distance"), "{text}");
}

#[test]
fn a_rerun_with_nothing_changed_is_identical_by_hash_and_bad_run_names_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_sample(&out, &[]);
    let again = run_sample(&out, &[]);
    assert!(
        again["days"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "up-to-date"),
        "{again}"
    );
    let out_text = out.to_str().unwrap();
    let same = diff(&[
        "latest~1",
        "latest",
        "--output",
        out_text,
        "--json",
        "--exit-code",
    ]);
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    let json = json_of(&same);
    assert_eq!(json["days"]["identical"], 4);
    assert_eq!(
        json["days"]["identical_by_hash"], 4,
        "recorded hashes spare reading the days"
    );

    let ids = run_ids(&out);
    let missing = diff(&["latest~2", "latest", "--output", out_text]);
    assert_eq!(missing.status.code(), Some(2));
    let message = stderr(&missing);
    assert!(message.contains("latest~2"), "{message}");
    assert!(
        message.contains(&ids[1]),
        "the error lists runs there: {message}"
    );
    let unknown = diff(&["run-1-ffff", "latest", "--output", out_text]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("run-1-ffff"),
        "{}",
        stderr(&unknown)
    );

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let none = diff(&["latest~1", "latest", "--output", empty.to_str().unwrap()]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        stderr(&none).contains("no runs recorded"),
        "{}",
        stderr(&none)
    );
}

#[test]
fn a_day_whose_kept_version_is_gone_is_left_out_of_its_run_and_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_sample(&out, &[]);
    run_sample(&out, &["--param", "group_max_distance=0.35"]);
    // The first run's version of 2016-11-24 (kept when the second run replaced the day) is
    // removed; the user-facing file holds the second run's bytes, so nothing holds the first
    // run's output of that day any more.
    let versions = out.join(".capq/versions/2016-11-24");
    let first: Value = serde_json::from_slice(
        &std::fs::read(out.join(format!(".capq/runs/{}/run.json", run_ids(&out)[0]))).unwrap(),
    )
    .unwrap();
    let version = first["days"][0]["output"]["version"].as_str().unwrap();
    assert!(
        version.starts_with(".capq/versions/2016-11-24/"),
        "{version}"
    );
    std::fs::remove_file(out.join(version)).unwrap();
    assert!(
        !files_in(&versions).iter().any(|n| n.ends_with(".csv")),
        "only replaced outputs are kept as versions"
    );

    let output = diff(&[
        "latest~1",
        "latest",
        "--output",
        out.to_str().unwrap(),
        "--json",
    ]);
    let json = json_of(&output);
    let notes = stderr(&output);
    assert!(
        notes.contains("no readable output for 1 day(s) (2016-11-24)"),
        "{notes}"
    );
    assert_eq!(json["days"]["added"], serde_json::json!(["2016-11-24"]));
    assert_eq!(json["days"]["changed"].as_array().unwrap().len(), 3);
}
