//! One day of vehicle positions (`vehicle_positions/YYYY-MM-DD.csv`).
//!
//! Every field the output needs is parsed and checked here, so that processing itself cannot
//! fail: a bad coordinate or timestamp is reported with its file, line and column before any
//! work is done. Text that goes to the output unchanged (the timestamp, the headsign, and
//! decimals already written in their shortest form) is kept as a range of the input rather
//! than copied or re-formatted.

use std::ops::Range;

use crate::error::{Cancel, Result};
use crate::input::Input;
use crate::number::Parsed;
use crate::table::{Row, Table};
use crate::timestamp::LocalTime;

/// Where a piece of output text lives: in the input, or in the owned buffer (for fields that
/// had to be unescaped).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Text {
    start: u32,
    end: u32,
    owned: bool,
}

/// A decimal, with its input text when that text is already its shortest form.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decimal {
    pub(crate) value: f64,
    pub(crate) text: Option<Text>,
}

/// One parsed position. Optional fields were empty in the input; a row with an empty field
/// cannot appear in the output.
#[derive(Debug, Clone)]
pub(crate) struct Position {
    pub(crate) vehicle_id: Option<u64>,
    pub(crate) speed: Option<Decimal>,
    pub(crate) route_id: Option<u64>,
    pub(crate) trip_id: u64,
    pub(crate) lat: Decimal,
    pub(crate) lon: Decimal,
    pub(crate) time: LocalTime,
    pub(crate) timestamp: Text,
    pub(crate) headsign: Text,
}

/// The parsed positions of a day, in file order.
#[derive(Debug)]
pub(crate) struct Positions<'a> {
    pub(crate) rows: Vec<Position>,
    input: &'a str,
    owned: String,
    /// Rows skipped because their `trip_id` was empty.
    pub(crate) empty_trip_id: u64,
}

impl<'a> Positions<'a> {
    pub(crate) fn parse(input: &'a Input, cancel: Cancel<'_>) -> Result<Positions<'a>> {
        let mut table = Table::open(input)?;
        let c_vehicle = table.column("vehicle_id")?;
        let c_time = table.column("timestamp")?;
        let c_speed = table.column("speed")?;
        let c_route = table.column("route_id")?;
        let c_trip = table.column("trip_id")?;
        let c_lat = table.column("latitude")?;
        let c_lon = table.column("longitude")?;
        let c_headsign = table.column("trip_headsign")?;

        // One slot per line, but no more than a file of the shortest possible rows (about 45
        // bytes) could fill: a gigabyte of blank lines must not reserve 150 GB up front.
        let lines = memchr::memchr_iter(b'\n', input.bytes()).count() + 1;
        let mut positions = Positions {
            rows: Vec::with_capacity(lines.min(input.bytes().len() / 40 + 1)),
            input: table.text(),
            owned: String::new(),
            empty_trip_id: 0,
        };
        let mut n = 0u32;
        while let Some(row) = table.next_row()? {
            n = n.wrapping_add(1);
            if n.is_multiple_of(4096) {
                cancel.check()?;
            }
            let Some(trip_id) = row.optional_id(c_trip, "trip_id")? else {
                positions.empty_trip_id += 1;
                continue;
            };
            let time = LocalTime::parse(row.text(c_time).trim())
                .map_err(|problem| row.error(c_time, "timestamp", problem))?;
            let speed = row
                .optional_float(c_speed, "speed")?
                .map(|parsed| positions.decimal(&row, c_speed, parsed));
            let lat = row.float(c_lat, "latitude")?;
            let lon = row.float(c_lon, "longitude")?;
            let position = Position {
                vehicle_id: row.optional_id(c_vehicle, "vehicle_id")?,
                speed,
                route_id: row.optional_id(c_route, "route_id")?,
                trip_id,
                lat: positions.decimal(&row, c_lat, lat),
                lon: positions.decimal(&row, c_lon, lon),
                time,
                timestamp: positions.text_of(&row, c_time, true),
                headsign: positions.text_of(&row, c_headsign, false),
            };
            positions.rows.push(position);
        }
        Ok(positions)
    }

    fn text_of(&mut self, row: &Row<'_>, index: usize, trim: bool) -> Text {
        let text = row.text(index);
        let (kept, leading) = if trim {
            let start_trimmed = text.trim_start();
            (start_trimmed.trim_end(), text.len() - start_trimmed.len())
        } else {
            (text, 0)
        };
        match row.span(index) {
            Some(span) => {
                let start = span.start + leading;
                Text {
                    start: start as u32,
                    end: (start + kept.len()) as u32,
                    owned: false,
                }
            }
            None => {
                let start = self.owned.len();
                self.owned.push_str(kept);
                Text {
                    start: start as u32,
                    end: self.owned.len() as u32,
                    owned: true,
                }
            }
        }
    }

    fn decimal(&mut self, row: &Row<'_>, index: usize, parsed: Parsed) -> Decimal {
        let text = parsed.shortest.then(|| self.text_of(row, index, false));
        Decimal {
            value: parsed.value,
            text,
        }
    }

    /// The text a [`Text`] refers to.
    pub(crate) fn text(&self, text: Text) -> &str {
        let range: Range<usize> = text.start as usize..text.end as usize;
        if text.owned {
            &self.owned[range]
        } else {
            &self.input[range]
        }
    }
}
