//! Daily OTP over the aggregate's days (`system_daily.csv`), on a calendar axis: ok days as a
//! line with their 95 % interval, broken wherever a day is not ok; suspect, empty, missing and
//! failed days as marked bands, since they are not counted and a reader must see where the
//! gaps are. The axis labels days, weeks or months depending on the span, so a year does not
//! print 365 overlapping dates.

use super::super::date::{Date, month_name};
use super::super::format;
use super::super::input::{Day, Flag};
use super::super::markup::{Esc, w};
use super::super::svg::{self, FONT, GRID, INK, Px, Scale};
use super::super::table::{Fold, Table, number, text};
use super::{Context, WIDTH, close_section, open_section, svg_id};

const KEY: &str = "daily";
const HEIGHT: f64 = 340.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 60.0;
const BOTTOM: f64 = 52.0;

const SUSPECT: &str = "#e69f00";
const SUSPECT_MARK: &str = "#8a5a00";
const EMPTY: &str = "#9e9e9e";
const ABSENT: &str = "#cc79a7";
const ABSENT_MARK: &str = "#8e3b6a";
const LINE: &str = INK;
const BAND: &str = "#9ecae1";

/// A day on the axis: a row of `system_daily.csv`, or a day `summary.json` lists as missing
/// or failed.
enum Mark<'a> {
    Day(&'a Day),
    Missing(Date),
    Failed(Date),
}

impl Mark<'_> {
    fn date(&self) -> Date {
        match self {
            Mark::Day(day) => day.day,
            Mark::Missing(date) | Mark::Failed(date) => *date,
        }
    }
}

/// Where the labels of a calendar axis from `first` to `last` go: every day, every week or
/// the first of every 1, 3, 6 or 12 months, whichever keeps the labels apart.
pub fn calendar_ticks(first: Date, last: Date) -> Vec<(Date, String)> {
    let span = last.0 - first.0 + 1;
    if span <= 16 {
        return (first.0..=last.0)
            .map(|d| (Date(d), Date(d).short()))
            .collect();
    }
    if span <= 120 {
        return (first.0..=last.0)
            .step_by(7)
            .map(|d| (Date(d), Date(d).short()))
            .collect();
    }
    let (first_year, first_month, _) = first.civil();
    let (last_year, last_month, _) = last.civil();
    let months = (last_year - first_year) * 12 + last_month - first_month + 1;
    let step = [1, 3, 6, 12]
        .into_iter()
        .find(|step| months / step <= 14)
        .unwrap_or(12 * (months / (12 * 14) + 1));
    let mut ticks = Vec::new();
    let (mut year, mut month) = (first_year, first_month);
    while (year, month) <= (last_year, last_month) {
        let index = year * 12 + month - 1;
        if index % step == 0 {
            let text = format!("{year:04}-{month:02}-01");
            if let Some(date) = Date::parse(&text).filter(|d| *d >= first) {
                let label = if month == 1 || ticks.is_empty() || step >= 12 {
                    format!("{} {year}", month_name(month))
                } else {
                    month_name(month).to_owned()
                };
                ticks.push((date, label));
            }
        }
        month += 1;
        if month > 12 {
            month = 1;
            year += 1;
        }
    }
    ticks
}

pub fn section(out: &mut String, context: &Context) {
    open_section(
        out,
        KEY,
        "Daily OTP",
        "OTP of each day with its 95% interval. Suspect, empty, missing and failed days are \
         marked and are not counted in the other figures.",
    );
    let summary = &context.inputs.summary;
    let mut marks: Vec<Mark> = context.inputs.days.iter().map(Mark::Day).collect();
    marks.extend(
        summary
            .missing_days
            .iter()
            .filter_map(|d| Date::parse(d))
            .map(Mark::Missing),
    );
    marks.extend(
        summary
            .failed_days
            .iter()
            .filter_map(|d| Date::parse(d))
            .map(Mark::Failed),
    );
    marks.sort_by_key(Mark::date);
    if marks.is_empty() {
        svg::open(out, &svg_id(KEY), WIDTH, 120.0, "Daily OTP", "No days.");
        svg::no_data(out, WIDTH, 120.0, "no days in this aggregate");
        out.push_str("</svg>");
    } else {
        chart(out, &marks);
    }
    numbers(out, &marks);
    close_section(out);
}

