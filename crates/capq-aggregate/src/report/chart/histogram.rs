//! The distribution of schedule deviation over the used rows of ok days (`histogram.csv`,
//! scope `all`), in 30-second bins, with the on-time window shaded and the system's p50 and p90
//! marked. Bars take the colour of their class (early, on time, late); a bin that straddles a
//! bound of the window is grey.

use super::super::format;
use super::super::input::Bin;
use super::super::markup::{Esc, w};
use super::super::profile;
use super::super::svg::{self, EARLY, GRID, INK, LATE, MUTED, ON_TIME, Px, Scale};
use super::super::table::{Fold, Table, number, text};
use super::{Context, WIDTH, close_section, open_section, svg_id};

const KEY: &str = "histogram";
const HEIGHT: f64 = 340.0;
const LEFT: f64 = 76.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 52.0;
const BOTTOM: f64 = 52.0;
/// The width of a bin, in seconds (AGGREGATE.md §2.5).
const BIN: i64 = 30;
const STRADDLE: &str = "#9a9a9a";

/// The class colour of the bin starting at `bin`, for the window `(early, late)`.
pub fn bin_colour(bin: i64, (early, late): (Option<i64>, i64)) -> &'static str {
    let last = bin + BIN - 1;
    let before = early.is_some_and(|e| last < e);
    let after = bin > late;
    let inside = early.is_none_or(|e| bin >= e) && last <= late;
    if before {
        EARLY
    } else if after {
        LATE
    } else if inside {
        ON_TIME
    } else {
        STRADDLE
    }
}

pub fn section(out: &mut String, context: &Context) {
    open_section(
        out,
        KEY,
        "Deviation from schedule",
        "How early or late arrivals were, in 30-second bins, over the used rows of ok days. \
         The shaded band is the on-time window.",
    );
    let bins: Vec<&Bin> = context
        .inputs
        .bins
        .iter()
        .filter(|b| b.scope == "all" && b.count > 0)
        .collect();
    if bins.is_empty() {
        svg::open(
            out,
            &svg_id(KEY),
            WIDTH,
            120.0,
            "Deviation from schedule",
            "No data.",
        );
        svg::no_data(out, WIDTH, 120.0, "no data: no ok day has used rows");
        out.push_str("</svg>");
    } else {
        chart(out, context, &bins);
    }
    numbers(out, &bins);
    close_section(out);
}

/// The span of deviation the chart draws, in whole minutes: from the bin of the 0.5th to the
/// bin of the 99.5th percentile of rows, widened to show the whole window with a minute to
/// spare. Drawing the full ±30 minutes would squeeze the bulk of arrivals into a sliver; the
/// rows beyond are counted on the chart and listed in the table. `bins` are ascending.
pub fn shown_span(bins: &[&Bin], (early, late): (Option<i64>, i64)) -> (i64, i64) {
    let total: u64 = bins.iter().map(|b| b.count).sum();
    let mut seen = 0;
    let (mut first, mut last) = (None, None);
    for bin in bins {
        seen += bin.count;
        // seen / total ≥ 0.5 %, in integers.
        if first.is_none() && seen * 200 >= total {
            first = Some(bin.bin);
        }
        if last.is_none() && seen * 200 >= total * 199 {
            last = Some(bin.bin);
        }
    }
    let first = first.unwrap_or(0);
    let last = last.unwrap_or(0) + BIN;
    let lo = early.map_or(first, |e| first.min(e - 60));
    let hi = last.max(late + 60);
    (lo.div_euclid(60) * 60, (hi + 59).div_euclid(60) * 60)
}

