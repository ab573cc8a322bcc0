//! The day processor: SPEC §2–§4, from parsed positions to the output CSV.
//!
//! Work is done trip by trip. A trip's candidate stops, its schedule slice and each candidate's
//! scheduled arrival are decided once, and then every position of the trip is matched against
//! that small, contiguous candidate list. Rows are then grouped by (trip, stop) with one sort,
//! which also yields the output order.

use crate::date::Date;
use crate::diagnostics::{Diagnostics, DropReason};
use crate::error::{Cancel, Result};
use crate::index::GroupIndex;
use crate::input::Input;
use crate::output::{HEADER, push_float, push_int};
use crate::params::Params;
use crate::positions::Positions;
use crate::rows::{OutputRow, RowSink};
use crate::schedule::Schedule;
use crate::stops::Stops;
use crate::timestamp::{LocalTime, TimestampWriter};

/// A group's rows count as "at the stop" up to this `distance_to_stop` (degrees × 100) by
/// default; see [`Params::group_max_distance`].
pub const NEARBY: f64 = Params::DEFAULT.group_max_distance();

const DAY: i64 = 86_400;

/// A position matched to its trip's nearest candidate stop.
#[derive(Debug, Clone, Copy)]
struct Match {
    stop_id: u64,
    /// Index into the positions.
    row: u32,
    /// Index into the stops table.
    stop: u32,
    distance_to_stop: f64,
    scheduled: Option<Scheduled>,
}

#[derive(Debug, Clone, Copy)]
struct Scheduled {
    date: Date,
    seconds: u32,
    deviation: i64,
}

/// Processes one day of positions against its stops and schedule, appending the output CSV
/// (header included) to `out`. On error `out` may hold a partial result and must be discarded.
///
/// Trips are handled one at a time in ascending `trip_id` order, and a trip's rows are grouped
/// by stop with a small sort, so the output comes out in (trip, stop) order without sorting the
/// whole day.
pub fn process_day(
    positions: &Input,
    stops: &Stops,
    schedule: &Schedule,
    out: &mut Vec<u8>,
) -> Result<Diagnostics> {
    process_day_with_params(positions, stops, schedule, &Params::DEFAULT, out)
}

/// [`process_day`] with the given parameters instead of the defaults.
pub fn process_day_with_params(
    positions: &Input,
    stops: &Stops,
    schedule: &Schedule,
    params: &Params,
    out: &mut Vec<u8>,
) -> Result<Diagnostics> {
    process_day_with_rows(positions, stops, schedule, params, out, &mut ())
}

/// [`process_day_with_params`], handing every output row to `rows` as it is written (see
/// [`crate::rows`]). On error, `rows` may have seen some rows and must be discarded.
pub fn process_day_with_rows(
    positions: &Input,
    stops: &Stops,
    schedule: &Schedule,
    params: &Params,
    out: &mut Vec<u8>,
    rows: &mut impl RowSink,
) -> Result<Diagnostics> {
    let positions = Positions::parse(positions, Cancel::NEVER)?;
    process_positions(
        &positions,
        stops,
        schedule,
        params,
        out,
        rows,
        Cancel::NEVER,
    )
}

