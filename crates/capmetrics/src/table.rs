//! Reading a CSV file with a header, field by field, with errors that point at the cell.
//!
//! All three inputs (positions, stops, schedule) are read through this one reader, so a short
//! row, a bad number or invalid UTF-8 gets the same kind of message wherever it appears: the
//! file, the line and the column name. Columns are found by name, so extra or reordered
//! columns are fine and a missing one is reported up front.
//!
//! The tokenizer is our own rather than the `csv` crate's because parsing is most of the cost
//! of a day (and of loading a 400k-row schedule). The whole file is checked for UTF-8 once, up
//! front, so fields are plain `&str` slices afterwards. A line without a quote character, which
//! is nearly every line, is split on commas in place with no copying. Lines with quotes take an
//! RFC 4180 path (doubled quotes, commas and line breaks inside quotes) that unescapes into a
//! scratch buffer. Blank lines are skipped and CRLF endings accepted; a header holding a bare
//! carriage return (old Mac line ends) is refused, since the whole file would read as one line.
//!
//! Errors quote at most a short excerpt of a cell or line, and the header's names are kept as
//! slices of the input rather than copies, so a huge garbage file costs no more memory than its
//! own bytes.

use std::borrow::Cow;
use std::ops::Range;

use memchr::{memchr, memchr_iter, memchr2};

use crate::error::{Error, Result, excerpt, excerpt_of};
use crate::input::Input;
use crate::number::{Parsed, parse_decimal};

/// A CSV file being read record by record.
pub(crate) struct Table<'a> {
    file: &'a str,
    data: &'a str,
    /// Byte offset of the next record.
    at: usize,
    /// Line number (1-based) of the next byte at `at`.
    line: u64,
    /// The column names, trimmed: slices of `data` unless the header needed unescaping.
    header: Vec<Cow<'a, str>>,
    /// The header line as it is in `data`, without its line end, for error messages.
    header_line: Range<usize>,
    /// Field ranges of the current record, into `data` or into `scratch`.
    fields: Vec<Range<usize>>,
    scratch: String,
    in_scratch: bool,
    /// Finds the commas, quotes and line feeds.
    structural: Structural<'a>,
    /// The scan is behind `at`, because a caller read lines itself ([`Table::skip_line`]).
    scan_stale: bool,
    /// Once looked for: the offset of the first quote at or after the place it was looked for
    /// from, or `None` if there is none. Not looked for before a record after the header is
    /// split here, so a file read entirely by a caller's own fast path is not scanned for it.
    next_quote: Option<Option<usize>>,
}

