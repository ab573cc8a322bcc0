//! `/runs`: the runs recorded in each output folder of `--runs` (`capq run`s and `capq enqueue`
//! batches, `docs/runs.md`), newest first, with their processor, changed parameters, days by
//! status and on-time figure, each linked to its page and to its diff with the run before it.
//! `/runs/<folder>/<id>`: one run and its days (status, reason, rows in and out, drops, output
//! hash, error). `<id>` may also be `latest` or `latest~N`.
//!
//! Run records are read when a page is loaded. Live updates do not read them again: every
//! page re-fetches itself every two seconds for the layout's suspension banner, and a folder of
//! year-long runs is not worth reading that often (a live request gets the layout alone, and
//! the script leaves the page's other regions as they are). Reload to see newer runs.
//!
//! Every string here comes from files anyone with write access to the folder can edit (ids,
//! parameters, error texts); maud escapes each one.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use capq_core::layout::OutputFolder;
use capq_core::runs::manifest::{DayRecord, DayStatus, RunKind};
use capq_core::runs::records::Run;
use maud::{Markup, html};
use serde::Serialize;

use super::{Nav, PageCtx, layout, when};
use crate::error::{Error, Result};
use crate::extract::PathParams;
use crate::format;
use crate::runs::RunFolders;
use crate::state::AppState;

/// Characters of a processor fingerprint shown in lists (the page of a run shows all 16).
const SHORT_FINGERPRINT: usize = 8;

/// `GET /api/runs`: every folder's runs, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct RunsPage {
    pub folders: Vec<FolderRuns>,
}

/// One folder of `--runs` and its runs.
#[derive(Debug, Clone, Serialize)]
pub struct FolderRuns {
    /// How URLs name the folder: its place in `--runs`, from 1.
    pub key: String,
    pub location: String,
    /// Newest first.
    pub runs: Vec<RunSummary>,
    /// Why the folder could not be read (its runs are then empty).
    pub error: Option<String>,
}

/// A run as lists show it: the fields of `capq runs --json`, and the run before it.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub id: String,
    /// `run` or `batch`.
    pub kind: &'static str,
    pub started: String,
    pub finished: Option<String>,
    pub capq_version: String,
    pub processor: String,
    /// Every parameter, canonical.
    pub params: String,
    /// The parameters that differ from the defaults, `key=value`.
    pub params_changed: Vec<String>,
    pub days: DayCounts,
    /// The run's aggregate's on-time performance and 95 % Wilson interval, 0..1, when it
    /// wrote one with used rows.
    pub otp: Option<f64>,
    pub otp_lo: Option<f64>,
    pub otp_hi: Option<f64>,
    /// The run just before this one in the folder, which "diff with previous" compares with.
    pub previous: Option<String>,
}

/// A run's days by status.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DayCounts {
    pub ok: usize,
    pub up_to_date: usize,
    pub failed: usize,
    pub missing: usize,
    pub planned: usize,
}

impl RunSummary {
    fn of(run: &Run, previous: Option<&Run>) -> RunSummary {
        let m = &run.manifest;
        let c = run.counts();
        let aggregate = m.aggregate.as_ref();
        RunSummary {
            id: m.id.clone(),
            kind: kind_name(m.kind),
            started: m.started.clone(),
            finished: m.finished.clone(),
            capq_version: m.capq_version.clone(),
            processor: m.processor.clone(),
            params: m.params.canonical.clone(),
            params_changed: m.params.changed.clone(),
            days: DayCounts {
                ok: c.ok,
                up_to_date: c.up_to_date,
                failed: c.failed,
                missing: c.missing,
                planned: c.planned,
            },
            otp: aggregate.and_then(|a| a.otp),
            otp_lo: aggregate.and_then(|a| a.otp_lo),
            otp_hi: aggregate.and_then(|a| a.otp_hi),
            previous: previous.map(|p| p.id().to_owned()),
        }
    }
}

fn kind_name(kind: RunKind) -> &'static str {
    match kind {
        RunKind::Run => "run",
        RunKind::Batch => "batch",
    }
}

