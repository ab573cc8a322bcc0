//! A processed-day CSV (SPEC.md §4) as an index of records and fields over its bytes.
//!
//! A diff compares every field of a changed row and a handful of fields of every other row, so
//! the reader splits the whole file once into field spans (offsets, no copies) and leaves the
//! parsing of values to whoever asks for them. Most files have no quote character at all: then
//! commas and line feeds are all separators and one SIMD scan (`memchr2`) finds them. A file
//! with a quote anywhere takes an RFC 4180 path that writes unquoted field text into an arena.
//! Each record keeps its raw span too, so two rows whose text is the same are recognised
//! without looking at their fields. A table can also index only some lines of a file
//! ([`Table::from_lines`]): the rows a day's comparison could not match by their text.
//!
//! Errors name the file, the line and, for values, the column.

use std::borrow::Cow;

use capmetrics::Input;

use crate::Error;

/// A byte range of the file (or of the arena), kept in 32 bits: a day is a few megabytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn of(start: usize, end: usize) -> Span {
        // Both fit: `Table::parse` refuses files of 4 GiB or more.
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A record: its text as written and the line it starts on (0: not counted yet).
#[derive(Debug, Clone, Copy)]
struct Record {
    raw: Span,
    line: u32,
}

/// The records of one processed CSV, with every field's position.
#[derive(Debug)]
pub(crate) struct Table<'a> {
    file: String,
    data: Cow<'a, [u8]>,
    /// Unquoted field text, when the file has quotes; fields then point here.
    arena: Option<Vec<u8>>,
    columns: Vec<String>,
    records: Vec<Record>,
    /// `columns.len()` spans per record.
    fields: Vec<Span>,
}

/// The bytes of a CSV as stored (plain or gzip), decompressed; plain bytes are not copied.
pub(crate) fn decompress(file: &str, raw: Vec<u8>) -> Result<Vec<u8>, Error> {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    match Input::from_bytes(file, raw) {
        Ok(input) => Ok(input.bytes().to_vec()),
        Err(e) => Err(Error::Input {
            file: file.to_owned(),
            detail: e.to_string(),
        }),
    }
}

/// The column names of a CSV's header and where its body starts.
pub(crate) fn header(file: &str, data: &[u8]) -> Result<(Vec<String>, usize), Error> {
    if u32::try_from(data.len()).is_err() {
        return Err(Error::Input {
            file: file.to_owned(),
            detail: "too large to compare (4 GiB or more)".into(),
        });
    }
    let bom = if data.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let header_end = memchr::memchr(b'\n', &data[bom..]).map_or(data.len(), |i| bom + i);
    let header = &data[bom..header_end];
    let header = header.strip_suffix(b"\r").unwrap_or(header);
    if header.is_empty() {
        return Err(Error::NoHeader {
            file: file.to_owned(),
        });
    }
    let header_text = String::from_utf8_lossy(header);
    let columns: Vec<String> = header_text
        .split(',')
        .map(|name| name.trim_matches('"').to_owned())
        .collect();
    for (i, name) in columns.iter().enumerate() {
        if columns[..i].contains(name) {
            return Err(Error::RepeatedColumn {
                file: file.to_owned(),
                column: name.clone(),
            });
        }
    }
    Ok((columns, (header_end + 1).min(data.len())))
}

