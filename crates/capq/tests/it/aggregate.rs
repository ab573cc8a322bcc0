//! `capq aggregate` end to end: the folder it writes, the headline and `--json`, partials
//! written and then used, missing and failed days, clear errors for bad flags and bad data, and
//! the same aggregate from S3 (a real moto server) as from a local folder.

use std::path::Path;
use std::process::{Command, Output};

use capq_test_support::s3::S3Server;

use crate::{capq, capq_bin, files_in, stderr, stdout, testdata};

const TABLES: [&str; 7] = [
    "headway.csv",
    "histogram.csv",
    "route.csv",
    "route_hour.csv",
    "stop.csv",
    "summary.json",
    "system_daily.csv",
];

/// A folder of processed days: the old program's reference outputs (gzipped) and the
/// fixture's expected output.
fn input_days() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for day in [
        "2015-03-08",
        "2016-08-02",
        "2016-09-01",
        "2016-11-24",
        "2016-05-30",
    ] {
        std::fs::copy(
            testdata().join(format!("reference/{day}.csv.gz")),
            dir.path().join(format!("{day}_processed.csv.gz")),
        )
        .unwrap();
    }
    std::fs::copy(
        testdata().join("fixture/expected/2016-11-25.csv"),
        dir.path().join("2016-11-25_processed.csv"),
    )
    .unwrap();
    dir
}

fn run(args: &[&str]) -> Output {
    capq(&[&["aggregate"], args].concat())
}

fn tables(dir: &Path) -> Vec<(String, Vec<u8>)> {
    TABLES
        .iter()
        .map(|name| (name.to_string(), std::fs::read(dir.join(name)).unwrap()))
        .collect()
}

