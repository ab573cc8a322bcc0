//! `capq runs`: the runs recorded in an output folder (`.capq/runs/`), oldest first, with their
//! processor, parameters, days by status and, where an aggregate was written, its on-time
//! figure. `--json` gives the same as a list.

use std::io::Write;

use anyhow::Context;

use capq_core::layout::OutputFolder;
use capq_core::runs::manifest::RunKind;
use capq_core::runs::records::list_runs;
use capq_storage::{Location, Storage};
use serde_json::json;

use super::run::runs_error;
use super::runtime;
use crate::cli::RunsArgs;
use crate::exit::{self, UserError};

pub fn run(args: RunsArgs) -> anyhow::Result<u8> {
    let location =
        Location::parse(&args.output).map_err(|e| UserError(format!("--output: {e}")))?;
    let folder = OutputFolder::new(location);
    let runtime = runtime()?;
    let storage = Storage::from_env().context("configuring storage")?;
    let runs = runtime
        .block_on(list_runs(&storage, &folder))
        .map_err(|e| runs_error(e, "listing runs"))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let list: Vec<_> = runs
            .iter()
            .map(|run| {
                let m = &run.manifest;
                let c = run.counts();
                json!({
                    "id": m.id,
                    "kind": match m.kind { RunKind::Run => "run", RunKind::Batch => "batch" },
                    "started": m.started,
                    "finished": m.finished,
                    "capq_version": m.capq_version,
                    "processor": m.processor,
                    "params": m.params.canonical,
                    "params_changed": m.params.changed,
                    "days": {
                        "ok": c.ok, "up_to_date": c.up_to_date, "failed": c.failed,
                        "missing": c.missing, "planned": c.planned,
                    },
                    "otp": m.aggregate.as_ref().and_then(|a| a.otp),
                    "otp_lo": m.aggregate.as_ref().and_then(|a| a.otp_lo),
                    "otp_hi": m.aggregate.as_ref().and_then(|a| a.otp_hi),
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &list)?;
        writeln!(out)?;
    } else if runs.is_empty() {
        eprintln!(
            "no runs recorded in {} (a `capq run` or `capq enqueue` writes one)",
            folder.root()
        );
    } else {
        let mut rows = vec![
            [
                "run",
                "kind",
                "started",
                "processor",
                "params",
                "ok",
                "up-to-date",
                "failed",
                "missing",
                "planned",
                "on time",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for run in &runs {
            let m = &run.manifest;
            let c = run.counts();
            let params = if m.params.changed.is_empty() {
                "defaults".to_owned()
            } else {
                m.params.changed.join(",")
            };
            let otp = match m.aggregate.as_ref() {
                Some(a) => match (a.otp, a.otp_lo, a.otp_hi) {
                    (Some(otp), Some(lo), Some(hi)) => format!(
                        "{:.1} % ({:.1}-{:.1} %)",
                        otp * 100.0,
                        lo * 100.0,
                        hi * 100.0
                    ),
                    _ => "no used rows".to_owned(),
                },
                None => "-".to_owned(),
            };
            rows.push(vec![
                crate::text::escaped(&m.id).into_owned(),
                match m.kind {
                    RunKind::Run => "run",
                    RunKind::Batch => "batch",
                }
                .to_owned(),
                m.started.clone(),
                crate::text::escaped(&m.processor).into_owned(),
                crate::text::escaped(&params).into_owned(),
                c.ok.to_string(),
                c.up_to_date.to_string(),
                c.failed.to_string(),
                c.missing.to_string(),
                c.planned.to_string(),
                otp,
            ]);
        }
        // The day counts are numbers; the rest reads left to right.
        crate::text::write_columns(&mut out, &rows, |c| (5..10).contains(&c))?;
    }
    out.flush()?;
    Ok(exit::SUCCESS)
}
