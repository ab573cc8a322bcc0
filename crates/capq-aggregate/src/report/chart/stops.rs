//! The worst stops (`stop.csv`) with their arrival window: for each, the span from p2.5 to
//! p97.5 of deviation (where 95 % of arrivals fall, the "expected arrival window" the data's
//! author wanted), its median, and the on-time window behind.
//!
//! Stops are ranked by the upper end of the 95 % Wilson interval of their OTP, lowest first:
//! a stop ranks as bad only when the evidence says so, so one late bus at a quiet stop does
//! not top the list, and no arbitrary minimum count is needed. Only the worst [`SHOWN`] are
//! drawn; every stop is in the folded table.

use std::cmp::Ordering;

use super::super::format;
use super::super::input::Stop;
use super::super::markup::{Esc, w};
use super::super::profile;
use super::super::svg::{self, FONT, GRID, INK, MUTED, ON_TIME, Px, Scale};
use super::super::table::{Fold, Table, number, text};
use super::{Context, Label, WIDTH, close_section, open_section, route_label, svg_id};

const KEY: &str = "stops";
/// How many stops the chart draws.
pub const SHOWN: usize = 25;
const ROW: f64 = 20.0;
const TOP: f64 = 56.0;
const BOTTOM: f64 = 48.0;
const RIGHT: f64 = 130.0;
const SPAN: &str = "#7d97b8";

/// `z` of the 95 % Wilson interval (AGGREGATE.md §1).
const Z: f64 = 1.959963984540054;

