//! Which processor made an output: a fingerprint of this crate's code, computed at build time.
//!
//! Two builds whose processing could differ must never share a fingerprint, and nobody should
//! have to remember to bump a version by hand. So `build.rs` hashes every file under this
//! crate's `src/`, its `Cargo.toml` and the versions of its dependencies locked in the
//! workspace's `Cargo.lock` (see [`compute`](crate::fingerprint::compute) for the exact layout), and hands the result to the
//! compiler as [`PROCESSOR_FINGERPRINT`]. Any edit of those files, a comment included, gives a
//! new fingerprint; an edit elsewhere in the workspace (the CLI, the queue, tests under
//! `tests/`) does not, because it cannot change what a day's output is.
//!
//! Not covered, by design: the compiler version and build profile (Rust's float arithmetic is
//! the same at every optimisation level) and the workspace's feature choices for dependencies.

pub mod compute;

pub use compute::{Fnv1a128, SourceFingerprint, find_lock_file, processor_fingerprint};

/// The fingerprint of the processor compiled into this binary: 16 lowercase hex digits.
pub const PROCESSOR_FINGERPRINT: &str = env!("CAPMETRICS_PROCESSOR_FINGERPRINT");

/// The fingerprint of `text`: FNV-1a 128 xor-folded to 16 lowercase hex digits, as the
/// processor fingerprint is computed.
pub fn fingerprint_text(text: &str) -> String {
    let mut hash = Fnv1a128::new();
    hash.write(text.as_bytes());
    hash.short_hex()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_fingerprint_is_16_hex_digits() {
        assert_eq!(PROCESSOR_FINGERPRINT.len(), 16);
        assert!(
            PROCESSOR_FINGERPRINT
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{PROCESSOR_FINGERPRINT}"
        );
    }
}
