//! Job-provided values made readable: arguments, return values and `meta`, decoded with the
//! job's own serializer (pickle or JSON), shown as Python would print them, and the
//! `process_day` result dict recognised so the job page can show rows in, rows out and rows
//! dropped per reason. Every string here is still untrusted: the templates escape it.

use capq_core::payload::{Call, Serializer, to_json};
use capq_pickle::Value;
use capq_redis::{JobInfo, ResultEntry};
use serde::Serialize;

use crate::format;

/// The result of a day's processing (`capq.process_day`, `tasks.process_day_to_s3`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayResult {
    pub day: Option<String>,
    pub output: Option<String>,
    pub rows_in: u64,
    pub rows_out: u64,
    /// Rows dropped per reason, as the task reported them.
    pub dropped: Vec<(String, u64)>,
    pub seconds: Option<f64>,
}

/// A decoded return value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReturnValue {
    /// As Python's `repr` (pickle) or as JSON text.
    pub text: String,
    /// The value as JSON.
    pub json: serde_json::Value,
    /// Set when the value is a day's processing result.
    pub day: Option<DayResult>,
}

/// The serializer of a job's payload: its call's, else pickle (RQ's default).
pub fn serializer(job: &JobInfo) -> Serializer {
    match &job.call {
        Some(Ok(call)) => call.serializer,
        _ => Serializer::Pickle,
    }
}

fn decode(
    bytes: &[u8],
    serializer: Serializer,
) -> Result<(String, serde_json::Value, Option<Value>), String> {
    // A pickle starts with PROTO (0x80) from protocol 2 on; anything else is tried as JSON
    // first when the job says JSON.
    let pickled = bytes.first() == Some(&0x80);
    if serializer == Serializer::Json && !pickled {
        let json: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        return Ok((json.to_string(), json, None));
    }
    let value = capq_pickle::loads(bytes).map_err(|e| e.to_string())?;
    Ok((value.to_string(), to_json(&value), Some(value)))
}

/// Decodes a serialized return value.
pub fn return_value(bytes: &[u8], serializer: Serializer) -> Result<ReturnValue, String> {
    let (text, json, value) = decode(bytes, serializer)?;
    let day = match &value {
        Some(value) => day_result_of_value(value),
        None => day_result_of_json(&json),
    };
    Ok(ReturnValue { text, json, day })
}

fn day_result_of_value(value: &Value) -> Option<DayResult> {
    let count = |name: &str| {
        value
            .get(name)
            .and_then(Value::as_i64)
            .map(|n| n.max(0) as u64)
    };
    let (rows_in, rows_out) = (count("rows_in")?, count("rows_out")?);
    let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    let dropped = value
        .get("dropped")
        .and_then(Value::as_dict)
        .map(|pairs| {
            pairs
                .iter()
                .map(|(reason, n)| {
                    let reason = reason
                        .as_str()
                        .map_or_else(|| reason.to_string(), str::to_owned);
                    (reason, n.as_i64().unwrap_or(0).max(0) as u64)
                })
                .collect()
        })
        .unwrap_or_default();
    Some(DayResult {
        day: text("day"),
        output: text("output"),
        rows_in,
        rows_out,
        dropped,
        seconds: value.get("seconds").and_then(Value::as_f64),
    })
}

