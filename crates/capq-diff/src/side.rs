//! One side of a diff: the days it holds, each day's output (its CSV, and what is known about
//! it without reading it), and, where a run recorded them, its provenance and per-day drop
//! counts.
//!
//! A side is plain data, so every source of days makes one the same way: a folder listing
//! ([`Side::from_listing`]) today, a run manifest tomorrow (which fills in the content hashes,
//! failures, input fingerprints, drop counts and provenance that a folder cannot tell). The
//! engine never asks where a side came from; it reads files through the side's
//! [`Fetch`](crate::Fetch) by the names given here.

use std::collections::BTreeMap;

use capmetrics::{Date, Diagnostics};
use capq_aggregate::{FileInfo, folder_days};

use crate::Error;

/// The days of one side, sorted by day, each at most once.
#[derive(Debug, Clone)]
pub struct Side {
    /// How the side is named in output and in error messages: a folder, a prefix, a run id.
    pub label: String,
    /// Where the side's files are; file names are shown relative to it in errors
    /// (`<root>/<name>`). Usually the folder the label names.
    pub root: String,
    /// What made the side, when it is known (a run manifest); `None` for a bare folder.
    pub provenance: Option<Provenance>,
    days: Vec<SideDay>,
}

/// One day of a side.
#[derive(Debug, Clone, PartialEq)]
pub struct SideDay {
    pub day: Date,
    pub status: DayStatus,
    /// The fingerprint of the day's inputs (positions, stops and schedule files), when a run
    /// recorded it.
    pub input_fingerprint: Option<String>,
    /// Rows in, rows out and rows dropped per reason, when a run recorded them.
    pub drops: Option<Diagnostics>,
}

/// What a side has for a day.
#[derive(Debug, Clone, PartialEq)]
pub enum DayStatus {
    /// A processed CSV.
    Output(OutputFile),
    /// The day's processing failed (known from a run, never from a folder); any older CSV of
    /// the day is not this side's.
    Failed { error: String },
}

/// A day's processed CSV and what is known about it without reading it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputFile {
    /// The CSV's name (as the side's fetch reads it), length and modification time.
    pub csv: FileInfo,
    /// XXH64 of the CSV's bytes as stored ([`capq_aggregate::content_hash`]), when a run
    /// recorded it.
    pub hash: Option<u64>,
    /// The day's `<DAY>_processed.partial`, if there is one. It is trusted only when it is
    /// current for the CSV (docs/aggregate.md §4); then its recorded hash serves as the CSV's.
    pub partial: Option<FileInfo>,
}

/// What made a side: a run's identity, the processor and its parameters. Every field is
/// optional, so a manifest of an older format (or a folder with none) still compares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    pub run_id: Option<String>,
    /// When the run started (RFC 3339).
    pub started: Option<String>,
    /// The processor fingerprint (`capmetrics::PROCESSOR_FINGERPRINT`).
    pub processor_fingerprint: Option<String>,
    /// The release the processor came from (`capq --version`).
    pub processor_version: Option<String>,
    /// The processor's parameters, key → canonical value (`capmetrics::Params::entries`).
    pub params: BTreeMap<String, String>,
}

impl Side {
    /// A side from its days, in any order. A day given twice is an error.
    pub fn new(
        label: impl Into<String>,
        root: impl Into<String>,
        days: Vec<SideDay>,
    ) -> Result<Side, Error> {
        let label = label.into();
        let mut days = days;
        days.sort_by_key(|d| d.day);
        if let Some(pair) = days.windows(2).find(|w| w[0].day == w[1].day) {
            return Err(Error::DuplicateDay {
                side: label,
                day: pair[0].day,
            });
        }
        Ok(Side {
            label,
            root: root.into(),
            provenance: None,
            days,
        })
    }

    /// The side of a folder or prefix, from its listing: every `<DAY>_processed.csv` (or
    /// `.csv.gz`) with its `.partial`, no provenance, no failures, no drop counts. The second
    /// value holds warnings (a day with both a `.csv` and a `.csv.gz` uses the `.csv`).
    pub fn from_listing(
        label: impl Into<String>,
        root: impl Into<String>,
        files: Vec<FileInfo>,
    ) -> (Side, Vec<String>) {
        let (entries, warnings) = folder_days(files);
        let days = entries
            .into_iter()
            .map(|entry| SideDay {
                day: entry.day,
                status: DayStatus::Output(OutputFile {
                    csv: entry.csv,
                    hash: None,
                    partial: entry.partial,
                }),
                input_fingerprint: None,
                drops: None,
            })
            .collect();
        // folder_days gives each day once, in order.
        let side = Side {
            label: label.into(),
            root: root.into(),
            provenance: None,
            days,
        };
        (side, warnings)
    }

    /// The side's days, sorted.
    pub fn days(&self) -> &[SideDay] {
        &self.days
    }

    /// Keeps only the given days.
    pub fn retain_days(&mut self, keep: &[Date]) {
        self.days.retain(|d| keep.contains(&d.day));
    }

    /// How a file of the side is named in messages: `<root>/<name>`.
    pub fn file_label(&self, name: &str) -> String {
        if self.root.is_empty() {
            name.to_owned()
        } else if self.root.ends_with('/') {
            format!("{}{name}", self.root)
        } else {
            format!("{}/{name}", self.root)
        }
    }
}
