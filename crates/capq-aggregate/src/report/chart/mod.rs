//! The report's charts, one module each, and what they share: the section around a chart
//! (heading, one-line reading guide, the SVG, the table of its numbers) and how a route cell is
//! named.
//!
//! Every chart sizes its SVG to its data (one row per route, one column per hour), so a
//! hundred routes give a taller chart, never overlapping labels.

pub mod daily;
pub mod heatmap;
pub mod histogram;
pub mod hours;
pub mod profiles;
pub mod routes;
pub mod stops;

use super::input::Inputs;
use super::markup::{Esc, w};

/// The width of every chart, in pixels (the page is laid out for it; narrower screens scale
/// the SVG down).
pub const WIDTH: f64 = 960.0;

/// Cells with fewer used rows than this are too uncertain to rank as "worst" (a 95 % interval
/// of ±18 points or more): the same threshold as `summary.json`'s `worst_routes`.
pub const MIN_USED: u64 = 30;

/// What every chart needs: the parsed files and the window of the report.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub inputs: &'a Inputs,
    /// `(E, L)`: the on-time window, `E` absent when there is no early bound.
    pub window: (Option<i64>, i64),
}

impl Context<'_> {
    /// Whether any ok day had used rows: without them every figure but the daily one is empty.
    pub fn has_data(&self) -> bool {
        self.inputs.summary.system.used > 0
    }
}

/// Opens the `<section>` of a chart: `id="report-{key}"`, its heading and a sentence on how to
/// read it.
pub fn open_section(out: &mut String, key: &str, title: &str, guide: &str) {
    w!(
        out,
        "<section id=\"report-{key}\" class=\"report-section\" aria-labelledby=\"report-{key}-h\">\
         <h2 id=\"report-{key}-h\">{}</h2>",
        Esc(title)
    );
    if !guide.is_empty() {
        w!(out, "<p class=\"guide\">{}</p>", Esc(guide));
    }
}

pub fn close_section(out: &mut String) {
    out.push_str("</section>");
}

/// The id of a chart's SVG, for [`super::svg::open`].
pub fn svg_id(key: &str) -> String {
    format!("report-{key}")
}

/// A row label of a chart: a head that may be cut to fit and a tail that is kept whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub head: String,
    pub tail: String,
}

impl Label {
    /// The whole label, for tooltips.
    pub fn full(&self) -> String {
        format!("{}{}", self.head, self.tail)
    }

    /// The label in `max_width` pixels, the head cut with `…` if needed.
    pub fn fitted(&self, max_width: f64) -> String {
        super::svg::fit_parts(&self.head, &self.tail, max_width, super::svg::FONT)
    }
}

/// How a route cell is named in a chart: the headsign, which usually starts with the route's
/// number (`7-Duval / Dove Springs-NB`), else the number and the headsign; then the day type.
pub fn route_label(route_id: u64, direction: &str, daytype: &str) -> Label {
    let id = route_id.to_string();
    let head = match direction.strip_prefix(&id) {
        Some(rest) if !rest.starts_with(|c: char| c.is_ascii_digit()) => direction.to_owned(),
        _ if direction.is_empty() => format!("{id} (no headsign)"),
        _ => format!("{id} {direction}"),
    };
    Label {
        head,
        tail: format!(" · {daytype}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_do_not_repeat_the_number() {
        assert_eq!(
            route_label(7, "7-Duval / Dove Springs-NB", "weekday").full(),
            "7-Duval / Dove Springs-NB · weekday"
        );
        assert_eq!(
            route_label(803, "803 WESTGATE", "sunday").full(),
            "803 WESTGATE · sunday"
        );
        assert_eq!(
            route_label(1, "10-South 1st", "saturday").full(),
            "1 10-South 1st · saturday"
        );
        assert_eq!(
            route_label(1, "NORTHBOUND", "weekday").full(),
            "1 NORTHBOUND · weekday"
        );
        assert_eq!(
            route_label(1, "", "weekday").full(),
            "1 (no headsign) · weekday"
        );
        // The day type is kept whole when a long headsign is cut.
        let label = route_label(
            803,
            "803 MetroRapid Burnet/South Lamar via Domain",
            "weekday",
        );
        let fitted = label.fitted(200.0);
        assert!(fitted.ends_with("… · weekday"), "{fitted}");
    }
}