/// `GET /api/runs/<folder>/<id>`: a run and every day of it, as its records hold them.
#[derive(Debug, Clone, Serialize)]
pub struct RunPage {
    pub folder: String,
    pub location: String,
    pub run: RunSummary,
    pub data: Option<String>,
    pub days_spec: Option<String>,
    /// The queue of a batch.
    pub queue: Option<String>,
    pub days: Vec<DayRecord>,
}

/// The folders of `--runs`, or a 404 saying how to name some.
pub fn configured(state: &AppState) -> Result<&RunFolders> {
    state.config().runs.as_ref().ok_or_else(|| {
        Error::NotFound(
            "this dashboard reads no runs: start it with --runs DIR (an output folder of `capq run` or `capq enqueue`)".into(),
        )
    })
}

/// Whether a request is the page script's live refresh, which these pages answer with the
/// layout alone (see the module's doc).
pub fn is_live(headers: &HeaderMap) -> bool {
    headers.contains_key("x-capq-live")
}

/// Whether processing is suspended, for the layout's banner; `false` when Redis cannot say
/// (these pages read storage, not Redis, and work without it).
pub async fn suspended(state: &AppState) -> bool {
    state
        .read(state.redis().is_suspended())
        .await
        .unwrap_or(false)
}

pub async fn load(state: &AppState) -> RunsPage {
    let Some(runs) = state.config().runs.as_ref() else {
        return RunsPage {
            folders: Vec::new(),
        };
    };
    let mut folders = Vec::new();
    for (key, folder) in runs.folders() {
        folders.push(match runs.list(folder).await {
            Ok(list) => FolderRuns {
                key,
                location: folder.root().to_string(),
                runs: summaries(&list),
                error: None,
            },
            Err(error) => FolderRuns {
                key,
                location: folder.root().to_string(),
                runs: Vec::new(),
                error: Some(error.message()),
            },
        });
    }
    RunsPage { folders }
}

/// Summaries of `runs` (oldest first), newest first.
fn summaries(runs: &[Run]) -> Vec<RunSummary> {
    let mut list: Vec<RunSummary> = runs
        .iter()
        .enumerate()
        .map(|(i, run)| RunSummary::of(run, i.checked_sub(1).map(|p| &runs[p])))
        .collect();
    list.reverse();
    list
}

pub async fn load_run(state: &AppState, key: &str, spec: &str) -> Result<RunPage> {
    let runs = configured(state)?;
    let folder = runs.folder(key)?;
    let list = runs.list(folder).await?;
    let run = runs.run(folder, spec).await?;
    let previous = list
        .iter()
        .position(|r| r.id() == run.id())
        .and_then(|i| i.checked_sub(1))
        .map(|i| &list[i]);
    Ok(run_page(key, folder, &run, previous))
}

fn run_page(key: &str, folder: &OutputFolder, run: &Run, previous: Option<&Run>) -> RunPage {
    let m = &run.manifest;
    RunPage {
        folder: key.to_owned(),
        location: folder.root().to_string(),
        run: RunSummary::of(run, previous),
        data: m.data.clone(),
        days_spec: m.days_spec.clone(),
        queue: m.batch.as_ref().map(|b| b.queue.clone()),
        days: m.days.clone(),
    }
}

/// The URL of a run's page.
pub fn run_url(folder: &str, id: &str) -> String {
    format!("/runs/{}/{}", format::segment(folder), format::segment(id))
}

/// The URL of the diff of runs `a` and `b` of a folder.
pub fn diff_url(folder: &str, a: &str, b: &str) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("folder", folder)
        .append_pair("a", a)
        .append_pair("b", b)
        .finish();
    format!("/diff?{query}")
}

/// `GET /runs`.
pub async fn page(State(state): State<AppState>, ctx: PageCtx, headers: HeaderMap) -> Response {
    let suspended = suspended(&state).await;
    let content = if is_live(&headers) {
        html! {}
    } else {
        render_list(&ctx, &state, &load(&state).await)
    };
    layout(&ctx, Nav::Runs, "Runs", suspended, content).into_response()
}

