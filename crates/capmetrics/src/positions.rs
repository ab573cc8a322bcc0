//! One day of vehicle positions (`vehicle_positions/YYYY-MM-DD.csv`).
//!
//! Every field the output needs is parsed and checked here, so that processing itself cannot
//! fail: a bad coordinate or timestamp is reported with its file, line and column before any
//! work is done.
//!
//! Rows are read in one of two ways, with the same results:
//! - The fast path reads a line of the usual layout (the eight columns in the output's order,
//!   nothing else) in one pass, parsing each field as it finds its end. It accepts only a line
//!   whose eight fields are already written exactly as the output writes them (integers
//!   without leading zeros, decimals in shortest form, no quoting, no spaces), so the output's
//!   first eight columns are a copy of the line. Nearly every real line is such a line.
//! - Any other line (and every line of a file with another layout) goes through the general
//!   [`Table`] reader, which also produces every error message. Its text fields are kept as
//!   ranges of the input, or copied when they had to be unescaped, in a side table.
//!
//! A parsed position is 40 bytes, so the trip-by-trip processing that follows, which visits the
//! day's rows out of file order, touches about one cache line per row.

use std::ops::Range;

use crate::error::{Cancel, Result};
use crate::input::Input;
use crate::number::{Parsed, decimal_prefix, digit_run};
use crate::output::{push_float, push_int, push_text};
use crate::table::{Row, Table};
use crate::timestamp::{DateCache, LocalTime};

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

/// One parsed position: what matching needs, and where its output text comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Position {
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    pub(crate) time: LocalTime,
    pub(crate) text: RowText,
    /// `vehicle_id`, `speed` and `route_id` are all non-empty.
    pub(crate) complete: bool,
    pub(crate) headsign_empty: bool,
}

/// The text of a position's first eight output columns.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RowText {
    /// They are the input's bytes `start..start + len`, as they are.
    Line { start: u32, len: u16 },
    /// They are formatted from [`Fields`], at this index of [`Positions::fields`].
    Fields(u32),
}

/// The output fields of a row that was read by the general path. Optional fields were empty in
/// the input; a row with an empty field cannot appear in the output.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    pub(crate) vehicle_id: Option<u64>,
    pub(crate) speed: Option<Decimal>,
    pub(crate) route_id: Option<u64>,
    pub(crate) lat: Decimal,
    pub(crate) lon: Decimal,
    pub(crate) timestamp: Text,
    pub(crate) headsign: Text,
}

/// The parsed positions of a day, in file order.
#[derive(Debug)]
pub(crate) struct Positions<'a> {
    pub(crate) rows: Vec<Position>,
    /// The `trip_id` of each row.
    pub(crate) trip_ids: Vec<u64>,
    pub(crate) fields: Vec<Fields>,
    input: &'a str,
    owned: String,
    /// Rows skipped because their `trip_id` was empty.
    pub(crate) empty_trip_id: u64,
}

/// The columns of a positions file, in the order the output starts with.
const COLUMNS: [&str; 8] = [
    "vehicle_id",
    "timestamp",
    "speed",
    "route_id",
    "trip_id",
    "latitude",
    "longitude",
    "trip_headsign",
];

