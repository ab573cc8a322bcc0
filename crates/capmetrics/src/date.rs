//! Calendar dates and the day specs users type (`2016-11-24..2016-11-27,2016-12-01`).
//!
//! The processor needs only proleptic Gregorian civil dates: day arithmetic, ISO weekdays and
//! `YYYY-MM-DD` text. A day number (days since 1970-01-01) makes all of that integer math, so
//! no time-zone database or date crate is needed.

use std::fmt;
use std::str::FromStr;

/// A civil date, stored as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    days: i32,
}

/// Why a date or day spec did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("`{0}` is not a date; expected YYYY-MM-DD")]
    Syntax(String),
    #[error("`{0}` is not a real calendar date")]
    OutOfRange(String),
    #[error("range `{0}` ends before it starts")]
    Backwards(String),
    #[error("the day spec is empty")]
    Empty,
    #[error("day spec `{spec}` covers {count} days; the limit is {limit}")]
    TooMany {
        spec: String,
        count: i64,
        limit: i64,
    },
}

impl Date {
    /// Builds a date from its year, month (1–12) and day of month, or `None` if no such day.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        if !(-100_000..=100_000).contains(&year) {
            return None;
        }
        Some(Date {
            days: days_from_civil(year, month, day),
        })
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_day_number(days: i32) -> Date {
        Date { days }
    }

    /// Days since 1970-01-01.
    pub fn day_number(self) -> i32 {
        self.days
    }

    /// Year, month and day of month.
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.days)
    }

    /// The date `n` days later (or earlier, for negative `n`).
    pub fn add_days(self, n: i32) -> Date {
        Date {
            days: self.days + n,
        }
    }

    /// ISO weekday: Monday = 1 … Sunday = 7.
    pub fn iso_weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (ISO 4).
        (self.days + 3).rem_euclid(7) as u32 + 1
    }

    /// The date as `YYYYMMDD`, the form used in metadata file names.
    pub fn compact(self) -> String {
        let (y, m, d) = self.ymd();
        format!("{y:04}{m:02}{d:02}")
    }

    /// Parses `YYYYMMDD` (metadata file names).
    pub fn parse_compact(text: &str) -> Option<Date> {
        let b = text.as_bytes();
        if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().ok();
        Date::from_ymd(num(0..4)? as i32, num(4..6)?, num(6..8)?)
    }

    /// Writes `YYYY-MM-DD` into `out` without allocating.
    pub fn write_iso(self, out: &mut Vec<u8>) {
        let (y, m, d) = self.ymd();
        if (0..=9999).contains(&y) {
            push_digits(out, y as u32, 4);
        } else {
            out.extend_from_slice(y.to_string().as_bytes());
        }
        out.push(b'-');
        push_digits(out, m, 2);
        out.push(b'-');
        push_digits(out, d, 2);
    }
}

/// Appends `value` as exactly `width` decimal digits (zero-padded).
pub(crate) fn push_digits(out: &mut Vec<u8>, value: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut v = value;
    for slot in buf[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&buf[..width]);
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for Date {
    type Err = DateError;

    fn from_str(text: &str) -> Result<Date, DateError> {
        let b = text.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) || !digits(5..7) {
            return Err(DateError::Syntax(text.to_owned()));
        }
        if !digits(8..10) {
            return Err(DateError::Syntax(text.to_owned()));
        }
        let num = |r: std::ops::Range<usize>| {
            b[r].iter()
                .fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'))
        };
        Date::from_ymd(num(0..4) as i32, num(5..7), num(8..10))
            .ok_or_else(|| DateError::OutOfRange(text.to_owned()))
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

// Day-number conversions in the style of Howard Hinnant's `days_from_civil`: shift the year to
// start in March so the leap day is last, then count 400-year eras.
fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400) as u32;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe as i32 + era * 400 + i32::from(month <= 2);
    (year, month, day)
}

/// The most days one spec may expand to; a typo such as `2016..9016` should not allocate
/// millions of days.
pub const MAX_SPEC_DAYS: i64 = 100_000;

