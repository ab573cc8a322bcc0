//! [`Aggregator`]: merges day partials into the cells of AGGREGATE.md §2.
//!
//! Each day is classified (`ok`, `suspect`, `empty`) as it arrives and gets its row of
//! `system_daily.csv`; only `ok` days are merged into the other tables. Everything merged is a
//! sum, and the stop coordinates come from the latest day, so the result does not depend on
//! the order days arrive in: partials can be made on many threads and added as they finish.
//!
//! Merging a day only notes, for each of its cells, which merged cell its packed run goes to,
//! and keeps the day's entries. Every few dozen days (and at the end) the noted runs are
//! grouped by cell (a counting sort) and each cell adds all of its runs at once through a
//! scratch array hot in the cache (`crate::counts`): each entry is touched once, with no
//! per-cell buffers growing day by day. A route's deviations are the sum of its stops', so
//! they are not merged per day: [`Aggregator::finish`] adds up the stop cells of each route
//! once.

use capmetrics::Date;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::Error;
use crate::counts::{Counts, Scratch};
use crate::partial::{DEVIATIONS, DayPartial, OBSERVED, SCHEDULED};
use crate::stats::{Quantile, values_at_ranks};
use crate::visit::DayType;
use crate::window::{Window, WindowChoice};

/// Deviations of used rows lie in −1800 … 1800.
pub(crate) const DEVIATION_LO: i64 = DEVIATIONS.lo;
pub(crate) const DEVIATION_WIDTH: u32 = DEVIATIONS.width;

/// A day's flag (AGGREGATE.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayFlag {
    Ok,
    Suspect,
    Empty,
}

impl DayFlag {
    /// The name written in `system_daily.csv`.
    pub fn name(self) -> &'static str {
        match self {
            DayFlag::Ok => "ok",
            DayFlag::Suspect => "suspect",
            DayFlag::Empty => "empty",
        }
    }
}

/// The outline of a cell's used deviations under the aggregate's window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Outline {
    pub used: u64,
    pub early: u64,
    pub on_time: u64,
    pub late: u64,
    /// The sum of the deviations, for the mean.
    pub sum: i64,
}

impl Outline {
    pub fn of(bins: &[(i64, u64)], window: Window) -> Outline {
        let mut outline = Outline::default();
        for &(value, count) in bins {
            outline.used += count;
            outline.sum += value * count as i64;
            if window.is_early(value) {
                outline.early += count;
            } else if window.is_late(value) {
                outline.late += count;
            } else {
                outline.on_time += count;
            }
        }
        outline
    }
}

/// One day's row of `system_daily.csv`.
#[derive(Debug, Clone)]
pub(crate) struct DayRow {
    pub day: Date,
    pub flag: DayFlag,
    pub rows: u64,
    pub far: u64,
    pub outlier: u64,
    pub outline: Outline,
    pub p50: Option<i64>,
    pub p90: Option<i64>,
}

#[derive(Debug)]
pub(crate) struct RouteAgg {
    pub route_id: i64,
    pub direction: u32,
    pub daytype: DayType,
    pub days: u64,
    pub trips: u64,
    /// The sum of the route's stops', made by `finish`.
    pub deviations: Counts,
}

#[derive(Debug)]
pub(crate) struct StopAgg {
    /// Index into [`Aggregator::routes`].
    pub route: u32,
    pub route_id: i64,
    pub direction: u32,
    pub daytype: DayType,
    pub stop_id: i64,
    pub latest: Date,
    pub lat: f64,
    pub lon: f64,
    pub deviations: Counts,
}

#[derive(Debug)]
pub(crate) struct RouteHourAgg {
    pub route_id: i64,
    pub daytype: DayType,
    pub hour: u8,
    pub deviations: Counts,
}

#[derive(Debug)]
pub(crate) struct HeadwayAgg {
    pub route_id: i64,
    pub direction: u32,
    pub daytype: DayType,
    pub pairs: u64,
    pub bunched: u64,
    pub gapped: u64,
    pub observed: Counts,
    pub scheduled: Counts,
}