impl<'a> Table<'a> {
    /// Indexes a whole CSV (already decompressed), naming `file` in errors.
    pub(crate) fn parse(file: String, data: Cow<'a, [u8]>) -> Result<Table<'a>, Error> {
        let (columns, body_start) = header(&file, &data)?;
        let mut table = Table {
            file,
            data,
            arena: None,
            columns,
            records: Vec::new(),
            fields: Vec::new(),
        };
        if memchr::memchr(b'"', &table.data[body_start..]).is_some() {
            table.split_quoted(body_start)?;
        } else {
            table.split_plain(body_start)?;
        }
        Ok(table)
    }

    /// Indexes only the given lines (`(start, end)` spans without their line ends) of a CSV
    /// without quotes, whose header is `columns`.
    pub(crate) fn from_lines(
        file: String,
        data: &'a [u8],
        columns: Vec<String>,
        lines: &[(usize, usize)],
    ) -> Result<Table<'a>, Error> {
        let width = columns.len();
        let mut table = Table {
            file,
            data: Cow::Borrowed(data),
            arena: None,
            columns,
            records: Vec::with_capacity(lines.len()),
            fields: Vec::with_capacity(lines.len() * width),
        };
        for &(start, end) in lines {
            let mut field_start = start;
            for comma in memchr::memchr_iter(b',', &data[start..end]) {
                table.fields.push(Span::of(field_start, start + comma));
                field_start = start + comma + 1;
            }
            table.fields.push(Span::of(field_start, end));
            table.records.push(Record {
                raw: Span::of(start, end),
                line: 0,
            });
            let found = table.fields.len() - (table.records.len() - 1) * width;
            if found != width {
                let line = table.line(table.records.len() - 1);
                return Err(table.field_count(line, found));
            }
        }
        Ok(table)
    }

    /// The fast path: no quotes, so every comma and line feed is a separator.
    fn split_plain(&mut self, body_start: usize) -> Result<(), Error> {
        let width = self.columns.len();
        // About 150 bytes per record in real files.
        let estimate = (self.data.len() - body_start) / 128;
        self.records.reserve(estimate);
        self.fields.reserve(estimate * width);
        let mut field_start = body_start;
        let mut record_start = body_start;
        let mut found = 0usize;
        let mut line = 2u64;
        let data = &self.data;
        for offset in memchr::memchr2_iter(b',', b'\n', &data[body_start..]) {
            let pos = body_start + offset;
            if data[pos] == b',' {
                self.fields.push(Span::of(field_start, pos));
                found += 1;
                field_start = pos + 1;
                continue;
            }
            let end = if pos > field_start && data[pos - 1] == b'\r' {
                pos - 1
            } else {
                pos
            };
            // A blank line holds no record.
            if found > 0 || end > record_start {
                self.fields.push(Span::of(field_start, end));
                found += 1;
                if found != width {
                    return Err(self.field_count(line, found));
                }
                self.records.push(Record {
                    raw: Span::of(record_start, end),
                    line: line as u32,
                });
            }
            found = 0;
            field_start = pos + 1;
            record_start = field_start;
            line += 1;
        }
        if record_start < data.len() {
            let end = if data.ends_with(b"\r") {
                data.len() - 1
            } else {
                data.len()
            };
            if found > 0 || end > record_start {
                self.fields
                    .push(Span::of(field_start, end.max(field_start)));
                found += 1;
                if found != width {
                    return Err(self.field_count(line, found));
                }
                self.records.push(Record {
                    raw: Span::of(record_start, end.max(record_start)),
                    line: line as u32,
                });
            }
        }
        Ok(())
    }

