//! Day specs and the other dates and times capq reads from text: `--days` specs, ISO dates,
//! the compact dates of metadata file names, position timestamps and schedule arrival times.
//! Nothing panics, and a spec's days are unique, bounded and print back as they parse.

#![no_main]

use capmetrics::date::MAX_SPEC_DAYS;
use capmetrics::metadata::{MetadataKind, covered_range};
use capmetrics::timestamp::{LocalTime, parse_arrival};
use capmetrics::{Date, parse_day_spec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_arrival(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(days) = parse_day_spec(text) {
        assert!(!days.is_empty() && days.len() as i64 <= MAX_SPEC_DAYS);
        let mut seen = std::collections::HashSet::new();
        for day in &days {
            assert!(seen.insert(*day), "{day} twice in {text:?}");
            assert_eq!(day.to_string().parse::<Date>().ok(), Some(*day));
        }
    }
    if let Ok(date) = text.parse::<Date>() {
        assert_eq!(date.to_string(), text);
        assert_eq!(Date::parse_compact(&date.compact()), Some(date));
    }
    let _ = Date::parse_compact(text);
    let _ = LocalTime::parse(text);
    for kind in [MetadataKind::Stops, MetadataKind::Schedule] {
        if let Some((first, last)) = covered_range(kind, text) {
            let _ = (first.add_days(1), last.iso_weekday());
        }
    }
});
