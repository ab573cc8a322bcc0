//! Reading a processed-day CSV (SPEC.md §4) into a [`PartialBuilder`]: a thin, fast parser.
//!
//! A year of processed days is about 1.4 GB, and aggregating it from CSVs should cost little
//! more than reading the files. So the reader finds commas and line ends with `memchr` (SIMD),
//! keeps only the eleven columns the statistics use (found by name in the header, in any
//! order), and parses a column only when the row's class needs it: the distance and the
//! deviation of every row, the rest only for used rows, and a stop's coordinates only for the
//! first row of its cell. Whether `distance_to_stop > 0.25` is usually decided from the text
//! alone; unusual text (exponents, long fractions right at 0.25) goes through a full parse.
//! A file with a quote character anywhere takes a general RFC 4180 path instead.
//!
//! Both the processor's own output and the old program's (decimals printed to 12 significant
//! digits, `sched_dev` as `48.0`) are read. Errors name the file, line and column.

use capmetrics::timestamp::LocalTime;
use capmetrics::{Date, Input};

use crate::Error;
use crate::partial::PartialBuilder;
use crate::partial::builder::UsedRow;
use crate::visit::{OUTLIER_SECONDS, RowClass};

/// The columns the statistics read, by role.
const COLUMNS: [&str; 11] = [
    "timestamp",
    "route_id",
    "trip_id",
    "trip_headsign",
    "stop_lat",
    "stop_lon",
    "stop_id",
    "sched_time",
    "distance_to_stop",
    "sched_dev",
    "hourofday",
];
const TIMESTAMP: usize = 0;
const ROUTE_ID: usize = 1;
const TRIP_ID: usize = 2;
const HEADSIGN: usize = 3;
const STOP_LAT: usize = 4;
const STOP_LON: usize = 5;
const STOP_ID: usize = 6;
const SCHED_TIME: usize = 7;
const DISTANCE: usize = 8;
const SCHED_DEV: usize = 9;
const HOUR: usize = 10;

/// Feeds every row of the processed CSV `raw` (plain or gzip) to `builder`.
pub(crate) fn read(name: &str, raw: &[u8], builder: &mut PartialBuilder) -> Result<(), Error> {
    let decompressed;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        decompressed = Input::from_bytes(name, raw.to_vec()).map_err(|e| Error::Input {
            file: name.to_owned(),
            detail: e.to_string(),
        })?;
        decompressed.bytes()
    } else {
        raw
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let header_end = memchr::memchr(b'\n', bytes).unwrap_or(bytes.len());
    let header = &bytes[..header_end];
    let header = header.strip_suffix(b"\r").unwrap_or(header);
    if header.is_empty() {
        return Err(Error::NoHeader {
            file: name.to_owned(),
        });
    }
    let header_text = String::from_utf8_lossy(header);
    let names: Vec<&str> = header_text
        .split(',')
        .map(|n| n.trim_matches('"'))
        .collect();
    let mut roles: Vec<Option<usize>> = vec![None; names.len()];
    for (role, column) in COLUMNS.iter().enumerate() {
        let index = names
            .iter()
            .position(|n| n == column)
            .ok_or_else(|| Error::MissingColumn {
                file: name.to_owned(),
                column,
                header: header_text.to_string(),
            })?;
        roles[index] = Some(role);
    }
    let body = bytes.get(header_end + 1..).unwrap_or_default();
    let mut reader = Rows {
        file: name,
        builder,
        dates: DateCache::default(),
        headsign: String::new(),
    };
    if memchr::memchr(b'"', body).is_some() {
        reader.quoted(body, &roles)
    } else {
        reader.plain(body, &roles)
    }
}

/// The reader's state: where errors point, and the builder rows go to.
struct Rows<'a, 'b> {
    file: &'a str,
    builder: &'b mut PartialBuilder,
    dates: DateCache,
    /// The last headsign seen, already checked to be UTF-8.
    headsign: String,
}