/// [`process_day`] on positions already parsed, handing each output row to `sink` as it is
/// written; it fails only when cancelled.
pub(crate) fn process_positions(
    positions: &Positions<'_>,
    stops: &Stops,
    schedule: &Schedule,
    params: &Params,
    out: &mut Vec<u8>,
    sink: &mut impl RowSink,
    cancel: Cancel<'_>,
) -> Result<Diagnostics> {
    // Read once into locals: the per-group rule then compares against plain values.
    let group_rule = GroupRule {
        max_distance: params.group_max_distance(),
        arrived_min_dev: params.group_arrived_min_dev(),
    };
    let mut diagnostics = Diagnostics::default();
    diagnostics.rows_in = positions.rows.len() as u64 + positions.empty_trip_id;
    diagnostics.add_dropped(DropReason::EmptyTripId, positions.empty_trip_id);

    let trips = GroupIndex::build(&positions.trip_ids);
    let mut trip_order: Vec<usize> = (0..trips.len()).collect();
    trip_order.sort_unstable_by_key(|&g| trips.key(g));

    // Output rows are about 170 bytes.
    out.reserve(positions.rows.len() * 180);
    out.extend_from_slice(HEADER.as_bytes());
    out.push(b'\n');
    let mut trip = TripStops::default();
    let mut matches = Vec::new();
    let mut times = TimestampWriter::default();
    for (n, g) in trip_order.into_iter().enumerate() {
        if n.is_multiple_of(64) {
            cancel.check()?;
        }
        let (trip_id, rows) = (trips.key(g), trips.group(g));
        let first = &positions.rows[rows[0] as usize];
        trip.prepare(trip_id, first.time.date, stops, schedule);
        if trip.candidates.is_empty() {
            diagnostics.add_dropped(DropReason::NoCandidateStop, rows.len() as u64);
            continue;
        }
        matches.clear();
        matches.extend(rows.iter().map(|&row| trip.match_position(row, positions)));
        // Rows are in file order already: a stable sort by stop gives (stop, row) order.
        matches.sort_by_key(|m| m.stop_id);
        for group in matches.chunk_by(|a, b| a.stop_id == b.stop_id) {
            if let Some(kept) = pick(group, group_rule, &mut diagnostics) {
                let row = Output {
                    trip_id,
                    kept: &kept,
                    positions,
                    stops,
                };
                row.write(out, &mut times, &mut diagnostics, sink);
            }
        }
    }
    debug_assert!(diagnostics.is_balanced(), "{diagnostics:?}");
    Ok(diagnostics)
}

/// A kept row of a (trip, stop) group, with what its output line is made from.
struct Output<'r> {
    trip_id: u64,
    kept: &'r Match,
    positions: &'r Positions<'r>,
    stops: &'r Stops,
}

impl Output<'_> {
    /// SPEC §3's last rule and §4: drops a kept row with an empty field, else appends it.
    fn write<S: RowSink>(
        &self,
        out: &mut Vec<u8>,
        times: &mut TimestampWriter,
        diagnostics: &mut Diagnostics,
        sink: &mut S,
    ) {
        let kept = self.kept;
        let position = &self.positions.rows[kept.row as usize];
        let Some(scheduled) = kept.scheduled.filter(|_| position.complete) else {
            let reason = if position.headsign_empty {
                DropReason::EmptyHeadsign
            } else if kept.scheduled.is_none() {
                DropReason::NoScheduledTime
            } else {
                DropReason::EmptyField
            };
            diagnostics.add_dropped(reason, 1);
            return;
        };
        if position.headsign_empty {
            diagnostics.add_dropped(DropReason::EmptyHeadsign, 1);
            return;
        }
        self.positions.write_columns(out, kept.row, self.trip_id);
        out.push(b',');
        // `stop_lat,stop_lon,stop_id,`
        out.extend_from_slice(self.stops.output_text(kept.stop));
        times.write(
            out,
            scheduled.date,
            scheduled.seconds,
            position.time.offset_minutes,
        );
        out.push(b',');
        push_float(out, kept.distance_to_stop);
        out.push(b',');
        push_int(out, scheduled.deviation);
        out.push(b',');
        push_int(out, position.time.date.iso_weekday());
        out.push(b',');
        push_int(out, position.time.hour());
        out.push(b'\n');
        diagnostics.rows_out += 1;
        if S::WANTS_ROWS {
            self.hand_to(sink, scheduled);
        }
    }

    /// The row as values, for a sink that wants them (the numbers its CSV text stands for).
    fn hand_to(&self, sink: &mut impl RowSink, scheduled: Scheduled) {
        let kept = self.kept;
        let position = &self.positions.rows[kept.row as usize];
        let (route_id, trip_headsign) = self.positions.route_and_headsign(kept.row);
        let (stop_lat, stop_lon) = self.stops.coordinates(kept.stop);
        // Both instants are local times in the position's offset; UTC is that minus the offset.
        let offset = i64::from(position.time.offset_minutes) * 60;
        sink.row(&OutputRow {
            route_id,
            trip_id: self.trip_id,
            trip_headsign,
            stop_id: kept.stop_id,
            stop_lat,
            stop_lon,
            timestamp: position.time.local_epoch_seconds() - offset,
            sched_time: i64::from(scheduled.date.day_number()) * DAY + i64::from(scheduled.seconds)
                - offset,
            distance_to_stop: kept.distance_to_stop,
            sched_dev: scheduled.deviation,
            hourofday: position.time.hour() as u8,
        });
    }
}

