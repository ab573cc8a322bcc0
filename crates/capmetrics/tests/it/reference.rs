//! The 8 reference days and the hand-explained fixture must be equivalent to the old outputs.

use capmetrics::{Catalog, DropReason, LocalDir};

use crate::{check, testdata};

fn reference(day: &str) -> usize {
    let dir = testdata();
    check(
        dir.join("data"),
        day,
        dir.join(format!("reference/{day}.csv.gz")),
    )
}

#[test]
fn fixture_of_29_explained_rows() {
    let dir = testdata().join("fixture");
    let rows = check(
        dir.join("data"),
        "2016-11-25",
        dir.join("expected/2016-11-25.csv"),
    );
    assert_eq!(rows, 21);
}

#[test]
fn fixture_diagnostics_explain_every_row() {
    let catalog = Catalog::new(LocalDir::new(testdata().join("fixture/data")));
    let d = catalog
        .process("2016-11-25".parse().unwrap())
        .unwrap()
        .diagnostics;
    assert_eq!((d.rows_in, d.rows_out), (29, 21));
    // Trip 1676921 is not in the schedule: its 2 rows have no candidate stop.
    assert_eq!(d.dropped(DropReason::NoCandidateStop), 2);
    // Groups of 3 (stop 5301), 3 (stop 5286), 2 (stop 5287) and 2 (stop 5349) keep one row each.
    assert_eq!(d.dropped(DropReason::MergedIntoGroup), 6);
    assert_eq!(d.total_dropped(), 8);
}

#[test]
fn full_day_2016_11_24() {
    assert_eq!(reference("2016-11-24"), 20_334);
}

#[test]
fn dst_change_2015_03_08() {
    assert_eq!(reference("2015-03-08"), 8_045);
}

#[test]
fn small_days() {
    assert_eq!(reference("2016-09-01"), 548);
    assert_eq!(reference("2016-12-18"), 11);
}

#[test]
fn days_using_the_20160604_and_20160820_metadata() {
    assert_eq!(reference("2016-05-19"), 301);
    assert_eq!(reference("2016-08-02"), 138);
}

#[test]
fn empty_headsigns_empty_the_day() {
    assert_eq!(reference("2015-06-07"), 0);
    let catalog = Catalog::new(LocalDir::new(testdata().join("data")));
    let d = catalog
        .process("2015-06-07".parse().unwrap())
        .unwrap()
        .diagnostics;
    assert!(d.dropped(DropReason::EmptyHeadsign) > 0, "{d}");
}

#[test]
fn holiday_service_has_no_weekday_flags() {
    assert_eq!(reference("2016-05-30"), 0);
    let catalog = Catalog::new(LocalDir::new(testdata().join("data")));
    let d = catalog
        .process("2016-05-30".parse().unwrap())
        .unwrap()
        .diagnostics;
    assert!(d.dropped(DropReason::NoScheduledTime) > 0, "{d}");
}
