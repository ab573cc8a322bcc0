//! The diff of two sides: pairing their days, comparing the days on several threads, and
//! turning what was counted into the [`Diff`] report.
//!
//! Days are independent, so each thread takes the next day, compares it into its own
//! [`Tally`], and the tallies are summed at the end: the result does not depend on the number
//! of threads or the order days finish in. The first error (by day) stops the others and is
//! the one returned.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use capmetrics::{Date, Diagnostics, DropReason};
use capq_aggregate::WindowChoice;

use crate::day::{Context, DayResult, Job, Verdict};
use crate::report::{
    Change, ColumnCount, DayReport, Days, Diff, Drops, FailedDay, Otp, OtpChange, Places,
    ProvenanceDiff, ReasonChange, ReasonShare, RouteOtp, Rows, Samples, Share, SideSummary,
    Transitions, ValueChange, WindowSummary,
};
use crate::side::{DayStatus, Provenance, Side, SideDay};
use crate::tally::{Hist, Tally};
use crate::{Error, Fetch};

/// How a diff is made.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// The on-time window of the statistics (default: the tcqsm profile).
    pub window: WindowChoice,
    /// Threads that read and compare days.
    pub threads: usize,
    /// Sample rows kept of each kind (changed, added, removed).
    pub samples: usize,
    /// Entries of each "where" ranking.
    pub top: usize,
    /// Trust current partials for content hashes and for the counts of identical days
    /// (otherwise every CSV is read).
    pub use_partials: bool,
}

impl Default for DiffOptions {
    fn default() -> DiffOptions {
        DiffOptions {
            window: WindowChoice::default(),
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            samples: 5,
            top: 5,
            use_partials: true,
        }
    }
}

/// What the pairing of a day says, before any file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pairing {
    Both,
    Added,
    Removed,
    NewlyFailing,
    Fixed,
    StillFailing,
}

impl Pairing {
    fn status(self) -> &'static str {
        match self {
            Pairing::Both => "changed",
            Pairing::Added => "added",
            Pairing::Removed => "removed",
            Pairing::NewlyFailing => "newly_failing",
            Pairing::Fixed => "fixed",
            Pairing::StillFailing => "still_failing",
        }
    }
}

/// One day of either side, paired.
struct Paired<'a> {
    day: Date,
    a: Option<&'a SideDay>,
    b: Option<&'a SideDay>,
    pairing: Pairing,
    job: Option<Job<'a>>,
}

fn pair<'a>(a: &'a Side, b: &'a Side) -> Vec<Paired<'a>> {
    let mut days: BTreeMap<Date, (Option<&SideDay>, Option<&SideDay>)> = BTreeMap::new();
    for day in a.days() {
        days.entry(day.day).or_default().0 = Some(day);
    }
    for day in b.days() {
        days.entry(day.day).or_default().1 = Some(day);
    }
    days.into_iter()
        .map(|(day, (x, y))| {
            let status = |d: Option<&'a SideDay>| d.map(|d| &d.status);
            let (pairing, job) = match (status(x), status(y)) {
                (Some(DayStatus::Output(p)), Some(DayStatus::Output(q))) => {
                    (Pairing::Both, Some(Job::Compare(p, q)))
                }
                (Some(DayStatus::Output(p)), None) => (Pairing::Removed, Some(Job::OnlyA(p))),
                (None, Some(DayStatus::Output(q))) => (Pairing::Added, Some(Job::OnlyB(q))),
                (Some(DayStatus::Output(p)), Some(DayStatus::Failed { .. })) => {
                    (Pairing::NewlyFailing, Some(Job::OnlyA(p)))
                }
                (Some(DayStatus::Failed { .. }), Some(DayStatus::Output(q))) => {
                    (Pairing::Fixed, Some(Job::OnlyB(q)))
                }
                (Some(DayStatus::Failed { .. }), Some(DayStatus::Failed { .. })) => {
                    (Pairing::StillFailing, None)
                }
                (Some(DayStatus::Failed { .. }), None) => (Pairing::Removed, None),
                (None, Some(DayStatus::Failed { .. })) => (Pairing::NewlyFailing, None),
                (None, None) => (Pairing::StillFailing, None),
            };
            Paired {
                day,
                a: x,
                b: y,
                pairing,
                job,
            }
        })
        .collect()
}