fn chart(out: &mut String, marks: &[Mark]) {
    let first = marks.first().map_or(Date(0), Mark::date);
    let last = marks.last().map_or(Date(0), Mark::date);
    let span = (last.0 - first.0 + 1) as f64;
    let plot = (LEFT, WIDTH - RIGHT);
    let day_width = (plot.1 - plot.0) / span;
    let x = |date: Date| plot.0 + ((date.0 - first.0) as f64 + 0.5) * day_width;
    let ok: Vec<&Day> = marks
        .iter()
        .filter_map(|m| match m {
            Mark::Day(day) if day.flag == Flag::Ok && day.otp.is_some() => Some(*day),
            _ => None,
        })
        .collect();
    let low = ok
        .iter()
        .filter_map(|d| d.otp_lo.or(d.otp))
        .fold(1.0, f64::min);
    let high = ok
        .iter()
        .filter_map(|d| d.otp_hi.or(d.otp))
        .fold(0.0, f64::max);
    // A domain around the data, in tenths: daily OTP moves by a few points, which a 0–100 %
    // axis would flatten.
    let (lo, hi) = if ok.is_empty() {
        (0.0, 1.0)
    } else {
        (
            ((low - 0.05) * 10.0).floor().max(0.0) / 10.0,
            ((high + 0.02) * 10.0).ceil().min(10.0) / 10.0,
        )
    };
    let y = Scale::new((lo, hi), (HEIGHT - BOTTOM, TOP));
    let counts = |flag: Flag| {
        marks
            .iter()
            .filter(|m| matches!(m, Mark::Day(d) if d.flag == flag))
            .count()
    };
    svg::open(
        out,
        &svg_id(KEY),
        WIDTH,
        HEIGHT,
        "Daily OTP",
        &format!(
            "OTP of {} ok days from {} to {}, with {} suspect, {} empty and {} missing or \
             failed days marked.",
            ok.len(),
            first.iso(),
            last.iso(),
            counts(Flag::Suspect),
            counts(Flag::Empty),
            marks
                .iter()
                .filter(|m| matches!(m, Mark::Missing(_) | Mark::Failed(_)))
                .count()
        ),
    );
    legend(out, marks);
    for tick in svg::ticks_with(lo, hi, 8, &[0.05, 0.1, 0.2, 0.25]) {
        let at = y.map(tick);
        svg::line(
            out,
            (plot.0, at),
            (plot.1, at),
            &format!("stroke=\"{GRID}\""),
        );
        svg::text(
            out,
            LEFT - 6.0,
            at + 4.0,
            "end",
            "",
            &format::percent(tick).replace(".0%", "%"),
        );
    }
    for (date, label) in calendar_ticks(first, last) {
        let at = x(date);
        svg::line(
            out,
            (at, HEIGHT - BOTTOM),
            (at, HEIGHT - BOTTOM + 4.0),
            &format!("stroke=\"{INK}\""),
        );
        svg::tick_label(out, at, HEIGHT - BOTTOM + 17.0, (2.0, WIDTH - 2.0), &label);
    }
    svg::text(
        out,
        (plot.0 + plot.1) / 2.0,
        HEIGHT - 12.0,
        "middle",
        "",
        "service day",
    );
    w!(
        out,
        "<text transform=\"translate(16 {}) rotate(-90)\" text-anchor=\"middle\">OTP</text>",
        Px((TOP + HEIGHT - BOTTOM) / 2.0)
    );
    // Bands behind the line for the days that are not counted.
    let band_width = day_width.max(2.0);
    for mark in marks {
        let (fill, opacity, tip) = match mark {
            Mark::Day(day) if day.flag == Flag::Ok => continue,
            Mark::Day(day) => (
                if day.flag == Flag::Suspect {
                    SUSPECT
                } else {
                    EMPTY
                },
                0.35,
                day_tip(day),
            ),
            Mark::Missing(date) => (
                ABSENT,
                0.3,
                format!("{}: missing (no processed file)", date.iso()),
            ),
            Mark::Failed(date) => (
                ABSENT,
                0.3,
                format!("{}: failed (its job failed)", date.iso()),
            ),
        };
        let at = x(mark.date());
        w!(
            out,
            "<g><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" fill-opacity=\"{opacity}\"/>",
            Esc(&tip),
            Px(at - band_width / 2.0),
            Px(TOP),
            Px(band_width),
            Px(HEIGHT - BOTTOM - TOP)
        );
        day_marker(out, mark, at, TOP + 7.0);
        out.push_str("</g>");
    }
    // The interval and the line, one run per stretch of consecutive ok days.
    let mut runs: Vec<Vec<&Day>> = Vec::new();
    for day in &ok {
        match runs.last_mut() {
            Some(run) if run.last().is_some_and(|prev| prev.day.0 + 1 == day.day.0) => {
                run.push(day)
            }
            _ => runs.push(vec![day]),
        }
    }
    for run in &runs {
        let upper: Vec<String> = run
            .iter()
            .map(|d| {
                format!(
                    "{},{}",
                    Px(x(d.day)),
                    Px(y.map(d.otp_hi.or(d.otp).unwrap_or(0.0)))
                )
            })
            .collect();
        let lower: Vec<String> = run
            .iter()
            .rev()
            .map(|d| {
                format!(
                    "{},{}",
                    Px(x(d.day)),
                    Px(y.map(d.otp_lo.or(d.otp).unwrap_or(0.0)))
                )
            })
            .collect();
        if run.len() > 1 {
            w!(
                out,
                "<polygon points=\"{} {}\" fill=\"{BAND}\" fill-opacity=\"0.6\"/>",
                upper.join(" "),
                lower.join(" ")
            );
            let line: Vec<String> = run
                .iter()
                .map(|d| format!("{},{}", Px(x(d.day)), Px(y.map(d.otp.unwrap_or(0.0)))))
                .collect();
            w!(
                out,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{LINE}\" stroke-width=\"1.5\"/>",
                line.join(" ")
            );
        } else {
            // A lone day: its interval as a whisker.
            let d = run[0];
            svg::line(
                out,
                (x(d.day), y.map(d.otp_lo.or(d.otp).unwrap_or(0.0))),
                (x(d.day), y.map(d.otp_hi.or(d.otp).unwrap_or(0.0))),
                &format!("stroke=\"{BAND}\" stroke-width=\"3\""),
            );
        }
    }
    // Dots as wide as a day allows, and full size for a day with no neighbour to join.
    let radius = (day_width * 0.35).clamp(1.5, 3.5);
    let lone: Vec<Date> = runs
        .iter()
        .filter(|run| run.len() == 1)
        .map(|run| run[0].day)
        .collect();
    for day in &ok {
        let radius = if lone.contains(&day.day) { 3.5 } else { radius };
        w!(
            out,
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{LINE}\"><title>{}</title></circle>",
            Px(x(day.day)),
            Px(y.map(day.otp.unwrap_or(0.0))),
            Px(radius),
            Esc(&day_tip(day))
        );
    }
    out.push_str("</svg>");
}

