//! Every table, byte for byte, against the independent Python computation: on the old
//! program's reference outputs, on the processor's outputs of every real test day, and on the
//! fixture, under several windows.

use capq_aggregate::{FolderOptions, Profile, WindowChoice};

use crate::{
    aggregate_dir, assert_same, files_of, processed_data_days, reference, reference_days, testdata,
};

fn options(choice: WindowChoice) -> FolderOptions {
    FolderOptions {
        window: choice,
        threads: 2,
        ..FolderOptions::default()
    }
}

fn check(what: &str, dir: &std::path::Path, choice: WindowChoice, args: &[&str]) {
    let output = aggregate_dir(dir, &options(choice));
    assert!(!output.has_failures(), "{what}: {:?}", output.days);
    assert_same(what, &reference(dir, args), &files_of(&output));
}

#[test]
fn reference_outputs_of_the_old_program_aggregate_exactly() {
    let dir = reference_days();
    check("reference, tcqsm", dir.path(), WindowChoice::default(), &[]);
    check(
        "reference, wmata",
        dir.path(),
        WindowChoice::Profile(Profile::Wmata),
        &["--profile", "wmata"],
    );
    check(
        "reference, custom",
        dir.path(),
        WindowChoice::Custom("-30,90".parse().unwrap()),
        &["--window=-30,90"],
    );
}

#[test]
fn processed_real_days_aggregate_exactly() {
    let dir = processed_data_days();
    check("data, tcqsm", dir, WindowChoice::default(), &[]);
    check(
        "data, capmetro",
        dir,
        WindowChoice::Profile(Profile::Capmetro),
        &["--profile", "capmetro"],
    );
}

#[test]
fn the_fixture_aggregates_exactly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        testdata().join("fixture/expected/2016-11-25.csv"),
        dir.path().join("2016-11-25_processed.csv"),
    )
    .unwrap();
    check("fixture, tcqsm", dir.path(), WindowChoice::default(), &[]);
    check(
        "fixture, custom without an early bound",
        dir.path(),
        WindowChoice::Custom("none,120".parse().unwrap()),
        &["--window=none,120"],
    );
}

#[test]
fn the_dst_day_is_suspect_and_days_without_rows_are_empty() {
    let reference = reference_days();
    for (what, dir) in [
        ("data", processed_data_days()),
        ("reference", reference.path()),
    ] {
        let output = aggregate_dir(dir, &options(WindowChoice::default()));
        let daily = String::from_utf8(output.aggregate.files.system_daily.clone()).unwrap();
        let flag = |day: &str| {
            let line = daily
                .lines()
                .find(|l| l.starts_with(day))
                .unwrap_or_else(|| panic!("{what}: no row for {day}:\n{daily}"));
            line.split(',').nth(2).unwrap().to_owned()
        };
        assert_eq!(flag("2015-03-08"), "suspect", "{what}:\n{daily}");
        // All headsigns empty, and a holiday: the processor keeps no row.
        assert_eq!(flag("2015-06-07"), "empty", "{what}");
        assert_eq!(flag("2016-05-30"), "empty", "{what}");
        assert_eq!(flag("2016-11-24"), "ok", "{what}");
        // Days that are not ok are listed but never merged.
        let suspect_rows: u64 = daily
            .lines()
            .find(|l| l.starts_with("2015-03-08"))
            .unwrap()
            .split(',')
            .nth(6)
            .unwrap()
            .parse()
            .unwrap();
        assert!(suspect_rows > 0);
        let headline = &output.aggregate.headline;
        let ok_used: u64 = daily
            .lines()
            .skip(1)
            .filter(|l| l.split(',').nth(2) == Some("ok"))
            .map(|l| l.split(',').nth(6).unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(headline.system.used, ok_used, "{what}");
    }
}
