//! The aggregate folder's files (AGGREGATE.md §2.1–2.7), written from a finished
//! [`Aggregator`], and the [`Headline`] a terminal shows.
//!
//! Formats, as AGGREGATE.md fixes them: one header row, `\n` line ends, a field quoted only
//! when it holds a comma, a quote or a line break; counts as integers; ratios and means as the
//! shortest decimal that reads back to the same double (positional, `0.5`, `1.0`); an empty
//! field for an undefined value (`null` in JSON). Strings sort by bytes, ids numerically, and
//! OTP is compared as an exact fraction.

use std::cmp::Ordering;
use std::fmt::Write as _;

use capmetrics::Date;

use crate::aggregate::{Aggregator, DEVIATION_LO, DayFlag, Outline};
use crate::report::AggregateFiles;
use crate::stats::{Quantile, Z95, push_decimal, ratio, values_at_ranks, wilson};
use crate::visit::DayType;
use crate::window::{Profile, Window};

/// The names of the aggregate folder's files, as written.
pub const FILE_NAMES: [&str; 8] = [
    "system_daily.csv",
    "route.csv",
    "route_hour.csv",
    "stop.csv",
    "histogram.csv",
    "headway.csv",
    "summary.json",
    "report.html",
];

/// Rows of `route.csv` with fewer used rows are left out of `worst_routes`.
pub const WORST_ROUTES_MIN_USED: u64 = 30;
/// How many rows `worst_routes` holds.
pub const WORST_ROUTES: usize = 10;

/// Days the caller asked for that have no processed file, and days whose processing failed.
/// Neither is counted in `days`; `summary.json` lists both.
#[derive(Debug, Clone, Default)]
pub struct DayLists {
    pub missing: Vec<Date>,
    pub failed: Vec<Date>,
}

/// The finished aggregate: the folder's files and the headline.
#[derive(Debug, Clone)]
pub struct Aggregate {
    /// Every file but `report.html` (which [`crate::report::render`] draws from these).
    pub files: AggregateFiles,
    pub headline: Headline,
}

/// The figures of `summary.json`, for a terminal or a caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    pub window: Window,
    /// `None` for a custom window.
    pub profile: Option<Profile>,
    pub days: DayCounts,
    pub missing_days: Vec<Date>,
    pub failed_days: Vec<Date>,
    pub rows: RowCounts,
    pub system: SystemFigures,
    /// The system OTP under each profile (`None` without used rows).
    pub profiles: Vec<(Profile, Option<f64>)>,
    pub worst_routes: Vec<WorstRoute>,
}

/// Days by flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub total: u64,
    pub ok: u64,
    pub suspect: u64,
    pub empty: u64,
}

/// Rows by class, over all days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    pub total: u64,
    pub far: u64,
    pub outlier: u64,
    pub used: u64,
}

/// The system figures over the used rows of `ok` days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SystemFigures {
    pub used: u64,
    pub early: u64,
    pub on_time: u64,
    pub late: u64,
    pub otp: Option<f64>,
    pub otp_lo: Option<f64>,
    pub otp_hi: Option<f64>,
    pub p50: Option<i64>,
    pub p90: Option<i64>,
}

/// One entry of `worst_routes`.
#[derive(Debug, Clone, PartialEq)]
pub struct WorstRoute {
    pub route_id: i64,
    pub direction: String,
    pub daytype: &'static str,
    pub otp: f64,
    pub used: u64,
}

/// A CSV being written.
struct Csv {
    out: String,
    first: bool,
}

impl Csv {
    fn new(header: &str) -> Csv {
        Csv {
            out: format!("{header}\n"),
            first: true,
        }
    }