/// Compares side `a` (before) with side `b` (after), reading their files through `fetch_a`
/// and `fetch_b` (by the names the sides give).
pub fn diff(
    a: &Side,
    b: &Side,
    fetch_a: &Fetch<'_>,
    fetch_b: &Fetch<'_>,
    options: &DiffOptions,
) -> Result<Diff, Error> {
    let window = options.window.window();
    let days = pair(a, b);
    let context = Context {
        sides: [a, b],
        fetch: [fetch_a, fetch_b],
        window,
        samples: options.samples,
        use_partials: options.use_partials,
    };
    let jobs: Vec<(usize, Date, Job<'_>)> = days
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.job.map(|job| (i, p.day, job)))
        .collect();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let threads = options.threads.clamp(1, jobs.len().max(1));
    let outcomes = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut tally = Tally::default();
                    let mut done = Vec::new();
                    let mut failure = None;
                    while !stop.load(Ordering::Relaxed) {
                        let Some(&(index, day, job)) =
                            jobs.get(next.fetch_add(1, Ordering::Relaxed))
                        else {
                            break;
                        };
                        match context.run(day, job, &mut tally) {
                            Ok(result) => done.push((index, result)),
                            Err(error) => {
                                failure = Some((index, error));
                                stop.store(true, Ordering::Relaxed);
                            }
                        }
                    }
                    (tally, done, failure)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect::<Vec<_>>()
    });
    let mut tally = Tally::default();
    let mut results: Vec<Option<DayResult>> = days.iter().map(|_| None).collect();
    let mut first_failure: Option<(usize, Error)> = None;
    for (part, done, failure) in outcomes {
        tally.merge(&part);
        for (index, result) in done {
            results[index] = Some(result);
        }
        if let Some((index, error)) = failure
            && first_failure
                .as_ref()
                .is_none_or(|(first, _)| index < *first)
        {
            first_failure = Some((index, error));
        }
    }
    if let Some((_, error)) = first_failure {
        return Err(error);
    }
    Ok(assemble(a, b, &days, &results, &tally, options))
}