/// Merges day partials (see the module documentation).
#[derive(Debug)]
pub struct Aggregator {
    pub(crate) choice: WindowChoice,
    pub(crate) days: Vec<DayRow>,
    seen: FxHashSet<Date>,
    /// Rows of every class over all days.
    pub(crate) rows: u64,
    pub(crate) far: u64,
    pub(crate) outlier: u64,
    /// Used rows of `ok` days per second of deviation, offset by 1800.
    pub(crate) system: Vec<u64>,
    direction_ids: FxHashMap<String, u32>,
    pub(crate) directions: Vec<String>,
    route_ids: FxHashMap<(i64, u32, DayType), u32>,
    pub(crate) routes: Vec<RouteAgg>,
    stop_ids: FxHashMap<(i64, u32, DayType, i64), u32>,
    pub(crate) stops: Vec<StopAgg>,
    route_hour_ids: FxHashMap<(i64, DayType, u8), u32>,
    pub(crate) route_hours: Vec<RouteHourAgg>,
    headway_ids: FxHashMap<(i64, u32, DayType), u32>,
    pub(crate) headways: Vec<HeadwayAgg>,
    /// The entries of each day merged since the last fold.
    pending_days: Vec<Vec<u32>>,
    /// Pending entries in all.
    pending_len: usize,
    /// The runs of those days, each for one cell.
    pending_runs: Vec<PendingRun>,
    pub(crate) scratch: Scratch,
}

/// The merged cell a pending run goes to, by kind (the index comes with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Stop,
    RouteHour,
    Observed,
    Scheduled,
}

/// A run of a pending day's entries, and the merged cell it goes to.
#[derive(Debug, Clone, Copy)]
struct PendingRun {
    target: Target,
    index: u32,
    day: u32,
    start: u32,
    end: u32,
}

/// Pending entries are folded into their cells once there are this many (16 MB, about 60
/// days): memory stays bounded, and each fold has many runs per cell.
const FOLD_ENTRIES: usize = 1 << 22;

impl Aggregator {
    /// An empty aggregate under `choice`'s window.
    pub fn new(choice: WindowChoice) -> Aggregator {
        Aggregator {
            choice,
            days: Vec::new(),
            seen: FxHashSet::default(),
            rows: 0,
            far: 0,
            outlier: 0,
            system: vec![0; DEVIATION_WIDTH as usize],
            direction_ids: FxHashMap::default(),
            directions: Vec::new(),
            route_ids: FxHashMap::default(),
            routes: Vec::new(),
            stop_ids: FxHashMap::default(),
            stops: Vec::new(),
            route_hour_ids: FxHashMap::default(),
            route_hours: Vec::new(),
            headway_ids: FxHashMap::default(),
            headways: Vec::new(),
            pending_days: Vec::new(),
            pending_len: 0,
            pending_runs: Vec::new(),
            scratch: Scratch::default(),
        }
    }

    /// The window the aggregate uses.
    pub fn window(&self) -> WindowChoice {
        self.choice
    }

    /// Adds one day and returns its flag. Each day may be added once.
    pub fn add(&mut self, partial: &DayPartial) -> Result<DayFlag, Error> {
        self.add_counted(partial, None)
    }

    /// [`Aggregator::add`] of a partial the caller is done with: its entries are kept without
    /// a copy.
    pub fn add_owned(&mut self, mut partial: DayPartial) -> Result<DayFlag, Error> {
        let entries = std::mem::take(&mut partial.entries);
        self.add_counted(&partial, Some(entries))
    }

