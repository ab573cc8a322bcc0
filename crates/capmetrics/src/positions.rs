//! One day of vehicle positions (`vehicle_positions/YYYY-MM-DD.csv`).
//!
//! Every field the output needs is parsed and checked here, so that processing itself cannot
//! fail: a bad coordinate or timestamp is reported with its file, line and column before any
//! work is done. Text fields are kept in one shared buffer rather than one `String` each.

use std::ops::Range;

use crate::error::Result;
use crate::input::Input;
use crate::table::Table;
use crate::timestamp::LocalTime;

/// One parsed position. Optional fields were empty in the input; a row with an empty field
/// cannot appear in the output.
#[derive(Debug, Clone)]
pub(crate) struct Position {
    pub(crate) vehicle_id: Option<u64>,
    pub(crate) speed: Option<f64>,
    pub(crate) route_id: Option<u64>,
    pub(crate) trip_id: u64,
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    pub(crate) time: LocalTime,
    timestamp: Range<u32>,
    headsign: Range<u32>,
}

/// The parsed positions of a day, in file order.
#[derive(Debug, Default)]
pub(crate) struct Positions {
    pub(crate) rows: Vec<Position>,
    text: String,
    /// Rows skipped because their `trip_id` was empty.
    pub(crate) empty_trip_id: u64,
}

impl Positions {
    pub(crate) fn parse(input: &Input) -> Result<Positions> {
        let mut table = Table::open(input)?;
        let c_vehicle = table.column("vehicle_id")?;
        let c_time = table.column("timestamp")?;
        let c_speed = table.column("speed")?;
        let c_route = table.column("route_id")?;
        let c_trip = table.column("trip_id")?;
        let c_lat = table.column("latitude")?;
        let c_lon = table.column("longitude")?;
        let c_headsign = table.column("trip_headsign")?;

        // About 90 bytes per row; reserving avoids regrowing the vectors many times.
        let estimate = input.bytes().len() / 90;
        let mut positions = Positions {
            rows: Vec::with_capacity(estimate),
            text: String::with_capacity(estimate * 40),
            empty_trip_id: 0,
        };
        while let Some(row) = table.next_row()? {
            let Some(trip_id) = row.optional_id(c_trip, "trip_id")? else {
                positions.empty_trip_id += 1;
                continue;
            };
            let timestamp_text = row.text(c_time).trim();
            let time = LocalTime::parse(timestamp_text)
                .map_err(|problem| row.error(c_time, "timestamp", problem))?;
            let lat = row.float(c_lat, "latitude")?;
            let lon = row.float(c_lon, "longitude")?;
            let position = Position {
                vehicle_id: row.optional_id(c_vehicle, "vehicle_id")?,
                speed: row.optional_float(c_speed, "speed")?,
                route_id: row.optional_id(c_route, "route_id")?,
                trip_id,
                lat,
                lon,
                time,
                timestamp: positions.push_text(timestamp_text),
                headsign: positions.push_text(row.text(c_headsign)),
            };
            positions.rows.push(position);
        }
        Ok(positions)
    }

    fn push_text(&mut self, text: &str) -> Range<u32> {
        let start = self.text.len() as u32;
        self.text.push_str(text);
        start..self.text.len() as u32
    }

    /// The position's timestamp exactly as written in the input.
    pub(crate) fn timestamp(&self, p: &Position) -> &str {
        &self.text[p.timestamp.start as usize..p.timestamp.end as usize]
    }

    /// The trip headsign as written (possibly empty).
    pub(crate) fn headsign(&self, p: &Position) -> &str {
        &self.text[p.headsign.start as usize..p.headsign.end as usize]
    }
}
