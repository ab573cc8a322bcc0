//! Hand-built pickles, one rule each: object identity through the memo, Python 2 text, dict
//! and set equality, every refused opcode, malformed arguments, stack discipline and limits.
//! CPython never writes most of these, so they cannot come from the fixture script.

use capq_pickle::{Limits, PickleError, Value, loads, loads_with};

use crate::common::{assert_error_style, same};

fn load_err(bytes: &[u8]) -> PickleError {
    let error = loads(bytes).expect_err("pickle should be refused");
    assert_error_style(&error);
    error
}

fn ints(values: &[i64]) -> Vec<Value> {
    values.iter().map(|v| Value::Int(*v)).collect()
}

#[test]
fn a_list_appended_after_it_is_shared_shows_the_appends() {
    // A = [], PUT 0; B = [A, A]; then APPEND 1 to A through GET 0; POP; STOP returns B.
    let pickle = b"\x80\x02]q\x00]h\x00ah\x00ah\x00K\x01a0.";
    let inner = Value::List(ints(&[1]));
    assert_eq!(
        loads(pickle).unwrap(),
        Value::List(vec![inner.clone(), inner])
    );
}

#[test]
fn a_dict_filled_after_it_is_shared_shows_the_items() {
    // D = {}, PUT 0; L = [D]; D[1] = 2 through GET 0; POP; STOP returns L.
    let pickle = b"\x80\x02}q\x00]h\x00ah\x00K\x01K\x02s0.";
    assert_eq!(
        loads(pickle).unwrap(),
        Value::List(vec![Value::Dict(vec![(Value::Int(1), Value::Int(2))])])
    );
}

#[test]
fn python2_str_is_text_when_utf8_and_bytes_otherwise() {
    assert_eq!(loads(b"U\x03abcq\x00.").unwrap(), Value::Str("abc".into()));
    assert_eq!(loads(b"U\x02\xc3\xa9.").unwrap(), Value::Str("é".into()));
    assert_eq!(
        loads(b"U\x02\xff\xfe.").unwrap(),
        Value::Bytes(vec![0xff, 0xfe])
    );
    assert_eq!(
        loads(b"T\x02\x00\x00\x00hi.").unwrap(),
        Value::Str("hi".into())
    );
    assert_eq!(
        loads(b"S'a\\'b\\x00\\n'\np0\n.").unwrap(),
        Value::Str("a'b\0\n".into())
    );
    assert_eq!(loads(b"S\"\\xff\"\n.").unwrap(), Value::Bytes(vec![0xff]));
    assert!(matches!(
        load_err(b"Sabc\n."),
        PickleError::BadArgument {
            opcode: "STRING",
            ..
        }
    ));
    assert!(matches!(
        load_err(b"T\xff\xff\xff\xff."),
        PickleError::BadArgument {
            opcode: "BINSTRING",
            ..
        }
    ));
}

#[test]
fn protocol0_numbers_parse() {
    assert_eq!(loads(b"I01\n.").unwrap(), Value::Bool(true));
    assert_eq!(loads(b"I00\n.").unwrap(), Value::Bool(false));
    assert_eq!(loads(b"I-42\n.").unwrap(), Value::Int(-42));
    assert_eq!(loads(b"L123L\n.").unwrap(), Value::Int(123));
    assert_eq!(
        loads(b"L-9223372036854775809\n.").unwrap().to_string(),
        "-9223372036854775809"
    );
    assert_eq!(loads(b"F-1.25\n.").unwrap(), Value::Float(-1.25));
    assert!(matches!(
        load_err(b"I1x\n."),
        PickleError::BadArgument { opcode: "INT", .. }
    ));
    assert!(matches!(
        load_err(b"I010\n."),
        PickleError::BadArgument { opcode: "INT", .. }
    ));
    assert!(matches!(
        load_err(b"Fabc\n."),
        PickleError::BadArgument {
            opcode: "FLOAT",
            ..
        }
    ));
    let mut too_long = b"L".to_vec();
    too_long.extend(std::iter::repeat_n(b'7', 5000));
    too_long.extend_from_slice(b"\n.");
    assert!(matches!(
        load_err(&too_long),
        PickleError::BadArgument { opcode: "LONG", .. }
    ));
}

