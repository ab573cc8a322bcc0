//! The views of a [`Diff`]: a terminal view (aligned columns, colour when asked for) and a
//! Markdown view for a pull-request comment. The JSON view is the [`Diff`] serialized
//! ([`json`]). All three show the same figures, taken from the report, never recomputed.
//!
//! Values that come from the files (headsigns, timestamps, labels) are shown with control
//! characters escaped, so a CSV cannot rewrite the reader's terminal; the Markdown view also
//! escapes the characters Markdown would interpret.
//!
//! The small formatters below (`grouped`, `points`, `interval`, …) are public so that other
//! views of a diff, such as the dashboard's HTML page, write figures exactly as these do.

mod markdown;
mod terminal;

use std::borrow::Cow;

use capmetrics::Date;

use crate::Diff;
use crate::report::OtpChange;

pub use markdown::markdown;
pub use terminal::{headline, terminal};

/// The JSON view: the report, pretty-printed, with a final line feed.
pub fn json(diff: &Diff) -> String {
    let mut text = serde_json::to_string_pretty(diff).unwrap_or_else(|e| {
        // Serializing plain data cannot fail; say so rather than print nothing.
        format!("{{\"error\": \"cannot serialize the diff: {e}\"}}")
    });
    text.push('\n');
    text
}

/// `n` with its thousands grouped by commas: `3,000`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A change with its sign: `+1,234`, `-12`, `0`.
pub fn signed(n: i64) -> String {
    match n {
        0 => "0".to_owned(),
        n if n > 0 => format!("+{}", grouped(n.unsigned_abs())),
        n => format!("-{}", grouped(n.unsigned_abs())),
    }
}

/// A fraction as a percentage with two decimals, `-` when undefined.
pub fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_owned(), |x| format!("{:.2} %", x * 100.0))
}

/// A share of moved rows: whole percent, or one decimal below 10 %.
pub fn share(x: f64) -> String {
    let p = x * 100.0;
    if p < 10.0 && p > 0.0 {
        format!("{p:.1} %")
    } else {
        format!("{p:.0} %")
    }
}

/// The Wilson interval as `71.20–71.26`.
pub fn interval(lo: Option<f64>, hi: Option<f64>) -> String {
    match (lo, hi) {
        (Some(lo), Some(hi)) => format!("{:.2}–{:.2}", lo * 100.0, hi * 100.0),
        _ => "-".to_owned(),
    }
}

/// A change in percentage points: `+0.02 pp`.
pub fn points(x: Option<f64>) -> String {
    x.map_or_else(
        || "-".to_owned(),
        // -0.00 reads as a change in the wrong direction.
        |x| {
            let text = format!("{x:+.2} pp");
            if text == "-0.00 pp" {
                "+0.00 pp".to_owned()
            } else {
                text
            }
        },
    )
}

/// The medians: `45 s → 44 s (-1 s)`, or `45 s` when equal.
pub fn medians(change: &OtpChange) -> String {
    let seconds = |x: Option<i64>| x.map_or_else(|| "-".to_owned(), |x| format!("{x} s"));
    match (change.a.p50, change.b.p50) {
        (x, y) if x == y => seconds(x),
        (x, y) => match change.p50_shift {
            Some(shift) => format!("{} → {} ({shift:+} s)", seconds(x), seconds(y)),
            None => format!("{} → {}", seconds(x), seconds(y)),
        },
    }
}

/// Days as a list, the first `most` of them: `2016-11-24, 2016-11-25 and 3 more`.
pub fn day_list(days: &[Date], most: usize) -> String {
    let shown: Vec<String> = days.iter().take(most).map(Date::to_string).collect();
    let rest = days.len().saturating_sub(most);
    if rest == 0 {
        shown.join(", ")
    } else {
        format!("{} and {rest} more", shown.join(", "))
    }
}

/// `1 day`, `2 days`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { one } else { many })
}

/// Text from a file or a label, with control characters (and the Unicode controls that
/// reorder or split lines) escaped as Rust writes them.
pub fn clean(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'
                    ..='\u{202e}' | '\u{2066}'..='\u{2069}'
            )
    };
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(1234567), "1,234,567");
        assert_eq!(signed(-1234), "-1,234");
        assert_eq!(signed(5), "+5");
        assert_eq!(percent(Some(0.712345)), "71.23 %");
        assert_eq!(points(Some(-0.001)), "+0.00 pp");
        assert_eq!(points(Some(0.256)), "+0.26 pp");
        assert_eq!(share(0.912), "91 %");
        assert_eq!(share(0.0312), "3.1 %");
        assert_eq!(count(1, "day", "days"), "1 day");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(clean("North"), "North");
        assert_eq!(clean("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\n");
        assert_eq!(clean("x\u{202e}y"), "x\\u{202e}y");
    }
}
