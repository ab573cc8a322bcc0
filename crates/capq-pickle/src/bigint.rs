//! [`BigInt`]: a Python `int` too large for `i64`, kept exactly as pickle stores it.
//!
//! Pickle's LONG1/LONG4 opcodes carry integers as little-endian two's-complement bytes, so that
//! is the stored form: reading and writing them is then a copy, and only `repr`-style display
//! and protocol 0's decimal text need arithmetic. The arithmetic here is schoolbook (quadratic)
//! and so is only ever run on bounded sizes: decimal text is capped at Python's own limit of
//! 4300 digits, and display switches to hexadecimal beyond it.

use std::fmt;

/// Python 3.11 refuses to convert integers of more decimal digits than this to or from text
/// (`sys.int_info.default_max_str_digits`); the reader applies the same cap to protocol 0 text.
pub const MAX_DECIMAL_DIGITS: usize = 4300;

/// Byte length past which `Display` writes hexadecimal: 1785 bytes hold every 4300-digit
/// number, and quadratic decimal conversion stays cheap below it.
const DECIMAL_DISPLAY_MAX_BYTES: usize = 1785;

/// An integer of any size, stored as minimal little-endian two's-complement bytes (the form of
/// pickle's LONG1 and LONG4 opcodes). Zero is the empty byte string, as in pickle.
///
/// The reader produces `Value::BigInt` only for integers outside `i64`; everything that fits
/// becomes `Value::Int`. `From<BigInt> for Value` applies the same rule.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct BigInt {
    bytes: Vec<u8>,
}

impl BigInt {
    /// Takes little-endian two's-complement bytes of any length (as in LONG1/LONG4 or Python's
    /// `int.to_bytes(n, 'little', signed=True)`), dropping redundant sign bytes.
    pub fn from_signed_bytes_le(bytes: &[u8]) -> BigInt {
        BigInt {
            bytes: minimal(bytes.to_vec()),
        }
    }

