//! Logging to stderr: one record per line, whatever the job data a record quotes, and colour
//! only on a terminal.
//!
//! Job ids, function names, arguments and error messages reach log fields, and whoever can
//! enqueue chooses them. tracing's default field formatter writes `%`-formatted values and
//! messages raw, so a newline in an error message forges a record of its own and an escape
//! sequence recolours or rewrites the operator's terminal. The formatter here escapes control
//! characters in every message and field value (see `text::is_unsafe`).

use std::fmt::{self, Write as _};
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

use crate::text::Escaping;

/// Installs the subscriber: `CAPQ_LOG` (or `RUST_LOG`) sets the filter, else `default`.
pub fn init(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("CAPQ_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default.to_owned());
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .fmt_fields(EscapedFields)
        .init();
}

/// Colour codes only for a terminal, and not when `NO_COLOR` is set to anything
/// (<https://no-color.org>: an empty value does not count).
pub fn colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

/// Formats fields as tracing's default does (`message name=value …`), with control characters
/// in the message and the values escaped.
pub struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = EscapingVisitor {
            ansi: writer.has_ansi_escapes(),
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct EscapingVisitor<'writer> {
    writer: Writer<'writer>,
    ansi: bool,
    /// No field written yet (the separating space comes before every other one).
    first: bool,
    result: fmt::Result,
}

impl EscapingVisitor<'_> {
    fn write(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        // tracing-log's metadata fields, as the default formatter leaves them out too.
        if name.starts_with("log.") {
            return;
        }
        self.result = self.write_field(name, value);
    }

    fn write_field(&mut self, name: &str, value: fmt::Arguments<'_>) -> fmt::Result {
        if !self.first {
            self.writer.write_char(' ')?;
        }
        self.first = false;
        if name != "message" {
            let name = name.strip_prefix("r#").unwrap_or(name);
            if self.ansi {
                write!(self.writer, "\x1b[3m{name}\x1b[0m\x1b[2m=\x1b[0m")?;
            } else {
                write!(self.writer, "{name}=")?;
            }
        }
        Escaping(&mut self.writer).write_fmt(value)
    }
}

impl Visit for EscapingVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        // A `&str` field is shown quoted, as the default formatter does.
        if field.name() == "message" {
            self.write(field, format_args!("{value}"));
        } else {
            self.write(field, format_args!("{value:?}"));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.write(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, format_args!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
    }

    /// A writer into a shared buffer, to read what the subscriber wrote.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn messages_and_values_are_escaped_one_record_per_line() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .fmt_fields(EscapedFields)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let id = "job\n2026-01-01T00:00:00Z  INFO forged";
            let error = "boom\x1b[31mred\r\u{202e}";
            let span = tracing::info_span!("job", job_id = %id);
            let _entered = span.enter();
            tracing::warn!(job_id = %id, error = %error, literal = "a\nb", count = 3, "job {id} failed");
        });
        let written = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
        assert_eq!(written.lines().count(), 1, "{written}");
        assert!(
            !written.contains('\x1b') && !written.contains('\r'),
            "{written:?}"
        );
        assert!(
            written.contains("job\\n2026-01-01T00:00:00Z  INFO forged failed"),
            "{written}"
        );
        assert!(
            written.contains("error=boom\\u{1b}[31mred\\r\\u{202e}"),
            "{written}"
        );
        assert!(written.contains(r#"literal="a\nb" count=3"#), "{written}");
        assert!(
            written.contains("job{job_id=job\\n2026"),
            "span fields too: {written}"
        );
    }
}