    /// The general path: RFC 4180 quoting, with quoted fields that may hold commas, doubled
    /// quotes and line breaks.
    fn split_quoted(&mut self, body_start: usize) -> Result<(), Error> {
        let width = self.columns.len();
        let data = &self.data;
        let mut arena = Vec::with_capacity(data.len() - body_start);
        let mut pos = body_start;
        let mut line = 2u64;
        while pos < data.len() {
            let record_start = pos;
            let record_line = line;
            let first_field = self.fields.len();
            loop {
                let field_start = arena.len();
                if data.get(pos) == Some(&b'"') {
                    pos += 1;
                    loop {
                        match data.get(pos) {
                            None => {
                                return Err(Error::Csv {
                                    file: self.file.clone(),
                                    line: record_line,
                                    detail: "a quoted field is not closed",
                                });
                            }
                            Some(b'"') if data.get(pos + 1) == Some(&b'"') => {
                                arena.push(b'"');
                                pos += 2;
                            }
                            Some(b'"') => {
                                pos += 1;
                                break;
                            }
                            Some(&byte) => {
                                if byte == b'\n' {
                                    line += 1;
                                }
                                arena.push(byte);
                                pos += 1;
                            }
                        }
                    }
                    match data.get(pos) {
                        None | Some(b',') | Some(b'\n') => {}
                        Some(b'\r') if matches!(data.get(pos + 1), None | Some(b'\n')) => pos += 1,
                        Some(_) => {
                            return Err(Error::Csv {
                                file: self.file.clone(),
                                line,
                                detail: "text after a closing quote",
                            });
                        }
                    }
                } else {
                    let rest = &data[pos..];
                    let stop = memchr::memchr2(b',', b'\n', rest).unwrap_or(rest.len());
                    let mut text = &rest[..stop];
                    if text.contains(&b'"') {
                        return Err(Error::Csv {
                            file: self.file.clone(),
                            line,
                            detail: "a quote inside an unquoted field",
                        });
                    }
                    if rest.get(stop) != Some(&b',') {
                        text = text.strip_suffix(b"\r").unwrap_or(text);
                    }
                    arena.extend_from_slice(text);
                    pos += stop;
                }
                self.fields.push(Span::of(field_start, arena.len()));
                match data.get(pos) {
                    Some(b',') => pos += 1,
                    _ => break,
                }
            }
            let mut record_end = pos;
            if data.get(pos) == Some(&b'\n') {
                pos += 1;
                line += 1;
            }
            if data[..record_end].ends_with(b"\r") && record_end > record_start {
                record_end -= 1;
            }
            let found = self.fields.len() - first_field;
            if found == 1 && self.fields[first_field].start == self.fields[first_field].end {
                // A blank line.
                self.fields.truncate(first_field);
                continue;
            }
            if found != width {
                return Err(self.field_count(record_line, found));
            }
            self.records.push(Record {
                raw: Span::of(record_start, record_end),
                line: record_line as u32,
            });
        }
        self.arena = Some(arena);
        Ok(())
    }

    fn field_count(&self, line: u64, found: usize) -> Error {
        Error::FieldCount {
            file: self.file.clone(),
            line,
            expected: self.columns.len(),
            found,
        }
    }

    /// The header's column names, in order.
    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The position of a column, by name.
    pub(crate) fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The position of a column the diff cannot do without.
    pub(crate) fn required(&self, name: &'static str) -> Result<usize, Error> {
        self.column(name).ok_or_else(|| Error::MissingColumn {
            file: self.file.clone(),
            column: name,
            header: self.columns.join(","),
        })
    }

    /// The number of records.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// A record's text as written (without its line end).
    pub(crate) fn raw(&self, record: usize) -> &[u8] {
        &self.data[self.records[record].raw.range()]
    }

    /// The line a record starts on (the header is line 1).
    pub(crate) fn line(&self, record: usize) -> u64 {
        let r = self.records[record];
        if r.line > 0 {
            return u64::from(r.line);
        }
        // Counted only when an error needs it.
        let before = &self.data[..r.raw.start as usize];
        1 + before.iter().filter(|&&b| b == b'\n').count() as u64
    }

    /// A field's text, unquoted.
    pub(crate) fn field(&self, record: usize, column: usize) -> &[u8] {
        let span = self.fields[record * self.columns.len() + column];
        match &self.arena {
            Some(arena) => &arena[span.range()],
            None => &self.data[span.range()],
        }
    }

    /// An error about a field's value.
    pub(crate) fn field_error(
        &self,
        record: usize,
        column: usize,
        name: &'static str,
        problem: &'static str,
    ) -> Error {
        Error::Field {
            file: self.file.clone(),
            line: self.line(record),
            column: name,
            problem,
            value: String::from_utf8_lossy(self.field(record, column)).into_owned(),
        }
    }
}

/// A whole number written as an integer (`-32`, `+7`) or with a zero fraction (`48.0`, as the
/// old program printed `sched_dev`).
pub(crate) fn whole(text: &[u8]) -> Option<i64> {
    let (negative, mut rest) = match text {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, text),
    };
    let mut value: i64 = 0;
    let mut digits = 0;
    while let [digit @ b'0'..=b'9', tail @ ..] = rest {
        value = value
            .checked_mul(10)?
            .checked_add(i64::from(digit - b'0'))?;
        digits += 1;
        rest = tail;
    }
    if digits == 0 {
        return None;
    }
    match rest {
        [] => {}
        [b'.', zeros @ ..] if !zeros.is_empty() && zeros.iter().all(|&b| b == b'0') => {}
        _ => return None,
    }
    Some(if negative { -value } else { value })
}