#[test]
fn long_opcodes_normalize_to_int_when_they_fit() {
    assert_eq!(loads(b"\x80\x02\x8a\x00.").unwrap(), Value::Int(0));
    assert_eq!(
        loads(b"\x80\x02\x8a\x02\xff\x00.").unwrap(),
        Value::Int(255)
    );
    assert_eq!(
        loads(b"\x80\x02\x8b\x01\x00\x00\x00\xff.").unwrap(),
        Value::Int(-1)
    );
    let big = loads(b"\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.").unwrap();
    assert_eq!(big.to_string(), "18446744073709551616");
    assert!(matches!(
        load_err(b"\x80\x02\x8b\xff\xff\xff\xff."),
        PickleError::BadArgument {
            opcode: "LONG4",
            ..
        }
    ));
}

#[test]
fn equal_keys_collapse_as_in_python() {
    // {1: 'a', True: 'b', 1.0: 'c'} keeps the first key and the last value.
    let pickle = b"\x80\x02}(K\x01X\x01\x00\x00\x00a\x88X\x01\x00\x00\x00bG?\xf0\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00cu.";
    assert_eq!(
        loads(pickle).unwrap(),
        Value::Dict(vec![(Value::Int(1), Value::Str("c".into()))])
    );
    // frozenset((1, 1.0, 2)) == frozenset({1, 2}).
    let pickle = b"\x80\x04(K\x01G?\xf0\x00\x00\x00\x00\x00\x00K\x02\x91.";
    assert_eq!(loads(pickle).unwrap(), Value::FrozenSet(ints(&[1, 2])));
    // A set built by ADDITEMS across two batches dedupes across them too.
    let pickle = b"\x80\x04\x8f(K\x01K\x02\x90(K\x02K\x03\x90.";
    assert_eq!(loads(pickle).unwrap(), Value::Set(ints(&[1, 2, 3])));
    // set([3, 3]) through REDUCE.
    let pickle = b"\x80\x02c__builtin__\nset\n](K\x03K\x03e\x85R.";
    assert_eq!(loads(pickle).unwrap(), Value::Set(ints(&[3])));
}

#[test]
fn nan_keys_stay_distinct() {
    let pickle =
        b"\x80\x02}(G\x7f\xf8\x00\x00\x00\x00\x00\x00K\x01G\x7f\xf8\x00\x00\x00\x00\x00\x00K\x02u.";
    let value = loads(pickle).unwrap();
    assert_eq!(value.as_dict().unwrap().len(), 2);
    assert_eq!(value.to_string(), "{nan: 1, nan: 2}");
}

