//! The processed-day CSV: its header, number formatting and the atomic write to disk.
//!
//! Decimals are printed as the shortest text that reads back to the same double (Python's
//! `repr`), with `.0` on whole numbers, so values survive a round trip exactly. A file is never
//! left half-written: output goes to a temporary file in the same folder, which is renamed into
//! place only once it is complete.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The output header, in column order.
pub const HEADER: &str = "vehicle_id,timestamp,speed,route_id,trip_id,latitude,longitude,\
trip_headsign,stop_lat,stop_lon,stop_id,sched_time,distance_to_stop,sched_dev,dayofweek,hourofday";

/// Appends a decimal: shortest round-trip digits, never an exponent, `.0` on whole numbers.
pub(crate) fn push_float(out: &mut Vec<u8>, value: f64) {
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format(value).as_bytes();
    if value.is_finite() && !text.contains(&b'e') {
        out.extend_from_slice(text);
        return;
    }
    // Very large or very small magnitudes: `Display` also prints shortest digits, but
    // positionally.
    let text = value.to_string();
    out.extend_from_slice(text.as_bytes());
    if value.is_finite() && !text.contains('.') {
        out.extend_from_slice(b".0");
    }
}

/// Appends an integer.
pub(crate) fn push_int(out: &mut Vec<u8>, value: impl itoa::Integer) {
    let mut buffer = itoa::Buffer::new();
    out.extend_from_slice(buffer.format(value).as_bytes());
}

/// Appends a text field, quoted only if it contains a comma, a quote or a line break.
pub(crate) fn push_text(out: &mut Vec<u8>, text: &str) {
    if !text
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    out.push(b'"');
    for byte in text.bytes() {
        if byte == b'"' {
            out.push(b'"');
        }
        out.push(byte);
    }
    out.push(b'"');
}

/// Writes `contents` to `path` atomically: to a temporary sibling first, then renamed.
/// Creates missing parent folders. On any error nothing is left at `path` or beside it.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let err = |source| Error::Write {
        file: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(err)?;
    }
    let temp = temp_path(path);
    let written = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(contents)?;
        file.sync_data()?;
        fs::rename(&temp, path)
    })();
    if let Err(source) = written {
        let _ = fs::remove_file(&temp);
        return Err(err(source));
    }
    Ok(())
}

fn temp_path(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(v: f64) -> String {
        let mut out = Vec::new();
        push_float(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_print_like_python_repr_without_exponents() {
        assert_eq!(float(0.0), "0.0");
        assert_eq!(float(12.96416), "12.96416");
        assert_eq!(float(-97.774315), "-97.774315");
        assert_eq!(float(30.0), "30.0");
        assert_eq!(float(0.0007000000000090267), "0.0007000000000090267");
        assert_eq!(float(1e-7), "0.0000001");
        assert_eq!(float(1e20), "100000000000000000000.0");
        for v in [1e-7, 3.3e-12, 123456.789, 1e22, 0.1 + 0.2] {
            assert_eq!(float(v).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn text_is_quoted_only_when_needed() {
        let mut out = Vec::new();
        push_text(&mut out, "1-Metric/South Congress-SB");
        out.push(b'|');
        push_text(&mut out, "A, \"B\"");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1-Metric/South Congress-SB|\"A, \"\"B\"\"\""
        );
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("capmetrics-out-{}", std::process::id()));
        let path = dir.join("nested/day.csv");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "only the output remains");
        // A folder in the way of the output: an error, and nothing left behind.
        let blocked = dir.join("blocked");
        fs::create_dir_all(blocked.join("x")).unwrap();
        assert!(write_atomically(&blocked, b"z").is_err());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
        fs::remove_dir_all(&dir).unwrap();
    }
}