/// The upper end of the 95 % Wilson score interval of `k` successes in `n`, clamped to 1.
pub fn wilson_upper(k: u64, n: u64) -> Option<f64> {
    if n == 0 {
        return None;
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = Z * Z;
    let d = 1.0 + z2 / n;
    let c = (p + z2 / (2.0 * n)) / d;
    let h = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / d;
    Some((c + h).clamp(0.0, 1.0))
}

/// The stops the chart ranks (those with used rows and an arrival window), worst first.
pub fn ranked(stops: &[Stop]) -> Vec<&Stop> {
    let mut ranked: Vec<(&Stop, f64)> = stops
        .iter()
        .filter(|s| s.used > 0 && s.window_lo.is_some() && s.window_hi.is_some())
        .filter_map(|s| wilson_upper(s.on_time, s.used).map(|upper| (s, upper)))
        .collect();
    ranked.sort_by(|(a, upper_a), (b, upper_b)| {
        upper_a
            .total_cmp(upper_b)
            .then(otp(a).total_cmp(&otp(b)))
            .then(key_order(a, b))
    });
    ranked.into_iter().map(|(s, _)| s).collect()
}

fn otp(stop: &Stop) -> f64 {
    stop.on_time as f64 / stop.used.max(1) as f64
}

/// AGGREGATE.md §2.4's order.
fn key_order(a: &Stop, b: &Stop) -> Ordering {
    a.route_id
        .cmp(&b.route_id)
        .then(a.direction.as_bytes().cmp(b.direction.as_bytes()))
        .then(a.daytype.as_bytes().cmp(b.daytype.as_bytes()))
        .then(a.stop_id.cmp(&b.stop_id))
}

fn label(stop: &Stop) -> Label {
    let mut label = route_label(stop.route_id, &stop.direction, &stop.daytype);
    label.tail = format!("{} · stop {}", label.tail, stop.stop_id);
    label
}

pub fn section(out: &mut String, context: &Context) {
    let ranked = ranked(&context.inputs.stops);
    let shown = &ranked[..ranked.len().min(SHOWN)];
    open_section(
        out,
        KEY,
        "Worst stops and their arrival window",
        &format!(
            "The {} stops (per route, direction and day type) with the strongest evidence of \
             low OTP. Each bar spans the middle 95% of arrivals (p2.5 to p97.5), the tick is \
             the median, and the shaded band is the on-time window.",
            shown.len()
        ),
    );
    if shown.is_empty() {
        svg::open(out, &svg_id(KEY), WIDTH, 120.0, "Worst stops", "No data.");
        svg::no_data(out, WIDTH, 120.0, "no data: no ok day has used rows");
        out.push_str("</svg>");
    } else {
        chart(out, context, shown);
    }
    let columns = || {
        vec![
            text("route"),
            text("direction"),
            text("day type"),
            text("stop"),
            number("lat"),
            number("lon"),
            number("used"),
            number("on time"),
            number("OTP"),
            number("p50 (s)"),
            number("window from (s)"),
            number("window to (s)"),
        ]
    };
    let row = |s: &Stop| {
        let coordinate =
            |v: Option<f64>| v.map_or_else(|| format::NONE.to_owned(), |v| v.to_string());
        vec![
            s.route_id.to_string(),
            s.direction.clone(),
            s.daytype.clone(),
            s.stop_id.to_string(),
            coordinate(s.stop_lat),
            coordinate(s.stop_lon),
            format::count(s.used),
            format::count(s.on_time),
            format::percent_or_none(s.otp),
            format::seconds_or_none(s.p50),
            format::seconds_or_none(s.window_lo),
            format::seconds_or_none(s.window_hi),
        ]
    };
    let mut worst = Table::new(
        "The stops drawn above, worst first (arrival window p2.5 to p97.5)",
        columns(),
    );
    for stop in shown {
        worst.row(row(stop));
    }
    worst.write(out, "Table: the stops drawn above", Fold::Auto);
    let mut all = Table::new(
        "Every stop of stop.csv, by route, direction, day type and stop",
        columns(),
    );
    let mut every: Vec<&Stop> = context.inputs.stops.iter().collect();
    every.sort_by(|a, b| key_order(a, b));
    for stop in every {
        all.row(row(stop));
    }
    all.write(out, "Table: every stop", Fold::Always);
    close_section(out);
}

fn chart(out: &mut String, context: &Context, shown: &[&Stop]) {
    let (early, late) = context.window;
    let labels: Vec<Label> = shown.iter().map(|s| label(s)).collect();
    let label_width = labels
        .iter()
        .map(|l| svg::text_width(&l.full(), FONT))
        .fold(0.0, f64::max)
        .clamp(160.0, 380.0);
    let x0 = label_width + 14.0;
    let x1 = WIDTH - RIGHT;
    let lo = shown
        .iter()
        .filter_map(|s| s.window_lo)
        .chain(early)
        .min()
        .unwrap_or(-60)
        .min(0);
    let hi = shown
        .iter()
        .filter_map(|s| s.window_hi)
        .chain([late])
        .max()
        .unwrap_or(300);
    let lo = ((lo - 30).div_euclid(60) * 60) as f64;
    let hi = ((hi + 89).div_euclid(60) * 60) as f64;
    let x = Scale::new((lo, hi), (x0, x1));
    let plot_bottom = TOP + ROW * shown.len() as f64;
    let height = plot_bottom + BOTTOM;
    svg::open(
        out,
        &svg_id(KEY),
        WIDTH,
        height,
        "Worst stops and their arrival window",
        &format!(
            "For the {} worst stops, the range of deviation from p2.5 to p97.5 and the median, \
             in minutes, against the on-time window {}.",
            shown.len(),
            profile::describe(early, late)
        ),
    );
    // Legend.
    let mut at = x0;
    svg::rect(out, at, 11.0, 24.0, 8.0, SPAN, "");
    svg::text(
        out,
        at + 30.0,
        19.0,
        "start",
        "",
        "arrival window (p2.5 to p97.5)",
    );
    at += 30.0 + svg::text_width("arrival window (p2.5 to p97.5)", FONT) + 20.0;
    svg::rect(out, at + 6.0, 8.0, 2.5, 14.0, INK, "");
    svg::text(out, at + 16.0, 19.0, "start", "", "median (p50)");
    at += 16.0 + svg::text_width("median (p50)", FONT) + 20.0;
    w!(
        out,
        "<rect x=\"{}\" y=\"8\" width=\"14\" height=\"14\" fill=\"{ON_TIME}\" fill-opacity=\"0.2\" stroke=\"#3d7a5c\" stroke-dasharray=\"3 2\"/>",
        Px(at)
    );
    svg::text(out, at + 20.0, 19.0, "start", "", "on-time window");
    // The on-time window.
    let band_from = early.map_or(x0, |e| x.map_clamped(e as f64));
    let band_to = x.map_clamped(late as f64 + 1.0);
    w!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{ON_TIME}\" fill-opacity=\"0.16\"/>",
        Px(band_from),
        Px(TOP - 4.0),
        Px(band_to - band_from),
        Px(plot_bottom - TOP + 4.0)
    );
    for tick in svg::minute_ticks(lo, hi, 14) {
        let at = x.map(tick);
        svg::line(
            out,
            (at, TOP - 4.0),
            (at, plot_bottom),
            &format!("stroke=\"{GRID}\""),
        );
        svg::text(
            out,
            at,
            TOP - 10.0,
            "middle",
            "",
            &format::minutes_tick(tick),
        );
        svg::text(
            out,
            at,
            plot_bottom + 16.0,
            "middle",
            "",
            &format::minutes_tick(tick),
        );
    }
    svg::text(
        out,
        (x0 + x1) / 2.0,
        height - 10.0,
        "middle",
        "",
        "deviation from schedule (minutes; negative = early, positive = late)",
    );
    svg::text(
        out,
        x1 + 24.0,
        TOP - 10.0,
        "start",
        &format!("fill=\"{MUTED}\""),
        "OTP",
    );
    svg::text(
        out,
        x1 + 76.0,
        TOP - 10.0,
        "start",
        &format!("fill=\"{MUTED}\""),
        "used",
    );
    for (i, (stop, label)) in shown.iter().zip(&labels).enumerate() {
        let y = TOP + ROW * i as f64;
        let middle = y + ROW / 2.0;
        w!(
            out,
            "<g><title>{}: OTP {} of {} used rows; 95% of arrivals from {} to {}, median {}</title>",
            Esc(&label.full()),
            format::percent_or_none(stop.otp),
            format::count(stop.used),
            format::deviation_or_none(stop.window_lo),
            format::deviation_or_none(stop.window_hi),
            format::deviation_or_none(stop.p50)
        );
        svg::text(
            out,
            x0 - 8.0,
            middle + 4.0,
            "end",
            "class=\"row-label\"",
            &label.fitted(x0 - 14.0),
        );
        if let (Some(from), Some(to)) = (stop.window_lo, stop.window_hi) {
            let (from, to) = (x.map_clamped(from as f64), x.map_clamped(to as f64 + 1.0));
            svg::rect(out, from, middle - 4.0, (to - from).max(2.0), 8.0, SPAN, "");
        }
        if let Some(p50) = stop.p50 {
            let at = x.map_clamped(p50 as f64 + 0.5);
            svg::rect(out, at - 1.25, middle - 7.0, 2.5, 14.0, INK, "");
        }
        svg::text(
            out,
            x1 + 24.0,
            middle + 4.0,
            "start",
            "font-weight=\"bold\"",
            &format::percent_or_none(stop.otp),
        );
        svg::text(
            out,
            x1 + 76.0,
            middle + 4.0,
            "start",
            &format!("fill=\"{MUTED}\""),
            &format::count(stop.used),
        );
        out.push_str("</g>");
    }
    out.push_str("</svg>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop(stop_id: u64, used: u64, on_time: u64) -> Stop {
        Stop {
            route_id: 1,
            direction: "x".to_owned(),
            daytype: "weekday".to_owned(),
            stop_id,
            stop_lat: None,
            stop_lon: None,
            used,
            on_time,
            otp: Some(on_time as f64 / used.max(1) as f64),
            p50: Some(0),
            window_lo: Some(-60),
            window_hi: Some(600),
        }
    }

    #[test]
    fn the_wilson_upper_bound_matches_a_worked_example() {
        // k = 8, n = 10: d = 1.3841…, c = 0.7167…, h = 0.2266… (AGGREGATE.md's formula).
        let upper = wilson_upper(8, 10).unwrap();
        assert!((upper - 0.943_317_848_545_624_7).abs() < 1e-12, "{upper}");
        let upper = wilson_upper(0, 1).unwrap();
        assert!((upper - 0.793_450_685_622_762_6).abs() < 1e-12, "{upper}");
        assert_eq!(wilson_upper(0, 0), None);
        assert_eq!(wilson_upper(5, 5), Some(1.0));
    }

    #[test]
    fn strong_evidence_ranks_before_a_single_late_bus() {
        // One late arrival in one (OTP 0) against 300 of 1,000 (OTP 30 %).
        let stops = [stop(1, 1, 0), stop(2, 1000, 300), stop(3, 1000, 900)];
        let ids: Vec<u64> = ranked(&stops).iter().map(|s| s.stop_id).collect();
        assert_eq!(ids, [2, 1, 3]);
    }
}
