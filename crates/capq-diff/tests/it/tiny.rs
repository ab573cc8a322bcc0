//! The rules on small hand-made days, each count worked out by hand in the comments.

use capmetrics::{Date, Diagnostics, DropReason};
use capq_aggregate::stats::{Z95, wilson};
use capq_aggregate::{FileInfo, Profile, WindowChoice};
use capq_diff::{
    Class, DayStatus, DiffOptions, Error, OutputFile, Provenance, Side, SideDay, diff,
};

use crate::{Files, csv, day_csv, recorded, row, run};

fn options() -> DiffOptions {
    DiffOptions {
        threads: 2,
        ..DiffOptions::default()
    }
}

/// Four days: 11-24 differs row by row, 11-25 is the same on both sides, 11-26 is only in A,
/// 11-27 only in B.
fn sides() -> (Files, Files) {
    let same = csv(&[
        row(1, 100, 10, "0.1", "48", 7),
        row(1, 100, 11, "0.1", "100", 7),
    ]);
    let a = Files::new(vec![
        day_csv(
            "2016-11-24",
            csv(&[
                row(1, 100, 10, "0.1", "48", 7), // on time, unchanged (B: 1e-11 further)
                row(1, 100, 11, "0.1", "100", 7), // on time → late (B: 400)
                row(2, 200, 10, "0.1", "-100", 8), // early, unchanged (B: -100.0)
                row(2, 200, 12, "0.3", "5", 8),  // far, removed
            ]),
        ),
        day_csv("2016-11-25", same.clone()),
        day_csv("2016-11-26", csv(&[row(4, 400, 30, "0.1", "10", 10)])),
    ]);
    let b = Files::new(vec![
        day_csv(
            "2016-11-24",
            csv(&[
                row(3, 300, 20, "0.05", "2000", 9), // outlier, added
                row(2, 200, 10, "0.1", "-100.0", 8),
                row(1, 100, 11, "0.1", "400", 7),
                row(1, 100, 10, "0.10000000001", "48", 7),
            ]),
        ),
        day_csv("2016-11-25", same),
        day_csv("2016-11-27", csv(&[row(4, 401, 31, "0.1", "500", 11)])),
    ]);
    (a, b)
}

fn day(text: &str) -> Date {
    text.parse().unwrap()
}

#[test]
fn days_rows_columns_and_samples() {
    let (a, b) = sides();
    let d = run(&a, &b, &options()).unwrap();
    assert!(d.differs());
    assert_eq!(d.days.identical, 1);
    assert_eq!(d.days.identical_by_hash, 0);
    assert_eq!(d.days.changed, [day("2016-11-24")]);
    assert_eq!(d.days.added, [day("2016-11-27")]);
    assert_eq!(d.days.removed, [day("2016-11-26")]);
    assert!(d.days.equivalent.is_empty());
    // Added: the outlier of 11-24 and the day 11-27; removed: the far row and 11-26.
    assert_eq!(
        (
            d.rows.added,
            d.rows.removed,
            d.rows.changed,
            d.rows.unchanged
        ),
        (2, 2, 1, 4)
    );
    assert_eq!(d.rows.columns.len(), 1);
    assert_eq!(
        (d.rows.columns[0].column.as_str(), d.rows.columns[0].rows),
        ("sched_dev", 1)
    );
    let changed = &d.rows.samples.changed[0];
    assert_eq!(
        (changed.trip_id, changed.stop_id, changed.route_id),
        (100, 11, 1)
    );
    assert_eq!(changed.changes.len(), 1);
    assert_eq!(changed.changes[0].before.as_deref(), Some("100"));
    assert_eq!(changed.changes[0].after.as_deref(), Some("400"));
    let added: Vec<(i64, i64)> = d
        .rows
        .samples
        .added
        .iter()
        .map(|r| (r.trip_id, r.stop_id))
        .collect();
    assert_eq!(added, [(300, 20), (401, 31)]);
    let removed: Vec<(i64, i64)> = d
        .rows
        .samples
        .removed
        .iter()
        .map(|r| (r.trip_id, r.stop_id))
        .collect();
    assert_eq!(removed, [(200, 12), (400, 30)]);
    assert_eq!(
        d.rows.samples.removed[0].fields[12],
        ("distance_to_stop".to_owned(), "0.3".to_owned())
    );
    // Per day: the identical day is left out.
    let per_day: Vec<(String, &str)> = d
        .per_day
        .iter()
        .map(|r| (r.day.to_string(), r.status))
        .collect();
    assert_eq!(
        per_day,
        [
            ("2016-11-24".to_owned(), "changed"),
            ("2016-11-26".to_owned(), "removed"),
            ("2016-11-27".to_owned(), "added")
        ]
    );
    // Nothing was known without reading: every CSV was read, no partial asked for.
    assert_eq!(
        a.read(),
        [
            "2016-11-24_processed.csv",
            "2016-11-25_processed.csv",
            "2016-11-26_processed.csv"
        ]
    );
}

