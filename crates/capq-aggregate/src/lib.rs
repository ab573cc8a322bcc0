//! On-time statistics over processed CapMetrics days, as defined in `docs/aggregate.md` (which
//! restates the shared AGGREGATE.md, cited by section in comments): row classes, the on-time
//! window and its profiles, Wilson intervals, nearest-rank percentiles, day flags, and the
//! aggregate folder's tables, `summary.json` and `report.html`.
//!
//! Each processed day yields a compact, mergeable partial (exact counts and per-second
//! deviation counts per cell), so a year aggregates by merging partials instead of re-reading
//! every CSV. The crate is pure: it takes bytes and returns bytes; fetching and storing them
//! is the caller's business.
//!
//! The flow: rows ([`Visit`]s, or a CSV through [`DayPartial::from_csv`]) go into a
//! [`PartialBuilder`], which makes a day's [`DayPartial`] (stored as
//! `<DAY>_processed.partial`); an [`Aggregator`] merges days and writes the tables;
//! [`aggregate_folder`] does all of it for a folder's files, in parallel.

/// Merging day partials into the aggregate's cells, and day flags.
pub mod aggregate;
/// Exact value counts of one merged cell, compact in memory.
mod counts;
/// The one error type of the crate.
pub mod error;
/// Aggregating a folder of processed days: choosing partials or CSVs, in parallel.
pub mod folder;
/// The content hash partials record of their CSV (XXH64).
pub mod hash;
/// A day's partial: its cells, its builder, and its file format.
pub mod partial;
/// Reading processed-day CSVs, fast.
mod processed;
/// `report.html`: the aggregate's figures and inline-SVG charts, rendered from its files.
pub mod report;
/// Ratios, Wilson intervals, nearest-rank percentiles, decimal text.
pub mod stats;
/// The aggregate folder's tables and `summary.json`.
pub mod tables;
/// One processed row as the statistics see it, row classes and day types.
pub mod visit;
/// The on-time window and its named profiles.
pub mod window;

pub use aggregate::{Aggregator, DayFlag};
pub use error::Error;
pub use folder::{
    DayEntry, DayOutcome, Fetch, FileInfo, FolderOptions, FolderOutput, PartialUse,
    aggregate_folder, folder_days, read_day,
};
pub use hash::content_hash;
pub use partial::{DayPartial, PartialBuilder, SourceInfo, partial_name};
pub use tables::{Aggregate, DayLists, FILE_NAMES, Headline};
pub use visit::{DayType, RowClass, Visit};
pub use window::{Profile, Window, WindowChoice};
