//! The counts a diff keeps while it reads days, in forms that add up across days and threads:
//! deviation histograms per side (system and per route), the class transition matrix, and
//! where moved rows are (route, hour, stop).
//!
//! Histograms keep every used row's deviation (one counter per second from −1800 to 1800,
//! which is all a used row can have), so on-time counts for the window, and percentiles, come
//! out exact at the end, whatever order the days were read in.

use capq_aggregate::stats::{Quantile, values_at_ranks};
use capq_aggregate::visit::OUTLIER_SECONDS;
use capq_aggregate::{RowClass, Window};
use rustc_hash::FxHashMap;

/// Counters per second of deviation of a used row: −1800 ..= 1800.
const BINS: usize = 2 * OUTLIER_SECONDS as usize + 1;

/// A row's class in the transition matrix: the three on-time classes of a used row, the two
/// classes the statistics leave out, and "absent" for a row one side does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Early,
    OnTime,
    Late,
    Far,
    Outlier,
    Absent,
}

impl Class {
    /// Every class, in the matrix's order.
    pub const ALL: [Class; 6] = [
        Class::Early,
        Class::OnTime,
        Class::Late,
        Class::Far,
        Class::Outlier,
        Class::Absent,
    ];

    /// The class of a row with this distance class and deviation under `window`.
    pub fn of(class: RowClass, deviation: i64, window: Window) -> Class {
        match class {
            RowClass::Far => Class::Far,
            RowClass::Outlier => Class::Outlier,
            RowClass::Used if window.is_early(deviation) => Class::Early,
            RowClass::Used if window.is_late(deviation) => Class::Late,
            RowClass::Used => Class::OnTime,
        }
    }

    /// The name used in JSON.
    pub fn key(self) -> &'static str {
        match self {
            Class::Early => "early",
            Class::OnTime => "on_time",
            Class::Late => "late",
            Class::Far => "far",
            Class::Outlier => "outlier",
            Class::Absent => "absent",
        }
    }

    /// The name used in tables.
    pub fn label(self) -> &'static str {
        match self {
            Class::Early => "early",
            Class::OnTime => "on time",
            Class::Late => "late",
            Class::Far => "far",
            Class::Outlier => "outlier",
            Class::Absent => "absent",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The used rows of one scope (the system, or a route) on one side, by deviation. (Far and
/// outlier rows are counted by the transition matrix.)
#[derive(Debug, Clone, Default)]
pub(crate) struct Hist {
    used: u64,
    /// Empty until the first used row.
    bins: Vec<u64>,
}

impl Hist {
    /// Adds `count` used rows of deviation `deviation` (|deviation| ≤ 1800).
    pub(crate) fn add_used(&mut self, deviation: i64, count: u64) {
        if self.bins.is_empty() {
            self.bins = vec![0; BINS];
        }
        let index = (deviation + OUTLIER_SECONDS).clamp(0, BINS as i64 - 1) as usize;
        self.bins[index] += count;
        self.used += count;
    }

    /// Adds used rows given as `(deviation, count)` pairs (a used row's deviation is within
    /// ±1800 s; a partial never holds another).
    pub(crate) fn add_bins(&mut self, bins: impl IntoIterator<Item = (i64, u64)>) {
        let mut bins = bins.into_iter().peekable();
        if bins.peek().is_none() {
            return;
        }
        if self.bins.is_empty() {
            self.bins = vec![0; BINS];
        }
        let mut added = 0;
        for (deviation, count) in bins {
            let index = (deviation + OUTLIER_SECONDS).clamp(0, BINS as i64 - 1) as usize;
            self.bins[index] += count;
            added += count;
        }
        self.used += added;
    }

    pub(crate) fn merge(&mut self, other: &Hist) {
        if !other.bins.is_empty() {
            if self.bins.is_empty() {
                self.bins = vec![0; BINS];
            }
            for (mine, theirs) in self.bins.iter_mut().zip(&other.bins) {
                *mine += theirs;
            }
            self.used += other.used;
        }
    }

    /// Used rows.
    pub(crate) fn used(&self) -> u64 {
        self.used
    }

    /// The used rows' `(deviation, count)` pairs, ascending, counts above zero.
    pub(crate) fn bins(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        self.bins
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(index, count)| (index as i64 - OUTLIER_SECONDS, *count))
    }

    /// `[early, on time, late]` under `window`.
    pub(crate) fn classes(&self, window: Window) -> [u64; 3] {
        let mut out = [0; 3];
        for (deviation, count) in self.bins() {
            let slot = match Class::of(RowClass::Used, deviation, window) {
                Class::Early => 0,
                Class::Late => 2,
                _ => 1,
            };
            out[slot] += count;
        }
        out
    }

    /// The nearest-rank median of the used deviations.
    pub(crate) fn p50(&self) -> Option<i64> {
        if self.used == 0 {
            return None;
        }
        let [p50] = values_at_ranks(self.bins(), [Quantile::P50.rank(self.used)]);
        p50
    }
}

/// One side's rows of a set of days: the system and each route.
#[derive(Debug, Clone, Default)]
pub(crate) struct SideStats {
    pub system: Hist,
    pub routes: FxHashMap<i64, Hist>,
}

impl SideStats {
    /// Counts a row, if it is used (the statistics read used rows only).
    pub(crate) fn add_row(&mut self, route_id: i64, class: RowClass, deviation: i64) {
        if class == RowClass::Used {
            self.system.add_used(deviation, 1);
            self.routes
                .entry(route_id)
                .or_default()
                .add_used(deviation, 1);
        }
    }

    pub(crate) fn merge(&mut self, other: &SideStats) {
        self.system.merge(&other.system);
        for (route_id, hist) in &other.routes {
            self.routes.entry(*route_id).or_default().merge(hist);
        }
    }
}

/// The rows of one day on one side, as the statistics see them; kept until the day's outcome
/// decides which scopes they count in.
#[derive(Debug, Clone, Default)]
pub(crate) struct DayRows {
    /// `(route_id, class, deviation)` per row.
    rows: Vec<(i64, RowClass, i64)>,
}

impl DayRows {
    pub(crate) fn push(&mut self, route_id: i64, class: RowClass, deviation: i64) {
        self.rows.push((route_id, class, deviation));
    }

    /// Rows per class (early, on time, late, far, outlier) under `window`.
    pub(crate) fn classes(&self, window: Window) -> [u64; 5] {
        let mut counts = [0; 5];
        for &(_, class, deviation) in &self.rows {
            counts[Class::of(class, deviation, window).index()] += 1;
        }
        counts
    }

    pub(crate) fn add_to(&self, stats: &mut SideStats) {
        for &(route_id, class, deviation) in &self.rows {
            stats.add_row(route_id, class, deviation);
        }
    }
}

/// Rows by their class on side A (row) and side B (column).
pub(crate) type Matrix = [[u64; 6]; 6];

/// The kinds of moved rows, as indexes of the counters below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Moved {
    Added = 0,
    Removed = 1,
    Changed = 2,
}