#[test]
fn on_time_figures_and_the_transitions_that_explain_them() {
    let (a, b) = sides();
    let d = run(&a, &b, &options()).unwrap();
    let s = &d.otp.system;
    // A's used rows: 48, 100, -100 (11-24), 48, 100 (11-25), 10 (11-26): 5 of 6 on time.
    // B's: -100, 400, 48 (11-24), 48, 100 (11-25), 500 (11-27): 3 of 6.
    assert_eq!((s.a.used, s.a.early, s.a.on_time, s.a.late), (6, 1, 5, 0));
    assert_eq!((s.b.used, s.b.early, s.b.on_time, s.b.late), (6, 1, 3, 2));
    assert_eq!(s.a.otp, Some(5.0 / 6.0));
    assert_eq!(s.b.otp, Some(0.5));
    assert_eq!(s.change_pp, Some((0.5 - 5.0 / 6.0) * 100.0));
    assert_eq!(
        (s.a.otp_lo, s.a.otp_hi),
        wilson(5, 6, Z95).map_or((None, None), |(l, h)| (Some(l), Some(h)))
    );
    assert_eq!(
        (s.b.otp_lo, s.b.otp_hi),
        wilson(3, 6, Z95).map_or((None, None), |(l, h)| (Some(l), Some(h)))
    );
    // Sorted A: -100 10 48 48 100 100, rank ceil(3) = 3 → 48; B: -100 48 48 100 400 500 → 48.
    assert_eq!(
        (s.a.p50, s.b.p50, s.p50_shift),
        (Some(48), Some(48), Some(0))
    );

    let changed = d.otp.changed_days.as_ref().unwrap();
    assert_eq!((changed.a.used, changed.a.on_time), (3, 2));
    assert_eq!((changed.b.used, changed.b.on_time), (3, 1));
    // 11-24 A: -100 48 100 → 48; B: -100 48 400 → 48.
    assert_eq!((changed.a.p50, changed.b.p50), (Some(48), Some(48)));

    // Route 4 went from 1 of 1 to 0 of 1, route 1 from 4 of 4 to 3 of 4; routes 2 and 3 did
    // not move (route 3 has no used row).
    let routes: Vec<(i64, Option<f64>)> = d
        .otp
        .routes
        .iter()
        .map(|r| (r.route_id, r.change.change_pp))
        .collect();
    assert_eq!(routes, [(4, Some(-100.0)), (1, Some(-25.0))]);

    let t = &d.transitions;
    assert_eq!(t.count(Class::OnTime, Class::OnTime), 3);
    assert_eq!(t.count(Class::OnTime, Class::Late), 1);
    assert_eq!(t.count(Class::Early, Class::Early), 1);
    assert_eq!(t.count(Class::Far, Class::Absent), 1);
    assert_eq!(t.count(Class::OnTime, Class::Absent), 1);
    assert_eq!(t.count(Class::Absent, Class::Outlier), 1);
    assert_eq!(t.count(Class::Absent, Class::Late), 1);
    let total: u64 = t.counts.iter().flatten().sum();
    assert_eq!(total, 9, "4 unchanged + 1 changed + 2 added + 2 removed");
    let on_time = t.net.iter().find(|f| f.class == "on_time").unwrap();
    assert_eq!(
        (on_time.count.a, on_time.count.b, on_time.count.change),
        (5, 3, -2)
    );
    assert_eq!(on_time.to.get("late"), Some(&1));
    assert_eq!(on_time.to.get("absent"), Some(&1));
    assert!(on_time.from.is_empty());

    // Where: one changed (route 1, hour 7, stop 11), two removed (route 2, hour 8, stop 12;
    // route 4, hour 10, stop 30), two added (route 3, hour 9, stop 20; route 4, hour 11).
    let p = &d.places;
    assert_eq!(p.rows, 5);
    assert_eq!((p.by_route[0].key.as_str(), p.by_route[0].rows), ("4", 2));
    assert_eq!(p.by_route[0].share, 0.4);
    assert_eq!((p.by_route[0].added, p.by_route[0].removed), (1, 1));
    assert_eq!(p.by_day[0].key, "2016-11-24");
    assert_eq!(p.by_day[0].rows, 3);
    assert_eq!(p.by_hour.len(), 5);
    assert!(p.by_drop_reason.is_empty(), "no drop counts in folders");
    assert!(d.drops.is_none());

    // Another window: capmetro has no early bound, so -100 is on time.
    let capmetro = DiffOptions {
        window: WindowChoice::Profile(Profile::Capmetro),
        ..options()
    };
    let d = run(&a, &b, &capmetro).unwrap();
    assert_eq!(d.otp.system.a.on_time, 6);
    assert_eq!(d.window.profile, Some("capmetro"));
    assert_eq!(d.window.early, None);
}

