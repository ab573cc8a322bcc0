//! A deliberately tiny, hand-made set of days, one rule per handful of rows: far (by text and
//! by exponent), outliers at ±1800/±1801, the window bounds (inclusive), both ways of being
//! suspect and their exact boundaries, an empty day, a day of far rows only, the headway filter
//! (0 < h_sched ≤ 3600, ties ordered by timestamp, instants across a UTC-offset change,
//! bunched/gapped boundaries), day types, numeric and byte orders, CSV quoting, q = 2.5 with
//! n = 40, and stop coordinates from the latest day. Each table is checked against the Python
//! computation, and the rules' outcomes are also checked by hand below.

use std::fmt::Write as _;
use std::path::Path;

use capq_aggregate::{FolderOptions, Profile, WindowChoice};

use crate::{aggregate_dir, assert_same, files_of, reference};

const HEADER: &str = "vehicle_id,timestamp,speed,route_id,trip_id,latitude,longitude,trip_headsign,stop_lat,stop_lon,stop_id,sched_time,distance_to_stop,sched_dev,dayofweek,hourofday";

/// One processed row, with defaults for what a rule does not care about.
#[derive(Clone)]
struct Row {
    route: i64,
    trip: i64,
    headsign: &'static str,
    stop: i64,
    lat: &'static str,
    timestamp: String,
    sched_time: String,
    distance: &'static str,
    dev: &'static str,
    hour: u8,
}

fn row(route: i64, trip: i64, headsign: &'static str, stop: i64, dev: &'static str) -> Row {
    Row {
        route,
        trip,
        headsign,
        stop,
        lat: "30.1",
        timestamp: "T08:00:00-06:00".into(),
        sched_time: "T08:00:00-06:00".into(),
        distance: "0.1",
        dev,
        hour: 8,
    }
}

impl Row {
    fn far(mut self, distance: &'static str) -> Row {
        self.distance = distance;
        self
    }
    fn lat(mut self, lat: &'static str) -> Row {
        self.lat = lat;
        self
    }
    /// Observed and scheduled local times (`HH:MM:SS±HH:MM`); the hour follows the first.
    fn at(mut self, seen: &str, scheduled: &str) -> Row {
        self.timestamp = format!("T{seen}");
        self.sched_time = format!("T{scheduled}");
        self.hour = seen[..2].parse().unwrap();
        self
    }
}

