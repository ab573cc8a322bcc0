//! Read-only views of a partial's deviation counts, for crates that compute statistics of
//! their own from a day they need not re-read: `capq diff` takes the counts of a day that is
//! identical on both sides from its partial instead of parsing its CSV.

use super::{Bins, DEVIATIONS, DayPartial};

/// The deviation counts of one cell as `(deviation, count)` pairs, ascending; a large count
/// may come as several pairs of the same deviation (the packing's limit), so sum them.
#[derive(Debug, Clone)]
pub struct DeviationCounts<'a> {
    entries: std::slice::Iter<'a, u32>,
}

impl Iterator for DeviationCounts<'_> {
    type Item = (i64, u64);

    fn next(&mut self) -> Option<(i64, u64)> {
        let entry = *self.entries.next()?;
        Some((DEVIATIONS.value(entry), DEVIATIONS.count(entry)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl DayPartial {
    /// The deviations (seconds) of the day's used rows, as sorted `(value, count)` pairs.
    pub fn used_deviations(&self) -> &Bins {
        &self.used
    }

    /// The deviations of the day's used rows per `(route_id, hour)` cell, sorted by route
    /// then hour. A route's deviations are the sum of its hours'.
    pub fn route_hour_deviations(&self) -> impl Iterator<Item = (i64, u8, DeviationCounts<'_>)> {
        self.route_hours.iter().map(|cell| {
            let counts = DeviationCounts {
                entries: self.entries(cell.deviations).iter(),
            };
            (cell.route_id, cell.hour, counts)
        })
    }
}
