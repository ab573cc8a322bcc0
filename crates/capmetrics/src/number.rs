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
    let (mut mantissa, mut i) = digit_run(bytes, int_start, 0);
    let int = &bytes[int_start..i];
    let has_dot = bytes.get(i) == Some(&b'.');
    let frac_start = i + usize::from(has_dot);
    i = frac_start;
    if has_dot {
        (mantissa, i) = digit_run(bytes, frac_start, mantissa);
    }
    let frac = &bytes[frac_start..i];
    let n_digits = int.len() + frac.len();
    // Up to 19 digits nothing above wrapped, since 10^19 - 1 < 2^64.
    if int.is_empty() || n_digits > 19 || mantissa > 1 << 53 {
        return None;
    }
    // Below 2^53 the signed conversion is exact, and a single instruction.
    let magnitude = mantissa as i64 as f64 / POWERS_OF_TEN[frac.len()];
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

/// Reads the run of ASCII digits starting at `at`, appending them to `value` (wrapping on
/// overflow: a caller that needs the exact value limits the number of digits). Returns the
/// value and the offset of the first byte after the run.
///
/// Eight bytes are looked at at once: which of them are digits is one mask, and up to eight
/// digits become a number in three multiply-and-add steps.
pub(crate) fn digit_run(bytes: &[u8], mut at: usize, mut value: u64) -> (u64, usize) {
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(word) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(word).unwrap_or_default());
        // A byte is a digit when it is at least `0` and adding 0x46 leaves it below 0x80
        // (that is, it is at most `9`), and it is ASCII.
        let not_digit =
            (word | word.wrapping_sub(ZEROS) | word.wrapping_add(0x4646_4646_4646_4646)) & HIGH;
        let n = (not_digit.trailing_zeros() / 8) as usize;
        if n == 0 {
            return (value, at);
        }
        // Move the n digits to the top of the word, so that the bytes below them read as
        // leading zeros, and add up pairs, then quads, then the eight.
        let mut digits = word.wrapping_sub(ZEROS);
        if n < 8 {
            digits <<= 64 - 8 * n as u32;
        }
        digits = (digits.wrapping_mul(10) + (digits >> 8)) & 0x00ff_00ff_00ff_00ff;
        digits = (digits.wrapping_mul(100) + (digits >> 16)) & 0x0000_ffff_0000_ffff;
        digits = (digits.wrapping_mul(10_000) + (digits >> 32)) & 0xffff_ffff;
        value = value
            .wrapping_mul(POWERS_OF_TEN_INT[n])
            .wrapping_add(digits);
        at += n;
        if n < 8 {
            return (value, at);
        }
    }
    while let Some(digit) = bytes
        .get(at)
        .map(|c| c.wrapping_sub(b'0'))
        .filter(|&d| d <= 9)
    {
        value = value.wrapping_mul(10).wrapping_add(u64::from(digit));
        at += 1;
    }
    (value, at)
}

/// 10^0 … 10^8.
const POWERS_OF_TEN_INT: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

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
    fn digit_runs() {
        for (text, at, expected) in [
            ("", 0, (0, 0)),
            ("x", 0, (0, 0)),
            ("7", 0, (7, 1)),
            ("30.417875,", 0, (30, 2)),
            ("30.417875,", 3, (417_875, 9)),
            ("12345678", 0, (12_345_678, 8)),
            ("123456789", 0, (123_456_789, 9)),
            ("1234567890123456789,x", 0, (1_234_567_890_123_456_789, 19)),
            ("00000000000000000042", 0, (42, 20)),
            ("9/:0\u{b9}", 0, (9, 1)),
            ("1\u{e9}", 0, (1, 1)),
        ] {
            assert_eq!(
                digit_run(text.as_bytes(), at, 0),
                expected,
                "{text:?} from {at}"
            );
        }
    }

    proptest! {
        #[test]
        fn digit_runs_read_what_a_byte_loop_reads(bytes in proptest::collection::vec(prop_oneof![b'0'..=b'9', any::<u8>()], 0..40), at in 0..40usize) {
            let at = at.min(bytes.len());
            let mut end = at;
            let mut value = 0u64;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                value = value.wrapping_mul(10).wrapping_add(u64::from(bytes[end] - b'0'));
                end += 1;
            }
            prop_assert_eq!(digit_run(&bytes, at, 0), (value, end));
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