fn quote(text: &str) -> String {
    if text.contains([',', '"']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn write_day(dir: &Path, day: &str, rows: &[Row], line_end: &str) {
    let mut text = format!("{HEADER}{line_end}");
    for r in rows {
        let _ = write!(
            text,
            "1,{day}{},0.0,{},{},30.0,-97.0,{},{},-97.7,{},{day}{},{},{},1,{}{line_end}",
            r.timestamp,
            r.route,
            r.trip,
            quote(r.headsign),
            r.lat,
            r.stop,
            r.sched_time,
            r.distance,
            r.dev,
            r.hour
        );
    }
    std::fs::write(dir.join(format!("{day}_processed.csv")), text).unwrap();
}

/// Writes the tiny data set; see the module documentation and the comments per day.
fn tiny_days(dir: &Path) {
    // 2016-11-21, a Monday: most rules.
    let mut monday = vec![
        // The window bounds: -61 early, -60 … 300 on time, 301 late.
        row(10, 1, "North", 9, "-61"),
        row(10, 2, "North", 9, "-60"),
        row(10, 3, "North", 9, "0"),
        row(10, 4, "North", 9, "300"),
        row(10, 5, "North", 9, "301"),
        // Far: above 0.25, also as an exponent; 0.25 itself and a text that rounds to it are not.
        row(10, 6, "North", 9, "0").far("0.26"),
        row(10, 7, "North", 9, "0").far("2.6e-01"),
        row(10, 8, "North", 9, "5").far("0.25"),
        row(10, 9, "North", 9, "7").far("0.250000000000000000001"),
        // Outliers beyond ±1800; ±1800 is used. The old program wrote 48.0.
        row(10, 10, "North", 9, "1801"),
        row(10, 11, "North", 9, "-1801"),
        row(10, 12, "North", 9, "1800"),
        row(10, 13, "North", 9, "-1800"),
        row(10, 14, "North", 9, "48.0"),
        // Stop 10 sorts after stop 9 (numerically).
        row(10, 1, "North", 10, "20"),
        row(10, 2, "North", 10, "20"),
    ];
    // Headways at route 2 "North" stop 5, written in reverse. Ordered by (sched, seen):
    // b (08:00:00, 08:00:30), a (08:00:00, 08:01:00): h_sched 0, dropped;
    // a → c: h_sched 600, h_obs 140: bunched (from b it would be 170, not bunched);
    // c → d: h_sched 3600 (kept), h_obs 5400 = 1.5 h_sched: not gapped;
    // d → e: h_sched 3601, dropped;
    // e → f: h_sched 600, h_obs 150 = 0.25 h_sched: not bunched;
    // f → g: h_sched 600, h_obs 901: gapped.
    let headway = [
        ("08:01:00-06:00", "08:00:00-06:00"),
        ("08:00:30-06:00", "08:00:00-06:00"),
        ("08:03:20-06:00", "08:10:00-06:00"),
        ("09:33:20-06:00", "09:10:00-06:00"),
        ("10:00:00-06:00", "10:10:01-06:00"),
        ("10:02:30-06:00", "10:20:01-06:00"),
        ("10:17:31-06:00", "10:30:01-06:00"),
    ];
    for (i, (seen, scheduled)) in headway.iter().enumerate().rev() {
        monday.push(row(2, 101 + i as i64, "North", 5, "0").at(seen, scheduled));
    }
    // Directions that sort differently by bytes than by case-folding or locale, and one that
    // needs quoting.
    for (i, direction) in ["north", "Zeta", "\u{c1}bc", "NORTH", "A, \"quoted\""]
        .into_iter()
        .enumerate()
    {
        monday.push(row(2, 150 + i as i64, direction, 1, "10"));
    }
    // 40 rows at one stop: p2.5 has rank 1 (0.025 × 40 is exactly 1), p97.5 rank 39.
    const DEVS: [&str; 40] = [
        "-200", "-150", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13",
        "14", "15", "16", "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28",
        "29", "30", "31", "32", "33", "34", "35", "36", "37",
    ];
    for (i, dev) in DEVS.into_iter().enumerate() {
        monday
            .push(row(100, 201 + i as i64, "South", 7, dev).at("12:00:00-06:00", "12:00:00-06:00"));
    }
    write_day(dir, "2016-11-21", &monday, "\n");

    // Tuesday: suspect by outlier share, 3 of 10 rows that are not far (far rows do not count).
    let mut tuesday: Vec<Row> = (0..7).map(|i| row(10, 300 + i, "North", 9, "0")).collect();
    tuesday.extend((0..3).map(|i| row(10, 310 + i, "North", 9, "2000")));
    tuesday.extend((0..2).map(|i| row(10, 320 + i, "North", 9, "0").far("0.5")));
    write_day(dir, "2016-11-22", &tuesday, "\n");

    // Wednesday: suspect by median, 1000 > 900.
    let wednesday: Vec<Row> = ["1000", "1000", "1000", "0", "0"]
        .into_iter()
        .enumerate()
        .map(|(i, dev)| row(10, 400 + i as i64, "North", 9, dev))
        .collect();
    write_day(dir, "2016-11-23", &wednesday, "\n");

    // Thursday: both boundaries, not suspect: 2 outliers of 10 (exactly a fifth), median
    // exactly 900. The stop's coordinates: this is its latest weekday, first row wins.
    let thursday: Vec<Row> = [
        ("-100", "30.2"),
        ("0", "30.3"),
        ("100", "30.3"),
        ("200", "30.3"),
        ("900", "30.3"),
        ("900", "30.3"),
        ("1000", "30.3"),
        ("1000", "30.3"),
        ("1900", "30.3"),
        ("2000", "30.3"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (dev, lat))| row(10, 500 + i as i64, "North", 9, dev).lat(lat))
    .collect();
    write_day(dir, "2016-11-24", &thursday, "\n");

    // Friday: header only.
    write_day(dir, "2016-11-25", &[], "\n");

    // Saturday, with CRLF line ends.
    let saturday = vec![
        row(2, 600, "NORTH", 1, "10"),
        row(2, 601, "NORTH", 1, "20"),
        row(10, 602, "North", 9, "30"),
    ];
    write_day(dir, "2016-11-26", &saturday, "\r\n");

    // Sunday: by local time 01:10-06:00 comes before 01:50-05:00, but as instants it is 20
    // minutes after: h_sched is 1200, not 2400.
    let sunday = vec![
        row(2, 700, "North", 5, "0").at("01:50:00-05:00", "01:50:00-05:00"),
        row(2, 701, "North", 5, "0").at("01:20:00-06:00", "01:10:00-06:00"),
        row(100, 702, "South", 7, "0"),
    ];
    write_day(dir, "2016-11-27", &sunday, "\n");

    // Monday 28: far rows only, so no row counts towards the flag: ok, and nothing used.
    let far_only: Vec<Row> = (0..3)
        .map(|i| row(10, 800 + i, "North", 9, "0").far("3.0"))
        .collect();
    write_day(dir, "2016-11-28", &far_only, "\n");
    // 2016-11-29 has no file (missing) and 2016-11-30 failed.
}

fn options(choice: WindowChoice) -> FolderOptions {
    FolderOptions {
        window: choice,
        days: Some(capmetrics::parse_day_spec("2016-11-21..2016-11-30").unwrap()),
        failed_days: vec!["2016-11-30".parse().unwrap()],
        threads: 3,
        ..FolderOptions::default()
    }
}

const DAYS: &str = "--days=2016-11-21,2016-11-22,2016-11-23,2016-11-24,2016-11-25,2016-11-26,2016-11-27,2016-11-28,2016-11-29,2016-11-30";

#[test]
fn tiny_days_match_the_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    tiny_days(dir.path());
    for (choice, args) in [
        (WindowChoice::default(), vec![]),
        (
            WindowChoice::Profile(Profile::Capmetro),
            vec!["--profile", "capmetro"],
        ),
        (
            WindowChoice::Custom("-60,-60".parse().unwrap()),
            vec!["--window=-60,-60"],
        ),
    ] {
        let output = aggregate_dir(dir.path(), &options(choice));
        assert!(!output.has_failures(), "{:?}", output.days);
        let mut args = args;
        args.extend([DAYS, "--failed=2016-11-30"]);
        assert_same(
            &format!("tiny, {choice:?}"),
            &reference(dir.path(), &args),
            &files_of(&output),
        );
    }
}

/// The tables' lines that start with `prefix`.
fn lines<'a>(file: &'a [u8], prefix: &str) -> Vec<&'a str> {
    std::str::from_utf8(file)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(prefix))
        .collect()
}

