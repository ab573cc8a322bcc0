//! How the dashboard writes numbers, times, durations and rates for people: `100,000`,
//! `2026-11-27 20:46:19 UTC`, `4 min 05 s`, `12 s ago`, `3.4 jobs/s`. Machine forms (epoch
//! seconds, RQ timestamps) stay in the JSON API; these are for the HTML only.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use capq_core::time::parse_rq_timestamp;

/// An integer with thousands separators: `1234567` → `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A length of time, to about two significant units: `850 ms`, `12.3 s`, `4 min 05 s`,
/// `2 h 03 min`, `3 d 04 h`.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "–".to_owned();
    }
    if seconds < 1.0 {
        return format!("{:.0} ms", seconds * 1000.0);
    }
    if seconds < 60.0 {
        return if seconds < 10.0 {
            format!("{seconds:.2} s")
        } else {
            format!("{seconds:.1} s")
        };
    }
    let whole = seconds.round() as u64;
    let (d, h, m, s) = (
        whole / 86_400,
        whole / 3600 % 24,
        whole / 60 % 60,
        whole % 60,
    );
    if d > 0 {
        format!("{d} d {h:02} h")
    } else if h > 0 {
        format!("{h} h {m:02} min")
    } else {
        format!("{m} min {s:02} s")
    }
}

/// Seconds since the epoch of an RQ timestamp (`2026-11-27T20:46:19.079403Z`), if it is one.
pub fn epoch_of(rq_timestamp: &str) -> Option<f64> {
    let time = parse_rq_timestamp(rq_timestamp)?;
    Some(seconds_since_epoch(time))
}

pub fn seconds_since_epoch(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

/// An epoch time as `2026-11-27 20:46:19 UTC`.
pub fn utc(epoch: f64) -> String {
    if !epoch.is_finite() || epoch < 0.0 {
        return "never".to_owned();
    }
    let stamp = capq_core::time::rq_timestamp(UNIX_EPOCH + Duration::from_secs_f64(epoch));
    // `2026-11-27T20:46:19.079403Z` → `2026-11-27 20:46:19 UTC`
    match stamp.get(..19) {
        Some(head) => format!("{} UTC", head.replacen('T', " ", 1)),
        None => stamp,
    }
}

/// How long ago `epoch` was, from `now`: `12 s ago`, `4 min 05 s ago`; `in 3 s` for the future.
pub fn ago(epoch: f64, now: f64) -> String {
    let delta = now - epoch;
    if delta >= 0.0 {
        if delta < 1.0 {
            "just now".to_owned()
        } else {
            format!("{} ago", whole_duration(delta))
        }
    } else {
        format!("in {}", whole_duration(-delta))
    }
}

/// Like [`duration`] but without fractions of a second, for ages.
fn whole_duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{} s", seconds.floor() as u64)
    } else {
        duration(seconds)
    }
}

/// A rate of jobs: `3.4 jobs/s`, `1,200 jobs/s`, `12 jobs/min` below one a second.
pub fn rate(per_second: f64) -> String {
    if !per_second.is_finite() || per_second <= 0.0 {
        "0 jobs/s".to_owned()
    } else if per_second < 1.0 {
        format!("{:.1} jobs/min", per_second * 60.0)
    } else if per_second < 100.0 {
        format!("{per_second:.1} jobs/s")
    } else {
        format!("{} jobs/s", count(per_second.round() as u64))
    }
}

/// `part` of `whole` as a percentage, 0 when `whole` is 0.
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// A percentage for people, rounded down so that 100% means all of it: `42%`.
pub fn percent_label(percent: f64) -> String {
    format!("{}%", percent.clamp(0.0, 100.0).floor() as u64)
}

/// At most `max` characters of `text`, with an ellipsis when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The line of an error worth showing in a list: the last non-empty line of a traceback
/// (`ValueError: bad day`), or the message itself.
pub fn error_summary(error: &str) -> String {
    let line = error
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    truncate(line, 240)
}

/// A URL path segment: unreserved characters kept, everything else percent-encoded, so queue
/// names and job ids of any spelling make working links.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(100_000), "100,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0.0123), "12 ms");
        assert_eq!(duration(3.456), "3.46 s");
        assert_eq!(duration(42.0), "42.0 s");
        assert_eq!(duration(245.0), "4 min 05 s");
        assert_eq!(duration(7380.0), "2 h 03 min");
        assert_eq!(duration(3.0 * 86_400.0 + 4.0 * 3600.0), "3 d 04 h");
        assert_eq!(duration(f64::NAN), "–");
        assert_eq!(ago(100.0, 112.5), "12 s ago");
        assert_eq!(ago(100.0, 100.2), "just now");
        assert_eq!(ago(130.0, 100.0), "in 30 s");
    }

    #[test]
    fn times_and_rates() {
        assert_eq!(utc(1_795_812_379.079_403), "2026-11-27 20:46:19 UTC");
        assert_eq!(
            epoch_of("2026-11-27T20:46:19Z").map(|e| e as u64),
            Some(1_795_812_379)
        );
        assert_eq!(rate(0.5), "30.0 jobs/min");
        assert_eq!(rate(3.44), "3.4 jobs/s");
        assert_eq!(rate(9395.2), "9,395 jobs/s");
        assert_eq!(percent(1, 4), 25.0);
        assert_eq!(percent(1, 0), 0.0);
        assert_eq!(percent_label(99.9), "99%");
        assert_eq!(percent_label(100.0), "100%");
    }

    #[test]
    fn texts_are_cut_and_encoded() {
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("éèê", 2), "éè…");
        assert_eq!(
            error_summary("Traceback (most recent call last):\n  File x\nValueError: bad\n\n"),
            "ValueError: bad"
        );
        assert_eq!(segment("high prio/ü"), "high%20prio%2F%C3%BC");
        assert_eq!(segment("a-b_c.d~e"), "a-b_c.d~e");
    }
}
