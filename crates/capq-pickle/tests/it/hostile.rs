//! Hostile pickles that must fail fast with an error: deep nesting by every route, mark
//! floods, memo and stack floods, "billion laughs" expansion through shared references, key
//! comparisons that would take exponential time, and data amplification. Each test also bounds
//! the time taken, generously, since an unbounded loop is the failure being guarded against.

use std::time::{Duration, Instant};

use capq_pickle::{PickleError, loads};

/// Loads and returns the error, failing if it took more than a few seconds or succeeded.
fn fails_fast(pickle: &[u8]) -> PickleError {
    let start = Instant::now();
    let result = loads(pickle);
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    result.expect_err("hostile pickle was accepted")
}

fn repeat(prefix: &[u8], unit: &[u8], count: usize, suffix: &[u8]) -> Vec<u8> {
    let mut pickle = prefix.to_vec();
    for _ in 0..count {
        pickle.extend_from_slice(unit);
    }
    pickle.extend_from_slice(suffix);
    pickle
}

#[test]
fn a_million_nested_lists_fail_without_overflowing_the_stack() {
    let mut pickle = repeat(b"\x80\x02", b"]", 1_000_000, b"");
    pickle.extend(std::iter::repeat_n(b'a', 999_999));
    pickle.push(b'.');
    let error = fails_fast(&pickle);
    assert!(
        matches!(
            error,
            PickleError::TooDeep { limit: 200 } | PickleError::TooManyItems { .. }
        ),
        "{error}"
    );
}

#[test]
fn nesting_through_tuples_lists_and_dicts_is_bounded() {
    // ((((...)))) through TUPLE1.
    let error = fails_fast(&repeat(b"\x80\x02)", b"\x85", 1_000_000, b"."));
    assert_eq!(error, PickleError::TooDeep { limit: 200 });
    // [[[...]]] through MARK ... LIST.
    let mut pickle = repeat(b"", b"(", 100_000, b"");
    pickle.extend(std::iter::repeat_n(b'l', 100_000));
    pickle.push(b'.');
    assert_eq!(fails_fast(&pickle), PickleError::TooDeep { limit: 200 });
    // {0: {0: ...}} through SETITEM on dicts made before their values: push D1 0 D2 0 ... Dn
    // 0, then {} and SETITEM fill Dn, and each further SETITEM puts Dn into Dn-1.
    let mut pickle = repeat(b"\x80\x02", b"}K\x00", 100_000, b"}s");
    pickle.extend(repeat(b"", b"s", 99_999, b"."));
    assert_eq!(fails_fast(&pickle), PickleError::TooDeep { limit: 200 });
}

#[test]
fn a_hundred_thousand_marks_fail_fast() {
    let error = fails_fast(&repeat(b"\x80\x02", b"(", 100_000, b"N."));
    assert_eq!(error, PickleError::TooDeep { limit: 200 });
}

#[test]
fn a_list_appended_to_itself_forever_fails_fast() {
    let error = fails_fast(&repeat(b"\x80\x02]", b"2a", 500_000, b"."));
    assert!(
        matches!(error, PickleError::TooDeep { .. } | PickleError::Recursive),
        "{error}"
    );
}

#[test]
fn billion_laughs_through_lists_fails_fast() {
    // L0 = []; Ln = [Ln-1, Ln-1] for n up to 60: 2^60 items once expanded.
    let mut pickle = b"\x80\x02]q\x00".to_vec();
    for level in 1..=60_u8 {
        pickle.extend_from_slice(&[b'(', b'h', level - 1, b'h', level - 1, b'l', b'q', level]);
    }
    pickle.push(b'.');
    assert_eq!(
        fails_fast(&pickle),
        PickleError::TooManyItems { limit: 1_000_000 }
    );
}

#[test]
fn billion_laughs_through_dict_values_and_tuples_fails_fast() {
    // Dn = {'a': Tn-1, 'b': Tn-1} with Tn = (Dn,) memoized.
    let mut pickle = b"\x80\x02N\x85q\x00".to_vec();
    for level in 1..=60_u8 {
        pickle.extend_from_slice(b"}(X\x01\x00\x00\x00ah");
        pickle.push(level - 1);
        pickle.extend_from_slice(b"X\x01\x00\x00\x00bh");
        pickle.push(level - 1);
        pickle.extend_from_slice(&[b'u', 0x85, b'q', level]);
    }
    pickle.push(b'.');
    assert_eq!(
        fails_fast(&pickle),
        PickleError::TooManyItems { limit: 1_000_000 }
    );
}

#[test]
fn exponential_key_comparison_fails_fast() {
    // Two families of equal but never identical tuples: An = (An-1, Bn-1), Bn = (Bn-1, An-1).
    // Comparing A60 with B60 visits 2^60 pairs unless the work is bounded.
    let mut pickle = b"\x80\x02K\x00\x85q\x00K\x00\x85q\x01".to_vec();
    for level in 1..=60_u8 {
        let (a, b) = (2 * (level - 1), 2 * (level - 1) + 1);
        pickle.extend_from_slice(&[b'h', a, b'h', b, 0x86, b'q', 2 * level]);
        pickle.extend_from_slice(&[b'h', b, b'h', a, 0x86, b'q', 2 * level + 1]);
    }
    // {A60: 1, B60: 2}
    pickle.extend_from_slice(&[
        b'}', b'(', b'h', 120, b'K', 1, b'h', 121, b'K', 2, b'u', b'.',
    ]);
    assert_eq!(
        fails_fast(&pickle),
        PickleError::TooMuchComparing { limit: 1_000_000 }
    );
}

#[test]
fn repeating_a_big_string_is_bounded_by_data() {
    // One 1 MiB string, then a list holding it 100 times: 100 MiB once copied.
    let mut pickle = b"\x80\x02X\x00\x00\x10\x00".to_vec();
    pickle.extend(std::iter::repeat_n(b'x', 1 << 20));
    pickle.extend_from_slice(b"q\x00](");
    pickle.extend(repeat(b"", b"h\x00", 100, b"e."));
    assert_eq!(
        fails_fast(&pickle),
        PickleError::TooMuchData { limit: 64 << 20 }
    );
}

#[test]
fn copying_a_big_list_into_sets_is_bounded() {
    // L = [0, 1, ..., 9999]; then set(L) 200 times: two million copied handles.
    let mut pickle = b"\x80\x02](".to_vec();
    for n in 0..10_000_u16 {
        pickle.push(b'M');
        pickle.extend_from_slice(&n.to_le_bytes());
    }
    pickle.extend_from_slice(b"eq\x00c__builtin__\nset\nq\x01");
    pickle.extend(repeat(b"", b"h\x01h\x00\x85R0", 200, b"N."));
    assert_eq!(
        fails_fast(&pickle),
        PickleError::TooManyItems { limit: 1_000_000 }
    );
}

#[test]
fn stack_and_memo_floods_are_bounded() {
    // Two million DUPs.
    let error = fails_fast(&repeat(b"\x80\x02N", b"2", 2_000_000, b"."));
    assert_eq!(error, PickleError::TooManyItems { limit: 1_000_000 });
    // 1.1 million distinct memo keys for one object.
    let mut pickle = b"\x80\x02N".to_vec();
    for key in 0..1_100_000_u32 {
        pickle.push(b'r');
        pickle.extend_from_slice(&key.to_le_bytes());
    }
    pickle.push(b'.');
    assert_eq!(
        fails_fast(&pickle),
        PickleError::TooManyItems { limit: 1_000_000 }
    );
}
