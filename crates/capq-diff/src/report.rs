//! The diff as data: what the terminal view, the Markdown comment and `--json` all show.
//!
//! Every figure is here, computed once, so the three views cannot disagree; the JSON view is
//! this structure serialized. Counts are exact integers; ratios are fractions in 0..1 (OTP and
//! its Wilson interval) except `change_pp`, in percentage points; an undefined value (no used
//! rows) is `null`.

use std::collections::BTreeMap;

use capmetrics::Date;
use serde::Serialize;

use crate::tally::{Class, Hist, Matrix};
use capq_aggregate::Window;
use capq_aggregate::stats::{Z95, ratio, wilson};

/// What moved between side A and side B.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub a: SideSummary,
    pub b: SideSummary,
    pub provenance: ProvenanceDiff,
    pub window: WindowSummary,
    pub days: Days,
    pub rows: Rows,
    /// Rows dropped per reason, when both sides recorded them for the days compared.
    pub drops: Option<Drops>,
    pub otp: Otp,
    pub transitions: Transitions,
    /// The moved rows (added, removed or changed), ranked by where they are.
    #[serde(rename = "where")]
    pub places: Places,
    /// One entry per day that is not identical, by day.
    pub per_day: Vec<DayReport>,
    /// Things the reader should know (an unusable partial, a day given as both .csv and
    /// .csv.gz), in order.
    pub notes: Vec<String>,
}

impl Diff {
    /// True when the outputs differ: a day changed, added, removed, newly failing or fixed.
    /// Provenance alone (another processor that gave the same outputs) does not count, nor do
    /// days whose files differ only in ways the equivalence rule ignores.
    pub fn differs(&self) -> bool {
        let d = &self.days;
        !(d.changed.is_empty()
            && d.added.is_empty()
            && d.removed.is_empty()
            && d.newly_failing.is_empty()
            && d.fixed.is_empty())
    }
}

/// A side as the diff names it.
#[derive(Debug, Clone, Serialize)]
pub struct SideSummary {
    pub label: String,
    pub run_id: Option<String>,
    /// Days the side holds (with an output or failed).
    pub days: usize,
}

/// Where the two sides' provenance differs. Empty lists when it does not, or when it is not
/// known (`known` says whether both sides recorded any).
#[derive(Debug, Clone, Serialize)]
pub struct ProvenanceDiff {
    pub known: bool,
    /// Fields that differ: run id, start time, processor fingerprint, version.
    pub fields: Vec<ValueChange>,
    /// Parameters that differ, by key.
    pub params: Vec<ValueChange>,
    /// Days present on both sides whose recorded input fingerprints differ.
    #[serde(serialize_with = "each_as_text")]
    pub inputs_changed: Vec<Date>,
}

/// One value on each side (`null` where a side lacks it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueChange {
    pub name: String,
    pub a: Option<String>,
    pub b: Option<String>,
}

/// The on-time window used.
#[derive(Debug, Clone, Serialize)]
pub struct WindowSummary {
    /// The profile's name, or `null` for a custom `--window`.
    pub profile: Option<&'static str>,
    pub early: Option<i64>,
    pub late: Option<i64>,
}

/// The days of both sides, by outcome. Each day is in exactly one list (or counted as
/// identical).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Days {
    /// Days whose CSVs are byte-identical.
    pub identical: usize,
    /// Of those, how many were known identical from content hashes, without reading them.
    pub identical_by_hash: usize,
    /// Days whose files differ but whose rows are all equivalent (SPEC.md's rule).
    #[serde(serialize_with = "each_as_text")]
    pub equivalent: Vec<Date>,
    /// Days with at least one row added, removed or changed (or a changed header).
    #[serde(serialize_with = "each_as_text")]
    pub changed: Vec<Date>,
    /// Days only B has.
    #[serde(serialize_with = "each_as_text")]
    pub added: Vec<Date>,
    /// Days only A has.
    #[serde(serialize_with = "each_as_text")]
    pub removed: Vec<Date>,
    /// Days that fail in B but had an output in A (or were not in A).
    pub newly_failing: Vec<FailedDay>,
    /// Days that failed in A and have an output in B.
    #[serde(serialize_with = "each_as_text")]
    pub fixed: Vec<Date>,
    /// Days that fail on both sides.
    #[serde(serialize_with = "each_as_text")]
    pub still_failing: Vec<Date>,
}

/// A failing day and its error.
#[derive(Debug, Clone, Serialize)]
pub struct FailedDay {
    #[serde(serialize_with = "as_text")]
    pub day: Date,
    pub error: String,
}

