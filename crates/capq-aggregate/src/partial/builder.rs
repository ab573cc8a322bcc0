//! [`PartialBuilder`]: a day's rows in, its [`DayPartial`] out.
//!
//! Rows arrive in any order (processed files are sorted by trip, then stop), one at a time, so
//! the day processor can push each row while it writes it. The builder keeps one small record
//! per used row (its cells, deviation and instants) in one array; `finish` groups them by cell
//! with a counting sort and sorts each cell's few values into histograms and headway pairs.
//! Consecutive rows usually share their trip, so the route cell of the previous row is tried
//! before any hash lookup, and each route cell remembers its route's hour cells.

use std::convert::Infallible;

use capmetrics::Date;
use rustc_hash::FxHashMap;

use super::{
    DEVIATIONS, DayPartial, HeadwayCell, OBSERVED, RouteCell, RouteHourCell, Run, SCHEDULED,
    StopCell,
};
use crate::counts::Packing;
use crate::visit::{OUTLIER_SECONDS, RowClass, Visit};

/// Headway pairs are kept when `0 < h_sched ≤ MAX_SCHEDULED_HEADWAY` seconds.
pub const MAX_SCHEDULED_HEADWAY: i64 = 3600;

/// The width of the deviation range of used rows, −1800 … 1800.
const USED_WIDTH: usize = 2 * OUTLIER_SECONDS as usize + 1;

/// Builds one day's [`DayPartial`] from its rows.
#[derive(Debug)]
pub struct PartialBuilder {
    day: Date,
    rows: u64,
    far: u64,
    outlier: u64,
    /// Used rows per second of deviation, offset by 1800.
    used: Vec<u64>,
    outliers: Vec<i64>,
    direction_ids: FxHashMap<Box<str>, u32>,
    directions: Vec<Box<str>>,
    route_ids: FxHashMap<(i64, u32), u32>,
    routes: Vec<RouteAcc>,
    stop_ids: FxHashMap<(u32, i64), u32>,
    stops: Vec<StopAcc>,
    route_hour_ids: FxHashMap<(i64, u8), u32>,
    route_hours: Vec<RouteHourAcc>,
    /// One record per used row.
    records: Vec<UsedRecord>,
    /// The route cell of the previous used row: `(route_id, headsign, cell)`.
    last_route: Option<(i64, Box<str>, u32)>,
}

#[derive(Debug)]
struct RouteAcc {
    route_id: i64,
    direction: u32,
    trips: Vec<i64>,
    /// The route's `(route_id, hour)` cells by hour, once seen (`u32::MAX` before).
    hours: [u32; 24],
}

#[derive(Debug)]
struct StopAcc {
    route: u32,
    stop_id: i64,
    lat: f64,
    lon: f64,
}

#[derive(Debug)]
struct RouteHourAcc {
    route_id: i64,
    hour: u8,
}

/// What the partial needs of one used row.
#[derive(Debug, Clone, Copy)]
struct UsedRecord {
    stop: u32,
    route_hour: u32,
    sched_time: i64,
    timestamp: i64,
    deviation: i16,
}

/// The fields of a used row, parsed (coordinates are asked for only when a stop cell is new).
#[derive(Debug, Clone, Copy)]
pub(crate) struct UsedRow<'a> {
    pub route_id: i64,
    pub trip_id: i64,
    pub headsign: &'a str,
    pub stop_id: i64,
    pub timestamp: i64,
    pub sched_time: i64,
    /// Within ±1800 (the row is used).
    pub deviation: i64,
    pub hour: u8,
}

impl PartialBuilder {
    /// An empty builder for `day` (the day of the file, which decides the day type).
    pub fn new(day: Date) -> PartialBuilder {
        PartialBuilder {
            day,
            rows: 0,
            far: 0,
            outlier: 0,
            used: vec![0; USED_WIDTH],
            outliers: Vec::new(),
            direction_ids: FxHashMap::default(),
            directions: Vec::new(),
            route_ids: FxHashMap::default(),
            routes: Vec::new(),
            stop_ids: FxHashMap::default(),
            stops: Vec::new(),
            route_hour_ids: FxHashMap::default(),
            route_hours: Vec::new(),
            records: Vec::new(),
            last_route: None,
        }
    }

