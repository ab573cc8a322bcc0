//! One processed row as the statistics see it ([`Visit`]), the row classes of AGGREGATE.md §1,
//! and day types.
//!
//! A `Visit` holds only the fields the statistics read, already parsed, so the day processor
//! can hand its rows to a [`crate::PartialBuilder`] while it writes its CSV, without printing
//! and re-parsing them.

use capmetrics::Date;

/// A row is `far` when its `distance_to_stop` is above this (the processor's own 0.25).
pub const FAR_DISTANCE: f64 = 0.25;

/// A row that is not far is an `outlier` when `|sched_dev|` is above this many seconds.
pub const OUTLIER_SECONDS: i64 = 1800;

/// The fields of one processed row (SPEC.md §4) that the statistics need. The service day
/// comes from the file (or the processor's day), not from the row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Visit<'a> {
    pub route_id: i64,
    pub trip_id: i64,
    /// The direction of AGGREGATE.md.
    pub trip_headsign: &'a str,
    pub stop_id: i64,
    pub stop_lat: f64,
    pub stop_lon: f64,
    /// The position's instant, in seconds since 1970-01-01T00:00Z.
    pub timestamp: i64,
    /// The scheduled instant, in seconds since 1970-01-01T00:00Z.
    pub sched_time: i64,
    pub distance_to_stop: f64,
    /// Seconds, positive when late.
    pub sched_dev: i64,
    /// The local hour of the position, 0–23.
    pub hourofday: u8,
}

/// The class of a row: the first rule that applies wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowClass {
    /// `distance_to_stop > 0.25`: a lone row the processor kept whatever its distance.
    Far,
    /// `|sched_dev| > 1800`.
    Outlier,
    /// Everything else: the rows the statistics are computed from.
    Used,
}

impl RowClass {
    /// Classifies a row from its distance and deviation.
    pub fn of(distance_to_stop: f64, sched_dev: i64) -> RowClass {
        if distance_to_stop > FAR_DISTANCE {
            RowClass::Far
        } else if sched_dev.abs() > OUTLIER_SECONDS {
            RowClass::Outlier
        } else {
            RowClass::Used
        }
    }
}

impl Visit<'_> {
    /// The row's class.
    pub fn class(&self) -> RowClass {
        RowClass::of(self.distance_to_stop, self.sched_dev)
    }
}

/// The kind of service day. The variants are declared in the byte order of their names,
/// which is the order the tables sort them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DayType {
    Saturday,
    Sunday,
    Weekday,
}

impl DayType {
    /// The day type of a date: ISO weekday 1–5 is a weekday, 6 Saturday, 7 Sunday.
    pub fn of(day: Date) -> DayType {
        match day.iso_weekday() {
            6 => DayType::Saturday,
            7 => DayType::Sunday,
            _ => DayType::Weekday,
        }
    }

    /// The name written in the tables.
    pub fn name(self) -> &'static str {
        match self {
            DayType::Saturday => "saturday",
            DayType::Sunday => "sunday",
            DayType::Weekday => "weekday",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_class_wins() {
        assert_eq!(RowClass::of(0.25, 1800), RowClass::Used);
        assert_eq!(RowClass::of(0.25, -1800), RowClass::Used);
        assert_eq!(RowClass::of(0.250_000_000_000_1, 0), RowClass::Far);
        assert_eq!(RowClass::of(0.3, 5000), RowClass::Far);
        assert_eq!(RowClass::of(0.1, 1801), RowClass::Outlier);
        assert_eq!(RowClass::of(0.1, -1801), RowClass::Outlier);
    }

    #[test]
    fn day_types_sort_by_name() {
        let mut types = [DayType::Weekday, DayType::Sunday, DayType::Saturday];
        types.sort();
        let names: Vec<_> = types.iter().map(|t| t.name()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        let day = |s: &str| DayType::of(s.parse().unwrap());
        assert_eq!(day("2016-11-24"), DayType::Weekday);
        assert_eq!(day("2016-11-26"), DayType::Saturday);
        assert_eq!(day("2015-03-08"), DayType::Sunday);
    }
}
