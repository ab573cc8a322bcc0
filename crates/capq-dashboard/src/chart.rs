//! Small charts drawn on the server as inline SVG: jobs ended per minute (stacked bars), queue
//! depth over time (lines), and a batch's progress bar. No chart library and no script: the
//! page's live refresh re-renders them with the rest of the page, and colours come from the
//! stylesheet's classes so light and dark themes both work.

use maud::{Markup, html};

use crate::format;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 150.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 6.0;
const TOP: f64 = 8.0;
const BOTTOM: f64 = 20.0;

/// One minute of the throughput chart.
#[derive(Debug, Clone, Copy)]
pub struct MinuteBar {
    /// Whole minutes since the epoch.
    pub minute: u64,
    pub finished: u64,
    pub failed: u64,
}

/// One sample of the depth chart.
#[derive(Debug, Clone, Copy)]
pub struct DepthPoint {
    /// Seconds since the epoch.
    pub at: f64,
    pub queued: u64,
    pub started: u64,
}

/// The smallest 1, 2 or 5 × 10ⁿ at or above `max` (at least 2, so the axis's three labels are
/// distinct), for the y axis.
fn nice_ceiling(max: f64) -> f64 {
    if max <= 2.0 {
        return 2.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|step| step * magnitude)
        .find(|&v| v >= max)
        .unwrap_or(10.0 * magnitude)
}

fn plot_width() -> f64 {
    WIDTH - LEFT - RIGHT
}

fn plot_height() -> f64 {
    HEIGHT - TOP - BOTTOM
}

/// The frame shared by both charts: y gridlines at 0, half and the top, labelled.
fn frame(top: f64) -> Markup {
    // Whole numbers as counts; the one half-way value that is not (2.5 of a top of 5) as is.
    let label = |v: f64| {
        if v.fract() == 0.0 {
            format::count(v as u64)
        } else {
            format!("{v:.1}")
        }
    };
    let y = |fraction: f64| TOP + plot_height() * (1.0 - fraction);
    html! {
        @for fraction in [0.0, 0.5, 1.0] {
            line.grid x1=(LEFT) x2=(WIDTH - RIGHT) y1=(y(fraction)) y2=(y(fraction)) {}
            text.axis x=(LEFT - 4.0) y=(y(fraction) + 4.0) text-anchor="end" { (label(top * fraction)) }
        }
    }
}

fn empty(message: &str) -> Markup {
    html! {
        svg.chart viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(message) {
            text.axis.empty x=(WIDTH / 2.0) y=(HEIGHT / 2.0) text-anchor="middle" { (message) }
        }
    }
}

/// Jobs that ended per minute, oldest first, finished and failed stacked.
pub fn throughput(minutes: &[MinuteBar]) -> Markup {
    let max = minutes
        .iter()
        .map(|m| m.finished + m.failed)
        .max()
        .unwrap_or(0);
    if max == 0 {
        return empty("No job has ended in this period");
    }
    let top = nice_ceiling(max as f64);
    let slot = plot_width() / minutes.len().max(1) as f64;
    let bar = (slot - 1.0).max(1.0);
    let scale = |n: u64| n as f64 / top * plot_height();
    let base = TOP + plot_height();
    let span = minutes.len();
    html! {
        svg.chart viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
            aria-label=(format!("Jobs ended per minute over the last {span} minutes")) {
            (frame(top))
            @for (i, m) in minutes.iter().enumerate() {
                @let x = LEFT + i as f64 * slot;
                @let ok = scale(m.finished);
                @let bad = scale(m.failed);
                g {
                    title { (format!("{} — {} finished, {} failed",
                        format::utc(m.minute as f64 * 60.0), format::count(m.finished), format::count(m.failed))) }
                    rect.ok x=(x) y=(base - ok) width=(bar) height=(ok) {}
                    rect.bad x=(x) y=(base - ok - bad) width=(bar) height=(bad) {}
                }
            }
            text.axis x=(LEFT) y=(HEIGHT - 4.0) { (format!("{span} min ago")) }
            text.axis x=(WIDTH - RIGHT) y=(HEIGHT - 4.0) text-anchor="end" { "now" }
        }
    }
}