#[test]
fn equivalent_text_is_not_a_difference() {
    let a = Files::new(vec![day_csv(
        "2016-11-24",
        csv(&[row(1, 100, 10, "0.178909055109", "48", 7)]),
    )]);
    // Another spelling of the same values, and the headsign quoted.
    let text = row(1, 100, 10, "0.17890905510912345", "48.0", 7).replace(",North,", ",\"North\",");
    let b = Files::new(vec![day_csv("2016-11-24", csv(&[text]))]);
    let d = run(&a, &b, &options()).unwrap();
    assert!(!d.differs());
    assert_eq!(d.days.equivalent, [day("2016-11-24")]);
    assert_eq!((d.rows.changed, d.rows.unchanged), (0, 1));
    assert!(d.places.by_day.is_empty());
    // A difference beyond 1e-9 is one.
    let b = Files::new(vec![day_csv(
        "2016-11-24",
        csv(&[row(1, 100, 10, "0.17890906", "48", 7)]),
    )]);
    let d = run(&a, &b, &options()).unwrap();
    assert!(d.differs());
    assert_eq!(d.rows.columns[0].column, "distance_to_stop");
}

#[test]
fn headers_that_differ() {
    let rows = [
        row(1, 100, 10, "0.1", "48", 7),
        row(1, 100, 11, "0.1", "49", 7),
    ];
    let a = Files::new(vec![day_csv("2016-11-24", csv(&rows))]);
    // The same values with two columns swapped: no row differs, but the file's shape does.
    let swap = |line: &str| {
        let mut fields: Vec<&str> = line.split(',').collect();
        fields.swap(0, 1);
        fields.join(",")
    };
    let mut text = swap(crate::HEADER);
    for r in &rows {
        text.push('\n');
        text.push_str(&swap(r));
    }
    let b = Files::new(vec![day_csv("2016-11-24", text.into_bytes())]);
    let d = run(&a, &b, &options()).unwrap();
    assert!(d.differs());
    assert_eq!(d.days.changed, [day("2016-11-24")]);
    assert_eq!((d.rows.changed, d.rows.unchanged), (0, 2));
    let header = d.per_day[0].header.as_ref().unwrap();
    assert_eq!(header.b[0], "timestamp");

    // A column gone: every pair differs in it.
    let drop_speed = |line: &str| {
        let mut fields: Vec<&str> = line.split(',').collect();
        fields.remove(2);
        fields.join(",")
    };
    let mut text = drop_speed(crate::HEADER);
    for r in &rows {
        text.push('\n');
        text.push_str(&drop_speed(r));
    }
    let b = Files::new(vec![day_csv("2016-11-24", text.into_bytes())]);
    let d = run(&a, &b, &options()).unwrap();
    assert_eq!(d.rows.changed, 2);
    assert_eq!(d.rows.columns[0].column, "speed");
    assert_eq!(d.rows.samples.changed[0].changes[0].after, None);
}

#[test]
fn recorded_hashes_spare_reading_identical_days() {
    let bytes = csv(&[row(1, 100, 10, "0.1", "48", 7)]);
    let name = "2016-11-24_processed.csv";
    let files = || Files::new(vec![(name.to_owned(), bytes.clone())]);
    let (a, b) = (files(), files());
    let hash = capq_aggregate::content_hash(&bytes);
    let side = |label: &str| {
        Side::new(
            label,
            label,
            vec![recorded("2016-11-24", name, bytes.len() as u64, hash)],
        )
        .unwrap()
    };
    let d = diff(
        &side("a"),
        &side("b"),
        &|n: &str| a.fetch(n),
        &|n: &str| b.fetch(n),
        &options(),
    )
    .unwrap();
    assert_eq!((d.days.identical, d.days.identical_by_hash), (1, 1));
    // The statistics still need the day's rows: one side's CSV is read, the other's not.
    assert_eq!(a.read(), [name]);
    assert!(b.read().is_empty());
    assert_eq!(d.otp.system.a.used, 1);
    assert_eq!(d.otp.system.b.used, 1);

    // A hash that differs means reading both.
    let (a, b) = (files(), files());
    let other = Side::new(
        "b",
        "b",
        vec![recorded("2016-11-24", name, bytes.len() as u64, hash ^ 1)],
    )
    .unwrap();
    let d = diff(
        &side("a"),
        &other,
        &|n: &str| a.fetch(n),
        &|n: &str| b.fetch(n),
        &options(),
    )
    .unwrap();
    // (The recorded hash was wrong; the bytes say identical.)
    assert_eq!((d.days.identical, d.days.identical_by_hash), (1, 0));
    assert_eq!((a.read().len(), b.read().len()), (1, 1));
}

