//! `capq run`: many days on this machine's cores, incrementally, with a progress bar, a summary
//! table and the aggregate of the run's days.
//!
//! The run is planned first (`capq_core::runs::Planner`: each day's inputs hashed and compared
//! with its latest record), then the days to process go through the day pipeline on worker
//! threads (`capq_core::LocalRun`) into the output folder (local or S3), keeping every earlier
//! version of a day. The aggregate is computed from the partials the run built (and the stored
//! ones of up-to-date days), or reused when nothing it depends on changed; the run's manifest
//! is written last.
//!
//! Days finish in any order on the worker threads. The bar advances as each one ends, but the
//! plain progress lines (not on a terminal) come out in day order, buffering days that finish
//! ahead of an earlier one, so a log reads like the plan.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use capmetrics::{Catalog, Date, DropReason, LocalDir, Params, parse_day_spec};
use capq_aggregate::{Headline, WindowChoice};
use capq_core::layout::{OutputFolder, hash_hex};
use capq_core::pipeline::DataCatalog;
use capq_core::runs::manifest::{RunKind, RunManifest};
use capq_core::runs::{
    self, AggregateRecord, Decision, ParamsRecord, PlannedDay, Planner, RunsError,
};
use capq_core::{DayOutcome as Outcome, DayReport, LocalRun, Pipeline, RunReport};
use capq_storage::{HashingSource, Location, Storage};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::aggregate::{headline_from_summary, store_aggregate, window_choice, write_headline};
use super::{data_dir, runtime};
use crate::cli::RunArgs;
use crate::exit::{self, UserError};

/// Everything `capq run` and `capq plan` set up from their arguments.
pub struct Setup {
    pub runtime: tokio::runtime::Runtime,
    pub storage: Storage,
    pub catalog: DataCatalog,
    pub data: PathBuf,
    /// `--output` as given.
    pub output_text: String,
    pub folder: OutputFolder,
    pub days: Vec<Date>,
    pub params: Params,
    pub workers: usize,
    pub window: WindowChoice,
}

impl Setup {
    /// Checks every argument before any work, so a bad one fails fast with exit code 1.
    pub fn new(args: &RunArgs) -> anyhow::Result<Setup> {
        let output = output_folder(&args.output)?;
        let params = parse_params(&args.params)?;
        let window = window_choice(&args.window)?;
        let data = data_dir(args.data.clone())?;
        let catalog = Catalog::new(HashingSource::local(LocalDir::new(&data)));
        let days = match &args.days {
            Some(spec) => parse_day_spec(spec).map_err(|e| UserError(format!("--days: {e}")))?,
            None => {
                let days = catalog
                    .source()
                    .listing()
                    .map_err(|e| UserError(e.to_string()))?
                    .days();
                if days.is_empty() {
                    anyhow::bail!(UserError(format!(
                        "no YYYY-MM-DD.csv[.gz] files in {}",
                        data.join("vehicle_positions").display()
                    )));
                }
                days
            }
        };
        let workers = match args.workers {
            Some(0) => anyhow::bail!(UserError("--workers must be at least 1".into())),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        };
        Ok(Setup {
            runtime: runtime()?,
            storage: Storage::from_env().context("configuring storage")?,
            catalog,
            data,
            output_text: args.output.clone(),
            folder: OutputFolder::new(output),
            days,
            params,
            workers,
            window,
        })
    }

    pub fn pipeline(&self) -> Pipeline<'_> {
        Pipeline {
            catalog: &self.catalog,
            storage: &self.storage,
            runtime: self.runtime.handle(),
        }
    }

    /// What each day needs, and why.
    pub fn plan(&self, force: bool) -> anyhow::Result<Vec<PlannedDay>> {
        let planner = Planner {
            source: self.catalog.source(),
            storage: &self.storage,
            runtime: self.runtime.handle(),
            folder: &self.folder,
            params: &self.params,
            processor: runs::processor_fingerprint(),
            force,
            threads: self.workers,
        };
        planner
            .plan(&self.days)
            .map_err(|e| runs_error(e, "planning the run"))
    }
}

