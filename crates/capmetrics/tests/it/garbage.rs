//! Nothing panics on garbage: random bytes, damaged real files and rows built from odd field
//! values all end in a result or a clear error, and every successful run accounts for each row.

use std::sync::LazyLock;

use capmetrics::{Input, Schedule, Stops, process_day};
use proptest::prelude::*;

use crate::testdata;

struct Fixture {
    positions: Vec<u8>,
    stops: Stops,
    schedule: Schedule,
    stops_raw: Vec<u8>,
    schedule_raw: Vec<u8>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let dir = testdata().join("fixture/data");
    let stops = Input::read(&dir.join("stops/stops_20160821_20170121.csv.gz")).unwrap();
    let schedule = Input::read(&dir.join("schedule/schedule_20160821_20170121.csv.gz")).unwrap();
    Fixture {
        positions: std::fs::read(dir.join("vehicle_positions/2016-11-25.csv")).unwrap(),
        stops: Stops::parse(&stops).unwrap(),
        schedule: Schedule::parse(&schedule).unwrap(),
        stops_raw: stops.bytes().to_vec(),
        schedule_raw: schedule.bytes().to_vec(),
    }
});

fn process(bytes: Vec<u8>) {
    let input = match Input::from_bytes("garbage.csv", bytes) {
        Ok(input) => input,
        Err(e) => return assert!(e.to_string().contains("garbage.csv")),
    };
    let mut out = Vec::new();
    match process_day(&input, &FIXTURE.stops, &FIXTURE.schedule, &mut out) {
        Ok(d) => {
            assert!(d.is_balanced(), "{d:?}");
            let lines = out.iter().filter(|&&b| b == b'\n').count() as u64;
            // Headsigns may hold quoted line breaks, so lines ≥ rows + header.
            assert!(lines > d.rows_out, "{d:?}");
        }
        Err(e) => assert!(e.to_string().contains("garbage.csv"), "{e}"),
    }
}

/// Applies byte edits (overwrite, insert, delete) at positions given as fractions of the length.
fn damage(mut bytes: Vec<u8>, edits: &[(f64, u8, u8)]) -> Vec<u8> {
    for &(at, op, value) in edits {
        let i = ((bytes.len() as f64) * at) as usize;
        match op % 3 {
            0 if i < bytes.len() => bytes[i] = value,
            1 => bytes.insert(i.min(bytes.len()), value),
            _ if i < bytes.len() => {
                bytes.remove(i);
            }
            _ => {}
        }
    }
    bytes
}

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("1669610".to_owned()),
        Just("1672549".to_owned()),
        Just("2016-11-25T23:59:59-06:00".to_owned()),
        Just("2016-11-25T00:00:00+14:00".to_owned()),
        Just("30.29".to_owned()),
        Just("-97.74".to_owned()),
        Just("1e308".to_owned()),
        Just("NaN".to_owned()),
        Just("\"a,\"\"b\"\"\"".to_owned()),
        "[0-9]{1,25}",
        "[ -~]{0,12}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        process(bytes);
    }

    #[test]
    fn damaged_real_file(edits in proptest::collection::vec((0.0..1.0f64, any::<u8>(), any::<u8>()), 1..12)) {
        process(damage(FIXTURE.positions.clone(), &edits));
    }

    #[test]
    fn rows_of_odd_fields(rows in proptest::collection::vec(proptest::collection::vec(field(), 6..10), 0..30)) {
        let mut text = "vehicle_id,timestamp,speed,route_id,trip_id,latitude,longitude,trip_headsign\n".to_owned();
        for row in rows {
            text.push_str(&row.join(","));
            text.push('\n');
        }
        process(text.into_bytes());
    }

    #[test]
    fn damaged_metadata(edits in proptest::collection::vec((0.0..1.0f64, any::<u8>(), any::<u8>()), 1..8)) {
        for raw in [&FIXTURE.stops_raw, &FIXTURE.schedule_raw] {
            let input = Input::from_bytes("meta.csv", damage(raw.clone(), &edits)).unwrap();
            if let Err(e) = Stops::parse(&input) { prop_assert!(e.to_string().contains("meta.csv")); }
            if let Err(e) = Schedule::parse(&input) { prop_assert!(e.to_string().contains("meta.csv")); }
        }
    }

    #[test]
    fn damaged_gzip(edits in proptest::collection::vec((0.0..1.0f64, any::<u8>(), any::<u8>()), 1..6)) {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&FIXTURE.positions).unwrap();
        process(damage(enc.finish().unwrap(), &edits));
    }
}
