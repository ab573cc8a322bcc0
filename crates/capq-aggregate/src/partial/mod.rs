//! A day's partial: everything AGGREGATE.md computes, for one day, as exact counts.
//!
//! A partial holds the day's row counts per class and, per cell, the number of used rows at
//! each second of deviation (a sparse histogram), plus what headways need: per
//! `(route, direction)` the counts of observed and scheduled headways at each second and the
//! bunched and gapped pair counts. Every statistic of the aggregate (for any on-time window
//! chosen later) is a function of the sum of these counts over days, so a year aggregates by
//! merging 365 partials instead of re-reading 365 CSVs.
//!
//! The per-cell counts are held (and stored) packed as the merged aggregate keeps them
//! ([`crate::counts::Packing`]), so merging a day is a copy of its entries.
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
mod view;

pub use builder::PartialBuilder;
pub use codec::{FORMAT_VERSION, MAGIC};
pub use view::DeviationCounts;

use capmetrics::Date;

use crate::Error;
use crate::counts::Packing;
use crate::visit::OUTLIER_SECONDS;

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

/// A range of [`DayPartial::entries`] or of [`DayPartial::outside`].
pub(crate) type Run = (u32, u32);

/// Deviations of used rows (−1800 … 1800 s) as every cell packs them.
pub(crate) const DEVIATIONS: Packing =
    Packing::new(-OUTLIER_SECONDS, 2 * OUTLIER_SECONDS as u32 + 1);
/// Observed headways are packed from −1 h to +4 h; others are kept aside.
pub(crate) const OBSERVED: Packing = Packing::new(-3600, 5 * 3600 + 1);
/// Scheduled headways of kept pairs: 1 … 3600 s.
pub(crate) const SCHEDULED: Packing = Packing::new(1, builder::MAX_SCHEDULED_HEADWAY as u32);

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
    /// In [`DEVIATIONS`].
    pub deviations: Run,
}

/// A `(route_id, hour)` cell of one day.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RouteHourCell {
    pub route_id: i64,
    pub hour: u8,
    /// In [`DEVIATIONS`].
    pub deviations: Run,
}

/// The kept headway pairs of one `(route_id, direction)` on one day.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HeadwayCell {
    /// Index into [`DayPartial::routes`].
    pub route: u32,
    pub pairs: u64,
    pub bunched: u64,
    pub gapped: u64,
    /// In [`OBSERVED`]; the values outside its range are in `observed_outside`.
    pub observed: Run,
    /// A range of [`DayPartial::outside`].
    pub observed_outside: Run,
    /// In [`SCHEDULED`].
    pub scheduled: Run,
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
    /// The packed counts of all cells ([`crate::counts::Packing`]), each cell's a canonical
    /// run referenced by a [`Run`]: stops', route hours', then each headway's observed and
    /// scheduled.
    pub(crate) entries: Vec<u32>,
    /// Observed headways outside [`OBSERVED`]'s range, sorted `(value, count)` runs.
    pub(crate) outside: Vec<(i64, u64)>,
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

    /// The entries of a cell.
    pub(crate) fn entries(&self, run: Run) -> &[u32] {
        self.entries
            .get(run.0 as usize..run.1 as usize)
            .unwrap_or_default()
    }

    /// The observed headways of a cell outside the packed range.
    pub(crate) fn outside(&self, run: Run) -> &Bins {
        self.outside
            .get(run.0 as usize..run.1 as usize)
            .unwrap_or_default()
    }
}

/// The file name of a day's partial: `<DAY>_processed.partial`, next to `<DAY>_processed.csv`.
pub fn partial_name(day: Date) -> String {
    format!("{day}_processed.partial")
}
