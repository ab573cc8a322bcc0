//! Reading a CSV file with a header, field by field, with errors that point at the cell.
//!
//! All three inputs (positions, stops, schedule) are read through this one reader, so a short
//! row, a bad number or invalid UTF-8 gets the same kind of message wherever it appears: the
//! file, the line and the column name. Columns are found by name, so extra or reordered
//! columns are fine and a missing one is reported up front.

use csv::ByteRecord;

use crate::error::{Error, Result, excerpt};
use crate::input::Input;

/// A CSV file being read record by record.
pub(crate) struct Table<'a> {
    file: &'a str,
    reader: csv::Reader<&'a [u8]>,
    header: Vec<String>,
    record: ByteRecord,
}

impl<'a> Table<'a> {
    pub(crate) fn open(input: &'a Input) -> Result<Table<'a>> {
        let file = input.name();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input.bytes());
        let mut record = ByteRecord::new();
        let read = reader.read_byte_record(&mut record).map_err(|e| csv_error(file, 1, e))?;
        if !read {
            return Err(Error::NoHeader { file: file.to_owned() });
        }
        let mut header = Vec::with_capacity(record.len());
        for (i, field) in record.iter().enumerate() {
            let field = if i == 0 { field.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(field) } else { field };
            match std::str::from_utf8(field) {
                Ok(name) => header.push(name.trim().to_owned()),
                Err(_) => {
                    return Err(Error::Utf8 {
                        file: file.to_owned(),
                        line: 1,
                        column: format!("#{}", i + 1),
                    });
                }
            }
        }
        Ok(Table { file, reader, header, record })
    }

    /// The index of the named column, or an error naming the file and the missing column.
    pub(crate) fn column(&self, name: &'static str) -> Result<usize> {
        self.header.iter().position(|h| h == name).ok_or_else(|| Error::MissingColumn {
            file: self.file.to_owned(),
            column: name,
            header: self.header.join(","),
        })
    }

    /// Advances to the next record. Checks its field count and its UTF-8 before anyone looks
    /// at a field.
    pub(crate) fn next_row(&mut self) -> Result<Option<Row<'_>>> {
        let line = self.reader.position().line();
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => return Err(csv_error(self.file, line, e)),
        }
        let line = self.record.position().map_or(line, csv::Position::line);
        if self.record.len() != self.header.len() {
            return Err(Error::FieldCount {
                file: self.file.to_owned(),
                line,
                expected: self.header.len(),
                found: self.record.len(),
            });
        }
        if let Err(e) = std::str::from_utf8(self.record.as_slice()) {
            let bad = e.valid_up_to();
            let index = (0..self.record.len())
                .find(|&i| self.record.range(i).is_some_and(|r| r.contains(&bad)))
                .unwrap_or(0);
            return Err(Error::Utf8 {
                file: self.file.to_owned(),
                line,
                column: self.header[index].clone(),
            });
        }
        Ok(Some(Row { file: self.file, line, record: &self.record }))
    }
}

fn csv_error(file: &str, line: u64, e: csv::Error) -> Error {
    let line = e.position().map_or(line, csv::Position::line);
    match e.into_kind() {
        csv::ErrorKind::Io(source) => Error::Read { file: file.to_owned(), source },
        other => Error::Csv { file: file.to_owned(), line, detail: format!("{other:?}") },
    }
}

/// One record whose field count and UTF-8 have been checked.
pub(crate) struct Row<'r> {
    file: &'r str,
    line: u64,
    record: &'r ByteRecord,
}

impl<'r> Row<'r> {
    pub(crate) fn bytes(&self, index: usize) -> &'r [u8] {
        self.record.get(index).unwrap_or_default()
    }

    /// The field as text; the record's UTF-8 was validated when it was read.
    pub(crate) fn text(&self, index: usize) -> &'r str {
        std::str::from_utf8(self.bytes(index)).unwrap_or_default()
    }

    /// An error about the field at `index`, quoting its value.
    pub(crate) fn error(&self, index: usize, column: &'static str, problem: impl Into<String>) -> Error {
        Error::Field {
            file: self.file.to_owned(),
            line: self.line,
            column,
            problem: problem.into(),
            value: excerpt(self.bytes(index)),
        }
    }

    /// A finite decimal number.
    pub(crate) fn float(&self, index: usize, column: &'static str) -> Result<f64> {
        self.optional_float(index, column)?.ok_or_else(|| self.error(index, column, "empty value"))
    }

    /// A finite decimal number, or `None` when the field is empty.
    pub(crate) fn optional_float(&self, index: usize, column: &'static str) -> Result<Option<f64>> {
        let text = self.text(index).trim();
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(self.error(index, column, "not a number")),
        }
    }

    /// A non-negative integer id.
    pub(crate) fn id(&self, index: usize, column: &'static str) -> Result<u64> {
        self.optional_id(index, column)?.ok_or_else(|| self.error(index, column, "empty value"))
    }

    /// A non-negative integer id, or `None` when the field is empty.
    pub(crate) fn optional_id(&self, index: usize, column: &'static str) -> Result<Option<u64>> {
        let bytes = self.bytes(index);
        if bytes.is_empty() {
            return Ok(None);
        }
        if bytes.len() > 19 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(self.error(index, column, "not an integer id"));
        }
        Ok(Some(bytes.iter().fold(0u64, |acc, c| acc * 10 + u64::from(c - b'0'))))
    }
}
