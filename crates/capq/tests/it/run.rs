//! `capq run`: many days on local threads, the summary, and the exit code.

use std::fs;

use capmetrics::Input;
use capmetrics::equivalence::compare;
use serde_json::Value;

use crate::{capq, capq_in, files_in, stderr, stdout, testdata};

fn run_json(args: &[&str]) -> (Option<i32>, Value, String) {
    let mut all = vec!["run", "--json"];
    all.extend_from_slice(args);
    let result = capq(&all);
    let json = serde_json::from_slice(&result.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", stdout(&result)));
    (result.status.code(), json, stderr(&result))
}

#[test]
fn every_day_of_the_data_ends_right_and_the_run_fails_only_at_the_end() {
    let out = tempfile::tempdir().unwrap();
    let data = testdata().join("data");
    let (code, json, log) = run_json(&[
        "--data",
        data.to_str().unwrap(),
        "--output",
        out.path().to_str().unwrap(),
        "--workers",
        "2",
        "--days",
        "2015-03-07..2017-04-18",
    ]);
    // Days fail (no metadata), but only after all the others were processed.
    assert_eq!(code, Some(1), "{log}");
    assert_eq!(json["workers"], 2);
    let days = json["days"].as_array().unwrap();
    assert_eq!(days.len(), 774, "every day of the range is reported");
    let status = |day: &str| {
        days.iter().find(|d| d["day"] == day).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(status("2016-11-24"), "ok");
    assert_eq!(status("2015-06-07"), "empty");
    assert_eq!(status("2016-02-14"), "empty");
    assert_eq!(status("2015-09-06"), "failed");
    assert_eq!(status("2017-03-16"), "failed");
    assert_eq!(status("2016-11-28"), "missing");
    assert_eq!(json["processed"], 24);
    assert_eq!(json["failed"], 8);
    assert_eq!(json["missing"], 774 - 32);

    let failed = days.iter().find(|d| d["day"] == "2015-09-06").unwrap();
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("no schedule file"),
        "{failed}"
    );
    let ok = days.iter().find(|d| d["day"] == "2016-11-24").unwrap();
    assert_eq!(
        (ok["rows_in"].as_u64(), ok["rows_out"].as_u64()),
        (Some(24_490), Some(20_334))
    );
    assert_eq!(ok["dropped"]["merged_into_group"].as_u64(), Some(3893));

    // Outputs exist for processed days only, under the old system's names, each with its
    // partial; beside them only the run's records and its aggregate, and no temporary files.
    let written = files_in(out.path());
    let csvs: Vec<&String> = written
        .iter()
        .filter(|n| n.ends_with("_processed.csv"))
        .collect();
    assert_eq!(csvs.len(), 24, "{written:?}");
    for csv in &csvs {
        let partial = csv.replace(".csv", ".partial");
        assert!(written.contains(&partial), "{partial} in {written:?}");
    }
    assert_eq!(written.len(), 24 * 2 + 2, "{written:?}");
    assert!(written.contains(&".capq".to_owned()) && written.contains(&"aggregate".to_owned()));
    assert!(!written.contains(&"2015-09-06_processed.csv".to_owned()));
    // The aggregate lists the failed days as failed and the days without positions as missing.
    let summary: Value =
        serde_json::from_slice(&fs::read(out.path().join("aggregate/summary.json")).unwrap())
            .unwrap();
    assert_eq!(
        summary["failed_days"].as_array().unwrap().len(),
        8,
        "{summary}"
    );
    assert_eq!(summary["missing_days"].as_array().unwrap().len(), 774 - 32);
    assert_eq!(summary["days"]["total"], 24);
    assert_eq!(json["aggregate"]["summary"], summary);
    // The run's partials were built from the rows as they were written; aggregating the CSVs
    // themselves gives byte-identical tables (the daylight-saving day 2015-03-08 included).
    let failed: Vec<&str> = summary["failed_days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    let from_csvs = tempfile::tempdir().unwrap();
    let result = capq(&[
        "aggregate",
        "--input",
        out.path().to_str().unwrap(),
        "--output",
        from_csvs.path().to_str().unwrap(),
        "--days",
        "2015-03-07..2017-04-18",
        "--failed-days",
        &failed.join(","),
        "--no-partials",
    ]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    for table in [
        "system_daily.csv",
        "route.csv",
        "route_hour.csv",
        "stop.csv",
        "histogram.csv",
        "headway.csv",
        "summary.json",
    ] {
        assert!(
            fs::read(out.path().join("aggregate").join(table)).unwrap()
                == fs::read(from_csvs.path().join(table)).unwrap(),
            "{table} differs between the run's partials and the CSVs"
        );
    }
    assert!(
        fs::read_to_string(out.path().join("aggregate/system_daily.csv"))
            .unwrap()
            .contains("2015-03-08,sunday,suspect"),
        "the daylight-saving day is suspect"
    );
    for day in ["2015-03-08", "2016-05-19", "2016-11-24", "2016-12-18"] {
        let expected = Input::read(&testdata().join(format!("reference/{day}.csv.gz"))).unwrap();
        let actual = fs::read(out.path().join(format!("{day}_processed.csv"))).unwrap();
        assert!(compare(expected.bytes(), &actual).is_ok(), "{day}");
    }
}

#[test]
fn the_summary_table_names_each_day_and_reason() {
    let out = tempfile::tempdir().unwrap();
    let data = testdata().join("data");
    let result = capq(&[
        "run",
        "--data",
        data.to_str().unwrap(),
        "--output",
        out.path().to_str().unwrap(),
        "--days",
        "2016-11-24,2015-12-30,2016-11-28",
    ]);
    assert_eq!(result.status.code(), Some(1));
    let table = stdout(&result);
    let header = table.lines().next().unwrap();
    for column in [
        "day",
        "status",
        "rows in",
        "rows out",
        "no stop",
        "merged",
        "far",
        "no sched",
        "no headsign",
        "ms",
        "error",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let line = |day: &str| {
        table
            .lines()
            .find(|l| l.starts_with(day))
            .unwrap_or_else(|| panic!("{table}"))
            .to_owned()
    };
    assert!(
        line("2016-11-24").contains("24490") && line("2016-11-24").contains("20334"),
        "{table}"
    );
    assert!(
        line("2015-12-30").contains("failed") && line("2015-12-30").contains("no schedule file"),
        "{table}"
    );
    assert!(line("2016-11-28").contains("missing"), "{table}");
    assert!(
        table.contains("3 days: 1 processed (0 unchanged), 0 up to date, 1 missing, 1 failed"),
        "{table}"
    );
    // The run ends with the aggregate's headline.
    assert!(table.contains("\naggregate in "), "{table}");
    assert!(
        table.contains("on time ") && table.contains("worst routes"),
        "{table}"
    );
    // Progress goes to stderr as plain lines when stderr is not a terminal.
    assert!(stderr(&result).contains("[3/3]"), "{}", stderr(&result));
}

#[test]
fn no_arguments_process_the_bundled_sample_into_out() {
    let cwd = tempfile::tempdir().unwrap();
    let result = capq_in(cwd.path(), &["run"]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert_eq!(
        files_in(&cwd.path().join("out")),
        [
            ".capq",
            "2016-11-24_processed.csv",
            "2016-11-24_processed.partial",
            "2016-11-25_processed.csv",
            "2016-11-25_processed.partial",
            "2016-11-26_processed.csv",
            "2016-11-26_processed.partial",
            "2016-11-27_processed.csv",
            "2016-11-27_processed.partial",
            "aggregate",
        ]
    );
    let expected = Input::read(&testdata().join("reference/2016-11-24.csv.gz")).unwrap();
    let actual = fs::read(cwd.path().join("out/2016-11-24_processed.csv")).unwrap();
    assert_eq!(compare(expected.bytes(), &actual), Ok(20_334));
}

#[test]
fn only_missing_days_or_bad_specs_exit_1() {
    let out = tempfile::tempdir().unwrap();
    let data = testdata().join("data");
    let base = [
        "run",
        "--data",
        data.to_str().unwrap(),
        "--output",
        out.path().to_str().unwrap(),
    ];
    for days in [
        "2020-01-01..2020-01-03",
        "2016-11-24..2016-11-20",
        "tomorrow",
        "2016-02-30",
    ] {
        let mut args = base.to_vec();
        args.extend(["--days", days]);
        let result = capq(&args);
        assert_eq!(result.status.code(), Some(1), "{days}: {}", stderr(&result));
        assert!(
            stderr(&result).contains("error:"),
            "{days}: {}",
            stderr(&result)
        );
    }
    let mut args = base.to_vec();
    args.extend(["--workers", "0"]);
    assert_eq!(capq(&args).status.code(), Some(1));
    assert!(files_in(out.path()).is_empty());
}

/// A data folder with the sample's metadata: `2016-11-25` holds the sample day's positions ten
/// times over (slow), and the next five days hold the small fixture day's (fast).
fn one_slow_day_then_fast_ones() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let sample = testdata().join("../../data/sample");
    crate::copy_metadata(&sample, dir.path());
    let positions = dir.path().join("vehicle_positions");
    fs::create_dir_all(&positions).unwrap();
    let day = Input::read(&sample.join("vehicle_positions/2016-11-25.csv.gz")).unwrap();
    let text = String::from_utf8(day.bytes().to_vec()).unwrap();
    let (header, rows) = text.split_once('\n').unwrap();
    fs::write(
        positions.join("2016-11-25.csv"),
        format!("{header}\n{}", rows.repeat(10)),
    )
    .unwrap();
    let small = fs::read(testdata().join("fixture/data/vehicle_positions/2016-11-25.csv")).unwrap();
    for day in 26..=30 {
        fs::write(positions.join(format!("2016-11-{day}.csv")), &small).unwrap();
    }
    dir
}

#[test]
fn progress_lines_come_in_day_order() {
    let data = one_slow_day_then_fast_ones();
    let out = tempfile::tempdir().unwrap();
    // Two threads: one takes the slow first day, the other finishes the five fast ones first.
    let result = capq(&[
        "run",
        "--data",
        data.path().to_str().unwrap(),
        "--output",
        out.path().to_str().unwrap(),
        "--workers",
        "2",
    ]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    let progress: Vec<String> = stderr(&result)
        .lines()
        .filter(|line| line.starts_with('['))
        .map(|line| {
            line.split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let expected: Vec<String> = (25..=30)
        .enumerate()
        .map(|(i, day)| format!("[{}/6] 2016-11-{day}", i + 1))
        .collect();
    assert_eq!(progress, expected, "{}", stderr(&result));
}

#[test]
fn output_urls_are_locations() {
    // A `file://` URL is its path, not a folder named `file:` in the working folder.
    let cwd = tempfile::tempdir().unwrap();
    let out = cwd.path().join("days");
    let url = format!("file://{}", out.display());
    let result = capq_in(
        cwd.path(),
        &["run", "--days", "2016-11-24", "--output", &url],
    );
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    assert_eq!(files_in(cwd.path()), ["days"]);
    assert!(files_in(&out).contains(&"2016-11-24_processed.csv".to_owned()));
    // HTTP is read-only: a clear refusal before any work.
    let result = capq_in(
        cwd.path(),
        &["run", "--output", "https://example.com/days/"],
    );
    assert_eq!(result.status.code(), Some(1));
    let message = stderr(&result);
    assert!(
        message.contains("https://example.com/days/") && message.contains("read-only"),
        "{message}"
    );
    assert_eq!(files_in(cwd.path()), ["days"]);
}

#[test]
fn one_day_on_one_thread_is_singular() {
    let out = tempfile::tempdir().unwrap();
    let result = capq(&[
        "run",
        "--data",
        testdata().join("fixture/data").to_str().unwrap(),
        "--output",
        out.path().to_str().unwrap(),
        "--workers",
        "1",
    ]);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    let summary = stdout(&result);
    assert!(
        summary.contains(
            "\n1 day: 1 processed (0 unchanged), 0 up to date, 0 missing, 0 failed; 29 rows in, \
             21 out;"
        ),
        "{summary}"
    );
    assert!(summary.contains(" on 1 thread; run run-"), "{summary}");
}