#[test]
fn unhashable_keys_and_items_are_refused() {
    let error = load_err(b"\x80\x02}]K\x01s.");
    assert!(
        matches!(
            error,
            PickleError::Unhashable {
                type_name: "list",
                ..
            }
        ),
        "{error}"
    );
    let error = load_err(b"\x80\x04\x8f(}\x90.");
    assert!(
        matches!(
            error,
            PickleError::Unhashable {
                type_name: "dict",
                ..
            }
        ),
        "{error}"
    );
    // A tuple holding a list is unhashable too, and the message names the list.
    let error = load_err(b"\x80\x02}]\x85K\x01s.");
    assert_eq!(
        error.to_string(),
        "pickle uses a `list` as a dict key or set item at byte 7; only hashable built-in values are accepted"
    );
    // A dict whose key is the dict itself.
    let error = load_err(b"\x80\x02}q\x00h\x00h\x00s.");
    assert!(
        matches!(
            error,
            PickleError::Unhashable {
                type_name: "dict",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn recursive_structures_are_refused() {
    // L = []; L.append(L)
    assert_eq!(load_err(b"\x80\x02]q\x002a."), PickleError::Recursive);
    // D = {}; D[1] = [D]
    assert_eq!(
        load_err(b"\x80\x02}q\x00K\x01]h\x00as."),
        PickleError::Recursive
    );
    // T = ([],); T[0].append(T), as Python pickles a recursive tuple.
    assert_eq!(
        load_err(b"\x80\x02]q\x00\x85q\x01h\x00h\x01a0."),
        PickleError::Recursive
    );
}

#[test]
fn object_building_opcodes_are_refused_by_name() {
    let cases: [(&[u8], &str); 12] = [
        (b"\x80\x02}}b.", "BUILD"),
        (b"\x80\x02(c__builtin__\nset\no.", "OBJ"),
        (b"\x80\x02c__builtin__\nset\n)\x81.", "NEWOBJ"),
        (b"\x80\x04c__builtin__\nset\n)}\x92.", "NEWOBJ_EX"),
        (b"Pkey\n.", "PERSID"),
        (b"\x80\x02K\x01Q.", "BINPERSID"),
        (b"\x80\x02\x82\x01.", "EXT1"),
        (b"\x80\x02\x83\x01\x00.", "EXT2"),
        (b"\x80\x02\x84\x01\x00\x00\x00.", "EXT4"),
        (b"\x80\x05\x97.", "NEXT_BUFFER"),
        (b"\x80\x05\x97\x98.", "NEXT_BUFFER"),
        (b"(i__builtin__\nset\n.", "INST"),
    ];
    for (pickle, opcode) in cases {
        let error = load_err(pickle);
        assert!(
            matches!(error, PickleError::Refused { opcode: found, .. } if found == opcode),
            "{opcode}: {error}"
        );
        assert!(
            error
                .to_string()
                .contains("only built-in values are accepted"),
            "{error}"
        );
    }
    let error = load_err(b"\x80\x05N\x98.");
    assert!(
        matches!(
            error,
            PickleError::Refused {
                opcode: "READONLY_BUFFER",
                ..
            }
        ),
        "{error}"
    );
    // INST of anything else names the class.
    assert_eq!(
        load_err(b"(ios\nsystem\n."),
        PickleError::Global {
            name: "os.system".into()
        }
    );
}

#[test]
fn globals_other_than_the_builtins_used_for_values_are_refused() {
    for (module, name) in [
        ("builtins", "eval"),
        ("__builtin__", "getattr"),
        ("os", "system"),
        ("subprocess", "Popen"),
    ] {
        let pickle = format!("c{module}\n{name}\n.");
        assert_eq!(
            load_err(pickle.as_bytes()),
            PickleError::Global {
                name: format!("{module}.{name}")
            }
        );
    }
    // Names are shortened and escaped in the message.
    let mut pickle = b"cos\x1b[31m\n".to_vec();
    pickle.extend(std::iter::repeat_n(b'a', 10_000));
    pickle.extend_from_slice(b"\n.");
    let message = load_err(&pickle).to_string();
    assert!(message.len() < 400, "{message}");
    assert!(message.contains("os\\u{1b}[31m."), "{message}");
    // STACK_GLOBAL needs strings.
    let error = load_err(b"\x80\x04K\x01K\x02\x93.");
    assert!(
        matches!(
            error,
            PickleError::WrongType {
                opcode: "STACK_GLOBAL",
                expected: "str",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn accepted_callables_take_only_python_shaped_arguments() {
    let bad = [
        // set(1, 2)
        &b"\x80\x02c__builtin__\nset\nK\x01K\x02\x86R."[..],
        // set({})
        b"\x80\x02c__builtin__\nset\n}\x85R.",
        // _codecs.encode('x', 'rot13')
        b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x05\x00\x00\x00rot13\x86R.",
        // _codecs.encode('\u20ac', 'latin1')
        b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00\xe2\x82\xacX\x06\x00\x00\x00latin1\x86R.",
        // bytes(1)
        b"\x80\x02c__builtin__\nbytes\nK\x01\x85R.",
        // _codecs.encode('x')
        b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00x\x85R.",
    ];
    for pickle in bad {
        let error = load_err(pickle);
        assert!(matches!(error, PickleError::BadCall { .. }), "{error}");
    }
    // Calling something that is not one of them, or without an argument tuple.
    let error = load_err(b"\x80\x02])R.");
    assert!(
        matches!(
            error,
            PickleError::WrongType {
                opcode: "REDUCE",
                expected: "callable",
                ..
            }
        ),
        "{error}"
    );
    let error = load_err(b"\x80\x02c__builtin__\nset\n]R.");
    assert!(
        matches!(
            error,
            PickleError::WrongType {
                opcode: "REDUCE",
                expected: "tuple of arguments",
                ..
            }
        ),
        "{error}"
    );
    // The callable itself is not a value.
    assert_eq!(
        load_err(b"\x80\x02c__builtin__\nset\n."),
        PickleError::CallableValue {
            name: "builtins.set"
        }
    );
    // Python 2's bytearray(u'ab', 'latin-1') and bytes(b'..') are fine.
    let pickle =
        b"\x80\x02c__builtin__\nbytearray\nX\x02\x00\x00\x00abX\x07\x00\x00\x00latin-1\x86R.";
    assert_eq!(loads(pickle).unwrap(), Value::Bytes(b"ab".to_vec()));
    assert_eq!(
        loads(b"\x80\x03cbuiltins\nbytes\nC\x01z\x85R.").unwrap(),
        Value::Bytes(b"z".to_vec())
    );
}

#[test]
fn malformed_structure_is_reported_precisely() {
    assert_eq!(load_err(b""), PickleError::Truncated { at: 0 });
    assert_eq!(load_err(b"\x80\x02N"), PickleError::Truncated { at: 3 });
    assert_eq!(
        load_err(b"\x80\x02X\xff\xff\xff\xffab."),
        PickleError::Truncated { at: 2 }
    );
    assert_eq!(
        load_err(b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xffab."),
        PickleError::Truncated { at: 2 }
    );
    assert_eq!(
        load_err(b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x01\x00N."),
        PickleError::Truncated { at: 2 }
    );
    assert_eq!(load_err(b"I12"), PickleError::Truncated { at: 0 });
    assert_eq!(
        load_err(b"\x80\x02\xff."),
        PickleError::UnknownOpcode {
            opcode: 0xff,
            at: 2
        }
    );
    assert_eq!(
        load_err(b"\x80\x02\xff.").to_string(),
        "unknown pickle opcode 0xff at byte 2"
    );
    assert_eq!(
        load_err(b"\x80\x06N."),
        PickleError::UnsupportedProtocol { protocol: 6, at: 0 }
    );
    assert_eq!(
        load_err(b"\x80\x02a."),
        PickleError::StackUnderflow {
            opcode: "APPEND",
            at: 2
        }
    );
    assert_eq!(
        load_err(b"\x80\x02K\x01t."),
        PickleError::MissingMark {
            opcode: "TUPLE",
            at: 4
        }
    );
    assert_eq!(
        load_err(b"\x80\x02h\x05."),
        PickleError::MissingMemo {
            key: 5,
            opcode: "BINGET",
            at: 2
        }
    );
    assert!(matches!(
        load_err(b"\x80\x02(K\x01d."),
        PickleError::BadArgument { opcode: "DICT", .. }
    ));
    assert!(matches!(
        load_err(b"\x80\x02X\x01\x00\x00\x00\xff."),
        PickleError::BadArgument {
            opcode: "BINUNICODE",
            ..
        }
    ));
    // APPEND may not reach below a MARK, as in Python.
    assert_eq!(
        load_err(b"\x80\x02](K\x01a."),
        PickleError::StackUnderflow {
            opcode: "APPEND",
            at: 6
        }
    );
    // Appending to something that is not a list.
    let error = load_err(b"\x80\x02}K\x01a.");
    assert!(
        matches!(
            error,
            PickleError::WrongType {
                opcode: "APPEND",
                expected: "list",
                found: "dict",
                ..
            }
        ),
        "{error}"
    );
    // ADDITEMS only works on a set, not a frozenset.
    let error = load_err(b"\x80\x04(\x91(K\x01\x90.");
    assert!(
        matches!(
            error,
            PickleError::WrongType {
                opcode: "ADDITEMS",
                expected: "set",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn stack_opcodes_follow_python() {
    // DUP, then TUPLE2 of the copies.
    assert_eq!(
        loads(b"\x80\x02K\x072\x86.").unwrap(),
        Value::Tuple(ints(&[7, 7]))
    );
    // POP drops the top item; with an empty frame it drops the MARK instead.
    assert_eq!(loads(b"\x80\x02K\x01K\x020.").unwrap(), Value::Int(1));
    assert_eq!(loads(b"\x80\x02K\x01(0.").unwrap(), Value::Int(1));
    // POP_MARK drops the frame.
    assert_eq!(loads(b"\x80\x02K\x01(K\x02K\x031.").unwrap(), Value::Int(1));
    // MEMOIZE numbers entries from the memo's size; PUT/GET by text too.
    assert_eq!(
        loads(b"\x80\x04K\x01\x94K\x02\x94h\x00h\x01\x86.").unwrap(),
        Value::Tuple(ints(&[1, 2]))
    );
    assert_eq!(loads(b"I5\np12\n0g12\n.").unwrap(), Value::Int(5));
    // Bytes after STOP are ignored, as in Python.
    assert_eq!(loads(b"N.trailing").unwrap(), Value::None);
    // A FRAME that fits is skipped.
    assert_eq!(
        loads(b"\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00N.").unwrap(),
        Value::None
    );
}

#[test]
fn all_binary_string_opcodes_load() {
    assert_eq!(
        loads(b"\x80\x04\x8c\x02hi.").unwrap(),
        Value::Str("hi".into())
    );
    assert_eq!(
        loads(b"\x80\x04\x8d\x02\x00\x00\x00\x00\x00\x00\x00hi.").unwrap(),
        Value::Str("hi".into())
    );
    assert_eq!(
        loads(b"\x80\x03B\x02\x00\x00\x00hi.").unwrap(),
        Value::Bytes(b"hi".to_vec())
    );
    assert_eq!(
        loads(b"\x80\x04\x8e\x02\x00\x00\x00\x00\x00\x00\x00hi.").unwrap(),
        Value::Bytes(b"hi".to_vec())
    );
    assert_eq!(
        loads(b"\x80\x05\x96\x02\x00\x00\x00\x00\x00\x00\x00hi.").unwrap(),
        Value::Bytes(b"hi".to_vec())
    );
    assert_eq!(
        loads(b"Vcaf\xe9 \\u20ac\n.").unwrap(),
        Value::Str("café €".into())
    );
}

#[test]
fn limits_apply() {
    let limits = Limits {
        max_input: 10,
        ..Limits::default()
    };
    assert_eq!(
        loads_with(&[b'N'; 11], &limits),
        Err(PickleError::TooLarge { len: 11, limit: 10 })
    );

    let nested = |levels: usize| {
        let mut pickle = b"\x80\x02".to_vec();
        pickle.extend(std::iter::repeat_n(b']', levels));
        pickle.extend(std::iter::repeat_n(b'a', levels - 1));
        pickle.push(b'.');
        pickle
    };
    let limits = Limits {
        max_depth: 5,
        ..Limits::default()
    };
    assert!(loads_with(&nested(5), &limits).is_ok());
    assert_eq!(
        loads_with(&nested(6), &limits),
        Err(PickleError::TooDeep { limit: 5 })
    );
    assert!(loads(&nested(200)).is_ok());
    assert_eq!(
        loads(&nested(201)),
        Err(PickleError::TooDeep { limit: 200 })
    );
    // The depth limit never goes past the hard ceiling.
    let limits = Limits {
        max_depth: usize::MAX,
        ..Limits::default()
    };
    assert!(loads_with(&nested(1000), &limits).is_ok());
    assert_eq!(
        loads_with(&nested(5000), &limits),
        Err(PickleError::TooDeep {
            limit: Limits::HARD_MAX_DEPTH
        })
    );

    let limits = Limits {
        max_items: 10,
        ..Limits::default()
    };
    let mut pickle = b"\x80\x02](".to_vec();
    pickle.extend(std::iter::repeat_n(b'N', 20));
    pickle.extend_from_slice(b"e.");
    assert_eq!(
        loads_with(&pickle, &limits),
        Err(PickleError::TooManyItems { limit: 10 })
    );
}

#[test]
fn accessors_work_on_loaded_jobs() {
    // ('tasks.f', None, ['a', 2], {'timeout': 3.5})
    let pickle = b"\x80\x02(X\x07\x00\x00\x00tasks.fN]q\x00(X\x01\x00\x00\x00aK\x02e}q\x01X\x07\x00\x00\x00timeoutG@\x0c\x00\x00\x00\x00\x00\x00stq\x02.";
    let job = loads(pickle).unwrap();
    let parts = job.as_tuple().unwrap();
    assert_eq!(parts[0].as_str(), Some("tasks.f"));
    assert_eq!(parts[2].as_seq().unwrap()[1].as_i64(), Some(2));
    assert_eq!(parts[3].get("timeout").and_then(Value::as_f64), Some(3.5));
    assert!(same(&job, &job.clone()));
    assert_eq!(
        job.to_string(),
        "('tasks.f', None, ['a', 2], {'timeout': 3.5})"
    );
}
