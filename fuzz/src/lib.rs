//! The structured inputs of the fuzz targets, decoded from libFuzzer's bytes with `arbitrary`.
//!
//! Each format is deliberately simple (length-prefixed parts, little-endian lengths) so that
//! the seed corpora in `fuzz/seeds/` can be written from real inputs by
//! `fuzz/seeds/make_seeds.py` without depending on how `arbitrary` encodes its own types, and
//! so that a crash file can be read by eye. A length longer than what is left takes the rest,
//! so every byte string decodes to something.

use arbitrary::{Arbitrary, Result, Unstructured};

/// The fields of an RQ job hash that capq reads, plus the ones RQ writes that it ignores. A
/// field's tag in the input is its index here; the tag `FIELDS.len()` introduces a field of any
/// other name.
pub const FIELDS: [&str; 27] = [
    "data",
    "timeout",
    "retries_left",
    "retry_intervals",
    "result_ttl",
    "failure_ttl",
    "capq_recoveries",
    "capq_attempts",
    "dependency_ids",
    "dependency_id",
    "group_id",
    "description",
    "status",
    "origin",
    "created_at",
    "enqueued_at",
    "started_at",
    "ended_at",
    "last_heartbeat",
    "worker_name",
    "success_callback_name",
    "failure_callback_name",
    "stopped_callback_name",
    "meta",
    "exc_info",
    "ttl",
    "repeat",
];

/// A job hash as a claim returns it: field/value pairs in any order, names possibly repeated.
///
/// Encoding, repeated to the end: a tag byte (`tag % 28`: an index into [`FIELDS`], or 27 for
/// a custom name given as one length byte and the name), a 2-byte value length, the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobHash {
    pub fields: Vec<(String, Vec<u8>)>,
}

impl<'a> Arbitrary<'a> for JobHash {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<JobHash> {
        let mut fields = Vec::new();
        while !u.is_empty() {
            let tag = usize::from(byte(u)?) % (FIELDS.len() + 1);
            let name = match FIELDS.get(tag) {
                Some(name) => (*name).to_owned(),
                None => {
                    let len = usize::from(byte(u)?);
                    String::from_utf8_lossy(take(u, len)?).into_owned()
                }
            };
            let len = usize::from(u16::from_le_bytes([byte(u)?, byte(u)?]));
            fields.push((name, take(u, len)?.to_vec()));
        }
        Ok(JobHash { fields })
    }

    fn arbitrary_take_rest(mut u: Unstructured<'a>) -> Result<JobHash> {
        JobHash::arbitrary(&mut u)
    }
}

/// The three inputs of a day: positions, stops and schedule, as files hold them (plain CSV or
/// gzip).
///
/// Encoding: a 4-byte stops length, the stops, a 4-byte schedule length, the schedule; the
/// rest is the positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayInputs {
    pub positions: Vec<u8>,
    pub stops: Vec<u8>,
    pub schedule: Vec<u8>,
}

impl<'a> Arbitrary<'a> for DayInputs {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<DayInputs> {
        let stops = part(u)?.to_vec();
        let schedule = part(u)?.to_vec();
        let positions = take(u, usize::MAX)?.to_vec();
        Ok(DayInputs {
            positions,
            stops,
            schedule,
        })
    }

    fn arbitrary_take_rest(mut u: Unstructured<'a>) -> Result<DayInputs> {
        DayInputs::arbitrary(&mut u)
    }
}

/// One byte, or 0 once the input is used up.
fn byte(u: &mut Unstructured<'_>) -> Result<u8> {
    if u.is_empty() {
        return Ok(0);
    }
    Ok(take(u, 1)?[0])
}

/// `len` bytes, or whatever is left if fewer.
fn take<'a>(u: &mut Unstructured<'a>, len: usize) -> Result<&'a [u8]> {
    let len = len.min(u.len());
    u.bytes(len)
}

/// A part with a 4-byte little-endian length.
fn part<'a>(u: &mut Unstructured<'a>) -> Result<&'a [u8]> {
    let len = u32::from_le_bytes([byte(u)?, byte(u)?, byte(u)?, byte(u)?]);
    take(u, usize::try_from(len).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_hashes_decode_known_and_custom_names() {
        let mut input = vec![1u8, 3, 0];
        input.extend_from_slice(b"180");
        input.extend_from_slice(&[27, 2]);
        input.extend_from_slice(b"zz");
        input.extend_from_slice(&[1, 0, b'x']);
        input.extend_from_slice(&[0, 200, 0, b'a']);
        let hash = JobHash::arbitrary_take_rest(Unstructured::new(&input)).expect("decodes");
        assert_eq!(
            hash.fields,
            vec![
                ("timeout".to_owned(), b"180".to_vec()),
                ("zz".to_owned(), b"x".to_vec()),
                ("data".to_owned(), b"a".to_vec()),
            ]
        );
    }

    #[test]
    fn day_inputs_split_in_three() {
        let mut input = vec![2, 0, 0, 0, b's', b't', 1, 0, 0, 0, b'c'];
        input.extend_from_slice(b"positions");
        let day = DayInputs::arbitrary_take_rest(Unstructured::new(&input)).expect("decodes");
        assert_eq!(
            (day.stops, day.schedule, day.positions),
            (b"st".to_vec(), b"c".to_vec(), b"positions".to_vec())
        );
    }
}
