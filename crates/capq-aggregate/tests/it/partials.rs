//! Partials against CSVs: the same tables byte for byte, for every profile and a custom
//! window; the partial file round trip; when a partial is not current (a rewritten CSV, a
//! damaged file, another version) the CSV is read instead; and rows pushed as `Visit`s give
//! the same partial as the CSV.

use std::path::Path;

use capmetrics::Date;
use capq_aggregate::{
    DayOutcome, DayPartial, FolderOptions, PartialBuilder, PartialUse, Profile, Visit,
    WindowChoice, partial_name,
};

use crate::{aggregate_dir, assert_same, files_of, processed_data_days, reference_days, testdata};

fn copy_dir(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.path().join(path.file_name().unwrap())).unwrap();
    }
    to
}

fn options(choice: WindowChoice, use_partials: bool) -> FolderOptions {
    FolderOptions {
        window: choice,
        use_partials,
        threads: 2,
        ..FolderOptions::default()
    }
}

/// Writes the partial of every day of `dir` next to its CSV, as `capq aggregate
/// --write-partials` does.
fn write_partials(dir: &Path) {
    let mut opts = options(WindowChoice::default(), false);
    opts.write_partials = true;
    let output = aggregate_dir(dir, &opts);
    assert!(!output.new_partials.is_empty());
    for (name, bytes) in &output.new_partials {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

fn sources(output: &capq_aggregate::FolderOutput) -> Vec<PartialUse> {
    output
        .days
        .iter()
        .map(|d| match d {
            DayOutcome::Counted { source, .. } => source.clone(),
            DayOutcome::Failed { day, error } => panic!("{day}: {error}"),
        })
        .collect()
}

#[test]
fn partials_and_csvs_give_byte_identical_tables() {
    let data = copy_dir(processed_data_days());
    let reference = reference_days();
    for dir in [data.path(), reference.path()] {
        write_partials(dir);
        for choice in [
            WindowChoice::Profile(Profile::Tcqsm),
            WindowChoice::Profile(Profile::Transitclock),
            WindowChoice::Profile(Profile::Capmetro),
            WindowChoice::Profile(Profile::Wmata),
            WindowChoice::Custom("-1,1".parse().unwrap()),
        ] {
            let from_csv = aggregate_dir(dir, &options(choice, false));
            assert!(
                sources(&from_csv)
                    .iter()
                    .all(|s| *s == PartialUse::Disabled)
            );
            let from_partials = aggregate_dir(dir, &options(choice, true));
            assert!(
                sources(&from_partials)
                    .iter()
                    .all(|s| *s == PartialUse::Used),
                "{:?}",
                sources(&from_partials)
            );
            assert_same(
                &format!("{choice:?}"),
                &files_of(&from_csv),
                &files_of(&from_partials),
            );
            assert_eq!(
                from_csv.aggregate.headline,
                from_partials.aggregate.headline
            );
        }
    }
}

#[test]
fn partial_files_round_trip_and_are_deterministic() {
    let csv = std::fs::read(testdata().join("fixture/expected/2016-11-25.csv")).unwrap();
    let day: Date = "2016-11-25".parse().unwrap();
    let partial = DayPartial::from_csv(day, "2016-11-25_processed.csv", &csv).unwrap();
    let bytes = partial.encode();
    assert!(bytes.starts_with(b"CAPQPART"));
    let decoded = DayPartial::decode("x.partial", &bytes).unwrap();
    assert_eq!(decoded, partial);
    assert_eq!(decoded.encode(), bytes);
    let source = decoded.source().unwrap();
    assert_eq!(source.name, "2016-11-25_processed.csv");
    assert_eq!(source.len, csv.len() as u64);
    assert_eq!(source.hash, capq_aggregate::content_hash(&csv));
    assert_eq!(partial_name(day), "2016-11-25_processed.partial");
    // The fixture's 21 rows: none far or outlier except the lone far rows it keeps.
    assert_eq!(partial.rows(), 21);
}

#[test]
fn damaged_partials_are_errors_never_panics() {
    let csv = std::fs::read(testdata().join("fixture/expected/2016-11-25.csv")).unwrap();
    let day: Date = "2016-11-25".parse().unwrap();
    let bytes = DayPartial::from_csv(day, "a.csv", &csv).unwrap().encode();
    // Truncated anywhere, or any byte changed: the checksum catches it.
    for len in 0..bytes.len() {
        assert!(
            DayPartial::decode("p", &bytes[..len]).is_err(),
            "truncated to {len}"
        );
    }
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x41;
        assert!(DayPartial::decode("p", &damaged).is_err(), "byte {i}");
    }
    // Damage behind a valid checksum reaches the structural checks: they must not panic, and
    // whatever they accept must encode back to the same bytes.
    let body = bytes.len() - 8;
    for i in 12..body {
        for value in [0x00, 0x01, 0x7f, 0x80, 0xff] {
            let mut damaged = bytes[..body].to_vec();
            damaged[i] = value;
            let checksum = capq_aggregate::content_hash(&damaged);
            damaged.extend_from_slice(&checksum.to_le_bytes());
            if let Ok(partial) = DayPartial::decode("p", &damaged) {
                assert_eq!(partial.encode(), damaged, "byte {i} = {value}");
            }
        }
    }
    // Another format version (an older one, or a newer one) is refused with a message that
    // says so.
    let current = capq_aggregate::partial::FORMAT_VERSION;
    for version in [1, current + 1] {
        let mut other = bytes[..body].to_vec();
        other[8..12].copy_from_slice(&version.to_le_bytes());
        let checksum = capq_aggregate::content_hash(&other);
        other.extend_from_slice(&checksum.to_le_bytes());
        let message = DayPartial::decode("p.partial", &other)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("p.partial") && message.contains(&format!("format version {version}")),
            "{message}"
        );
    }
}