    /// The minimal little-endian two's-complement bytes, ready for LONG1/LONG4.
    pub fn signed_bytes_le(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether the integer is below zero.
    pub fn is_negative(&self) -> bool {
        self.bytes.last().is_some_and(|b| b & 0x80 != 0)
    }

    /// The integer as an `i64`, if it fits.
    pub fn to_i64(&self) -> Option<i64> {
        if self.bytes.len() > 8 {
            return None;
        }
        let fill = if self.is_negative() { 0xff } else { 0 };
        let mut buf = [fill; 8];
        for (slot, byte) in buf.iter_mut().zip(&self.bytes) {
            *slot = *byte;
        }
        Some(i64::from_le_bytes(buf))
    }

    /// The integer as an `f64`, rounded to the nearest representable value (infinite when too
    /// large, as Python's `float(n)` would instead raise).
    pub fn to_f64(&self) -> f64 {
        let (negative, magnitude) = self.magnitude();
        let value = magnitude
            .iter()
            .rev()
            .fold(0.0_f64, |acc, byte| acc * 256.0 + f64::from(*byte));
        if negative { -value } else { value }
    }

    /// Parses optional sign and ASCII decimal digits (no spaces, no underscores), up to
    /// [`MAX_DECIMAL_DIGITS`] digits.
    pub fn parse_decimal(text: &str) -> Option<BigInt> {
        let (negative, digits) = match text.as_bytes() {
            [b'-', rest @ ..] => (true, rest),
            [b'+', rest @ ..] => (false, rest),
            rest => (false, rest),
        };
        if digits.is_empty()
            || digits.len() > MAX_DECIMAL_DIGITS
            || !digits.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        // Little-endian base-2^32 limbs, fed nine decimal digits at a time.
        let mut limbs: Vec<u32> = Vec::new();
        for chunk in digits.chunks(9) {
            let mut scale = 1_u64;
            let mut add = 0_u64;
            for digit in chunk {
                scale *= 10;
                add = add * 10 + u64::from(digit - b'0');
            }
            let mut carry = add;
            for limb in &mut limbs {
                let next = u64::from(*limb) * scale + carry;
                // Truncation keeps the low 32 bits; the high bits move on as carry.
                *limb = next as u32;
                carry = next >> 32;
            }
            if carry != 0 {
                limbs.push(carry as u32);
            }
        }
        let magnitude: Vec<u8> = limbs.iter().flat_map(|limb| limb.to_le_bytes()).collect();
        Some(BigInt::from_magnitude(negative, magnitude))
    }

    /// Builds the integer from a sign and little-endian unsigned magnitude bytes.
    pub(crate) fn from_magnitude(negative: bool, mut magnitude: Vec<u8>) -> BigInt {
        // A zero top byte makes the unsigned magnitude a valid non-negative two's complement.
        magnitude.push(0);
        if negative {
            negate_in_place(&mut magnitude);
        }
        BigInt {
            bytes: minimal(magnitude),
        }
    }

    /// The exact integer value of a finite, integral float (such as `2.0 ** 70`), so a float
    /// dict key can be compared with an integer key as Python does.
    pub(crate) fn from_integral_f64(value: f64) -> Option<BigInt> {
        if !value.is_finite() || value.fract() != 0.0 {
            return None;
        }
        let bits = value.to_bits();
        let negative = bits >> 63 == 1;
        let exponent_field = ((bits >> 52) & 0x7ff) as i32;
        if exponent_field == 0 {
            // Zero (integral subnormals do not exist).
            return Some(BigInt::default());
        }
        let mantissa = (bits & ((1 << 52) - 1)) | (1 << 52);
        let shift = exponent_field - 1075;
        let magnitude = if shift >= 0 {
            let whole_bytes = (shift / 8) as usize;
            let mut bytes = vec![0_u8; whole_bytes];
            // mantissa < 2^53 and the remaining shift is < 8, so this stays below 2^61.
            bytes.extend_from_slice(&(mantissa << (shift % 8)).to_le_bytes());
            bytes
        } else {
            // Integral and at least 1, so at most 52 bits are shifted out.
            mantissa
                .checked_shr(shift.unsigned_abs())
                .unwrap_or(0)
                .to_le_bytes()
                .to_vec()
        };
        Some(BigInt::from_magnitude(negative, magnitude))
    }

    /// Sign and little-endian unsigned magnitude bytes.
    fn magnitude(&self) -> (bool, Vec<u8>) {
        let negative = self.is_negative();
        let mut bytes = self.bytes.clone();
        if negative {
            negate_in_place(&mut bytes);
        }
        (negative, bytes)
    }

    /// Decimal text, as Python's `str(n)`. Quadratic in the length: meant for the sizes the
    /// reader produces from text, and for display below [`MAX_DECIMAL_DIGITS`] digits.
    pub fn to_decimal(&self) -> String {
        let (negative, magnitude) = self.magnitude();
        let mut limbs: Vec<u32> = magnitude
            .chunks(4)
            .map(|chunk| {
                let mut buf = [0_u8; 4];
                for (slot, byte) in buf.iter_mut().zip(chunk) {
                    *slot = *byte;
                }
                u32::from_le_bytes(buf)
            })
            .collect();
        let mut chunks: Vec<u32> = Vec::new();
        loop {
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
            if limbs.is_empty() {
                break;
            }
            let mut remainder = 0_u64;
            for limb in limbs.iter_mut().rev() {
                let current = (remainder << 32) | u64::from(*limb);
                *limb = (current / 1_000_000_000) as u32;
                remainder = current % 1_000_000_000;
            }
            chunks.push(remainder as u32);
        }
        let mut out = String::new();
        if negative {
            out.push('-');
        }
        match chunks.split_last() {
            None => out.push('0'),
            Some((top, rest)) => {
                out.push_str(&top.to_string());
                for chunk in rest.iter().rev() {
                    out.push_str(&format!("{chunk:09}"));
                }
            }
        }
        out
    }

    /// Hexadecimal text with a `0x` prefix, as Python's `hex(n)`; linear in the length.
    pub fn to_hex(&self) -> String {
        let (negative, magnitude) = self.magnitude();
        let mut out = String::from(if negative { "-0x" } else { "0x" });
        let mut digits = String::new();
        for byte in magnitude.iter().rev() {
            digits.push_str(&format!("{byte:02x}"));
        }
        let trimmed = digits.trim_start_matches('0');
        out.push_str(if trimmed.is_empty() { "0" } else { trimmed });
        out
    }
}

/// Drops sign-extension bytes that do not change the value; zero becomes empty.
fn minimal(mut bytes: Vec<u8>) -> Vec<u8> {
    while let [.., previous, last] = bytes[..] {
        let redundant =
            (last == 0 && previous & 0x80 == 0) || (last == 0xff && previous & 0x80 != 0);
        if !redundant {
            break;
        }
        bytes.pop();
    }
    if bytes == [0] {
        bytes.clear();
    }
    bytes
}

/// Two's-complement negation of little-endian bytes: invert, then add one.
fn negate_in_place(bytes: &mut [u8]) {
    let mut carry = true;
    for byte in bytes {
        let (sum, overflow) = (!*byte).overflowing_add(u8::from(carry));
        *byte = sum;
        carry = overflow;
    }
}

impl From<i64> for BigInt {
    fn from(value: i64) -> Self {
        BigInt {
            bytes: minimal(value.to_le_bytes().to_vec()),
        }
    }
}

impl fmt::Display for BigInt {
    /// Decimal like Python's `repr`, or `hex()` form for integers past Python's 4300-digit
    /// conversion limit (where Python's `repr` itself would raise).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bytes.len() > DECIMAL_DISPLAY_MAX_BYTES {
            f.write_str(&self.to_hex())
        } else {
            f.write_str(&self.to_decimal())
        }
    }
}