impl Rows<'_, '_> {
    /// The fast path: no quotes anywhere, so commas and line feeds are all separators.
    fn plain(&mut self, body: &[u8], roles: &[Option<usize>]) -> Result<(), Error> {
        // The role of each column, `NONE` beyond the header's columns.
        let mut table = [NONE; MAX_COLUMNS + 1];
        for (column, role) in roles.iter().enumerate().take(MAX_COLUMNS) {
            table[column] = role.map_or(NONE, |r| r as u8);
        }
        let mut split = Split {
            fields: [b""; 11],
            column: 0,
            start: 0,
            line_start: 0,
            line: 2,
        };
        let expected = roles.len();
        // Eight bytes at a time: masks with the high bit of every comma and line feed byte,
        // then one step per separator. (This beats a `memchr` call per field: fields are a
        // few bytes long, so per-call costs dominated.)
        let mut chunks = body.chunks_exact(8);
        let mut base = 0usize;
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let word = u64::from_le_bytes(word);
            let line_feeds = zero_bytes(word ^ LINE_FEEDS);
            let mut mask = zero_bytes(word ^ COMMAS) | line_feeds;
            while mask != 0 {
                let bit = mask & mask.wrapping_neg();
                mask ^= bit;
                let pos = base + (bit.trailing_zeros() / 8) as usize;
                if line_feeds & bit == 0 {
                    split.field(body, pos, &table);
                } else {
                    split.line_end(self, body, pos, &table, expected)?;
                }
            }
            base += 8;
        }
        for (offset, &byte) in chunks.remainder().iter().enumerate() {
            match byte {
                b',' => split.field(body, base + offset, &table),
                b'\n' => split.line_end(self, body, base + offset, &table, expected)?,
                _ => {}
            }
        }
        if split.start < body.len() {
            let tail = &body[split.start..];
            let tail = tail.strip_suffix(b"\r").unwrap_or(tail);
            if let Some(Some(role)) = roles.get(split.column) {
                split.fields[*role] = tail;
            }
            split.column += 1;
            if !(split.column == 1 && tail.is_empty()) {
                self.record(split.line, split.column, expected, &split.fields)?;
            }
        }
        Ok(())
    }

    /// The general path: RFC 4180 quoting, with quoted fields that may hold commas, quotes
    /// (doubled) and line breaks.
    fn quoted(&mut self, body: &[u8], roles: &[Option<usize>]) -> Result<(), Error> {
        let mut pos = 0usize;
        let mut line = 2u64;
        let mut owned: Vec<Vec<u8>> = Vec::new();
        while pos < body.len() {
            let record_line = line;
            owned.clear();
            let mut field = Vec::new();
            loop {
                if body.get(pos) == Some(&b'"') {
                    pos += 1;
                    loop {
                        match body.get(pos) {
                            None => {
                                return Err(Error::Csv {
                                    file: self.file.to_owned(),
                                    line: record_line,
                                    detail: "a quoted field is not closed",
                                });
                            }
                            Some(b'"') if body.get(pos + 1) == Some(&b'"') => {
                                field.push(b'"');
                                pos += 2;
                            }
                            Some(b'"') => {
                                pos += 1;
                                break;
                            }
                            Some(&b) => {
                                if b == b'\n' {
                                    line += 1;
                                }
                                field.push(b);
                                pos += 1;
                            }
                        }
                    }
                    match body.get(pos) {
                        None | Some(b',') | Some(b'\n') => {}
                        Some(b'\r') if matches!(body.get(pos + 1), None | Some(b'\n')) => pos += 1,
                        Some(_) => {
                            return Err(Error::Csv {
                                file: self.file.to_owned(),
                                line,
                                detail: "text after a closing quote",
                            });
                        }
                    }
                } else {
                    let rest = &body[pos..];
                    let stop = memchr::memchr2(b',', b'\n', rest).unwrap_or(rest.len());
                    let text = &rest[..stop];
                    if text.contains(&b'"') {
                        return Err(Error::Csv {
                            file: self.file.to_owned(),
                            line,
                            detail: "a quote inside an unquoted field",
                        });
                    }
                    let text = if rest.get(stop) != Some(&b',') {
                        text.strip_suffix(b"\r").unwrap_or(text)
                    } else {
                        text
                    };
                    field.extend_from_slice(text);
                    pos += stop;
                }
                owned.push(std::mem::take(&mut field));
                match body.get(pos) {
                    Some(b',') => pos += 1,
                    Some(b'\n') => {
                        pos += 1;
                        line += 1;
                        break;
                    }
                    _ => break,
                }
            }
            if owned.len() == 1 && owned[0].is_empty() {
                continue;
            }
            let mut fields: [&[u8]; 11] = [b""; 11];
            for (column, value) in owned.iter().enumerate() {
                if let Some(Some(role)) = roles.get(column) {
                    fields[*role] = value;
                }
            }
            self.record(record_line, owned.len(), roles.len(), &fields)?;
        }
        Ok(())
    }

    /// One record: classify it, and parse the rest of what a used row needs.
    fn record(
        &mut self,
        line: u64,
        found: usize,
        expected: usize,
        fields: &[&[u8]; 11],
    ) -> Result<(), Error> {
        if found != expected {
            return Err(Error::FieldCount {
                file: self.file.to_owned(),
                line,
                expected,
                found,
            });
        }
        let field_error = |role: usize, problem: &'static str| Error::Field {
            file: self.file.to_owned(),
            line,
            column: COLUMNS[role],
            problem,
            value: String::from_utf8_lossy(fields[role]).into_owned(),
        };
        let far = match far_from_text(fields[DISTANCE]) {
            Some(far) => far,
            None => {
                let distance = parse_decimal(fields[DISTANCE])
                    .ok_or_else(|| field_error(DISTANCE, "not a finite number"))?;
                distance > crate::visit::FAR_DISTANCE
            }
        };
        let deviation = parse_whole(fields[SCHED_DEV])
            .ok_or_else(|| field_error(SCHED_DEV, "not a whole number of seconds"))?;
        let class = if far {
            RowClass::Far
        } else if deviation.abs() > OUTLIER_SECONDS {
            RowClass::Outlier
        } else {
            RowClass::Used
        };
        match class {
            RowClass::Far => {
                self.builder.push_far();
                return Ok(());
            }
            RowClass::Outlier => {
                self.builder.push_outlier(deviation);
                return Ok(());
            }
            RowClass::Used => {}
        }
        let integer = |role: usize| {
            parse_whole(fields[role]).ok_or_else(|| field_error(role, "not an integer"))
        };
        let route_id = integer(ROUTE_ID)?;
        let trip_id = integer(TRIP_ID)?;
        let stop_id = integer(STOP_ID)?;
        let hour = integer(HOUR)?;
        let hour = u8::try_from(hour)
            .ok()
            .filter(|h| *h < 24)
            .ok_or_else(|| field_error(HOUR, "not an hour from 0 to 23"))?;
        // Rows come trip by trip, so the headsign is usually the previous row's.
        if fields[HEADSIGN] != self.headsign.as_bytes() {
            let text = std::str::from_utf8(fields[HEADSIGN])
                .map_err(|_| field_error(HEADSIGN, "invalid UTF-8"))?;
            self.headsign.clear();
            self.headsign.push_str(text);
        }
        let headsign = self.headsign.as_str();
        let timestamp = self.dates.instant(fields[TIMESTAMP]).ok_or_else(|| {
            field_error(
                TIMESTAMP,
                "not a timestamp such as 2016-11-24T00:00:51-06:00",
            )
        })?;
        let sched_time = self.dates.instant(fields[SCHED_TIME]).ok_or_else(|| {
            field_error(
                SCHED_TIME,
                "not a timestamp such as 2016-11-24T00:00:51-06:00",
            )
        })?;
        let row = UsedRow {
            route_id,
            trip_id,
            headsign,
            stop_id,
            timestamp,
            sched_time,
            deviation,
            hour,
        };
        self.builder.push_used(&row, || {
            let lat = parse_decimal(fields[STOP_LAT])
                .ok_or_else(|| field_error(STOP_LAT, "not a finite number"))?;
            let lon = parse_decimal(fields[STOP_LON])
                .ok_or_else(|| field_error(STOP_LON, "not a finite number"))?;
            Ok((lat, lon))
        })
    }
}

