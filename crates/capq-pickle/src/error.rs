//! [`PickleError`]: every way [`crate::loads`] can refuse a pickle.
//!
//! Job payloads come from whoever can write to Redis, so a refusal has to say precisely what
//! was wrong (which global, which opcode, which byte) for an operator reading a failed job,
//! without echoing unbounded attacker-chosen text: names taken from the input are shortened and
//! their control characters escaped.

/// Why a pickle was not decoded. Byte positions count from 0 and point at the opcode at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PickleError {
    #[error("pickle is {len} bytes, more than the limit of {limit}")]
    TooLarge { len: usize, limit: usize },

    #[error("truncated pickle at byte {at}")]
    Truncated { at: usize },

    #[error("unknown pickle opcode 0x{opcode:02x} at byte {at}")]
    UnknownOpcode { opcode: u8, at: usize },

    #[error("unsupported pickle protocol {protocol} at byte {at}")]
    UnsupportedProtocol { protocol: u8, at: usize },

    /// A GLOBAL, STACK_GLOBAL or INST naming anything but the few built-ins the reader knows.
    #[error("pickle refers to `{name}`; only built-in values are accepted")]
    Global { name: String },

    /// An opcode that builds objects, sets their state or reaches outside the pickle.
    #[error("pickle opcode {opcode} at byte {at} {action}; only built-in values are accepted")]
    Refused {
        opcode: &'static str,
        at: usize,
        action: &'static str,
    },

    /// One of the accepted built-in callables (such as `builtins.set`) called with arguments
    /// that Python's own pickler never writes.
    #[error("pickle calls `{callable}` at byte {at} with {problem}")]
    BadCall {
        callable: &'static str,
        at: usize,
        problem: String,
    },

    #[error("pickle opcode {opcode} at byte {at} needs a {expected} but finds a `{found}`")]
    WrongType {
        opcode: &'static str,
        at: usize,
        expected: &'static str,
        found: &'static str,
    },

    #[error(
        "pickle uses a `{type_name}` as a dict key or set item at byte {at}; only hashable built-in values are accepted"
    )]
    Unhashable { type_name: &'static str, at: usize },

    #[error("pickle stack underflow at byte {at} ({opcode})")]
    StackUnderflow { opcode: &'static str, at: usize },

    #[error("pickle opcode {opcode} at byte {at} has no matching MARK")]
    MissingMark { opcode: &'static str, at: usize },

    #[error("pickle memo has no entry {key} for {opcode} at byte {at}")]
    MissingMemo {
        key: u64,
        opcode: &'static str,
        at: usize,
    },

    #[error("malformed {opcode} argument at byte {at}: {problem}")]
    BadArgument {
        opcode: &'static str,
        at: usize,
        problem: String,
    },

    #[error("pickle nests deeper than {limit} levels")]
    TooDeep { limit: usize },

    #[error("pickle expands to more than {limit} items")]
    TooManyItems { limit: usize },

    #[error("pickle expands to more than {limit} bytes of text and binary data")]
    TooMuchData { limit: usize },

    #[error("pickle needs more than {limit} steps to compare dict keys and set items")]
    TooMuchComparing { limit: usize },

    #[error("pickle holds a recursive structure")]
    Recursive,

    /// The result (or part of it) is one of the accepted callables rather than a value.
    #[error("pickle holds the callable `{name}` itself rather than a value")]
    CallableValue { name: &'static str },
}

/// Longest input-derived name an error message repeats.
const MAX_NAME_CHARS: usize = 120;

/// Makes input-derived text safe to put in an error: lossy UTF-8, control characters escaped,
/// long text cut with an ellipsis.
pub(crate) fn sanitize(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == MAX_NAME_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_escapes_and_shortens() {
        assert_eq!(sanitize(b"os\nsystem"), "os\\nsystem");
        assert_eq!(sanitize(b"\xff"), "\u{fffd}");
        let long = sanitize(&[b'a'; 500]);
        assert_eq!(long.chars().count(), MAX_NAME_CHARS + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn messages_read_as_specified() {
        let global = PickleError::Global {
            name: "datetime.date".into(),
        };
        assert_eq!(
            global.to_string(),
            "pickle refers to `datetime.date`; only built-in values are accepted"
        );
        assert_eq!(
            PickleError::Truncated { at: 17 }.to_string(),
            "truncated pickle at byte 17"
        );
        assert_eq!(
            PickleError::UnknownOpcode {
                opcode: 0xff,
                at: 3
            }
            .to_string(),
            "unknown pickle opcode 0xff at byte 3"
        );
        assert_eq!(
            PickleError::TooDeep { limit: 200 }.to_string(),
            "pickle nests deeper than 200 levels"
        );
        assert_eq!(
            PickleError::TooManyItems { limit: 1_000_000 }.to_string(),
            "pickle expands to more than 1000000 items"
        );
    }
}