/// SPEC §2.4–2.5: the scheduled instant of an arrival (seconds after the service day's
/// midnight, possibly past 24 h) for a position at local time `time`, and the deviation.
fn schedule_time(arrival: u32, time: LocalTime) -> Scheduled {
    let (date, seconds) = if arrival >= DAY as u32 {
        // Past-midnight trips: only a position in the last hour of the day moves to tomorrow.
        // A 22:50 position matched to 24:05 stays on the same day (a quirk we keep).
        let date = if time.hour() == 23 {
            time.date.add_days(1)
        } else {
            time.date
        };
        (date, arrival - DAY as u32)
    } else {
        (time.date, arrival)
    };
    // Both instants share the position's UTC offset, so local times can be subtracted.
    let scheduled = i64::from(date.day_number()) * DAY + i64::from(seconds);
    let gap = time.local_epoch_seconds() - scheduled;
    // Whole days are dropped, as Python's `timedelta.seconds` did (a quirk we keep).
    let deviation = if gap < 0 { -(-gap % DAY) } else { gap % DAY };
    Scheduled {
        date,
        seconds,
        deviation,
    }
}

/// The thresholds of SPEC §3's group rule, from [`Params`].
#[derive(Debug, Clone, Copy)]
struct GroupRule {
    /// Rows count as near the stop up to this `distance_to_stop` (0.25 by default).
    max_distance: f64,
    /// A near row with at least this `sched_dev` means the vehicle had arrived (0 by default).
    arrived_min_dev: i64,
}

/// SPEC §3: which row of a (trip, stop) group is kept, if any.
fn pick(group: &[Match], rule: GroupRule, diagnostics: &mut Diagnostics) -> Option<Match> {
    if let [only] = group {
        return Some(*only);
    }
    let mut nearby = group
        .iter()
        .filter(|m| m.distance_to_stop <= rule.max_distance);
    let on_time_or_late = nearby.clone().find(|m| {
        m.scheduled
            .is_some_and(|s| s.deviation >= rule.arrived_min_dev)
    });
    let kept = on_time_or_late.or_else(|| nearby.next_back());
    match kept {
        Some(kept) => {
            diagnostics.add_dropped(DropReason::MergedIntoGroup, group.len() as u64 - 1);
            Some(*kept)
        }
        None => {
            diagnostics.add_dropped(DropReason::FarFromStop, group.len() as u64);
            None
        }
    }
}

/// A candidate stop of the trip being matched.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    lat: f64,
    lon: f64,
    stop_id: u64,
    /// Row in the stops table; ties between equally near stops go to the smaller row.
    stop_row: u32,
    /// The stop's arrival in the trip's schedule slice, if it has one.
    arrival: Option<u32>,
}

/// The per-trip state of SPEC §2.1–2.3, reused across trips to avoid reallocating.
///
/// A trip's candidate stops are found without sorting: each one sets a bit at its rank in the
/// stops table's latitude order, and reading the bits back yields the candidates deduplicated
/// and by latitude, ready for [`nearest`](Self::nearest).
#[derive(Debug, Default)]
struct TripStops {
    /// Candidates by latitude.
    candidates: Vec<Candidate>,
    /// One bit per stop row, at its latitude rank.
    ranks: Vec<u64>,
    /// For each latitude rank that is a candidate, its index in `candidates`.
    slot: Vec<u32>,
    /// (index in the trip's schedule rows, latitude rank) pairs, in schedule order.
    pairs: Vec<(u32, u32)>,
}

