//! Wall-clock times in the forms RQ stores: `2026-11-27T20:46:19.079403Z` in job and worker
//! hashes, float epoch seconds in execution hashes and result streams, and integer epoch
//! seconds as registry scores.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use capmetrics::Date;

/// Seconds since the Unix epoch, as a float (RQ's execution and result-stream form).
pub fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

/// The current time as float epoch seconds.
pub fn now_epoch() -> f64 {
    epoch_seconds(SystemTime::now())
}

/// RQ's timestamp format, `%Y-%m-%dT%H:%M:%S.%fZ` in UTC.
pub fn rq_timestamp(t: SystemTime) -> String {
    utc_timestamp(t, 6)
}

/// `YYYY-MM-DDTHH:MM:SS.<digits>Z` in UTC, with 3 (milliseconds) or 6 (microseconds) digits.
pub fn utc_timestamp(t: SystemTime, digits: u32) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let date = Date::from_day_number((secs / 86_400) as i32);
    let of_day = secs % 86_400;
    let fraction = since.subsec_micros() / 10u32.pow(6u32.saturating_sub(digits.min(6)));
    format!(
        "{date}T{:02}:{:02}:{:02}.{fraction:0width$}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        width = digits.min(6) as usize
    )
}

/// Parses RQ's timestamp format (with or without fractional seconds) back to a time.
pub fn parse_rq_timestamp(text: &str) -> Option<SystemTime> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = text.split_once('T')?;
    let date: Date = date.parse().ok()?;
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut parts = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = u64::try_from(date.day_number()).ok()?;
    let mut micros = 0u64;
    if !fraction.is_empty() {
        let digits: String = fraction.chars().take(6).collect();
        micros = digits.parse::<u64>().ok()? * 10u64.pow(6 - digits.len() as u32);
    }
    let secs = days * 86_400 + h * 3600 + m * 60 + s;
    Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rq_timestamps_round_trip() {
        let t = UNIX_EPOCH + Duration::from_micros(1_795_812_379_079_403);
        assert_eq!(rq_timestamp(t), "2026-11-27T20:46:19.079403Z");
        assert_eq!(parse_rq_timestamp("2026-11-27T20:46:19.079403Z"), Some(t));
        assert_eq!(
            parse_rq_timestamp("2026-11-27T20:46:19Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_795_812_379))
        );
        assert_eq!(parse_rq_timestamp(""), None);
        assert_eq!(parse_rq_timestamp("2026-11-27 20:46:19"), None);
        assert!((epoch_seconds(t) - 1_795_812_379.079_403).abs() < 1e-6);
    }
}
