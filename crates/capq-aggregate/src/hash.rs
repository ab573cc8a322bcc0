//! The content hash a partial records of the CSV it was computed from: XXH64 with seed 0.
//!
//! XXH64 is a published, stable algorithm (the same value on every machine, build and
//! release), fast enough to hash a day's output while it is written (several GB/s), and
//! checkable with the standard `xxhsum -H64` tool. It is not a cryptographic hash: it tells a
//! rewritten file from the original, not a forged one from a genuine one. A run manifest that
//! records the same hash of each output lets a reader check a partial without reading the CSV.

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

/// XXH64 of `data` with seed 0.
pub fn content_hash(data: &[u8]) -> u64 {
    let len = data.len() as u64;
    let mut rest = data;
    let mut hash = if data.len() >= 32 {
        let mut lanes = [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)];
        while rest.len() >= 32 {
            for (lane, chunk) in lanes.iter_mut().zip(rest[..32].chunks_exact(8)) {
                *lane = round(*lane, word(chunk));
            }
            rest = &rest[32..];
        }
        let mut hash = lanes[0]
            .rotate_left(1)
            .wrapping_add(lanes[1].rotate_left(7))
            .wrapping_add(lanes[2].rotate_left(12))
            .wrapping_add(lanes[3].rotate_left(18));
        for lane in lanes {
            hash = (hash ^ round(0, lane)).wrapping_mul(P1).wrapping_add(P4);
        }
        hash
    } else {
        P5
    };
    hash = hash.wrapping_add(len);
    while rest.len() >= 8 {
        hash ^= round(0, word(&rest[..8]));
        hash = hash.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        let half = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        hash ^= u64::from(half).wrapping_mul(P1);
        hash = hash.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = &rest[4..];
    }
    for &byte in rest {
        hash ^= u64::from(byte).wrapping_mul(P5);
        hash = hash.rotate_left(11).wrapping_mul(P1);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(P2);
    hash ^= hash >> 29;
    hash = hash.wrapping_mul(P3);
    hash ^ (hash >> 32)
}

fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

fn word(chunk: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(chunk);
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_xxh64_values() {
        // Values from the xxHash reference implementation (`xxhsum -H64`).
        assert_eq!(content_hash(b""), 0xEF46_DB37_51D8_E999);
        assert_eq!(content_hash(b"a"), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(content_hash(b"abc"), 0x44BC_2CF5_AD77_0999);
        // `seq 1 100 | head -c 200 | xxhsum -H64`: the 32-byte stripes and every tail.
        let lines: String = (1..=100).map(|i| format!("{i}\n")).collect();
        assert_eq!(
            content_hash(&lines.as_bytes()[..200]),
            0xCFBF_43FD_C37E_5B6F
        );
    }

    #[test]
    fn every_length_path_changes_with_the_content() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..data.len() {
            let original = content_hash(&data[..len]);
            if len > 0 {
                let mut changed = data[..len].to_vec();
                changed[len - 1] ^= 1;
                assert_ne!(content_hash(&changed), original, "length {len}");
            }
            assert_ne!(content_hash(&data[..len + 1]), original, "length {len}");
        }
    }
}
