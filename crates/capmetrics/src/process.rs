//! The day processor: SPEC §2–§4, from parsed positions to the output CSV.
//!
//! Work is done trip by trip. A trip's candidate stops, its schedule slice and each candidate's
//! scheduled arrival are decided once, and then every position of the trip is matched against
//! that small, contiguous candidate list. Rows are then grouped by (trip, stop) with one sort,
//! which also yields the output order.

use crate::date::Date;
use crate::diagnostics::{Diagnostics, DropReason};
use crate::error::Result;
use crate::index::GroupIndex;
use crate::input::Input;
use crate::output::{HEADER, push_float, push_int, push_text};
use crate::positions::Positions;
use crate::schedule::Schedule;
use crate::stops::Stops;
use crate::timestamp::{LocalTime, write_timestamp};

/// A group's rows count as "at the stop" up to this `distance_to_stop` (degrees × 100).
pub const NEARBY: f64 = 0.25;

const DAY: i64 = 86_400;

/// A position matched to its nearest candidate stop.
#[derive(Debug, Clone, Copy)]
struct Match {
    trip_id: u64,
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
pub fn process_day(
    positions: &Input,
    stops: &Stops,
    schedule: &Schedule,
    out: &mut Vec<u8>,
) -> Result<Diagnostics> {
    let positions = Positions::parse(positions)?;
    let mut diagnostics = Diagnostics::default();
    diagnostics.rows_in = positions.rows.len() as u64 + positions.empty_trip_id;
    diagnostics.add_dropped(DropReason::EmptyTripId, positions.empty_trip_id);

    let mut matches = match_positions(&positions, stops, schedule, &mut diagnostics);
    // One sort gives both the (trip, stop) groups, file order inside each, and the output order.
    matches.sort_unstable_by_key(|m| (m.trip_id, m.stop_id, m.row));

    out.reserve(matches.len() * 200);
    out.extend_from_slice(HEADER.as_bytes());
    out.push(b'\n');
    for group in matches.chunk_by(|a, b| a.trip_id == b.trip_id && a.stop_id == b.stop_id) {
        let Some(kept) = pick(group, &mut diagnostics) else { continue };
        let position = &positions.rows[kept.row as usize];
        let headsign = positions.headsign(position);
        let reason = if headsign.is_empty() {
            Some(DropReason::EmptyHeadsign)
        } else if kept.scheduled.is_none() {
            Some(DropReason::NoScheduledTime)
        } else if position.vehicle_id.is_none()
            || position.route_id.is_none()
            || position.speed.is_none()
        {
            Some(DropReason::EmptyField)
        } else {
            None
        };
        if let Some(reason) = reason {
            diagnostics.add_dropped(reason, 1);
            continue;
        }
        let (Some(vehicle_id), Some(route_id), Some(speed), Some(scheduled)) =
            (position.vehicle_id, position.route_id, position.speed, kept.scheduled)
        else {
            continue;
        };
        let stop = kept.stop as usize;
        push_int(out, vehicle_id);
        out.push(b',');
        push_text(out, positions.timestamp(position));
        out.push(b',');
        push_float(out, speed);
        out.push(b',');
        push_int(out, route_id);
        out.push(b',');
        push_int(out, kept.trip_id);
        out.push(b',');
        push_float(out, position.lat);
        out.push(b',');
        push_float(out, position.lon);
        out.push(b',');
        push_text(out, headsign);
        out.push(b',');
        push_float(out, stops.lats[stop]);
        out.push(b',');
        push_float(out, stops.lons[stop]);
        out.push(b',');
        push_int(out, kept.stop_id);
        out.push(b',');
        write_timestamp(out, scheduled.date, scheduled.seconds, position.time.offset_minutes);
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
    }
    debug_assert!(diagnostics.is_balanced(), "{diagnostics:?}");
    Ok(diagnostics)
}

/// SPEC §2: each position's nearest candidate stop and scheduled time. Positions of trips with
/// no candidate stop are counted and left out.
fn match_positions(
    positions: &Positions,
    stops: &Stops,
    schedule: &Schedule,
    diagnostics: &mut Diagnostics,
) -> Vec<Match> {
    let trip_ids: Vec<u64> = positions.rows.iter().map(|p| p.trip_id).collect();
    let trips = GroupIndex::build(&trip_ids);
    let mut matches = Vec::with_capacity(positions.rows.len());
    let mut trip = TripStops::default();
    for g in 0..trips.len() {
        let trip_id = trips.key(g);
        let rows = trips.group(g);
        let first = &positions.rows[rows[0] as usize];
        trip.prepare(trip_id, first.time.date, stops, schedule);
        if trip.stop_rows.is_empty() {
            diagnostics.add_dropped(DropReason::NoCandidateStop, rows.len() as u64);
            continue;
        }
        for &row in rows {
            let position = &positions.rows[row as usize];
            let (k, distance) = trip.nearest(position.lat, position.lon);
            let stop = trip.stop_rows[k];
            let scheduled = trip.arrivals[k].map(|arrival| schedule_time(arrival, position.time));
            matches.push(Match {
                trip_id,
                stop_id: stops.ids[stop as usize],
                row,
                stop,
                distance_to_stop: distance * 100.0,
                scheduled,
            });
        }
    }
    matches
}

/// SPEC §2.4–2.5: the scheduled instant of an arrival (seconds after the service day's
/// midnight, possibly past 24 h) for a position at local time `time`, and the deviation.
fn schedule_time(arrival: u32, time: LocalTime) -> Scheduled {
    let (date, seconds) = if arrival >= DAY as u32 {
        // Past-midnight trips: only a position in the last hour of the day moves to tomorrow.
        // A 22:50 position matched to 24:05 stays on the same day (a quirk we keep).
        let date = if time.hour() == 23 { time.date.add_days(1) } else { time.date };
        (date, arrival - DAY as u32)
    } else {
        (time.date, arrival)
    };
    // Both instants share the position's UTC offset, so local times can be subtracted.
    let scheduled = i64::from(date.day_number()) * DAY + i64::from(seconds);
    let gap = time.local_epoch_seconds() - scheduled;
    // Whole days are dropped, as Python's `timedelta.seconds` did (a quirk we keep).
    let deviation = if gap < 0 { -(-gap % DAY) } else { gap % DAY };
    Scheduled { date, seconds, deviation }
}

/// SPEC §3: which row of a (trip, stop) group is kept, if any.
fn pick(group: &[Match], diagnostics: &mut Diagnostics) -> Option<Match> {
    if let [only] = group {
        return Some(*only);
    }
    let mut nearby = group.iter().filter(|m| m.distance_to_stop <= NEARBY);
    let on_time_or_late =
        nearby.clone().find(|m| m.scheduled.is_some_and(|s| s.deviation >= 0));
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

/// The per-trip state of SPEC §2.1–2.3, reused across trips to avoid reallocating.
#[derive(Debug, Default)]
struct TripStops {
    /// Candidate stops, as rows of the stops table in file order.
    stop_rows: Vec<u32>,
    lats: Vec<f64>,
    lons: Vec<f64>,
    /// Each candidate's arrival in the trip's schedule slice, if it has one.
    arrivals: Vec<Option<u32>>,
}

impl TripStops {
    fn prepare(&mut self, trip_id: u64, first_date: Date, stops: &Stops, schedule: &Schedule) {
        let schedule_rows = schedule.trip_rows(trip_id);
        self.stop_rows.clear();
        for &r in schedule_rows {
            self.stop_rows.extend_from_slice(stops.rows_with_id(schedule.stop_ids[r as usize]));
        }
        self.stop_rows.sort_unstable();
        self.stop_rows.dedup();
        self.lats.clear();
        self.lons.clear();
        for &s in &self.stop_rows {
            self.lats.push(stops.lats[s as usize]);
            self.lons.push(stops.lons[s as usize]);
        }

        // The slice: rows running on the first position's weekday, else the day before, else
        // the day after. Bit w-1 of the mask stands for ISO weekday w.
        let weekday = first_date.iso_weekday();
        let runs_on = |w: u32| schedule_rows.iter().any(|&r| schedule.weekdays[r as usize] >> (w - 1) & 1 == 1);
        let before = if weekday == 1 { 7 } else { weekday - 1 };
        let after = if weekday == 7 { 1 } else { weekday + 1 };
        let slice_day = [weekday, before, after].into_iter().find(|&w| runs_on(w));

        self.arrivals.clear();
        self.arrivals.resize(self.stop_rows.len(), None);
        let Some(slice_day) = slice_day else { return };
        for &r in schedule_rows {
            let r = r as usize;
            if schedule.weekdays[r] >> (slice_day - 1) & 1 == 0 {
                continue;
            }
            // The first slice row for a stop wins.
            for stop_row in stops.rows_with_id(schedule.stop_ids[r]) {
                if let Ok(k) = self.stop_rows.binary_search(stop_row) {
                    self.arrivals[k].get_or_insert(schedule.arrivals[r]);
                }
            }
        }
    }

    /// The nearest candidate and its distance in degrees; ties go to the earlier stop row.
    fn nearest(&self, lat: f64, lon: f64) -> (usize, f64) {
        let mut best = (0, f64::INFINITY);
        for (k, (&stop_lat, &stop_lon)) in self.lats.iter().zip(&self.lons).enumerate() {
            let (dlat, dlon) = (lat - stop_lat, lon - stop_lon);
            let distance = (dlat * dlat + dlon * dlon).sqrt();
            if distance < best.1 {
                best = (k, distance);
            }
        }
        best
    }
}