/// Turns the counts into the report.
fn assemble(
    a: &Side,
    b: &Side,
    days: &[Paired<'_>],
    results: &[Option<DayResult>],
    tally: &Tally,
    options: &DiffOptions,
) -> Diff {
    let window = options.window.window();
    let mut day_lists = Days::default();
    let mut rows = Rows::default();
    let mut columns: BTreeMap<String, u64> = BTreeMap::new();
    let mut samples = Samples::default();
    let mut per_day = Vec::new();
    let mut notes = Vec::new();
    let mut by_day: Vec<(Date, [u64; 3])> = Vec::new();
    let mut drop_days = 0;
    let mut drops_a = Diagnostics::default();
    let mut drops_b = Diagnostics::default();
    for (paired, result) in days.iter().zip(results) {
        let day = paired.day;
        let day_drops = match (
            paired.a.and_then(|d| d.drops.as_ref()),
            paired.b.and_then(|d| d.drops.as_ref()),
        ) {
            (Some(x), Some(y)) if paired.pairing == Pairing::Both => {
                drop_days += 1;
                add_diagnostics(&mut drops_a, x);
                add_diagnostics(&mut drops_b, y);
                Some(reason_changes(x, y))
            }
            _ => None,
        };
        let mut status = paired.pairing.status();
        match paired.pairing {
            Pairing::Both => {}
            Pairing::Added => day_lists.added.push(day),
            Pairing::Removed => day_lists.removed.push(day),
            Pairing::NewlyFailing => day_lists.newly_failing.push(FailedDay {
                day,
                error: match paired.b.map(|d| &d.status) {
                    Some(DayStatus::Failed { error }) => error.clone(),
                    _ => String::new(),
                },
            }),
            Pairing::Fixed => day_lists.fixed.push(day),
            Pairing::StillFailing => day_lists.still_failing.push(day),
        }
        let mut report = DayReport {
            day,
            status,
            rows_added: 0,
            rows_removed: 0,
            rows_changed: 0,
            rows_unchanged: 0,
            header: None,
            drops: day_drops,
        };
        if let Some(result) = result {
            rows.added += result.added;
            rows.removed += result.removed;
            rows.changed += result.changed;
            rows.unchanged += result.unchanged;
            for (column, count) in &result.columns {
                *columns.entry(column.clone()).or_default() += count;
            }
            take(
                &mut samples.changed,
                &result.samples.changed,
                options.samples,
            );
            take(&mut samples.added, &result.samples.added, options.samples);
            take(
                &mut samples.removed,
                &result.samples.removed,
                options.samples,
            );
            notes.extend(result.notes.iter().map(|n| format!("{day}: {n}")));
            match result.verdict {
                Verdict::Identical { by_hash } => {
                    day_lists.identical += 1;
                    day_lists.identical_by_hash += usize::from(by_hash);
                    continue;
                }
                Verdict::Equivalent => {
                    day_lists.equivalent.push(day);
                    status = "equivalent";
                }
                Verdict::Changed => day_lists.changed.push(day),
                Verdict::OneSided => {}
            }
            let moved = [result.added, result.removed, result.changed];
            if moved.iter().any(|n| *n > 0) {
                by_day.push((day, moved));
            }
            report.status = status;
            report.rows_added = result.added;
            report.rows_removed = result.removed;
            report.rows_changed = result.changed;
            report.rows_unchanged = result.unchanged;
            report.header = result.header.clone();
        }
        per_day.push(report);
    }
    let mut columns: Vec<ColumnCount> = columns
        .into_iter()
        .map(|(column, rows)| ColumnCount { column, rows })
        .collect();
    columns.sort_by(|x, y| y.rows.cmp(&x.rows).then_with(|| x.column.cmp(&y.column)));
    rows.columns = columns;
    rows.samples = samples;

    let drops = (drop_days > 0).then(|| Drops {
        days: drop_days,
        rows_in: Change::of(drops_a.rows_in, drops_b.rows_in),
        rows_out: Change::of(drops_a.rows_out, drops_b.rows_out),
        reasons: reason_changes(&drops_a, &drops_b),
    });

    let otp = Otp {
        system: OtpChange::of(&tally.all[0].system, &tally.all[1].system, window),
        changed_days: (!day_lists.changed.is_empty()).then(|| {
            OtpChange::of(
                &tally.changed_days[0].system,
                &tally.changed_days[1].system,
                window,
            )
        }),
        routes: route_changes(tally, options),
    };

    let moved_rows = rows.added + rows.removed + rows.changed;
    let places = Places {
        rows: moved_rows,
        by_route: rank(
            tally.places.routes.iter().map(|(k, v)| (*k, *v)),
            moved_rows,
            options.top,
        ),
        by_hour: rank(
            tally
                .places
                .hours
                .iter()
                .enumerate()
                .map(|(hour, v)| (hour, *v)),
            moved_rows,
            options.top,
        ),
        by_day: rank(by_day.into_iter(), moved_rows, options.top),
        by_stop: rank(
            tally.places.stops.iter().map(|(k, v)| (*k, *v)),
            moved_rows,
            options.top,
        ),
        by_drop_reason: drops
            .as_ref()
            .map(|d| drop_reason_shares(&d.reasons))
            .unwrap_or_default(),
    };

    let summary = |side: &Side| SideSummary {
        label: side.label.clone(),
        run_id: side.provenance.as_ref().and_then(|p| p.run_id.clone()),
        days: side.days().len(),
    };
    Diff {
        a: summary(a),
        b: summary(b),
        provenance: provenance_diff(a, b, days),
        window: WindowSummary {
            profile: options.window.profile().map(|p| p.name()),
            early: window.early,
            late: window.late,
        },
        days: day_lists,
        rows,
        drops,
        otp,
        transitions: Transitions::of(tally.matrix),
        places,
        per_day,
        notes,
    }
}

/// Appends samples from a later day until `limit` are kept.
fn take<T: Clone>(kept: &mut Vec<T>, more: &[T], limit: usize) {
    let room = limit.saturating_sub(kept.len());
    kept.extend(more.iter().take(room).cloned());
}

fn add_diagnostics(total: &mut Diagnostics, day: &Diagnostics) {
    total.rows_in += day.rows_in;
    total.rows_out += day.rows_out;
    for (reason, n) in day.reasons() {
        total.add_dropped(reason, n);
    }
}

fn reason_changes(a: &Diagnostics, b: &Diagnostics) -> Vec<ReasonChange> {
    DropReason::ALL
        .into_iter()
        .map(|reason| ReasonChange {
            reason: reason.key(),
            count: Change::of(a.dropped(reason), b.dropped(reason)),
        })
        .collect()
}

fn drop_reason_shares(reasons: &[ReasonChange]) -> Vec<ReasonShare> {
    let total: u64 = reasons.iter().map(|r| r.count.change.unsigned_abs()).sum();
    let mut shares: Vec<ReasonShare> = reasons
        .iter()
        .filter(|r| r.count.change != 0)
        .map(|r| ReasonShare {
            reason: r.reason,
            change: r.count.change,
            share: r.count.change.unsigned_abs() as f64 / total as f64,
        })
        .collect();
    shares.sort_by(|x, y| {
        y.change
            .unsigned_abs()
            .cmp(&x.change.unsigned_abs())
            .then_with(|| x.reason.cmp(y.reason))
    });
    shares
}

/// The routes whose figures differ, largest OTP change first (undefined changes last), then
/// by route id.
fn route_changes(tally: &Tally, options: &DiffOptions) -> Vec<RouteOtp> {
    let window = options.window.window();
    let mut ids: Vec<i64> = tally.all[0]
        .routes
        .keys()
        .chain(tally.all[1].routes.keys())
        .copied()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let empty = Hist::default();
    let mut routes: Vec<RouteOtp> = ids
        .into_iter()
        .map(|route_id| RouteOtp {
            route_id,
            change: OtpChange::of(
                tally.all[0].routes.get(&route_id).unwrap_or(&empty),
                tally.all[1].routes.get(&route_id).unwrap_or(&empty),
                window,
            ),
        })
        .filter(|r| r.change.differs())
        .collect();
    routes.sort_by(|x, y| {
        let size = |r: &RouteOtp| r.change.change_pp.map(f64::abs);
        match (size(x), size(y)) {
            (Some(p), Some(q)) => q.total_cmp(&p),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
        .then_with(|| x.route_id.cmp(&y.route_id))
    });
    routes
}

/// The largest groups of moved rows, at most `top`, each with its share of `total`.
fn rank<K: Ord + Display>(
    groups: impl Iterator<Item = (K, [u64; 3])>,
    total: u64,
    top: usize,
) -> Vec<Share> {
    let mut groups: Vec<(K, [u64; 3], u64)> = groups
        .map(|(key, counts)| (key, counts, counts.iter().sum::<u64>()))
        .filter(|(_, _, rows)| *rows > 0)
        .collect();
    groups.sort_by(|x, y| y.2.cmp(&x.2).then_with(|| x.0.cmp(&y.0)));
    groups
        .into_iter()
        .take(top)
        .map(|(key, [added, removed, changed], rows)| Share {
            key: key.to_string(),
            rows,
            share: rows as f64 / total.max(1) as f64,
            added,
            removed,
            changed,
        })
        .collect()
}

fn provenance_diff(a: &Side, b: &Side, days: &[Paired<'_>]) -> ProvenanceDiff {
    let none = Provenance::default();
    let pa = a.provenance.as_ref().unwrap_or(&none);
    let pb = b.provenance.as_ref().unwrap_or(&none);
    let mut fields = Vec::new();
    for (name, x, y) in [
        (
            "processor_fingerprint",
            &pa.processor_fingerprint,
            &pb.processor_fingerprint,
        ),
        (
            "processor_version",
            &pa.processor_version,
            &pb.processor_version,
        ),
    ] {
        if x != y {
            fields.push(ValueChange {
                name: name.to_owned(),
                a: x.clone(),
                b: y.clone(),
            });
        }
    }
    let mut keys: Vec<&String> = pa.params.keys().chain(pb.params.keys()).collect();
    keys.sort();
    keys.dedup();
    let params = keys
        .into_iter()
        .filter(|key| pa.params.get(*key) != pb.params.get(*key))
        .map(|key| ValueChange {
            name: key.clone(),
            a: pa.params.get(key).cloned(),
            b: pb.params.get(key).cloned(),
        })
        .collect();
    let inputs_changed = days
        .iter()
        .filter(|p| {
            let a = p.a.and_then(|d| d.input_fingerprint.as_ref());
            let b = p.b.and_then(|d| d.input_fingerprint.as_ref());
            matches!((a, b), (Some(x), Some(y)) if x != y)
        })
        .map(|p| p.day)
        .collect();
    ProvenanceDiff {
        known: a.provenance.is_some() && b.provenance.is_some(),
        fields,
        params,
        inputs_changed,
    }
}
