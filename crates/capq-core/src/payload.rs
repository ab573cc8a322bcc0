//! A job's `data` field: what to call, with which arguments.
//!
//! RQ stores `zlib.compress(serializer.dumps((func_name, instance, args, kwargs)))`, pickle by
//! default and JSON with `JSONSerializer`; readers fall back to the raw bytes when the data is
//! not compressed. Decoding is defensive: sizes are capped before and after decompression, the
//! pickle reader accepts built-in values only and never executes anything, and every way the
//! data can be wrong becomes a [`PayloadError`] that fails the job with a clear message.
//!
//! A zlib header is only two bytes and some raw payloads match it by chance (a protocol-0
//! pickle opening with `(S`), so data whose zlib stream is broken is still tried as raw data;
//! only when that fails too is the job told that its zlib data is truncated or corrupt, which is
//! what broken data with a zlib header almost always is.

use std::io::Write;

use capq_pickle::Value;
use flate2::write::ZlibEncoder;
use flate2::{Compression, Decompress, FlushDecompress, Status};

/// The most `data` bytes a job may carry, compressed.
pub const MAX_DATA: usize = 1 << 20;
/// The most bytes `data` may decompress to.
pub const MAX_DECOMPRESSED: usize = 8 << 20;

/// How the client serialized the payload; results are written back the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serializer {
    Pickle,
    Json,
}

/// A decoded call: `func(*args, **kwargs)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub func: String,
    pub args: Vec<Value>,
    pub kwargs: Vec<(String, Value)>,
    pub serializer: Serializer,
}

/// Why a job's `data` cannot be run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PayloadError {
    #[error("job data is {size} bytes; the limit is {MAX_DATA}")]
    TooLarge { size: usize },
    #[error("job data decompresses to more than {MAX_DECOMPRESSED} bytes")]
    TooLargeDecompressed,
    #[error("job data is neither a pickle nor JSON: {0}")]
    Undecodable(String),
    #[error("job data is zlib-compressed, but {0}")]
    BadZlib(String),
    #[error("job data is not a (function, instance, args, kwargs) tuple: {0}")]
    Shape(String),
    #[error("job data calls a method of an object instance; only plain functions are supported")]
    Instance,
}

impl Call {
    /// Decodes a job's `data` field.
    pub fn decode(data: &[u8]) -> Result<Call, PayloadError> {
        if data.len() > MAX_DATA {
            return Err(PayloadError::TooLarge { size: data.len() });
        }
        match inflate(data)? {
            Inflated::Data(raw) => Call::decode_raw(&raw),
            Inflated::NotZlib => Call::decode_raw(data),
            // Raw data that merely looks like zlib decodes fine; otherwise the broken zlib
            // stream is the story, not the pickle opcode its first byte happens to be.
            Inflated::Broken(why) => Call::decode_raw(data).map_err(|_| PayloadError::BadZlib(why)),
        }
    }

    /// Decodes uncompressed data: JSON if it starts with `[`, else a pickle.
    fn decode_raw(raw: &[u8]) -> Result<Call, PayloadError> {
        let first = raw.iter().find(|b| !b.is_ascii_whitespace()).copied();
        let (value, serializer) = if first == Some(b'[') {
            let json: serde_json::Value = serde_json::from_slice(raw)
                .map_err(|e| PayloadError::Undecodable(format!("invalid JSON: {e}")))?;
            (from_json(&json), Serializer::Json)
        } else {
            let value =
                capq_pickle::loads(raw).map_err(|e| PayloadError::Undecodable(e.to_string()))?;
            (value, Serializer::Pickle)
        };
        Call::from_value(value, serializer)
    }

    fn from_value(value: Value, serializer: Serializer) -> Result<Call, PayloadError> {
        let items = match value {
            Value::Tuple(items) | Value::List(items) => items,
            other => return Err(PayloadError::Shape(format!("got {}", other.type_name()))),
        };
        let [func, instance, args, kwargs]: [Value; 4] =
            items.try_into().map_err(|items: Vec<Value>| {
                PayloadError::Shape(format!("{} elements instead of 4", items.len()))
            })?;
        let func = match func {
            Value::Str(name) if !name.is_empty() => name,
            other => {
                return Err(PayloadError::Shape(format!(
                    "the function name is {}",
                    other.type_name()
                )));
            }
        };
        if instance != Value::None {
            return Err(PayloadError::Instance);
        }
        let args = match args {
            Value::Tuple(args) | Value::List(args) => args,
            other => {
                return Err(PayloadError::Shape(format!(
                    "args is {}, not a tuple",
                    other.type_name()
                )));
            }
        };
        let kwargs = match kwargs {
            Value::Dict(pairs) => pairs
                .into_iter()
                .map(|(key, value)| match key {
                    Value::Str(name) => Ok((name, value)),
                    other => Err(PayloadError::Shape(format!(
                        "a keyword argument name is {}",
                        other.type_name()
                    ))),
                })
                .collect::<Result<_, _>>()?,
            other => {
                return Err(PayloadError::Shape(format!(
                    "kwargs is {}, not a dict",
                    other.type_name()
                )));
            }
        };
        Ok(Call {
            func,
            args,
            kwargs,
            serializer,
        })
    }