    /// Adds one row of the day.
    pub fn push(&mut self, visit: &Visit<'_>) {
        match visit.class() {
            RowClass::Far => self.push_far(),
            RowClass::Outlier => self.push_outlier(visit.sched_dev),
            RowClass::Used => {
                let row = UsedRow {
                    route_id: visit.route_id,
                    trip_id: visit.trip_id,
                    headsign: visit.trip_headsign,
                    stop_id: visit.stop_id,
                    timestamp: visit.timestamp,
                    sched_time: visit.sched_time,
                    deviation: visit.sched_dev,
                    hour: visit.hourofday,
                };
                let coordinates = || Ok::<_, Infallible>((visit.stop_lat, visit.stop_lon));
                match self.push_used(&row, coordinates) {
                    Ok(()) => {}
                    Err(never) => match never {},
                }
            }
        }
    }

    pub(crate) fn push_far(&mut self) {
        self.rows += 1;
        self.far += 1;
    }

    pub(crate) fn push_outlier(&mut self, deviation: i64) {
        self.rows += 1;
        self.outlier += 1;
        self.outliers.push(deviation);
    }

    /// Adds a used row; `coordinates` gives the stop's latitude and longitude, and is called
    /// only for the first row of a stop cell.
    pub(crate) fn push_used<E>(
        &mut self,
        row: &UsedRow<'_>,
        coordinates: impl FnOnce() -> Result<(f64, f64), E>,
    ) -> Result<(), E> {
        // Used rows lie within ±1800 s, so the index and the i16 below cannot go wrong.
        let offset = (row.deviation + OUTLIER_SECONDS) as usize;
        let deviation = row.deviation as i16;
        let route = self.route_cell(row.route_id, row.headsign);
        let stop = match self.stop_ids.get(&(route, row.stop_id)) {
            Some(&stop) => stop,
            None => {
                let (lat, lon) = coordinates()?;
                let stop = self.stops.len() as u32;
                self.stops.push(StopAcc {
                    route,
                    stop_id: row.stop_id,
                    lat,
                    lon,
                });
                self.stop_ids.insert((route, row.stop_id), stop);
                stop
            }
        };
        self.rows += 1;
        if let Some(slot) = self.used.get_mut(offset) {
            *slot += 1;
        }
        let route_acc = &mut self.routes[route as usize];
        if route_acc.trips.last() != Some(&row.trip_id) {
            route_acc.trips.push(row.trip_id);
        }
        let cached = route_acc.hours.get(usize::from(row.hour)).copied();
        let route_hour = match cached {
            Some(cell) if cell != u32::MAX => cell,
            _ => {
                let next = self.route_hours.len() as u32;
                let cell = *self
                    .route_hour_ids
                    .entry((row.route_id, row.hour))
                    .or_insert(next);
                if cell == next {
                    self.route_hours.push(RouteHourAcc {
                        route_id: row.route_id,
                        hour: row.hour,
                    });
                }
                if let Some(slot) = self.routes[route as usize]
                    .hours
                    .get_mut(usize::from(row.hour))
                {
                    *slot = cell;
                }
                cell
            }
        };
        self.records.push(UsedRecord {
            stop,
            route_hour,
            sched_time: row.sched_time,
            timestamp: row.timestamp,
            deviation,
        });
        Ok(())
    }

    /// The `(route_id, direction)` cell of a row, trying the previous row's first.
    fn route_cell(&mut self, route_id: i64, headsign: &str) -> u32 {
        if let Some((last_route, last_headsign, cell)) = &self.last_route
            && *last_route == route_id
            && **last_headsign == *headsign
        {
            return *cell;
        }
        let direction = match self.direction_ids.get(headsign) {
            Some(&d) => d,
            None => {
                let d = self.directions.len() as u32;
                self.directions.push(headsign.into());
                self.direction_ids.insert(headsign.into(), d);
                d
            }
        };
        let next = self.routes.len() as u32;
        let cell = *self.route_ids.entry((route_id, direction)).or_insert(next);
        if cell == next {
            self.routes.push(RouteAcc {
                route_id,
                direction,
                trips: Vec::new(),
                hours: [u32::MAX; 24],
            });
        }
        self.last_route = Some((route_id, headsign.into(), cell));
        cell
    }

