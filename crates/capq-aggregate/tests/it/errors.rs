//! Malformed processed CSVs: every error names the file, the line and the column, and a bad
//! day of a folder is listed as failed while the others are counted.

use capmetrics::Date;
use capq_aggregate::{DayOutcome, DayPartial, FolderOptions, WindowChoice};

use crate::aggregate_dir;

const HEADER: &str = "vehicle_id,timestamp,speed,route_id,trip_id,latitude,longitude,trip_headsign,stop_lat,stop_lon,stop_id,sched_time,distance_to_stop,sched_dev,dayofweek,hourofday";
const GOOD: &str = "2228,2016-11-24T00:00:51-06:00,12.9,1,1669531,30.2,-97.7,1-Metric/South Congress-SB,30.204263,-97.775141,546,2016-11-24T00:00:03-06:00,0.1789,48,4,0";

fn error(text: &[u8]) -> String {
    let day: Date = "2016-11-24".parse().unwrap();
    match DayPartial::from_csv(day, "2016-11-24_processed.csv", text) {
        Ok(_) => panic!("accepted {:?}", String::from_utf8_lossy(text)),
        Err(e) => {
            assert!(e.is_input_error(), "{e}");
            e.to_string()
        }
    }
}

fn with_row(row: &str) -> Vec<u8> {
    format!("{HEADER}\n{GOOD}\n{row}\n").into_bytes()
}

#[test]
fn malformed_csvs_name_file_line_and_column() {
    let cases: Vec<(Vec<u8>, &[&str])> = vec![
        (b"".to_vec(), &["2016-11-24_processed.csv", "empty"]),
        (
            HEADER.replace("sched_dev", "dev").into_bytes(),
            &["line 1", "missing column `sched_dev`"],
        ),
        (
            with_row(&GOOD.replacen(",12.9", "", 1)),
            &["line 3", "expected 16 fields", "found 15"],
        ),
        (
            with_row(&GOOD.replace(",48,", ",4.5,")),
            &["line 3", "column `sched_dev`", "not a whole number", "4.5"],
        ),
        (
            with_row(&GOOD.replace(",0.1789,", ",near,")),
            &["line 3", "column `distance_to_stop`", "near"],
        ),
        (
            with_row(&GOOD.replace("2016-11-24T00:00:51-06:00", "2016-11-24 late")),
            &["line 3", "column `timestamp`", "2016-11-24 late"],
        ),
        (
            with_row(&GOOD.replace(",4,0", ",4,24")),
            &["line 3", "column `hourofday`", "0 to 23"],
        ),
        (
            with_row(&GOOD.replace(",1,1669531,", ",x1,1669531,")),
            &["line 3", "column `route_id`"],
        ),
        (
            // A stop's coordinates are read from the first row of its cell.
            with_row(
                &GOOD
                    .replace(",30.204263,", ",lat,")
                    .replace(",546,", ",547,"),
            ),
            &["line 3", "column `stop_lat`"],
        ),
        (
            with_row(&GOOD.replace("1-Metric/South Congress-SB", "\"open quote")),
            &["line 3", "malformed CSV", "not closed"],
        ),
        (
            {
                let mut bytes = with_row(&GOOD.replace("Metric", "M\u{e9}tric"));
                let at = bytes.iter().rposition(|&b| b == 0xc3).unwrap();
                bytes[at] = 0xff;
                bytes
            },
            &["line 3", "column `trip_headsign`", "UTF-8"],
        ),
    ];
    for (text, needles) in cases {
        let message = error(&text);
        for needle in needles {
            assert!(message.contains(needle), "{needle:?} not in {message:?}");
        }
    }
    // A truncated gzip.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &with_row(GOOD)).unwrap();
    let gz = gz.finish().unwrap();
    let message = error(&gz[..gz.len() / 2]);
    assert!(message.contains("gzip"), "{message}");
}

#[test]
fn far_and_outlier_rows_need_only_their_class_columns() {
    // The statistics never read a far row's timestamps, so they are not parsed.
    let far = GOOD
        .replace(",0.1789,", ",0.9,")
        .replace("2016-11-24T00:00:51-06:00", "garbage");
    let day: Date = "2016-11-24".parse().unwrap();
    let partial = DayPartial::from_csv(day, "x.csv", &with_row(&far)).unwrap();
    assert_eq!(partial.classes(), (1, 0, 1));
}

#[test]
fn a_malformed_day_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("2016-11-24_processed.csv"), with_row(GOOD)).unwrap();
    std::fs::write(
        dir.path().join("2016-11-25_processed.csv"),
        with_row(&GOOD.replace(",48,", ",x,")),
    )
    .unwrap();
    let output = aggregate_dir(
        dir.path(),
        &FolderOptions {
            window: WindowChoice::default(),
            ..FolderOptions::default()
        },
    );
    assert!(output.has_failures());
    match &output.days[1] {
        DayOutcome::Failed { day, error } => {
            assert_eq!(day.to_string(), "2016-11-25");
            assert!(
                error
                    .to_string()
                    .contains("2016-11-25_processed.csv, line 3"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(output.days[0], DayOutcome::Counted { .. }));
    let summary: serde_json::Value =
        serde_json::from_slice(&output.aggregate.files.summary_json).unwrap();
    assert_eq!(summary["failed_days"], serde_json::json!(["2016-11-25"]));
    assert_eq!(summary["days"]["total"], serde_json::json!(1));
}