    fn sep(&mut self) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
    }

    fn int(&mut self, value: impl std::fmt::Display) -> &mut Csv {
        self.sep();
        let _ = write!(self.out, "{value}");
        self
    }

    fn opt_int(&mut self, value: Option<i64>) -> &mut Csv {
        self.sep();
        if let Some(v) = value {
            let _ = write!(self.out, "{v}");
        }
        self
    }

    fn decimal(&mut self, value: Option<f64>) -> &mut Csv {
        self.sep();
        if let Some(v) = value {
            push_decimal(&mut self.out, v);
        }
        self
    }

    fn text(&mut self, value: &str) -> &mut Csv {
        self.sep();
        if value.contains([',', '"', '\n', '\r']) {
            self.out.push('"');
            self.out.push_str(&value.replace('"', "\"\""));
            self.out.push('"');
        } else {
            self.out.push_str(value);
        }
        self
    }

    fn end(&mut self) {
        self.out.push('\n');
        self.first = true;
    }

    fn into_bytes(self) -> Vec<u8> {
        self.out.into_bytes()
    }
}

/// Exact comparison of `a.0 / a.1` with `b.0 / b.1` (both denominators positive).
fn compare_fractions(a: (u64, u64), b: (u64, u64)) -> Ordering {
    (u128::from(a.0) * u128::from(b.1)).cmp(&(u128::from(b.0) * u128::from(a.1)))
}

fn mean(outline: &Outline) -> Option<f64> {
    (outline.used > 0).then(|| outline.sum as f64 / outline.used as f64)
}

