//! The day processor on any positions, stops and schedule bytes: parsing and processing end in
//! a result or an error, never a panic, and a result accounts for every input row. The rows
//! handed to a `RowSink` (what the aggregate's partial is built from) are the CSV's rows: one
//! per line, in order, with the same ids, direction, deviation and hour.

#![no_main]

use capmetrics::{Input, OutputRow, Params, RowSink, Schedule, Stops, process_day_with_rows};
use capq_fuzz::DayInputs;
use libfuzzer_sys::fuzz_target;

/// The fields of each row that the CSV prints as they are.
#[derive(Default)]
struct Seen(Vec<(u64, u64, String, u64, i64, u8)>);

impl RowSink for Seen {
    fn row(&mut self, row: &OutputRow<'_>) {
        self.0.push((
            row.route_id,
            row.trip_id,
            row.trip_headsign.to_owned(),
            row.stop_id,
            row.sched_dev,
            row.hourofday,
        ));
    }
}

/// Splits a CSV line on commas outside quotes, and unquotes.
fn fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

fuzz_target!(|day: DayInputs| {
    let (Ok(stops), Ok(schedule), Ok(positions)) = (
        Input::from_bytes("stops.csv", day.stops),
        Input::from_bytes("schedule.csv", day.schedule),
        Input::from_bytes("positions.csv", day.positions),
    ) else {
        return;
    };
    let (Ok(stops), Ok(schedule)) = (Stops::parse(&stops), Schedule::parse(&schedule)) else {
        return;
    };
    let mut out = Vec::new();
    let mut seen = Seen::default();
    match process_day_with_rows(
        &positions,
        &stops,
        &schedule,
        &Params::DEFAULT,
        &mut out,
        &mut seen,
    ) {
        Ok(diagnostics) => {
            assert!(diagnostics.is_balanced(), "{diagnostics:?}");
            let text = String::from_utf8(out).expect("the output is UTF-8");
            // Quoted fields may hold newlines: split records on newlines outside quotes.
            let mut records = Vec::new();
            let (mut record, mut quoted) = (String::new(), false);
            for c in text.chars() {
                match c {
                    '"' => quoted = !quoted,
                    '\n' if !quoted => {
                        records.push(std::mem::take(&mut record));
                        continue;
                    }
                    _ => {}
                }
                record.push(c);
            }
            assert!(record.is_empty(), "the output ends with a newline");
            assert_eq!(records.len() as u64, diagnostics.rows_out + 1, "a header, then rows");
            assert_eq!(seen.0.len() as u64, diagnostics.rows_out);
            for (line, row) in records[1..].iter().zip(&seen.0) {
                let f = fields(line);
                assert_eq!(f.len(), 16, "{line}");
                let parsed = (
                    f[3].parse::<u64>().ok(),
                    f[4].parse::<u64>().ok(),
                    f[7].as_str(),
                    f[10].parse::<u64>().ok(),
                    f[13].parse::<i64>().ok(),
                    f[15].parse::<u8>().ok(),
                );
                let expected = (
                    Some(row.0),
                    Some(row.1),
                    row.2.as_str(),
                    Some(row.3),
                    Some(row.4),
                    Some(row.5),
                );
                assert_eq!(parsed, expected, "{line}");
            }
        }
        Err(error) => assert!(error.to_string().contains("positions.csv"), "{error}"),
    }
});