    /// Encodes the call as RQ's default client would (zlib over a pickle), so Python `rq` and
    /// rq-dashboard can read jobs that capq enqueues.
    pub fn encode(&self) -> Vec<u8> {
        let kwargs = self
            .kwargs
            .iter()
            .map(|(k, v)| (Value::Str(k.clone()), v.clone()))
            .collect();
        let tuple = Value::Tuple(vec![
            Value::Str(self.func.clone()),
            Value::None,
            Value::Tuple(self.args.clone()),
            Value::Dict(kwargs),
        ]);
        let serialized = match self.serializer {
            Serializer::Pickle => capq_pickle::dumps(&tuple),
            Serializer::Json => to_json(&tuple).to_string().into_bytes(),
        };
        compress(&serialized)
    }

    /// The call as Python would print it, which RQ shows as a job's description:
    /// `capq.process_day('2016-11-24', 's3://b/out/')`.
    pub fn call_string(&self) -> String {
        let mut parts: Vec<String> = self.args.iter().map(ToString::to_string).collect();
        parts.extend(self.kwargs.iter().map(|(k, v)| format!("{k}={v}")));
        format!("{}({})", self.func, parts.join(", "))
    }
}

/// Serializes a task's return value the way the job's client serialized its call.
pub fn encode_value(value: &Value, serializer: Serializer) -> Vec<u8> {
    match serializer {
        Serializer::Pickle => capq_pickle::dumps(value),
        Serializer::Json => to_json(value).to_string().into_bytes(),
    }
}

