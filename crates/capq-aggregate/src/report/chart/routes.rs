//! Per route, 100 %-stacked early / on-time / late bars, worst first, under a combined row for
//! the whole system (AGGREGATE.md §2.8). One row per `(route, direction, day type)` cell of
//! `route.csv` with enough used rows to rank; the SVG grows with the row count so labels never
//! overlap, and the label column is as wide as its longest label (long headsigns are cut with
//! an ellipsis; the full text is in the row's tooltip and the table).

use std::cmp::Ordering;

use super::super::format;
use super::super::input::Route;
use super::super::markup::{Esc, w};
use super::super::svg::{self, EARLY, FONT, GRID, INK, LATE, MUTED, ON_TIME, Px, Scale};
use super::super::table::{Fold, Table, number, text};
use super::{Context, Label, MIN_USED, WIDTH, close_section, open_section, route_label, svg_id};

const KEY: &str = "routes";
const ROW: f64 = 18.0;
const BAR: f64 = 12.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = 44.0;
/// The gap between the system row and the routes.
const SEPARATOR: f64 = 10.0;
const RIGHT: f64 = 136.0;

/// One bar: its label, tooltip label and counts.
struct Bar {
    label: Label,
    early: u64,
    on_time: u64,
    late: u64,
    otp_lo: Option<f64>,
    otp_hi: Option<f64>,
}

impl Bar {
    fn used(&self) -> u64 {
        self.early + self.on_time + self.late
    }
}

/// The routes of the chart: cells with at least [`MIN_USED`] used rows, worst OTP first
/// (AGGREGATE.md §2.2's order; re-sorted here so a hand-edited file still draws right).
pub fn ranked(routes: &[Route]) -> Vec<&Route> {
    let mut ranked: Vec<&Route> = routes.iter().filter(|r| r.used >= MIN_USED).collect();
    ranked.sort_by(|a, b| worst_first(a, b));
    ranked
}

/// AGGREGATE.md §2.2's order: OTP ascending, then route, direction and day type.
fn worst_first(a: &Route, b: &Route) -> Ordering {
    let otp = |r: &Route| r.otp.unwrap_or(f64::INFINITY);
    otp(a)
        .total_cmp(&otp(b))
        .then(a.route_id.cmp(&b.route_id))
        .then(a.direction.as_bytes().cmp(b.direction.as_bytes()))
        .then(a.daytype.as_bytes().cmp(b.daytype.as_bytes()))
}

pub fn section(out: &mut String, context: &Context) {
    let inputs = context.inputs;
    let system = &inputs.summary.system;
    open_section(
        out,
        KEY,
        "On-time performance by route, worst first",
        "Each bar splits a route's used rows into early, on time and late; the top bar is the \
         whole system. Routes are ranked by OTP, lowest first.",
    );
    let ranked = ranked(&inputs.routes);
    let bars: Vec<Bar> = ranked
        .iter()
        .map(|r| Bar {
            label: route_label(r.route_id, &r.direction, &r.daytype),
            early: r.early,
            on_time: r.on_time,
            late: r.late,
            otp_lo: r.otp_lo,
            otp_hi: r.otp_hi,
        })
        .collect();
    let combined = Bar {
        label: Label {
            head: "All routes (system)".to_owned(),
            tail: String::new(),
        },
        early: system.early,
        on_time: system.on_time,
        late: system.late,
        otp_lo: system.otp_lo,
        otp_hi: system.otp_hi,
    };
    if context.has_data() {
        chart(out, &combined, &bars);
    } else {
        svg::open(
            out,
            &svg_id(KEY),
            WIDTH,
            120.0,
            "On-time performance by route",
            "No data: no ok day has used rows.",
        );
        svg::no_data(out, WIDTH, 120.0, "no data: no ok day has used rows");
        out.push_str("</svg>");
    }
    let left_out = inputs.routes.len() - ranked.len();
    if left_out > 0 {
        w!(
            out,
            "<p class=\"note\">{} of {} route cells have fewer than {MIN_USED} used rows and are \
             left out of the chart: their OTP is too uncertain to rank. The table lists them all.</p>",
            format::count(left_out as u64),
            format::count(inputs.routes.len() as u64)
        );
    }
    numbers(out, context);
    close_section(out);
}

