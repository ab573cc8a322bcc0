//! Text for people: counts with their noun ("1 job", "3,000 jobs"), and job data made safe to
//! show on a terminal.
//!
//! Job ids, function names, arguments and error messages come from whoever can enqueue. Written
//! raw to a terminal or a log, a newline in one forges a line of its own and an escape sequence
//! rewrites what the operator sees, so control characters are shown escaped, as Rust writes them
//! (`\n`, `\u{1b}`).

use std::borrow::Cow;
use std::fmt;

/// `n` and the noun that goes with it, thousands grouped: "1 job", "0 jobs", "3,000 jobs".
pub fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { one } else { many })
}

/// `1 day`, `2 days`: a count and a noun whose plural takes an `s`.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = usize::try_from(n.into()).unwrap_or(usize::MAX);
    counted(n, noun, &format!("{noun}s"))
}

/// `n` with its thousands grouped by commas: "3,000".
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Writes `rows` (the first is the header) as columns padded to their widest cell, two spaces
/// apart; columns for which `right(column)` holds are right-aligned (numbers), the others left.
/// The last column is never padded, and lines carry no trailing spaces.
pub fn write_columns(
    out: &mut impl std::io::Write,
    rows: &[Vec<String>],
    right: impl Fn(usize) -> bool,
) -> std::io::Result<()> {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |cell| cell.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            let width = widths.get(c).copied().unwrap_or(0);
            if c + 1 == columns {
                line.push_str(cell);
            } else if right(c) {
                line.push_str(&format!("{cell:>width$}  "));
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// True for the characters that must not reach a terminal or a log raw: the C0 and C1 controls
/// (newlines, ESC, …), DEL, the Unicode line and paragraph separators, and the bidirectional
/// controls (which reorder what a reader sees).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every unsafe character escaped (`\n`, `\r`, `\t`, else `\u{…}`); borrowed when
/// there is nothing to escape.
pub fn escaped(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let _ = Escaping(&mut out).write_str_escaped(text);
    Cow::Owned(out)
}

/// `text` escaped except for its line ends: for multi-line text shown as lines, such as a
/// traceback (`\r` is escaped, so a line cannot overwrite the one before it).
pub fn escaped_lines(text: &str) -> String {
    text.split('\n')
        .map(|line| escaped(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A `fmt::Write` that escapes unsafe characters on their way through to the inner writer.
pub struct Escaping<W>(pub W);

impl<W: fmt::Write> Escaping<W> {
    fn write_str_escaped(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some(at) = rest.find(is_unsafe) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                c => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

impl<W: fmt::Write> fmt::Write for Escaping<W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.write_str_escaped(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_their_noun_and_group_thousands() {
        assert_eq!(counted(0, "job", "jobs"), "0 jobs");
        assert_eq!(counted(1, "job", "jobs"), "1 job");
        assert_eq!(counted(2, "job", "jobs"), "2 jobs");
        assert_eq!(counted(999, "job", "jobs"), "999 jobs");
        assert_eq!(counted(3_000, "job", "jobs"), "3,000 jobs");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(100_000), "100,000");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escaped("plain text é ✓"), "plain text é ✓");
        assert!(matches!(escaped("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escaped("a\nb\r\tc\u{1b}[31mred\u{7f}\u{85}\u{9b}"),
            "a\\nb\\r\\tc\\u{1b}[31mred\\u{7f}\\u{85}\\u{9b}"
        );
        assert_eq!(
            escaped("\u{202e}evil\u{2066}\u{2028}\u{0}"),
            "\\u{202e}evil\\u{2066}\\u{2028}\\u{0}"
        );
        assert_eq!(
            escaped_lines("Traceback:\n  \u{1b}[2Jline\r\n"),
            "Traceback:\n  \\u{1b}[2Jline\\r\n"
        );
    }
}
