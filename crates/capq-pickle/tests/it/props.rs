//! Property tests: any bytes, and any mutation of a valid pickle, load without panicking (and
//! any value that does load can be written and displayed); any value the writer is given reads
//! back exactly, NaN payloads and -0.0 included.

use std::sync::OnceLock;

use capq_pickle::{BigInt, Value, dumps, loads};
use proptest::collection::{btree_map, btree_set, vec};
use proptest::prelude::*;

use crate::common::{assert_error_style, same, unhex};

const FIXTURES: &str = include_str!("../fixtures/fixtures.txt");

/// Every pickle Python wrote for the fixtures (loadable or not), to mutate; parsed once.
fn fixture_pickles() -> &'static [Vec<u8>] {
    static PICKLES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    PICKLES.get_or_init(|| {
        FIXTURES
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split(' ').collect();
                match fields.as_slice() {
                    ["load" | "refuse", _, _, pickle, ..] => Some(unhex(pickle)),
                    ["dump", _, pickle, ..] => Some(unhex(pickle)),
                    _ => None,
                }
            })
            .filter(|pickle| pickle.len() < 4096)
            .collect()
    })
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        vec(any::<u8>(), 8..300)
            .prop_map(|bytes| Value::from(BigInt::from_signed_bytes_le(&bytes))),
        any::<u64>().prop_map(|bits| Value::Float(f64::from_bits(bits))),
        any::<String>().prop_map(Value::Str),
        vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
    ]
}

/// Values as Python could hold them: dict keys and set items distinct and hashable.
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..8).prop_map(Value::List),
            vec(inner.clone(), 0..8).prop_map(Value::Tuple),
            btree_map(any::<String>(), inner.clone(), 0..6).prop_map(|map| Value::Dict(
                map.into_iter().map(|(k, v)| (Value::Str(k), v)).collect()
            )),
            btree_map(any::<i64>(), inner, 0..6).prop_map(|map| Value::Dict(
                map.into_iter().map(|(k, v)| (Value::Int(k), v)).collect()
            )),
            btree_set(any::<i64>(), 0..6)
                .prop_map(|set| Value::Set(set.into_iter().map(Value::Int).collect())),
            btree_set(any::<String>(), 0..6)
                .prop_map(|set| Value::FrozenSet(set.into_iter().map(Value::Str).collect())),
        ]
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set(at, byte)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut pickle: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let len = pickle.len().max(1);
        match *mutation {
            Mutation::Set(at, byte) => {
                if let Some(slot) = pickle.get_mut(at % len) {
                    *slot = byte;
                }
            }
            Mutation::Insert(at, byte) => pickle.insert(at % (pickle.len() + 1), byte),
            Mutation::Remove(at) => {
                if !pickle.is_empty() {
                    pickle.remove(at % len);
                }
            }
            Mutation::Truncate(at) => pickle.truncate(at % len),
        }
    }
    pickle
}

/// Whatever `loads` returns must be usable: errors well formed, values writable and
/// displayable, and a written value must read back as itself.
fn check_outcome(pickle: &[u8]) -> Result<(), TestCaseError> {
    match loads(pickle) {
        Err(error) => assert_error_style(&error),
        Ok(value) => {
            let _ = value.to_string();
            let again =
                loads(&dumps(&value)).map_err(|error| TestCaseError::fail(error.to_string()))?;
            // Re-reading can only merge set items or dict keys the mutation made equal.
            prop_assert_eq!(dumps(&again), dumps(&loads(&dumps(&again)).unwrap()));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..2048)) {
        check_outcome(&bytes)?;
    }

    #[test]
    fn random_opcode_soup_never_panics(
        protocol in 0_u8..=6,
        body in vec(prop_oneof![
            // Mostly opcode bytes, with small arguments mixed in.
            prop::sample::select(b"()]}.012NIJKLMFGSTUVXabcdeghjlpqrstuBCR\x80\x81\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x93\x94\x95\x96".to_vec()),
            any::<u8>(),
        ], 0..512),
    ) {
        let mut pickle = vec![0x80, protocol];
        pickle.extend(body);
        check_outcome(&pickle)?;
    }

    #[test]
    fn written_values_read_back_exactly(value in value()) {
        let pickle = dumps(&value);
        let back = loads(&pickle).map_err(|error| TestCaseError::fail(format!("{error} for {value:?}")))?;
        prop_assert!(same(&back, &value), "{:?} read back as {:?}", value, back);
        prop_assert_eq!(back.to_string(), value.to_string());
    }

    #[test]
    fn mutated_written_pickles_never_panic(value in value(), mutations in vec(mutation(), 1..6)) {
        check_outcome(&mutate(dumps(&value), &mutations))?;
    }

    #[test]
    fn mutated_python_pickles_never_panic(index in any::<prop::sample::Index>(), mutations in vec(mutation(), 1..6)) {
        let pickles = fixture_pickles();
        prop_assert!(pickles.len() > 100);
        let pickle = index.get(pickles).clone();
        check_outcome(&mutate(pickle, &mutations))?;
    }
}
