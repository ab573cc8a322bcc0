//! `report.html` (AGGREGATE.md §2.8): one self-contained page with the headline figures and
//! inline-SVG charts, each with a title, axes and a table of its numbers. It is rendered from
//! the aggregate folder's own files, so `capq aggregate`, the batch job and the dashboard all
//! draw the same page from the same bytes.
//!
//! The page needs nothing from the network and no script: styles are inline, charts are SVG
//! drawn here, and long tables fold into `<details>`. Every string from the data is escaped.
//! [`render_fragment`] gives the same content without the `<html>` wrapper, with its CSS in
//! [`REPORT_CSS`] scoped under `.capq-report`, for the dashboard to embed under its own policy.

mod chart;
mod csv;
mod date;
mod format;
mod headline;
mod headway;
mod input;
mod markup;
mod profile;
mod svg;
mod table;

use crate::Error;
use chart::Context;
use input::Inputs;
use markup::{Esc, w};

/// The report's stylesheet, every rule scoped under `.capq-report`: inlined by [`render`],
/// and served on its own by a page that embeds [`render_fragment`] under a policy that
/// forbids inline styles.
pub const REPORT_CSS: &str = include_str!("report.css");

/// The files of an aggregate folder, as written (AGGREGATE.md §2).
#[derive(Debug, Clone, Default)]
pub struct AggregateFiles {
    pub system_daily: Vec<u8>,
    pub route: Vec<u8>,
    pub route_hour: Vec<u8>,
    pub stop: Vec<u8>,
    pub histogram: Vec<u8>,
    pub headway: Vec<u8>,
    pub summary_json: Vec<u8>,
}

/// How the page is labelled.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// The page's title, e.g. the run or batch it belongs to. Empty: "On-time performance".
    pub title: String,
    /// Set while a batch still runs: the figures cover only the days done so far.
    pub partial: bool,
    /// With `partial`: how many days the batch has in all, for "partial: N of M days".
    pub days_expected: Option<u64>,
}

/// Renders `report.html`: a whole page, its CSS inline.
pub fn render(files: &AggregateFiles, options: &ReportOptions) -> Result<String, Error> {
    let body = render_fragment(files, options)?;
    let mut out = String::with_capacity(body.len() + REPORT_CSS.len() + 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    out.push_str("<meta name=\"color-scheme\" content=\"light\">");
    // Belt and braces: even if something slipped into the page, the browser fetches nothing.
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">",
    );
    // An empty icon, so the browser does not ask for /favicon.ico.
    out.push_str("<link rel=\"icon\" href=\"data:,\">");
    w!(out, "<title>{}</title>", Esc(&page_title(options)));
    out.push_str("<style>body{margin:0;background:#fff}\n");
    out.push_str(REPORT_CSS);
    out.push_str("</style></head><body>\n");
    out.push_str(&body);
    out.push_str("\n</body></html>\n");
    Ok(out)
}

/// Renders the report's content, `<div class="capq-report">…</div>`, without `<html>`,
/// `<head>` or CSS: for a page of the dashboard, which links [`REPORT_CSS`] itself.
pub fn render_fragment(files: &AggregateFiles, options: &ReportOptions) -> Result<String, Error> {
    let inputs = Inputs::parse(files)?;
    let context = Context {
        inputs: &inputs,
        window: inputs.summary.window,
    };
    let mut out = String::with_capacity(256 * 1024);
    out.push_str("<div class=\"capq-report\">");
    header(&mut out, &context, options);
    // The compact charts first, the long per-route and per-stop ones after them.
    headline::section(&mut out, &context);
    chart::daily::section(&mut out, &context);
    chart::hours::section(&mut out, &context);
    chart::histogram::section(&mut out, &context);
    chart::profiles::section(&mut out, &context);
    chart::routes::section(&mut out, &context);
    chart::heatmap::section(&mut out, &context);
    chart::stops::section(&mut out, &context);
    headway::section(&mut out, &context);
    footer(&mut out);
    out.push_str("</div>");
    Ok(out)
}

