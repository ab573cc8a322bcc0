//! CapMetrics day processing: match each vehicle position to its trip's nearest scheduled stop,
//! compute the schedule deviation, and keep one row per (trip, stop), exactly as the Python
//! program it replaces did (see `docs/capmetrics-spec.md`, which comments cite as SPEC.md).
//!
//! The crate is pure and synchronous. It reads bytes that someone else fetched (from disk, S3 or
//! HTTP) and writes bytes someone else stores; it never touches the network.

/// Processing days with metadata loaded once and shared.
pub mod catalog;
/// Civil dates and day specs such as `2016-11-24..2016-11-27`.
pub mod date;
/// Row counts per drop reason.
pub mod diagnostics;
/// The equivalence rule for comparing outputs.
pub mod equivalence;
/// The one error type; every variant names the file, line and column where it can.
pub mod error;
/// The processor fingerprint, computed at build time from this crate's sources.
pub mod fingerprint;
/// Grouping row numbers by key, in file order.
mod index;
/// One input file in memory, gzip or plain.
pub mod input;
/// Which stops and schedule files cover a day.
pub mod metadata;
/// Decimal parsing with a fast path.
mod number;
/// Output formatting and atomic writes.
pub mod output;
/// The processor's named parameters and their canonical text.
pub mod params;
/// One day of vehicle positions.
mod positions;
/// The day processor itself.
pub mod process;
/// Output rows as values, for callers that consume them while the CSV is written.
pub mod rows;
/// The schedule table, indexed by trip.
pub mod schedule;
/// Data folders: the trait, and its local-disk implementation.
pub mod source;
/// The stops table.
pub mod stops;
/// Reading a CSV with a header, with errors that point at the cell.
mod table;
/// Position timestamps and schedule arrival times.
pub mod timestamp;

pub use catalog::{Catalog, DayFiles, DayOutput};
pub use date::{Date, parse_day_spec};
pub use diagnostics::{Diagnostics, DropReason};
pub use error::{Cancel, Error, Result, excerpt};
pub use fingerprint::PROCESSOR_FINGERPRINT;
pub use input::Input;
pub use params::{ParamError, Params};
pub use process::{process_day, process_day_with_params, process_day_with_rows};
pub use rows::{OutputRow, RowSink};
pub use schedule::Schedule;
pub use source::{DataSource, LocalDir};
pub use stops::Stops;