#[test]
fn tiny_days_follow_each_rule() {
    let dir = tempfile::tempdir().unwrap();
    tiny_days(dir.path());
    let output = aggregate_dir(dir.path(), &options(WindowChoice::default()));
    let files = &output.aggregate.files;

    // Flags, and the class counts of Monday: 2 far, 2 outliers.
    let daily = std::str::from_utf8(&files.system_daily).unwrap();
    let flags: Vec<(&str, &str)> = daily
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0], f[2])
        })
        .collect();
    assert_eq!(
        flags,
        [
            ("2016-11-21", "ok"),
            ("2016-11-22", "suspect"),
            ("2016-11-23", "suspect"),
            ("2016-11-24", "ok"),
            ("2016-11-25", "empty"),
            ("2016-11-26", "ok"),
            ("2016-11-27", "ok"),
            ("2016-11-28", "ok"),
        ]
    );
    let monday: Vec<&str> = lines(&files.system_daily, "2016-11-21")[0]
        .split(',')
        .collect();
    assert_eq!(&monday[1..7], ["weekday", "ok", "68", "2", "2", "64"]);
    assert_eq!(
        lines(&files.system_daily, "2016-11-25")[0],
        "2016-11-25,weekday,empty,0,0,0,0,0,0,0,,,,,,"
    );
    assert_eq!(
        lines(&files.system_daily, "2016-11-28")[0],
        "2016-11-28,weekday,ok,3,3,0,0,0,0,0,,,,,,"
    );

    // Stop 9 of route 10 "North" on weekdays: Monday's 10 used rows + Thursday's 8. Early:
    // -61, -100, -1800; late: 301, 1800, 900, 900, 1000, 1000; 9 on time.
    let stop9 = lines(&files.stop, "10,North,weekday,9,")[0];
    let fields: Vec<&str> = stop9.split(',').collect();
    assert_eq!(fields[4], "30.2", "the latest day's first row: {stop9}");
    assert_eq!(fields[6], "18");
    assert_eq!(fields[7], "9");
    // Stops sort numerically: 9 before 10.
    let route10: Vec<&str> = lines(&files.stop, "10,North,weekday,");
    assert!(
        route10[0].starts_with("10,North,weekday,9,")
            && route10[1].starts_with("10,North,weekday,10,")
    );

    // p2.5 of 40 rows is the smallest.
    let south = lines(&files.stop, "100,South,weekday,7,")[0];
    assert!(south.ends_with(",-200,36"), "{south}");

    // Headways: 4 kept pairs on Monday, bunched 1, gapped 1; Sunday's pair is 1200 s apart.
    assert_eq!(
        lines(&files.headway, "2,North,weekday,"),
        ["2,North,weekday,4,150,600,0.25,0.25"]
    );
    assert_eq!(
        lines(&files.headway, "2,North,sunday,"),
        ["2,North,sunday,1,1800,1200,0.0,0.0"]
    );

    // Routes sort numerically in route_hour.csv, directions by bytes in stop.csv.
    let hours = std::str::from_utf8(&files.route_hour).unwrap();
    let routes: Vec<&str> = hours
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    let mut sorted = routes.clone();
    sorted.sort_by_key(|r| r.parse::<i64>().unwrap());
    assert_eq!(routes, sorted);
    assert_eq!(routes.first(), Some(&"2"));
    assert_eq!(routes.last(), Some(&"100"));
    let directions: Vec<&str> = lines(&files.stop, "2,")
        .iter()
        .filter(|l| l.contains(",weekday,1,"))
        .map(|l| &l[2..l.find(",weekday").unwrap()])
        .collect();
    assert_eq!(
        directions,
        [
            "\"A, \"\"quoted\"\"\"",
            "NORTH",
            "Zeta",
            "north",
            "\u{c1}bc"
        ]
    );

    // summary.json: the days asked for without a file, and the failed one.
    let summary: serde_json::Value = serde_json::from_slice(&files.summary_json).unwrap();
    assert_eq!(summary["missing_days"], serde_json::json!(["2016-11-29"]));
    assert_eq!(summary["failed_days"], serde_json::json!(["2016-11-30"]));
    assert_eq!(
        summary["days"],
        serde_json::json!({"total": 8, "ok": 5, "suspect": 2, "empty": 1})
    );
    assert_eq!(summary["window"], serde_json::json!([-60, 300]));
    assert_eq!(summary["profile"], serde_json::json!("tcqsm"));
    // Only route 100 "South" on weekdays has 30 used rows.
    assert_eq!(summary["worst_routes"].as_array().unwrap().len(), 1);
    assert_eq!(
        summary["worst_routes"][0]["route_id"],
        serde_json::json!(100)
    );
}

#[test]
fn a_custom_window_has_no_profile_even_when_it_equals_one() {
    let dir = tempfile::tempdir().unwrap();
    tiny_days(dir.path());
    let custom = aggregate_dir(
        dir.path(),
        &options(WindowChoice::Custom("-60,300".parse().unwrap())),
    );
    let named = aggregate_dir(dir.path(), &options(WindowChoice::default()));
    let summary: serde_json::Value =
        serde_json::from_slice(&custom.aggregate.files.summary_json).unwrap();
    assert_eq!(summary["profile"], serde_json::Value::Null);
    assert_eq!(custom.aggregate.files.route, named.aggregate.files.route);
    let capmetro = aggregate_dir(
        dir.path(),
        &options(WindowChoice::Profile(Profile::Capmetro)),
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&capmetro.aggregate.files.summary_json).unwrap();
    assert_eq!(summary["window"], serde_json::json!([null, 300]));
    assert_eq!(summary["profile"], serde_json::json!("capmetro"));
}