#[test]
fn writes_the_aggregate_folder_and_prints_the_headline() {
    let input = input_days();
    let out = tempfile::tempdir().unwrap();
    let output_dir = out.path().join("agg");
    let output = run(&[
        "--input",
        input.path().to_str().unwrap(),
        "--output",
        output_dir.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let names = files_in(&output_dir);
    for table in TABLES {
        assert!(names.contains(&table.to_owned()), "{table} in {names:?}");
    }
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "no temporary files: {names:?}"
    );
    let text = stdout(&output);
    assert!(text.starts_with("on time "), "{text}");
    assert!(text.contains("window -60..300 s (tcqsm)"), "{text}");
    assert!(
        text.contains("days: 6 (3 ok, 2 suspect, 1 empty)"),
        "{text}"
    );
    assert!(text.contains("worst routes"), "{text}");
    assert!(stderr(&output).contains("6 days (0 from partials, 6 from CSVs)"));
    let daily = std::fs::read_to_string(output_dir.join("system_daily.csv")).unwrap();
    assert!(daily.contains("2015-03-08,sunday,suspect,"), "{daily}");
    // 128 of the 404 rows that are not far are outliers: 32 %.
    assert!(
        daily.contains("2016-09-01,weekday,suspect,548,144,128,"),
        "{daily}"
    );
    assert!(daily.contains("2016-05-30,weekday,empty,0,"), "{daily}");

    // --json prints summary.json as written, and nothing else.
    let json_out = out.path().join("json");
    let output = run(&[
        "--input",
        input.path().to_str().unwrap(),
        "--output",
        json_out.to_str().unwrap(),
        "--json",
        "--profile",
        "wmata",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        output.stdout,
        std::fs::read(json_out.join("summary.json")).unwrap()
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["profile"], "wmata");
    assert_eq!(summary["window"], serde_json::json!([-120, 420]));
}

#[test]
fn partials_are_written_then_used_with_the_same_result() {
    let input = input_days();
    let out = tempfile::tempdir().unwrap();
    let (first, second, third) = (
        out.path().join("1"),
        out.path().join("2"),
        out.path().join("3"),
    );
    let common = [
        "--input",
        input.path().to_str().unwrap(),
        "--window=-90,240",
    ];
    let output = run(&[
        &common[..],
        &["--output", first.to_str().unwrap(), "--write-partials"],
    ]
    .concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let partials: Vec<String> = files_in(input.path())
        .into_iter()
        .filter(|n| n.ends_with("_processed.partial"))
        .collect();
    assert_eq!(partials.len(), 6, "{:?}", files_in(input.path()));
    let output = run(&[&common[..], &["--output", second.to_str().unwrap()]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("6 days (6 from partials, 0 from CSVs)"),
        "{}",
        stderr(&output)
    );
    assert_eq!(tables(&first), tables(&second));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(second.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["profile"], serde_json::Value::Null);
    assert_eq!(summary["window"], serde_json::json!([-90, 240]));
    // --no-partials reads every CSV.
    let output = run(&[
        &common[..],
        &["--output", third.to_str().unwrap(), "--no-partials"],
    ]
    .concat());
    assert!(
        stderr(&output).contains("(0 from partials, 6 from CSVs)"),
        "{}",
        stderr(&output)
    );
    assert_eq!(tables(&first), tables(&third));
}

#[test]
fn missing_and_failed_days_are_listed_not_counted() {
    let input = input_days();
    let out = tempfile::tempdir().unwrap();
    let output = run(&[
        "--input",
        input.path().to_str().unwrap(),
        "--output",
        out.path().to_str().unwrap(),
        "--days",
        "2016-11-24..2016-11-27",
        "--failed-days",
        "2016-11-25",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        summary["missing_days"],
        serde_json::json!(["2016-11-26", "2016-11-27"])
    );
    // 2016-11-25 has a file, but its job failed: that file is not this run's.
    assert_eq!(summary["failed_days"], serde_json::json!(["2016-11-25"]));
    assert_eq!(summary["days"]["total"], 1);
}

#[test]
fn bad_flags_and_inputs_are_clear_errors() {
    let input = input_days();
    let dir = input.path().to_str().unwrap();
    let out = tempfile::tempdir().unwrap();
    let out = out.path().join("x");
    let out = out.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["--profile", "tcqsm", "--window=-60,300"],
            "cannot be used with",
        ),
        (vec!["--profile", "fast"], "unknown profile \"fast\""),
        (
            vec!["--window=300,-60"],
            "the early bound 300 is after the late bound -60",
        ),
        (
            vec!["--window=-1m,5m"],
            "\"-1m\" is not a whole number of seconds",
        ),
        (vec!["--window=300"], "invalid window"),
        (vec!["--days", "2016-13-01"], "--days"),
        (vec!["--threads", "0"], "--threads"),
    ] {
        let output = run(&[&["--input", dir, "--output", out][..], &args[..]].concat());
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(needle),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(!Path::new(out).exists(), "{args:?} wrote output");
    }
    let empty = tempfile::tempdir().unwrap();
    let output = run(&["--input", empty.path().to_str().unwrap(), "--output", out]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no <DAY>_processed.csv files"),
        "{}",
        stderr(&output)
    );
    let output = run(&["--input", "gs://bucket/x", "--output", out]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("--input"), "{}", stderr(&output));
}

#[test]
fn a_malformed_csv_fails_its_day_and_the_rest_is_written() {
    let input = input_days();
    let text = std::fs::read_to_string(testdata().join("fixture/expected/2016-11-25.csv")).unwrap();
    let broken = text.replacen(",-32.0,", ",soon,", 1);
    std::fs::write(input.path().join("2016-11-25_processed.csv"), broken).unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = run(&[
        "--input",
        input.path().to_str().unwrap(),
        "--output",
        out.path().to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("2016-11-25_processed.csv, line 2, column `sched_dev`: not a whole number of seconds: \"soon\""),
        "{err}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["failed_days"], serde_json::json!(["2016-11-25"]));
    assert_eq!(summary["days"]["total"], 5);
}

fn capq_with_env(env: &[(String, String)], args: &[&str]) -> Output {
    Command::new(capq_bin())
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env_remove("CAPQ_DATA")
        .output()
        .unwrap()
}

#[test]
fn aggregates_from_and_to_s3_like_a_local_folder() {
    let s3 = S3Server::start();
    s3.create_bucket("capmetrics");
    let input = input_days();
    for name in files_in(input.path()) {
        let bytes = std::fs::read(input.path().join(&name)).unwrap();
        s3.put_object("capmetrics", &format!("processed/{name}"), &bytes);
    }
    let local = tempfile::tempdir().unwrap();
    let output = run(&[
        "--input",
        input.path().to_str().unwrap(),
        "--output",
        local.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let env = s3.env();
    let args = [
        "aggregate",
        "--input",
        "s3://capmetrics/processed/",
        "--output",
        "s3://capmetrics/aggregate/",
    ];
    let output = capq_with_env(&env, &[&args[..], &["--write-partials"]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("(0 from partials, 6 from CSVs)"),
        "{}",
        stderr(&output)
    );
    for table in TABLES {
        assert_eq!(
            s3.get_object("capmetrics", &format!("aggregate/{table}")),
            Some(std::fs::read(local.path().join(table)).unwrap()),
            "{table}"
        );
    }
    let keys = s3.list_keys("capmetrics", "processed/");
    assert_eq!(
        keys.iter().filter(|k| k.ends_with(".partial")).count(),
        6,
        "{keys:?}"
    );

    // Second time, from the partials: S3's listing gives sizes and times, so no CSV is read.
    let output = capq_with_env(&env, &[&args[..], &["--json"]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("(6 from partials, 0 from CSVs)"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        output.stdout,
        std::fs::read(local.path().join("summary.json")).unwrap()
    );

    // Another tool replaces a CSV with different rows: its partial no longer describes it.
    let text = std::fs::read_to_string(testdata().join("fixture/expected/2016-11-25.csv")).unwrap();
    let fewer: String = text.lines().take(10).map(|l| format!("{l}\n")).collect();
    s3.put_object(
        "capmetrics",
        "processed/2016-11-25_processed.csv",
        fewer.as_bytes(),
    );
    let output = capq_with_env(&env, &[&args[..], &["--json"]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("(5 from partials, 1 from CSVs)"),
        "{}",
        stderr(&output)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let before: serde_json::Value =
        serde_json::from_slice(&std::fs::read(local.path().join("summary.json")).unwrap()).unwrap();
    assert_ne!(summary["rows"]["total"], before["rows"]["total"]);
}