    /// The day's partial, with every cell sorted by its key. No source is recorded.
    pub fn finish(self) -> DayPartial {
        let mut entries: Vec<u32> = Vec::new();
        let mut outside: Vec<(i64, u64)> = Vec::new();

        // Directions by bytes, and the routes renumbered in (route_id, direction) order.
        let mut direction_order: Vec<u32> = (0..self.directions.len() as u32).collect();
        direction_order.sort_unstable_by(|&a, &b| {
            self.directions[a as usize].cmp(&self.directions[b as usize])
        });
        let mut direction_rank = vec![0u32; self.directions.len()];
        for (rank, &old) in direction_order.iter().enumerate() {
            direction_rank[old as usize] = rank as u32;
        }
        let directions: Vec<String> = direction_order
            .iter()
            .map(|&old| self.directions[old as usize].to_string())
            .collect();
        let mut route_order: Vec<u32> = (0..self.routes.len() as u32).collect();
        route_order.sort_unstable_by_key(|&r| {
            let route = &self.routes[r as usize];
            (route.route_id, direction_rank[route.direction as usize])
        });
        let mut route_rank = vec![0u32; self.routes.len()];
        for (rank, &old) in route_order.iter().enumerate() {
            route_rank[old as usize] = rank as u32;
        }
        let mut routes: Vec<RouteCell> = Vec::with_capacity(self.routes.len());
        for &old in &route_order {
            let route = &self.routes[old as usize];
            let mut trips = route.trips.clone();
            trips.sort_unstable();
            trips.dedup();
            routes.push(RouteCell {
                route_id: route.route_id,
                direction: direction_rank[route.direction as usize],
                trips: trips.len() as u64,
            });
        }

        // The rows grouped by stop and by route hour (counting sorts: one pass each).
        let by_stop = group(&self.records, self.stops.len(), |r| r.stop);
        let by_hour = group(&self.records, self.route_hours.len(), |r| r.route_hour);

        // Stops, and the headway pairs of each stop added to its route's.
        let mut headway: Vec<HeadwayAcc> =
            (0..routes.len()).map(|_| HeadwayAcc::default()).collect();
        let mut stop_order: Vec<u32> = (0..self.stops.len() as u32).collect();
        stop_order.sort_unstable_by_key(|&s| {
            let stop = &self.stops[s as usize];
            (route_rank[stop.route as usize], stop.stop_id)
        });
        let mut stops = Vec::with_capacity(self.stops.len());
        let mut deviations: Vec<i16> = Vec::new();
        let mut instants: Vec<(i64, i64)> = Vec::new();
        for s in stop_order {
            let stop = &self.stops[s as usize];
            let route = route_rank[stop.route as usize];
            let members = &by_stop.rows[by_stop.starts[s as usize]..by_stop.starts[s as usize + 1]];
            deviations.clear();
            instants.clear();
            for &r in members {
                let record = &self.records[r as usize];
                deviations.push(record.deviation);
                instants.push((record.sched_time, record.timestamp));
            }
            headway[route as usize].add_stop(&mut instants);
            stops.push(StopCell {
                route,
                stop_id: stop.stop_id,
                lat: stop.lat,
                lon: stop.lon,
                deviations: push_entries(&mut entries, DEVIATIONS, &mut deviations),
            });
        }

        let mut hour_order: Vec<u32> = (0..self.route_hours.len() as u32).collect();
        hour_order.sort_unstable_by_key(|&c| {
            let cell = &self.route_hours[c as usize];
            (cell.route_id, cell.hour)
        });
        let mut route_hours = Vec::with_capacity(hour_order.len());
        for c in hour_order {
            let cell = &self.route_hours[c as usize];
            deviations.clear();
            deviations.extend(
                by_hour.rows[by_hour.starts[c as usize]..by_hour.starts[c as usize + 1]]
                    .iter()
                    .map(|&r| self.records[r as usize].deviation),
            );
            route_hours.push(RouteHourCell {
                route_id: cell.route_id,
                hour: cell.hour,
                deviations: push_entries(&mut entries, DEVIATIONS, &mut deviations),
            });
        }

        let mut headways = Vec::new();
        for (route, mut acc) in headway.into_iter().enumerate() {
            if acc.observed.is_empty() {
                continue;
            }
            // Sorted, the values below the packed range come first and those above it last.
            acc.observed.sort_unstable();
            let below = acc.observed.partition_point(|&v| v < OBSERVED.lo);
            let end = OBSERVED.lo + i64::from(OBSERVED.width);
            let above = acc.observed.partition_point(|&v| v < end);
            let outside_start = outside.len() as u32;
            push_bins(&mut outside, &acc.observed[..below]);
            push_bins(&mut outside, &acc.observed[above..]);
            let observed_outside = (outside_start, outside.len() as u32);
            let observed = push_entries(&mut entries, OBSERVED, &mut acc.observed[below..above]);
            headways.push(HeadwayCell {
                route: route as u32,
                pairs: acc.observed.len() as u64,
                bunched: acc.bunched,
                gapped: acc.gapped,
                observed,
                observed_outside,
                scheduled: push_entries(&mut entries, SCHEDULED, &mut acc.scheduled),
            });
        }

        let used = self
            .used
            .iter()
            .enumerate()
            .filter(|&(_, &count)| count > 0)
            .map(|(offset, &count)| (offset as i64 - OUTLIER_SECONDS, count))
            .collect();
        let mut outliers = self.outliers;
        outliers.sort_unstable();
        let mut outlier_bins = Vec::new();
        push_bins(&mut outlier_bins, &outliers);

        DayPartial {
            day: self.day,
            source: None,
            rows: self.rows,
            far: self.far,
            outlier: self.outlier,
            used,
            outliers: outlier_bins,
            directions,
            routes,
            stops,
            route_hours,
            headways,
            entries,
            outside,
        }
    }
}

