//! A route × hour heatmap of OTP from `route_hour.csv`, day types summed: one row per route
//! (by number, so a route is easy to find), one column per hour. Colours are ten steps of
//! viridis, dark for low OTP, so the problems stand out in any kind of colour vision and in
//! greyscale print. A cell with few used rows is drawn as a smaller square.

use std::collections::BTreeMap;

use super::super::format;
use super::super::markup::w;
use super::super::svg::{self, FONT, MUTED, Px};
use super::super::table::{Fold, Table, number, text};
use super::{Context, MIN_USED, WIDTH, close_section, open_section, svg_id};

const KEY: &str = "heatmap";
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 70.0;
const BOTTOM: f64 = 46.0;
const ROW: f64 = 16.0;
const CLASSES: usize = 10;
const NO_DATA: &str = "#f0f0f0";

/// Used and on-time rows per hour of each route, day types summed, routes by number.
pub fn grid(context: &Context) -> BTreeMap<u64, [(u64, u64); 24]> {
    let mut grid: BTreeMap<u64, [(u64, u64); 24]> = BTreeMap::new();
    for row in &context.inputs.route_hours {
        let hours = grid.entry(row.route_id).or_insert([(0, 0); 24]);
        if let Some(cell) = hours.get_mut(row.hour as usize) {
            cell.0 += row.used;
            cell.1 += row.on_time;
        }
    }
    grid
}

pub fn section(out: &mut String, context: &Context) {
    open_section(
        out,
        KEY,
        "OTP by route and hour",
        "Each cell is one route in one hour of the day, all day types together; darker is \
         worse. Hover a cell for its numbers.",
    );
    let grid = grid(context);
    if grid.is_empty() {
        svg::open(
            out,
            &svg_id(KEY),
            WIDTH,
            120.0,
            "OTP by route and hour",
            "No data.",
        );
        svg::no_data(out, WIDTH, 120.0, "no data: no ok day has used rows");
        out.push_str("</svg>");
    } else {
        chart(out, &grid);
    }
    numbers(out, &grid);
    close_section(out);
}

fn chart(out: &mut String, grid: &BTreeMap<u64, [(u64, u64); 24]>) {
    let cell = (WIDTH - LEFT - RIGHT) / 24.0;
    let height = TOP + ROW * grid.len() as f64 + BOTTOM;
    svg::open(
        out,
        &svg_id(KEY),
        WIDTH,
        height,
        "OTP by route and hour",
        &format!(
            "Heatmap of OTP for {} routes (rows) by hour of day 0 to 23 (columns), in ten steps \
             from 0 to 100%.",
            grid.len()
        ),
    );
    // Legend: the ten classes, then "no data" and the small-square convention.
    let mut at = LEFT;
    for class in 0..CLASSES {
        let from = class as f64 / CLASSES as f64;
        svg::rect(
            out,
            at,
            8.0,
            34.0,
            12.0,
            &svg::sequential(from + 0.05, CLASSES),
            "",
        );
        if class % 2 == 0 {
            svg::text(
                out,
                at,
                33.0,
                "middle",
                "",
                &format!("{}%", (from * 100.0).round()),
            );
        }
        at += 34.0;
    }
    svg::text(out, at, 33.0, "middle", "", "100%");
    svg::text(out, LEFT - 6.0, 18.0, "end", "", "OTP");
    at += 24.0;
    svg::rect(out, at, 8.0, 12.0, 12.0, NO_DATA, "");
    w!(
        out,
        "<rect x=\"{}\" y=\"8\" width=\"12\" height=\"12\" fill=\"none\" stroke=\"{MUTED}\" stroke-width=\"0.5\"/>",
        Px(at)
    );
    svg::text(out, at + 17.0, 18.0, "start", "", "no data");
    at += 17.0 + svg::text_width("no data", FONT) + 18.0;
    svg::rect(
        out,
        at + 3.0,
        11.0,
        6.0,
        6.0,
        &svg::sequential(0.75, CLASSES),
        "",
    );
    svg::text(
        out,
        at + 17.0,
        18.0,
        "start",
        "",
        &format!("small square: fewer than {MIN_USED} used rows"),
    );
    for hour in 0..24 {
        let x = LEFT + (hour as f64 + 0.5) * cell;
        svg::text(out, x, TOP - 8.0, "middle", "", &hour.to_string());
        svg::text(
            out,
            x,
            height - BOTTOM + 16.0,
            "middle",
            "",
            &hour.to_string(),
        );
    }
    svg::text(
        out,
        (LEFT + WIDTH - RIGHT) / 2.0,
        height - 10.0,
        "middle",
        "",
        "hour of day (local time)",
    );
    svg::text(
        out,
        LEFT - 10.0,
        TOP - 8.0,
        "end",
        &format!("fill=\"{MUTED}\""),
        "route",
    );
    for (row, (route_id, hours)) in grid.iter().enumerate() {
        let y = TOP + ROW * row as f64;
        svg::text(
            out,
            LEFT - 10.0,
            y + ROW / 2.0 + 4.0,
            "end",
            "",
            &route_id.to_string(),
        );
        for (hour, &(used, on_time)) in hours.iter().enumerate() {
            let x = LEFT + hour as f64 * cell;
            if used == 0 {
                svg::rect(out, x + 0.5, y + 0.5, cell - 1.0, ROW - 1.0, NO_DATA, "");
                continue;
            }
            let otp = on_time as f64 / used as f64;
            let tip = format!(
                "route {route_id}, {hour:02}:00–{hour:02}:59: OTP {} ({} used rows)",
                format::percent(otp),
                format::count(used)
            );
            let colour = svg::sequential(otp, CLASSES);
            if used >= MIN_USED {
                svg::rect(out, x + 0.5, y + 0.5, cell - 1.0, ROW - 1.0, &colour, &tip);
            } else {
                svg::rect(out, x + 0.5, y + 0.5, cell - 1.0, ROW - 1.0, NO_DATA, "");
                let side = ROW * 0.55;
                svg::rect(
                    out,
                    x + (cell - side) / 2.0,
                    y + (ROW - side) / 2.0,
                    side,
                    side,
                    &colour,
                    &tip,
                );
            }
        }
    }
    out.push_str("</svg>");
}

fn numbers(out: &mut String, grid: &BTreeMap<u64, [(u64, u64); 24]>) {
    let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    let mut columns = vec![text("route")];
    columns.extend(hours.iter().map(|h| number(h)));
    columns.push(number("used"));
    let mut table = Table::new(
        "OTP (%) by route and hour of day, day types together; – where the hour has no data",
        columns,
    );
    for (route_id, hours) in grid {
        let mut cells = vec![route_id.to_string()];
        cells.extend(
            hours
                .iter()
                .map(|&(used, on_time)| format::share(on_time, used).replace('%', "")),
        );
        cells.push(format::count(hours.iter().map(|h| h.0).sum()));
        table.row(cells);
    }
    table.write(out, "Table: OTP by route and hour", Fold::Auto);
}