/// zlib-compresses bytes (job data, exception text in result streams).
pub fn compress(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(
        Vec::with_capacity(bytes.len() / 2 + 16),
        Compression::default(),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// zlib-decompresses `data` if it is zlib; `Ok(None)` if it is not, or if its zlib stream is
/// broken (the caller then reads it as raw data).
pub fn decompress(data: &[u8]) -> Result<Option<Vec<u8>>, PayloadError> {
    match inflate(data)? {
        Inflated::Data(out) => Ok(Some(out)),
        Inflated::NotZlib | Inflated::Broken(_) => Ok(None),
    }
}

/// What zlib made of some data.
enum Inflated {
    Data(Vec<u8>),
    /// No zlib header.
    NotZlib,
    /// A zlib header, then a stream that is cut short or corrupt (why, for the message).
    Broken(String),
}

fn inflate(data: &[u8]) -> Result<Inflated, PayloadError> {
    // A zlib stream starts with a CMF byte for deflate (0x?8) whose 16-bit header is a
    // multiple of 31; anything else is raw data.
    let is_zlib = data.len() >= 2
        && data[0] & 0x0f == 8
        && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0;
    if !is_zlib {
        return Ok(Inflated::NotZlib);
    }
    // Driven by hand rather than through a `Read` adapter, so that a stream that stops before
    // its end (no final block, no checksum) is told apart from one that is complete.
    let mut inflater = Decompress::new(true);
    let mut out: Vec<u8> =
        Vec::with_capacity(data.len().saturating_mul(4).clamp(64, MAX_DECOMPRESSED + 1));
    loop {
        if out.len() == out.capacity() {
            if out.len() > MAX_DECOMPRESSED {
                return Err(PayloadError::TooLargeDecompressed);
            }
            out.reserve_exact(out.capacity().min(MAX_DECOMPRESSED + 1 - out.len()));
        }
        let consumed = inflater.total_in() as usize;
        let produced = out.len();
        let status = match inflater.decompress_vec(
            data.get(consumed..).unwrap_or_default(),
            &mut out,
            FlushDecompress::None,
        ) {
            Ok(status) => status,
            Err(e) => {
                return Ok(Inflated::Broken(format!(
                    "the zlib stream is corrupt ({e})"
                )));
            }
        };
        if out.len() > MAX_DECOMPRESSED {
            return Err(PayloadError::TooLargeDecompressed);
        }
        if status == Status::StreamEnd {
            return Ok(Inflated::Data(out));
        }
        if inflater.total_in() as usize == consumed && out.len() == produced {
            return Ok(Inflated::Broken(format!(
                "the zlib stream is truncated (its {} bytes end before the stream does)",
                data.len()
            )));
        }
    }
}

fn from_json(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::None,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(items) => Value::List(items.iter().map(from_json).collect()),
        serde_json::Value::Object(map) => Value::Dict(
            map.iter()
                .map(|(k, v)| (Value::Str(k.clone()), from_json(v)))
                .collect(),
        ),
    }
}

/// A value as JSON, the way Python's `json.dumps` would write it (tuples and sets as arrays,
/// bytes as latin-1 text, non-string keys as their text).
pub fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::None => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s.clone()),
        Value::Bytes(b) => J::String(b.iter().map(|&c| char::from(c)).collect()),
        Value::List(items) | Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
            J::Array(items.iter().map(to_json).collect())
        }
        Value::Dict(pairs) => J::Object(
            pairs
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().map_or_else(|| k.to_string(), str::to_owned),
                        to_json(v),
                    )
                })
                .collect(),
        ),
        other => J::String(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> Call {
        Call {
            func: "capq.process_day".into(),
            args: vec![
                Value::Str("2016-11-24".into()),
                Value::Str("s3://b/out/".into()),
            ],
            kwargs: vec![],
            serializer: Serializer::Pickle,
        }
    }

    #[test]
    fn encode_then_decode() {
        for serializer in [Serializer::Pickle, Serializer::Json] {
            let call = Call {
                serializer,
                ..call()
            };
            assert_eq!(Call::decode(&call.encode()), Ok(call.clone()));
        }
        assert_eq!(
            call().call_string(),
            "capq.process_day('2016-11-24', 's3://b/out/')"
        );
    }

    #[test]
    fn json_payload_as_rq_writes_it() {
        let data = compress(br#"["tasks.add", null, [1, 2], {"x": "y"}]"#);
        let call = Call::decode(&data).unwrap();
        assert_eq!(call.func, "tasks.add");
        assert_eq!(call.args, vec![Value::Int(1), Value::Int(2)]);
        assert_eq!(call.kwargs, vec![("x".to_owned(), Value::Str("y".into()))]);
        assert_eq!(call.serializer, Serializer::Json);
        // Uncompressed data is accepted too.
        assert!(Call::decode(br#"["tasks.add", null, [], {}]"#).is_ok());
    }

    #[test]
    fn bad_payloads_are_errors() {
        assert!(matches!(
            Call::decode(b"garbage"),
            Err(PayloadError::Undecodable(_))
        ));
        assert!(matches!(
            Call::decode(&compress(b"\x80\x05garbage")),
            Err(PayloadError::Undecodable(_))
        ));
        assert!(matches!(
            Call::decode(&vec![b'x'; MAX_DATA + 1]),
            Err(PayloadError::TooLarge { .. })
        ));
        assert!(matches!(
            Call::decode(&compress(&vec![b' '; MAX_DECOMPRESSED + 10])),
            Err(PayloadError::TooLargeDecompressed)
        ));
        assert!(matches!(
            Call::decode(br#"["f", null, []]"#),
            Err(PayloadError::Shape(_))
        ));
        assert!(matches!(
            Call::decode(br#"["f", {"self": 1}, [], {}]"#),
            Err(PayloadError::Instance)
        ));
        assert!(matches!(
            Call::decode(br#"[5, null, [], {}]"#),
            Err(PayloadError::Shape(_))
        ));
        assert!(matches!(
            Call::decode(br#"["f", null, 3, {}]"#),
            Err(PayloadError::Shape(_))
        ));
    }

    #[test]
    fn truncated_or_corrupt_zlib_says_so() {
        let data = call().encode();
        for cut in [data.len() - 1, data.len() - 5, data.len() / 2, 3] {
            let err = Call::decode(&data[..cut]).unwrap_err();
            assert!(matches!(err, PayloadError::BadZlib(_)), "{cut}: {err:?}");
            let message = err.to_string();
            assert!(
                message.contains("zlib") && message.contains("truncated"),
                "{cut}: {message}"
            );
            assert!(!message.contains("opcode"), "{message}");
        }
        let mut corrupt = data.clone();
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0xff; // the checksum
        let message = Call::decode(&corrupt).unwrap_err().to_string();
        assert!(message.contains("zlib stream is corrupt"), "{message}");
        assert!(matches!(decompress(&data[..data.len() / 2]), Ok(None)));
    }

    #[test]
    fn raw_data_that_only_looks_like_zlib_still_decodes() {
        // A protocol-0 pickle opening with `(S` has a valid zlib header by chance.
        let raw = b"(S'capq.noop'\nN(t(dt.";
        assert_eq!((u16::from(raw[0]) << 8 | u16::from(raw[1])) % 31, 0);
        let call = Call::decode(raw).unwrap();
        assert_eq!(call.func, "capq.noop");
    }
}