impl<'a> Table<'a> {
    pub(crate) fn open(input: &'a Input) -> Result<Table<'a>> {
        let data = match std::str::from_utf8(input.bytes()) {
            Ok(text) => text,
            Err(e) => return Err(utf8_error(input, e.valid_up_to())),
        };
        let mut table = Table {
            file: input.name(),
            data,
            at: 0,
            line: 1,
            header: Vec::new(),
            header_line: 0..0,
            fields: Vec::new(),
            scratch: String::new(),
            in_scratch: false,
            structural: Structural::new(data.as_bytes(), 0, true),
            scan_stale: false,
            next_quote: None,
        };
        if table.data.starts_with('\u{feff}') {
            table.at = 3;
        }
        // The header is split by a scan that assumes quotes may come.
        table.structural = Structural::new(data.as_bytes(), table.at, true);
        let header_start = table.at;
        // Old Mac line ends make the whole file one line; say so before splitting it.
        let first_line = {
            let rest = &data.as_bytes()[header_start..];
            let line = &rest[..memchr(b'\n', rest).unwrap_or(rest.len())];
            line.strip_suffix(b"\r").unwrap_or(line)
        };
        if memchr(b'\r', first_line).is_some() {
            return Err(table.bare_carriage_return(first_line));
        }
        if table.read_record()?.is_none() {
            return Err(Error::NoHeader {
                file: table.file.to_owned(),
            });
        }
        let mut header_end = table.at.min(data.len());
        while header_end > header_start && matches!(data.as_bytes()[header_end - 1], b'\n' | b'\r')
        {
            header_end -= 1;
        }
        table.header_line = header_start..header_end;
        // The same after leading blank lines; a quoted header may hold a line break.
        let header_line = &data.as_bytes()[table.header_line.clone()];
        if !table.in_scratch && memchr(b'\r', header_line).is_some() {
            return Err(table.bare_carriage_return(header_line));
        }
        table.header = (0..table.fields.len())
            .map(|i| {
                let range = table.fields[i].clone();
                if table.in_scratch {
                    Cow::Owned(table.scratch[range].trim().to_owned())
                } else {
                    Cow::Borrowed(data[range].trim())
                }
            })
            .collect();
        // Records after the header are split by a scan that knows whether quotes follow.
        table.scan_stale = true;
        Ok(table)
    }

    /// The index of the named column, or an error naming the file and the missing column.
    pub(crate) fn column(&self, name: &'static str) -> Result<usize> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| Error::MissingColumn {
                file: self.file.to_owned(),
                column: name,
                header: excerpt_of(
                    &self.data.as_bytes()[self.header_line.clone()],
                    HEADER_EXCERPT_CHARS,
                ),
            })
    }

    /// Offset of the next record (or of blank lines before it) in [`text`](Self::text).
    pub(crate) fn offset(&self) -> usize {
        self.at
    }

    /// Moves past one line that the caller read itself, from [`offset`](Self::offset) to
    /// `next` (just after its line feed, or the end of the data). The caller vouches that it
    /// was one non-blank record of one line, with no quote in it.
    pub(crate) fn skip_line(&mut self, next: usize) {
        self.at = next;
        self.line += 1;
        self.scan_stale = true;
    }

    /// The whole input as text (it was validated as UTF-8 when the table was opened).
    pub(crate) fn text(&self) -> &'a str {
        self.data
    }

    /// The column names, in order.
    pub(crate) fn header(&self) -> &[Cow<'a, str>] {
        &self.header
    }

    /// Advances to the next record. Checks its field count and its UTF-8 before anyone looks
    /// at a field.
    pub(crate) fn next_row(&mut self) -> Result<Option<Row<'_>>> {
        self.next(true)
    }

    /// Like [`next_row`](Self::next_row), but accepts records of any length.
    pub(crate) fn next_row_any_length(&mut self) -> Result<Option<Row<'_>>> {
        self.next(false)
    }

    fn next(&mut self, check_length: bool) -> Result<Option<Row<'_>>> {
        let Some(line) = self.read_record()? else {
            return Ok(None);
        };
        if check_length && self.fields.len() != self.header.len() {
            return Err(Error::FieldCount {
                file: self.file.to_owned(),
                line,
                expected: self.header.len(),
                found: self.fields.len(),
            });
        }
        let source = if self.in_scratch {
            &self.scratch[..]
        } else {
            self.data
        };
        Ok(Some(Row {
            file: self.file,
            line,
            source,
            fields: &self.fields,
            unescaped: self.in_scratch,
        }))
    }

    /// Splits the next non-blank record into `fields`. Returns its first line number, or
    /// `None` at the end of the data.
    ///
    /// One scan over the whole file finds every comma, quote and line feed; the plain path
    /// just turns those offsets into field ranges. A quote anywhere in a record hands that
    /// record to the RFC 4180 path, and the scan restarts after it.
    fn read_record(&mut self) -> Result<Option<u64>> {
        if self.scan_stale {
            self.restart_scan();
        }
        let bytes = self.data.as_bytes();
        loop {
            if self.at >= bytes.len() {
                return Ok(None);
            }
            let first_line = self.line;
            let record_start = self.at;
            self.in_scratch = false;
            self.fields.clear();
            let mut field_start = record_start;
            let end = loop {
                match self.structural.next() {
                    Some(p) if bytes[p] == b',' => {
                        if self.fields.len() == MAX_FIELDS {
                            return Err(self.too_many_fields(first_line));
                        }
                        self.fields.push(field_start..p);
                        field_start = p + 1;
                    }
                    Some(p) if bytes[p] == b'\n' => break p,
                    Some(_) => {
                        // A quote: this record needs unescaping.
                        self.at = record_start;
                        self.split_quoted(first_line)?;
                        self.restart_scan();
                        return Ok(Some(first_line));
                    }
                    None => break bytes.len(),
                }
            };
            let content_end = if end > field_start && bytes[end - 1] == b'\r' {
                end - 1
            } else {
                end
            };
            self.fields.push(field_start..content_end);
            self.at = end + 1;
            self.line += 1;
            if self.fields.len() == 1 && content_end == record_start {
                continue; // a blank line
            }
            return Ok(Some(first_line));
        }
    }

    fn bare_carriage_return(&self, header: &[u8]) -> Error {
        Error::Csv {
            file: self.file.to_owned(),
            line: 1,
            detail: format!(
                "the header {} holds a carriage return that does not end a line; lines must end \
                 in \\n or \\r\\n, not in a bare \\r (old Mac line ends)",
                excerpt(header)
            ),
        }
    }

    fn too_many_fields(&self, line: u64) -> Error {
        Error::Csv {
            file: self.file.to_owned(),
            line,
            detail: format!("more than {MAX_FIELDS} fields on one line"),
        }
    }

    fn restart_scan(&mut self) {
        let bytes = self.data.as_bytes();
        // Each quote is looked for once however often the scan restarts, so restarting after
        // every line costs no pass over the rest of the file.
        let stale = match self.next_quote {
            None => true,
            Some(next) => next.is_some_and(|q| q < self.at),
        };
        if stale {
            let from = self.at.min(bytes.len());
            self.next_quote = Some(memchr(b'"', &bytes[from..]).map(|q| q + from));
        }
        self.structural = Structural::new(bytes, self.at, self.next_quote.flatten().is_some());
        self.scan_stale = false;
    }

    /// The RFC 4180 path: quoted fields may hold commas, doubled quotes and line breaks.
    fn split_quoted(&mut self, first_line: u64) -> Result<()> {
        self.in_scratch = true;
        self.fields.clear();
        self.scratch.clear();
        // Every split point below is an ASCII byte, so all slices fall on char boundaries.
        let data = self.data;
        let bytes = data.as_bytes();
        let mut i = self.at;
        loop {
            let field_start = self.scratch.len();
            if bytes.get(i) == Some(&b'"') {
                i += 1;
                loop {
                    let Some(q) = memchr(b'"', &bytes[i..]) else {
                        return Err(Error::Csv {
                            file: self.file.to_owned(),
                            line: first_line,
                            detail: "a quoted field is never closed".to_owned(),
                        });
                    };
                    self.line += memchr_iter(b'\n', &bytes[i..i + q]).count() as u64;
                    self.scratch.push_str(&data[i..i + q]);
                    i += q + 1;
                    if bytes.get(i) == Some(&b'"') {
                        self.scratch.push('"');
                        i += 1;
                    } else {
                        break;
                    }
                }
            }
            // Unquoted text (or text after a closing quote) runs to the next comma or line end.
            let rest = &bytes[i..];
            let stop = memchr2(b',', b'\n', rest).unwrap_or(rest.len());
            self.scratch.push_str(&data[i..i + stop]);
            i += stop;
            let at_line_end = bytes.get(i) != Some(&b',');
            if at_line_end && self.scratch.len() > field_start && self.scratch.ends_with('\r') {
                self.scratch.pop();
            }
            if self.fields.len() == MAX_FIELDS {
                return Err(self.too_many_fields(first_line));
            }
            self.fields.push(field_start..self.scratch.len());
            i += 1;
            if at_line_end {
                self.line += 1;
                break;
            }
        }
        self.at = i.min(data.len());
        Ok(())
    }
}

