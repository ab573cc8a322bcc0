//! Decoding of protocol 0's newline-terminated text arguments: integers, floats, memo keys,
//! Python 2 `str` literals (STRING) and raw-unicode-escape text (UNICODE).
//!
//! Python 2 clients and `protocol=0` still write these, so the reader must accept them, and
//! they are where a careless parser would meet unbounded numbers and escape sequences. Each
//! function takes the line without its newline and fails with a short reason instead of
//! guessing. The rules follow what CPython's unpickler accepts, narrowed where CPython's C and
//! Python implementations disagree (leading zeros, base prefixes).

use crate::bigint::{BigInt, MAX_DECIMAL_DIGITS};

/// An integer read from text: most fit `i64`, the rest are kept exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Integer {
    Small(i64),
    Big(BigInt),
}

/// Parses an INT or LONG argument: optional surrounding whitespace, optional sign, decimal
/// digits. Multi-digit numbers may not start with 0 unless all digits are 0, because CPython's
/// C unpickler would read such numbers as octal and its Python one refuses them.
pub(crate) fn parse_integer(line: &[u8]) -> Result<Integer, String> {
    let text = line.trim_ascii();
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        rest => (false, rest),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "`{}` is not a decimal integer",
            crate::error::sanitize(text)
        ));
    }
    if digits.len() > 1 && digits[0] == b'0' && digits.iter().any(|d| *d != b'0') {
        return Err("integer has a leading zero".into());
    }
    if digits.len() > MAX_DECIMAL_DIGITS {
        return Err(format!("integer has more than {MAX_DECIMAL_DIGITS} digits"));
    }
    // Up to 18 digits always fit i64; longer text goes through BigInt and back if it fits.
    if digits.len() <= 18 {
        let magnitude = digits
            .iter()
            .fold(0_i64, |acc, d| acc * 10 + i64::from(d - b'0'));
        return Ok(Integer::Small(if negative {
            -magnitude
        } else {
            magnitude
        }));
    }
    let text = std::str::from_utf8(text).map_err(|_| "integer is not ascii".to_string())?;
    let big = BigInt::parse_decimal(text).ok_or_else(|| "integer does not parse".to_string())?;
    Ok(match big.to_i64() {
        Some(small) => Integer::Small(small),
        None => Integer::Big(big),
    })
}

/// Parses a GET/PUT memo key: a non-negative decimal that fits `u64`.
pub(crate) fn parse_memo_key(line: &[u8]) -> Option<u64> {
    let digits = line.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0_u64, |acc, d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Parses a FLOAT argument, as Python 2's `repr(float)` wrote it (including `inf` and `nan`).
pub(crate) fn parse_float(line: &[u8]) -> Option<f64> {
    std::str::from_utf8(line.trim_ascii()).ok()?.parse().ok()
}

/// Strips the quotes around a STRING argument, which must begin and end with the same quote.
pub(crate) fn unquote(line: &[u8]) -> Option<&[u8]> {
    match line {
        [first, body @ .., last] if first == last && (*first == b'\'' || *first == b'"') => {
            Some(body)
        }
        _ => None,
    }
}

/// Decodes the backslash escapes of a Python 2 `str` literal (Python's `codecs.escape_decode`).
pub(crate) fn decode_string_escape(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    while let [byte, tail @ ..] = rest {
        rest = tail;
        if *byte != b'\\' {
            out.push(*byte);
            continue;
        }
        let [escape, tail @ ..] = rest else {
            return Err("string ends with a lone backslash".into());
        };
        rest = tail;
        match escape {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(*escape),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                // Up to three octal digits; Python keeps only the low 8 bits of values > 0o377.
                let mut value = u32::from(escape - b'0');
                for _ in 0..2 {
                    match rest {
                        [digit @ b'0'..=b'7', tail @ ..] => {
                            value = value * 8 + u32::from(digit - b'0');
                            rest = tail;
                        }
                        _ => break,
                    }
                }
                out.push((value & 0xff) as u8);
            }
            b'x' => match rest {
                [high, low, tail @ ..] if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                    out.push(hex_value(*high) * 16 + hex_value(*low));
                    rest = tail;
                }
                _ => return Err("invalid \\x escape".into()),
            },
            // Python keeps unknown escapes as written (with a deprecation warning).
            other => {
                out.push(b'\\');
                out.push(*other);
            }
        }
    }
    Ok(out)
}

