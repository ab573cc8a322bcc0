//! Geometry and drawing helpers shared by the charts: linear scales, "nice" tick positions,
//! coordinates written compactly, an estimate of how wide a label will be (so a label column
//! is sized to its text and long headsigns are cut with an ellipsis instead of running into the
//! bars), the palette, and the opening of an accessible `<svg>` (role, `<title>`, `<desc>`).
//!
//! Colours are written as presentation attributes, not `style`, so the charts keep their
//! colours under a content security policy that forbids inline styles, and without any CSS.

use std::fmt;

use super::markup::{Esc, w};

/// Early arrivals: Okabe–Ito blue (5.2:1 on white).
pub const EARLY: &str = "#0072b2";
/// On time: a grey-green (3.1:1 on white), lighter than both neighbours for red-green
/// colour blindness, where it must not be mistaken for the orange.
pub const ON_TIME: &str = "#5f9e7e";
/// Late arrivals: Okabe–Ito vermillion (3.9:1 on white).
pub const LATE: &str = "#d55e00";
/// Text and axes.
pub const INK: &str = "#222222";
/// Grid lines and quiet marks.
pub const GRID: &str = "#d0d0d0";
/// Secondary text (4.6:1 on white).
pub const MUTED: &str = "#6b6b6b";

/// The font size of chart text, in pixels.
pub const FONT: f64 = 12.0;

/// A linear map from a domain of data values onto a range of pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    domain: (f64, f64),
    range: (f64, f64),
}

impl Scale {
    pub fn new(domain: (f64, f64), range: (f64, f64)) -> Scale {
        Scale { domain, range }
    }

    /// The pixel of `value`. A domain of one point maps to the middle of the range, rather
    /// than dividing by zero.
    pub fn map(&self, value: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        if d1 == d0 {
            return (r0 + r1) / 2.0;
        }
        r0 + (value - d0) / (d1 - d0) * (r1 - r0)
    }

    /// `map`, with the value clamped to the domain first.
    pub fn map_clamped(&self, value: f64) -> f64 {
        let (lo, hi) = if self.domain.0 <= self.domain.1 {
            self.domain
        } else {
            (self.domain.1, self.domain.0)
        };
        self.map(value.clamp(lo, hi))
    }
}

/// Tick positions for an axis over `[lo, hi]`: multiples of a step from `steps` (the first
/// that gives at most `max_ticks` ticks, else the last), every multiple inside the interval.
pub fn ticks_with(lo: f64, hi: f64, max_ticks: usize, steps: &[f64]) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi < lo || steps.is_empty() {
        return Vec::new();
    }
    let count = |step: f64| ((hi / step).floor() - (lo / step).ceil()) as i64 + 1;
    let step = steps
        .iter()
        .copied()
        .find(|&step| step > 0.0 && count(step) <= max_ticks.max(2) as i64)
        .unwrap_or(steps[steps.len() - 1]);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Ticks for counts and other plain numbers: steps of 1, 2 or 5 × 10ⁿ.
pub fn nice_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<f64> {
    let span = (hi - lo).abs().max(1.0);
    let magnitude = 10f64.powf((span / max_ticks.max(1) as f64).log10().floor());
    let steps: Vec<f64> = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
        .iter()
        .map(|s| (s * magnitude).max(1.0))
        .collect();
    ticks_with(lo, hi, max_ticks, &steps)
}

/// The smallest "nice" value (1, 2 or 5 × 10ⁿ, at least 1) at or above `max`: the top of a
/// count axis.
pub fn nice_ceiling(max: f64) -> f64 {
    if !max.is_finite() || max <= 1.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|step| step * magnitude)
        .find(|&v| v >= max)
        .unwrap_or(10.0 * magnitude)
}

/// Ticks for deviations in seconds: whole minutes (or half minutes on a narrow axis).
pub fn minute_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<f64> {
    ticks_with(
        lo,
        hi,
        max_ticks,
        &[30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0],
    )
}

/// A coordinate or length, written with at most one decimal and no trailing `.0`.
#[derive(Debug, Clone, Copy)]
pub struct Px(pub f64);

