//! `capq run`: many days on this machine's cores, with a progress bar and a summary table.
//!
//! Days finish in any order on the worker threads. The bar advances as each one ends, but the
//! plain progress lines (not on a terminal) come out in day order, buffering days that finish
//! ahead of an earlier one, so a log reads like the plan.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use capmetrics::{Catalog, Date, DropReason, LocalDir, parse_day_spec};
use capq_core::{DayOutcome as Outcome, DayReport, LocalRun, RunReport};
use capq_storage::Location;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::data_dir;
use crate::cli::RunArgs;
use crate::exit::{self, UserError};

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let output_dir = output_folder(&args.output)?;
    let data = data_dir(args.data)?;
    let days = match &args.days {
        Some(spec) => parse_day_spec(spec).map_err(|e| UserError(format!("--days: {e}")))?,
        None => days_in(&data)?,
    };
    let workers = match args.workers {
        Some(0) => anyhow::bail!(UserError("--workers must be at least 1".into())),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let plan = LocalRun {
        days,
        output_dir,
        workers,
    };
    let catalog = Catalog::new(LocalDir::new(&data));

    let total = plan.days.len();
    let bar = (!args.json && std::io::stderr().is_terminal()).then(|| progress_bar(total));
    let mut lines = InOrder::new(&plan.days);
    let report = plan.run(&catalog, |day| match &bar {
        Some(bar) => {
            bar.set_message(day.day.to_string());
            bar.inc(1);
        }
        None => {
            for (position, line) in lines.finished(day.day, one_line(day)) {
                eprintln!("[{position}/{total}] {line}");
            }
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &to_json(&report))?;
        writeln!(stdout)?;
    } else {
        write_table(&mut stdout, &report)?;
    }
    stdout.flush()?;

    if report.done() == 0 && report.failed() == 0 {
        let none = match total {
            1 => "the day has no".to_owned(),
            _ => format!("none of the {total} days has a"),
        };
        anyhow::bail!(UserError(format!(
            "{none} vehicle positions file in {}",
            data.display()
        )));
    }
    let internal = report.days.iter().any(|d| {
        matches!(
            d.outcome,
            Outcome::Failed {
                input_error: false,
                ..
            }
        )
    });
    Ok(match report.failed() {
        0 => exit::SUCCESS,
        _ if internal => exit::INTERNAL,
        _ => exit::INPUT,
    })
}

/// The folder `--output` names: a path or a `file://` URL. Other locations are refused here
/// rather than becoming a local folder named after their scheme (`s3:`).
fn output_folder(text: &str) -> anyhow::Result<PathBuf> {
    match Location::parse(text).map_err(|e| UserError(format!("--output: {e}")))? {
        Location::Path(path) => Ok(path),
        remote => anyhow::bail!(UserError(format!(
            "--output: capq run writes to a local folder, not {remote}; for S3, use \
             `capq enqueue --output s3://…` with `capq worker`, or `capq process --output s3://…` \
             for one day"
        ))),
    }
}

/// Progress lines put back in day order: days that finish early wait for those before them.
struct InOrder {
    /// Each day's positions in the plan (a day may be asked for twice), earliest first.
    positions: HashMap<Date, VecDeque<usize>>,
    /// Lines of finished days that wait for an earlier day, by position.
    waiting: BTreeMap<usize, String>,
    /// The position of the next line to print.
    next: usize,
}

impl InOrder {
    fn new(days: &[Date]) -> InOrder {
        let mut positions: HashMap<Date, VecDeque<usize>> = HashMap::new();
        for (position, day) in days.iter().enumerate() {
            positions.entry(*day).or_default().push_back(position);
        }
        InOrder {
            positions,
            waiting: BTreeMap::new(),
            next: 0,
        }
    }

    /// Records that `day` finished with `line`; returns the lines now ready, in order, with
    /// their 1-based positions.
    fn finished(&mut self, day: Date, line: String) -> Vec<(usize, String)> {
        let position = self
            .positions
            .get_mut(&day)
            .and_then(VecDeque::pop_front)
            .unwrap_or(self.next);
        self.waiting.insert(position, line);
        let mut ready = Vec::new();
        while let Some(line) = self.waiting.remove(&self.next) {
            self.next += 1;
            ready.push((self.next, line));
        }
        ready
    }
}

/// Every day that has a positions file in `data`, in date order.
fn days_in(data: &Path) -> anyhow::Result<Vec<Date>> {
    let folder = data.join("vehicle_positions");
    let mut days = Vec::new();
    for entry in
        std::fs::read_dir(&folder).with_context(|| format!("listing {}", folder.display()))?
    {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        let stem = name.strip_suffix(".gz").unwrap_or(&name);
        if let Some(day) = stem
            .strip_suffix(".csv")
            .and_then(|d| d.parse::<Date>().ok())
        {
            days.push(day);
        }
    }
    days.sort();
    days.dedup();
    if days.is_empty() {
        anyhow::bail!(UserError(format!(
            "no YYYY-MM-DD.csv[.gz] files in {}",
            folder.display()
        )));
    }
    Ok(days)
}

fn progress_bar(total: usize) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    let style = ProgressStyle::with_template(
        "{bar:40.cyan/blue} {pos}/{len} days  {elapsed}  eta {eta}  {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

fn status(day: &DayReport) -> &'static str {
    match &day.outcome {
        Outcome::Done(d) if d.rows_out == 0 => "empty",
        Outcome::Done(_) => "ok",
        Outcome::Missing => "missing",
        Outcome::Failed { .. } => "failed",
    }
}

fn one_line(day: &DayReport) -> String {
    let ms = day.elapsed.as_secs_f64() * 1e3;
    match &day.outcome {
        Outcome::Done(d) => format!("{} {}: {d} ({ms:.1} ms)", day.day, status(day)),
        Outcome::Missing => format!("{} missing: no vehicle positions file", day.day),
        Outcome::Failed { error, .. } => format!("{} failed: {error}", day.day),
    }
}

fn write_table(out: &mut impl Write, report: &RunReport) -> std::io::Result<()> {
    let mut header: Vec<String> = ["day", "status", "rows in", "rows out"]
        .map(String::from)
        .to_vec();
    header.extend(DropReason::ALL.iter().map(|r| r.label().to_owned()));
    header.extend(["ms", "error"].map(String::from));
    let mut rows = vec![header];
    for day in &report.days {
        let mut row = vec![day.day.to_string(), status(day).to_owned()];
        match &day.outcome {
            Outcome::Done(d) => {
                row.push(d.rows_in.to_string());
                row.push(d.rows_out.to_string());
                row.extend(d.reasons().map(|(_, n)| n.to_string()));
            }
            _ => row.extend(std::iter::repeat_n(
                "-".to_owned(),
                2 + DropReason::ALL.len(),
            )),
        }
        row.push(format!("{:.1}", day.elapsed.as_secs_f64() * 1e3));
        row.push(match &day.outcome {
            Outcome::Failed { error, .. } => error.clone(),
            Outcome::Missing => "no vehicle positions file".to_owned(),
            Outcome::Done(_) => String::new(),
        });
        rows.push(row);
    }
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == columns {
                line.push_str(cell);
            } else if c < 2 {
                line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
            } else {
                line.push_str(&format!("{cell:>width$}  ", width = widths[c]));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    let (rows_in, rows_out) = report
        .days
        .iter()
        .fold((0, 0), |(i, o), day| match &day.outcome {
            Outcome::Done(d) => (i + d.rows_in, o + d.rows_out),
            _ => (i, o),
        });
    writeln!(
        out,
        "\n{}: {} processed, {} missing, {} failed; {} in, {rows_out} out; {:.2} s on {}",
        crate::text::count(report.days.len() as u64, "day"),
        report.done(),
        report.missing(),
        report.failed(),
        crate::text::count(rows_in, "row"),
        report.wall.as_secs_f64(),
        crate::text::count(report.workers as u64, "thread"),
    )
}

fn to_json(report: &RunReport) -> serde_json::Value {
    let days: Vec<_> = report
        .days
        .iter()
        .map(|day| {
            let mut entry = json!({
                "day": day.day.to_string(),
                "status": status(day),
                "ms": day.elapsed.as_secs_f64() * 1e3,
            });
            match &day.outcome {
                Outcome::Done(d) => {
                    entry["rows_in"] = json!(d.rows_in);
                    entry["rows_out"] = json!(d.rows_out);
                    entry["dropped"] = d
                        .reasons()
                        .map(|(r, n)| (r.key().to_owned(), json!(n)))
                        .collect();
                    entry["output"] = json!(day.output.as_ref().map(|p| p.display().to_string()));
                }
                Outcome::Failed { error, .. } => entry["error"] = json!(error),
                Outcome::Missing => {}
            }
            entry
        })
        .collect();
    json!({
        "workers": report.workers,
        "wall_ms": report.wall.as_secs_f64() * 1e3,
        "processed": report.done(),
        "missing": report.missing(),
        "failed": report.failed(),
        "days": days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Date {
        text.parse().unwrap()
    }

    #[test]
    fn lines_wait_for_the_days_before_them() {
        let days = [day("2016-11-24"), day("2016-11-25"), day("2016-11-26")];
        let mut lines = InOrder::new(&days);
        assert!(lines.finished(days[2], "c".into()).is_empty());
        assert!(lines.finished(days[1], "b".into()).is_empty());
        assert_eq!(
            lines.finished(days[0], "a".into()),
            [(1, "a".into()), (2, "b".into()), (3, "c".into())]
        );
    }

    #[test]
    fn a_day_asked_for_twice_takes_both_places() {
        let days = [day("2016-11-24"), day("2016-11-25"), day("2016-11-24")];
        let mut lines = InOrder::new(&days);
        assert_eq!(
            lines.finished(days[0], "first".into()),
            [(1, "first".into())]
        );
        assert!(lines.finished(days[0], "again".into()).is_empty());
        assert_eq!(
            lines.finished(days[1], "b".into()),
            [(2, "b".into()), (3, "again".into())]
        );
    }
}