impl Aggregator {
    /// Writes the tables and `summary.json`.
    pub fn finish(mut self, lists: &DayLists) -> Aggregate {
        let window = self.choice.window();
        let mut bins: Vec<(i64, u64)> = Vec::new();

        // 2.1 system_daily.csv
        self.days.sort_by_key(|d| d.day);
        let mut csv = Csv::new(
            "day,daytype,flag,rows,far,outlier,used,early,on_time,late,otp,otp_lo,otp_hi,mean_dev,p50,p90",
        );
        let mut day_counts = DayCounts::default();
        for row in &self.days {
            let o = &row.outline;
            let interval = wilson(o.on_time, o.used, Z95);
            csv.text(&row.day.to_string())
                .text(DayType::of(row.day).name())
                .text(row.flag.name())
                .int(row.rows)
                .int(row.far)
                .int(row.outlier)
                .int(o.used)
                .int(o.early)
                .int(o.on_time)
                .int(o.late)
                .decimal(ratio(o.on_time, o.used))
                .decimal(interval.map(|i| i.0))
                .decimal(interval.map(|i| i.1))
                .decimal(mean(o))
                .opt_int(row.p50)
                .opt_int(row.p90)
                .end();
            day_counts.total += 1;
            match row.flag {
                DayFlag::Ok => day_counts.ok += 1,
                DayFlag::Suspect => day_counts.suspect += 1,
                DayFlag::Empty => day_counts.empty += 1,
            }
        }
        let system_daily = csv.into_bytes();

        // 2.2 route.csv
        struct RouteRow {
            index: usize,
            outline: Outline,
            percentiles: [Option<i64>; 4],
        }
        // A route's deviations are the sum of its stops'.
        self.compact();
        let mut route_stops: Vec<Vec<usize>> = vec![Vec::new(); self.routes.len()];
        for (index, stop) in self.stops.iter().enumerate() {
            route_stops[stop.route as usize].push(index);
        }
        for (route, members) in self.routes.iter_mut().zip(&route_stops) {
            let runs = members.iter().map(|&s| self.stops[s].deviations.entries());
            route.deviations.merge_runs(runs, &mut self.scratch);
        }
        let mut route_rows = Vec::with_capacity(self.routes.len());
        for (index, route) in self.routes.iter_mut().enumerate() {
            route.deviations.bins(&mut bins);
            let outline = Outline::of(&bins, window);
            let n = outline.used;
            let percentiles = values_at_ranks(
                bins.iter().copied(),
                [
                    Quantile::P10.rank(n),
                    Quantile::P50.rank(n),
                    Quantile::P90.rank(n),
                    Quantile::P95.rank(n),
                ],
            );
            route_rows.push(RouteRow {
                index,
                outline,
                percentiles,
            });
        }
        let directions = &self.directions;
        let routes = &self.routes;
        route_rows.sort_by(|a, b| {
            let (ra, rb) = (&routes[a.index], &routes[b.index]);
            compare_fractions(
                (a.outline.on_time, a.outline.used),
                (b.outline.on_time, b.outline.used),
            )
            .then(ra.route_id.cmp(&rb.route_id))
            .then_with(|| directions[ra.direction as usize].cmp(&directions[rb.direction as usize]))
            .then(ra.daytype.cmp(&rb.daytype))
        });
        let mut csv = Csv::new(
            "route_id,direction,daytype,days,trips,used,early,on_time,late,otp,otp_lo,otp_hi,mean_dev,p10,p50,p90,p95",
        );
        let mut worst_routes = Vec::new();
        for row in &route_rows {
            let route = &routes[row.index];
            let o = &row.outline;
            let interval = wilson(o.on_time, o.used, Z95);
            let direction = &directions[route.direction as usize];
            csv.int(route.route_id)
                .text(direction)
                .text(route.daytype.name())
                .int(route.days)
                .int(route.trips)
                .int(o.used)
                .int(o.early)
                .int(o.on_time)
                .int(o.late)
                .decimal(ratio(o.on_time, o.used))
                .decimal(interval.map(|i| i.0))
                .decimal(interval.map(|i| i.1))
                .decimal(mean(o));
            for p in row.percentiles {
                csv.opt_int(p);
            }
            csv.end();
            if worst_routes.len() < WORST_ROUTES
                && o.used >= WORST_ROUTES_MIN_USED
                && let Some(otp) = ratio(o.on_time, o.used)
            {
                worst_routes.push(WorstRoute {
                    route_id: route.route_id,
                    direction: direction.clone(),
                    daytype: route.daytype.name(),
                    otp,
                    used: o.used,
                });
            }
        }
        let route_csv = csv.into_bytes();

        // 2.3 route_hour.csv
        let mut order: Vec<usize> = (0..self.route_hours.len()).collect();
        order.sort_by_key(|&i| {
            let c = &self.route_hours[i];
            (c.route_id, c.daytype, c.hour)
        });
        let mut csv = Csv::new("route_id,daytype,hour,used,on_time,otp,p50,p90");
        for i in order {
            let cell = &mut self.route_hours[i];
            cell.deviations.bins(&mut bins);
            let o = Outline::of(&bins, window);
            let [p50, p90] = values_at_ranks(
                bins.iter().copied(),
                [Quantile::P50.rank(o.used), Quantile::P90.rank(o.used)],
            );
            csv.int(cell.route_id)
                .text(cell.daytype.name())
                .int(cell.hour)
                .int(o.used)
                .int(o.on_time)
                .decimal(ratio(o.on_time, o.used))
                .opt_int(p50)
                .opt_int(p90)
                .end();
        }
        let route_hour_csv = csv.into_bytes();

        // 2.4 stop.csv
        let mut order: Vec<usize> = (0..self.stops.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&self.stops[a], &self.stops[b]);
            x.route_id
                .cmp(&y.route_id)
                .then_with(|| {
                    directions[x.direction as usize].cmp(&directions[y.direction as usize])
                })
                .then(x.daytype.cmp(&y.daytype))
                .then(x.stop_id.cmp(&y.stop_id))
        });
        let mut csv = Csv::new(
            "route_id,direction,daytype,stop_id,stop_lat,stop_lon,used,on_time,otp,p50,window_lo,window_hi",
        );
        for i in order {
            let stop = &mut self.stops[i];
            stop.deviations.bins(&mut bins);
            let o = Outline::of(&bins, window);
            let [lo, p50, hi] = values_at_ranks(
                bins.iter().copied(),
                [
                    Quantile::P2_5.rank(o.used),
                    Quantile::P50.rank(o.used),
                    Quantile::P97_5.rank(o.used),
                ],
            );
            csv.int(stop.route_id)
                .text(&directions[stop.direction as usize])
                .text(stop.daytype.name())
                .int(stop.stop_id)
                .decimal(Some(stop.lat))
                .decimal(Some(stop.lon))
                .int(o.used)
                .int(o.on_time)
                .decimal(ratio(o.on_time, o.used))
                .opt_int(p50)
                .opt_int(lo)
                .opt_int(hi)
                .end();
        }
        let stop_csv = csv.into_bytes();

        // 2.5 histogram.csv: 30-second bins, all routes, then each route.
        let mut csv = Csv::new("scope,bin,count");
        let bin_of = |deviation: i64| deviation.div_euclid(30) * 30;
        let write_scope = |csv: &mut Csv, scope: &str, counts: &[(i64, u64)]| {
            let mut current: Option<(i64, u64)> = None;
            for &(value, count) in counts {
                let bin = bin_of(value);
                match &mut current {
                    Some((b, c)) if *b == bin => *c += count,
                    _ => {
                        if let Some((b, c)) = current.take() {
                            csv.text(scope).int(b).int(c).end();
                        }
                        current = Some((bin, count));
                    }
                }
            }
            if let Some((b, c)) = current {
                csv.text(scope).int(b).int(c).end();
            }
        };
        let system_bins: Vec<(i64, u64)> = self
            .system
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c > 0)
            .map(|(i, &c)| (DEVIATION_LO + i as i64, c))
            .collect();
        write_scope(&mut csv, "all", &system_bins);
        let mut by_route: Vec<usize> = (0..self.routes.len()).collect();
        by_route.sort_by_key(|&i| self.routes[i].route_id);
        let mut dense = vec![0u64; self.system.len()];
        let mut start = 0;
        while start < by_route.len() {
            let route_id = self.routes[by_route[start]].route_id;
            let mut end = start;
            while end < by_route.len() && self.routes[by_route[end]].route_id == route_id {
                let cell = &mut self.routes[by_route[end]];
                cell.deviations.bins(&mut bins);
                for &(value, count) in &bins {
                    dense[(value - DEVIATION_LO) as usize] += count;
                }
                end += 1;
            }
            let route_bins: Vec<(i64, u64)> = dense
                .iter_mut()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(i, c)| (DEVIATION_LO + i as i64, std::mem::take(c)))
                .collect();
            write_scope(&mut csv, &format!("route:{route_id}"), &route_bins);
            start = end;
        }
        let histogram_csv = csv.into_bytes();

        // 2.6 headway.csv
        let mut order: Vec<usize> = (0..self.headways.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&self.headways[a], &self.headways[b]);
            x.route_id
                .cmp(&y.route_id)
                .then_with(|| {
                    directions[x.direction as usize].cmp(&directions[y.direction as usize])
                })
                .then(x.daytype.cmp(&y.daytype))
        });
        let mut csv =
            Csv::new("route_id,direction,daytype,pairs,median_obs,median_sched,bunched,gapped");
        for i in order {
            let cell = &mut self.headways[i];
            let rank = Quantile::P50.rank(cell.pairs);
            cell.observed.bins(&mut bins);
            let [observed] = values_at_ranks(bins.iter().copied(), [rank]);
            cell.scheduled.bins(&mut bins);
            let [scheduled] = values_at_ranks(bins.iter().copied(), [rank]);
            csv.int(cell.route_id)
                .text(&directions[cell.direction as usize])
                .text(cell.daytype.name())
                .int(cell.pairs)
                .opt_int(observed)
                .opt_int(scheduled)
                .decimal(ratio(cell.bunched, cell.pairs))
                .decimal(ratio(cell.gapped, cell.pairs))
                .end();
        }
        let headway_csv = csv.into_bytes();

        // 2.7 summary.json
        let system = Outline::of(&system_bins, window);
        let interval = wilson(system.on_time, system.used, Z95);
        let [p50, p90] = values_at_ranks(
            system_bins.iter().copied(),
            [
                Quantile::P50.rank(system.used),
                Quantile::P90.rank(system.used),
            ],
        );
        let headline = Headline {
            window,
            profile: self.choice.profile(),
            days: day_counts,
            missing_days: lists.missing.clone(),
            failed_days: lists.failed.clone(),
            rows: RowCounts {
                total: self.rows,
                far: self.far,
                outlier: self.outlier,
                used: self.rows - self.far - self.outlier,
            },
            system: SystemFigures {
                used: system.used,
                early: system.early,
                on_time: system.on_time,
                late: system.late,
                otp: ratio(system.on_time, system.used),
                otp_lo: interval.map(|i| i.0),
                otp_hi: interval.map(|i| i.1),
                p50,
                p90,
            },
            profiles: Profile::ALL
                .iter()
                .map(|&p| {
                    let o = Outline::of(&system_bins, p.window());
                    (p, ratio(o.on_time, o.used))
                })
                .collect(),
            worst_routes,
        };
        let summary_json = headline.to_json().into_bytes();

        Aggregate {
            files: AggregateFiles {
                system_daily,
                route: route_csv,
                route_hour: route_hour_csv,
                stop: stop_csv,
                histogram: histogram_csv,
                headway: headway_csv,
                summary_json,
            },
            headline,
        }
    }
}