/// Headway pairs of one route cell, gathered stop by stop.
#[derive(Debug, Default)]
struct HeadwayAcc {
    observed: Vec<i64>,
    scheduled: Vec<i64>,
    bunched: u64,
    gapped: u64,
}

impl HeadwayAcc {
    /// Orders one stop's used rows by scheduled, then observed instant, and keeps each
    /// consecutive pair with `0 < h_sched ≤ 3600`.
    fn add_stop(&mut self, instants: &mut [(i64, i64)]) {
        instants.sort_unstable();
        for pair in instants.windows(2) {
            let (sched_a, seen_a) = pair[0];
            let (sched_b, seen_b) = pair[1];
            let scheduled = sched_b - sched_a;
            if scheduled <= 0 || scheduled > MAX_SCHEDULED_HEADWAY {
                continue;
            }
            let observed = seen_b - seen_a;
            // h_obs < 0.25·h_sched and h_obs > 1.5·h_sched, in integers.
            if observed.saturating_mul(4) < scheduled {
                self.bunched += 1;
            }
            if observed.saturating_mul(2) > scheduled * 3 {
                self.gapped += 1;
            }
            self.observed.push(observed);
            self.scheduled.push(scheduled);
        }
    }
}

/// Row indices grouped by a cell: the rows of cell `c` are `rows[starts[c]..starts[c + 1]]`,
/// in their original order.
struct Groups {
    starts: Vec<usize>,
    rows: Vec<u32>,
}

fn group(records: &[UsedRecord], cells: usize, cell: impl Fn(&UsedRecord) -> u32) -> Groups {
    let mut starts = vec![0usize; cells + 1];
    for record in records {
        starts[cell(record) as usize + 1] += 1;
    }
    for c in 0..cells {
        starts[c + 1] += starts[c];
    }
    let mut next = starts.clone();
    let mut rows = vec![0u32; records.len()];
    for (r, record) in records.iter().enumerate() {
        let slot = &mut next[cell(record) as usize];
        rows[*slot] = r as u32;
        *slot += 1;
    }
    Groups { starts, rows }
}

/// Appends sorted `values` to `bins` as `(value, count)` runs.
fn push_bins(bins: &mut Vec<(i64, u64)>, values: &[i64]) {
    let start = bins.len();
    for &value in values {
        let in_run = bins.len() > start;
        match bins.last_mut() {
            Some((last, count)) if in_run && *last == value => *count += 1,
            _ => bins.push((value, 1)),
        }
    }
}

/// Sorts `values` (all within `packing`'s range), appends them to `entries` packed, and
/// returns their run.
fn push_entries<T: Copy + Ord + Into<i64>>(
    entries: &mut Vec<u32>,
    packing: Packing,
    values: &mut [T],
) -> Run {
    values.sort_unstable();
    let start = entries.len() as u32;
    let mut values = values.iter().map(|&v| v.into());
    if let Some(mut current) = values.next() {
        let mut count = 1u64;
        let flush = |entries: &mut Vec<u32>, value: i64, count: u64| {
            if let Some(index) = packing.index(value) {
                packing.push(entries, index, count);
            }
        };
        for value in values {
            if value == current {
                count += 1;
            } else {
                flush(entries, current, count);
                current = value;
                count = 1;
            }
        }
        flush(entries, current, count);
    }
    (start, entries.len() as u32)
}
