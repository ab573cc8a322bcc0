//! The day processor on any positions, stops and schedule bytes: parsing and processing end in
//! a result or an error, never a panic, and a result accounts for every input row.

#![no_main]

use capmetrics::{Input, Schedule, Stops, process_day};
use capq_fuzz::DayInputs;
use libfuzzer_sys::fuzz_target;

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
    match process_day(&positions, &stops, &schedule, &mut out) {
        Ok(diagnostics) => {
            assert!(diagnostics.is_balanced(), "{diagnostics:?}");
            let lines = out.iter().filter(|&&b| b == b'\n').count() as u64;
            assert!(lines > diagnostics.rows_out, "{diagnostics:?}");
        }
        Err(error) => assert!(error.to_string().contains("positions.csv"), "{error}"),
    }
});
