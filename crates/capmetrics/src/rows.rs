//! The processor's output rows as values, for callers that want them while the CSV is written
//! (the aggregate's per-day partial) instead of printing them and parsing the text back.
//!
//! [`RowSink::row`] is called once for every row appended to the CSV, in output order, with
//! the numbers the CSV's text stands for: each field reads back from the text to exactly these
//! values. The unit type is the sink that wants nothing; the processor is generic over the sink,
//! so with `()` the values are never even made ([`RowSink::WANTS_ROWS`]).

/// One output row (SPEC.md §4), as the numbers its CSV fields stand for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputRow<'a> {
    pub route_id: u64,
    pub trip_id: u64,
    pub trip_headsign: &'a str,
    pub stop_id: u64,
    /// The stop's coordinates, as parsed from the stops file (the CSV prints their text).
    pub stop_lat: f64,
    pub stop_lon: f64,
    /// The position's instant, in seconds since 1970-01-01T00:00Z.
    pub timestamp: i64,
    /// The scheduled instant, in seconds since 1970-01-01T00:00Z.
    pub sched_time: i64,
    pub distance_to_stop: f64,
    /// Seconds, positive when late.
    pub sched_dev: i64,
    /// The local hour of the position, 0–23.
    pub hourofday: u8,
}

/// Receives each output row as it is written.
pub trait RowSink {
    /// False for a sink that ignores every row: the processor then does not even make them.
    const WANTS_ROWS: bool = true;

    fn row(&mut self, row: &OutputRow<'_>);
}

/// No sink: the rows are only written as CSV.
impl RowSink for () {
    const WANTS_ROWS: bool = false;

    #[inline(always)]
    fn row(&mut self, _: &OutputRow<'_>) {}
}

impl<S: RowSink + ?Sized> RowSink for &mut S {
    const WANTS_ROWS: bool = S::WANTS_ROWS;

    #[inline]
    fn row(&mut self, row: &OutputRow<'_>) {
        (**self).row(row);
    }
}
