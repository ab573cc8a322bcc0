//! A safe reader and writer of Python pickles that hold built-in values only.
//!
//! Python RQ stores each job as `pickle.dumps((func_name, instance, args, kwargs))` and reads
//! return values the same way, so a Rust worker has to speak pickle. A pickle is a program for a
//! small stack machine that can import and call anything, so this crate implements only the part
//! of that machine that builds plain data — `None`, `bool`, `int`, `float`, `str`, `bytes`,
//! `list`, `tuple`, `dict`, `set`, `frozenset` — and refuses every opcode or global that would
//! run code or build other objects. Nothing is ever executed, and hostile input meets hard
//! limits on size, nesting and expansion instead of panics or stack overflows.
//!
//! Contents:
//! - [`value`] holds [`Value`], the decoded data, with accessors and a Python-`repr`-like
//!   `Display`.
//! - [`bigint`] holds [`BigInt`], integers outside `i64`, kept exactly.
//! - [`error`] holds [`PickleError`].
//! - `read` is the pickle machine behind [`loads`] (protocols 0–5), with `arena` holding the
//!   objects it builds and `text` decoding protocol 0's text arguments.
//! - `write` is [`dumps`], which writes protocol 2.
//! - `opcodes` names the opcode bytes both sides share.

mod arena;
pub mod bigint;
pub mod error;
mod opcodes;
mod read;
mod text;
pub mod value;
mod write;

pub use bigint::BigInt;
pub use error::PickleError;
pub use value::Value;

/// Bounds on what [`loads_with`] accepts, so hostile input costs bounded time and memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest pickle accepted, in bytes. Text and binary data in the result may total at most
    /// four times this (shared references can repeat a string legitimately, but not endlessly).
    pub max_input: usize,
    /// Deepest container nesting accepted: `[[1]]` nests 2 levels. Values are dropped,
    /// compared and displayed recursively, so the reader never goes past
    /// [`Limits::HARD_MAX_DEPTH`] whatever this says.
    pub max_depth: usize,
    /// Most objects the pickle may build, and most values the result may hold once shared
    /// references are expanded into copies. Also bounds the stack, the memo and the steps
    /// spent comparing dict keys and set items.
    pub max_items: usize,
}

impl Limits {
    /// Ceiling on `max_depth`: Python's own recursion limit is 1000, so its pickler cannot
    /// produce anything deeper, and deeper `Value`s would risk the stack when dropped.
    pub const HARD_MAX_DEPTH: usize = 1000;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input: 16 * 1024 * 1024,
            max_depth: 200,
            max_items: 1_000_000,
        }
    }
}

/// Decodes a pickle of any protocol from 0 to 5 under the default [`Limits`].
///
/// Bytes after the final STOP opcode are ignored, as Python's `pickle.loads` ignores them.
pub fn loads(bytes: &[u8]) -> Result<Value, PickleError> {
    loads_with(bytes, &Limits::default())
}

/// Decodes a pickle of any protocol from 0 to 5 under the given limits.
pub fn loads_with(bytes: &[u8], limits: &Limits) -> Result<Value, PickleError> {
    read::load(bytes, limits)
}

/// Encodes a value as a protocol 2 pickle that any Python 3 (and Python 2) reads back as the
/// same built-in value. `bytes` are written the way Python 3 writes them at protocol 2, through
/// `_codecs.encode(text, 'latin1')`, so Python 3 gets `bytes` rather than `str`.
pub fn dumps(value: &Value) -> Vec<u8> {
    write::dumps(value)
}