/// `2016-11-24 (weekday): OTP 72.6% (95% interval …; 17,954 used rows)`.
fn day_tip(day: &Day) -> String {
    let interval = match (day.otp_lo, day.otp_hi) {
        (Some(lo), Some(hi)) => format!(
            ", 95% interval {}–{}",
            format::percent(lo),
            format::percent(hi)
        ),
        _ => String::new(),
    };
    match day.flag {
        Flag::Ok => format!(
            "{} ({}): OTP {}{interval}; {} used rows",
            day.day.iso(),
            day.daytype,
            format::percent_or_none(day.otp),
            format::count(day.used)
        ),
        Flag::Suspect => format!(
            "{} ({}): suspect, not counted ({} rows, {} outliers, p50 {})",
            day.day.iso(),
            day.daytype,
            format::count(day.rows),
            format::count(day.outlier),
            format::deviation_or_none(day.p50)
        ),
        Flag::Empty => format!("{} ({}): empty, no rows", day.day.iso(), day.daytype),
    }
}

/// The small sign at the top of a day's band: ▲ suspect, ✕ empty, ? missing or failed.
fn day_marker(out: &mut String, mark: &Mark, x: f64, y: f64) {
    match mark {
        Mark::Day(day) if day.flag == Flag::Suspect => w!(
            out,
            "<path d=\"M{} {}l4.5 8h-9z\" fill=\"{SUSPECT_MARK}\"/>",
            Px(x),
            Px(y - 5.0)
        ),
        Mark::Day(_) => w!(
            out,
            "<path d=\"M{} {}l7 7m0 -7l-7 7\" stroke=\"#444444\" stroke-width=\"1.5\"/>",
            Px(x - 3.5),
            Px(y - 3.5)
        ),
        Mark::Missing(_) | Mark::Failed(_) => w!(
            out,
            "<circle cx=\"{}\" cy=\"{}\" r=\"3.5\" fill=\"none\" stroke=\"{ABSENT_MARK}\" stroke-width=\"1.5\"/>",
            Px(x),
            Px(y)
        ),
    }
}