/// A partial written by the previous format (version 1, varint bins) next to its CSV: not
/// current, so the CSV is read, with the same numbers as without partials.
#[test]
fn a_partial_of_the_previous_format_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = testdata().join("fixture/expected/2016-11-25.csv");
    std::fs::copy(&fixture, dir.path().join("2016-11-25_processed.csv")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/2016-11-25_processed.v1.partial"),
        dir.path().join("2016-11-25_processed.partial"),
    )
    .unwrap();
    let with = aggregate_dir(dir.path(), &options(WindowChoice::default(), true));
    match &sources(&with)[0] {
        PartialUse::Unusable(why) => assert!(why.contains("format version 1"), "{why}"),
        other => panic!("{other:?}"),
    }
    let without = aggregate_dir(dir.path(), &options(WindowChoice::default(), false));
    assert_same("version 1", &files_of(&without), &files_of(&with));
}

#[test]
fn a_partial_that_does_not_describe_its_csv_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = testdata().join("fixture/expected/2016-11-25.csv");
    let csv_path = dir.path().join("2016-11-25_processed.csv");
    std::fs::copy(&fixture, &csv_path).unwrap();
    write_partials(dir.path());
    let partial_path = dir.path().join("2016-11-25_processed.partial");
    let current = aggregate_dir(dir.path(), &options(WindowChoice::default(), true));
    assert_eq!(sources(&current), [PartialUse::Used]);

    // Another tool rewrites the CSV (one deviation changes, same length): the CSV is newer
    // than its partial, so the CSV is read, and the numbers are the new CSV's.
    let text = std::fs::read_to_string(&fixture).unwrap();
    let changed = text.replacen(",-32.0,", ",-33.0,", 1);
    assert_ne!(changed, text);
    assert_eq!(changed.len(), text.len());
    let partial_time = std::fs::metadata(&partial_path)
        .unwrap()
        .modified()
        .unwrap();
    std::fs::write(&csv_path, &changed).unwrap();
    set_modified(&csv_path, partial_time + std::time::Duration::from_secs(5));
    let rewritten = aggregate_dir(dir.path(), &options(WindowChoice::default(), true));
    assert!(
        matches!(&sources(&rewritten)[0], PartialUse::Stale(why) if why.contains("modified after"))
    );
    let csv_only = aggregate_dir(dir.path(), &options(WindowChoice::default(), false));
    assert_same("rewritten", &files_of(&csv_only), &files_of(&rewritten));
    assert_ne!(
        current.aggregate.files.route,
        rewritten.aggregate.files.route
    );

    // A rewrite of another length is caught even when the times say nothing.
    std::fs::write(&csv_path, changed.replacen(",-33.0,", ",-333.0,", 1)).unwrap();
    set_modified(&csv_path, partial_time - std::time::Duration::from_secs(5));
    let other_length = aggregate_dir(dir.path(), &options(WindowChoice::default(), true));
    match &sources(&other_length)[0] {
        PartialUse::Stale(why) => assert!(why.contains("bytes"), "{why}"),
        other => panic!("{other:?}"),
    }

    // A damaged partial: read the CSV, say why.
    std::fs::copy(&fixture, &csv_path).unwrap();
    set_modified(&csv_path, partial_time - std::time::Duration::from_secs(5));
    let mut bytes = std::fs::read(&partial_path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&partial_path, &bytes).unwrap();
    set_modified(&partial_path, partial_time);
    let damaged = aggregate_dir(dir.path(), &options(WindowChoice::default(), true));
    match &sources(&damaged)[0] {
        PartialUse::Unusable(why) => assert!(why.contains("checksum"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_same("damaged", &files_of(&current), &files_of(&damaged));
}

fn set_modified(path: &Path, time: std::time::SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(time)
        .unwrap();
}

/// Parses `2016-11-25T23:34:14-06:00` into an instant, independently of the crate.
fn instant(text: &str) -> i64 {
    let day: Date = text[..10].parse().unwrap();
    let h: i64 = text[11..13].parse().unwrap();
    let m: i64 = text[14..16].parse().unwrap();
    let s: i64 = text[17..19].parse().unwrap();
    let sign = if &text[19..20] == "-" { -1 } else { 1 };
    let oh: i64 = text[20..22].parse().unwrap();
    let om: i64 = text[23..25].parse().unwrap();
    i64::from(day.day_number()) * 86400 + h * 3600 + m * 60 + s - sign * (oh * 3600 + om * 60)
}

#[test]
fn visits_pushed_by_a_processor_give_the_csvs_partial() {
    let dir = processed_data_days();
    for day in ["2016-11-24", "2015-03-08", "2016-05-19"] {
        let name = format!("{day}_processed.csv");
        let csv = std::fs::read(dir.join(&name)).unwrap();
        let day: Date = day.parse().unwrap();
        let from_csv = DayPartial::from_csv(day, &name, &csv).unwrap();
        let text = String::from_utf8(csv.clone()).unwrap();
        let mut builder = PartialBuilder::new(day);
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            builder.push(&Visit {
                route_id: f[3].parse().unwrap(),
                trip_id: f[4].parse().unwrap(),
                trip_headsign: f[7],
                stop_lat: f[8].parse().unwrap(),
                stop_lon: f[9].parse().unwrap(),
                stop_id: f[10].parse().unwrap(),
                timestamp: instant(f[1]),
                sched_time: instant(f[11]),
                distance_to_stop: f[12].parse().unwrap(),
                sched_dev: f[13].parse().unwrap(),
                hourofday: f[15].parse().unwrap(),
            });
        }
        let mut from_visits = builder.finish();
        from_visits.set_source(capq_aggregate::SourceInfo::of(&name, &csv));
        assert_eq!(from_visits, from_csv, "{day}");
    }
}
