//! `report.html` (AGGREGATE.md §2.8): one self-contained page with the headline figures and
//! inline-SVG charts, each with a title, axes and a table of its numbers. It is rendered from
//! the aggregate folder's own files, so `capq aggregate`, the batch job and the dashboard all
//! draw the same page from the same bytes.

use crate::Error;

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
    /// The page's title, e.g. the run or batch it belongs to.
    pub title: String,
    /// Set while a batch still runs: the figures cover only the days done so far.
    pub partial: bool,
}

/// Renders `report.html`.
pub fn render(files: &AggregateFiles, options: &ReportOptions) -> Result<String, Error> {
    let _ = (files, options);
    Err(Error::Report {
        file: "report.html",
        line: 0,
        message: "not implemented yet".to_owned(),
    })
}
