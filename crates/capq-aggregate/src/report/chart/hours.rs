//! OTP by hour of day, one line per day type, summed over every route of `route_hour.csv`.
//! Lines break where an hour has no data rather than bridging it, and an hour with few used
//! rows gets a hollow marker, since its OTP can swing on a handful of arrivals.

use std::collections::BTreeMap;

use super::super::format;
use super::super::input::RouteHour;
use super::super::markup::{Esc, w};
use super::super::svg::{self, FONT, GRID, INK, MUTED, Px, Scale};
use super::super::table::{Fold, Table, number, text};
use super::{Context, MIN_USED, WIDTH, close_section, open_section, svg_id};

const KEY: &str = "hours";
const HEIGHT: f64 = 330.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 46.0;
const BOTTOM: f64 = 52.0;

/// How a day type's series is drawn: colour, dash pattern and marker shape, so the series
/// differ by more than colour.
struct Style {
    colour: &'static str,
    dash: &'static str,
    marker: Marker,
}

#[derive(Clone, Copy)]
enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
}

fn style(index: usize) -> Style {
    match index {
        0 => Style {
            colour: INK,
            dash: "",
            marker: Marker::Circle,
        },
        1 => Style {
            colour: "#0072b2",
            dash: "6 3",
            marker: Marker::Square,
        },
        2 => Style {
            colour: "#b35806",
            dash: "2 3",
            marker: Marker::Triangle,
        },
        _ => Style {
            colour: "#7b3294",
            dash: "8 3 2 3",
            marker: Marker::Diamond,
        },
    }
}

/// Used and on-time rows per hour (0–23) of one day type.
type Hours = [(u64, u64); 24];

/// The day types of the data, weekday first (the busiest), then the weekend, then any other.
pub fn series(route_hours: &[RouteHour]) -> Vec<(String, Hours)> {
    let mut by_daytype: BTreeMap<&str, Hours> = BTreeMap::new();
    for row in route_hours {
        let hours = by_daytype
            .entry(row.daytype.as_str())
            .or_insert([(0, 0); 24]);
        if let Some(cell) = hours.get_mut(row.hour as usize) {
            cell.0 += row.used;
            cell.1 += row.on_time;
        }
    }
    let rank = |daytype: &str| match daytype {
        "weekday" => 0,
        "saturday" => 1,
        "sunday" => 2,
        _ => 3,
    };
    let mut series: Vec<(String, Hours)> = by_daytype
        .into_iter()
        .map(|(daytype, hours)| (daytype.to_owned(), hours))
        .collect();
    series.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(a.0.cmp(&b.0)));
    series
}

pub fn section(out: &mut String, context: &Context) {
    open_section(
        out,
        KEY,
        "OTP by hour of day",
        "The share of arrivals on time in each hour of the service day, all routes together, \
         one line per day type.",
    );
    let series = series(&context.inputs.route_hours);
    let title = "OTP by hour of day";
    if series.is_empty() {
        svg::open(out, &svg_id(KEY), WIDTH, 120.0, title, "No data.");
        svg::no_data(out, WIDTH, 120.0, "no data: no ok day has used rows");
        out.push_str("</svg>");
    } else {
        chart(out, &series);
    }
    numbers(out, &series);
    close_section(out);
}