impl Headline {
    /// `summary.json`: the keys of AGGREGATE.md §2.7 in its order, then `missing_days` and
    /// `failed_days`; one key per line at the top level, two-space indents, `\n` at the end.
    pub fn to_json(&self) -> String {
        fn number(out: &mut String, value: Option<f64>) {
            match value {
                Some(v) => push_decimal(out, v),
                None => out.push_str("null"),
            }
        }
        fn integer(out: &mut String, value: Option<i64>) {
            match value {
                Some(v) => {
                    let _ = write!(out, "{v}");
                }
                None => out.push_str("null"),
            }
        }
        fn string(out: &mut String, value: &str) {
            // serde_json escapes exactly what JSON requires (quotes, backslashes, control
            // characters) and nothing else.
            out.push_str(&serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_owned()));
        }
        fn days(out: &mut String, days: &[Date]) {
            out.push('[');
            for (i, day) in days.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "\"{day}\"");
            }
            out.push(']');
        }
        let mut out = String::from("{\n  \"window\": [");
        integer(&mut out, self.window.early);
        out.push_str(", ");
        integer(&mut out, self.window.late);
        out.push_str("],\n  \"profile\": ");
        match self.profile {
            Some(p) => string(&mut out, p.name()),
            None => out.push_str("null"),
        }
        let d = &self.days;
        let _ = write!(
            out,
            ",\n  \"days\": {{\"total\": {}, \"ok\": {}, \"suspect\": {}, \"empty\": {}}}",
            d.total, d.ok, d.suspect, d.empty
        );
        let r = &self.rows;
        let _ = write!(
            out,
            ",\n  \"rows\": {{\"total\": {}, \"far\": {}, \"outlier\": {}, \"used\": {}}}",
            r.total, r.far, r.outlier, r.used
        );
        let s = &self.system;
        let _ = write!(
            out,
            ",\n  \"system\": {{\"used\": {}, \"early\": {}, \"on_time\": {}, \"late\": {}, \"otp\": ",
            s.used, s.early, s.on_time, s.late
        );
        number(&mut out, s.otp);
        out.push_str(", \"otp_lo\": ");
        number(&mut out, s.otp_lo);
        out.push_str(", \"otp_hi\": ");
        number(&mut out, s.otp_hi);
        out.push_str(", \"p50\": ");
        integer(&mut out, s.p50);
        out.push_str(", \"p90\": ");
        integer(&mut out, s.p90);
        out.push_str("},\n  \"profiles\": {");
        for (i, (profile, otp)) in self.profiles.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "\"{}\": ", profile.name());
            number(&mut out, *otp);
        }
        out.push_str("},\n  \"worst_routes\": [");
        for (i, w) in self.worst_routes.iter().enumerate() {
            out.push_str(if i > 0 { ",\n    " } else { "\n    " });
            let _ = write!(out, "{{\"route_id\": {}, \"direction\": ", w.route_id);
            string(&mut out, &w.direction);
            let _ = write!(out, ", \"daytype\": \"{}\", \"otp\": ", w.daytype);
            number(&mut out, Some(w.otp));
            let _ = write!(out, ", \"used\": {}}}", w.used);
        }
        if !self.worst_routes.is_empty() {
            out.push_str("\n  ");
        }
        out.push_str("],\n  \"missing_days\": ");
        days(&mut out, &self.missing_days);
        out.push_str(",\n  \"failed_days\": ");
        days(&mut out, &self.failed_days);
        out.push_str("\n}\n");
        out
    }
}
