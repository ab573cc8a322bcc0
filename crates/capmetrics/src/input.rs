//! One input file held in memory, already decompressed.
//!
//! Inputs arrive from local disk, S3 or HTTP, as `.csv` or `.csv.gz`. Whoever fetched the bytes
//! hands them here; gzip is recognised by its magic number, not by the file name, so a mislabelled
//! file still works. Days are a few megabytes, so reading a whole file at once is both the
//! simplest and the fastest way to parse it. Decompression stops at [`MAX_DECOMPRESSED`], so a
//! small gzip bomb cannot take the machine's memory.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The most bytes a gzip input may decompress to: hundreds of times a real day (3–10 MB) or
/// a year's schedule.
pub const MAX_DECOMPRESSED: u64 = 2 << 30;

/// The decompressed bytes of one CSV file, with the name used in error messages.
#[derive(Debug, Clone)]
pub struct Input {
    name: String,
    bytes: Vec<u8>,
}

impl Input {
    /// Wraps bytes fetched from anywhere, decompressing them if they are gzip.
    pub fn from_bytes(name: impl Into<String>, raw: Vec<u8>) -> Result<Input> {
        Input::decompressed_within(name.into(), raw, MAX_DECOMPRESSED)
    }

    fn decompressed_within(name: String, raw: Vec<u8>, limit: u64) -> Result<Input> {
        if !raw.starts_with(&GZIP_MAGIC) {
            return Ok(Input { name, bytes: raw });
        }
        // Uncompressed CSV is typically 5–10× the gzip size.
        let expected = raw.len().saturating_mul(8).min(limit as usize);
        let mut bytes = Vec::with_capacity(expected);
        let mut decoder = MultiGzDecoder::new(raw.as_slice()).take(limit + 1);
        match decoder.read_to_end(&mut bytes) {
            Ok(_) if bytes.len() as u64 > limit => Err(Error::TooLarge { file: name, limit }),
            Ok(_) => Ok(Input { name, bytes }),
            Err(e) => Err(Error::Gzip {
                file: name,
                detail: e.to_string(),
            }),
        }
    }

    /// Reads a local file, decompressing it if it is gzip.
    pub fn read(path: &Path) -> Result<Input> {
        let name = path.display().to_string();
        match std::fs::read(path) {
            Ok(raw) => Input::from_bytes(name, raw),
            Err(cause) => Err(Error::Read { file: name, cause }),
        }
    }

    /// The name used in error messages (a path or URL).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The decompressed content.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn plain_and_gzip_inputs_read_the_same() {
        let text = b"a,b\n1,2\n".repeat(1000);
        let plain = Input::from_bytes("x.csv", text.clone()).unwrap();
        let packed = Input::from_bytes("x.csv.gz", gzip(&text)).unwrap();
        assert_eq!(plain.bytes(), packed.bytes());
    }

    #[test]
    fn truncated_gzip_names_the_file() {
        let packed = gzip(&b"a,b\n1,2\n".repeat(1000));
        let cut = packed[..packed.len() / 2].to_vec();
        let err = Input::from_bytes("day.csv.gz", cut).unwrap_err();
        assert!(matches!(err, Error::Gzip { .. }));
        assert!(err.to_string().contains("day.csv.gz"), "{err}");
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        let packed = gzip(&vec![0u8; 1 << 20]);
        let err =
            Input::decompressed_within("bomb.csv.gz".into(), packed.clone(), 1000).unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { limit: 1000, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("bomb.csv.gz"), "{err}");
        let within = Input::decompressed_within("ok.csv.gz".into(), packed, 1 << 20).unwrap();
        assert_eq!(within.bytes().len(), 1 << 20);
    }
}