/// A runs error for the CLI: input errors exit 1.
pub fn runs_error(error: RunsError, doing: &str) -> anyhow::Error {
    if error.is_input_error() {
        UserError(format!("{doing}: {error}")).into()
    } else {
        anyhow::Error::new(error).context(doing.to_owned())
    }
}

/// `--param KEY=VALUE`s, each checked, on top of the defaults.
pub fn parse_params(assignments: &[String]) -> anyhow::Result<Params> {
    Params::from_assignments(assignments).map_err(|e| UserError(format!("--param: {e}")).into())
}

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let setup = Setup::new(&args)?;
    let started = SystemTime::now();
    let clock = std::time::Instant::now();
    let planned = setup.plan(args.force)?;
    tracing::debug!(seconds = clock.elapsed().as_secs_f64(), "planned");
    let local = LocalRun {
        run_id: runs::new_run_id(),
        days: planned,
        folder: setup.folder.clone(),
        params: setup.params,
        workers: setup.workers,
        aggregate: (!args.no_aggregate).then_some(setup.window),
    };
    let pipeline = setup.pipeline();

    let total = local.days.len();
    let bar = (!args.json && std::io::stderr().is_terminal()).then(|| progress_bar(total));
    let order: Vec<Date> = local.days.iter().map(|d| d.day).collect();
    let mut lines = InOrder::new(&order);
    let mut report = local.run(&pipeline, |day| match &bar {
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

    // A run of days that all lack positions leaves nothing behind: no record, no aggregate.
    let nothing = report.done() + report.up_to_date() == 0 && report.failed() == 0;
    tracing::debug!(seconds = report.wall.as_secs_f64(), "days run");
    let clock = std::time::Instant::now();
    let aggregate = if args.no_aggregate || nothing {
        None
    } else {
        match run_aggregate(&setup, &mut report) {
            Ok(aggregate) => Some(aggregate),
            Err(e) => {
                eprintln!("error: the run's aggregate was not written: {e:#}");
                None
            }
        }
    };

    tracing::debug!(seconds = clock.elapsed().as_secs_f64(), "aggregate done");
    let manifest = RunManifest {
        format: runs::manifest::FORMAT.to_owned(),
        version: runs::manifest::VERSION,
        id: local.run_id.clone(),
        kind: RunKind::Run,
        started: runs::timestamp(started),
        finished: Some(runs::timestamp(SystemTime::now())),
        capq_version: env!("CARGO_PKG_VERSION").to_owned(),
        processor: runs::processor_fingerprint().to_owned(),
        aggregate_code: runs::AGGREGATE_FINGERPRINT.to_owned(),
        params: ParamsRecord::of(&setup.params),
        data: Some(setup.data.display().to_string()),
        output: setup.output_text.clone(),
        days_spec: args.days.clone(),
        batch: None,
        days: {
            let mut days: Vec<_> = report.days.iter().map(|d| d.record.clone()).collect();
            days.sort_by_key(|d| d.day);
            days
        },
        aggregate: aggregate.as_ref().map(|a| a.record.clone()),
    };
    if !nothing {
        setup
            .runtime
            .block_on(runs::records::write_manifest(
                &setup.storage,
                &setup.folder,
                &manifest,
            ))
            .with_context(|| format!("recording run {}", manifest.id))?;
    }

    let clock = std::time::Instant::now();
    let compared = if nothing || args.no_compare {
        None
    } else {
        match compare_with_previous(&setup, &manifest.id) {
            Ok(compared) => compared,
            Err(e) => {
                eprintln!("warning: the run was not compared with the previous one: {e:#}");
                None
            }
        }
    };
    tracing::debug!(seconds = clock.elapsed().as_secs_f64(), "compared");

    let mut stdout = std::io::stdout().lock();
    if args.json {
        let mut json = to_json(&local.run_id, &report, aggregate.as_ref());
        json["compared"] = compared
            .as_ref()
            .map_or(serde_json::Value::Null, Compared::to_json);
        serde_json::to_writer_pretty(&mut stdout, &json)?;
        writeln!(stdout)?;
    } else {
        write_table(&mut stdout, &report, &local.run_id)?;
        if let Some(aggregate) = &aggregate {
            writeln!(
                stdout,
                "\naggregate{} in {}:",
                if aggregate.reused {
                    " (unchanged, reused)"
                } else {
                    ""
                },
                setup.folder.aggregate()
            )?;
            write_headline(&mut stdout, &aggregate.headline)?;
        }
        if let Some(compared) = &compared {
            compared.write(&mut stdout, &setup.output_text)?;
        }
    }
    stdout.flush()?;

    if nothing {
        let none = match total {
            1 => "the day has no".to_owned(),
            _ => format!("none of the {total} days has a"),
        };
        anyhow::bail!(UserError(format!(
            "{none} vehicle positions file in {}",
            setup.data.display()
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

/// The run against the previous run of the same output folder: the short comparison every
/// run ends with (`capq diff latest~1 latest` gives the detail).
struct Compared {
    previous: String,
    differs: bool,
    days: DayChanges,
    /// Rows added, removed and changed.
    rows: [u64; 3],
    /// System OTP of the previous run and of this one, and the change in percentage points.
    otp: (Option<f64>, Option<f64>, Option<f64>),
}

/// Days by outcome of the comparison.
#[derive(Default)]
struct DayChanges {
    identical: usize,
    equivalent: usize,
    changed: usize,
    added: usize,
    removed: usize,
    newly_failing: usize,
    fixed: usize,
    still_failing: usize,
}

/// Diffs the run just recorded against the run before it in the same output folder; `None`
/// when it is the folder's first run. When both runs hold the same days with the same output
/// hashes (a rerun that changed nothing), nothing is read: the answer is known from the
/// manifests, and the on-time figure is the run's aggregate.
fn compare_with_previous(setup: &Setup, run_id: &str) -> anyhow::Result<Option<Compared>> {
    let handle = setup.runtime.handle();
    let runs = setup
        .runtime
        .block_on(runs::records::list_runs(&setup.storage, &setup.folder))
        .map_err(|e| runs_error(e, "listing runs"))?;
    let Some(at) = runs.iter().position(|r| r.id() == run_id) else {
        anyhow::bail!("run {run_id} is not listed in {}", setup.folder.root());
    };
    let Some(previous) = at.checked_sub(1).map(|i| &runs[i]) else {
        return Ok(None);
    };
    let this = &runs[at];
    if let Some(same) = same_outputs(previous, this) {
        let otp = this.manifest.aggregate.as_ref().and_then(|a| a.otp);
        return Ok(Some(Compared {
            previous: previous.id().to_owned(),
            differs: false,
            days: DayChanges {
                identical: same,
                ..DayChanges::default()
            },
            rows: [0; 3],
            otp: (otp, otp, otp.map(|_| 0.0)),
        }));
    }
    let side = |run, name, label| {
        super::diff::side_of_run(handle, &setup.storage, &setup.folder, run, name, label)
    };
    let a = side(previous, "previous run", "latest~1")?;
    let b = side(this, "this run", "latest")?;
    let root = setup.folder.root();
    let fetch = super::diff::fetcher(Some((handle, &setup.storage)), root);
    let options = capq_diff::DiffOptions {
        window: setup.window,
        threads: setup.workers,
        samples: 0,
        top: 1,
        use_partials: true,
    };
    let diff = capq_diff::diff(&a, &b, &fetch, &fetch, &options)?;
    let d = &diff.days;
    let system = &diff.otp.system;
    Ok(Some(Compared {
        previous: previous.id().to_owned(),
        differs: diff.differs(),
        days: DayChanges {
            identical: d.identical,
            equivalent: d.equivalent.len(),
            changed: d.changed.len(),
            added: d.added.len(),
            removed: d.removed.len(),
            newly_failing: d.newly_failing.len(),
            fixed: d.fixed.len(),
            still_failing: d.still_failing.len(),
        },
        rows: [diff.rows.added, diff.rows.removed, diff.rows.changed],
        otp: (system.a.otp, system.b.otp, system.change_pp),
    }))
}

/// The number of days when both runs hold exactly the same days, each with an output of the
/// same recorded hash; `None` otherwise (then only a diff can tell what moved).
fn same_outputs(a: &runs::Run, b: &runs::Run) -> Option<usize> {
    let (x, y) = (a.days(), b.days());
    let output = |d: &runs::DayRecord| d.has_output().then(|| d.output_hash()).flatten();
    let same = x.len() == y.len()
        && x.iter().zip(y).all(|(p, q)| {
            p.day == q.day
                && match (output(p), output(q)) {
                    (Some(h), Some(k)) => h == k,
                    // Days without positions on both sides have nothing to compare.
                    (None, None) => {
                        p.status == runs::DayStatus::Missing && q.status == runs::DayStatus::Missing
                    }
                    _ => false,
                }
        });
    same.then(|| x.iter().filter(|d| d.has_output()).count())
}

impl Compared {
    fn write(&self, out: &mut impl Write, output: &str) -> std::io::Result<()> {
        let d = &self.days;
        let [added, removed, changed] = self.rows;
        writeln!(out, "\ncompared with the previous run, {}:", self.previous)?;
        if !self.differs {
            let same = d.identical + d.equivalent + d.still_failing;
            return writeln!(
                out,
                "  no differences ({})",
                crate::text::count(same as u64, "day")
            );
        }
        let mut days = format!(
            "  days     {} changed, {} identical",
            d.changed,
            d.identical + d.equivalent
        );
        for (n, what) in [
            (d.added, "added"),
            (d.removed, "removed"),
            (d.newly_failing, "newly failing"),
            (d.fixed, "fixed"),
        ] {
            if n > 0 {
                days.push_str(&format!(", {n} {what}"));
            }
        }
        writeln!(out, "{days}")?;
        writeln!(
            out,
            "  rows     {changed} changed, {added} added, {removed} removed"
        )?;
        if let (Some(a), Some(b), Some(pp)) = self.otp {
            writeln!(
                out,
                "  on-time  {:.2} % → {:.2} % ({pp:+.2} pp)",
                a * 100.0,
                b * 100.0
            )?;
        }
        let folder = match output {
            "out" => String::new(),
            other => format!(" --output {}", crate::text::escaped(other)),
        };
        writeln!(out, "  detail   capq diff latest~1 latest{folder}")
    }

    fn to_json(&self) -> serde_json::Value {
        let d = &self.days;
        let [added, removed, changed] = self.rows;
        json!({
            "previous": self.previous,
            "differs": self.differs,
            "days": {
                "identical": d.identical,
                "equivalent": d.equivalent,
                "changed": d.changed,
                "added": d.added,
                "removed": d.removed,
                "newly_failing": d.newly_failing,
                "fixed": d.fixed,
                "still_failing": d.still_failing,
            },
            "rows": {"added": added, "removed": removed, "changed": changed},
            "otp": {"a": self.otp.0, "b": self.otp.1, "change_pp": self.otp.2},
        })
    }
}

/// The run's aggregate, as written or reused.
struct RunAggregate {
    record: AggregateRecord,
    headline: Headline,
    summary_json: Vec<u8>,
    /// The previous aggregate had the same key and was kept.
    reused: bool,
}

/// Writes the run's aggregate into `<output>/aggregate/`, unless the one there was computed
/// from exactly the same days, outputs, window and code.
fn run_aggregate(setup: &Setup, report: &mut RunReport) -> anyhow::Result<RunAggregate> {
    let key = report.aggregate_key(setup.window);
    let location = setup.folder.aggregate();
    let summary = location.join("summary.json");
    let previous = setup
        .runtime
        .block_on(runs::records::latest_aggregate(
            &setup.storage,
            &setup.folder,
        ))
        .map_err(|e| runs_error(e, "reading earlier runs"))?;
    if let Some((_, previous)) = previous.filter(|(_, p)| p.key == key)
        && let Some(bytes) = setup.runtime.block_on(setup.storage.get(&summary))?
        && hash_hex(xxhash_rust::xxh64::xxh64(&bytes, 0)) == previous.summary_hash
        && let Some(headline) = headline_from_summary(&bytes)
    {
        return Ok(RunAggregate {
            record: previous,
            headline,
            summary_json: bytes.to_vec(),
            reused: true,
        });
    }
    let title = format!("On-time performance: {}", setup.output_text);
    let finished = report
        .finish_aggregate(&setup.pipeline(), &setup.folder, &title, setup.workers)
        .context("no aggregate was asked for")??;
    let (aggregate, html) = (finished.aggregate, finished.report_html);
    store_aggregate(
        &setup.runtime,
        &setup.storage,
        &location,
        &aggregate,
        html.as_deref().ok(),
    )?;
    if let Err(e) = &html {
        tracing::warn!("report.html not written: {e}");
    }
    let headline = aggregate.headline;
    let summary_json = aggregate.files.summary_json;
    let record = AggregateRecord {
        location: format!("{}/", capq_core::layout::AGGREGATE),
        window: setup.window.window().to_string(),
        profile: setup.window.profile().map(|p| p.name().to_owned()),
        key,
        summary_hash: hash_hex(xxhash_rust::xxh64::xxh64(&summary_json, 0)),
        days_ok: headline.days.ok,
        days_suspect: headline.days.suspect,
        days_empty: headline.days.empty,
        used: headline.system.used,
        otp: headline.system.otp,
        otp_lo: headline.system.otp_lo,
        otp_hi: headline.system.otp_hi,
    };
    Ok(RunAggregate {
        record,
        headline,
        summary_json,
        reused: false,
    })
}

/// The folder `--output` names: a path, a `file://` URL or an `s3://` prefix.
fn output_folder(text: &str) -> anyhow::Result<Location> {
    match Location::parse(text).map_err(|e| UserError(format!("--output: {e}")))? {
        Location::Http(url) => anyhow::bail!(UserError(format!(
            "--output: http(s) locations are read-only ({url}); use a folder, file:// or s3://"
        ))),
        location => Ok(location),
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
        Outcome::UpToDate => "up-to-date",
        Outcome::Missing => "missing",
        Outcome::Failed { .. } => "failed",
    }
}

fn reason(day: &DayReport) -> String {
    match (day.reason, day.unchanged) {
        (Some(reason), true) => format!("{} (unchanged)", reason.name()),
        (Some(reason), false) => reason.name().to_owned(),
        (None, _) => String::new(),
    }
}

fn one_line(day: &DayReport) -> String {
    let ms = day.elapsed.as_secs_f64() * 1e3;
    match &day.outcome {
        Outcome::Done(d) => format!(
            "{} {} ({}): {d} ({ms:.1} ms)",
            day.day,
            status(day),
            reason(day)
        ),
        Outcome::UpToDate => format!("{} up-to-date", day.day),
        Outcome::Missing => format!("{} missing: no vehicle positions file", day.day),
        Outcome::Failed { error, .. } => format!("{} failed: {error}", day.day),
    }
}

fn write_table(out: &mut impl Write, report: &RunReport, run_id: &str) -> std::io::Result<()> {
    let mut header: Vec<String> = ["day", "status", "reason", "rows in", "rows out"]
        .map(String::from)
        .to_vec();
    header.extend(DropReason::ALL.iter().map(|r| r.label().to_owned()));
    header.extend(["ms", "error"].map(String::from));
    let mut rows = vec![header];
    for day in &report.days {
        let mut row = vec![day.day.to_string(), status(day).to_owned(), reason(day)];
        let record = &day.record;
        match (record.rows_in, record.rows_out, &record.dropped) {
            (Some(rows_in), Some(rows_out), Some(dropped)) => {
                row.push(rows_in.to_string());
                row.push(rows_out.to_string());
                row.extend(
                    DropReason::ALL
                        .iter()
                        .map(|r| dropped.get(r.key()).copied().unwrap_or(0).to_string()),
                );
            }
            _ => row.extend(std::iter::repeat_n(
                "-".to_owned(),
                2 + DropReason::ALL.len(),
            )),
        }
        row.push(format!("{:.1}", day.elapsed.as_secs_f64() * 1e3));
        row.push(match &day.outcome {
            Outcome::Failed { error, .. } => crate::text::escaped(error).into_owned(),
            Outcome::Missing => "no vehicle positions file".to_owned(),
            Outcome::Done(_) | Outcome::UpToDate => String::new(),
        });
        rows.push(row);
    }
    crate::text::write_columns(out, &rows, |c| c >= 3)?;
    let (rows_in, rows_out) = report
        .days
        .iter()
        .fold((0, 0), |(i, o), day| match &day.outcome {
            Outcome::Done(d) => (i + d.rows_in, o + d.rows_out),
            _ => (i, o),
        });
    let unchanged = report
        .days
        .iter()
        .filter(|d| matches!(d.outcome, Outcome::Done(_)) && d.unchanged)
        .count();
    writeln!(
        out,
        "\n{}: {} processed ({unchanged} unchanged), {} up to date, {} missing, {} failed; {} in, \
         {rows_out} out; {:.2} s on {}; run {run_id}",
        crate::text::count(report.days.len() as u64, "day"),
        report.done(),
        report.up_to_date(),
        report.missing(),
        report.failed(),
        crate::text::count(rows_in, "row"),
        report.wall.as_secs_f64(),
        crate::text::count(report.workers as u64, "thread"),
    )
}

fn to_json(
    run_id: &str,
    report: &RunReport,
    aggregate: Option<&RunAggregate>,
) -> serde_json::Value {
    let days: Vec<_> = report
        .days
        .iter()
        .map(|day| {
            let mut entry = json!({
                "day": day.day.to_string(),
                "status": status(day),
                "ms": day.elapsed.as_secs_f64() * 1e3,
            });
            let record = &day.record;
            if let Some(reason) = day.reason {
                entry["reason"] = json!(reason.name());
            }
            if matches!(day.outcome, Outcome::Done(_) | Outcome::UpToDate) {
                entry["rows_in"] = json!(record.rows_in);
                entry["rows_out"] = json!(record.rows_out);
                entry["dropped"] = json!(record.dropped);
                entry["output"] = json!(day.output.as_ref().map(|p| p.to_string()));
                entry["output_hash"] = json!(record.output.as_ref().map(|o| &o.hash));
                entry["made_by"] = json!(record.made_by);
            }
            if matches!(day.outcome, Outcome::Done(_)) {
                entry["unchanged"] = json!(day.unchanged);
            }
            if let Some(inputs) = &record.inputs {
                entry["inputs"] = json!(inputs.fingerprint);
            }
            if let Outcome::Failed { error, .. } = &day.outcome {
                entry["error"] = json!(error);
            }
            entry
        })
        .collect();
    let mut out = json!({
        "run": run_id,
        "processor": runs::processor_fingerprint(),
        "workers": report.workers,
        "wall_ms": report.wall.as_secs_f64() * 1e3,
        "processed": report.done(),
        "up_to_date": report.up_to_date(),
        "missing": report.missing(),
        "failed": report.failed(),
        "days": days,
    });
    if let Some(aggregate) = aggregate {
        let summary: serde_json::Value =
            serde_json::from_slice(&aggregate.summary_json).unwrap_or(serde_json::Value::Null);
        out["aggregate"] = json!({
            "location": aggregate.record.location,
            "reused": aggregate.reused,
            "summary": summary,
        });
    }
    out
}

/// The plan of a day for `capq plan`: what would happen and why.
pub fn decision_name(planned: &PlannedDay) -> &'static str {
    match planned.decision {
        Decision::UpToDate => "up-to-date",
        Decision::Process(_) => "process",
        Decision::Missing => "missing",
    }
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
