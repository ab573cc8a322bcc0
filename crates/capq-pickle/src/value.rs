//! [`Value`]: the built-in Python values a pickle may hold, with accessors and a `Display`
//! that writes them the way Python's `repr` does.
//!
//! The worker reads job tuples `(func_name, instance, args, kwargs)` through the accessors, and
//! RQ shows a job as a call string like `tasks.f('2016-11-24', 1)`, so `Display` follows
//! `repr`: quote choice and escapes for `str` and `bytes`, shortest round-trip floats with
//! Python's switch to exponent form, `(x,)` for one-item tuples, `set()` for an empty set.
//! Deciding whether a non-ASCII character is printable needs Unicode tables; the
//! approximation here escapes controls, separators other than space, private-use and common
//! format characters, so it differs from Python only for unassigned code points.

use std::fmt::{self, Write as _};

use crate::bigint::BigInt;

/// A decoded Python value. Containers keep Python's order: insertion order for dicts, and for
/// sets the order the pickle lists them (Python's own set order depends on hashing).
/// `bytearray` reads as `Bytes`, and Python 2 `str` as `Str` when it is valid UTF-8.
///
/// Equality is structural, so `Int(1) != Float(1.0)` and NaN differs from itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer outside `i64` (the reader never uses this for one that fits).
    BigInt(BigInt),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// Key-value pairs in insertion order, keys distinct.
    Dict(Vec<(Value, Value)>),
    Set(Vec<Value>),
    FrozenSet(Vec<Value>),
}

impl Value {
    /// The Python type name, for messages such as "expected str, got int".
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::Set(_) => "set",
            Value::FrozenSet(_) => "frozenset",
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(bytes) => Some(bytes),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(value) => Some(*value),
            _ => None,
        }
    }

    /// An `int` that fits `i64`. `bool` is not accepted: a `True` timeout is a mistake to
    /// report, not a 1.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(value) => Some(*value),
            Value::BigInt(value) => value.to_i64(),
            _ => None,
        }
    }

    /// A `float`, or an `int` converted (rounding past 2^53, as Python's `float(n)` does).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(value) => Some(*value),
            // Rounding to the nearest float is the point here.
            Value::Int(value) => Some(*value as f64),
            Value::BigInt(value) => Some(value.to_f64()),
            _ => None,
        }
    }

    /// The items of a list or tuple, which Python callers use interchangeably for `args`.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) | Value::Tuple(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_tuple(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_dict(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Dict(pairs) => Some(pairs),
            _ => None,
        }
    }

    /// Looks up a `str` key in a dict (such as a job's kwargs); `None` for other values.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_dict()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Bool(value)
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Value::Int(value)
    }
}

/// Uses `Int` when the integer fits `i64`, as the reader does.
impl From<BigInt> for Value {
    fn from(value: BigInt) -> Self {
        match value.to_i64() {
            Some(small) => Value::Int(small),
            None => Value::BigInt(value),
        }
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Value::Float(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::Str(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::Str(value)
    }
}

impl From<Vec<u8>> for Value {
    fn from(value: Vec<u8>) -> Self {
        Value::Bytes(value)
    }
}

impl From<&[u8]> for Value {
    fn from(value: &[u8]) -> Self {
        Value::Bytes(value.to_vec())
    }
}

impl fmt::Display for Value {
    /// Python's `repr` of the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(value) => write!(f, "{value}"),
            Value::BigInt(value) => write!(f, "{value}"),
            Value::Float(value) => f.write_str(&float_repr(*value)),
            Value::Str(text) => write_str_repr(f, text),
            Value::Bytes(bytes) => write_bytes_repr(f, bytes),
            Value::List(items) => write_items(f, "[", items, "]"),
            Value::Tuple(items) if items.len() == 1 => write_items(f, "(", items, ",)"),
            Value::Tuple(items) => write_items(f, "(", items, ")"),
            Value::Dict(pairs) => {
                f.write_char('{')?;
                for (index, (key, value)) in pairs.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{key}: {value}")?;
                }
                f.write_char('}')
            }
            Value::Set(items) if items.is_empty() => f.write_str("set()"),
            Value::Set(items) => write_items(f, "{", items, "}"),
            Value::FrozenSet(items) if items.is_empty() => f.write_str("frozenset()"),
            Value::FrozenSet(items) => write_items(f, "frozenset({", items, "})"),
        }
    }
}