fn legend(out: &mut String, marks: &[Mark]) {
    let mut at = LEFT;
    let y = 18.0;
    let entry = |out: &mut String, at: &mut f64, label: &str| {
        svg::text(out, *at + 20.0, y + 4.0, "start", "", label);
        *at += 20.0 + svg::text_width(label, FONT) + 18.0;
    };
    svg::line(
        out,
        (at, y),
        (at + 14.0, y),
        &format!("stroke=\"{LINE}\" stroke-width=\"1.5\""),
    );
    w!(
        out,
        "<circle cx=\"{}\" cy=\"{y}\" r=\"3\" fill=\"{LINE}\"/>",
        Px(at + 7.0)
    );
    entry(out, &mut at, "OTP of an ok day");
    svg::rect(out, at, y - 6.0, 14.0, 12.0, BAND, "");
    entry(out, &mut at, "95% interval");
    let has = |wanted: fn(&Mark) -> bool| marks.iter().any(wanted);
    if has(|m| matches!(m, Mark::Day(d) if d.flag == Flag::Suspect)) {
        w!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"14\" fill=\"{SUSPECT}\" fill-opacity=\"0.35\"/>",
            Px(at),
            Px(y - 7.0)
        );
        w!(
            out,
            "<path d=\"M{} {}l4.5 8h-9z\" fill=\"{SUSPECT_MARK}\"/>",
            Px(at + 7.0),
            Px(y - 4.0)
        );
        entry(out, &mut at, "suspect day (not counted)");
    }
    if has(|m| matches!(m, Mark::Day(d) if d.flag == Flag::Empty)) {
        w!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"14\" fill=\"{EMPTY}\" fill-opacity=\"0.35\"/>",
            Px(at),
            Px(y - 7.0)
        );
        w!(
            out,
            "<path d=\"M{} {}l7 7m0 -7l-7 7\" stroke=\"#444444\" stroke-width=\"1.5\"/>",
            Px(at + 3.5),
            Px(y - 3.5)
        );
        entry(out, &mut at, "empty day");
    }
    if has(|m| matches!(m, Mark::Missing(_) | Mark::Failed(_))) {
        w!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"14\" fill=\"{ABSENT}\" fill-opacity=\"0.3\"/>\
             <circle cx=\"{}\" cy=\"{y}\" r=\"3.5\" fill=\"none\" stroke=\"{ABSENT_MARK}\" stroke-width=\"1.5\"/>",
            Px(at),
            Px(y - 7.0),
            Px(at + 7.0)
        );
        entry(out, &mut at, "missing or failed day");
    }
}