impl fmt::Display for Px {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = (self.0 * 10.0).round();
        if !tenths.is_finite() {
            return f.write_str("0");
        }
        let tenths = tenths as i64;
        if tenths % 10 == 0 {
            write!(f, "{}", tenths / 10)
        } else {
            let sign = if tenths < 0 { "-" } else { "" };
            let abs = tenths.unsigned_abs();
            write!(f, "{sign}{}.{}", abs / 10, abs % 10)
        }
    }
}

/// The approximate width in pixels of `text` in a sans-serif font of `font` pixels. Widths
/// per character class are those of common sans-serif faces, rounded up, so a label measured
/// here fits in the browser.
pub fn text_width(text: &str, font: f64) -> f64 {
    let ems: f64 = text
        .chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '|' | '!' | '\'' | 'I' | ' ' => 0.3,
            'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' | '/' | '1' => 0.4,
            'm' | 'w' | 'M' | 'W' | '@' | '%' => 0.9,
            c if c.is_ascii_uppercase() => 0.7,
            c if c.is_ascii_digit() || c.is_ascii_lowercase() => 0.58,
            _ => 0.75,
        })
        .sum();
    ems * font
}

/// `text`, cut and ended with `…` so that it fits in `max_width` pixels, or whole if it fits.
pub fn fit(text: &str, max_width: f64, font: f64) -> String {
    if text_width(text, font) <= max_width {
        return text.to_owned();
    }
    let budget = max_width - text_width("…", font);
    let mut width = 0.0;
    let mut cut = String::new();
    for c in text.chars() {
        let w = text_width(c.encode_utf8(&mut [0; 4]), font);
        if width + w > budget {
            break;
        }
        width += w;
        cut.push(c);
    }
    format!("{}…", cut.trim_end())
}

/// `head` and `tail` in `max_width` pixels, cutting `head` only: a label such as
/// `803 MetroRapid …· weekday · stop 5918` keeps the part that tells rows apart.
pub fn fit_parts(head: &str, tail: &str, max_width: f64, font: f64) -> String {
    let tail_width = text_width(tail, font);
    if tail_width + text_width("…", font) >= max_width {
        return fit(&format!("{head}{tail}"), max_width, font);
    }
    format!("{}{tail}", fit(head, max_width - tail_width, font))
}

/// One colour of a sequential scale for a fraction in 0..1, in `classes` steps: viridis,
/// which reads in order for every kind of colour vision and in greyscale. Low is dark purple.
pub fn sequential(fraction: f64, classes: usize) -> String {
    // Viridis at 0, 0.125, …, 1.
    const STOPS: [(f64, f64, f64); 9] = [
        (68.0, 1.0, 84.0),
        (71.0, 44.0, 122.0),
        (59.0, 81.0, 139.0),
        (44.0, 113.0, 142.0),
        (33.0, 144.0, 141.0),
        (39.0, 173.0, 129.0),
        (92.0, 200.0, 99.0),
        (170.0, 220.0, 50.0),
        (253.0, 231.0, 37.0),
    ];
    let classes = classes.max(2);
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    // The middle of the fraction's class, so each class is one colour.
    let class = ((fraction * classes as f64).floor() as usize).min(classes - 1);
    let t = (class as f64 + 0.5) / classes as f64 * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round().clamp(0.0, 255.0) as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(a.0, b.0),
        mix(a.1, b.1),
        mix(a.2, b.2)
    )
}

/// Opens an `<svg>` of `width` × `height` pixels that scales down on narrow screens, with a
/// `<title>` and `<desc>` that screen readers announce (ids from `id`).
pub fn open(out: &mut String, id: &str, width: f64, height: f64, title: &str, desc: &str) {
    w!(
        out,
        "<svg id=\"{id}-svg\" class=\"chart-svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
         aria-labelledby=\"{id}-title {id}-desc\" font-family=\"system-ui, sans-serif\" \
         font-size=\"{font}\" fill=\"{INK}\">\
         <title id=\"{id}-title\">{title}</title><desc id=\"{id}-desc\">{desc}</desc>",
        w = Px(width),
        h = Px(height),
        font = Px(FONT),
        title = Esc(title),
        desc = Esc(desc),
    );
}

/// A text at `(x, y)` with `anchor` (`start`, `middle` or `end`) and extra attributes.
pub fn text(out: &mut String, x: f64, y: f64, anchor: &str, attributes: &str, content: &str) {
    w!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\"{}{}>{}</text>",
        Px(x),
        Px(y),
        if attributes.is_empty() { "" } else { " " },
        attributes,
        Esc(content)
    );
}

