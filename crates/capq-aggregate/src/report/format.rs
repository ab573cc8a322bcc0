//! Numbers written for people: `18,053`, `72.5%`, `+44 s`, `−1 min 30 s`, with a real minus
//! sign. The files keep machine forms (fractions, whole seconds); the page never shows them
//! raw. An undefined value is shown as [`NONE`].

/// What the page shows for an undefined value (an OTP over no rows, a percentile of nothing).
pub const NONE: &str = "–";

/// The minus sign people expect in print, rather than a hyphen.
const MINUS: char = '\u{2212}';

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

/// A signed integer with thousands separators and a minus sign: `-1800` → `−1,800`.
pub fn signed(n: i64) -> String {
    if n < 0 {
        format!("{MINUS}{}", count(n.unsigned_abs()))
    } else {
        count(n.unsigned_abs())
    }
}

/// A fraction as a percentage with one decimal: `0.72541` → `72.5%`.
pub fn percent(fraction: f64) -> String {
    if !fraction.is_finite() {
        return NONE.to_owned();
    }
    let text = format!("{:.1}", fraction * 100.0);
    // `-0.0` would read as a negative share.
    if text == "-0.0" {
        return "0.0%".to_owned();
    }
    format!("{}%", text.replace('-', "\u{2212}"))
}

/// [`percent`], or [`NONE`].
pub fn percent_or_none(fraction: Option<f64>) -> String {
    fraction.map_or_else(|| NONE.to_owned(), percent)
}

/// A share `part / whole` as a percentage, or [`NONE`] when `whole` is 0.
pub fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        return NONE.to_owned();
    }
    percent(part as f64 / whole as f64)
}

/// A schedule deviation in seconds, signed (`+44 s`, `−61 s`, `0 s`); from two minutes on it
/// is given in minutes: `−2 min`, `+5 min 9 s`.
pub fn deviation(seconds: i64) -> String {
    let sign = match seconds.signum() {
        -1 => MINUS.to_string(),
        1 => "+".to_owned(),
        _ => String::new(),
    };
    let magnitude = seconds.unsigned_abs();
    if magnitude < 120 {
        return format!("{sign}{magnitude} s");
    }
    let (minutes, rest) = (magnitude / 60, magnitude % 60);
    if rest == 0 {
        format!("{sign}{} min", count(minutes))
    } else {
        format!("{sign}{} min {rest} s", count(minutes))
    }
}

/// [`deviation`], or [`NONE`].
pub fn deviation_or_none(seconds: Option<i64>) -> String {
    seconds.map_or_else(|| NONE.to_owned(), deviation)
}

/// Whole seconds as a signed integer for a table column headed "(s)": `−1,800`, `44`.
pub fn seconds_or_none(seconds: Option<i64>) -> String {
    seconds.map_or_else(|| NONE.to_owned(), signed)
}

/// A mean in seconds with one decimal, for a table column headed "(s)".
pub fn mean_or_none(seconds: Option<f64>) -> String {
    match seconds {
        Some(value) if value.is_finite() => {
            let text = format!("{value:.1}");
            if text == "-0.0" {
                "0.0".to_owned()
            } else {
                text.replace('-', "\u{2212}")
            }
        }
        _ => NONE.to_owned(),
    }
}

/// A length of time in whole seconds as minutes with one decimal: `2659` → `44.3 min`.
pub fn minutes_or_none(seconds: Option<i64>) -> String {
    match seconds {
        Some(value) => {
            let text = format!("{:.1} min", value as f64 / 60.0);
            text.replace('-', "\u{2212}")
        }
        None => NONE.to_owned(),
    }
}

/// An axis label for a deviation in seconds, in whole or half minutes: `−5`, `0`, `+2.5`.
pub fn minutes_tick(seconds: f64) -> String {
    let minutes = seconds / 60.0;
    let text = if (minutes - minutes.round()).abs() < 1e-9 {
        format!("{}", minutes.round() as i64)
    } else {
        format!("{minutes:.1}")
    };
    match text.strip_prefix('-') {
        Some(rest) => format!("{MINUS}{rest}"),
        None if text != "0" => format!("+{text}"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(18_053), "18,053");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(signed(-1800), "\u{2212}1,800");
        assert_eq!(signed(44), "44");
        assert_eq!(signed(i64::MIN), "\u{2212}9,223,372,036,854,775,808");
    }

    #[test]
    fn percentages_have_one_decimal() {
        assert_eq!(percent(0.7254195978507727), "72.5%");
        assert_eq!(percent(1.0), "100.0%");
        assert_eq!(percent(0.0), "0.0%");
        assert_eq!(percent(-0.0), "0.0%");
        assert_eq!(percent(0.99999), "100.0%");
        assert_eq!(percent(f64::NAN), NONE);
        assert_eq!(percent_or_none(None), NONE);
        assert_eq!(share(1, 3), "33.3%");
        assert_eq!(share(1, 0), NONE);
    }

    #[test]
    fn deviations_are_signed_with_units() {
        assert_eq!(deviation(44), "+44 s");
        assert_eq!(deviation(-61), "\u{2212}61 s");
        assert_eq!(deviation(0), "0 s");
        assert_eq!(deviation(309), "+5 min 9 s");
        assert_eq!(deviation(119), "+119 s");
        assert_eq!(deviation(150), "+2 min 30 s");
        assert_eq!(deviation(-1800), "\u{2212}30 min");
        assert_eq!(deviation_or_none(None), NONE);
        assert_eq!(seconds_or_none(Some(-1800)), "\u{2212}1,800");
        assert_eq!(mean_or_none(Some(-48.60693641618497)), "\u{2212}48.6");
        assert_eq!(mean_or_none(Some(-0.04)), "0.0");
        assert_eq!(minutes_or_none(Some(2659)), "44.3 min");
    }

    #[test]
    fn minute_ticks() {
        assert_eq!(minutes_tick(-300.0), "\u{2212}5");
        assert_eq!(minutes_tick(0.0), "0");
        assert_eq!(minutes_tick(150.0), "+2.5");
        assert_eq!(minutes_tick(600.0), "+10");
    }
}