/// Parses a day spec: a single day, an inclusive range `A..B`, or a comma-separated list of
/// those. Days come back in the order written, without duplicates.
pub fn parse_day_spec(spec: &str) -> Result<Vec<Date>, DateError> {
    let mut days = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (first, last) = match part.split_once("..") {
            Some((a, b)) => {
                let b = b.strip_prefix('=').unwrap_or(b);
                (a.trim().parse::<Date>()?, b.trim().parse::<Date>()?)
            }
            None => {
                let d = part.parse::<Date>()?;
                (d, d)
            }
        };
        if last < first {
            return Err(DateError::Backwards(part.to_owned()));
        }
        let count = i64::from(last.days - first.days) + 1 + days.len() as i64;
        if count > MAX_SPEC_DAYS {
            return Err(DateError::TooMany {
                spec: spec.to_owned(),
                count,
                limit: MAX_SPEC_DAYS,
            });
        }
        for n in first.days..=last.days {
            if seen.insert(n) {
                days.push(Date { days: n });
            }
        }
    }
    if days.is_empty() {
        return Err(DateError::Empty);
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_and_weekdays() {
        let d: Date = "2016-11-24".parse().unwrap();
        assert_eq!(d.ymd(), (2016, 11, 24));
        assert_eq!(d.iso_weekday(), 4, "2016-11-24 was a Thursday");
        assert_eq!(d.add_days(7).to_string(), "2016-12-01");
        assert_eq!("2015-03-08".parse::<Date>().unwrap().iso_weekday(), 7);
        assert_eq!(
            "2016-02-29"
                .parse::<Date>()
                .unwrap()
                .add_days(1)
                .to_string(),
            "2016-03-01"
        );
        assert_eq!(Date::from_day_number(0).to_string(), "1970-01-01");
        for n in -800_000..800_000 {
            if n % 997 == 0 {
                let d = Date::from_day_number(n);
                let (y, m, dd) = d.ymd();
                assert_eq!(Date::from_ymd(y, m, dd), Some(d));
            }
        }
        let mut out = Vec::new();
        d.write_iso(&mut out);
        assert_eq!(out, b"2016-11-24");
        assert_eq!(d.compact(), "20161124");
        assert_eq!(Date::parse_compact("20161124"), Some(d));
    }

    #[test]
    fn rejects_bad_dates() {
        assert!(matches!(
            "2016-02-30".parse::<Date>(),
            Err(DateError::OutOfRange(_))
        ));
        assert!(matches!(
            "2016-13-01".parse::<Date>(),
            Err(DateError::OutOfRange(_))
        ));
        assert!(matches!(
            "2016-1-01".parse::<Date>(),
            Err(DateError::Syntax(_))
        ));
        assert!(matches!(
            "yesterday".parse::<Date>(),
            Err(DateError::Syntax(_))
        ));
        assert_eq!(Date::parse_compact("2016113"), None);
    }

    #[test]
    fn day_specs() {
        let days = |s: &str| {
            parse_day_spec(s).map(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>())
        };
        assert_eq!(days("2016-11-24").unwrap(), ["2016-11-24"]);
        assert_eq!(
            days("2016-11-24..2016-11-26").unwrap(),
            ["2016-11-24", "2016-11-25", "2016-11-26"]
        );
        assert_eq!(
            days("2016-11-27, 2016-11-24..2016-11-25,2016-11-24").unwrap(),
            ["2016-11-27", "2016-11-24", "2016-11-25"]
        );
        assert_eq!(
            days("2016-12-31..2017-01-01").unwrap(),
            ["2016-12-31", "2017-01-01"]
        );
        assert!(matches!(
            parse_day_spec("2016-11-26..2016-11-24"),
            Err(DateError::Backwards(_))
        ));
        assert!(matches!(parse_day_spec(" , "), Err(DateError::Empty)));
        assert!(matches!(
            parse_day_spec("0001-01-01..9999-01-01"),
            Err(DateError::TooMany { .. })
        ));
        assert!(matches!(
            parse_day_spec("2016-11-24..x"),
            Err(DateError::Syntax(_))
        ));
    }
}
