//! [`Aggregator`]: merges day partials into the cells of AGGREGATE.md §2.
//!
//! Each day is classified (`ok`, `suspect`, `empty`) as it arrives and gets its row of
//! `system_daily.csv`; only `ok` days are merged into the other tables. Everything merged is a
//! sum, and the stop coordinates come from the latest day, so the result does not depend on
//! the order days arrive in: partials can be made on many threads and added as they finish.

use capmetrics::Date;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::Error;
use crate::counts::Counts;
use crate::partial::DayPartial;
use crate::partial::builder::MAX_SCHEDULED_HEADWAY;
use crate::stats::{Quantile, values_at_ranks};
use crate::visit::{DayType, OUTLIER_SECONDS};
use crate::window::{Window, WindowChoice};

/// Deviations of used rows lie in −1800 … 1800.
pub(crate) const DEVIATION_LO: i64 = -OUTLIER_SECONDS;
pub(crate) const DEVIATION_WIDTH: u32 = 2 * OUTLIER_SECONDS as u32 + 1;
/// Observed headways are counted densely from −1 h to +4 h; others are kept aside.
const OBSERVED_LO: i64 = -3600;
const OBSERVED_WIDTH: u32 = 5 * 3600 + 1;

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
    pub deviations: Counts,
}

#[derive(Debug)]
pub(crate) struct StopAgg {
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
    pub(crate) scratch: Vec<u64>,
}

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
            scratch: vec![0; OBSERVED_WIDTH as usize],
        }
    }

    /// The window the aggregate uses.
    pub fn window(&self) -> WindowChoice {
        self.choice
    }

    /// Adds one day and returns its flag. Each day may be added once.
    pub fn add(&mut self, partial: &DayPartial) -> Result<DayFlag, Error> {
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
            self.merge(partial);
        }
        Ok(flag)
    }

    fn merge(&mut self, partial: &DayPartial) {
        let daytype = DayType::of(partial.day);
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
            let next = self.routes.len() as u32;
            let index = *self.route_ids.entry(key).or_insert(next);
            if index == next {
                self.routes.push(RouteAgg {
                    route_id: key.0,
                    direction: key.1,
                    daytype,
                    days: 0,
                    trips: 0,
                    deviations: Counts::new(DEVIATION_LO, DEVIATION_WIDTH),
                });
            }
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
                    route_id,
                    direction,
                    daytype,
                    stop_id: cell.stop_id,
                    latest: partial.day,
                    lat: cell.lat,
                    lon: cell.lon,
                    deviations: Counts::new(DEVIATION_LO, DEVIATION_WIDTH),
                });
            }
            let stop = &mut self.stops[index as usize];
            if partial.day >= stop.latest {
                stop.latest = partial.day;
                stop.lat = cell.lat;
                stop.lon = cell.lon;
            }
            let route = &mut self.routes[route as usize];
            let bins = partial.range(cell.deviations);
            stop.deviations.add_bins(bins, &mut self.scratch);
            route.deviations.add_bins(bins, &mut self.scratch);
        }
        for cell in &partial.route_hours {
            let key = (cell.route_id, daytype, cell.hour);
            let next = self.route_hours.len() as u32;
            let index = *self.route_hour_ids.entry(key).or_insert(next);
            if index == next {
                self.route_hours.push(RouteHourAgg {
                    route_id: cell.route_id,
                    daytype,
                    hour: cell.hour,
                    deviations: Counts::new(DEVIATION_LO, DEVIATION_WIDTH),
                });
            }
            self.route_hours[index as usize]
                .deviations
                .add_bins(partial.range(cell.deviations), &mut self.scratch);
        }
        for cell in &partial.headways {
            let route = &self.routes[routes[cell.route as usize] as usize];
            let key = (route.route_id, route.direction, daytype);
            let next = self.headways.len() as u32;
            let index = *self.headway_ids.entry(key).or_insert(next);
            if index == next {
                self.headways.push(HeadwayAgg {
                    route_id: key.0,
                    direction: key.1,
                    daytype,
                    pairs: 0,
                    bunched: 0,
                    gapped: 0,
                    observed: Counts::new(OBSERVED_LO, OBSERVED_WIDTH),
                    scheduled: Counts::new(1, MAX_SCHEDULED_HEADWAY as u32),
                });
            }
            let agg = &mut self.headways[index as usize];
            agg.pairs += cell.pairs;
            agg.bunched += cell.bunched;
            agg.gapped += cell.gapped;
            agg.observed
                .add_bins(partial.range(cell.observed), &mut self.scratch);
            agg.scheduled
                .add_bins(partial.range(cell.scheduled), &mut self.scratch);
        }
    }

    /// Adds everything `other` holds (days merged on another thread). Fails when both hold
    /// the same day.
    pub fn absorb(&mut self, mut other: Aggregator) -> Result<(), Error> {
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
        let mut bins = Vec::new();
        let scratch = &mut other.scratch;
        for mut route in other.routes {
            let key = (
                route.route_id,
                directions[route.direction as usize],
                route.daytype,
            );
            let next = self.routes.len() as u32;
            let index = *self.route_ids.entry(key).or_insert(next);
            if index == next {
                self.routes.push(RouteAgg {
                    route_id: key.0,
                    direction: key.1,
                    daytype: key.2,
                    days: 0,
                    trips: 0,
                    deviations: Counts::new(DEVIATION_LO, DEVIATION_WIDTH),
                });
            }
            let mine = &mut self.routes[index as usize];
            mine.days += route.days;
            mine.trips += route.trips;
            route.deviations.bins(scratch, &mut bins);
            mine.deviations.add_bins(&bins, &mut self.scratch);
        }
        for mut stop in other.stops {
            let key = (
                stop.route_id,
                directions[stop.direction as usize],
                stop.daytype,
                stop.stop_id,
            );
            let next = self.stops.len() as u32;
            let index = *self.stop_ids.entry(key).or_insert(next);
            stop.deviations.bins(scratch, &mut bins);
            if index == next {
                stop.direction = key.1;
                stop.deviations = Counts::new(DEVIATION_LO, DEVIATION_WIDTH);
                self.stops.push(stop);
            } else {
                let mine = &mut self.stops[index as usize];
                if stop.latest > mine.latest {
                    mine.latest = stop.latest;
                    mine.lat = stop.lat;
                    mine.lon = stop.lon;
                }
            }
            self.stops[index as usize]
                .deviations
                .add_bins(&bins, &mut self.scratch);
        }
        for mut cell in other.route_hours {
            let key = (cell.route_id, cell.daytype, cell.hour);
            let next = self.route_hours.len() as u32;
            let index = *self.route_hour_ids.entry(key).or_insert(next);
            cell.deviations.bins(scratch, &mut bins);
            if index == next {
                cell.deviations = Counts::new(DEVIATION_LO, DEVIATION_WIDTH);
                self.route_hours.push(cell);
            }
            self.route_hours[index as usize]
                .deviations
                .add_bins(&bins, &mut self.scratch);
        }
        for mut cell in other.headways {
            let key = (
                cell.route_id,
                directions[cell.direction as usize],
                cell.daytype,
            );
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
                    observed: Counts::new(OBSERVED_LO, OBSERVED_WIDTH),
                    scheduled: Counts::new(1, MAX_SCHEDULED_HEADWAY as u32),
                });
            }
            let mine = &mut self.headways[index as usize];
            mine.pairs += cell.pairs;
            mine.bunched += cell.bunched;
            mine.gapped += cell.gapped;
            cell.observed.bins(scratch, &mut bins);
            mine.observed.add_bins(&bins, &mut self.scratch);
            cell.scheduled.bins(scratch, &mut bins);
            mine.scheduled.add_bins(&bins, &mut self.scratch);
        }
        Ok(())
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