/// Decodes Python's `raw-unicode-escape`: bytes are Latin-1 characters, except `\uXXXX` and
/// `\UXXXXXXXX`. A backslash before anything else stands for itself and the following byte, as
/// in CPython. A surrogate pair written as two `\u` escapes (as narrow Python 2 builds could)
/// is joined; a lone surrogate cannot live in a Rust string and is refused.
pub(crate) fn decode_raw_unicode_escape(data: &[u8]) -> Result<String, String> {
    let mut out = String::with_capacity(data.len());
    let mut rest = data;
    let mut pending_high: Option<u32> = None;
    while let [byte, tail @ ..] = rest {
        rest = tail;
        let code = match (byte, rest) {
            (b'\\', [kind @ (b'u' | b'U'), tail @ ..]) => {
                let width = if *kind == b'u' { 4 } else { 8 };
                let (Some(hex), Some(tail)) = (tail.get(..width), tail.get(width..)) else {
                    return Err("truncated \\u escape".into());
                };
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return Err("truncated \\u escape".into());
                }
                rest = tail;
                hex.iter()
                    .fold(0_u32, |acc, h| acc * 16 + u32::from(hex_value(*h)))
            }
            (b'\\', [other, tail @ ..]) => {
                if pending_high.is_some() {
                    return Err("lone surrogate in text".into());
                }
                out.push('\\');
                out.push(char::from(*other));
                rest = tail;
                continue;
            }
            _ => u32::from(*byte),
        };
        if let Some(high) = pending_high.take() {
            if (0xdc00..0xe000).contains(&code) {
                let joined = 0x10000 + ((high - 0xd800) << 10) + (code - 0xdc00);
                out.push(char::from_u32(joined).ok_or("invalid surrogate pair")?);
                continue;
            }
            return Err("lone surrogate in text".into());
        }
        if (0xd800..0xdc00).contains(&code) {
            pending_high = Some(code);
            continue;
        }
        out.push(
            char::from_u32(code)
                .ok_or_else(|| format!("\\U{code:08x} is not a unicode character"))?,
        );
    }
    if pending_high.is_some() {
        return Err("lone surrogate in text".into());
    }
    Ok(out)
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_like_python() {
        assert_eq!(parse_integer(b"-5"), Ok(Integer::Small(-5)));
        assert_eq!(parse_integer(b" 42 "), Ok(Integer::Small(42)));
        assert_eq!(parse_integer(b"000"), Ok(Integer::Small(0)));
        assert_eq!(
            parse_integer(b"9223372036854775807"),
            Ok(Integer::Small(i64::MAX))
        );
        assert_eq!(
            parse_integer(b"-9223372036854775808"),
            Ok(Integer::Small(i64::MIN))
        );
        assert_eq!(
            parse_integer(b"1180591620717411303424"),
            Ok(Integer::Big(
                BigInt::parse_decimal("1180591620717411303424").unwrap()
            ))
        );
        for bad in [&b""[..], b"-", b"010", b"0x10", b"1L", b"1 2", b"\xff"] {
            assert!(parse_integer(bad).is_err(), "{bad:?}");
        }
        assert!(parse_integer(&[b'1'; MAX_DECIMAL_DIGITS + 1]).is_err());
    }

    #[test]
    fn memo_keys_and_floats() {
        assert_eq!(parse_memo_key(b"12"), Some(12));
        assert_eq!(parse_memo_key(b"99999999999999999999999"), None);
        assert_eq!(parse_memo_key(b"-1"), None);
        assert_eq!(parse_float(b"1.5"), Some(1.5));
        assert_eq!(parse_float(b"-inf"), Some(f64::NEG_INFINITY));
        assert!(parse_float(b"nan").is_some_and(f64::is_nan));
        assert_eq!(parse_float(b"1.5.5"), None);
    }

    #[test]
    fn string_escapes_decode() {
        assert_eq!(
            decode_string_escape(br"a\'b\\c\n\x41\101\0").unwrap(),
            b"a'b\\c\nAA\0"
        );
        assert_eq!(decode_string_escape(br"\q").unwrap(), b"\\q");
        assert!(decode_string_escape(br"\x4").is_err());
        assert!(decode_string_escape(b"ab\\").is_err());
        assert_eq!(unquote(b"'abc'"), Some(&b"abc"[..]));
        assert_eq!(unquote(b"'abc\""), None);
        assert_eq!(unquote(b"'"), None);
    }

    #[test]
    fn raw_unicode_escape_decodes() {
        assert_eq!(decode_raw_unicode_escape(b"caf\xe9").unwrap(), "café");
        assert_eq!(
            decode_raw_unicode_escape(br"\u20ac \U0001f600").unwrap(),
            "€ 😀"
        );
        assert_eq!(decode_raw_unicode_escape(br"\ud83d\ude00").unwrap(), "😀");
        assert_eq!(decode_raw_unicode_escape(br"\\u0041").unwrap(), "\\\\u0041");
        assert_eq!(decode_raw_unicode_escape(br"a\b").unwrap(), "a\\b");
        assert!(decode_raw_unicode_escape(br"\ud83d").is_err());
        assert!(decode_raw_unicode_escape(br"\u12").is_err());
        assert!(decode_raw_unicode_escape(br"\U00110000").is_err());
    }
}
