//! The pickle machine behind [`crate::loads`]: protocols 0–5, built-in values only.
//!
//! It runs opcodes one by one like Python's unpickler — a stack, MARKs that open a new frame of
//! it, a memo for shared references — but the objects live in an [`Arena`] and only these
//! callables exist: `builtins.set`/`frozenset` (how protocols 0–3 write sets),
//! `builtins.bytes`/`bytearray` and `_codecs.encode` (how protocols 0–2 write bytes), each
//! accepted only with the arguments Python's pickler gives them. Every other GLOBAL is refused
//! by name, and so is every opcode that builds objects (INST, OBJ, NEWOBJ, NEWOBJ_EX, BUILD) or
//! reaches outside the pickle (PERSID, BINPERSID, EXT1/2/4, NEXT_BUFFER, READONLY_BUFFER).
//!
//! Nothing here recurses on input structure, every length is checked before slicing, and the
//! stack, marks and memo are bounded, so hostile input fails with an error.
//!
//! Python 2 `str` (STRING, BINSTRING, SHORT_BINSTRING) becomes `Value::Str` when it is valid
//! UTF-8 — Python 2 RQ stored function names and most text that way — and `Value::Bytes`
//! otherwise. Python 3 would decode it as ASCII by default and fail on anything else.

use std::collections::HashMap;

use crate::Limits;
use crate::arena::{Arena, Budget, Callable, Handle, Obj};
use crate::bigint::BigInt;
use crate::error::{PickleError, sanitize};
use crate::opcodes as op;
use crate::text::{self, Integer};
use crate::value::Value;

pub(crate) fn load(input: &[u8], limits: &Limits) -> Result<Value, PickleError> {
    if input.len() > limits.max_input {
        return Err(PickleError::TooLarge {
            len: input.len(),
            limit: limits.max_input,
        });
    }
    let max_depth = limits.max_depth.min(Limits::HARD_MAX_DEPTH);
    let budget = Budget {
        max_depth,
        build_depth: max_depth + 2,
        max_items: limits.max_items,
        max_data: limits.max_input.saturating_mul(4),
    };
    let mut machine = Machine {
        input,
        pos: 0,
        at: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        // Every open MARK belongs to a container being built, and protocol 0 opens at most two
        // per nesting level (a set's argument tuple and list), plus a few at the leaves.
        max_marks: max_depth.saturating_mul(2).saturating_add(8),
        max_depth,
        max_items: limits.max_items,
        arena: Arena::new(budget),
    };
    let root = machine.run()?;
    machine.arena.to_value(root)
}

struct Machine<'a> {
    input: &'a [u8],
    /// Next byte to read.
    pos: usize,
    /// Where the running opcode starts, for error messages.
    at: usize,
    stack: Vec<Handle>,
    /// Stack lengths at each open MARK; items below the last one are out of reach, as in
    /// Python, until that MARK is popped.
    marks: Vec<usize>,
    memo: HashMap<u64, Handle>,
    max_marks: usize,
    max_depth: usize,
    max_items: usize,
    arena: Arena,
}

type Result<T, E = PickleError> = std::result::Result<T, E>;

