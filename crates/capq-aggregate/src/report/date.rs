//! Calendar days for the daily chart: `YYYY-MM-DD` to a day number and back, so the chart can
//! place days on a time axis, leave gaps for days that are not in the aggregate and label
//! month starts. Proleptic Gregorian, no time zones: a service day is a date, nothing more.

/// A calendar day, as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub i64);

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Date {
    /// Parses `YYYY-MM-DD`, checking the day exists.
    pub fn parse(text: &str) -> Option<Date> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<i64> {
            let part = text.get(range)?;
            if !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date(days_from_civil(year, month, day)))
    }

    /// `(year, month 1–12, day 1–31)`.
    pub fn civil(self) -> (i64, i64, i64) {
        // Howard Hinnant's civil_from_days, on eras of 400 years.
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        (year, month, day)
    }

    /// `2016-11-24`.
    pub fn iso(self) -> String {
        let (year, month, day) = self.civil();
        format!("{year:04}-{month:02}-{day:02}")
    }

    /// `Nov 24`.
    pub fn short(self) -> String {
        let (_, month, day) = self.civil();
        format!("{} {day}", month_name(month))
    }
}

/// `Jan` … `Dec` for 1 … 12.
pub fn month_name(month: i64) -> &'static str {
    usize::try_from(month - 1)
        .ok()
        .and_then(|i| MONTHS.get(i))
        .copied()
        .unwrap_or("?")
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_known_values() {
        assert_eq!(Date::parse("1970-01-01"), Some(Date(0)));
        assert_eq!(Date::parse("2016-11-24"), Some(Date(17_129)));
        assert_eq!(
            Date::parse("2000-03-01").unwrap().0 - Date::parse("2000-02-28").unwrap().0,
            2
        );
        assert_eq!(
            Date::parse("1900-03-01").unwrap().0 - Date::parse("1900-02-28").unwrap().0,
            1
        );
        for n in -700_000..2_900_000 {
            if n % 997 == 0 {
                let date = Date(n);
                assert_eq!(Date::parse(&date.iso()), Some(date), "{n}");
            }
        }
        assert_eq!(Date(17_129).short(), "Nov 24");
    }

    #[test]
    fn malformed_days_are_refused() {
        for text in [
            "2016-02-30",
            "2015-02-29",
            "2016-13-01",
            "2016-1-01",
            "20161124",
            "2016-11-2x",
            "+016-11-24",
            "",
        ] {
            assert_eq!(Date::parse(text), None, "{text}");
        }
        assert!(Date::parse("2016-02-29").is_some());
    }
}