    /// Adds `partial`, whose entries are `entries` when given (else its own, copied).
    fn add_counted(
        &mut self,
        partial: &DayPartial,
        entries: Option<Vec<u32>>,
    ) -> Result<DayFlag, Error> {
        if !self.seen.insert(partial.day) {
            return Err(Error::DuplicateDay(partial.day));
        }
        let (far, outlier, used) = partial.classes();
        let flag = day_flag(partial);
        let outline = Outline::of(&partial.used, self.choice.window());
        let [p50, p90] = values_at_ranks(
            partial.used.iter().copied(),
            [Quantile::P50.rank(used), Quantile::P90.rank(used)],
        );
        self.days.push(DayRow {
            day: partial.day,
            flag,
            rows: partial.rows,
            far,
            outlier,
            outline,
            p50,
            p90,
        });
        self.rows += partial.rows;
        self.far += far;
        self.outlier += outlier;
        if flag == DayFlag::Ok {
            let entries = entries.unwrap_or_else(|| partial.entries.clone());
            self.merge(partial, entries);
        }
        Ok(flag)
    }

    /// Merges an `ok` day whose entries are `entries`.
    fn merge(&mut self, partial: &DayPartial, entries: Vec<u32>) {
        let daytype = DayType::of(partial.day);
        // The day's slot among the pending ones.
        let day = self.pending_days.len() as u32;
        for &(value, count) in &partial.used {
            self.system[(value - DEVIATION_LO) as usize] += count;
        }
        let directions: Vec<u32> = partial
            .directions
            .iter()
            .map(|name| self.direction_id(name))
            .collect();
        let mut routes = Vec::with_capacity(partial.routes.len());
        for cell in &partial.routes {
            let key = (cell.route_id, directions[cell.direction as usize], daytype);
            let index = self.route_index(key);
            let route = &mut self.routes[index as usize];
            route.days += 1;
            route.trips += cell.trips;
            routes.push(index);
        }
        for cell in &partial.stops {
            let route = routes[cell.route as usize];
            let (route_id, direction) = {
                let r = &self.routes[route as usize];
                (r.route_id, r.direction)
            };
            let key = (route_id, direction, daytype, cell.stop_id);
            let next = self.stops.len() as u32;
            let index = *self.stop_ids.entry(key).or_insert(next);
            if index == next {
                self.stops.push(StopAgg {
                    route,
                    route_id,
                    direction,
                    daytype,
                    stop_id: cell.stop_id,
                    latest: partial.day,
                    lat: cell.lat,
                    lon: cell.lon,
                    deviations: Counts::new(DEVIATIONS),
                });
            }
            let stop = &mut self.stops[index as usize];
            if partial.day >= stop.latest {
                stop.latest = partial.day;
                stop.lat = cell.lat;
                stop.lon = cell.lon;
            }
            self.pending_runs
                .push(note(Target::Stop, index, day, cell.deviations));
        }
        for cell in &partial.route_hours {
            let key = (cell.route_id, daytype, cell.hour);
            let index = self.route_hour_index(key);
            self.pending_runs
                .push(note(Target::RouteHour, index, day, cell.deviations));
        }
        for cell in &partial.headways {
            let route = &self.routes[routes[cell.route as usize] as usize];
            let key = (route.route_id, route.direction, daytype);
            let index = self.headway_index(key);
            let agg = &mut self.headways[index as usize];
            agg.pairs += cell.pairs;
            agg.bunched += cell.bunched;
            agg.gapped += cell.gapped;
            agg.observed
                .add_outside(partial.outside(cell.observed_outside));
            self.pending_runs
                .push(note(Target::Observed, index, day, cell.observed));
            self.pending_runs
                .push(note(Target::Scheduled, index, day, cell.scheduled));
        }
        self.pending_len += entries.len();
        self.pending_days.push(entries);
        if self.pending_len >= FOLD_ENTRIES {
            self.fold();
        }
    }

