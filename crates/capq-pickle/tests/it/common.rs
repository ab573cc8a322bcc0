//! Helpers shared by the integration tests: exact value comparison, hex, and the fixture
//! file's value notation (described in `tests/fixtures/make_fixtures.py`).

use capq_pickle::{BigInt, PickleError, Value};

/// Structural equality in which floats compare by bits, so NaN equals itself and -0.0 differs
/// from 0.0.
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::List(x), Value::List(y))
        | (Value::Tuple(x), Value::Tuple(y))
        | (Value::Set(x), Value::Set(y))
        | (Value::FrozenSet(x), Value::FrozenSet(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Dict(x), Value::Dict(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
        }
        _ => a == b,
    }
}

pub fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// Parses one value from the fixture notation, consuming its tokens.
pub fn parse_value<'a>(tokens: &mut impl Iterator<Item = &'a str>) -> Value {
    let token = tokens.next().expect("value token");
    let (kind, rest) = token.split_at(1);
    let count = || rest.parse::<usize>().unwrap();
    let text = || rest.strip_prefix(':').unwrap();
    match kind {
        "N" => Value::None,
        "T" => Value::Bool(true),
        "F" => Value::Bool(false),
        "i" => match text().parse::<i64>() {
            Ok(small) => Value::Int(small),
            Err(_) => Value::BigInt(BigInt::parse_decimal(text()).unwrap()),
        },
        "f" => Value::Float(f64::from_be_bytes(unhex(text()).try_into().unwrap())),
        "s" => Value::Str(String::from_utf8(unhex(text())).unwrap()),
        "b" => Value::Bytes(unhex(text())),
        "L" => Value::List((0..count()).map(|_| parse_value(tokens)).collect()),
        "U" => Value::Tuple((0..count()).map(|_| parse_value(tokens)).collect()),
        "S" => Value::Set((0..count()).map(|_| parse_value(tokens)).collect()),
        "Z" => Value::FrozenSet((0..count()).map(|_| parse_value(tokens)).collect()),
        "D" => Value::Dict(
            (0..count())
                .map(|_| (parse_value(tokens), parse_value(tokens)))
                .collect(),
        ),
        other => panic!("unknown token kind {other:?}"),
    }
}

/// The error style the crate promises: lowercase start, no trailing period, not empty.
pub fn assert_error_style(error: &PickleError) {
    let message = error.to_string();
    let first = message.chars().next().expect("empty error message");
    assert!(!first.is_uppercase(), "error starts uppercase: {message}");
    assert!(
        !message.ends_with('.'),
        "error ends with a period: {message}"
    );
}