fn chart(out: &mut String, combined: &Bar, bars: &[Bar]) {
    let longest = std::iter::once(combined)
        .chain(bars)
        .map(|b| svg::text_width(&b.label.full(), FONT))
        .fold(0.0, f64::max);
    let label_width = longest.clamp(160.0, 330.0);
    let x0 = label_width + 14.0;
    let x1 = WIDTH - RIGHT;
    let scale = Scale::new((0.0, 1.0), (x0, x1));
    let plot_bottom = TOP + ROW + SEPARATOR + ROW * bars.len() as f64;
    let height = plot_bottom + BOTTOM;
    svg::open(
        out,
        &svg_id(KEY),
        WIDTH,
        height,
        "On-time performance by route, worst first",
        &format!(
            "100% stacked bars of early, on-time and late shares for the system and {} route \
             cells, lowest OTP first.",
            bars.len()
        ),
    );
    svg::legend(
        out,
        x0,
        16.0,
        &[(EARLY, "early"), (ON_TIME, "on time"), (LATE, "late")],
    );
    svg::text(
        out,
        x0 - 14.0,
        TOP - 10.0,
        "end",
        &format!("fill=\"{MUTED}\""),
        "route · direction · day type",
    );
    svg::text(
        out,
        x1 + 14.0,
        TOP - 10.0,
        "start",
        &format!("fill=\"{MUTED}\""),
        "OTP",
    );
    svg::text(
        out,
        x1 + 68.0,
        TOP - 10.0,
        "start",
        &format!("fill=\"{MUTED}\""),
        "used rows",
    );
    // Grid and axis labels, top and bottom, so a long chart can be read anywhere.
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let x = scale.map(tick);
        svg::line(
            out,
            (x, TOP - 4.0),
            (x, plot_bottom + 2.0),
            &format!("stroke=\"{GRID}\""),
        );
        let label = format!("{}%", tick * 100.0);
        svg::tick_label(out, x, TOP - 10.0, (x0 - 2.0, x1 + 2.0), &label);
        svg::tick_label(out, x, plot_bottom + 16.0, (x0 - 2.0, x1 + 2.0), &label);
    }
    svg::text(
        out,
        (x0 + x1) / 2.0,
        plot_bottom + 36.0,
        "middle",
        "",
        "share of used rows",
    );
    row(out, &scale, x0, TOP, combined, true);
    svg::line(
        out,
        (4.0, TOP + ROW + SEPARATOR / 2.0),
        (WIDTH - 4.0, TOP + ROW + SEPARATOR / 2.0),
        &format!("stroke=\"{MUTED}\""),
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = TOP + ROW + SEPARATOR + ROW * i as f64;
        row(out, &scale, x0, y, bar, false);
    }
    out.push_str("</svg>");
}

