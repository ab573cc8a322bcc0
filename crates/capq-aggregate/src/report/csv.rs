//! A small reader for the aggregate's own CSV files (AGGREGATE.md §2): one header row, `\n`
//! line ends (a `\r\n` is tolerated), fields quoted only where they hold a comma, a quote or a
//! line break. The tables are small and their shape is fixed, so a general CSV crate would add
//! nothing but a dependency.

use crate::Error;

/// One record: its fields and the 1-based line it starts on, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// Splits `bytes` into records, checks the header is exactly `header`, and returns the data
/// records, each with exactly as many fields as the header.
pub fn read(file: &'static str, bytes: &[u8], header: &[&str]) -> Result<Vec<Record>, Error> {
    let fail = |line: usize, message: String| Error::Report {
        file,
        line,
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        fail(line, "not valid UTF-8".to_owned())
    })?;
    let mut records = split(text).map_err(|(line, message)| fail(line, message))?;
    if records.is_empty() {
        return Err(fail(
            1,
            format!("missing the header row (expected {:?})", header.join(",")),
        ));
    }
    let first = records.remove(0);
    if first.fields != header {
        return Err(fail(
            first.line,
            format!(
                "header is {:?}, expected {:?}",
                first.fields.join(","),
                header.join(",")
            ),
        ));
    }
    for record in &records {
        if record.fields.len() != header.len() {
            return Err(fail(
                record.line,
                format!("{} fields, expected {}", record.fields.len(), header.len()),
            ));
        }
    }
    Ok(records)
}

/// The records of `text`. A final line end is optional; blank lines are not records.
fn split(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut record_line = 1;
    let mut chars = text.chars().peekable();
    // Whether the current record has any content yet (a blank line has none).
    let mut started = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if field.is_empty() => {
                started = true;
                let quote_line = line;
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(inner) => {
                            if inner == '\n' {
                                line += 1;
                            }
                            field.push(inner);
                        }
                        None => {
                            return Err((quote_line, "a quoted field is never closed".to_owned()));
                        }
                    }
                }
                match chars.peek() {
                    None | Some(',' | '\n' | '\r') => {}
                    Some(other) => {
                        return Err((line, format!("{other:?} after a closing quote")));
                    }
                }
            }
            '"' => return Err((line, "a quote inside an unquoted field".to_owned())),
            ',' => {
                started = true;
                fields.push(std::mem::take(&mut field));
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                if started || !field.is_empty() {
                    fields.push(std::mem::take(&mut field));
                    records.push(Record {
                        line: record_line,
                        fields: std::mem::take(&mut fields),
                    });
                }
                started = false;
                line += 1;
                record_line = line;
            }
            other => {
                started = true;
                field.push(other);
            }
        }
    }
    if started || !field.is_empty() {
        fields.push(field);
        records.push(Record {
            line: record_line,
            fields,
        });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<Vec<String>> {
        split(text).unwrap().into_iter().map(|r| r.fields).collect()
    }

    #[test]
    fn plain_and_quoted_fields() {
        assert_eq!(
            fields("a,b\n1,\"x, \"\"y\"\"\"\n"),
            vec![vec!["a", "b"], vec!["1", "x, \"y\""]]
        );
        assert_eq!(fields("a,,\n"), vec![vec!["a", "", ""]]);
        assert_eq!(fields("a\r\nb"), vec![vec!["a"], vec!["b"]]);
        assert_eq!(fields("\"\"\n"), vec![vec![""]]);
    }

    #[test]
    fn a_quoted_line_break_keeps_the_record_and_counts_lines() {
        let records = split("h\n\"two\nlines\"\nnext\n").unwrap();
        assert_eq!(records[1].fields, vec!["two\nlines"]);
        assert_eq!(records[1].line, 2);
        assert_eq!(records[2].line, 4);
    }

    #[test]
    fn malformed_quotes_name_their_line() {
        assert_eq!(
            split("a\n\"open\n").unwrap_err(),
            (2, "a quoted field is never closed".to_owned())
        );
        assert_eq!(split("a\nx\"y\n").unwrap_err().0, 2);
        assert_eq!(split("\"a\"b\n").unwrap_err().0, 1);
    }

    #[test]
    fn the_header_and_the_field_count_are_checked() {
        let error = read("route.csv", b"a,c\n", &["a", "b"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "route.csv: line 1: header is \"a,c\", expected \"a,b\""
        );
        let error = read("route.csv", b"a,b\n1,2\n3\n", &["a", "b"]).unwrap_err();
        assert_eq!(error.to_string(), "route.csv: line 3: 1 fields, expected 2");
        let error = read("route.csv", b"", &["a", "b"]).unwrap_err();
        assert!(
            error.to_string().contains("missing the header row"),
            "{error}"
        );
        let error = read("route.csv", b"a,b\n\xff\n", &["a", "b"]).unwrap_err();
        assert_eq!(error.to_string(), "route.csv: line 2: not valid UTF-8");
        assert_eq!(read("route.csv", b"a,b\n", &["a", "b"]).unwrap(), vec![]);
    }
}