impl TripStops {
    fn prepare(&mut self, trip_id: u64, first_date: Date, stops: &Stops, schedule: &Schedule) {
        let schedule_rows = schedule.trip_rows(trip_id);
        self.ranks.resize(stops.len().div_ceil(64), 0);
        self.slot.resize(stops.len(), 0);
        // Every stop row named by the trip's schedule, found with one id lookup per row.
        self.pairs.clear();
        for (r, row) in schedule_rows.iter().enumerate() {
            for &rank in stops.ranks_with_id(row.stop_id) {
                self.pairs.push((r as u32, rank));
                self.ranks[rank as usize / 64] |= 1 << (rank % 64);
            }
        }
        self.candidates.clear();
        for (w, word) in self.ranks.iter_mut().enumerate() {
            while *word != 0 {
                let rank = w * 64 + word.trailing_zeros() as usize;
                *word &= *word - 1;
                let stop = &stops.by_lat[rank];
                self.slot[rank] = self.candidates.len() as u32;
                self.candidates.push(Candidate {
                    lat: stop.lat,
                    lon: stop.lon,
                    stop_id: stop.id,
                    stop_row: stop.row,
                    arrival: None,
                });
            }
        }

        // The slice: rows running on the first position's weekday, else the day before, else
        // the day after. Bit w-1 of the mask stands for ISO weekday w.
        let weekday = first_date.iso_weekday();
        let days_run = schedule_rows
            .iter()
            .fold(0u8, |mask, row| mask | row.weekdays);
        let before = if weekday == 1 { 7 } else { weekday - 1 };
        let after = if weekday == 7 { 1 } else { weekday + 1 };
        let Some(slice_day) = [weekday, before, after]
            .into_iter()
            .find(|&w| days_run >> (w - 1) & 1 == 1)
        else {
            return;
        };
        for &(r, rank) in &self.pairs {
            let row = &schedule_rows[r as usize];
            if row.weekdays >> (slice_day - 1) & 1 == 1 {
                // Pairs are in schedule order, so the first slice row for a stop wins.
                let candidate = &mut self.candidates[self.slot[rank as usize] as usize];
                candidate.arrival.get_or_insert(row.arrival);
            }
        }
    }

    /// SPEC §2.2–2.6 for one position of the prepared trip.
    fn match_position(&self, row: u32, positions: &Positions<'_>) -> Match {
        let position = &positions.rows[row as usize];
        let (nearest, distance) = self.nearest(position.lat, position.lon);
        Match {
            stop_id: nearest.stop_id,
            row,
            stop: nearest.stop_row,
            distance_to_stop: distance * 100.0,
            scheduled: nearest
                .arrival
                .map(|arrival| schedule_time(arrival, position.time)),
        }
    }

