//! Decimal parsing with a fast path, and knowing when input text is already in output form.
//!
//! Positions carry three decimals per row and a schedule load parses none, so decimals are a
//! large share of a day's parsing. Most are short (`30.290358`): read as an integer mantissa
//! and a power of ten, both exact in a double, one division gives the correctly rounded value
//! (Clinger's fast path). Anything else goes to the standard library's parser.

/// 10^0 … 10^22, every one exactly representable as a double.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A parsed decimal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Parsed {
    pub(crate) value: f64,
    /// The text is exactly what the output would print for `value` (see [`is_shortest`]).
    pub(crate) shortest: bool,
}

/// Parses a finite decimal number; `None` if `text` is not one.
pub(crate) fn parse_decimal(text: &str) -> Option<Parsed> {
    match decimal_prefix(text.as_bytes()) {
        Some((parsed, length)) if length == text.len() => Some(parsed),
        _ => parse_slow(text),
    }
}

/// The plain decimal (`-?D+(.D*)?`) at the start of `bytes` and its length in bytes, when it
/// fits the fast path: at most 19 digits and a mantissa of at most 2^53. `None` sends the caller
/// to the standard library's parser (through [`parse_decimal`]).
///
/// Parsing stops at the first byte that cannot continue the number, so a caller reading a CSV
/// line parses a field and finds its end in one pass.
pub(crate) fn decimal_prefix(bytes: &[u8]) -> Option<(Parsed, usize)> {
    let negative = bytes.first() == Some(&b'-');
    let int_start = usize::from(negative);
    let mut mantissa = 0u64;
    let mut i = int_start;
    while let Some(digit) = bytes
        .get(i)
        .map(|c| c.wrapping_sub(b'0'))
        .filter(|&d| d <= 9)
    {
        mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(digit));
        i += 1;
    }
    let int = &bytes[int_start..i];
    let has_dot = bytes.get(i) == Some(&b'.');
    let frac_start = i + usize::from(has_dot);
    i = frac_start;
    if has_dot {
        while let Some(digit) = bytes
            .get(i)
            .map(|c| c.wrapping_sub(b'0'))
            .filter(|&d| d <= 9)
        {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(digit));
            i += 1;
        }
    }
    let frac = &bytes[frac_start..i];
    let n_digits = int.len() + frac.len();
    // Up to 19 digits nothing above wrapped, since 10^19 - 1 < 2^64.
    if int.is_empty() || n_digits > 19 || mantissa > 1 << 53 {
        return None;
    }
    let magnitude = mantissa as f64 / POWERS_OF_TEN[frac.len()];
    // Digits from the first non-zero one on bound the significant digits from above, which is
    // all `shortest` needs to be sound.
    let leading_zeros = if int == b"0" {
        1 + frac.iter().take_while(|&&c| c == b'0').count()
    } else {
        0
    };
    let shortest = has_dot
        && !frac.is_empty()
        && (int.len() == 1 || int[0] != b'0')
        && (frac.len() == 1 || !frac.ends_with(b"0"))
        && n_digits - leading_zeros.min(n_digits) <= 15;
    let parsed = Parsed {
        value: if negative { -magnitude } else { magnitude },
        shortest,
    };
    Some((parsed, i))
}

fn parse_slow(text: &str) -> Option<Parsed> {
    let value: f64 = text.parse().ok()?;
    value.is_finite().then(|| Parsed {
        value,
        shortest: is_shortest(text),
    })
}

/// True when `text` is exactly what the output prints for the number it denotes, so it can be
/// copied to the output as is.
///
/// That holds for a plain decimal with no superfluous zeros (`-97.74`, `0.0`, `12.5`) and at most
/// 15 significant digits: distinct decimals of 15 digits or fewer always parse to distinct
/// doubles, so no shorter text can denote the same double.
pub(crate) fn is_shortest(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text).as_bytes();
    let Some(dot) = digits.iter().position(|&c| c == b'.') else {
        return false;
    };
    let (int, frac) = (&digits[..dot], &digits[dot + 1..]);
    let all_digits = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    if !all_digits(int) || !all_digits(frac) {
        return false;
    }
    if int.len() > 1 && int[0] == b'0' {
        return false;
    }
    if frac.len() > 1 && frac.ends_with(b"0") {
        return false;
    }
    let significant = if int == b"0" {
        frac.len() - frac.iter().take_while(|&&c| c == b'0').count()
    } else {
        int.len() + if frac == b"0" { 0 } else { frac.len() }
    };
    significant <= 15
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::output::push_float;

    fn printed(v: f64) -> String {
        let mut out = Vec::new();
        push_float(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn shortest_text_is_recognised() {
        for text in [
            "0.0",
            "-97.74142",
            "30.290358",
            "12.96416",
            "0.000123",
            "123456789012.345",
            "-0.0",
        ] {
            assert!(is_shortest(text), "{text}");
            assert_eq!(printed(text.parse().unwrap()), text);
        }
        for text in [
            "0",
            "1",
            "1.50",
            "01.5",
            ".5",
            "5.",
            "1e5",
            "+1.5",
            "NaN",
            "1.2345678901234567",
            "0.30000000000000004",
            "1.0.0",
            "",
            "-",
        ] {
            assert!(!is_shortest(text), "{text}");
        }
    }

    #[test]
    fn rejects_non_numbers() {
        for text in [
            "", "-", ".", "abc", "1.2.3", "1,5", "inf", "NaN", "1e999", "--1", " 1",
        ] {
            assert_eq!(parse_decimal(text), None, "{text:?}");
        }
    }

    proptest! {
        /// The fast path gives exactly the standard parser's value, and when `shortest` says so
        /// the output prints exactly the input text. (It may say no for some texts that would
        /// print the same, such as 16-digit ones; those are formatted, not copied.)
        #[test]
        fn agrees_with_std(int in 0u64..10_000_000_000, frac in "[0-9]{0,12}", negative: bool, exp in proptest::option::of(-30i32..30)) {
            let mut text = format!("{}{int}", if negative { "-" } else { "" });
            if !frac.is_empty() { text = format!("{text}.{frac}"); }
            if let Some(e) = exp { text = format!("{text}e{e}"); }
            let expected: f64 = text.parse().unwrap();
            let parsed = parse_decimal(&text).unwrap();
            prop_assert_eq!(parsed.value.to_bits(), expected.to_bits(), "{}", text);
            // Read from the start of a longer line, the fast path stops where the number ends.
            let line = format!("{text},8919");
            if let (Some((prefix, length)), None) = (decimal_prefix(line.as_bytes()), exp) {
                prop_assert_eq!((prefix, length), (parsed, text.len()), "{}", text);
            }
            if parsed.shortest {
                prop_assert_eq!(printed(expected), text);
            } else if exp.is_none() && printed(expected) == text {
                prop_assert!(text.replace(['-', '.'], "").trim_start_matches('0').len() > 15, "{}", text);
            }
        }

        #[test]
        fn any_double_round_trips(v in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO) {
            let text = printed(v);
            let parsed = parse_decimal(&text).unwrap();
            prop_assert_eq!(parsed.value.to_bits(), v.to_bits());
            if parsed.shortest {
                prop_assert_eq!(printed(parsed.value), text);
            }
        }
    }
}