/// `GET /runs/{folder}/{id}`.
pub async fn run(
    State(state): State<AppState>,
    ctx: PageCtx,
    headers: HeaderMap,
    PathParams((key, id)): PathParams<(String, String)>,
) -> Result<Response> {
    let title = format!("Run {}", format::truncate(&id, 60));
    let suspended = suspended(&state).await;
    if is_live(&headers) {
        return Ok(layout(&ctx, Nav::Runs, &title, suspended, html! {}).into_response());
    }
    let page = load_run(&state, &key, &id).await?;
    Ok(layout(&ctx, Nav::Runs, &title, suspended, render_run(&ctx, &page)).into_response())
}

/// A time from a manifest: relative, with the time itself on hover; as written when it is
/// not a time.
fn stamp(text: &str, now: f64) -> Markup {
    match format::epoch_of(text) {
        Some(epoch) => when(Some(epoch), now),
        None => html! { span.mono { (text) } },
    }
}

/// OTP and its interval: `71.2 % (71.1–71.3)`.
fn otp(summary: &RunSummary) -> Markup {
    match (summary.otp, summary.otp_lo, summary.otp_hi) {
        (Some(otp), Some(lo), Some(hi)) => html! {
            (format!("{:.1} %", otp * 100.0)) " "
            span.muted { (format!("({:.1}–{:.1})", lo * 100.0, hi * 100.0)) }
        },
        _ => html! { span.muted { "–" } },
    }
}

fn params(summary: &RunSummary) -> Markup {
    html! {
        @if summary.params_changed.is_empty() {
            span.muted title=(summary.params) { "defaults" }
        } @else {
            span.mono title=(summary.params) { (summary.params_changed.join(", ")) }
        }
    }
}

fn short(fingerprint: &str) -> String {
    fingerprint.chars().take(SHORT_FINGERPRINT).collect()
}

fn render_list(ctx: &PageCtx, state: &AppState, page: &RunsPage) -> Markup {
    html! {
        h1 { "Runs" }
        @if state.config().runs.is_none() {
            div.panel {
                p { "This dashboard reads no runs." }
                p.muted {
                    "Start it with " code { "capq dashboard --runs DIR" }
                    " (repeatable) naming the output folders of " code { "capq run" }
                    " or " code { "capq enqueue" } " whose runs it should list."
                }
            }
        }
        @for folder in &page.folders {
            div.panel.runs-folder {
                h2 {
                    "Folder " (folder.key) " " small.mono { (folder.location) }
                    @if folder.runs.len() >= 2 {
                        " " a.btn href=(diff_url(&folder.key, "latest~1", "latest")) { "Diff the latest two" }
                    }
                }
                @if let Some(error) = &folder.error {
                    p.error-text { (error) }
                } @else if folder.runs.is_empty() {
                    p.muted { "No runs recorded here yet: a " code { "capq run --output" } " or " code { "capq enqueue --output" } " into this folder records one." }
                } @else {
                    (runs_table(ctx, &folder.key, &folder.runs))
                }
            }
        }
    }
}