impl<'a> Positions<'a> {
    pub(crate) fn parse(input: &'a Input, cancel: Cancel<'_>) -> Result<Positions<'a>> {
        Positions::parse_with(input, cancel, true)
    }

    /// [`parse`](Self::parse), with the fast path or without it (to test that it changes
    /// nothing).
    fn parse_with(input: &'a Input, cancel: Cancel<'_>, fast: bool) -> Result<Positions<'a>> {
        let mut table = Table::open(input)?;
        let mut c = [0usize; 8];
        for (slot, name) in c.iter_mut().zip(COLUMNS) {
            *slot = table.column(name)?;
        }
        let [
            c_vehicle,
            c_time,
            c_speed,
            c_route,
            c_trip,
            c_lat,
            c_lon,
            c_headsign,
        ] = c;
        let usual_layout = fast
            && table.header().len() == COLUMNS.len()
            && table
                .header()
                .iter()
                .zip(COLUMNS)
                .all(|(h, name)| h == name);

        // As many slots as a file of the shortest possible rows (about 45 bytes) could fill,
        // without counting the lines first: slots no row fills are never touched, so they cost
        // address space but no memory.
        let capacity = input.bytes().len() / 40 + 1;
        let mut positions = Positions {
            rows: Vec::with_capacity(capacity),
            trip_ids: Vec::with_capacity(capacity),
            fields: Vec::new(),
            input: table.text(),
            owned: String::new(),
            empty_trip_id: 0,
        };
        let bytes = table.text().as_bytes();
        let mut dates = DateCache::default();
        let mut n = 0u32;
        loop {
            n = n.wrapping_add(1);
            if n.is_multiple_of(4096) {
                cancel.check()?;
            }
            if usual_layout {
                let at = table.offset();
                if let Some((position, trip_id, next)) = fast_line(bytes, at, &mut dates) {
                    positions.rows.push(position);
                    positions.trip_ids.push(trip_id);
                    table.skip_line(next);
                    continue;
                }
            }
            let Some(row) = table.next_row()? else {
                break;
            };
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
            let fields = Fields {
                vehicle_id: row.optional_id(c_vehicle, "vehicle_id")?,
                speed,
                route_id: row.optional_id(c_route, "route_id")?,
                lat: positions.decimal(&row, c_lat, lat),
                lon: positions.decimal(&row, c_lon, lon),
                timestamp: positions.text_of(&row, c_time, true),
                headsign: positions.text_of(&row, c_headsign, false),
            };
            positions.rows.push(Position {
                lat: lat.value,
                lon: lon.value,
                time,
                text: RowText::Fields(positions.fields.len() as u32),
                complete: fields.vehicle_id.is_some()
                    && fields.speed.is_some()
                    && fields.route_id.is_some(),
                headsign_empty: row.text(c_headsign).is_empty(),
            });
            positions.trip_ids.push(trip_id);
            positions.fields.push(fields);
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

    /// Appends the output's first eight columns for row `row` (`vehicle_id` … `trip_headsign`),
    /// which has no empty field ([`Position::complete`], and a headsign).
    pub(crate) fn write_columns(&self, out: &mut Vec<u8>, row: u32, trip_id: u64) {
        match self.rows[row as usize].text {
            RowText::Line { start, len } => {
                let start = start as usize;
                out.extend_from_slice(&self.input.as_bytes()[start..start + usize::from(len)]);
            }
            RowText::Fields(i) => self.write_fields(out, &self.fields[i as usize], trip_id),
        }
    }

    /// The `route_id` and `trip_headsign` of row `row`, which has no empty field (as for
    /// [`write_columns`](Self::write_columns)).
    pub(crate) fn route_and_headsign(&self, row: u32) -> (u64, &str) {
        match self.rows[row as usize].text {
            RowText::Line { start, len } => {
                // A fast-path line is the output's eight columns as they are: no quotes, and
                // `route_id` written as the output writes it.
                // Once per output row of a day with a partial: found with a vector search for
                // the commas before `route_id`, after it and before the headsign, not a
                // `str::split` (which cost about 1,300 instructions a row).
                let start = start as usize;
                let line = &self.input[start..start + usize::from(len)];
                let mut commas = memchr::memchr_iter(b',', line.as_bytes());
                let (Some(before_route), Some(after_route), Some(before_headsign)) =
                    (commas.nth(2), commas.next(), commas.nth(2))
                else {
                    return (0, "");
                };
                debug_assert!(commas.next().is_none(), "{line}");
                let route_id = line[before_route + 1..after_route].parse().unwrap_or(0);
                (route_id, &line[before_headsign + 1..])
            }
            RowText::Fields(i) => {
                let fields = &self.fields[i as usize];
                (fields.route_id.unwrap_or(0), self.text(fields.headsign))
            }
        }
    }

    fn write_fields(&self, out: &mut Vec<u8>, fields: &Fields, trip_id: u64) {
        if let Some(vehicle_id) = fields.vehicle_id {
            push_int(out, vehicle_id);
        }
        out.push(b',');
        push_text(out, self.text(fields.timestamp));
        out.push(b',');
        if let Some(speed) = fields.speed {
            self.write_decimal(out, speed);
        }
        out.push(b',');
        if let Some(route_id) = fields.route_id {
            push_int(out, route_id);
        }
        out.push(b',');
        push_int(out, trip_id);
        out.push(b',');
        self.write_decimal(out, fields.lat);
        out.push(b',');
        self.write_decimal(out, fields.lon);
        out.push(b',');
        push_text(out, self.text(fields.headsign));
    }

    /// Appends a decimal from the input: its own text when that is already the shortest form.
    fn write_decimal(&self, out: &mut Vec<u8>, decimal: Decimal) {
        match decimal.text {
            Some(text) => out.extend_from_slice(self.text(text).as_bytes()),
            None => push_float(out, decimal.value),
        }
    }
}

