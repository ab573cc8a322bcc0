//! Position timestamps (`2016-11-24T00:00:51-06:00`) and schedule times (`24:05:00`).
//!
//! A position's local wall-clock time decides its weekday, its hour and which schedule day it
//! is compared with, and a scheduled time is always expressed in the position's own UTC offset.
//! So deviations are differences of local times, and no time-zone rules are ever needed.

use crate::date::{Date, push_digits};

/// A local wall-clock time with its UTC offset, as written in a position's `timestamp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    /// The local calendar date.
    pub date: Date,
    /// Seconds since local midnight (0..86400).
    pub seconds: u32,
    /// The UTC offset in minutes (−06:00 is −360).
    pub offset_minutes: i16,
}

impl LocalTime {
    /// The local hour (0–23).
    pub fn hour(self) -> u32 {
        self.seconds / 3600
    }

    /// Seconds since 1970-01-01 00:00 *local* time: comparable between two times that share
    /// an offset.
    pub fn local_epoch_seconds(self) -> i64 {
        i64::from(self.date.day_number()) * 86_400 + i64::from(self.seconds)
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS` followed by `±HH:MM`, `±HHMM` or `Z`. A space may stand in
    /// for the `T`. Returns a description of the problem on failure.
    pub fn parse(text: &str) -> Result<LocalTime, &'static str> {
        LocalTime::parse_cached(text.as_bytes(), &mut DateCache::default())
    }

    /// [`parse`](Self::parse), remembering the last date read: a day's positions nearly all
    /// share their date, so its calendar arithmetic is done once.
    pub(crate) fn parse_cached(b: &[u8], dates: &mut DateCache) -> Result<LocalTime, &'static str> {
        if b.len() < 19 {
            return Err("too short for YYYY-MM-DDTHH:MM:SS±HH:MM");
        }
        let date = dates
            .date(&b[..10])
            .ok_or("the date part is not a valid YYYY-MM-DD")?;
        if b[10] != b'T' && b[10] != b' ' {
            return Err("expected `T` between date and time");
        }
        let (h, m, s) = parse_hms(&b[11..19]).ok_or("the time part is not HH:MM:SS")?;
        if h > 23 || m > 59 || s > 59 {
            return Err("the time of day is out of range");
        }
        let offset_minutes =
            parse_offset(&b[19..]).ok_or("expected a UTC offset such as -06:00")?;
        Ok(LocalTime {
            date,
            seconds: h * 3600 + m * 60 + s,
            offset_minutes,
        })
    }
}

/// The last `YYYY-MM-DD` text parsed, and its date.
#[derive(Debug, Default)]
pub(crate) struct DateCache {
    text: [u8; 10],
    date: Option<Date>,
}

impl DateCache {
    fn date(&mut self, text: &[u8]) -> Option<Date> {
        if self.date.is_some() && self.text == text {
            return self.date;
        }
        let date = parse_date(text)?;
        self.text.copy_from_slice(text);
        self.date = Some(date);
        Some(date)
    }
}

/// `YYYY-MM-DD` from bytes, without going through `str`.
fn parse_date(b: &[u8]) -> Option<Date> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = two_digits(&b[0..2])? * 100 + two_digits(&b[2..4])?;
    Date::from_ymd(year as i32, two_digits(&b[5..7])?, two_digits(&b[8..10])?)
}

fn two_digits(b: &[u8]) -> Option<u32> {
    match b {
        [a @ b'0'..=b'9', c @ b'0'..=b'9'] => Some(u32::from(a - b'0') * 10 + u32::from(c - b'0')),
        _ => None,
    }
}

fn parse_hms(b: &[u8]) -> Option<(u32, u32, u32)> {
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    Some((
        two_digits(&b[0..2])?,
        two_digits(&b[3..5])?,
        two_digits(&b[6..8])?,
    ))
}

fn parse_offset(b: &[u8]) -> Option<i16> {
    let (sign, rest) = match b.split_first()? {
        (b'Z', []) => return Some(0),
        (b'+', rest) => (1, rest),
        (b'-', rest) => (-1, rest),
        _ => return None,
    };
    let (h, m) = match rest {
        [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
            (two_digits(&[*h1, *h2])?, two_digits(&[*m1, *m2])?)
        }
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 60 + m) as i16)
}

/// Appends `YYYY-MM-DDTHH:MM:SS±HH:MM`.
pub fn write_timestamp(out: &mut Vec<u8>, date: Date, seconds: u32, offset_minutes: i16) {
    date.write_iso(out);
    out.push(b'T');
    push_digits(out, seconds / 3600, 2);
    out.push(b':');
    push_digits(out, seconds / 60 % 60, 2);
    out.push(b':');
    push_digits(out, seconds % 60, 2);
    write_offset(out, offset_minutes);
}

/// Appends `±HH:MM`.
fn write_offset(out: &mut Vec<u8>, offset_minutes: i16) {
    out.push(if offset_minutes < 0 { b'-' } else { b'+' });
    let off = u32::from(offset_minutes.unsigned_abs());
    push_digits(out, off / 60, 2);
    out.push(b':');
    push_digits(out, off % 60, 2);
}

/// [`write_timestamp`] for many times in a row: the date and offset are formatted only when
/// they change, which in a day's output is rarely.
#[derive(Debug, Default)]
pub(crate) struct TimestampWriter {
    key: Option<(Date, i16)>,
    /// `YYYY-MM-DDT` of the current date.
    date: Vec<u8>,
    /// `±HH:MM` of the current offset.
    offset: Vec<u8>,
}

impl TimestampWriter {
    pub(crate) fn write(&mut self, out: &mut Vec<u8>, date: Date, seconds: u32, offset: i16) {
        if self.key != Some((date, offset)) {
            self.key = Some((date, offset));
            self.date.clear();
            date.write_iso(&mut self.date);
            self.date.push(b'T');
            self.offset.clear();
            write_offset(&mut self.offset, offset);
        }
        out.extend_from_slice(&self.date);
        let (h, m, s) = (seconds / 3600 % 100, seconds / 60 % 60, seconds % 60);
        let pair = |v: u32| {
            let v = v as usize * 2;
            [DIGIT_PAIRS[v], DIGIT_PAIRS[v + 1]]
        };
        let ([h1, h2], [m1, m2], [s1, s2]) = (pair(h), pair(m), pair(s));
        out.extend_from_slice(&[h1, h2, b':', m1, m2, b':', s1, s2]);
        out.extend_from_slice(&self.offset);
    }
}

/// `00`, `01`, … `99`, back to back.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849\
5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/// A schedule `arrival_time` (`H:MM:SS`, hours may run to 47 for trips past midnight), in
/// seconds after the service day's midnight.
pub fn parse_arrival(text: &[u8]) -> Result<u32, &'static str> {
    let colon = text
        .iter()
        .position(|&c| c == b':')
        .ok_or("expected H:MM:SS")?;
    let (hours, rest) = text.split_at(colon);
    if hours.is_empty() || hours.len() > 2 || !hours.iter().all(u8::is_ascii_digit) {
        return Err("expected H:MM:SS");
    }
    let h = hours
        .iter()
        .fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'));
    let (m, s) = match rest {
        [b':', m1, m2, b':', s1, s2] => (
            two_digits(&[*m1, *m2]).ok_or("expected H:MM:SS")?,
            two_digits(&[*s1, *s2]).ok_or("expected H:MM:SS")?,
        ),
        _ => return Err("expected H:MM:SS"),
    };
    if m > 59 || s > 59 {
        return Err("minutes or seconds out of range");
    }
    if h > 47 {
        return Err("hour beyond 47 cannot be placed on a service day");
    }
    Ok(h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_positions_timestamps() {
        let t = LocalTime::parse("2016-11-24T23:58:13-06:00").unwrap();
        assert_eq!(t.date.to_string(), "2016-11-24");
        assert_eq!(t.hour(), 23);
        assert_eq!(t.seconds, 23 * 3600 + 58 * 60 + 13);
        assert_eq!(t.offset_minutes, -360);
        assert_eq!(
            LocalTime::parse("2016-11-24 01:02:03Z")
                .unwrap()
                .offset_minutes,
            0
        );
        assert_eq!(
            LocalTime::parse("2016-11-24T01:02:03+0530")
                .unwrap()
                .offset_minutes,
            330
        );
        for bad in [
            "",
            "2016-11-24",
            "2016-11-24T25:00:00-06:00",
            "2016-11-24T10:00:00",
            "2016-11-24T10:00:00-06",
            "2016-13-24T10:00:00-06:00",
            "2016-11-24X10:00:00-06:00",
            "2016-11-24T10:0a:00-06:00",
        ] {
            assert!(LocalTime::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn writes_timestamps() {
        let mut out = Vec::new();
        let d: Date = "2016-11-26".parse().unwrap();
        write_timestamp(&mut out, d, 2 * 60, -360);
        assert_eq!(String::from_utf8(out).unwrap(), "2016-11-26T00:02:00-06:00");
        let mut out = Vec::new();
        write_timestamp(&mut out, d, 86_399, 330);
        assert_eq!(String::from_utf8(out).unwrap(), "2016-11-26T23:59:59+05:30");
    }

    #[test]
    fn the_writer_writes_what_write_timestamp_writes() {
        let mut writer = TimestampWriter::default();
        let mut fast = Vec::new();
        let mut plain = Vec::new();
        for (day, seconds, offset) in [
            ("2016-11-26", 0, -360),
            ("2016-11-26", 86_399, -360),
            ("2016-11-26", 3_723, -300),
            ("2016-11-27", 45_296, -300),
            ("0999-01-01", 59, 330),
            ("2016-11-27", 45_296, 0),
        ] {
            let date: Date = day.parse().unwrap();
            writer.write(&mut fast, date, seconds, offset);
            write_timestamp(&mut plain, date, seconds, offset);
            fast.push(b'|');
            plain.push(b'|');
        }
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            String::from_utf8(plain).unwrap()
        );
    }

    #[test]
    fn cached_dates_parse_like_fresh_ones() {
        let mut dates = DateCache::default();
        for text in [
            "2016-11-26T10:00:00-06:00",
            "2016-11-26T11:00:00-06:00",
            "2016-11-27T00:00:01-06:00",
            "2016-02-30T00:00:01-06:00",
            "2016-11-27T00:00:01-06:00",
            "2016-11-27X00:00:01-06:00",
        ] {
            assert_eq!(
                LocalTime::parse_cached(text.as_bytes(), &mut dates),
                LocalTime::parse(text),
                "{text}"
            );
        }
    }

    #[test]
    fn parses_arrival_times() {
        assert_eq!(parse_arrival(b"5:33:00"), Ok(5 * 3600 + 33 * 60));
        assert_eq!(parse_arrival(b"24:02:00"), Ok(24 * 3600 + 120));
        assert!(parse_arrival(b"5:3:00").is_err());
        assert!(parse_arrival(b"48:00:00").is_err());
        assert!(parse_arrival(b"12:60:00").is_err());
        assert!(parse_arrival(b"").is_err());
        assert!(parse_arrival(b"123:00:00").is_err());
    }
}
