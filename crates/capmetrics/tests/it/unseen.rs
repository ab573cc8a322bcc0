//! Every day in the data folder, not only the reference days, must end with the right outcome:
//! rows, an empty but successful output, or a clear failure.

use capmetrics::{Catalog, Date, DropReason, Error, LocalDir};

use crate::testdata;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// Success with output rows.
    Rows,
    /// Success with a header-only output, for the given reason.
    Empty(Why),
    /// Failure because no file of this kind covers the day.
    NoMetadata(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Why {
    HeaderOnlyInput,
    AllHeadsignsEmpty,
    NoWeekdayService,
}

use Outcome::*;
use Why::*;

const DAYS: [(&str, Outcome); 32] = [
    ("2015-03-07", Rows),
    ("2015-03-08", Rows),
    ("2015-03-18", Rows),
    ("2015-03-19", Rows),
    ("2015-06-07", Empty(AllHeadsignsEmpty)),
    // A stops file covers it, but no schedule does.
    ("2015-09-06", NoMetadata("schedule")),
    ("2015-12-30", NoMetadata("schedule")),
    ("2016-01-17", Empty(AllHeadsignsEmpty)),
    ("2016-02-07", Empty(AllHeadsignsEmpty)),
    ("2016-02-14", Empty(HeaderOnlyInput)),
    ("2016-02-15", Empty(HeaderOnlyInput)),
    ("2016-03-06", Empty(HeaderOnlyInput)),
    ("2016-03-22", Rows),
    ("2016-05-19", Rows),
    ("2016-05-30", Empty(NoWeekdayService)),
    ("2016-06-05", Empty(HeaderOnlyInput)),
    ("2016-08-02", Rows),
    ("2016-09-01", Rows),
    ("2016-09-05", Empty(HeaderOnlyInput)),
    ("2016-11-24", Rows),
    ("2016-11-25", Rows),
    ("2016-11-26", Rows),
    ("2016-11-27", Rows),
    ("2016-12-16", Rows),
    ("2016-12-17", Empty(HeaderOnlyInput)),
    ("2016-12-18", Rows),
    // No metadata covers 2017 after January 21, header-only days included: the day cannot be
    // processed, and saying so beats an empty "success".
    ("2017-03-16", NoMetadata("stops")),
    ("2017-03-17", NoMetadata("stops")),
    ("2017-03-18", NoMetadata("stops")),
    ("2017-03-19", NoMetadata("stops")),
    ("2017-03-21", NoMetadata("stops")),
    ("2017-04-18", NoMetadata("stops")),
];

#[test]
fn every_day_in_the_data_has_its_expected_outcome() {
    let data = testdata().join("data");
    let on_disk: Vec<String> = std::fs::read_dir(data.join("vehicle_positions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .map(|n| n.trim_end_matches(".csv.gz").to_owned())
        .collect();
    assert_eq!(
        on_disk.len(),
        DAYS.len(),
        "every day on disk has an expectation"
    );

    let catalog = Catalog::new(LocalDir::new(&data));
    for (day, expected) in DAYS {
        assert!(on_disk.iter().any(|d| d == day), "{day} is on disk");
        let date: Date = day.parse().unwrap();
        match (catalog.process(date), expected) {
            (Ok(out), Rows) => {
                assert!(out.diagnostics.rows_out > 0, "{day}: {}", out.diagnostics);
                assert!(out.diagnostics.is_balanced());
                assert_eq!(
                    out.csv.iter().filter(|&&b| b == b'\n').count() as u64,
                    out.diagnostics.rows_out + 1
                );
            }
            (Ok(out), Empty(why)) => {
                let d = out.diagnostics;
                assert_eq!(d.rows_out, 0, "{day}");
                assert_eq!(
                    out.csv,
                    format!("{}\n", capmetrics::output::HEADER).into_bytes(),
                    "{day}"
                );
                match why {
                    HeaderOnlyInput => assert_eq!(d.rows_in, 0, "{day}"),
                    AllHeadsignsEmpty => {
                        assert!(d.dropped(DropReason::EmptyHeadsign) > 0, "{day}: {d}")
                    }
                    NoWeekdayService => {
                        assert!(d.dropped(DropReason::NoScheduledTime) > 0, "{day}: {d}");
                        assert_eq!(d.dropped(DropReason::EmptyHeadsign), 0, "{day}: {d}");
                    }
                }
            }
            (Err(e @ Error::NoMetadata { kind, .. }), NoMetadata(expected_kind)) => {
                assert_eq!(kind, expected_kind, "{day}");
                let message = e.to_string();
                assert!(message.contains(day) && message.contains(kind), "{message}");
                assert!(e.is_input_error());
            }
            (got, expected) => panic!("{day}: expected {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn a_day_without_a_positions_file_is_missing_not_failed() {
    let catalog = Catalog::new(LocalDir::new(testdata().join("data")));
    let err = catalog.process("2016-11-28".parse().unwrap()).unwrap_err();
    assert!(err.is_missing_day(), "{err}");
    assert!(err.to_string().contains("2016-11-28"), "{err}");
}

#[test]
fn metadata_is_loaded_once_and_shared() {
    let catalog = Catalog::new(LocalDir::new(testdata().join("data")));
    let a = catalog.schedule_for("2016-11-24".parse().unwrap()).unwrap();
    let b = catalog.schedule_for("2016-12-18".parse().unwrap()).unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&a, &b),
        "one schedule file covers both days"
    );
    assert_eq!(a.len(), 413_117);
    let c = catalog.schedule_for("2016-08-02".parse().unwrap()).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&a, &c));
}

#[test]
fn processing_stops_soon_after_cancellation() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    let catalog = Catalog::new(LocalDir::new(testdata().join("data")));
    let day: Date = "2016-11-24".parse().unwrap();
    // Cancelled before it starts: nothing is done.
    let cancelled = AtomicBool::new(true);
    let err = catalog
        .process_cancellable(day, capmetrics::Cancel::new(&cancelled))
        .unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err}");
    // Cancelled while it runs (metadata already loaded, so only the day's own work is left,
    // tens of milliseconds): it stops within a few milliseconds of the flag being set.
    catalog.process(day).unwrap();
    let flag = AtomicBool::new(false);
    let set_at = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(3));
            *set_at.lock().unwrap() = Some(Instant::now());
            flag.store(true, Ordering::Relaxed);
        });
        let result = catalog.process_cancellable(day, capmetrics::Cancel::new(&flag));
        let stopped = Instant::now();
        assert!(
            matches!(result, Err(Error::Cancelled)),
            "{:?}",
            result.map(|o| o.diagnostics)
        );
        let set_at = set_at.lock().unwrap().expect("the flag was set");
        assert!(
            stopped.duration_since(set_at) < Duration::from_millis(100),
            "{:?}",
            stopped.duration_since(set_at)
        );
    });
}
