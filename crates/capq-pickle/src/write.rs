//! The protocol 2 writer behind [`crate::dumps`].
//!
//! Protocol 2 is the newest one Python 2 reads and every Python 3 reads, and it is simple: no
//! frames, no memo needed for trees. The output is byte for byte what CPython 3.11's pickler
//! writes for the same value at protocol 2 with its memo off (`Pickler.fast = True`), which the
//! fixture tests check: ints in the smallest of BININT1/BININT2/BININT/LONG1/LONG4, BINFLOAT,
//! BINUNICODE, lists and dicts in batches of 1000 (a lone item uses APPEND/SETITEM), and
//! `bytes`, `set` and `frozenset` through the same REDUCE calls Python uses at this protocol
//! (`_codecs.encode(text, 'latin1')` for bytes, so Python 3 reads back `bytes`, not `str`).
//!
//! Strings over 4 GiB do not fit BINUNICODE; for them BINUNICODE8 is written, which Python 3.4+
//! reads at any protocol. Sets are written as given: duplicates or unhashable items are the
//! caller's to avoid.

use crate::opcodes as op;
use crate::value::Value;

/// Python's pickler batch size for APPENDS and SETITEMS.
const BATCH: usize = 1000;

pub(crate) fn dumps(value: &Value) -> Vec<u8> {
    let mut out = vec![op::PROTO, 2];
    write_value(&mut out, value);
    out.push(op::STOP);
    out
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::None => out.push(op::NONE),
        Value::Bool(true) => out.push(op::NEWTRUE),
        Value::Bool(false) => out.push(op::NEWFALSE),
        Value::Int(value) => write_int(out, *value),
        Value::BigInt(value) => write_long(out, value.signed_bytes_le()),
        Value::Float(value) => {
            out.push(op::BINFLOAT);
            out.extend_from_slice(&value.to_be_bytes());
        }
        Value::Str(text) => write_text(out, text),
        Value::Bytes(bytes) => {
            if bytes.is_empty() {
                // Python writes `bytes()` for empty bytes.
                write_global(out, "__builtin__", "bytes");
                out.push(op::EMPTY_TUPLE);
            } else {
                write_global(out, "_codecs", "encode");
                let latin1: String = bytes.iter().map(|byte| char::from(*byte)).collect();
                write_text(out, &latin1);
                write_text(out, "latin1");
                out.push(op::TUPLE2);
            }
            out.push(op::REDUCE);
        }
        Value::Tuple(items) => match items.as_slice() {
            [] => out.push(op::EMPTY_TUPLE),
            [a] => {
                write_value(out, a);
                out.push(op::TUPLE1);
            }
            [a, b] => {
                write_value(out, a);
                write_value(out, b);
                out.push(op::TUPLE2);
            }
            [a, b, c] => {
                write_value(out, a);
                write_value(out, b);
                write_value(out, c);
                out.push(op::TUPLE3);
            }
            _ => {
                out.push(op::MARK);
                for item in items {
                    write_value(out, item);
                }
                out.push(op::TUPLE);
            }
        },
        Value::List(items) => write_list(out, items),
        Value::Dict(pairs) => {
            out.push(op::EMPTY_DICT);
            if let [(key, value)] = pairs.as_slice() {
                write_value(out, key);
                write_value(out, value);
                out.push(op::SETITEM);
            } else {
                for batch in pairs.chunks(BATCH) {
                    out.push(op::MARK);
                    for (key, value) in batch {
                        write_value(out, key);
                        write_value(out, value);
                    }
                    out.push(op::SETITEMS);
                }
            }
        }
        Value::Set(items) | Value::FrozenSet(items) => {
            let name = if matches!(value, Value::Set(_)) {
                "set"
            } else {
                "frozenset"
            };
            write_global(out, "__builtin__", name);
            write_list(out, items);
            out.push(op::TUPLE1);
            out.push(op::REDUCE);
        }
    }
}

fn write_int(out: &mut Vec<u8>, value: i64) {
    if let Ok(small) = u8::try_from(value) {
        out.push(op::BININT1);
        out.push(small);
    } else if let Ok(small) = u16::try_from(value) {
        out.push(op::BININT2);
        out.extend_from_slice(&small.to_le_bytes());
    } else if let Ok(small) = i32::try_from(value) {
        out.push(op::BININT);
        out.extend_from_slice(&small.to_le_bytes());
    } else {
        write_long(out, crate::BigInt::from(value).signed_bytes_le());
    }
}

/// LONG1 for up to 255 bytes, LONG4 beyond.
fn write_long(out: &mut Vec<u8>, bytes: &[u8]) {
    match u8::try_from(bytes.len()) {
        Ok(length) => {
            out.push(op::LONG1);
            out.push(length);
        }
        Err(_) => {
            out.push(op::LONG4);
            // A pickle cannot hold an integer of 2 GiB anyway; saturating keeps this total.
            let length = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
            out.extend_from_slice(&length.to_le_bytes());
        }
    }
    out.extend_from_slice(bytes);
}

fn write_text(out: &mut Vec<u8>, text: &str) {
    match u32::try_from(text.len()) {
        Ok(length) => {
            out.push(op::BINUNICODE);
            out.extend_from_slice(&length.to_le_bytes());
        }
        Err(_) => {
            out.push(op::BINUNICODE8);
            out.extend_from_slice(&(text.len() as u64).to_le_bytes());
        }
    }
    out.extend_from_slice(text.as_bytes());
}

fn write_list(out: &mut Vec<u8>, items: &[Value]) {
    out.push(op::EMPTY_LIST);
    if let [item] = items {
        write_value(out, item);
        out.push(op::APPEND);
        return;
    }
    for batch in items.chunks(BATCH) {
        out.push(op::MARK);
        for item in batch {
            write_value(out, item);
        }
        out.push(op::APPENDS);
    }
}

/// Protocol 2 names Python 3's `builtins` `__builtin__`, so Python 2 can read it too.
fn write_global(out: &mut Vec<u8>, module: &str, name: &str) {
    out.push(op::GLOBAL);
    out.extend_from_slice(module.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(name.as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_match_python_bytes() {
        // Each expected string is CPython 3.11's `pickle.dumps(v, 2)` with the memo off.
        let cases: [(Value, &[u8]); 8] = [
            (Value::None, b"\x80\x02N."),
            (Value::Int(-1), b"\x80\x02J\xff\xff\xff\xff."),
            (
                Value::Int(1 << 31),
                b"\x80\x02\x8a\x05\x00\x00\x00\x80\x00.",
            ),
            (Value::Int(300), b"\x80\x02M,\x01."),
            (Value::Bytes(vec![]), b"\x80\x02c__builtin__\nbytes\n)R."),
            (
                Value::Bytes(b"ab".to_vec()),
                b"\x80\x02c_codecs\nencode\nX\x02\x00\x00\x00abX\x06\x00\x00\x00latin1\x86R.",
            ),
            (Value::Set(vec![]), b"\x80\x02c__builtin__\nset\n]\x85R."),
            (
                Value::FrozenSet(vec![Value::Int(1)]),
                b"\x80\x02c__builtin__\nfrozenset\n]K\x01a\x85R.",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(dumps(&value), expected, "{value}");
        }
    }

    #[test]
    fn lists_batch_like_python() {
        let list = Value::List(vec![Value::Int(1); 1001]);
        let bytes = dumps(&list);
        assert!(bytes.starts_with(b"\x80\x02](K\x01"));
        assert!(bytes.ends_with(b"K\x01e(K\x01e."));
        assert_eq!(bytes.iter().filter(|b| **b == op::APPENDS).count(), 2);
    }
}
