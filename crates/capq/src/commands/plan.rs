//! `capq plan`: what `capq run` with the same arguments would do, day by day, and why, without
//! processing or writing anything. It reads and hashes the inputs and reads the output folder's
//! run records exactly as the run would.

use std::collections::BTreeMap;
use std::io::Write;

use capq_core::runs::manifest::{DayStatus, InputsRecord};
use capq_core::runs::{self, Decision, PlannedDay, Reason};
use serde_json::json;

use super::run::{Setup, decision_name};
use crate::cli::RunArgs;
use crate::exit;

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let setup = Setup::new(&args)?;
    let planned = setup.plan(args.force)?;
    let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
    for day in &planned {
        if let Decision::Process(reason) = day.decision {
            *reasons.entry(reason.name()).or_default() += 1;
        }
    }
    let count = |what: fn(&Decision) -> bool| planned.iter().filter(|d| what(&d.decision)).count();
    let to_process = count(|d| matches!(d, Decision::Process(_)));
    let up_to_date = count(|d| matches!(d, Decision::UpToDate));
    let missing = count(|d| matches!(d, Decision::Missing));

    let mut out = std::io::stdout().lock();
    if args.json {
        let days: Vec<_> = planned
            .iter()
            .map(|day| {
                json!({
                    "day": day.day.to_string(),
                    "decision": decision_name(day),
                    "reason": day.reason().map(Reason::name),
                    "detail": detail(day, &setup),
                    "inputs": day.inputs.as_ref().map(|i| i.fingerprint()),
                    "made_by": day.latest.as_ref().and_then(|(_, r)| r.made_by.clone()),
                })
            })
            .collect();
        let plan = json!({
            "output": setup.folder.root().to_string(),
            "processor": runs::processor_fingerprint(),
            "params": setup.params.canonical(),
            "to_process": to_process,
            "up_to_date": up_to_date,
            "missing": missing,
            "reasons": reasons,
            "days": days,
        });
        serde_json::to_writer_pretty(&mut out, &plan)?;
        writeln!(out)?;
    } else {
        let mut rows = vec![
            ["day", "plan", "reason", "detail"]
                .map(String::from)
                .to_vec(),
        ];
        for day in &planned {
            rows.push(vec![
                day.day.to_string(),
                decision_name(day).to_owned(),
                day.reason().map_or("", Reason::name).to_owned(),
                crate::text::escaped(&detail(day, &setup)).into_owned(),
            ]);
        }
        crate::text::write_columns(&mut out, &rows, |_| false)?;
        let why: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
        writeln!(
            out,
            "\n{}: {} to process{}, {} up to date, {} missing; nothing was processed (`capq run` \
             with the same arguments does it)",
            crate::text::count(planned.len() as u64, "day"),
            to_process,
            if why.is_empty() {
                String::new()
            } else {
                format!(" ({})", why.join(", "))
            },
            up_to_date,
            missing
        )?;
    }
    out.flush()?;
    Ok(exit::SUCCESS)
}

/// One line on why: what changed, or where the output came from.
fn detail(day: &PlannedDay, setup: &Setup) -> String {
    let record = day.latest.as_ref().map(|(_, record)| record);
    match (day.decision, record) {
        (Decision::Missing, _) => "no vehicle positions file".to_owned(),
        (Decision::UpToDate, Some(record)) => match &record.made_by {
            Some(run) => format!("made by run {run}"),
            None => String::new(),
        },
        (Decision::UpToDate, None) => String::new(),
        (Decision::Process(reason), record) => {
            let mut text = match (reason, record) {
                (Reason::LastFailed, Some(record)) => record.error.clone().unwrap_or_default(),
                (Reason::ProcessorChanged, Some(record)) => format!(
                    "made by processor {}; this one is {}",
                    record.processor.as_deref().unwrap_or("unknown"),
                    runs::processor_fingerprint()
                ),
                (Reason::ParamsChanged, Some(record)) => format!(
                    "made with parameters {}; now {} ({})",
                    record.params.as_deref().unwrap_or("unknown"),
                    setup.params.fingerprint(),
                    setup.params
                ),
                (Reason::InputChanged, Some(record)) => {
                    input_changes(record.inputs.as_ref(), day.inputs.as_ref())
                }
                (Reason::OutputMissing, Some(record)) => format!(
                    "{} is gone or holds other bytes than {} recorded",
                    record
                        .output
                        .as_ref()
                        .map_or("the output", |o| o.name.as_str()),
                    record.made_by.as_deref().unwrap_or("its run")
                ),
                _ => String::new(),
            };
            if let Some(problem) = &day.problem
                && !(reason == Reason::LastFailed
                    && record.is_some_and(|r| r.status == DayStatus::Failed))
            {
                if !text.is_empty() {
                    text.push_str("; ");
                }
                text.push_str(&format!("will fail: {problem}"));
            }
            text
        }
    }
}

/// Which input files differ between a record and the plan.
fn input_changes(
    recorded: Option<&InputsRecord>,
    planned: Option<&capq_storage::DayInputs>,
) -> String {
    let Some(planned) = planned else {
        return "its inputs can no longer be planned".to_owned();
    };
    let Some(recorded) = recorded else {
        return "no inputs were recorded".to_owned();
    };
    let mut changes = Vec::new();
    for (role, now) in planned.roles() {
        match recorded.file(role) {
            Some(was) if was.name == now.name && was.hash == now.hex() => {}
            Some(was) if was.name == now.name => {
                changes.push(format!("{role} {} changed", now.name))
            }
            Some(was) => changes.push(format!("{role} now {} (was {})", now.name, was.name)),
            None => changes.push(format!("{role} {} not recorded", now.name)),
        }
    }
    changes.join(", ")
}