fn write_items(
    f: &mut fmt::Formatter<'_>,
    open: &str,
    items: &[Value],
    close: &str,
) -> fmt::Result {
    f.write_str(open)?;
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    f.write_str(close)
}

/// Python's `repr(float)`: the shortest text that reads back as the same float, in fixed
/// notation when the decimal exponent is from -4 to 15 and exponent notation otherwise.
pub(crate) fn float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    // Rust's `{:e}` gives the same shortest round-trip digits as Python's repr.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let count = digits.len() as i64;
    let mut out = String::from(sign);
    if (-4..16).contains(&exponent) {
        // The decimal point goes after `exponent + 1` digits.
        let point = exponent + 1;
        if point <= 0 {
            out.push_str("0.");
            out.push_str(&"0".repeat(point.unsigned_abs() as usize));
            out.push_str(&digits);
        } else if point >= count {
            out.push_str(&digits);
            out.push_str(&"0".repeat((point - count) as usize));
            out.push_str(".0");
        } else {
            let (whole, fraction) = digits.split_at(point as usize);
            out.push_str(whole);
            out.push('.');
            out.push_str(fraction);
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{exponent_sign}{:02}", exponent.unsigned_abs());
    }
    out
}

/// Python's quote choice: single quotes unless the text has a single quote and no double one.
fn pick_quote(has_single: bool, has_double: bool) -> char {
    if has_single && !has_double { '"' } else { '\'' }
}

fn write_str_repr(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    let quote = pick_quote(text.contains('\''), text.contains('"'));
    f.write_char(quote)?;
    for c in text.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\t' => f.write_str("\\t")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            c if c == quote => write!(f, "\\{c}")?,
            c if c < ' ' || c == '\x7f' => write!(f, "\\x{:02x}", u32::from(c))?,
            c if c.is_ascii() || is_printable(c) => f.write_char(c)?,
            c if u32::from(c) <= 0xff => write!(f, "\\x{:02x}", u32::from(c))?,
            c if u32::from(c) <= 0xffff => write!(f, "\\u{:04x}", u32::from(c))?,
            c => write!(f, "\\U{:08x}", u32::from(c))?,
        }
    }
    f.write_char(quote)
}

fn write_bytes_repr(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    let quote = pick_quote(bytes.contains(&b'\''), bytes.contains(&b'"'));
    f.write_char('b')?;
    f.write_char(quote)?;
    for &byte in bytes {
        match byte {
            b'\\' => f.write_str("\\\\")?,
            b'\t' => f.write_str("\\t")?,
            b'\n' => f.write_str("\\n")?,
            b'\r' => f.write_str("\\r")?,
            b if char::from(b) == quote => write!(f, "\\{quote}")?,
            0x20..=0x7e => f.write_char(char::from(byte))?,
            _ => write!(f, "\\x{byte:02x}")?,
        }
    }
    f.write_char(quote)
}