fn output(day: &str, files: &Files) -> SideDay {
    let name = format!("{day}_processed.csv");
    SideDay {
        day: day.parse().unwrap(),
        status: DayStatus::Output(OutputFile {
            csv: FileInfo {
                size: files.files.get(&name).map(|b| b.len() as u64),
                name,
                modified: None,
            },
            hash: None,
            partial: None,
        }),
        input_fingerprint: Some("in-1".into()),
        drops: None,
    }
}

fn failed(day: &str, error: &str) -> SideDay {
    SideDay {
        day: day.parse().unwrap(),
        status: DayStatus::Failed {
            error: error.to_owned(),
        },
        input_fingerprint: None,
        drops: None,
    }
}

fn diagnostics(rows_in: u64, far: u64, merged: u64) -> Diagnostics {
    let mut d = Diagnostics::default();
    d.add_dropped(DropReason::FarFromStop, far);
    d.add_dropped(DropReason::MergedIntoGroup, merged);
    d.rows_in = rows_in;
    d.rows_out = rows_in - far - merged;
    d
}

#[test]
fn failures_drop_counts_and_provenance_from_runs() {
    let one = csv(&[row(1, 100, 10, "0.1", "48", 7)]);
    let two = csv(&[
        row(1, 100, 10, "0.1", "48", 7),
        row(1, 100, 11, "0.1", "9", 7),
    ]);
    let a_files = Files::new(vec![
        day_csv("2016-11-01", one.clone()),
        day_csv("2016-11-03", one.clone()),
    ]);
    let b_files = Files::new(vec![
        day_csv("2016-11-02", one.clone()),
        day_csv("2016-11-03", two),
    ]);
    let mut a3 = output("2016-11-03", &a_files);
    a3.drops = Some(diagnostics(10, 5, 4));
    let mut b3 = output("2016-11-03", &b_files);
    b3.drops = Some(diagnostics(10, 4, 4));
    b3.input_fingerprint = Some("in-2".into());
    let mut a = Side::new(
        "run-1",
        "a",
        vec![
            output("2016-11-01", &a_files),
            failed("2016-11-02", "no schedule covers 2016-11-02"),
            a3,
            failed("2016-11-04", "bad gzip"),
        ],
    )
    .unwrap();
    let mut b = Side::new(
        "run-2",
        "b",
        vec![
            failed(
                "2016-11-01",
                "positions: line 7, column `latitude`: not a number",
            ),
            output("2016-11-02", &b_files),
            b3,
            failed("2016-11-04", "bad gzip"),
        ],
    )
    .unwrap();
    let params = |distance: &str| {
        [
            ("group_arrived_min_dev", "0"),
            ("group_max_distance", distance),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    };
    a.provenance = Some(Provenance {
        run_id: Some("run-1".into()),
        processor_fingerprint: Some("aaaa".into()),
        params: params("0.25"),
        ..Provenance::default()
    });
    b.provenance = Some(Provenance {
        run_id: Some("run-2".into()),
        processor_fingerprint: Some("bbbb".into()),
        params: params("0.35"),
        ..Provenance::default()
    });
    let d = diff(
        &a,
        &b,
        &|n: &str| a_files.fetch(n),
        &|n: &str| b_files.fetch(n),
        &options(),
    )
    .unwrap();
    assert!(d.differs());
    assert_eq!(d.days.newly_failing.len(), 1);
    assert_eq!(d.days.newly_failing[0].day, day("2016-11-01"));
    assert!(d.days.newly_failing[0].error.contains("latitude"));
    assert_eq!(d.days.fixed, [day("2016-11-02")]);
    assert_eq!(d.days.still_failing, [day("2016-11-04")]);
    assert_eq!(d.days.changed, [day("2016-11-03")]);
    // The newly failing day's row is gone from B, the fixed day's is new, 11-03 gained one.
    assert_eq!((d.rows.removed, d.rows.added, d.rows.unchanged), (1, 2, 1));

    let drops = d.drops.as_ref().unwrap();
    assert_eq!(drops.days, 1);
    assert_eq!((drops.rows_out.a, drops.rows_out.b), (1, 2));
    let far = drops
        .reasons
        .iter()
        .find(|r| r.reason == "far_from_stop")
        .unwrap();
    assert_eq!((far.count.a, far.count.b, far.count.change), (5, 4, -1));
    assert_eq!(d.places.by_drop_reason.len(), 1);
    assert_eq!(d.places.by_drop_reason[0].reason, "far_from_stop");
    assert_eq!(d.places.by_drop_reason[0].share, 1.0);
    let day3 = d
        .per_day
        .iter()
        .find(|r| r.day == day("2016-11-03"))
        .unwrap();
    assert!(day3.drops.is_some());

    let p = &d.provenance;
    assert!(p.known);
    assert_eq!(p.fields.len(), 1);
    assert_eq!(p.fields[0].name, "processor_fingerprint");
    assert_eq!(p.params.len(), 1);
    assert_eq!(p.params[0].name, "group_max_distance");
    assert_eq!(
        (p.params[0].a.as_deref(), p.params[0].b.as_deref()),
        (Some("0.25"), Some("0.35"))
    );
    assert_eq!(p.inputs_changed, [day("2016-11-03")]);
    assert_eq!(d.a.run_id.as_deref(), Some("run-1"));
    assert_eq!((d.a.days, d.b.days), (4, 4));
}

#[test]
fn a_day_given_twice_is_refused() {
    let files = Files::default();
    let error = Side::new(
        "run",
        "r",
        vec![output("2016-11-01", &files), failed("2016-11-01", "x")],
    )
    .unwrap_err();
    assert_eq!(error.to_string(), "run: day 2016-11-01 is given twice");
}

#[test]
fn the_first_bad_day_is_the_error_whatever_the_threads() {
    let good = csv(&[row(1, 100, 10, "0.1", "48", 7)]);
    let bad = |dev: &str| csv(&[row(1, 100, 10, "0.1", dev, 7)]);
    let mut a = Vec::new();
    let mut b = Vec::new();
    for n in 1..=20 {
        let day = format!("2016-11-{n:02}");
        a.push(day_csv(&day, good.clone()));
        b.push(day_csv(
            &day,
            match n {
                7 => bad("soon"),
                15 => bad("later"),
                _ => good.clone(),
            },
        ));
    }
    let (a, b) = (Files::new(a), Files::new(b));
    for threads in 1..=4 {
        let error = run(
            &a,
            &b,
            &DiffOptions {
                threads,
                ..options()
            },
        )
        .unwrap_err();
        assert!(matches!(error, Error::Field { .. }), "{error}");
        assert_eq!(
            error.to_string(),
            "b/2016-11-07_processed.csv, line 2, column `sched_dev`: not a whole number of seconds: \"soon\"",
            "{threads} threads"
        );
    }
}

#[test]
fn unreadable_files_are_errors_naming_them() {
    let a = Files::new(vec![day_csv(
        "2016-11-24",
        csv(&[row(1, 100, 10, "0.1", "48", 7)]),
    )]);
    for (bytes, needle) in [
        (b"".to_vec(), "the file is empty; expected a header line"),
        (b"a,b\n1,2\n".to_vec(), "missing column `trip_id`"),
        (vec![0x1f, 0x8b, 0, 1, 2], "b/2016-11-24_processed.csv: "),
        (
            csv(&[row(1, 100, 10, "0.1", "48", 25)]),
            "column `hourofday`: not an hour from 0 to 23: \"25\"",
        ),
        (
            csv(&[row(1, 100, 10, "far", "48", 7)]),
            "column `distance_to_stop`: not a finite number: \"far\"",
        ),
    ] {
        let b = Files::new(vec![day_csv("2016-11-24", bytes)]);
        let error = run(&a, &b, &options()).unwrap_err().to_string();
        assert!(error.contains(needle), "{error}");
        assert!(error.contains("2016-11-24_processed.csv"), "{error}");
    }
    // A file listed but gone when read.
    let b = Files::new(vec![]);
    let side = a.side("b");
    let error = diff(
        &a.side("a"),
        &side,
        &|n: &str| a.fetch(n),
        &|n: &str| b.fetch(n),
        &options(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "b/2016-11-24_processed.csv: listed, but gone when it was read"
    );
}