/// An axis label centred on `x`, moved inside `[left, right]` when it would stick out (the
/// last month of a year on the right edge, say) rather than being cut off.
pub fn tick_label(out: &mut String, x: f64, y: f64, (left, right): (f64, f64), content: &str) {
    let half = text_width(content, FONT) / 2.0;
    if x + half > right {
        text(out, right, y, "end", "", content);
    } else if x - half < left {
        text(out, left, y, "start", "", content);
    } else {
        text(out, x, y, "middle", "", content);
    }
}

/// A line from `(x1, y1)` to `(x2, y2)`.
pub fn line(out: &mut String, (x1, y1): (f64, f64), (x2, y2): (f64, f64), attributes: &str) {
    w!(
        out,
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {attributes}/>",
        Px(x1),
        Px(y1),
        Px(x2),
        Px(y2)
    );
}

/// A rectangle, with a `<title>` (a tooltip and an accessible name) when `tip` is not empty.
pub fn rect(out: &mut String, x: f64, y: f64, width: f64, height: f64, fill: &str, tip: &str) {
    w!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\"",
        Px(x),
        Px(y),
        Px(width.max(0.0)),
        Px(height.max(0.0))
    );
    if tip.is_empty() {
        out.push_str("/>");
    } else {
        w!(out, "><title>{}</title></rect>", Esc(tip));
    }
}

/// A row of legend entries (a swatch and a label each) starting at `(x, y)`, the baseline of
/// the labels.
pub fn legend(out: &mut String, x: f64, y: f64, entries: &[(&str, &str)]) {
    let mut at = x;
    out.push_str("<g class=\"legend\">");
    for (colour, label) in entries {
        rect(out, at, y - 10.0, 12.0, 12.0, colour, "");
        text(out, at + 17.0, y, "start", "", label);
        at += 17.0 + text_width(label, FONT) + 18.0;
    }
    out.push_str("</g>");
}

