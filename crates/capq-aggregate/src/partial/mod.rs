//! A day's partial: everything AGGREGATE.md computes, for one day, as exact counts.
//!
//! A partial holds the day's row counts per class and, per cell, the number of used rows at
//! each second of deviation (a sparse histogram), plus what headways need: per
//! `(route, direction)` the counts of observed and scheduled headways at each second and the
//! bunched and gapped pair counts. Every statistic of the aggregate (for any on-time window
//! chosen later) is a function of the sum of these counts over days, so a year aggregates by
//! merging 365 partials instead of re-reading 365 CSVs.
//!
//! Cells of a partial (the day type is the day's):
//! - the day: counts per class, deviations of used rows and of outlier rows;
//! - `(route_id, direction)`: distinct trips (a route's deviations are the sum of its stops');
//! - `(route_id, direction, stop_id)`: deviations, and the stop's coordinates from the cell's
//!   first row in file order;
//! - `(route_id, hour)`: deviations;
//! - `(route_id, direction)` headways.
//!
//! [`PartialBuilder`] makes one from rows; `codec` turns it into the bytes of a
//! `<DAY>_processed.partial` file and back.

pub(crate) mod builder;
mod codec;

pub use builder::PartialBuilder;
pub use codec::{FORMAT_VERSION, MAGIC};

use capmetrics::Date;

use crate::Error;

/// Sorted `(value, count)` pairs: values strictly ascending, counts at least 1.
pub type Bins = [(i64, u64)];

/// What a partial was computed from: the CSV's name, length and content hash
/// ([`crate::content_hash`]). A partial is current for a CSV of that name and length (see
/// `docs/aggregate.md` for how the aggregate decides without reading the CSV).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// The file name, such as `2016-11-24_processed.csv`.
    pub name: String,
    /// The file's length in bytes, as stored (compressed, for a `.csv.gz`).
    pub len: u64,
    /// XXH64 of the file's bytes as stored.
    pub hash: u64,
}

impl SourceInfo {
    /// The source description of `bytes` stored under `name`.
    pub fn of(name: &str, bytes: &[u8]) -> SourceInfo {
        SourceInfo {
            name: name.to_owned(),
            len: bytes.len() as u64,
            hash: crate::content_hash(bytes),
        }
    }
}

/// A range of [`DayPartial::bins`].
pub(crate) type BinRange = (u32, u32);

/// A `(route_id, direction)` cell of one day.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RouteCell {
    pub route_id: i64,
    /// Index into [`DayPartial::directions`].
    pub direction: u32,
    /// Distinct trips among the cell's used rows.
    pub trips: u64,
}

/// A `(route_id, direction, stop_id)` cell of one day.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StopCell {
    /// Index into [`DayPartial::routes`].
    pub route: u32,
    pub stop_id: i64,
    pub lat: f64,
    pub lon: f64,
    pub deviations: BinRange,
}

/// A `(route_id, hour)` cell of one day.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RouteHourCell {
    pub route_id: i64,
    pub hour: u8,
    pub deviations: BinRange,
}

/// The kept headway pairs of one `(route_id, direction)` on one day.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HeadwayCell {
    /// Index into [`DayPartial::routes`].
    pub route: u32,
    pub pairs: u64,
    pub bunched: u64,
    pub gapped: u64,
    pub observed: BinRange,
    pub scheduled: BinRange,
}

/// One day's exact counts (see the module documentation). Cells are sorted by their keys
/// (strings by bytes), so equal days give equal partials and equal bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct DayPartial {
    pub(crate) day: Date,
    pub(crate) source: Option<SourceInfo>,
    pub(crate) rows: u64,
    pub(crate) far: u64,
    pub(crate) outlier: u64,
    /// Deviations of the day's used rows.
    pub(crate) used: Vec<(i64, u64)>,
    /// Deviations of the day's outlier rows (for the day flag's median).
    pub(crate) outliers: Vec<(i64, u64)>,
    /// The day's directions (`trip_headsign`s), sorted by bytes.
    pub(crate) directions: Vec<String>,
    /// Sorted by `(route_id, direction)`.
    pub(crate) routes: Vec<RouteCell>,
    /// Sorted by `(route, stop_id)`.
    pub(crate) stops: Vec<StopCell>,
    /// Sorted by `(route_id, hour)`.
    pub(crate) route_hours: Vec<RouteHourCell>,
    /// Sorted by `route`, one per route with at least one kept pair.
    pub(crate) headways: Vec<HeadwayCell>,
    /// The histograms of all cells, each a sorted run referenced by a [`BinRange`].
    pub(crate) bins: Vec<(i64, u64)>,
}

impl DayPartial {
    /// The partial of a processed-day CSV (`<DAY>_processed.csv` of SPEC.md §4, plain or
    /// gzipped), recording `name`, the bytes' length and their hash as its source.
    ///
    /// Errors name the file, line and column of a malformed row.
    pub fn from_csv(day: Date, name: &str, bytes: &[u8]) -> Result<DayPartial, Error> {
        let mut partial = DayPartial::from_csv_unrecorded(day, name, bytes)?;
        partial.source = Some(SourceInfo::of(name, bytes));
        Ok(partial)
    }

    /// [`DayPartial::from_csv`] without hashing the bytes, for a partial that is merged but
    /// never stored.
    pub(crate) fn from_csv_unrecorded(
        day: Date,
        name: &str,
        bytes: &[u8],
    ) -> Result<DayPartial, Error> {
        let mut builder = PartialBuilder::new(day);
        crate::processed::read(name, bytes, &mut builder)?;
        Ok(builder.finish())
    }

    /// The service day.
    pub fn day(&self) -> Date {
        self.day
    }

    /// What the partial was computed from, if recorded.
    pub fn source(&self) -> Option<&SourceInfo> {
        self.source.as_ref()
    }

    /// Records what the partial was computed from (the day processor calls this with the CSV
    /// it wrote).
    pub fn set_source(&mut self, source: SourceInfo) {
        self.source = Some(source);
    }

    /// Rows of the day, of every class.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Rows per class: `(far, outlier, used)`.
    pub fn classes(&self) -> (u64, u64, u64) {
        (self.far, self.outlier, self.rows - self.far - self.outlier)
    }

    /// True when this partial describes the CSV `name` of `len` bytes: same name, same
    /// length. The caller also checks that the CSV was not rewritten after the partial (see
    /// `docs/aggregate.md`).
    pub fn describes(&self, name: &str, len: u64) -> bool {
        self.source
            .as_ref()
            .is_some_and(|s| s.name == name && s.len == len)
    }

    pub(crate) fn range(&self, range: BinRange) -> &Bins {
        self.bins
            .get(range.0 as usize..range.1 as usize)
            .unwrap_or_default()
    }
}

/// The file name of a day's partial: `<DAY>_processed.partial`, next to `<DAY>_processed.csv`.
pub fn partial_name(day: Date) -> String {
    format!("{day}_processed.partial")
}