impl<'a> Machine<'a> {
    /// Runs opcodes up to STOP and returns the handle it pops.
    fn run(&mut self) -> Result<Handle> {
        loop {
            self.at = self.pos;
            let opcode = self.byte()?;
            match opcode {
                op::PROTO => {
                    let protocol = self.byte()?;
                    if protocol > op::HIGHEST_PROTOCOL {
                        return Err(PickleError::UnsupportedProtocol {
                            protocol,
                            at: self.at,
                        });
                    }
                }
                op::FRAME => {
                    // Frames only help buffered readers; the whole pickle is in memory, so the
                    // length is only checked.
                    let length = self.u64_le()?;
                    let remaining = self.input.len().saturating_sub(self.pos);
                    if usize::try_from(length).map_or(true, |length| length > remaining) {
                        return Err(PickleError::Truncated { at: self.at });
                    }
                }
                op::STOP => return self.pop("STOP"),
                op::MARK => {
                    if self.marks.len() >= self.max_marks {
                        return Err(PickleError::TooDeep {
                            limit: self.max_depth,
                        });
                    }
                    self.marks.push(self.stack.len());
                }
                op::POP => {
                    // Python's POP drops the MARK instead when its frame is empty.
                    if self.stack.len() > self.frame_base() {
                        self.stack.pop();
                    } else {
                        self.pop_mark("POP")?;
                    }
                }
                op::POP_MARK => {
                    self.pop_mark("POP_MARK")?;
                }
                op::DUP => {
                    let top = self.top("DUP")?;
                    self.push(top)?;
                }

                op::NONE => self.push_new(Obj::None)?,
                op::NEWTRUE => self.push_new(Obj::Bool(true))?,
                op::NEWFALSE => self.push_new(Obj::Bool(false))?,
                op::INT => {
                    let line = self.line()?;
                    // Protocol 0 writes bools as INT with these exact arguments.
                    let obj = match line {
                        b"00" => Obj::Bool(false),
                        b"01" => Obj::Bool(true),
                        _ => self.integer("INT", line)?,
                    };
                    self.push_new(obj)?;
                }
                op::BININT => {
                    let value = i32::from_le_bytes(self.array()?);
                    self.push_new(Obj::Int(i64::from(value)))?;
                }
                op::BININT1 => {
                    let value = self.byte()?;
                    self.push_new(Obj::Int(i64::from(value)))?;
                }
                op::BININT2 => {
                    let value = u16::from_le_bytes(self.array()?);
                    self.push_new(Obj::Int(i64::from(value)))?;
                }
                op::LONG => {
                    let line = self.line()?;
                    // Python 2 wrote a trailing `L`.
                    let digits = line.strip_suffix(b"L").unwrap_or(line);
                    let obj = self.integer("LONG", digits)?;
                    self.push_new(obj)?;
                }
                op::LONG1 => {
                    let length = usize::from(self.byte()?);
                    let bytes = self.take(length)?;
                    self.push_new(int_from_bytes(bytes))?;
                }
                op::LONG4 => {
                    let length = self.signed_length("LONG4")?;
                    let bytes = self.take(length)?;
                    self.push_new(int_from_bytes(bytes))?;
                }
                op::FLOAT => {
                    let line = self.line()?;
                    let value =
                        text::parse_float(line).ok_or_else(|| self.bad("FLOAT", "not a float"))?;
                    self.push_new(Obj::Float(value))?;
                }
                op::BINFLOAT => {
                    let value = f64::from_be_bytes(self.array()?);
                    self.push_new(Obj::Float(value))?;
                }

                op::STRING => {
                    let line = self.line()?;
                    let body = text::unquote(line)
                        .ok_or_else(|| self.bad("STRING", "argument is not quoted"))?;
                    let bytes = text::decode_string_escape(body)
                        .map_err(|problem| self.bad("STRING", problem))?;
                    self.push_new(python2_str(bytes))?;
                }
                op::BINSTRING => {
                    let length = self.signed_length("BINSTRING")?;
                    let bytes = self.take(length)?.to_vec();
                    self.push_new(python2_str(bytes))?;
                }
                op::SHORT_BINSTRING => {
                    let length = usize::from(self.byte()?);
                    let bytes = self.take(length)?.to_vec();
                    self.push_new(python2_str(bytes))?;
                }
                op::UNICODE => {
                    let line = self.line()?;
                    let decoded = text::decode_raw_unicode_escape(line)
                        .map_err(|problem| self.bad("UNICODE", problem))?;
                    self.push_new(Obj::Str(decoded))?;
                }
                op::BINUNICODE => {
                    let length = self.u32_len()?;
                    self.push_text("BINUNICODE", length)?;
                }
                op::SHORT_BINUNICODE => {
                    let length = usize::from(self.byte()?);
                    self.push_text("SHORT_BINUNICODE", length)?;
                }
                op::BINUNICODE8 => {
                    let length = self.u64_len()?;
                    self.push_text("BINUNICODE8", length)?;
                }
                op::BINBYTES => {
                    let length = self.u32_len()?;
                    self.push_bytes(length)?;
                }
                op::SHORT_BINBYTES => {
                    let length = usize::from(self.byte()?);
                    self.push_bytes(length)?;
                }
                op::BINBYTES8 | op::BYTEARRAY8 => {
                    let length = self.u64_len()?;
                    self.push_bytes(length)?;
                }

                op::EMPTY_LIST => self.push_new(Obj::List(Vec::new()))?,
                op::APPEND => {
                    let item = self.pop("APPEND")?;
                    let list = self.top("APPEND")?;
                    self.arena.extend_list(list, &[item], "APPEND", self.at)?;
                }
                op::APPENDS => {
                    let items = self.pop_mark("APPENDS")?;
                    let list = self.top("APPENDS")?;
                    self.arena.extend_list(list, &items, "APPENDS", self.at)?;
                }
                op::LIST => {
                    let items = self.pop_mark("LIST")?;
                    self.push_new(Obj::List(items))?;
                }
                op::EMPTY_TUPLE => self.push_new(Obj::Tuple(Vec::new()))?,
                op::TUPLE => {
                    let items = self.pop_mark("TUPLE")?;
                    self.push_new(Obj::Tuple(items))?;
                }
                op::TUPLE1 => self.small_tuple("TUPLE1", 1)?,
                op::TUPLE2 => self.small_tuple("TUPLE2", 2)?,
                op::TUPLE3 => self.small_tuple("TUPLE3", 3)?,
                op::EMPTY_DICT => self.push_new(Obj::Dict(Box::default()))?,
                op::DICT => {
                    let items = self.pop_mark("DICT")?;
                    let pairs = self.pairs("DICT", &items)?;
                    let keyed = self.arena.build_keyed(pairs, false, self.at)?;
                    self.push_new(Obj::Dict(Box::new(keyed)))?;
                }
                op::SETITEM => {
                    let value = self.pop("SETITEM")?;
                    let key = self.pop("SETITEM")?;
                    let dict = self.top("SETITEM")?;
                    self.arena
                        .insert(dict, key, Some(value), "SETITEM", self.at)?;
                }
                op::SETITEMS => {
                    let items = self.pop_mark("SETITEMS")?;
                    let pairs = self.pairs("SETITEMS", &items)?;
                    let dict = self.top("SETITEMS")?;
                    for (key, value) in pairs {
                        self.arena
                            .insert(dict, key, Some(value), "SETITEMS", self.at)?;
                    }
                }
                op::EMPTY_SET => self.push_new(Obj::Set(Box::default()))?,
                op::ADDITEMS => {
                    let items = self.pop_mark("ADDITEMS")?;
                    let set = self.top("ADDITEMS")?;
                    for item in items {
                        self.arena.insert(set, item, None, "ADDITEMS", self.at)?;
                    }
                }
                op::FROZENSET => {
                    let items = self.pop_mark("FROZENSET")?;
                    let keyed = self.arena.build_keyed(
                        items.into_iter().map(|item| (item, item)),
                        true,
                        self.at,
                    )?;
                    self.push_new(Obj::FrozenSet(Box::new(keyed)))?;
                }

                op::GET => {
                    let line = self.line()?;
                    let key = text::parse_memo_key(line)
                        .ok_or_else(|| self.bad("GET", "not a memo key"))?;
                    self.get(key, "GET")?;
                }
                op::BINGET => {
                    let key = self.byte()?;
                    self.get(u64::from(key), "BINGET")?;
                }
                op::LONG_BINGET => {
                    let key = u32::from_le_bytes(self.array()?);
                    self.get(u64::from(key), "LONG_BINGET")?;
                }
                op::PUT => {
                    let line = self.line()?;
                    let key = text::parse_memo_key(line)
                        .ok_or_else(|| self.bad("PUT", "not a memo key"))?;
                    self.put(key, "PUT")?;
                }
                op::BINPUT => {
                    let key = self.byte()?;
                    self.put(u64::from(key), "BINPUT")?;
                }
                op::LONG_BINPUT => {
                    let key = u32::from_le_bytes(self.array()?);
                    self.put(u64::from(key), "LONG_BINPUT")?;
                }
                op::MEMOIZE => {
                    let key = self.memo.len() as u64;
                    self.put(key, "MEMOIZE")?;
                }

                op::GLOBAL => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let callable = resolve(module, name)?;
                    self.push_new(Obj::Callable(callable))?;
                }
                op::STACK_GLOBAL => {
                    let name = self.pop("STACK_GLOBAL")?;
                    let module = self.pop("STACK_GLOBAL")?;
                    let module = self.str_arg(module, "STACK_GLOBAL")?;
                    let name = self.str_arg(name, "STACK_GLOBAL")?;
                    let callable = resolve(module.as_bytes(), name.as_bytes())?;
                    self.push_new(Obj::Callable(callable))?;
                }
                op::REDUCE => self.reduce()?,

                op::INST => {
                    let module = self.line()?;
                    let name = self.line()?;
                    // Even an accepted callable is refused here: INST makes class instances,
                    // which Python's pickler never uses for built-in values.
                    resolve(module, name)?;
                    return Err(self.refused("INST", "creates an instance of a class"));
                }
                op::OBJ => return Err(self.refused("OBJ", "creates an instance of a class")),
                op::NEWOBJ => return Err(self.refused("NEWOBJ", "creates an instance of a class")),
                op::NEWOBJ_EX => {
                    return Err(self.refused("NEWOBJ_EX", "creates an instance of a class"));
                }
                op::BUILD => return Err(self.refused("BUILD", "sets the state of an object")),
                op::PERSID => {
                    return Err(
                        self.refused("PERSID", "refers to a persistent object outside the pickle")
                    );
                }
                op::BINPERSID => {
                    return Err(self.refused(
                        "BINPERSID",
                        "refers to a persistent object outside the pickle",
                    ));
                }
                op::EXT1 => {
                    return Err(self.refused("EXT1", "refers to the copyreg extension registry"));
                }
                op::EXT2 => {
                    return Err(self.refused("EXT2", "refers to the copyreg extension registry"));
                }
                op::EXT4 => {
                    return Err(self.refused("EXT4", "refers to the copyreg extension registry"));
                }
                op::NEXT_BUFFER => {
                    return Err(self.refused("NEXT_BUFFER", "takes an out-of-band buffer"));
                }
                op::READONLY_BUFFER => {
                    return Err(self.refused("READONLY_BUFFER", "takes an out-of-band buffer"));
                }
                other => {
                    return Err(PickleError::UnknownOpcode {
                        opcode: other,
                        at: self.at,
                    });
                }
            }
        }
    }

    fn refused(&self, opcode: &'static str, action: &'static str) -> PickleError {
        PickleError::Refused {
            opcode,
            at: self.at,
            action,
        }
    }

    fn bad(&self, opcode: &'static str, problem: impl Into<String>) -> PickleError {
        PickleError::BadArgument {
            opcode,
            at: self.at,
            problem: problem.into(),
        }
    }

    // Reading arguments. Every length is checked against what is left before anything is
    // sliced or allocated, so a huge declared length is a truncation error.

    fn take(&mut self, length: usize) -> Result<&'a [u8]> {
        let truncated = PickleError::Truncated { at: self.at };
        let end = self.pos.checked_add(length).ok_or(truncated.clone())?;
        let bytes = self.input.get(self.pos..end).ok_or(truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        <[u8; N]>::try_from(bytes).map_err(|_| PickleError::Truncated { at: self.at })
    }

    fn byte(&mut self) -> Result<u8> {
        let [byte] = self.array::<1>()?;
        Ok(byte)
    }

    fn u64_le(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn u32_len(&mut self) -> Result<usize> {
        let length = u32::from_le_bytes(self.array()?);
        usize::try_from(length).map_err(|_| PickleError::Truncated { at: self.at })
    }

    fn u64_len(&mut self) -> Result<usize> {
        let length = self.u64_le()?;
        usize::try_from(length).map_err(|_| PickleError::Truncated { at: self.at })
    }

    /// LONG4 and BINSTRING lengths are signed; Python refuses negative ones.
    fn signed_length(&mut self, opcode: &'static str) -> Result<usize> {
        let length = i32::from_le_bytes(self.array()?);
        usize::try_from(length).map_err(|_| self.bad(opcode, "negative byte count"))
    }

    /// A protocol 0 argument: the bytes up to the next newline, which is consumed.
    fn line(&mut self) -> Result<&'a [u8]> {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        let length = rest
            .iter()
            .position(|byte| *byte == b'\n')
            .ok_or(PickleError::Truncated { at: self.at })?;
        let line = self.take(length)?;
        self.take(1)?;
        Ok(line)
    }

    fn integer(&self, opcode: &'static str, digits: &[u8]) -> Result<Obj> {
        match text::parse_integer(digits) {
            Ok(Integer::Small(value)) => Ok(Obj::Int(value)),
            Ok(Integer::Big(value)) => Ok(Obj::BigInt(value)),
            Err(problem) => Err(self.bad(opcode, problem)),
        }
    }

    fn push_text(&mut self, opcode: &'static str, length: usize) -> Result<()> {
        let bytes = self.take(length)?;
        let text = std::str::from_utf8(bytes).map_err(|error| {
            self.bad(
                opcode,
                format!("invalid utf-8 after {} bytes", error.valid_up_to()),
            )
        })?;
        self.push_new(Obj::Str(text.to_owned()))
    }

    fn push_bytes(&mut self, length: usize) -> Result<()> {
        let bytes = self.take(length)?.to_vec();
        self.push_new(Obj::Bytes(bytes))
    }

    // The stack. Pops never reach below the last MARK, as in Python.

    fn frame_base(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn push(&mut self, handle: Handle) -> Result<()> {
        if self.stack.len() >= self.max_items {
            return Err(PickleError::TooManyItems {
                limit: self.max_items,
            });
        }
        self.stack.push(handle);
        Ok(())
    }

    fn push_new(&mut self, obj: Obj) -> Result<()> {
        let handle = self.arena.add(obj)?;
        self.push(handle)
    }

    fn pop(&mut self, opcode: &'static str) -> Result<Handle> {
        if self.stack.len() <= self.frame_base() {
            return Err(PickleError::StackUnderflow {
                opcode,
                at: self.at,
            });
        }
        self.stack.pop().ok_or(PickleError::StackUnderflow {
            opcode,
            at: self.at,
        })
    }

    fn top(&self, opcode: &'static str) -> Result<Handle> {
        match self.stack.last() {
            Some(handle) if self.stack.len() > self.frame_base() => Ok(*handle),
            _ => Err(PickleError::StackUnderflow {
                opcode,
                at: self.at,
            }),
        }
    }

    /// Removes the last MARK and returns the items pushed since.
    fn pop_mark(&mut self, opcode: &'static str) -> Result<Vec<Handle>> {
        let mark = self.marks.pop().ok_or(PickleError::MissingMark {
            opcode,
            at: self.at,
        })?;
        if mark > self.stack.len() {
            return Err(PickleError::StackUnderflow {
                opcode,
                at: self.at,
            });
        }
        Ok(self.stack.split_off(mark))
    }

    fn small_tuple(&mut self, opcode: &'static str, count: usize) -> Result<()> {
        let mut items = vec![0; count];
        for slot in items.iter_mut().rev() {
            *slot = self.pop(opcode)?;
        }
        self.push_new(Obj::Tuple(items))
    }

    fn pairs(&self, opcode: &'static str, items: &[Handle]) -> Result<Vec<(Handle, Handle)>> {
        if !items.len().is_multiple_of(2) {
            return Err(self.bad(
                opcode,
                format!("{} items do not make key-value pairs", items.len()),
            ));
        }
        Ok(items
            .chunks_exact(2)
            .filter_map(|pair| match pair {
                [key, value] => Some((*key, *value)),
                _ => None,
            })
            .collect())
    }

    // The memo.

    fn get(&mut self, key: u64, opcode: &'static str) -> Result<()> {
        let handle = *self.memo.get(&key).ok_or(PickleError::MissingMemo {
            key,
            opcode,
            at: self.at,
        })?;
        self.push(handle)
    }

    fn put(&mut self, key: u64, opcode: &'static str) -> Result<()> {
        let handle = self.top(opcode)?;
        if self.memo.len() >= self.max_items && !self.memo.contains_key(&key) {
            return Err(PickleError::TooManyItems {
                limit: self.max_items,
            });
        }
        self.memo.insert(key, handle);
        Ok(())
    }

    // Calls.

    fn str_arg(&self, handle: Handle, opcode: &'static str) -> Result<String> {
        match self.arena.obj(handle) {
            Obj::Str(text) => Ok(text.clone()),
            _ => Err(PickleError::WrongType {
                opcode,
                at: self.at,
                expected: "str",
                found: self.arena.type_name(handle),
            }),
        }
    }

    /// REDUCE: calls one of the accepted callables with an argument tuple, in the shapes
    /// Python's pickler writes.
    fn reduce(&mut self) -> Result<()> {
        let at = self.at;
        let args = self.pop("REDUCE")?;
        let callee = self.pop("REDUCE")?;
        let callable = match self.arena.obj(callee) {
            Obj::Callable(callable) => *callable,
            _ => {
                let found = self.arena.type_name(callee);
                return Err(PickleError::WrongType {
                    opcode: "REDUCE",
                    at,
                    expected: "callable",
                    found,
                });
            }
        };
        let args = match self.arena.obj(args) {
            Obj::Tuple(items) => items.clone(),
            _ => {
                let found = self.arena.type_name(args);
                return Err(PickleError::WrongType {
                    opcode: "REDUCE",
                    at,
                    expected: "tuple of arguments",
                    found,
                });
            }
        };
        let bad_call = |problem: String| PickleError::BadCall {
            callable: callable.name(),
            at,
            problem,
        };
        let names: Vec<&str> = args.iter().map(|arg| self.arena.type_name(*arg)).collect();
        let arg_types = format!("arguments of types ({})", names.join(", "));
        let obj = match callable {
            Callable::Set | Callable::FrozenSet => {
                let items = match args.as_slice() {
                    [] => Vec::new(),
                    [iterable] => self
                        .arena
                        .iterable_items(*iterable)
                        .ok_or_else(|| bad_call(arg_types.clone()))?,
                    _ => return Err(bad_call(arg_types.clone())),
                };
                self.arena.charge_items(items.len())?;
                let keyed =
                    self.arena
                        .build_keyed(items.into_iter().map(|item| (item, item)), true, at)?;
                if callable == Callable::Set {
                    Obj::Set(Box::new(keyed))
                } else {
                    Obj::FrozenSet(Box::new(keyed))
                }
            }
            Callable::Bytes | Callable::ByteArray | Callable::Encode => {
                let bytes = match (callable, args.as_slice()) {
                    (Callable::Bytes | Callable::ByteArray, []) => Vec::new(),
                    (Callable::Bytes | Callable::ByteArray, [data]) => {
                        match self.arena.obj(*data) {
                            Obj::Bytes(bytes) => bytes.clone(),
                            _ => return Err(bad_call(arg_types)),
                        }
                    }
                    // `_codecs.encode(text, 'latin1')`, and Python 2's
                    // `bytearray(text, 'latin-1')`.
                    (_, [text, encoding]) => self
                        .encode(*text, *encoding)
                        .map_err(|problem| bad_call(problem.unwrap_or(arg_types)))?,
                    _ => return Err(bad_call(arg_types)),
                };
                self.arena.charge_data(bytes.len())?;
                Obj::Bytes(bytes)
            }
        };
        self.push_new(obj)
    }

    /// `text.encode(encoding)` for the encodings Python's picklers use for bytes. Fails with
    /// `None` when the argument types are wrong, or with a reason.
    fn encode(&self, text: Handle, encoding: Handle) -> Result<Vec<u8>, Option<String>> {
        let (Obj::Str(text), Obj::Str(encoding)) = (self.arena.obj(text), self.arena.obj(encoding))
        else {
            return Err(None);
        };
        match encoding.to_ascii_lowercase().replace('_', "-").as_str() {
            "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1" | "l1" => text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).ok())
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| Some("text that latin-1 cannot encode".to_string())),
            "utf-8" | "utf8" => Ok(text.as_bytes().to_vec()),
            _ => Err(Some(format!(
                "the unsupported encoding `{}`",
                sanitize(encoding.as_bytes())
            ))),
        }
    }
}

/// Maps a GLOBAL to an accepted callable or refuses it by name.
fn resolve(module: &[u8], name: &[u8]) -> Result<Callable> {
    Callable::resolve(module, name).ok_or_else(|| PickleError::Global {
        name: format!("{}.{}", sanitize(module), sanitize(name)),
    })
}

/// LONG1/LONG4 bytes: an `Int` when the value fits, as everywhere in the reader.
fn int_from_bytes(bytes: &[u8]) -> Obj {
    let big = BigInt::from_signed_bytes_le(bytes);
    match big.to_i64() {
        Some(value) => Obj::Int(value),
        None => Obj::BigInt(big),
    }
}

/// A Python 2 `str`: text if it is valid UTF-8, bytes otherwise (see the module notes).
fn python2_str(bytes: Vec<u8>) -> Obj {
    match String::from_utf8(bytes) {
        Ok(text) => Obj::Str(text),
        Err(error) => Obj::Bytes(error.into_bytes()),
    }
}