/// The fast path: the line of the usual layout starting at `at`, if every one of its fields is
/// written as the output writes it. Returns the position, its `trip_id` and the offset after
/// the line. `None` (a blank line, an empty `trip_id`, any field written otherwise, a quote, a
/// field too many or too few) leaves the line to the general reader, which gives the same
/// result for every line that this function accepts.
fn fast_line(bytes: &[u8], at: usize, dates: &mut DateCache) -> Option<(Position, u64, usize)> {
    let line = bytes.get(at..)?;
    let mut i = 0;
    let vehicle_id = id_field(line, &mut i)?;
    let time = timestamp_field(line, &mut i, dates)?;
    let speed = decimal_field(line, &mut i, true)?;
    let route_id = id_field(line, &mut i)?;
    let trip_id = id_field(line, &mut i)??;
    let lat = decimal_field(line, &mut i, false)??;
    let lon = decimal_field(line, &mut i, false)??;
    // The headsign runs to the line end. A comma (a field too many), a quote or a carriage
    // return that does not end the line sends the line to the general reader.
    let headsign_start = i;
    let rest = &line[i..];
    let stop = memchr::memchr3(b'\n', b',', b'"', rest).unwrap_or(rest.len());
    if matches!(rest.get(stop), Some(b',' | b'"')) {
        return None;
    }
    let next = (i + stop + 1).min(line.len());
    let mut content_end = i + stop;
    if content_end > headsign_start && line[content_end - 1] == b'\r' {
        content_end -= 1;
    }
    if memchr::memchr(b'\r', &line[headsign_start..content_end]).is_some() {
        return None;
    }
    let position = Position {
        lat,
        lon,
        time,
        text: RowText::Line {
            start: u32::try_from(at).ok()?,
            len: u16::try_from(content_end).ok()?,
        },
        complete: vehicle_id.is_some() && speed.is_some() && route_id.is_some(),
        headsign_empty: content_end == headsign_start,
    };
    Some((position, trip_id, at + next))
}

/// An integer id written without leading zeros, or nothing, then a comma.
fn id_field(line: &[u8], i: &mut usize) -> Option<Option<u64>> {
    let start = *i;
    let (value, end) = digit_run(line, start, 0);
    let n_digits = end - start;
    // Up to 19 digits nothing wrapped; longer ids are left to the general reader.
    if n_digits > 19 || (n_digits > 1 && line[start] == b'0') || line.get(end) != Some(&b',') {
        return None;
    }
    *i = end + 1;
    Some((n_digits > 0).then_some(value))
}

/// A decimal in its shortest form (or nothing, when `optional`), then a comma.
fn decimal_field(line: &[u8], i: &mut usize, optional: bool) -> Option<Option<f64>> {
    let rest = line.get(*i..)?;
    if optional && rest.first() == Some(&b',') {
        *i += 1;
        return Some(None);
    }
    let (parsed, length) = decimal_prefix(rest)?;
    if !parsed.shortest || rest.get(length) != Some(&b',') {
        return None;
    }
    *i += length + 1;
    Some(Some(parsed.value))
}