    /// Adds the pending runs to their cells, grouped by cell.
    fn fold(&mut self) {
        let bases = [
            0,
            self.stops.len(),
            self.stops.len() + self.route_hours.len(),
            self.stops.len() + self.route_hours.len() + self.headways.len(),
        ];
        let cells = bases[3] + self.headways.len();
        let flat = |run: &PendingRun| bases[run.target as usize] + run.index as usize;
        // A counting sort of the runs by cell: the slices of cell `c` are
        // `slices[starts[c]..starts[c + 1]]`.
        let mut starts = vec![0u32; cells + 1];
        for run in &self.pending_runs {
            starts[flat(run) + 1] += 1;
        }
        for c in 0..cells {
            starts[c + 1] += starts[c];
        }
        let mut next = starts.clone();
        let empty: &[u32] = &[];
        let mut slices = vec![empty; self.pending_runs.len()];
        for run in &self.pending_runs {
            let slot = &mut next[flat(run)];
            slices[*slot as usize] = self
                .pending_days
                .get(run.day as usize)
                .and_then(|entries| entries.get(run.start as usize..run.end as usize))
                .unwrap_or_default();
            *slot += 1;
        }
        let mut cell = 0;
        for (target, len) in [
            (Target::Stop, self.stops.len()),
            (Target::RouteHour, self.route_hours.len()),
            (Target::Observed, self.headways.len()),
            (Target::Scheduled, self.headways.len()),
        ] {
            for index in 0..len {
                let members = &slices[starts[cell] as usize..starts[cell + 1] as usize];
                cell += 1;
                if members.is_empty() {
                    continue;
                }
                let counts = match target {
                    Target::Stop => &mut self.stops[index].deviations,
                    Target::RouteHour => &mut self.route_hours[index].deviations,
                    Target::Observed => &mut self.headways[index].observed,
                    Target::Scheduled => &mut self.headways[index].scheduled,
                };
                counts.merge_runs(members.iter().copied(), &mut self.scratch);
            }
        }
        drop(slices);
        self.pending_runs.clear();
        self.pending_days.clear();
        self.pending_len = 0;
    }

    /// Adds all pending runs to their cells, so that what is left to combine or finish is
    /// small. Each thread calls it on its own aggregator before they are combined.
    pub(crate) fn compact(&mut self) {
        self.fold();
    }

    /// Adds everything `other` holds (days merged on another thread). Fails when both hold
    /// the same day.
    pub fn absorb(&mut self, other: Aggregator) -> Result<(), Error> {
        if self.choice != other.choice {
            return Err(Error::Window(
                "cannot combine aggregates of different windows".to_owned(),
            ));
        }
        for day in &other.seen {
            if !self.seen.insert(*day) {
                return Err(Error::DuplicateDay(*day));
            }
        }
        let mut other = other;
        self.fold();
        other.fold();
        self.days.append(&mut other.days);
        self.rows += other.rows;
        self.far += other.far;
        self.outlier += other.outlier;
        for (mine, theirs) in self.system.iter_mut().zip(&other.system) {
            *mine += theirs;
        }
        let directions: Vec<u32> = other
            .directions
            .iter()
            .map(|name| self.direction_id(name))
            .collect();
        let mut routes = Vec::with_capacity(other.routes.len());
        for route in &other.routes {
            let key = (
                route.route_id,
                directions[route.direction as usize],
                route.daytype,
            );
            let index = self.route_index(key);
            let mine = &mut self.routes[index as usize];
            mine.days += route.days;
            mine.trips += route.trips;
            routes.push(index);
        }
        for stop in other.stops {
            let key = (
                stop.route_id,
                directions[stop.direction as usize],
                stop.daytype,
                stop.stop_id,
            );
            let next = self.stops.len() as u32;
            let index = *self.stop_ids.entry(key).or_insert(next);
            if index == next {
                self.stops.push(StopAgg {
                    route: routes[stop.route as usize],
                    direction: key.1,
                    ..stop
                });
                continue;
            }
            let mine = &mut self.stops[index as usize];
            if stop.latest > mine.latest {
                mine.latest = stop.latest;
                mine.lat = stop.lat;
                mine.lon = stop.lon;
            }
            mine.deviations.absorb(&stop.deviations, &mut self.scratch);
        }
        for cell in other.route_hours {
            let key = (cell.route_id, cell.daytype, cell.hour);
            let index = self.route_hour_index(key);
            self.route_hours[index as usize]
                .deviations
                .absorb(&cell.deviations, &mut self.scratch);
        }
        for cell in other.headways {
            let key = (
                cell.route_id,
                directions[cell.direction as usize],
                cell.daytype,
            );
            let index = self.headway_index(key);
            let mine = &mut self.headways[index as usize];
            mine.pairs += cell.pairs;
            mine.bunched += cell.bunched;
            mine.gapped += cell.gapped;
            mine.observed.absorb(&cell.observed, &mut self.scratch);
            mine.scheduled.absorb(&cell.scheduled, &mut self.scratch);
        }
        Ok(())
    }

