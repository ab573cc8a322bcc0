//! The partial path on real processed days: identical days known by their partials' hashes
//! with no CSV read, the same figures as reading every CSV, and partials that are not current
//! (another length, a newer CSV, damaged bytes) never trusted.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use capmetrics::{Cancel, Catalog, Date, LocalDir, Params};
use capq_aggregate::{DayPartial, FileInfo};
use capq_diff::{DiffOptions, Side, diff};

use crate::Files;

const DAYS: [&str; 2] = ["2016-11-24", "2016-11-26"];

fn processed(params: &Params) -> Named {
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
    let catalog = Catalog::new(LocalDir::new(sample));
    DAYS.iter()
        .map(|day| {
            let date: Date = day.parse().unwrap();
            let out = catalog
                .process_with_params(date, params, Cancel::NEVER)
                .unwrap();
            (format!("{day}_processed.csv"), out.csv)
        })
        .collect()
}

/// The CSVs and, for each, its partial as the aggregate makes it.
fn with_partials(csvs: Named) -> Named {
    let mut files = Vec::new();
    for (name, bytes) in csvs {
        let day: Date = name[..10].parse().unwrap();
        let partial = DayPartial::from_csv(day, &name, &bytes).unwrap();
        files.push((
            format!("{}_processed.partial", &name[..10]),
            partial.encode(),
        ));
        files.push((name, bytes));
    }
    files
}

/// Files by name and bytes.
type Named = Vec<(String, Vec<u8>)>;

fn sides() -> (Named, Named) {
    let a = processed(&Params::DEFAULT);
    let mut b = a.clone();
    // The second day processed again with a looser distance.
    let changed = processed(&Params::from_assignments(["group_max_distance=0.4"]).unwrap());
    b[1] = changed[1].clone();
    (a, b)
}

fn options(use_partials: bool) -> DiffOptions {
    DiffOptions {
        threads: 2,
        use_partials,
        top: 1000,
        ..DiffOptions::default()
    }
}

/// The figures, as JSON, without the counts that say how days were read.
fn figures(d: &capq_diff::Diff) -> serde_json::Value {
    let mut v = serde_json::to_value(d).unwrap();
    v["days"]["identical_by_hash"] = serde_json::Value::Null;
    v["notes"] = serde_json::Value::Null;
    v
}

#[test]
fn identical_days_are_known_from_partials_and_counted_from_them() {
    let (a, b) = sides();
    let (a, b) = (Files::new(with_partials(a)), Files::new(with_partials(b)));
    let d = crate::run(&a, &b, &options(true)).unwrap();
    assert_eq!((d.days.identical, d.days.identical_by_hash), (1, 1));
    assert_eq!(d.days.changed.len(), 1);
    assert!(d.notes.is_empty(), "{:?}", d.notes);
    // The identical day: its partials only. The changed day: partials, then the CSVs.
    let expected = [
        "2016-11-24_processed.partial",
        "2016-11-26_processed.csv",
        "2016-11-26_processed.partial",
    ];
    assert_eq!(a.read(), expected);
    assert_eq!(b.read(), expected);
    assert!(d.rows.added > 0, "{:?}", d.rows);

    let (plain_a, plain_b) = sides();
    let (plain_a, plain_b) = (Files::new(plain_a), Files::new(plain_b));
    let csvs_only = crate::run(&plain_a, &plain_b, &options(true)).unwrap();
    assert_eq!(csvs_only.days.identical_by_hash, 0);
    assert_eq!(figures(&d), figures(&csvs_only));
    // --no-partials reads CSVs even where partials are.
    let ignored = crate::run(&a, &b, &options(false)).unwrap();
    assert_eq!(ignored.days.identical_by_hash, 0);
    assert_eq!(figures(&ignored), figures(&csvs_only));
    assert!(d.otp.system.a.used > 10_000);
}

#[test]
fn partials_that_are_not_current_are_not_trusted() {
    let (a, b) = sides();
    let a = with_partials(a);
    // B's first partial describes another file (the second day's CSV, relabelled): its
    // recorded length is not the CSV's, so its hash means nothing.
    let mut b_files = with_partials(b.clone());
    let other = DayPartial::from_csv("2016-11-24".parse().unwrap(), &b[0].0, &b[1].1).unwrap();
    b_files[0].1 = other.encode();
    let (fa, fb) = (Files::new(a.clone()), Files::new(b_files));
    let d = crate::run(&fa, &fb, &options(true)).unwrap();
    assert_eq!((d.days.identical, d.days.identical_by_hash), (1, 0));
    assert!(fb.read().contains(&"2016-11-24_processed.csv".to_owned()));
    assert!(d.notes.is_empty());

    // Damaged bytes: refused by the partial's checksum, said in a note, the CSVs compared.
    let mut damaged = with_partials(b.clone());
    let middle = damaged[0].1.len() / 2;
    damaged[0].1[middle] ^= 0x55;
    let (fa, fb) = (Files::new(a.clone()), Files::new(damaged));
    let d = crate::run(&fa, &fb, &options(true)).unwrap();
    assert_eq!((d.days.identical, d.days.identical_by_hash), (1, 0));
    assert_eq!(d.notes.len(), 1, "{:?}", d.notes);
    assert!(
        d.notes[0].starts_with("2016-11-24: b/2016-11-24_processed.partial: unusable partial"),
        "{}",
        d.notes[0]
    );

    // A CSV newer than its partial (rewritten after it): the partial is not even read.
    let fa = Files::new(a.clone());
    let fb = Files::new(with_partials(b));
    let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let listing = |files: &Files, csv_later: bool| -> Vec<FileInfo> {
        files
            .files
            .iter()
            .map(|(name, bytes)| FileInfo {
                name: name.clone(),
                size: Some(bytes.len() as u64),
                modified: Some(if csv_later && name.ends_with(".csv") {
                    then + Duration::from_secs(60)
                } else {
                    then
                }),
            })
            .collect()
    };
    let side_a = Side::from_listing("a", "a", listing(&fa, false)).0;
    let side_b = Side::from_listing("b", "b", listing(&fb, true)).0;
    let d = diff(
        &side_a,
        &side_b,
        &|n: &str| fa.fetch(n),
        &|n: &str| fb.fetch(n),
        &options(true),
    )
    .unwrap();
    assert_eq!((d.days.identical, d.days.identical_by_hash), (1, 0));
    assert!(
        !fb.read().iter().any(|n| n.ends_with(".partial")),
        "{:?}",
        fb.read()
    );
}
