//! `capq aggregate`: on-time statistics over a folder of processed days (local, `file://` or
//! `s3://`), written as the aggregate folder of `docs/aggregate.md`, with the headline on
//! stdout.
//!
//! The folder is listed once (names, sizes and times, one request on S3); each day is read
//! from its partial when that is current and from its CSV otherwise, on several threads; the
//! files are then stored, `summary.json` last, so a reader that finds it finds the whole
//! aggregate (`capq_core::stored_aggregate`, which the batch's aggregate job shares).

use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use capmetrics::{Date, parse_day_spec};
use capq_aggregate::report::ReportOptions;
use capq_aggregate::{
    DayOutcome, FolderOptions, FolderOutput, Headline, PartialUse, Profile, Window, WindowChoice,
};
use capq_core::stored_aggregate::aggregate_stored;
use capq_storage::{Location, Storage};

use super::runtime;
use crate::cli::{AggregateArgs, WindowArgs};
use crate::exit::{self, UserError};

pub fn run(args: AggregateArgs) -> anyhow::Result<u8> {
    let window = window_choice(&args.window)?;
    let spec = |flag: &str, text: &Option<String>| -> anyhow::Result<Option<Vec<Date>>> {
        text.as_deref()
            .map(|t| parse_day_spec(t).map_err(|e| UserError(format!("{flag}: {e}")).into()))
            .transpose()
    };
    let days = spec("--days", &args.days)?;
    let failed_days = spec("--failed-days", &args.failed_days)?.unwrap_or_default();
    let input = Location::parse(&args.input).map_err(|e| UserError(format!("--input: {e}")))?;
    let output = Location::parse(&args.output).map_err(|e| UserError(format!("--output: {e}")))?;
    if matches!(output, Location::Http(_)) {
        anyhow::bail!(UserError(
            "--output: http(s) locations are read-only; use a folder or s3://".into()
        ));
    }
    if args.threads == Some(0) {
        anyhow::bail!(UserError("--threads must be at least 1".into()));
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = args.threads.unwrap_or(if input.is_remote() {
        cores.max(8)
    } else {
        cores
    });
    let options = FolderOptions {
        window,
        days,
        failed_days,
        use_partials: !args.no_partials,
        write_partials: args.write_partials,
        threads,
        report: ReportOptions {
            title: format!("On-time performance: {}", args.input),
            partial: false,
            days_expected: None,
        },
    };

    let started = Instant::now();
    let runtime = runtime()?;
    let storage = Storage::from_env().context("configuring storage")?;
    let outcome = aggregate_location(&runtime, &storage, &input, &output, &options)?;
    let elapsed = started.elapsed();

    let mut from_partials = 0;
    let mut from_csvs = 0;
    for day in &outcome.days {
        match day {
            DayOutcome::Counted { day, source, .. } => match source {
                PartialUse::Used => from_partials += 1,
                PartialUse::Stale(why) => {
                    from_csvs += 1;
                    tracing::info!(%day, "partial not current, reading the CSV: {why}");
                }
                PartialUse::Unusable(why) => {
                    from_csvs += 1;
                    tracing::warn!(%day, "partial unusable, reading the CSV: {why}");
                }
                PartialUse::Absent | PartialUse::Disabled => from_csvs += 1,
            },
            DayOutcome::Failed { error, .. } => eprintln!("error: {error}"),
        }
    }
    eprintln!(
        "aggregated {} days ({from_partials} from partials, {from_csvs} from CSVs) into {output} in {:.2} s",
        from_partials + from_csvs,
        elapsed.as_secs_f64()
    );

    let mut stdout = std::io::stdout().lock();
    if args.json {
        stdout.write_all(&outcome.aggregate.files.summary_json)?;
    } else {
        write_headline(&mut stdout, &outcome.aggregate.headline)?;
    }
    stdout.flush()?;

    let failures: Vec<&capq_aggregate::Error> = outcome
        .days
        .iter()
        .filter_map(|d| match d {
            DayOutcome::Failed { error, .. } => Some(error),
            DayOutcome::Counted { .. } => None,
        })
        .collect();
    Ok(if failures.is_empty() {
        exit::SUCCESS
    } else if failures.iter().all(|e| e.is_input_error()) {
        exit::INPUT
    } else {
        exit::INTERNAL
    })
}

/// `--profile` or `--window` (clap refuses both), else the default profile.
pub fn window_choice(args: &WindowArgs) -> anyhow::Result<WindowChoice> {
    Ok(match (args.profile.as_deref(), args.window.as_deref()) {
        (Some(_), Some(_)) => {
            anyhow::bail!(UserError("give --profile or --window, not both".into()))
        }
        (Some(name), None) => WindowChoice::Profile(
            name.parse::<Profile>()
                .map_err(|e| UserError(format!("--profile: {e}")))?,
        ),
        (None, Some(text)) => WindowChoice::Custom(
            text.parse::<Window>()
                .map_err(|e| UserError(format!("--window: {e}")))?,
        ),
        (None, None) => WindowChoice::default(),
    })
}

/// Aggregates the processed days under `input` and stores the aggregate folder under
/// `output` (and, when asked, the new partials under `input`): the call behind `capq
/// aggregate` (`capq_core::stored_aggregate`, shared with the batch's aggregate job), for other
/// commands to reuse. Input errors become [`UserError`]s (exit code 1).
pub fn aggregate_location(
    runtime: &tokio::runtime::Runtime,
    storage: &Storage,
    input: &Location,
    output: &Location,
    options: &FolderOptions,
) -> anyhow::Result<FolderOutput> {
    aggregate_stored(runtime.handle(), storage, input, output, options, &|| false).map_err(
        |e| -> anyhow::Error {
            if e.is_input_error() {
                UserError(e.to_string()).into()
            } else {
                e.into()
            }
        },
    )
}

/// Stores an aggregate folder (`capq_core::stored_aggregate::store_aggregate`), `summary.json`
/// last.
pub fn store_aggregate(
    runtime: &tokio::runtime::Runtime,
    storage: &Storage,
    output: &Location,
    aggregate: &capq_aggregate::Aggregate,
    report_html: Option<&str>,
) -> anyhow::Result<()> {
    capq_core::stored_aggregate::store_aggregate(
        runtime.handle(),
        storage,
        output,
        aggregate,
        report_html,
    )?;
    Ok(())
}

/// The terminal view of `summary.json`.
pub fn write_headline(out: &mut impl Write, h: &Headline) -> std::io::Result<()> {
    let percent =
        |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |v| format!("{:.1} %", v * 100.0));
    let bound = |b: Option<i64>| b.map_or_else(|| "none".to_owned(), |v| v.to_string());
    let window = format!("{}..{} s", bound(h.window.early), bound(h.window.late));
    let label = h.profile.map_or("custom", Profile::name);
    let s = &h.system;
    match (s.otp, s.otp_lo, s.otp_hi) {
        (Some(otp), Some(lo), Some(hi)) => writeln!(
            out,
            "on time {:.1} % (95 % CI {:.1}-{:.1} %) of {} used rows on {} ok days, window {window} ({label})",
            otp * 100.0,
            lo * 100.0,
            hi * 100.0,
            s.used,
            h.days.ok
        )?,
        _ => writeln!(
            out,
            "on time: no used rows on ok days, window {window} ({label})"
        )?,
    }
    let list = |days: &[Date]| {
        if days.is_empty() {
            "none".to_owned()
        } else {
            days.iter()
                .map(Date::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    writeln!(
        out,
        "days: {} ({} ok, {} suspect, {} empty); missing: {}; failed: {}",
        h.days.total,
        h.days.ok,
        h.days.suspect,
        h.days.empty,
        list(&h.missing_days),
        list(&h.failed_days)
    )?;
    writeln!(
        out,
        "rows: {} ({} far, {} outliers, {} used)",
        h.rows.total, h.rows.far, h.rows.outlier, h.rows.used
    )?;
    let profiles: Vec<String> = h
        .profiles
        .iter()
        .map(|(p, otp)| format!("{} {}", p.name(), percent(*otp)))
        .collect();
    writeln!(out, "on time by profile: {}", profiles.join(", "))?;
    if h.worst_routes.is_empty() {
        return writeln!(out, "worst routes: none with 30 or more used rows");
    }
    writeln!(out, "\nworst routes (30 or more used rows):")?;
    let width = h
        .worst_routes
        .iter()
        .map(|w| w.direction.chars().count())
        .max()
        .unwrap_or(0)
        .max("direction".len());
    writeln!(
        out,
        "{:>8}  {:<width$}  {:<8}  {:>7}  {:>8}",
        "route", "direction", "daytype", "on time", "used"
    )?;
    for w in &h.worst_routes {
        writeln!(
            out,
            "{:>8}  {:<width$}  {:<8}  {:>7}  {:>8}",
            w.route_id,
            w.direction,
            w.daytype,
            percent(Some(w.otp)),
            w.used
        )?;
    }
    Ok(())
}

/// The headline of a stored `summary.json` (the one a run reuses instead of aggregating again);
/// `None` when the file does not read as one.
pub fn headline_from_summary(bytes: &[u8]) -> Option<Headline> {
    use serde_json::Value;
    let json: Value = serde_json::from_slice(bytes).ok()?;
    let int = |v: &Value| v.as_i64();
    let count = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64);
    let days = |v: &Value| -> Option<Vec<Date>> {
        v.as_array()?
            .iter()
            .map(|d| d.as_str()?.parse().ok())
            .collect()
    };
    let window = json.get("window")?.as_array()?;
    let (d, r, s) = (json.get("days")?, json.get("rows")?, json.get("system")?);
    let profile = match json.get("profile")? {
        Value::Null => None,
        name => Some(name.as_str()?.parse::<Profile>().ok()?),
    };
    let profiles = json
        .get("profiles")?
        .as_object()?
        .iter()
        .map(|(name, otp)| Some((name.parse::<Profile>().ok()?, otp.as_f64())))
        .collect::<Option<Vec<_>>>()?;
    // JSON objects come back sorted by key: put the profiles back in summary.json's order.
    let mut profiles = profiles;
    profiles.sort_by_key(|(p, _)| Profile::ALL.iter().position(|q| q == p));
    let worst_routes = json
        .get("worst_routes")?
        .as_array()?
        .iter()
        .map(|w| {
            let daytype = match w.get("daytype")?.as_str()? {
                "weekday" => "weekday",
                "saturday" => "saturday",
                "sunday" => "sunday",
                _ => return None,
            };
            Some(capq_aggregate::tables::WorstRoute {
                route_id: w.get("route_id")?.as_i64()?,
                direction: w.get("direction")?.as_str()?.to_owned(),
                daytype,
                otp: w.get("otp")?.as_f64()?,
                used: w.get("used")?.as_u64()?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Headline {
        window: Window {
            early: window.first().and_then(int),
            late: window.get(1).and_then(int),
        },
        profile,
        days: capq_aggregate::tables::DayCounts {
            total: count(d, "total")?,
            ok: count(d, "ok")?,
            suspect: count(d, "suspect")?,
            empty: count(d, "empty")?,
        },
        missing_days: days(json.get("missing_days")?)?,
        failed_days: days(json.get("failed_days")?)?,
        rows: capq_aggregate::tables::RowCounts {
            total: count(r, "total")?,
            far: count(r, "far")?,
            outlier: count(r, "outlier")?,
            used: count(r, "used")?,
        },
        system: capq_aggregate::tables::SystemFigures {
            used: count(s, "used")?,
            early: count(s, "early")?,
            on_time: count(s, "on_time")?,
            late: count(s, "late")?,
            otp: s.get("otp").and_then(Value::as_f64),
            otp_lo: s.get("otp_lo").and_then(Value::as_f64),
            otp_hi: s.get("otp_hi").and_then(Value::as_f64),
            p50: s.get("p50").and_then(int),
            p90: s.get("p90").and_then(int),
        },
        profiles,
        worst_routes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_reads_back_as_its_headline() {
        let day = |d: &str| d.parse::<Date>().unwrap();
        let partial = capq_aggregate::DayPartial::from_csv(
            day("2016-11-25"),
            "2016-11-25_processed.csv",
            include_bytes!("../../../../testdata/capmetrics/fixture/expected/2016-11-25.csv"),
        )
        .unwrap();
        let mut aggregator = capq_aggregate::Aggregator::new(WindowChoice::default());
        aggregator.add(&partial).unwrap();
        let lists = capq_aggregate::DayLists {
            missing: vec![day("2016-11-26")],
            failed: vec![day("2016-11-27")],
        };
        let aggregate = aggregator.finish(&lists);
        let read = headline_from_summary(&aggregate.files.summary_json).unwrap();
        assert_eq!(read, aggregate.headline);
        assert_eq!(headline_from_summary(b"{}"), None);
        assert_eq!(headline_from_summary(b"not json"), None);
    }
}