/// The most fields a record may have. Real files have under twenty; the limit keeps a file of
/// nothing but commas from costing 16 bytes of field ranges per byte of input.
const MAX_FIELDS: usize = 4096;

/// The most characters of a header line a "missing column" message quotes: real headers (up
/// to about 90 characters) are shown whole.
const HEADER_EXCERPT_CHARS: usize = 200;

/// Yields the offsets of every `,`, `"` and `\n`, in order, eight bytes at a time.
///
/// Each 8-byte word is tested for the three bytes at once with the classic "has zero byte" bit
/// trick, so the cost is a handful of integer operations per word plus a few per match. A
/// per-call search such as `memchr3` pays its setup cost at every comma, which on 10-byte
/// fields is most of the work.
#[derive(Debug)]
struct Structural<'a> {
    bytes: &'a [u8],
    /// False when the input holds no quote at all, so only commas and line feeds are sought.
    quotes: bool,
    /// Start of the current word.
    base: usize,
    /// Bit 8k+7 is set for each structural byte k of the current word not yet returned.
    mask: u64,
}

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const ONES: u64 = 0x0101_0101_0101_0101;

impl<'a> Structural<'a> {
    /// A scan from `from`; `quotes` says whether any quote follows.
    fn new(bytes: &'a [u8], from: usize, quotes: bool) -> Structural<'a> {
        let mut scan = Structural {
            bytes,
            quotes,
            base: from,
            mask: 0,
        };
        scan.mask = scan.word_mask();
        scan
    }

    fn word_mask(&self) -> u64 {
        let word = match self.bytes.get(self.base..self.base + 8) {
            Some(full) => <[u8; 8]>::try_from(full).unwrap_or_default(),
            None => {
                // The last, partial word; zero bytes are not structural.
                let mut word = [0u8; 8];
                let rest = self.bytes.get(self.base..).unwrap_or_default();
                word[..rest.len()].copy_from_slice(rest);
                word
            }
        };
        let w = u64::from_le_bytes(word);
        let delimiters =
            zero_bytes(w ^ (ONES * u64::from(b','))) | zero_bytes(w ^ (ONES * u64::from(b'\n')));
        if self.quotes {
            delimiters | zero_bytes(w ^ (ONES * u64::from(b'"')))
        } else {
            delimiters
        }
    }

    fn next(&mut self) -> Option<usize> {
        loop {
            if self.mask != 0 {
                let at = self.base + (self.mask.trailing_zeros() / 8) as usize;
                self.mask &= self.mask - 1;
                return Some(at);
            }
            self.base += 8;
            if self.base >= self.bytes.len() {
                return None;
            }
            self.mask = self.word_mask();
        }
    }
}

/// Sets the high bit of exactly the zero bytes of `x`.
fn zero_bytes(x: u64) -> u64 {
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// Reports invalid UTF-8 at byte `offset` with its line and column.
fn utf8_error(input: &Input, offset: usize) -> Error {
    let bytes = input.bytes();
    let line_start = memchr::memrchr(b'\n', &bytes[..offset]).map_or(0, |i| i + 1);
    let line = 1 + memchr_iter(b'\n', &bytes[..offset]).count() as u64;
    // The column is counted on the raw line; good enough unless quotes hide commas before it.
    let field = memchr_iter(b',', &bytes[line_start..offset]).count();
    let header_end = memchr(b'\n', bytes).unwrap_or(bytes.len());
    let header = bytes[..header_end]
        .strip_prefix("\u{feff}".as_bytes())
        .unwrap_or(&bytes[..header_end]);
    // Only the one name is looked at (the header may be the whole, huge, file), and a name too
    // long to be a real column is shown by its number instead.
    let name = header
        .split(|&b| b == b',')
        .nth(field)
        .filter(|name| name.len() <= crate::error::EXCERPT_CHARS)
        .map(|name| String::from_utf8_lossy(name).trim().to_owned())
        .filter(|name| !name.is_empty());
    let column = name.unwrap_or_else(|| format!("#{}", field + 1));
    Error::Utf8 {
        file: input.name().to_owned(),
        line,
        column,
    }
}

/// One record whose field count has been checked.
pub(crate) struct Row<'r> {
    file: &'r str,
    line: u64,
    source: &'r str,
    fields: &'r [Range<usize>],
    /// True when the fields live in the scratch buffer rather than in the input.
    unescaped: bool,
}

impl<'r> Row<'r> {
    /// Number of fields.
    pub(crate) fn len(&self) -> usize {
        self.fields.len()
    }