fn page_title(options: &ReportOptions) -> String {
    if options.title.is_empty() {
        "On-time performance".to_owned()
    } else {
        options.title.clone()
    }
}

/// The sections, for the table of contents: id key and heading.
const SECTIONS: [(&str, &str); 9] = [
    ("headline", "Headline"),
    ("daily", "Daily"),
    ("hours", "By hour"),
    ("histogram", "Deviation"),
    ("profiles", "Windows"),
    ("routes", "Routes"),
    ("heatmap", "Route × hour"),
    ("stops", "Stops"),
    ("headway", "Headways"),
];

fn header(out: &mut String, context: &Context, options: &ReportOptions) {
    let summary = &context.inputs.summary;
    w!(
        out,
        "<header class=\"report-header\"><h1>{}</h1>",
        Esc(&page_title(options))
    );
    let days = &context.inputs.days;
    let span = match (days.first(), days.last()) {
        (Some(first), Some(last)) if first.day != last.day => {
            format!("{} to {}", first.day.iso(), last.day.iso())
        }
        (Some(first), _) => first.day.iso(),
        _ => "no days".to_owned(),
    };
    let (early, late) = context.window;
    w!(
        out,
        "<p class=\"meta\">Aggregate of {} {} ({}); on time: {} ({}).</p>",
        format::count(summary.days.total),
        if summary.days.total == 1 {
            "day"
        } else {
            "days"
        },
        Esc(&span),
        Esc(&profile::describe(early, late)),
        Esc(summary.profile.as_deref().unwrap_or("custom window"))
    );
    if options.partial {
        let done = summary.days.total
            + summary.missing_days.len() as u64
            + summary.failed_days.len() as u64;
        let of = match options.days_expected {
            Some(expected) => format!(
                "{} of {} days",
                format::count(done),
                format::count(expected)
            ),
            None => format!("{} days so far", format::count(done)),
        };
        w!(
            out,
            "<p class=\"banner partial\" role=\"status\"><strong>Partial: {of}.</strong> The \
             batch is still running: these figures cover only the days done so far and will \
             change.</p>"
        );
    }
    if !context.has_data() {
        out.push_str(
            "<p class=\"banner no-data\" role=\"status\"><strong>No data.</strong> No ok day has \
             used rows, so there is no OTP to show: every day is suspect or empty, or there are \
             no days. The daily table below shows why.</p>",
        );
    }
    out.push_str("<nav class=\"toc\" aria-label=\"Sections\">");
    for (key, name) in SECTIONS {
        w!(out, "<a href=\"#report-{key}\">{name}</a>");
    }
    out.push_str("</nav></header>");
}

fn footer(out: &mut String) {
    out.push_str(
        "<footer><h2>How these figures are made</h2><dl>\
         <dt>Rows</dt><dd>One row is one visit of a trip to a stop. A row is <em>far</em> when \
         its distance to the stop is over 0.25 (100 × degrees, about 250 m in Austin), an <em>outlier</em> when it was \
         more than 30 minutes off schedule, and <em>used</em> otherwise. Only used rows count; \
         far and outlier rows are reported, never dropped silently.</dd>\
         <dt>Days</dt><dd>A day is <em>suspect</em> when over 20% of its near rows are \
         outliers or its median deviation is over 15 minutes (as on a daylight-saving day), \
         <em>empty</em> when it has no rows. Only ok days enter the figures; the daily chart \
         shows every day.</dd>\
         <dt>OTP</dt><dd>On-time performance: on-time used rows over all used rows, with a 95% \
         Wilson score interval. Percentiles are nearest-rank over whole seconds; positive \
         deviations are late.</dd>\
         <dt>Headways</dt><dd>",
    );
    w!(out, "{}", Esc(headway::NOISE_NOTE));
    out.push_str("</dd></dl></footer>");
}