/// A finite decimal number.
pub(crate) fn decimal(text: &[u8]) -> Option<f64> {
    let value: f64 = std::str::from_utf8(text).ok()?.trim().parse().ok()?;
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<Table<'_>, Error> {
        Table::parse("t.csv".into(), Cow::Borrowed(text.as_bytes()))
    }

    fn rows(t: &Table) -> Vec<Vec<String>> {
        (0..t.len())
            .map(|r| {
                (0..t.columns().len())
                    .map(|c| String::from_utf8_lossy(t.field(r, c)).into_owned())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn plain_and_quoted_files_split_alike() {
        let plain = table("a,b,c\n1,x,2\n\n3,y,4\r\n5,z,6").unwrap();
        assert_eq!(plain.columns(), ["a", "b", "c"]);
        assert_eq!(
            rows(&plain),
            [["1", "x", "2"], ["3", "y", "4"], ["5", "z", "6"]]
        );
        assert_eq!(plain.raw(1), b"3,y,4");
        assert_eq!((plain.line(0), plain.line(1), plain.line(2)), (2, 4, 5));

        let quoted = table("a,b,c\n1,\"x, \"\"q\"\"\",2\n\n3,\"two\nlines\",4\r\n5,z,6").unwrap();
        assert_eq!(
            rows(&quoted),
            [
                ["1", "x, \"q\"", "2"],
                ["3", "two\nlines", "4"],
                ["5", "z", "6"]
            ]
        );
        assert_eq!(quoted.raw(0), b"1,\"x, \"\"q\"\"\",2");
        assert_eq!((quoted.line(0), quoted.line(1), quoted.line(2)), (2, 4, 6));
    }

    #[test]
    fn some_lines_of_a_file() {
        let data = b"a,b\n1,2\n3,4\n5,6\n";
        let columns = vec!["a".to_owned(), "b".to_owned()];
        let t =
            Table::from_lines("t.csv".into(), data, columns.clone(), &[(8, 11), (12, 15)]).unwrap();
        assert_eq!(rows(&t), [["3", "4"], ["5", "6"]]);
        assert_eq!((t.line(0), t.line(1)), (3, 4));
        let data = b"a,b\n1,2\n3,4,5\n";
        let error = Table::from_lines("t.csv".into(), data, columns, &[(8, 13)]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "t.csv, line 3: expected 2 fields as in the header, found 3"
        );
    }

    #[test]
    fn bad_files_are_named_with_their_line() {
        let error = table("a,b\n1,2\n3\n").unwrap_err().to_string();
        assert_eq!(
            error,
            "t.csv, line 3: expected 2 fields as in the header, found 1"
        );
        let error = table("a,b\n1,\"2\n").unwrap_err().to_string();
        assert!(
            error.contains("line 2: malformed CSV: a quoted field is not closed"),
            "{error}"
        );
        let error = table("a,b\n\"1\"x,2\n").unwrap_err().to_string();
        assert!(error.contains("text after a closing quote"), "{error}");
        assert!(matches!(table(""), Err(Error::NoHeader { .. })));
        assert!(matches!(table("a,a\n"), Err(Error::RepeatedColumn { .. })));
        let error = table("a,b\n1,2,3").unwrap_err().to_string();
        assert!(error.contains("line 2: expected 2 fields"), "{error}");
    }

    #[test]
    fn numbers_in_both_spellings() {
        assert_eq!(whole(b"48"), Some(48));
        assert_eq!(whole(b"48.0"), Some(48));
        assert_eq!(whole(b"-32.00"), Some(-32));
        assert_eq!(whole(b"+7"), Some(7));
        for bad in [
            &b""[..],
            b"4.5",
            b"x",
            b"1.",
            b".0",
            b"1e3",
            b"-",
            b"99999999999999999999",
        ] {
            assert_eq!(whole(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(decimal(b"0.25"), Some(0.25));
        assert_eq!(decimal(b"nan"), None);
        assert_eq!(decimal(b"2.5e-05"), Some(2.5e-05));
    }
}
