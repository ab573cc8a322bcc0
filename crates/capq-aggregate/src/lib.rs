//! On-time statistics over processed CapMetrics days, as defined in `docs/aggregate.md`
//! (AGGREGATE.md): row classes, the on-time window and its profiles, Wilson intervals,
//! nearest-rank percentiles, day flags, and the aggregate folder's tables, `summary.json` and
//! `report.html`.
//!
//! Each processed day yields a compact, mergeable partial (exact counts and per-second
//! deviation counts per cell), so a year aggregates by merging partials instead of re-reading
//! every CSV. The crate is pure: it takes bytes and returns bytes; fetching and storing them
//! is the caller's business.

/// The one error type of the crate.
pub mod error;
/// `report.html`: the aggregate's figures and inline-SVG charts, rendered from its files.
pub mod report;

pub use error::Error;