/// An approximation of Python's `str.isprintable` for one non-ASCII character (see the module
/// notes): false for controls, separators, private use, noncharacters and format characters.
fn is_printable(c: char) -> bool {
    let code = u32::from(c);
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let private_use = matches!(code, 0xe000..=0xf8ff | 0xf0000..=0x10ffff);
    let noncharacter = matches!(code, 0xfdd0..=0xfdef) || code & 0xfffe == 0xfffe;
    let format = matches!(
        code,
        0xad | 0x600..=0x605
            | 0x61c
            | 0x6dd
            | 0x70f
            | 0x890..=0x891
            | 0x8e2
            | 0x180e
            | 0x200b..=0x200f
            | 0x202a..=0x202e
            | 0x2060..=0x2064
            | 0x2066..=0x206f
            | 0xfeff
            | 0xfff9..=0xfffb
            | 0x110bd
            | 0x110cd
            | 0x13430..=0x1343f
            | 0x1bca0..=0x1bca3
            | 0x1d173..=0x1d17a
            | 0xe0001
            | 0xe0020..=0xe007f
    );
    !(private_use || noncharacter || format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_repr_like_python() {
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456.789, "123456.789"),
            (1e300, "1e+300"),
            (5e-324, "5e-324"),
            (-2.5e-7, "-2.5e-07"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ];
        for (value, expected) in cases {
            assert_eq!(float_repr(value), expected, "{value:?}");
        }
    }

    #[test]
    fn strings_repr_like_python() {
        let cases = [
            ("abc", "'abc'"),
            ("it's", "\"it's\""),
            ("say \"hi\"", "'say \"hi\"'"),
            ("both ' \"", "'both \\' \"'"),
            ("tab\tnl\n\\", "'tab\\tnl\\n\\\\'"),
            ("\u{0}\u{7f}\u{80}\u{a0}é", "'\\x00\\x7f\\x80\\xa0é'"),
            ("€😀\u{200b}\u{e000}", "'€😀\\u200b\\ue000'"),
            ("\u{f0000}", "'\\U000f0000'"),
        ];
        for (text, expected) in cases {
            assert_eq!(Value::from(text).to_string(), expected);
        }
    }

    #[test]
    fn bytes_repr_like_python() {
        assert_eq!(
            Value::from(&b"a'\x00\xff\\"[..]).to_string(),
            "b\"a'\\x00\\xff\\\\\""
        );
        assert_eq!(Value::from(&b"plain"[..]).to_string(), "b'plain'");
    }

    #[test]
    fn containers_repr_like_python() {
        let job = Value::Tuple(vec![
            "tasks.process_day_to_s3".into(),
            Value::None,
            Value::Tuple(vec!["2016-11-24".into(), "bucket".into(), "key".into()]),
            Value::Dict(vec![]),
        ]);
        assert_eq!(
            job.to_string(),
            "('tasks.process_day_to_s3', None, ('2016-11-24', 'bucket', 'key'), {})"
        );
        assert_eq!(Value::Tuple(vec![1.into()]).to_string(), "(1,)");
        assert_eq!(Value::Tuple(vec![]).to_string(), "()");
        assert_eq!(Value::Set(vec![]).to_string(), "set()");
        assert_eq!(Value::Set(vec![1.into(), 2.into()]).to_string(), "{1, 2}");
        assert_eq!(Value::FrozenSet(vec![]).to_string(), "frozenset()");
        assert_eq!(
            Value::FrozenSet(vec![true.into()]).to_string(),
            "frozenset({True})"
        );
        let dict = Value::Dict(vec![(
            "a".into(),
            Value::List(vec![Value::None, 1.5.into()]),
        )]);
        assert_eq!(dict.to_string(), "{'a': [None, 1.5]}");
    }

    #[test]
    fn accessors_check_types() {
        let kwargs = Value::Dict(vec![("timeout".into(), 30.into()), (1.into(), "x".into())]);
        assert_eq!(kwargs.get("timeout").and_then(Value::as_i64), Some(30));
        assert_eq!(kwargs.get("missing"), None);
        assert_eq!(Value::Int(3).as_f64(), Some(3.0));
        assert_eq!(Value::Bool(true).as_i64(), None);
        assert_eq!(Value::Str("x".into()).as_i64(), None);
        assert_eq!(Value::Tuple(vec![]).as_seq(), Some(&[][..]));
        assert_eq!(Value::List(vec![]).as_tuple(), None);
        assert_eq!(Value::None.type_name(), "NoneType");
        assert_eq!(Value::FrozenSet(vec![]).type_name(), "frozenset");
        assert_eq!(Value::from(BigInt::from(5)), Value::Int(5));
    }
}