/// Rows joined on `(day, trip_id, stop_id)`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rows {
    /// Rows only B has.
    pub added: u64,
    /// Rows only A has.
    pub removed: u64,
    /// Rows on both sides that are not equivalent.
    pub changed: u64,
    /// Rows on both sides that are equivalent (on days that were read; identical days'
    /// rows are counted here too).
    pub unchanged: u64,
    /// Per column, the changed rows whose value in it differs; most first.
    pub columns: Vec<ColumnCount>,
    pub samples: Samples,
}

/// The rows whose value in a column differs.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnCount {
    pub column: String,
    pub rows: u64,
}

/// A few rows of each kind, the first by day, trip and stop.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Samples {
    pub changed: Vec<ChangedRow>,
    pub added: Vec<SampleRow>,
    pub removed: Vec<SampleRow>,
}

/// A row present on both sides with the values that differ, before (A) and after (B).
#[derive(Debug, Clone, Serialize)]
pub struct ChangedRow {
    #[serde(serialize_with = "as_text")]
    pub day: Date,
    pub trip_id: i64,
    pub stop_id: i64,
    pub route_id: i64,
    pub changes: Vec<FieldChange>,
}

/// One differing value.
#[derive(Debug, Clone, Serialize)]
pub struct FieldChange {
    pub column: String,
    /// `null` when side A has no such column.
    pub before: Option<String>,
    /// `null` when side B has no such column.
    pub after: Option<String>,
}

/// A row only one side has, with every field.
#[derive(Debug, Clone, Serialize)]
pub struct SampleRow {
    #[serde(serialize_with = "as_text")]
    pub day: Date,
    pub trip_id: i64,
    pub stop_id: i64,
    pub route_id: i64,
    /// `(column, value)` in the file's column order.
    pub fields: Vec<(String, String)>,
}

/// Rows dropped per reason, summed over the days present on both sides with drop counts
/// recorded on both.
#[derive(Debug, Clone, Serialize)]
pub struct Drops {
    pub days: usize,
    pub rows_in: Change,
    pub rows_out: Change,
    /// Every reason, in the processor's order.
    pub reasons: Vec<ReasonChange>,
}

/// A count on each side and the difference `b − a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Change {
    pub a: u64,
    pub b: u64,
    pub change: i64,
}

impl Change {
    pub fn of(a: u64, b: u64) -> Change {
        Change {
            a,
            b,
            change: signed(b) - signed(a),
        }
    }
}

/// One drop reason's count on each side.
#[derive(Debug, Clone, Serialize)]
pub struct ReasonChange {
    /// The reason's key, such as `far_from_stop`.
    pub reason: &'static str,
    #[serde(flatten)]
    pub count: Change,
}

/// On-time performance, A against B.
#[derive(Debug, Clone, Serialize)]
pub struct Otp {
    /// Every day of each side.
    pub system: OtpChange,
    /// Only the changed days (both sides have them and they differ); `null` when none.
    pub changed_days: Option<OtpChange>,
    /// Routes whose figures differ, by the size of their OTP change (largest first), then id.
    pub routes: Vec<RouteOtp>,
}

/// One scope's figures on both sides.
#[derive(Debug, Clone, Serialize)]
pub struct OtpChange {
    pub a: OtpFigures,
    pub b: OtpFigures,
    /// `(otp_b − otp_a) × 100`; `null` when either is undefined.
    pub change_pp: Option<f64>,
    /// `p50_b − p50_a`, seconds.
    pub p50_shift: Option<i64>,
}

/// A route's figures on both sides.
#[derive(Debug, Clone, Serialize)]
pub struct RouteOtp {
    pub route_id: i64,
    #[serde(flatten)]
    pub change: OtpChange,
}

/// The figures of one scope on one side (AGGREGATE.md's definitions: OTP = on_time / used,
/// the 95 % Wilson interval, the nearest-rank median). Far and outlier rows are counted per
/// side in [`Transitions::net`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OtpFigures {
    pub used: u64,
    pub early: u64,
    pub on_time: u64,
    pub late: u64,
    pub otp: Option<f64>,
    pub otp_lo: Option<f64>,
    pub otp_hi: Option<f64>,
    pub p50: Option<i64>,
}

impl OtpFigures {
    pub(crate) fn of(hist: &Hist, window: Window) -> OtpFigures {
        let [early, on_time, late] = hist.classes(window);
        let used = hist.used();
        let interval = wilson(on_time, used, Z95);
        OtpFigures {
            used,
            early,
            on_time,
            late,
            otp: ratio(on_time, used),
            otp_lo: interval.map(|i| i.0),
            otp_hi: interval.map(|i| i.1),
            p50: hist.p50(),
        }
    }
}