    fn route_index(&mut self, key: (i64, u32, DayType)) -> u32 {
        let next = self.routes.len() as u32;
        let index = *self.route_ids.entry(key).or_insert(next);
        if index == next {
            self.routes.push(RouteAgg {
                route_id: key.0,
                direction: key.1,
                daytype: key.2,
                days: 0,
                trips: 0,
                deviations: Counts::new(DEVIATIONS),
            });
        }
        index
    }

    fn route_hour_index(&mut self, key: (i64, DayType, u8)) -> u32 {
        let next = self.route_hours.len() as u32;
        let index = *self.route_hour_ids.entry(key).or_insert(next);
        if index == next {
            self.route_hours.push(RouteHourAgg {
                route_id: key.0,
                daytype: key.1,
                hour: key.2,
                deviations: Counts::new(DEVIATIONS),
            });
        }
        index
    }

    fn headway_index(&mut self, key: (i64, u32, DayType)) -> u32 {
        let next = self.headways.len() as u32;
        let index = *self.headway_ids.entry(key).or_insert(next);
        if index == next {
            self.headways.push(HeadwayAgg {
                route_id: key.0,
                direction: key.1,
                daytype: key.2,
                pairs: 0,
                bunched: 0,
                gapped: 0,
                observed: Counts::new(OBSERVED),
                scheduled: Counts::new(SCHEDULED),
            });
        }
        index
    }

    fn direction_id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.direction_ids.get(name) {
            return id;
        }
        let id = self.directions.len() as u32;
        self.directions.push(name.to_owned());
        self.direction_ids.insert(name.to_owned(), id);
        id
    }
}

/// `empty` without rows; `suspect` when more than a fifth of the rows that are not far are
/// outliers, or their median deviation is beyond ±900 s; `ok` otherwise.
fn day_flag(partial: &DayPartial) -> DayFlag {
    if partial.rows == 0 {
        return DayFlag::Empty;
    }
    let near = partial.rows - partial.far;
    if near == 0 {
        return DayFlag::Ok;
    }
    // outlier / near > 0.2, exactly.
    if partial.outlier * 5 > near {
        return DayFlag::Suspect;
    }
    let merged = MergeSorted {
        a: partial.used.iter().copied().peekable(),
        b: partial.outliers.iter().copied().peekable(),
    };
    let [median] = values_at_ranks(merged, [Quantile::P50.rank(near)]);
    if median.is_some_and(|m| m.abs() > 900) {
        DayFlag::Suspect
    } else {
        DayFlag::Ok
    }
}

/// Two sorted bin sequences as one sorted sequence.
struct MergeSorted<A: Iterator<Item = (i64, u64)>, B: Iterator<Item = (i64, u64)>> {
    a: std::iter::Peekable<A>,
    b: std::iter::Peekable<B>,
}

impl<A: Iterator<Item = (i64, u64)>, B: Iterator<Item = (i64, u64)>> Iterator
    for MergeSorted<A, B>
{
    type Item = (i64, u64);

    fn next(&mut self) -> Option<(i64, u64)> {
        match (self.a.peek(), self.b.peek()) {
            (Some(x), Some(y)) if x.0 <= y.0 => self.a.next(),
            (Some(_), Some(_)) => self.b.next(),
            (Some(_), None) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

/// A pending run: `run` of pending day `day` goes to `index` of `target`.
fn note(target: Target, index: u32, day: u32, run: crate::partial::Run) -> PendingRun {
    PendingRun {
        target,
        index,
        day,
        start: run.0,
        end: run.1,
    }
}