/// Where moved rows are: per route, hour and stop, `[added, removed, changed]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Places {
    pub routes: FxHashMap<i64, [u64; 3]>,
    pub hours: [[u64; 3]; 24],
    pub stops: FxHashMap<i64, [u64; 3]>,
}

impl Places {
    pub(crate) fn add(&mut self, moved: Moved, route_id: i64, hour: u8, stop_id: i64) {
        let kind = moved as usize;
        self.routes.entry(route_id).or_default()[kind] += 1;
        if let Some(slot) = self.hours.get_mut(usize::from(hour)) {
            slot[kind] += 1;
        }
        self.stops.entry(stop_id).or_default()[kind] += 1;
    }

    pub(crate) fn merge(&mut self, other: &Places) {
        let add = |mine: &mut [u64; 3], theirs: &[u64; 3]| {
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m += t;
            }
        };
        for (route, counts) in &other.routes {
            add(self.routes.entry(*route).or_default(), counts);
        }
        for (mine, theirs) in self.hours.iter_mut().zip(&other.hours) {
            add(mine, theirs);
        }
        for (stop, counts) in &other.stops {
            add(self.stops.entry(*stop).or_default(), counts);
        }
    }
}

/// Everything one thread counts over the days it read.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    /// Every day, per side.
    pub all: [SideStats; 2],
    /// Only the changed days (present and different on both sides), per side.
    pub changed_days: [SideStats; 2],
    pub matrix: Matrix,
    pub places: Places,
}

impl Tally {
    pub(crate) fn merge(&mut self, other: &Tally) {
        for side in 0..2 {
            self.all[side].merge(&other.all[side]);
            self.changed_days[side].merge(&other.changed_days[side]);
        }
        for (mine, theirs) in self.matrix.iter_mut().zip(&other.matrix) {
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m += t;
            }
        }
        self.places.merge(&other.places);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_count_classes_and_medians_exactly() {
        let window = Window {
            early: Some(-60),
            late: Some(300),
        };
        let mut hist = Hist::default();
        for deviation in [-61, -60, 0, 300, 301, 1800, -1800] {
            hist.add_used(deviation, 1);
        }
        assert_eq!(hist.used(), 7);
        assert_eq!(hist.classes(window), [2, 3, 2]);
        // Sorted: -1800 -61 -60 0 300 301 1800; rank ceil(3.5) = 4.
        assert_eq!(hist.p50(), Some(0));
        let mut other = Hist::default();
        other.add_bins([(0, 2), (5, 1)]);
        hist.merge(&other);
        assert_eq!(hist.used(), 10);
        assert_eq!(hist.p50(), Some(0));
        assert_eq!(Hist::default().p50(), None);
    }

    #[test]
    fn classes_follow_the_window_bounds() {
        let capmetro = Window {
            early: None,
            late: Some(300),
        };
        assert_eq!(Class::of(RowClass::Used, -1800, capmetro), Class::OnTime);
        assert_eq!(Class::of(RowClass::Used, 301, capmetro), Class::Late);
        assert_eq!(Class::of(RowClass::Far, 0, capmetro), Class::Far);
        assert_eq!(Class::of(RowClass::Outlier, 5000, capmetro), Class::Outlier);
    }
}