/// One bar at row top `y`, with its label on the left and OTP and count on the right.
fn row(out: &mut String, scale: &Scale, x0: f64, y: f64, bar: &Bar, bold: bool) {
    let used = bar.used();
    let share = |n: u64| {
        if used == 0 {
            0.0
        } else {
            n as f64 / used as f64
        }
    };
    let otp = if used == 0 {
        None
    } else {
        Some(share(bar.on_time))
    };
    let interval = match (bar.otp_lo, bar.otp_hi) {
        (Some(lo), Some(hi)) => format!(
            ", 95% interval {}–{}",
            format::percent(lo),
            format::percent(hi)
        ),
        _ => String::new(),
    };
    w!(
        out,
        "<g><title>{}: early {}, on time {}, late {} (OTP {}{}; {} used rows)</title>",
        Esc(&bar.label.full()),
        format::share(bar.early, used),
        format::share(bar.on_time, used),
        format::share(bar.late, used),
        format::percent_or_none(otp),
        interval,
        format::count(used)
    );
    let attributes = if bold {
        "class=\"row-label\" font-weight=\"bold\""
    } else {
        "class=\"row-label\""
    };
    let label = bar.label.fitted(x0 - 14.0);
    svg::text(
        out,
        x0 - 8.0,
        y + ROW / 2.0 + 4.0,
        "end",
        attributes,
        &label,
    );
    let mut at = 0.0;
    for (count, colour) in [(bar.early, EARLY), (bar.on_time, ON_TIME), (bar.late, LATE)] {
        let from = scale.map(at);
        at += share(count);
        let to = scale.map(at);
        if to > from {
            w!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{colour}\" \
                 stroke=\"#ffffff\" stroke-width=\"1\"/>",
                Px(from),
                Px(y + (ROW - BAR) / 2.0),
                Px(to - from),
                Px(BAR)
            );
        }
    }
    let x1 = scale.map(1.0);
    svg::text(
        out,
        x1 + 14.0,
        y + ROW / 2.0 + 4.0,
        "start",
        &format!("font-weight=\"bold\" fill=\"{INK}\""),
        &format::percent_or_none(otp),
    );
    svg::text(
        out,
        x1 + 68.0,
        y + ROW / 2.0 + 4.0,
        "start",
        &format!("fill=\"{MUTED}\""),
        &format::count(used),
    );
    out.push_str("</g>");
}

fn numbers(out: &mut String, context: &Context) {
    let inputs = context.inputs;
    let system = &inputs.summary.system;
    let mut table = Table::new(
        "Every route cell of route.csv, worst OTP first (deviations in seconds)",
        vec![
            text("route"),
            text("direction"),
            text("day type"),
            number("days"),
            number("trips"),
            number("used"),
            number("early"),
            number("on time"),
            number("late"),
            number("OTP"),
            number("95% interval"),
            number("mean"),
            number("p10"),
            number("p50"),
            number("p90"),
            number("p95"),
        ],
    );
    let interval = |lo: Option<f64>, hi: Option<f64>| match (lo, hi) {
        (Some(lo), Some(hi)) => format!("{}–{}", format::percent(lo), format::percent(hi)),
        _ => format::NONE.to_owned(),
    };
    if context.has_data() {
        table.marked_row(
            vec![
                "all".to_owned(),
                "(system)".to_owned(),
                "ok days".to_owned(),
                format::count(inputs.summary.days.ok),
                format::NONE.to_owned(),
                format::count(system.used),
                format::share(system.early, system.used),
                format::share(system.on_time, system.used),
                format::share(system.late, system.used),
                format::percent_or_none(system.otp),
                interval(system.otp_lo, system.otp_hi),
                format::NONE.to_owned(),
                format::NONE.to_owned(),
                format::seconds_or_none(system.p50),
                format::seconds_or_none(system.p90),
                format::NONE.to_owned(),
            ],
            "system",
        );
    }
    let mut all: Vec<&Route> = inputs.routes.iter().collect();
    all.sort_by(|a, b| worst_first(a, b));
    for r in all {
        table.row(vec![
            r.route_id.to_string(),
            r.direction.clone(),
            r.daytype.clone(),
            format::count(r.days),
            format::count(r.trips),
            format::count(r.used),
            format::share(r.early, r.used),
            format::share(r.on_time, r.used),
            format::share(r.late, r.used),
            format::percent_or_none(r.otp),
            interval(r.otp_lo, r.otp_hi),
            format::mean_or_none(r.mean_dev),
            format::seconds_or_none(r.p10),
            format::seconds_or_none(r.p50),
            format::seconds_or_none(r.p90),
            format::seconds_or_none(r.p95),
        ]);
    }
    table.write(out, "Table: every route", Fold::Auto);
}
