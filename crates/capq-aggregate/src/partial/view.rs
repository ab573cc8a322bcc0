//! Read-only views of a partial's deviation counts, for crates that compute statistics of
//! their own from a day they need not re-read: `capq diff` takes the counts of a day that is
//! identical on both sides from its partial instead of parsing its CSV.

use super::{Bins, DayPartial};

impl DayPartial {
    /// The deviations (seconds) of the day's used rows, as sorted `(value, count)` pairs.
    pub fn used_deviations(&self) -> &Bins {
        &self.used
    }

    /// The deviations of the day's used rows per `(route_id, hour)` cell, sorted by route
    /// then hour; each as sorted `(value, count)` pairs. A route's deviations are the sum of
    /// its hours'.
    pub fn route_hour_deviations(&self) -> impl Iterator<Item = (i64, u8, &Bins)> + '_ {
        self.route_hours
            .iter()
            .map(|cell| (cell.route_id, cell.hour, self.range(cell.deviations)))
    }
}