impl fmt::Debug for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BigInt({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_round_trips_through_bytes() {
        for text in [
            "0",
            "1",
            "-1",
            "127",
            "128",
            "-128",
            "-129",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775809",
            "1180591620717411303424",
            "-1267650600228229401496703205376",
            "340282366920938463463374607431768211456",
        ] {
            let big = BigInt::parse_decimal(text).unwrap();
            assert_eq!(big.to_decimal(), text, "bytes {:?}", big.signed_bytes_le());
        }
    }

    #[test]
    fn bytes_match_python_to_bytes() {
        // (2**70).to_bytes(9, 'little', signed=True) and -(2**70) likewise.
        let big = BigInt::parse_decimal("1180591620717411303424").unwrap();
        assert_eq!(big.signed_bytes_le(), &[0, 0, 0, 0, 0, 0, 0, 0, 0x40]);
        let big = BigInt::parse_decimal("-1180591620717411303424").unwrap();
        assert_eq!(big.signed_bytes_le(), &[0, 0, 0, 0, 0, 0, 0, 0, 0xc0]);
        assert_eq!(BigInt::from(255).signed_bytes_le(), &[0xff, 0]);
        assert_eq!(BigInt::from(-256).signed_bytes_le(), &[0, 0xff]);
        assert_eq!(BigInt::from(0).signed_bytes_le(), &[] as &[u8]);
    }

    #[test]
    fn i64_conversion_covers_the_edges() {
        for n in [0, 1, -1, i64::MAX, i64::MIN, 255, -256, 1 << 40] {
            assert_eq!(BigInt::from(n).to_i64(), Some(n));
            assert_eq!(BigInt::from(n).to_decimal(), n.to_string());
        }
        assert_eq!(
            BigInt::parse_decimal("9223372036854775808")
                .unwrap()
                .to_i64(),
            None
        );
    }

    #[test]
    fn integral_floats_convert_exactly() {
        let two_70 = BigInt::parse_decimal("1180591620717411303424").unwrap();
        assert_eq!(BigInt::from_integral_f64(2f64.powi(70)), Some(two_70));
        assert_eq!(
            BigInt::from_integral_f64(-2f64.powi(63)),
            Some(BigInt::from(i64::MIN))
        );
        assert_eq!(BigInt::from_integral_f64(-3.0), Some(BigInt::from(-3)));
        assert_eq!(BigInt::from_integral_f64(0.5), None);
        assert_eq!(BigInt::from_integral_f64(f64::NAN), None);
    }

    #[test]
    fn parse_rejects_junk_and_overlong_text() {
        for text in ["", "-", "1_0", " 1", "0x10", "1.0"] {
            assert_eq!(BigInt::parse_decimal(text), None, "{text:?}");
        }
        assert!(BigInt::parse_decimal(&"9".repeat(MAX_DECIMAL_DIGITS)).is_some());
        assert!(BigInt::parse_decimal(&"9".repeat(MAX_DECIMAL_DIGITS + 1)).is_none());
    }

    #[test]
    fn huge_values_display_in_hex() {
        let mut bytes = vec![0_u8; 4000];
        bytes.push(1);
        let big = BigInt::from_signed_bytes_le(&bytes);
        assert_eq!(big.to_string(), format!("0x1{}", "0".repeat(8000)));
        assert_eq!(BigInt::from(-255).to_hex(), "-0xff");
        assert!(
            (BigInt::parse_decimal("-1180591620717411303424")
                .unwrap()
                .to_f64()
                + 2f64.powi(70))
            .abs()
                < 1.0
        );
    }
}