    /// The nearest candidate and its distance in degrees; on equal distances, the candidate
    /// earlier in the stops file. There must be at least one candidate.
    ///
    /// Candidates are searched outward from the position's latitude, in latitude order. Once a
    /// side's latitude gap alone exceeds the best distance so far, nothing further on that side
    /// can be nearer, so most candidates are never looked at. The comparison is on the rounded
    /// distance itself, as the old program compared them; the pruning bound keeps a margin of
    /// 1e-12 so rounding can never prune a candidate that would tie.
    fn nearest(&self, lat: f64, lon: f64) -> (Candidate, f64) {
        let candidates = &self.candidates;
        let split = candidates.partition_point(|c| c.lat < lat);
        let (mut below, mut above) = (split, split);
        let mut best = (f64::INFINITY, usize::MAX);
        let consider = |best: &mut (f64, usize), i: usize| {
            let c = &candidates[i];
            let (dlat, dlon) = (lat - c.lat, lon - c.lon);
            let distance = (dlat * dlat + dlon * dlon).sqrt();
            let better = match candidates.get(best.1) {
                Some(current) => {
                    distance < best.0 || (distance == best.0 && c.stop_row < current.stop_row)
                }
                None => true,
            };
            if better {
                *best = (distance, i);
            }
        };
        loop {
            let bound = best.0 * (1.0 + 1e-12);
            let gap_below = below
                .checked_sub(1)
                .map(|i| lat - candidates[i].lat)
                .filter(|&g| g <= bound || g.is_nan());
            let gap_above = candidates
                .get(above)
                .map(|c| c.lat - lat)
                .filter(|&g| g <= bound || g.is_nan());
            match (gap_below, gap_above) {
                (Some(b), Some(a)) if b <= a => {
                    below -= 1;
                    consider(&mut best, below);
                }
                (_, Some(_)) => {
                    consider(&mut best, above);
                    above += 1;
                }
                (Some(_), None) => {
                    below -= 1;
                    consider(&mut best, below);
                }
                (None, None) => break,
            }
        }
        (candidates[best.1.min(candidates.len() - 1)], best.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The pruned search must pick exactly what a plain scan over all candidates picks.
    fn brute_force(candidates: &[Candidate], lat: f64, lon: f64) -> (u32, f64) {
        let mut best = (u32::MAX, f64::INFINITY);
        for c in candidates {
            let distance = ((lat - c.lat) * (lat - c.lat) + (lon - c.lon) * (lon - c.lon)).sqrt();
            if distance < best.1 || (distance == best.1 && c.stop_row < best.0) {
                best = (c.stop_row, distance);
            }
        }
        best
    }

    fn coordinate() -> impl Strategy<Value = f64> {
        // A coarse grid makes exact ties and equal latitudes common.
        prop_oneof![
            (0i32..20).prop_map(|i| 30.0 + f64::from(i) * 0.001),
            29.9..30.1f64
        ]
    }

    proptest! {
        #[test]
        fn nearest_equals_a_full_scan(
            stops in proptest::collection::vec((coordinate(), coordinate()), 1..40),
            lat in coordinate(),
            lon in coordinate(),
        ) {
            let mut candidates: Vec<Candidate> = stops
                .iter()
                .enumerate()
                .map(|(row, &(lat, lon))| Candidate { lat, lon, stop_id: row as u64, stop_row: row as u32, arrival: None })
                .collect();
            candidates.sort_by(|a, b| a.lat.total_cmp(&b.lat).then(a.stop_row.cmp(&b.stop_row)));
            let trip = TripStops { candidates: candidates.clone(), ..TripStops::default() };
            let (found, distance) = trip.nearest(lat, lon);
            prop_assert_eq!((found.stop_row, distance), brute_force(&candidates, lat, lon));
        }
    }

    #[test]
    fn schedule_times_past_midnight() {
        let time = LocalTime::parse("2016-11-25T23:58:13-06:00").unwrap();
        let s = schedule_time(24 * 3600 + 120, time);
        assert_eq!(
            (s.date.to_string(), s.seconds, s.deviation),
            ("2016-11-26".into(), 120, -227)
        );
        // 24:xx seen from hour 0 stays on the same day.
        let time = LocalTime::parse("2016-11-25T00:01:40-06:00").unwrap();
        let s = schedule_time(24 * 3600 + 120, time);
        assert_eq!(
            (s.date.to_string(), s.seconds, s.deviation),
            ("2016-11-25".into(), 120, -20)
        );
        // A 22:50 position matched to 24:05 gets 00:05 of the same day; whole days are dropped.
        let time = LocalTime::parse("2016-11-25T22:50:00-06:00").unwrap();
        let s = schedule_time(24 * 3600 + 300, time);
        assert_eq!(
            (s.date.to_string(), s.deviation),
            ("2016-11-25".into(), 22 * 3600 + 45 * 60)
        );
    }
}