fn chart(out: &mut String, context: &Context, all_bins: &[&Bin]) {
    let (early, late) = context.window;
    let (lo, hi) = shown_span(all_bins, context.window);
    let below: u64 = all_bins
        .iter()
        .filter(|b| b.bin < lo)
        .map(|b| b.count)
        .sum();
    let above: u64 = all_bins
        .iter()
        .filter(|b| b.bin >= hi)
        .map(|b| b.count)
        .sum();
    let bins: Vec<&Bin> = all_bins
        .iter()
        .copied()
        .filter(|b| b.bin >= lo && b.bin < hi)
        .collect();
    let (lo, hi) = (lo as f64, hi as f64);
    let x = Scale::new((lo, hi), (LEFT, WIDTH - RIGHT));
    let max = bins.iter().map(|b| b.count).max().unwrap_or(0) as f64;
    let top = svg::nice_ceiling(max);
    let y = Scale::new((0.0, top), (HEIGHT - BOTTOM, TOP));
    let total: u64 = all_bins.iter().map(|b| b.count).sum();
    svg::open(
        out,
        &svg_id(KEY),
        WIDTH,
        HEIGHT,
        "Deviation from schedule",
        &format!(
            "Histogram of {} used rows by deviation from schedule, from {} to {} minutes, \
             with the on-time window {} shaded.",
            format::count(total),
            format::minutes_tick(lo),
            format::minutes_tick(hi),
            profile::describe(early, late)
        ),
    );
    svg::legend(
        out,
        LEFT,
        16.0,
        &[
            (EARLY, "early"),
            (ON_TIME, "on time"),
            (LATE, "late"),
            (STRADDLE, "bin across a bound"),
        ],
    );
    // The window, behind everything.
    let band_from = early.map_or(LEFT, |e| x.map_clamped(e as f64));
    let band_to = x.map_clamped(late as f64 + 1.0);
    w!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{ON_TIME}\" fill-opacity=\"0.16\"/>",
        Px(band_from),
        Px(TOP),
        Px(band_to - band_from),
        Px(HEIGHT - BOTTOM - TOP)
    );
    for edge in [early.map(|_| band_from), Some(band_to)]
        .into_iter()
        .flatten()
    {
        svg::line(
            out,
            (edge, TOP),
            (edge, HEIGHT - BOTTOM),
            "stroke=\"#3d7a5c\" stroke-dasharray=\"4 3\"",
        );
    }
    svg::text(
        out,
        ((band_from + band_to) / 2.0).clamp(LEFT + 90.0, WIDTH - RIGHT - 90.0),
        TOP - 6.0,
        "middle",
        "fill=\"#2f5f47\"",
        &format!("on-time window: {}", profile::describe(early, late)),
    );
    for tick in svg::nice_ticks(0.0, top, 5) {
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
            &format::count(tick as u64),
        );
    }
    for tick in svg::minute_ticks(lo, hi, 13) {
        let at = x.map(tick);
        svg::line(
            out,
            (at, HEIGHT - BOTTOM),
            (at, HEIGHT - BOTTOM + 4.0),
            &format!("stroke=\"{INK}\""),
        );
        svg::text(
            out,
            at,
            HEIGHT - BOTTOM + 17.0,
            "middle",
            "",
            &format::minutes_tick(tick),
        );
    }
    svg::text(
        out,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 12.0,
        "middle",
        "",
        "deviation from schedule (minutes; + = late)",
    );
    w!(
        out,
        "<text transform=\"translate(16 {}) rotate(-90)\" text-anchor=\"middle\">used rows per 30-second bin</text>",
        Px((TOP + HEIGHT - BOTTOM) / 2.0)
    );
    for bin in &bins {
        let from = x.map(bin.bin as f64);
        let to = x.map((bin.bin + BIN) as f64);
        let width = if to - from > 3.0 {
            to - from - 1.0
        } else {
            to - from
        };
        let top_y = y.map(bin.count as f64);
        svg::rect(
            out,
            from,
            top_y,
            width,
            HEIGHT - BOTTOM - top_y,
            bin_colour(bin.bin, context.window),
            &format!(
                "{}: {} rows ({})",
                bin_range(bin.bin),
                format::count(bin.count),
                format::share(bin.count, total)
            ),
        );
    }
    svg::line(
        out,
        (LEFT, HEIGHT - BOTTOM),
        (WIDTH - RIGHT, HEIGHT - BOTTOM),
        &format!("stroke=\"{INK}\""),
    );
    // The system's median and 90th percentile.
    let system = &context.inputs.summary.system;
    let mut label_y = TOP + 14.0;
    for (name, value) in [("p50", system.p50), ("p90", system.p90)] {
        if let Some(value) = value {
            let at = x.map_clamped(value as f64 + 0.5);
            svg::line(
                out,
                (at, TOP),
                (at, HEIGHT - BOTTOM),
                &format!("stroke=\"{INK}\" stroke-dasharray=\"2 2\""),
            );
            w!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"start\" fill=\"{INK}\">{} {}</text>",
                Px(at + 4.0),
                Px(label_y),
                name,
                Esc(&format::deviation(value))
            );
            label_y += 16.0;
        }
    }
    w!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"{MUTED}\">{} used rows</text>",
        Px(WIDTH - RIGHT),
        Px(TOP + 14.0),
        format::count(total)
    );
    // The tails left out of the drawing, at the ends of the axis.
    if below > 0 {
        svg::text(
            out,
            LEFT,
            HEIGHT - 12.0,
            "start",
            &format!("fill=\"{MUTED}\""),
            &format!("← {} rows earlier", format::count(below)),
        );
    }
    if above > 0 {
        svg::text(
            out,
            WIDTH - RIGHT,
            HEIGHT - 12.0,
            "end",
            &format!("fill=\"{MUTED}\""),
            &format!("{} rows later →", format::count(above)),
        );
    }
    out.push_str("</svg>");
}

