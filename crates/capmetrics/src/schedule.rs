//! The schedule table (`schedule_<START>_<END>.csv.gz`): when each trip is due at each stop, and
//! on which weekdays.
//!
//! It is the largest input (about 400k rows) and is shared by every day it covers, so it is
//! loaded once and indexed by trip. Rows of a trip keep their file order, because "the first
//! row of the slice whose stop matches" decides the scheduled time.
//!
//! The rows are stored trip by trip, each one's stop, arrival and weekdays side by side: a day
//! visits its trips in no particular order, and this way a trip's rows are one stretch of
//! memory rather than a scatter over three tables of several megabytes.

use crate::error::Result;
use crate::index::GroupIndex;
use crate::input::Input;
use crate::table::Table;
use crate::timestamp::parse_arrival;

const WEEKDAY_COLUMNS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// All rows of one schedule file, indexed by trip.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The rows grouped by trip (in the order of [`GroupIndex::order`]).
    rows: Vec<ScheduleRow>,
    by_trip: GroupIndex,
}

/// One schedule row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScheduleRow {
    pub(crate) stop_id: u64,
    /// Arrival in seconds after the service day's midnight; may exceed 24 h.
    pub(crate) arrival: u32,
    /// Bit `w - 1` is set when the row runs on ISO weekday `w` (Monday = 1).
    pub(crate) weekdays: u8,
}

impl Schedule {
    /// Parses a schedule file with the columns `trip_id`, `arrival_time`, `stop_id` and one 0/1
    /// column per weekday (`sunday` … `saturday`).
    pub fn parse(input: &Input) -> Result<Schedule> {
        let mut table = Table::open(input)?;
        let c_trip = table.column("trip_id")?;
        let c_arrival = table.column("arrival_time")?;
        let c_stop = table.column("stop_id")?;
        let mut c_days = [0usize; 7];
        for (slot, name) in c_days.iter_mut().zip(WEEKDAY_COLUMNS) {
            *slot = table.column(name)?;
        }
        let mut trips = Vec::new();
        let mut stop_ids = Vec::new();
        let mut arrivals = Vec::new();
        let mut weekdays = Vec::new();
        while let Some(row) = table.next_row()? {
            trips.push(row.id(c_trip, "trip_id")?);
            stop_ids.push(row.id(c_stop, "stop_id")?);
            let arrival = parse_arrival(row.bytes(c_arrival).trim_ascii())
                .map_err(|problem| row.error(c_arrival, "arrival_time", problem))?;
            arrivals.push(arrival);
            let mut mask = 0u8;
            for (bit, (&column, name)) in c_days.iter().zip(WEEKDAY_COLUMNS).enumerate() {
                match row.bytes(column).trim_ascii() {
                    b"1" => mask |= 1 << bit,
                    b"0" => {}
                    _ => return Err(row.error(column, name, "expected 0 or 1")),
                }
            }
            weekdays.push(mask);
        }
        let by_trip = GroupIndex::build(&trips);
        let rows = by_trip
            .order()
            .iter()
            .map(|&r| {
                let r = r as usize;
                ScheduleRow {
                    stop_id: stop_ids[r],
                    arrival: arrivals[r],
                    weekdays: weekdays[r],
                }
            })
            .collect();
        Ok(Schedule { rows, by_trip })
    }

    /// Number of schedule rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when the file had no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Number of distinct trips.
    pub fn trip_count(&self) -> usize {
        self.by_trip.len()
    }

    /// The rows of this trip, in file order.
    pub(crate) fn trip_rows(&self, trip_id: u64) -> &[ScheduleRow] {
        &self.rows[self.by_trip.range(trip_id)]
    }
}