/// Jobs queued and running over time, from the dashboard's own samples.
pub fn depth(points: &[DepthPoint], now: f64) -> Markup {
    if points.len() < 2 {
        return empty("Collecting samples…");
    }
    let first = points[0].at;
    let span = (now - first).max(1.0);
    let max = points
        .iter()
        .map(|p| p.queued.max(p.started))
        .max()
        .unwrap_or(0);
    let top = nice_ceiling(max as f64);
    let x = |at: f64| LEFT + (at - first) / span * plot_width();
    let y = |n: u64| TOP + plot_height() * (1.0 - n as f64 / top);
    let line = |pick: fn(&DepthPoint) -> u64| {
        points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.at), y(pick(p))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let last = points[points.len() - 1];
    html! {
        svg.chart viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
            aria-label=(format!("Jobs queued and running over the last {}", format::duration(span))) {
            (frame(top))
            polyline.queued points=(line(|p| p.queued)) {}
            polyline.started points=(line(|p| p.started)) {}
            title { (format!("now: {} queued, {} running", format::count(last.queued), format::count(last.started))) }
            text.axis x=(LEFT) y=(HEIGHT - 4.0) { (format!("{} ago", format::duration(span))) }
            text.axis x=(WIDTH - RIGHT) y=(HEIGHT - 4.0) text-anchor="end" { "now" }
        }
    }
}

/// A batch's progress: finished, then failed, over the batch's size.
pub fn progress(finished: u64, failed: u64, size: u64) -> Markup {
    let size = size.max(finished + failed).max(1);
    let ok = format::percent(finished, size);
    let bad = format::percent(failed, size);
    html! {
        svg.progress viewBox="0 0 100 10" preserveAspectRatio="none" role="img"
            aria-label=(format!("{:.0}% done", ok + bad)) {
            rect.rest x="0" y="0" width="100" height="10" {}
            rect.ok x="0" y="0" width=(format!("{ok:.3}")) height="10" {}
            rect.bad x=(format!("{ok:.3}")) y="0" width=(format!("{bad:.3}")) height="10" {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0.0), 2.0);
        assert_eq!(nice_ceiling(1.0), 2.0);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(17.0), 20.0);
        assert_eq!(nice_ceiling(540.0), 1000.0);
        assert_eq!(nice_ceiling(200.0), 200.0);
    }

    /// The y labels of a chart, bottom to top (the frame comes first; an x label follows).
    fn axis_labels(svg: &str) -> Vec<&str> {
        svg.split("text-anchor=\"end\">")
            .skip(1)
            .take(3)
            .filter_map(|rest| rest.split('<').next())
            .collect()
    }

    #[test]
    fn axis_labels_are_distinct_for_small_counts() {
        let one = |finished| {
            throughput(&[MinuteBar {
                minute: 1,
                finished,
                failed: 0,
            }])
            .into_string()
        };
        assert_eq!(axis_labels(&one(1)), ["0", "1", "2"]);
        assert_eq!(axis_labels(&one(4)), ["0", "2.5", "5"]);
        assert_eq!(axis_labels(&one(1500)), ["0", "1,000", "2,000"]);
    }

    #[test]
    fn charts_render_bars_lines_and_empty_states() {
        let bars = throughput(&[
            MinuteBar {
                minute: 1,
                finished: 10,
                failed: 2,
            },
            MinuteBar {
                minute: 2,
                finished: 0,
                failed: 0,
            },
        ])
        .into_string();
        assert_eq!(bars.matches("<rect class=\"ok\"").count(), 2);
        assert!(bars.contains("10 finished, 2 failed"), "{bars}");
        assert!(throughput(&[]).into_string().contains("No job has ended"));
        let line = depth(
            &[
                DepthPoint {
                    at: 0.0,
                    queued: 5,
                    started: 1,
                },
                DepthPoint {
                    at: 10.0,
                    queued: 3,
                    started: 2,
                },
            ],
            10.0,
        )
        .into_string();
        assert!(line.contains("<polyline class=\"queued\""), "{line}");
        assert!(depth(&[], 0.0).into_string().contains("Collecting"));
        let bar = progress(3, 1, 8).into_string();
        assert!(bar.contains("width=\"37.500\""), "{bar}");
        assert!(
            bar.contains("x=\"37.500\" y=\"0\" width=\"12.500\""),
            "{bar}"
        );
    }
}