/// A timestamp (a valid one has no spaces and needs no quoting), then a comma.
fn timestamp_field(line: &[u8], i: &mut usize, dates: &mut DateCache) -> Option<LocalTime> {
    let rest = line.get(*i..)?;
    // `YYYY-MM-DDTHH:MM:SS-06:00` is 25 bytes; other forms are shorter.
    let length = if rest.get(25) == Some(&b',') {
        25
    } else {
        rest.iter().take(25).position(|&c| c == b',')?
    };
    let time = LocalTime::parse_cached(&rest[..length], dates).ok()?;
    *i += length + 1;
    Some(time)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What processing can see of a parsed day: per row, everything it reads, and the output
    /// columns of rows that can be output.
    fn seen(input: &Input, fast: bool) -> std::result::Result<(Vec<String>, u64), String> {
        let positions =
            Positions::parse_with(input, Cancel::NEVER, fast).map_err(|e| e.to_string())?;
        let rows = positions
            .rows
            .iter()
            .zip(&positions.trip_ids)
            .enumerate()
            .map(|(i, (p, trip_id))| {
                let mut columns = Vec::new();
                if p.complete && !p.headsign_empty {
                    positions.write_columns(&mut columns, i as u32, *trip_id);
                }
                format!(
                    "{:x} {:x} {:?} {trip_id} {} {} {}",
                    p.lat.to_bits(),
                    p.lon.to_bits(),
                    p.time,
                    p.complete,
                    p.headsign_empty,
                    String::from_utf8_lossy(&columns)
                )
            })
            .collect();
        Ok((rows, positions.empty_trip_id))
    }

    const HEADER: &str =
        "vehicle_id,timestamp,speed,route_id,trip_id,latitude,longitude,trip_headsign";

    fn field(choices: &'static [&'static str]) -> impl Strategy<Value = String> {
        proptest::sample::select(choices).prop_map(str::to_owned)
    }

    /// A line: mostly one that parses (written in every way the readers accept), sometimes
    /// one with a bad field, a field too many or a bare carriage return.
    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => line_of(
                &["", "0", "007", "8919", "1669591", "18446744073709551615"],
                &["2016-11-26T11:52:42-06:00", "2016-11-27T00:00:01-06:00", "2016-11-26 11:52:42Z", "2016-11-26T11:52:42+0530", " 2016-11-26T11:52:42-06:00"],
                &["5.36448", "0.0", "-0.0", "5.0", "5.50", "5", "1e3", " 5.5", "-97.66691", "30.417875", "12345678901234567.5", "0.30000000000000004"],
                &["\n", "\n", "\r\n", "\n\n"],
            ),
            1 => line_of(
                &["", "0", "8919", " 12", "99999999999999999999", "1a"],
                &["2016-11-26T11:52:42-06:00", "2016-11-26T25:00:00-06:00", "2016-02-30T00:00:00-06:00", ""],
                &["", "5.36448", "x", "-"],
                &["\n", ",extra\n", "\r"],
            ),
        ]
    }

    fn line_of(
        ids: &'static [&'static str],
        times: &'static [&'static str],
        decimals: &'static [&'static str],
        ends: &'static [&'static str],
    ) -> impl Strategy<Value = String> {
        let headsign = field(&[
            "",
            "1-Metric/South Congress-SB",
            "\"A, B\"",
            "a\rb",
            "x y",
            "\u{fc}n\u{ef}",
            "a\r",
        ]);
        let speed = prop_oneof![field(&[""]), field(decimals)];
        (
            field(ids),
            field(times),
            speed,
            field(ids),
            field(ids),
            field(decimals),
            field(decimals),
            headsign,
            field(ends),
        )
            .prop_map(|(v, t, s, r, trip, lat, lon, h, end)| {
                format!("{v},{t},{s},{r},{trip},{lat},{lon},{h}{end}")
            })
    }

    proptest! {
        /// The fast path reads every line exactly as the general reader does, errors included.
        #[test]
        fn the_fast_path_changes_nothing(lines in proptest::collection::vec(line(), 0..12), crlf_header: bool, last_end in 0..3usize) {
            let mut text = format!("{HEADER}{}", if crlf_header { "\r\n" } else { "\n" });
            for line in &lines {
                text.push_str(line);
            }
            // Also without a final line end.
            for _ in 0..last_end {
                text.pop();
            }
            let input = Input::from_bytes("day.csv", text.into_bytes()).unwrap();
            prop_assert_eq!(seen(&input, true), seen(&input, false));
        }
    }

    #[test]
    fn usual_lines_take_the_fast_path_and_others_do_not() {
        let text = format!(
            "{HEADER}\n\
             8919,2016-11-26T11:52:42-06:00,5.36448,1,1669591,30.417875,-97.66691,1-Metric/South Congress-SB\n\
             \n\
             08919,2016-11-26T11:52:42-06:00,5.36448,1,1669591,30.417875,-97.66691,x\r\n\
             8919,2016-11-26T11:52:42-06:00,5.0,1,1669591,30.417875,-97.66691,\"x, y\"\n\
             8919,2016-11-26T11:52:42-06:00,,,1669591,30.4,-97.6,\n"
        );
        let input = Input::from_bytes("day.csv", text.into_bytes()).unwrap();
        let positions = Positions::parse(&input, Cancel::NEVER).unwrap();
        let kinds: Vec<bool> = positions
            .rows
            .iter()
            .map(|p| matches!(p.text, RowText::Line { .. }))
            .collect();
        assert_eq!(kinds, [true, false, false, true]);
        assert_eq!(positions.fields.len(), 2);
        let mut out = Vec::new();
        positions.write_columns(&mut out, 2, 1669591);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "8919,2016-11-26T11:52:42-06:00,5.0,1,1669591,30.417875,-97.66691,\"x, y\""
        );
        assert!(!positions.rows[3].complete && positions.rows[3].headsign_empty);
    }
}