    pub(crate) fn bytes(&self, index: usize) -> &'r [u8] {
        self.text(index).as_bytes()
    }

    /// The field as text.
    pub(crate) fn text(&self, index: usize) -> &'r str {
        self.fields
            .get(index)
            .map_or("", |r| &self.source[r.clone()])
    }

    /// The field's byte range in the input, when the record needed no unescaping, so that the
    /// field can be referred to later without copying it.
    pub(crate) fn span(&self, index: usize) -> Option<Range<usize>> {
        if self.unescaped {
            None
        } else {
            self.fields.get(index).cloned()
        }
    }

    /// An error about the field at `index`, quoting its value.
    pub(crate) fn error(
        &self,
        index: usize,
        column: &'static str,
        problem: impl Into<String>,
    ) -> Error {
        Error::Field {
            file: self.file.to_owned(),
            line: self.line,
            column,
            problem: problem.into(),
            value: excerpt(self.bytes(index)),
        }
    }

    /// A finite decimal number.
    pub(crate) fn float(&self, index: usize, column: &'static str) -> Result<Parsed> {
        self.optional_float(index, column)?
            .ok_or_else(|| self.error(index, column, "empty value"))
    }

    /// A finite decimal number, or `None` when the field is empty.
    pub(crate) fn optional_float(
        &self,
        index: usize,
        column: &'static str,
    ) -> Result<Option<Parsed>> {
        let text = self.text(index);
        if text.is_empty() {
            return Ok(None);
        }
        match parse_decimal(text).or_else(|| parse_decimal(text.trim())) {
            Some(parsed) => Ok(Some(parsed)),
            None => Err(self.error(index, column, "not a number")),
        }
    }

    /// A non-negative integer id.
    pub(crate) fn id(&self, index: usize, column: &'static str) -> Result<u64> {
        self.optional_id(index, column)?
            .ok_or_else(|| self.error(index, column, "empty value"))
    }

    /// A non-negative integer id, or `None` when the field is empty.
    pub(crate) fn optional_id(&self, index: usize, column: &'static str) -> Result<Option<u64>> {
        let bytes = self.bytes(index);
        if bytes.is_empty() {
            return Ok(None);
        }
        let mut value = 0u64;
        for &c in bytes {
            let digit = c.wrapping_sub(b'0');
            if digit > 9 {
                return Err(self.error(index, column, "not an integer id"));
            }
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(digit)))
                .ok_or_else(|| self.error(index, column, "integer id too large"))?;
        }
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Result<Vec<(u64, Vec<String>)>> {
        let input = Input::from_bytes("t.csv", text.as_bytes().to_vec())?;
        let mut table = Table::open(&input)?;
        let mut out = Vec::new();
        while let Some(row) = table.next_row()? {
            let n = row.len();
            out.push((row.line, (0..n).map(|i| row.text(i).to_owned()).collect()));
        }
        Ok(out)
    }

    #[test]
    fn plain_quoted_blank_and_crlf() {
        let got = rows("a,b,c\r\n1,2,3\r\n\r\n\"x,y\",\"he said \"\"hi\"\"\",\"two\nlines\"\n4,,6")
            .unwrap();
        assert_eq!(
            got,
            [
                (2, vec!["1".into(), "2".into(), "3".into()]),
                (
                    4,
                    vec!["x,y".into(), "he said \"hi\"".into(), "two\nlines".into()]
                ),
                (6, vec!["4".into(), String::new(), "6".into()]),
            ]
        );
    }

    #[test]
    fn line_numbers_after_multiline_fields() {
        let err = rows("a,b\n\"1\n\n\",2\n3\n").unwrap_err();
        assert!(err.to_string().contains("line 5"), "{err}");
        let err = rows("a,b\n1,\"never closed\n").unwrap_err();
        assert!(
            err.to_string().contains("line 2") && err.to_string().contains("never closed"),
            "{err}"
        );
    }

    #[test]
    fn structural_scan_finds_every_delimiter() {
        let text = b"ab,c\"d\n,,x\n0123456789,\"\"\n\n";
        for from in 0..text.len() {
            let mut scan = Structural::new(text, from, memchr(b'"', &text[from..]).is_some());
            let found: Vec<usize> = std::iter::from_fn(|| scan.next()).collect();
            let expected: Vec<usize> = (from..text.len())
                .filter(|&i| matches!(text[i], b',' | b'"' | b'\n'))
                .collect();
            assert_eq!(found, expected, "from {from}");
        }
    }

    #[test]
    fn header_only_and_empty() {
        assert!(rows("a,b\n").unwrap().is_empty());
        assert!(matches!(rows(""), Err(Error::NoHeader { .. })));
        assert!(matches!(rows("\n\n"), Err(Error::NoHeader { .. })));
    }

    #[test]
    fn bare_carriage_returns_in_the_header_are_refused() {
        for text in ["a,b\r1,2\r", "\n\na,b\r1,2\r3,4"] {
            let err = rows(text).unwrap_err().to_string();
            assert!(
                err.contains("line 1") && err.contains("bare \\r"),
                "{text:?}: {err}"
            );
        }
        // A CRLF file whose quoted header name spans lines is fine.
        let got = rows("\"a\r\nx\",b\r\n1,2\r\n").unwrap();
        assert_eq!(got, [(3, vec!["1".into(), "2".into()])]);
    }
}