fn chart(out: &mut String, series: &[(String, Hours)]) {
    let names: Vec<&str> = series.iter().map(|(name, _)| name.as_str()).collect();
    svg::open(
        out,
        &svg_id(KEY),
        WIDTH,
        HEIGHT,
        "OTP by hour of day",
        &format!(
            "Lines of OTP from 0 to 100% over the hours 0 to 23, for {}.",
            names.join(", ")
        ),
    );
    let band = (WIDTH - LEFT - RIGHT) / 24.0;
    let x = |hour: usize| LEFT + (hour as f64 + 0.5) * band;
    let y = Scale::new((0.0, 1.0), (HEIGHT - BOTTOM, TOP));
    for tick in [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] {
        let at = y.map(tick);
        svg::line(
            out,
            (LEFT, at),
            (WIDTH - RIGHT, at),
            &format!("stroke=\"{GRID}\""),
        );
        svg::text(
            out,
            LEFT - 6.0,
            at + 4.0,
            "end",
            "",
            &format!("{}%", tick * 100.0),
        );
    }
    for hour in 0..24 {
        svg::text(
            out,
            x(hour),
            HEIGHT - BOTTOM + 16.0,
            "middle",
            "",
            &hour.to_string(),
        );
    }
    svg::text(
        out,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 10.0,
        "middle",
        "",
        "hour of day (local time)",
    );
    w!(
        out,
        "<text transform=\"translate(16 {}) rotate(-90)\" text-anchor=\"middle\">OTP</text>",
        Px((TOP + HEIGHT - BOTTOM) / 2.0)
    );
    // Legend: a stroke sample and the marker of each series.
    let mut at = LEFT;
    for (i, (name, _)) in series.iter().enumerate() {
        let style = style(i);
        w!(
            out,
            "<line x1=\"{}\" y1=\"14\" x2=\"{}\" y2=\"14\" stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"{}\"/>",
            Px(at),
            Px(at + 28.0),
            style.colour,
            style.dash
        );
        marker(out, style.marker, at + 14.0, 14.0, style.colour, true);
        svg::text(out, at + 34.0, 18.0, "start", "", name);
        at += 34.0 + svg::text_width(name, FONT) + 20.0;
    }
    marker(out, Marker::Circle, at + 6.0, 14.0, MUTED, false);
    svg::text(
        out,
        at + 16.0,
        18.0,
        "start",
        &format!("fill=\"{MUTED}\""),
        &format!("hollow: fewer than {MIN_USED} used rows in that hour"),
    );
    for (i, (name, hours)) in series.iter().enumerate() {
        let style = style(i);
        // Lines through consecutive hours with data.
        let mut run: Vec<(f64, f64)> = Vec::new();
        let mut runs = Vec::new();
        for (hour, &(used, on_time)) in hours.iter().enumerate() {
            if used == 0 {
                runs.push(std::mem::take(&mut run));
            } else {
                run.push((x(hour), y.map(on_time as f64 / used as f64)));
            }
        }
        runs.push(run);
        for run in runs.iter().filter(|r| r.len() > 1) {
            let points: Vec<String> = run
                .iter()
                .map(|&(px, py)| format!("{},{}", Px(px), Px(py)))
                .collect();
            w!(
                out,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"{}\"/>",
                points.join(" "),
                style.colour,
                style.dash
            );
        }
        for (hour, &(used, on_time)) in hours.iter().enumerate() {
            if used == 0 {
                continue;
            }
            let otp = on_time as f64 / used as f64;
            w!(
                out,
                "<g><title>{}, {hour:02}:00–{hour:02}:59: OTP {} ({} used rows)</title>",
                Esc(name),
                format::percent(otp),
                format::count(used)
            );
            marker(
                out,
                style.marker,
                x(hour),
                y.map(otp),
                style.colour,
                used >= MIN_USED,
            );
            out.push_str("</g>");
        }
    }
    out.push_str("</svg>");
}

fn marker(out: &mut String, shape: Marker, x: f64, y: f64, colour: &str, filled: bool) {
    let fill = if filled { colour } else { "#ffffff" };
    let paint = format!("fill=\"{fill}\" stroke=\"{colour}\" stroke-width=\"1.5\"");
    match shape {
        Marker::Circle => w!(
            out,
            "<circle cx=\"{}\" cy=\"{}\" r=\"4\" {paint}/>",
            Px(x),
            Px(y)
        ),
        Marker::Square => w!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"7\" height=\"7\" {paint}/>",
            Px(x - 3.5),
            Px(y - 3.5)
        ),
        Marker::Triangle => w!(
            out,
            "<path d=\"M{} {}l4.5 8h-9z\" {paint}/>",
            Px(x),
            Px(y - 5.0)
        ),
        Marker::Diamond => w!(
            out,
            "<path d=\"M{} {}l4.5 4.5l-4.5 4.5l-4.5-4.5z\" {paint}/>",
            Px(x),
            Px(y - 4.5)
        ),
    }
}

fn numbers(out: &mut String, series: &[(String, Hours)]) {
    let mut columns = vec![text("hour")];
    let titles: Vec<(String, String)> = series
        .iter()
        .map(|(name, _)| (format!("{name} OTP"), format!("{name} used")))
        .collect();
    for (otp, used) in &titles {
        columns.push(number(otp));
        columns.push(number(used));
    }
    columns.push(number("all OTP"));
    columns.push(number("all used"));
    let mut table = Table::new("OTP by hour of day and day type, all routes", columns);
    for hour in 0..24 {
        let mut cells = vec![format!("{hour:02}:00–{hour:02}:59")];
        let (mut all_used, mut all_on_time) = (0, 0);
        for (_, hours) in series {
            let (used, on_time) = hours[hour];
            all_used += used;
            all_on_time += on_time;
            cells.push(format::share(on_time, used));
            cells.push(format::count(used));
        }
        if all_used == 0 {
            continue;
        }
        cells.push(format::share(all_on_time, all_used));
        cells.push(format::count(all_used));
        table.row(cells);
    }
    table.write(out, "Table: OTP by hour", Fold::Auto);
}