fn day_result_of_json(json: &serde_json::Value) -> Option<DayResult> {
    let count = |name: &str| json.get(name).and_then(serde_json::Value::as_u64);
    let text = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    Some(DayResult {
        rows_in: count("rows_in")?,
        rows_out: count("rows_out")?,
        day: text("day"),
        output: text("output"),
        dropped: json
            .get("dropped")
            .and_then(serde_json::Value::as_object)
            .map(|map| {
                map.iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default(),
        seconds: json.get("seconds").and_then(serde_json::Value::as_f64),
    })
}

/// One line for lists: `12,345 → 6,789 rows` for a day, else the value, cut short.
pub fn summary(value: &ReturnValue) -> String {
    match &value.day {
        Some(day) => format!(
            "{} → {} rows",
            format::count(day.rows_in),
            format::count(day.rows_out)
        ),
        None => format::truncate(&value.text, 80),
    }
}

/// The latest result's return value of a job, decoded, if it has one.
pub fn latest_return_value(job: &JobInfo) -> Option<Result<ReturnValue, String>> {
    let bytes = job.latest.as_ref()?.return_value.as_ref()?;
    Some(return_value(bytes, serializer(job)))
}

/// A job's `meta` field (a serialized dict, not compressed), as JSON.
pub fn meta(job: &JobInfo) -> Option<serde_json::Value> {
    let (_, bytes) = job.fields.iter().find(|(name, _)| name == "meta")?;
    if bytes.is_empty() {
        return None;
    }
    Some(match decode(bytes, serializer(job)) {
        Ok((_, json, _)) => json,
        Err(error) => serde_json::json!({"undecodable": error}),
    })
}

/// The arguments of a call as Python would print them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arguments {
    pub function: String,
    pub args: Vec<String>,
    pub kwargs: Vec<(String, String)>,
    /// The arguments as JSON: `{"args": [...], "kwargs": {...}}`.
    pub json: serde_json::Value,
    pub serializer: &'static str,
}

pub fn arguments(call: &Call) -> Arguments {
    Arguments {
        function: call.func.clone(),
        args: call.args.iter().map(ToString::to_string).collect(),
        kwargs: call
            .kwargs
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect(),
        json: serde_json::json!({
            "args": call.args.iter().map(to_json).collect::<Vec<_>>(),
            "kwargs": call.kwargs.iter().map(|(k, v)| (k.clone(), to_json(v))).collect::<serde_json::Map<_, _>>(),
        }),
        serializer: match call.serializer {
            Serializer::Pickle => "pickle",
            Serializer::Json => "json",
        },
    }
}

/// The most bytes of a raw field shown as bytes; the page cuts longer text anyway.
const MAX_RAW_BYTES: usize = 2000;

/// A raw hash field as text for the job page: `exc_info` inflated (RQ stores it
/// zlib-compressed), other fields as they are when they are UTF-8 text, else written as Python
/// writes bytes (`b'\x80\x05…'`), so binary data (a legacy pickled `result`) reads as what it
/// is rather than as replacement characters.
pub fn field_text(name: &str, value: &[u8]) -> String {
    if name == "exc_info" {
        return capq_redis::queries::error_text(value);
    }
    if let Ok(text) = std::str::from_utf8(value) {
        return text.to_owned();
    }
    let mut text = String::from("b'");
    for &byte in value.iter().take(MAX_RAW_BYTES) {
        match byte {
            b'\\' => text.push_str("\\\\"),
            b'\'' => text.push_str("\\'"),
            0x20..=0x7e => text.push(char::from(byte)),
            _ => text.push_str(&format!("\\x{byte:02x}")),
        }
    }
    text.push('\'');
    if value.len() > MAX_RAW_BYTES {
        text.push_str(&format!(" … ({} bytes)", value.len()));
    }
    text
}

/// How a result-stream entry ended, in words.
pub fn result_kind(entry: &ResultEntry) -> &'static str {
    match entry.kind {
        1 => "finished",
        2 => "failed",
        3 => "stopped",
        4 => "retried",
        5 => "retries exhausted",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day_dict() -> Value {
        Value::Dict(vec![
            (Value::Str("day".into()), Value::Str("2016-11-24".into())),
            (
                Value::Str("output".into()),
                Value::Str("s3://b/out.csv".into()),
            ),
            (Value::Str("rows_in".into()), Value::Int(1200)),
            (Value::Str("rows_out".into()), Value::Int(1000)),
            (
                Value::Str("dropped".into()),
                Value::Dict(vec![(Value::Str("no_trip".into()), Value::Int(200))]),
            ),
            (Value::Str("seconds".into()), Value::Float(0.25)),
        ])
    }

    #[test]
    fn day_results_from_pickle_and_json() {
        let pickled = capq_pickle::dumps(&day_dict());
        let value = return_value(&pickled, Serializer::Pickle).expect("decodes");
        let day = value.day.clone().expect("a day result");
        assert_eq!(day.rows_in, 1200);
        assert_eq!(day.dropped, vec![("no_trip".to_owned(), 200)]);
        assert_eq!(day.output.as_deref(), Some("s3://b/out.csv"));
        assert_eq!(summary(&value), "1,200 → 1,000 rows");
        let json = to_json(&day_dict()).to_string();
        let from_json = return_value(json.as_bytes(), Serializer::Json).expect("decodes");
        assert_eq!(from_json.day, Some(day));
        let plain =
            return_value(&capq_pickle::dumps(&Value::Int(5)), Serializer::Pickle).expect("decodes");
        assert_eq!(plain.day, None);
        assert_eq!(summary(&plain), "5");
        assert!(return_value(b"\x80garbage", Serializer::Pickle).is_err());
    }

    #[test]
    fn raw_fields_read_as_text() {
        assert_eq!(field_text("status", b"failed"), "failed");
        assert_eq!(
            field_text("result", b"\x80\x05K\x05.'"),
            "b'\\x80\\x05K\\x05.\\''"
        );
        // RQ's zlib'd exc_info, here of nothing (what its requeue writes).
        assert_eq!(field_text("exc_info", b"x\x9c\x03\x00\x00\x00\x00\x01"), "");
        let long = field_text("result", &[0xff; 5000]);
        assert!(long.ends_with("… (5000 bytes)"), "{long:.40}");
    }
}