/// The state of the fast path between separators.
struct Split<'a> {
    fields: [&'a [u8]; 11],
    column: usize,
    /// Where the current field starts.
    start: usize,
    line_start: usize,
    line: u64,
}

/// No role: a column the statistics do not read.
const NONE: u8 = u8::MAX;
/// Columns beyond this many are counted but never read.
const MAX_COLUMNS: usize = 63;

impl<'a> Split<'a> {
    /// Keeps the field that ends at the comma at `pos`, if its column has a role.
    #[inline(always)]
    fn field(&mut self, body: &'a [u8], pos: usize, table: &[u8; MAX_COLUMNS + 1]) {
        let role = table[self.column.min(MAX_COLUMNS)];
        if let Some(slot) = self.fields.get_mut(usize::from(role)) {
            *slot = body.get(self.start..pos).unwrap_or_default();
        }
        self.column += 1;
        self.start = pos + 1;
    }

    /// The line feed at `pos` ends the last field and the record.
    #[inline(always)]
    fn line_end(
        &mut self,
        rows: &mut Rows<'_, '_>,
        body: &'a [u8],
        pos: usize,
        table: &[u8; MAX_COLUMNS + 1],
        expected: usize,
    ) -> Result<(), Error> {
        let end = if pos > self.start && body[pos - 1] == b'\r' {
            pos - 1
        } else {
            pos
        };
        let empty_line = self.column == 0 && end == self.line_start;
        self.field(body, end, table);
        self.start = pos + 1;
        // A blank line (as at the very end of some files) holds no record.
        if !empty_line {
            rows.record(self.line, self.column, expected, &self.fields)?;
        }
        self.line_start = self.start;
        self.column = 0;
        self.line += 1;
        Ok(())
    }
}

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const COMMAS: u64 = 0x2c2c_2c2c_2c2c_2c2c;
const LINE_FEEDS: u64 = 0x0a0a_0a0a_0a0a_0a0a;