/// The message drawn in place of a chart when there is nothing to draw.
pub fn no_data(out: &mut String, width: f64, height: f64, message: &str) {
    rect(out, 0.5, 0.5, width - 1.0, height - 1.0, "#f4f4f4", "");
    text(
        out,
        width / 2.0,
        height / 2.0 + 4.0,
        "middle",
        &format!("fill=\"{MUTED}\" font-size=\"14\""),
        message,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_map_linearly_and_survive_a_point_domain() {
        let scale = Scale::new((0.0, 1.0), (100.0, 300.0));
        assert_eq!(scale.map(0.0), 100.0);
        assert_eq!(scale.map(0.25), 150.0);
        assert_eq!(scale.map(1.0), 300.0);
        let inverted = Scale::new((0.0, 1.0), (200.0, 0.0));
        assert_eq!(inverted.map(0.75), 50.0);
        assert_eq!(inverted.map_clamped(2.0), 0.0);
        assert_eq!(Scale::new((5.0, 5.0), (0.0, 10.0)).map(5.0), 5.0);
        assert_eq!(Scale::new((1.0, 0.0), (0.0, 10.0)).map_clamped(-1.0), 10.0);
    }

    #[test]
    fn ticks_are_round_and_inside_the_interval() {
        assert_eq!(
            nice_ticks(0.0, 1000.0, 6),
            [0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]
        );
        assert_eq!(
            nice_ticks(0.0, 7.0, 8),
            [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
        );
        assert_eq!(nice_ticks(0.0, 3.0, 10), [0.0, 1.0, 2.0, 3.0]);
        assert_eq!(nice_ticks(0.0, 13_042.0, 5), [0.0, 5000.0, 10_000.0]);
        assert_eq!(
            minute_ticks(-1800.0, 1800.0, 13),
            [
                -1800.0, -1500.0, -1200.0, -900.0, -600.0, -300.0, 0.0, 300.0, 600.0, 900.0,
                1200.0, 1500.0, 1800.0
            ]
        );
        assert_eq!(
            minute_ticks(-100.0, 130.0, 10),
            [-90.0, -60.0, -30.0, 0.0, 30.0, 60.0, 90.0, 120.0]
        );
        assert!(ticks_with(1.0, 0.0, 5, &[1.0]).is_empty());
        assert!(ticks_with(0.0, f64::NAN, 5, &[1.0]).is_empty());
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(13_042.0), 20_000.0);
        assert_eq!(nice_ceiling(4000.0), 5000.0);
        assert_eq!(nice_ceiling(200.0), 200.0);
    }

    #[test]
    fn coordinates_are_compact() {
        assert_eq!(Px(12.0).to_string(), "12");
        assert_eq!(Px(12.349).to_string(), "12.3");
        assert_eq!(Px(-0.25).to_string(), "-0.3");
        assert_eq!(Px(-0.04).to_string(), "0");
        assert_eq!(Px(-3.5).to_string(), "-3.5");
        assert_eq!(Px(f64::NAN).to_string(), "0");
    }

    #[test]
    fn long_labels_are_cut_to_fit() {
        let long = "803 MetroRapid Burnet/South Lamar — Westgate via Domain";
        let cut = fit(long, 150.0, 12.0);
        assert!(cut.ends_with('…'), "{cut}");
        assert!(text_width(&cut, 12.0) <= 150.0, "{cut}");
        assert!(cut.len() > 10, "{cut}");
        assert_eq!(fit("801 SOUTH PARK", 150.0, 12.0), "801 SOUTH PARK");
        let parts = fit_parts(long, " · weekday · stop 5918", 250.0, 12.0);
        assert!(parts.ends_with("… · weekday · stop 5918"), "{parts}");
        assert!(parts.starts_with("803 MetroRapid"), "{parts}");
        assert!(text_width(&parts, 12.0) <= 250.0, "{parts}");
        assert_eq!(fit_parts("801", " · sunday", 250.0, 12.0), "801 · sunday");
        // A tail too long for the room is cut like any text.
        assert!(fit_parts("801", " · sunday · stop 1", 40.0, 12.0).ends_with('…'));
        assert_eq!(fit("", 10.0, 12.0), "");
        assert!(text_width("WWW", 12.0) > text_width("iii", 12.0));
        assert_eq!(text_width("ab", 10.0), 11.6);
    }

    #[test]
    fn axis_labels_stay_inside_the_chart() {
        let mut out = String::new();
        tick_label(&mut out, 955.0, 10.0, (0.0, 960.0), "Jan 2018");
        assert!(
            out.starts_with("<text x=\"960\" y=\"10\" text-anchor=\"end\">"),
            "{out}"
        );
        let mut out = String::new();
        tick_label(&mut out, 3.0, 10.0, (0.0, 960.0), "Jan 2017");
        assert!(
            out.starts_with("<text x=\"0\" y=\"10\" text-anchor=\"start\">"),
            "{out}"
        );
        let mut out = String::new();
        tick_label(&mut out, 480.0, 10.0, (0.0, 960.0), "Jul");
        assert!(
            out.starts_with("<text x=\"480\" y=\"10\" text-anchor=\"middle\">"),
            "{out}"
        );
    }

    #[test]
    fn the_sequential_scale_is_dark_for_low_and_light_for_high() {
        let low = sequential(0.0, 10);
        let high = sequential(1.0, 10);
        assert_eq!(low.len(), 7);
        assert!(low < high, "{low} {high}");
        assert_eq!(sequential(0.01, 10), sequential(0.09, 10));
        assert_ne!(sequential(0.09, 10), sequential(0.11, 10));
        assert_eq!(sequential(f64::NAN, 10), low);
        assert_eq!(sequential(2.0, 10), high);
    }

    #[test]
    fn an_svg_opens_with_its_accessible_name() {
        let mut out = String::new();
        open(&mut out, "hours", 960.0, 200.5, "OTP <by> hour", "d");
        assert!(out.contains("role=\"img\""), "{out}");
        assert!(
            out.contains("aria-labelledby=\"hours-title hours-desc\""),
            "{out}"
        );
        assert!(
            out.contains("<title id=\"hours-title\">OTP &lt;by&gt; hour</title>"),
            "{out}"
        );
        assert!(out.contains("viewBox=\"0 0 960 200.5\""), "{out}");
        let mut out = String::new();
        rect(&mut out, 0.0, 1.0, -5.0, 2.0, EARLY, "a<b");
        assert_eq!(
            out,
            "<rect x=\"0\" y=\"1\" width=\"0\" height=\"2\" fill=\"#0072b2\"><title>a&lt;b</title></rect>"
        );
    }
}