fn runs_table(ctx: &PageCtx, key: &str, runs: &[RunSummary]) -> Markup {
    html! {
        table.runs {
            thead {
                tr {
                    th { "run" } th { "kind" } th { "started" } th { "processor" } th { "params" }
                    th.num { "ok" } th.num { "up to date" } th.num { "failed" } th.num { "missing" }
                    th { "on time (95 % interval)" } th {}
                }
            }
            tbody {
                @for run in runs {
                    tr {
                        td.mono { a href=(run_url(key, &run.id)) { (run.id) } }
                        td { (run.kind) }
                        td { (stamp(&run.started, ctx.now)) }
                        td.mono title=(run.processor) { (short(&run.processor)) }
                        td { (params(run)) }
                        td.num { (run.days.ok) }
                        td.num { (run.days.up_to_date) }
                        td.num.bad[run.days.failed > 0] { (run.days.failed) }
                        td.num { (run.days.missing) }
                        td { (otp(run)) }
                        td.actions {
                            @if let Some(previous) = &run.previous {
                                a href=(diff_url(key, previous, &run.id)) title=(format!("diff {previous} → {}", run.id)) { "diff with previous" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A day's status as a badge.
fn status_badge(status: DayStatus) -> Markup {
    let class = match status {
        DayStatus::Ok => "badge finished",
        DayStatus::Failed => "badge failed",
        DayStatus::Planned => "badge queued",
        DayStatus::UpToDate | DayStatus::Missing => "badge",
    };
    html! { span class=(class) { (status.name()) } }
}

fn render_run(ctx: &PageCtx, page: &RunPage) -> Markup {
    let r = &page.run;
    html! {
        div.panel {
            h1 { "Run " span.mono { (r.id) } " " small { (r.kind) } }
            dl.fields {
                dt { "folder" } dd { span.mono { (page.location) } " " a href="/runs" { "all runs" } }
                dt { "started" } dd { (stamp(&r.started, ctx.now)) " " span.muted.mono { (r.started) } }
                @if let Some(finished) = &r.finished {
                    dt { "finished" } dd { span.mono { (finished) } }
                }
                dt { "processor" } dd { span.mono { (r.processor) } " · capq " (r.capq_version) }
                dt { "parameters" } dd {
                    (params(r))
                    @if !r.params_changed.is_empty() { " " span.muted { "(changed from the defaults)" } }
                }
                @if let Some(data) = &page.data { dt { "data" } dd.mono { (data) } }
                @if let Some(days) = &page.days_spec { dt { "days asked for" } dd.mono { (days) } }
                @if let Some(queue) = &page.queue { dt { "queue" } dd.mono { (queue) } }
                dt { "days" } dd {
                    (r.days.ok) " ok · " (r.days.up_to_date) " up to date · " (r.days.failed) " failed · "
                    (r.days.missing) " missing"
                    @if r.days.planned > 0 { " · " (r.days.planned) " planned (not recorded yet)" }
                }
                dt { "on time" } dd { (otp(r)) }
            }
            p {
                @if let Some(previous) = &r.previous {
                    a.btn href=(diff_url(&page.folder, previous, &r.id)) { "Diff with the previous run" }
                    " " span.muted.mono { (previous) }
                } @else {
                    span.muted { "The first run of this folder: there is no previous run to diff with." }
                }
            }
        }
        div.panel {
            h2 { "Days " small { (page.days.len()) } }
            table.run-days {
                thead {
                    tr {
                        th { "day" } th { "status" } th { "reason" } th.num { "rows in" } th.num { "rows out" }
                        th.num { "dropped" } th { "drops by reason" } th { "output" } th.num { "time" } th { "error" }
                    }
                }
                tbody {
                    @for day in &page.days {
                        (day_row(&page.folder, &r.id, day))
                    }
                }
            }
        }
    }
}

fn day_row(folder: &str, run: &str, day: &DayRecord) -> Markup {
    let dropped: Option<u64> = day.dropped.as_ref().map(|d| d.values().sum());
    html! {
        tr {
            td.mono { (day.day) }
            td { (status_badge(day.status)) }
            td { (day.reason.map_or("", |r| r.name())) }
            td.num { (day.rows_in.map(format::count).unwrap_or_default()) }
            td.num { (day.rows_out.map(format::count).unwrap_or_default()) }
            td.num { (dropped.map(format::count).unwrap_or_default()) }
            td {
                @if let Some(drops) = &day.dropped {
                    @for (reason, n) in drops.iter().filter(|(_, n)| **n > 0) {
                        span.drop { span.mono { (reason) } " " (format::count(*n)) } " "
                    }
                }
            }
            td {
                @if let Some(output) = &day.output {
                    span.mono title=(output.version) { (output.hash) }
                    @if day.unchanged == Some(true) { " " span.muted { "unchanged" } }
                    @if let Some(made_by) = day.made_by.as_ref().filter(|m| m.as_str() != run) {
                        " " span.muted { "made by " a.mono href=(run_url(folder, made_by)) { (made_by) } }
                    }
                }
            }
            td.num { (day.ms.map(|ms| format::duration(ms / 1e3)).unwrap_or_default()) }
            td.error-text { (day.error.as_deref().unwrap_or("")) }
        }
    }
}