/// `−60 s to −31 s` for the bin starting at −60.
fn bin_range(bin: i64) -> String {
    format!(
        "{} to {}",
        format::deviation(bin),
        format::deviation(bin + BIN - 1)
    )
}

fn numbers(out: &mut String, bins: &[&Bin]) {
    let total: u64 = bins.iter().map(|b| b.count).sum();
    let mut table = Table::new(
        "Used rows per 30-second bin of deviation (all routes, ok days)",
        vec![
            text("deviation"),
            number("from (s)"),
            number("rows"),
            number("share"),
        ],
    );
    for bin in bins {
        table.row(vec![
            bin_range(bin.bin),
            format::signed(bin.bin),
            format::count(bin.count),
            format::share(bin.count, total),
        ]);
    }
    table.write(out, "Table: the histogram", Fold::Auto);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(bin: i64, count: u64) -> Bin {
        Bin {
            scope: "all".to_owned(),
            bin,
            count,
        }
    }

    #[test]
    fn the_drawn_span_covers_the_bulk_and_the_window() {
        // 1,000 rows: 4 far early (0.4 %), the rest near zero, 6 far late (0.6 %).
        let bins = [bin(-1800, 4), bin(-30, 490), bin(0, 500), bin(1770, 6)];
        let refs: Vec<&Bin> = bins.iter().collect();
        // The first bin holds 0.4 % (< 0.5 %), so the span starts at −30 s, widened to the
        // window's −60 s minus a minute; 99.5 % is reached only in the last bin.
        assert_eq!(shown_span(&refs, (Some(-60), 300)), (-120, 1800));
        let bins = [bin(-1800, 5), bin(-30, 490), bin(0, 500), bin(1770, 5)];
        let refs: Vec<&Bin> = bins.iter().collect();
        // 0.5 % exactly in each tail: the first bin counts, and 99.5 % is reached at bin 0.
        assert_eq!(shown_span(&refs, (Some(-60), 300)), (-1800, 360));
        assert_eq!(shown_span(&refs[1..3], (None, 300)), (-60, 360));
        assert_eq!(shown_span(&[], (Some(-60), 300)), (-120, 360));
    }

    #[test]
    fn bins_take_the_colour_of_their_class() {
        let tcqsm = (Some(-60), 300);
        assert_eq!(bin_colour(-90, tcqsm), EARLY);
        assert_eq!(bin_colour(-60, tcqsm), ON_TIME);
        assert_eq!(bin_colour(270, tcqsm), ON_TIME);
        // 300 is on time, 301–329 late.
        assert_eq!(bin_colour(300, tcqsm), STRADDLE);
        assert_eq!(bin_colour(330, tcqsm), LATE);
        assert_eq!(bin_colour(-1800, (None, 300)), ON_TIME);
        assert_eq!(bin_colour(-80, (Some(-70), 300)), STRADDLE);
    }
}