impl OtpChange {
    pub(crate) fn of(a: &Hist, b: &Hist, window: Window) -> OtpChange {
        let a = OtpFigures::of(a, window);
        let b = OtpFigures::of(b, window);
        OtpChange {
            change_pp: a.otp.zip(b.otp).map(|(x, y)| (y - x) * 100.0),
            p50_shift: a.p50.zip(b.p50).map(|(x, y)| y - x),
            a,
            b,
        }
    }

    /// True when any count or the median differs.
    pub fn differs(&self) -> bool {
        self.a != self.b
    }
}

/// Rows by class on A (rows of the matrix) and on B (columns), over every day; `absent` is a
/// row the side does not have, so the `absent` row holds added rows and the `absent` column
/// removed ones. The `early`/`on_time`/`late` corner is the 3×3 matrix of rows used on both
/// sides.
#[derive(Debug, Clone, Serialize)]
pub struct Transitions {
    pub classes: [&'static str; 6],
    pub counts: Matrix,
    /// Per class: rows on A, rows on B, and how the difference is made up.
    pub net: Vec<ClassFlow>,
}

/// How one class's count moved: `b − a = Σ into − Σ out of`, by the other class.
#[derive(Debug, Clone, Serialize)]
pub struct ClassFlow {
    pub class: &'static str,
    #[serde(flatten)]
    pub count: Change,
    /// Rows that came into this class, by their class on A (`absent`: added rows).
    pub from: BTreeMap<&'static str, u64>,
    /// Rows that left this class, by their class on B (`absent`: removed rows).
    pub to: BTreeMap<&'static str, u64>,
}

impl Transitions {
    pub(crate) fn of(counts: Matrix) -> Transitions {
        let classes = Class::ALL.map(Class::key);
        let net = Class::ALL[..5]
            .iter()
            .map(|&class| {
                let c = class.index();
                let a: u64 = counts[c].iter().sum();
                let b: u64 = (0..6).map(|row| counts[row][c]).sum();
                let from = Class::ALL
                    .iter()
                    .filter(|other| **other != class && counts[other.index()][c] > 0)
                    .map(|other| (other.key(), counts[other.index()][c]))
                    .collect();
                let to = Class::ALL
                    .iter()
                    .filter(|other| **other != class && counts[c][other.index()] > 0)
                    .map(|other| (other.key(), counts[c][other.index()]))
                    .collect();
                ClassFlow {
                    class: class.key(),
                    count: Change::of(a, b),
                    from,
                    to,
                }
            })
            .collect();
        Transitions {
            classes,
            counts,
            net,
        }
    }

    /// Rows of class `a` on side A and `b` on side B.
    pub fn count(&self, a: Class, b: Class) -> u64 {
        self.counts[a.index()][b.index()]
    }
}

/// Moved rows ranked by where they are: the largest groups first, at most `top` of each.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Places {
    /// Rows added, removed or changed.
    pub rows: u64,
    pub by_route: Vec<Share>,
    pub by_hour: Vec<Share>,
    pub by_day: Vec<Share>,
    pub by_stop: Vec<Share>,
    /// Drop reasons by the size of their count's change (when drop counts are known).
    pub by_drop_reason: Vec<ReasonShare>,
}

/// A group of moved rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Share {
    /// The route id, hour, day or stop id.
    pub key: String,
    pub rows: u64,
    /// `rows` over all moved rows, 0..1.
    pub share: f64,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
}

/// A drop reason's share of the change in dropped rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonShare {
    pub reason: &'static str,
    pub change: i64,
    /// `|change|` over the sum of every reason's `|change|`, 0..1.
    pub share: f64,
}

/// A day that is not identical.
#[derive(Debug, Clone, Serialize)]
pub struct DayReport {
    #[serde(serialize_with = "as_text")]
    pub day: Date,
    /// `changed`, `equivalent`, `added`, `removed`, `newly_failing`, `fixed` or
    /// `still_failing`.
    pub status: &'static str,
    pub rows_added: u64,
    pub rows_removed: u64,
    pub rows_changed: u64,
    pub rows_unchanged: u64,
    /// The two headers, when they differ.
    pub header: Option<HeaderChange>,
    /// Drop counts per reason on both sides, when both recorded them.
    pub drops: Option<Vec<ReasonChange>>,
}

/// Two headers that differ.
#[derive(Debug, Clone, Serialize)]
pub struct HeaderChange {
    pub a: Vec<String>,
    pub b: Vec<String>,
}

/// Dates (and other values) as their text in JSON: `"2016-11-24"`.
fn as_text<T: std::fmt::Display, S: serde::Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

fn each_as_text<T: std::fmt::Display, S: serde::Serializer>(
    values: &[T],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(values.iter().map(|v| v.to_string()))
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