fn numbers(out: &mut String, marks: &[Mark]) {
    let mut table = Table::new(
        "Every day of the aggregate (deviations in seconds)",
        vec![
            text("day"),
            text("day type"),
            text("flag"),
            number("rows"),
            number("far"),
            number("outlier"),
            number("used"),
            number("early"),
            number("on time"),
            number("late"),
            number("OTP"),
            number("95% interval"),
            number("mean"),
            number("p50"),
            number("p90"),
        ],
    );
    for mark in marks {
        match mark {
            Mark::Day(day) => {
                let interval = match (day.otp_lo, day.otp_hi) {
                    (Some(lo), Some(hi)) => {
                        format!("{}–{}", format::percent(lo), format::percent(hi))
                    }
                    _ => format::NONE.to_owned(),
                };
                let cells = vec![
                    day.day.iso(),
                    day.daytype.clone(),
                    day.flag.name().to_owned(),
                    format::count(day.rows),
                    format::count(day.far),
                    format::count(day.outlier),
                    format::count(day.used),
                    format::share(day.early, day.used),
                    format::share(day.on_time, day.used),
                    format::share(day.late, day.used),
                    format::percent_or_none(day.otp),
                    interval,
                    format::mean_or_none(day.mean_dev),
                    format::seconds_or_none(day.p50),
                    format::seconds_or_none(day.p90),
                ];
                match day.flag {
                    Flag::Ok => table.row(cells),
                    Flag::Suspect => table.marked_row(cells, "suspect"),
                    Flag::Empty => table.marked_row(cells, "empty"),
                }
            }
            Mark::Missing(date) | Mark::Failed(date) => {
                let flag = if matches!(mark, Mark::Missing(_)) {
                    "missing"
                } else {
                    "failed"
                };
                let mut cells = vec![date.iso(), String::new(), flag.to_owned()];
                cells.resize(15, format::NONE.to_owned());
                table.marked_row(cells, "absent");
            }
        }
    }
    table.write(out, "Table: every day", Fold::Auto);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    #[test]
    fn a_few_days_get_a_label_each() {
        let ticks = calendar_ticks(day("2016-11-24"), day("2016-11-27"));
        let labels: Vec<&str> = ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["Nov 24", "Nov 25", "Nov 26", "Nov 27"]);
    }

    #[test]
    fn weeks_then_months_then_quarters() {
        let ticks = calendar_ticks(day("2016-11-01"), day("2016-12-31"));
        assert_eq!(ticks.len(), 9);
        assert_eq!(ticks[1].1, "Nov 8");
        let ticks = calendar_ticks(day("2017-01-01"), day("2017-12-31"));
        let labels: Vec<&str> = ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Jan 2017", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                "Dec"
            ]
        );
        // A range starting mid-month labels the next month first, with its year.
        let ticks = calendar_ticks(day("2016-11-24"), day("2017-05-01"));
        assert_eq!(ticks[0], (day("2016-12-01"), "Dec 2016".to_owned()));
        assert_eq!(ticks[1].1, "Jan 2017");
        let ticks = calendar_ticks(day("2014-01-01"), day("2016-12-31"));
        let labels: Vec<&str> = ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels.len(), 12, "{labels:?}");
        assert_eq!(labels[..3], ["Jan 2014", "Apr", "Jul"]);
        let ticks = calendar_ticks(day("2000-01-01"), day("2030-12-31"));
        assert!(ticks.len() <= 16, "{}", ticks.len());
    }
}
