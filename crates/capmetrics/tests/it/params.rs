//! Processor parameters end to end: the defaults reproduce the reference outputs, and a changed
//! threshold moves the output of the hand-explained fixture exactly as `explain.csv` predicts.

use std::collections::BTreeSet;

use capmetrics::{Cancel, Catalog, Diagnostics, DropReason, LocalDir, Params};

use crate::testdata;

const FIXTURE_DAY: &str = "2016-11-25";

fn fixture_with(assignments: &[&str]) -> (Vec<u8>, Diagnostics) {
    let catalog = Catalog::new(LocalDir::new(testdata().join("fixture/data")));
    let params = Params::from_assignments(assignments).unwrap();
    let output = catalog
        .process_with_params(FIXTURE_DAY.parse().unwrap(), &params, Cancel::NEVER)
        .unwrap();
    assert!(output.diagnostics.is_balanced(), "{:?}", output.diagnostics);
    (output.csv, output.diagnostics)
}

fn lines(csv: &[u8]) -> BTreeSet<String> {
    String::from_utf8(csv.to_vec())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The output lines only in `a`, and those only in `b`.
fn difference(a: &[u8], b: &[u8]) -> (Vec<String>, Vec<String>) {
    let (a, b) = (lines(a), lines(b));
    (
        a.difference(&b).cloned().collect(),
        b.difference(&a).cloned().collect(),
    )
}

/// The output line of (trip, stop) in a processed CSV, if any.
fn row_of(lines: &[String], trip_id: &str, stop_id: &str) -> Option<String> {
    lines
        .iter()
        .find(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            fields[4] == trip_id && fields[10] == stop_id
        })
        .cloned()
}

#[test]
fn explicit_defaults_give_the_same_bytes_as_no_parameters() {
    let catalog = Catalog::new(LocalDir::new(testdata().join("data")));
    let day = "2016-11-24".parse().unwrap();
    let plain = catalog.process(day).unwrap();
    let spelled_out =
        Params::from_canonical("group_arrived_min_dev=0,group_max_distance=0.25").unwrap();
    assert_eq!(spelled_out, Params::default());
    let with_params = catalog
        .process_with_params(day, &spelled_out, Cancel::NEVER)
        .unwrap();
    assert_eq!(plain.csv, with_params.csv);
    assert_eq!(plain.diagnostics, with_params.diagnostics);
    assert_eq!(plain.diagnostics.rows_out, 20_334);
}

/// explain.csv: trip 1676884 has groups at stop 5286 (distances 0.357, 0.055, 0.190 with
/// sched_dev -430, -190, +50) and at stop 5287 (0.322 and 0.171, with -190 and +49). At 0.25
/// the +50 and +49 rows are kept. At 0.1 only the 0.055 row of 5286 is near, and it is early,
/// so it is kept as the last near row; 5287 has no near row and yields nothing.
#[test]
fn a_smaller_group_max_distance_keeps_nearer_rows_and_drops_far_groups() {
    let (default_csv, default_diagnostics) = fixture_with(&[]);
    let (csv, diagnostics) = fixture_with(&["group_max_distance=0.1"]);

    let (gone, new) = difference(&default_csv, &csv);
    assert_eq!(gone.len(), 2, "{gone:#?}");
    let kept_5286 = row_of(&gone, "1676884", "5286").unwrap();
    assert!(
        kept_5286.contains("2016-11-25T10:10:50-06:00"),
        "{kept_5286}"
    );
    assert!(kept_5286.ends_with(",50,5,10"), "{kept_5286}");
    let kept_5287 = row_of(&gone, "1676884", "5287").unwrap();
    assert!(
        kept_5287.contains("2016-11-25T10:18:49-06:00"),
        "{kept_5287}"
    );

    assert_eq!(new.len(), 1, "{new:#?}");
    let now_5286 = row_of(&new, "1676884", "5286").unwrap();
    assert!(now_5286.contains("2016-11-25T10:06:50-06:00"), "{now_5286}");
    assert!(now_5286.ends_with(",-190,5,10"), "{now_5286}");

    assert_eq!(
        (default_diagnostics.rows_out, diagnostics.rows_out),
        (21, 20)
    );
    assert_eq!(default_diagnostics.dropped(DropReason::FarFromStop), 0);
    assert_eq!(diagnostics.dropped(DropReason::FarFromStop), 2);
    assert_eq!(diagnostics.dropped(DropReason::MergedIntoGroup), 5);
}

/// explain.csv: trip 1672549 at stop 5301 has near rows with sched_dev -23 then +217. By
/// default the first row with sched_dev ≥ 0 (+217) is kept; counting -30 s as arrived keeps
/// the -23 row instead. Trip 1689514 at stop 5349 (-496, -202) still has no arrived row, so its
/// last near row stays.
#[test]
fn a_lower_group_arrived_min_dev_keeps_the_slightly_early_row() {
    let (default_csv, default_diagnostics) = fixture_with(&[]);
    let (csv, diagnostics) = fixture_with(&["group_arrived_min_dev=-30"]);
    let (gone, new) = difference(&default_csv, &csv);
    assert_eq!((gone.len(), new.len()), (1, 1), "{gone:#?} {new:#?}");
    let before = row_of(&gone, "1672549", "5301").unwrap();
    assert!(before.contains("2016-11-25T19:42:37-06:00"), "{before}");
    let after = row_of(&new, "1672549", "5301").unwrap();
    assert!(after.contains("2016-11-25T19:38:37-06:00"), "{after}");
    assert!(after.ends_with(",-23,5,19"), "{after}");
    assert_eq!(diagnostics, default_diagnostics);

    // At -500 the -496 row of stop 5349 counts as arrived, and it comes first.
    let (csv, _) = fixture_with(&["group_arrived_min_dev=-500"]);
    let (_, new) = difference(&default_csv, &csv);
    let at_5349 = row_of(&new, "1689514", "5349").unwrap();
    assert!(at_5349.contains("2016-11-25T23:53:44-06:00"), "{at_5349}");
}

/// On a full day, a larger threshold can only let more multi-row groups find a near row.
#[test]
fn group_max_distance_moves_a_full_day_in_the_expected_direction() {
    let catalog = Catalog::new(LocalDir::new(testdata().join("data")));
    let day = "2016-11-24".parse().unwrap();
    let mut far = Vec::new();
    for distance in ["0", "0.1", "0.25", "0.5", "1000"] {
        let params = Params::from_assignments([format!("group_max_distance={distance}")]).unwrap();
        let d = catalog
            .process_with_params(day, &params, Cancel::NEVER)
            .unwrap()
            .diagnostics;
        assert!(d.is_balanced(), "{d:?}");
        far.push((d.dropped(DropReason::FarFromStop), d.rows_out));
    }
    assert!(
        far.windows(2).all(|w| w[0].0 > w[1].0 && w[0].1 < w[1].1),
        "far-from-stop drops must fall and rows out rise: {far:?}"
    );
    // At 0.25 this is the reference day's count.
    assert_eq!(far[2].1, 20_334);
    // With no limit, no group is ever far.
    assert_eq!(far[4].0, 0);
}