/// The high bit of every zero byte of `x`, exactly (no carries between bytes).
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// Decides `text > 0.25` from the decimal text when that is certain, `None` when a full parse
/// is needed (exponents, signs, long fractions that could round to exactly 0.25).
fn far_from_text(text: &[u8]) -> Option<bool> {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    let (whole, rest) = text.split_at(digits);
    let fraction = match rest {
        [] => rest,
        [b'.', fraction @ ..] => fraction,
        _ => return None,
    };
    if whole.is_empty() || !fraction.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if whole.iter().any(|&d| d != b'0') {
        return Some(true);
    }
    // 0.xxx against 0.25000…: the first differing digit decides, unless the text is 0.25
    // followed by a non-zero digit so far out that the double could still be 0.25.
    for (i, &digit) in fraction.iter().enumerate() {
        let target = match i {
            0 => b'2',
            1 => b'5',
            _ => b'0',
        };
        if digit != target {
            // Above 0.25 by at least 10^-(i+1); below 10^-16 the nearest double may be 0.25.
            return match digit < target {
                true => Some(false),
                false if i < 16 => Some(true),
                false => None,
            };
        }
    }
    Some(false)
}

/// A finite decimal number (any form Rust reads, including exponents).
fn parse_decimal(text: &[u8]) -> Option<f64> {
    let value: f64 = std::str::from_utf8(text).ok()?.parse().ok()?;
    value.is_finite().then_some(value)
}

/// A whole number written as an integer (`-32`) or as a decimal with a zero fraction (`48.0`,
/// as the old program printed `sched_dev`).
fn parse_whole(text: &[u8]) -> Option<i64> {
    let (negative, mut rest) = match text {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, text),
    };
    let mut value = 0i64;
    let mut digits = 0;
    while let [digit, tail @ ..] = rest {
        let d = digit.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        value = value * 10 + i64::from(d);
        digits += 1;
        rest = tail;
    }
    if digits == 0 || digits > 18 {
        return None;
    }
    match rest {
        [] => {}
        [b'.', zeros @ ..] if zeros.iter().all(|&b| b == b'0') => {}
        _ => return None,
    }
    Some(if negative { -value } else { value })
}

/// Turns timestamps into instants, remembering the last date seen: rows of a day share a
/// handful of dates, so the calendar arithmetic runs a few times per file.
#[derive(Default)]
struct DateCache {
    text: [u8; 10],
    days: i64,
}

impl DateCache {
    /// Seconds since 1970-01-01T00:00Z of `YYYY-MM-DDTHH:MM:SS±HH:MM` (or the other forms
    /// the processor accepts: `±HHMM`, `Z`, a space for the `T`).
    #[inline]
    fn instant(&mut self, text: &[u8]) -> Option<i64> {
        let Ok(t) = <&[u8; 25]>::try_from(text) else {
            return Self::general(text);
        };
        if t[10] != b'T' || t[13] != b':' || t[16] != b':' || t[22] != b':' {
            return Self::general(text);
        }
        let sign = match t[19] {
            b'-' => -1,
            b'+' => 1,
            _ => return None,
        };
        let days = if t[..10] == self.text {
            self.days
        } else {
            let days = parse_date(&t[..10])?;
            self.text.copy_from_slice(&t[..10]);
            self.days = days;
            days
        };
        let hour = two_digits(t[11], t[12])?;
        let minute = two_digits(t[14], t[15])?;
        let second = two_digits(t[17], t[18])?;
        let offset_hours = two_digits(t[20], t[21])?;
        let offset_minutes = two_digits(t[23], t[24])?;
        if hour > 23 || minute > 59 || second > 59 || offset_hours > 23 || offset_minutes > 59 {
            return None;
        }
        let offset = sign * (offset_hours * 3600 + offset_minutes * 60);
        Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
    }

    #[cold]
    fn general(text: &[u8]) -> Option<i64> {
        let local = LocalTime::parse(std::str::from_utf8(text).ok()?).ok()?;
        Some(local.local_epoch_seconds() - i64::from(local.offset_minutes) * 60)
    }
}

fn parse_date(text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?;
    let date: Date = text.parse().ok()?;
    Some(i64::from(date.day_number()))
}

fn two_digits(a: u8, b: u8) -> Option<i64> {
    (a.is_ascii_digit() && b.is_ascii_digit())
        .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_is_decided_from_text_like_a_double_compare() {
        let cases: &[&str] = &[
            "0.25",
            "0.2500",
            "0.250000000000000000001",
            "0.25000000000000001",
            "0.2500000000000001",
            "0.26",
            "0.3",
            "0.249999999999999999999",
            "0.0312160215275",
            "0",
            "0.0",
            "1",
            "1.0",
            "12.96",
            "00.5",
            "0.",
            "2.5e-05",
            "-0.3",
            "0.251",
        ];
        for text in cases {
            let expected = text.parse::<f64>().unwrap() > 0.25;
            let got = far_from_text(text.as_bytes())
                .unwrap_or_else(|| parse_decimal(text.as_bytes()).unwrap() > 0.25);
            assert_eq!(got, expected, "{text}");
        }
        assert_eq!(far_from_text(b"0.25000000000000001"), None);
        assert_eq!(far_from_text(b"2.5e-05"), None);
    }

    #[test]
    fn separator_masks_are_exact() {
        for byte in 0..=255u8 {
            for at in 0..8 {
                let mut word = [b'x'; 8];
                word[at] = byte;
                // Neighbours that trip up the inexact zero-byte tricks.
                word[(at + 1) % 8] = 0x01;
                let bits = u64::from_le_bytes(word);
                let mask = zero_bytes(bits ^ COMMAS) | zero_bytes(bits ^ LINE_FEEDS);
                let expected: u64 = word
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b',' || **b == b'\n')
                    .map(|(i, _)| 0x80u64 << (8 * i))
                    .sum();
                assert_eq!(mask, expected, "{byte:#x} at {at}");
            }
        }
    }

    #[test]
    fn whole_numbers_in_both_spellings() {
        assert_eq!(parse_whole(b"48"), Some(48));
        assert_eq!(parse_whole(b"48.0"), Some(48));
        assert_eq!(parse_whole(b"-32.00"), Some(-32));
        assert_eq!(parse_whole(b"+7"), Some(7));
        for bad in [
            &b""[..],
            b"-",
            b"4.5",
            b"1e3",
            b" 4",
            b"x",
            b".0",
            b"1234567890123456789",
        ] {
            assert_eq!(parse_whole(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn instants_honour_the_offset() {
        let mut cache = DateCache::default();
        let a = cache.instant(b"2016-11-24T00:00:51-06:00").unwrap();
        assert_eq!(a, 1_479_967_251);
        // The same instant, written in UTC and in the other accepted forms.
        assert_eq!(cache.instant(b"2016-11-24T06:00:51+00:00"), Some(a));
        assert_eq!(cache.instant(b"2016-11-24T06:00:51Z"), Some(a));
        assert_eq!(cache.instant(b"2016-11-24 00:00:51-0600"), Some(a));
        // Across the DST change: 01:59:59 CST is one second before 03:00:00 CDT.
        let before = cache.instant(b"2015-03-08T01:59:59-06:00").unwrap();
        let after = cache.instant(b"2015-03-08T03:00:00-05:00").unwrap();
        assert_eq!(after - before, 1);
        for bad in [
            &b"2016-11-24T24:00:00-06:00"[..],
            b"2016-13-01T00:00:00-06:00",
            b"",
            b"x",
        ] {
            assert_eq!(cache.instant(bad), None);
        }
    }
}
