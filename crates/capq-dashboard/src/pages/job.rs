//! `/jobs/<id>`: one job in full. Its function and arguments (decoded from the payload, pickle
//! or JSON alike, so a job enqueued by Python `rq` and one enqueued by `capq enqueue` read the
//! same), description, timestamps and how long it waited and ran, attempts and recoveries, its
//! worker, and then either its result (for a day: output, rows in and out, rows dropped per
//! reason) or its full error, plus the history of its attempts and the raw hash.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use capq_redis::{JobInfo, ResultEntry};
use maud::{Markup, html};
use serde::Serialize;

use super::{JobRow, Nav, PageCtx, badge, layout, queue_url, row_actions, when};
use crate::error::{Error, Result};
use crate::extract::PathParams;
use crate::format;
use crate::state::AppState;
use crate::values::{self, Arguments, ReturnValue};

/// One attempt's ending, from the job's result stream.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// finished, failed, stopped, retried, retries exhausted.
    pub kind: &'static str,
    /// Seconds since the epoch.
    pub at: f64,
    pub worker: String,
    pub value: Option<ReturnValue>,
    /// Why the value could not be decoded.
    pub value_error: Option<String>,
    pub error: Option<String>,
}

impl Outcome {
    fn of(entry: &ResultEntry, job: &JobInfo) -> Outcome {
        let decoded = entry
            .return_value
            .as_ref()
            .map(|bytes| values::return_value(bytes, values::serializer(job)));
        let (value, value_error) = match decoded {
            Some(Ok(value)) => (Some(value), None),
            Some(Err(error)) => (None, Some(error)),
            None => (None, None),
        };
        Outcome {
            kind: values::result_kind(entry),
            at: entry.created_ms as f64 / 1000.0,
            worker: entry.worker_name.clone(),
            value,
            value_error,
            error: entry.error.clone(),
        }
    }
}

/// Everything about a job; also `GET /api/jobs/<id>`.
#[derive(Debug, Clone, Serialize)]
pub struct JobDetail {
    pub id: String,
    pub status: String,
    pub queue: String,
    pub description: String,
    /// The decoded call, or why it cannot be decoded.
    pub call: Option<Arguments>,
    pub call_error: Option<String>,
    pub created_at: Option<f64>,
    pub enqueued_at: Option<f64>,
    pub started_at: Option<f64>,
    pub ended_at: Option<f64>,
    /// From enqueued to started, and from started to ended (or now, while running).
    pub waited_seconds: Option<f64>,
    pub ran_seconds: Option<f64>,
    pub timeout: String,
    pub attempts: u64,
    pub recoveries: u64,
    pub retries_left: Option<u64>,
    pub worker: String,
    /// The batch (RQ group) it belongs to.
    pub batch: String,
    pub meta: Option<serde_json::Value>,
    /// The job hash's legacy `exc_info`, inflated: the error where a job has no result entry
    /// saying why it failed (RQ before 2.0; entries that expired).
    pub exc_info: Option<String>,
    /// The latest outcome, and all of them newest first.
    pub result: Option<Outcome>,
    pub history: Vec<Outcome>,
    /// Every hash field but the payload, as text (see `values::field_text`).
    pub fields: BTreeMap<String, String>,
    pub suspended: bool,
}

pub async fn load(state: &AppState, id: &str) -> Result<JobDetail> {
    let redis = state.redis();
    let (job, history, suspended) = state
        .read(async {
            tokio::try_join!(
                redis.job(id),
                redis.job_results(id, 20),
                redis.is_suspended()
            )
        })
        .await?;
    let job = job.ok_or_else(|| {
        Error::NotFound(format!(
            "no job with id {id:?}: it never existed, was deleted, or its record expired"
        ))
    })?;
    let (call, call_error) = match &job.call {
        Some(Ok(call)) => (Some(values::arguments(call)), None),
        Some(Err(error)) => (None, Some(error.clone())),
        None => (None, Some("the job has no payload (`data`)".to_owned())),
    };
    let epoch = format::epoch_of;
    let (enqueued, started, ended) = (
        epoch(&job.enqueued_at),
        epoch(&job.started_at),
        epoch(&job.ended_at),
    );
    let now = format::seconds_since_epoch(std::time::SystemTime::now());
    let running = job.status == "started";
    let history: Vec<Outcome> = history.iter().map(|e| Outcome::of(e, &job)).collect();
    Ok(JobDetail {
        id: job.id.clone(),
        status: job.status.clone(),
        queue: job.queue.clone(),
        description: job.description.clone(),
        call,
        call_error,
        created_at: epoch(&job.created_at),
        enqueued_at: enqueued,
        started_at: started,
        ended_at: ended,
        waited_seconds: match (enqueued, started) {
            (Some(e), Some(s)) if s >= e => Some(s - e),
            _ => None,
        },
        ran_seconds: match (started, ended) {
            (Some(s), _) if running => Some(now - s),
            (Some(s), Some(e)) if e >= s => Some(e - s),
            _ => None,
        },
        timeout: job.timeout.clone(),
        attempts: job.attempts,
        recoveries: job.recoveries,
        retries_left: job.retries_left,
        worker: job.worker_name.clone(),
        batch: job.group.clone(),
        meta: values::meta(&job),
        exc_info: job.exc_info.clone().filter(|text| !text.is_empty()),
        result: history.first().cloned(),
        history,
        fields: job
            .fields
            .iter()
            .filter(|(name, _)| name != "data" && name != "meta")
            .map(|(name, value)| (name.clone(), values::field_text(name, value)))
            .collect(),
        suspended,
    })
}

/// `GET /jobs/<id>`.
pub async fn page(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    ctx: PageCtx,
) -> Result<Response> {
    let job = load(&state, &id).await?;
    let title = format!("Job {} · {}", format::truncate(&job.id, 24), job.status);
    Ok(layout(&ctx, Nav::Job, &title, job.suspended, render(&ctx, &job)).into_response())
}

fn render(ctx: &PageCtx, j: &JobDetail) -> Markup {
    // The row form of this job, for the same actions the lists offer.
    let row = JobRow {
        id: j.id.clone(),
        queue: j.queue.clone(),
        status: Some(j.status.clone()),
        function: None,
        description: String::new(),
        created_at: None,
        enqueued_at: None,
        started_at: None,
        ended_at: None,
        worker: String::new(),
        score: None,
        error: None,
        result: None,
        attempts: 0,
    };
    html! {
        div #job data-live {
            div.toolbar {
                h1 { "Job " span.mono { (j.id) } " " (badge(&j.status)) }
                span.spacer {}
                (row_actions(ctx, &row))
            }
            div.grid2 {
                div.panel {
                    h2 { "Call" }
                    dl.fields {
                        dt { "function" }
                        dd.mono { (j.call.as_ref().map_or("", |c| c.function.as_str())) }
                        dt { "arguments" }
                        dd {
                            @if let Some(call) = &j.call {
                                @if call.args.is_empty() && call.kwargs.is_empty() {
                                    span.muted { "none" }
                                }
                                ol.args {
                                    @for arg in &call.args { li.mono { (arg) } }
                                    @for (name, value) in &call.kwargs { li.mono { (name) "=" (value) } }
                                }
                                span.muted { "serialized as " (call.serializer) }
                            }
                            @if let Some(error) = &j.call_error {
                                span.error-text { "cannot decode the payload: " (error) }
                            }
                        }
                        dt { "description" }
                        dd.mono { (j.description) }
                        dt { "queue" }
                        dd { a href=(queue_url(&j.queue, &j.status)) { (j.queue) } }
                        @if !j.batch.is_empty() {
                            dt { "batch" }
                            dd.mono { (j.batch) }
                        }
                        @if let Some(meta) = &j.meta {
                            dt { "meta" }
                            dd.mono { (meta.to_string()) }
                        }
                    }
                }
                div.panel {
                    h2 { "Timeline" }
                    dl.fields {
                        dt { "created" } dd { (when(j.created_at, ctx.now)) }
                        dt { "enqueued" } dd { (when(j.enqueued_at, ctx.now)) }
                        dt { "started" } dd { (when(j.started_at, ctx.now)) }
                        dt { "ended" } dd { (when(j.ended_at, ctx.now)) }
                        dt { "waited" } dd { (j.waited_seconds.map(format::duration).unwrap_or_else(|| "–".into())) }
                        dt { "ran" } dd { (j.ran_seconds.map(format::duration).unwrap_or_else(|| "–".into()))
                            @if j.status == "started" { span.muted { " so far" } } }
                        dt { "timeout" } dd { (if j.timeout.is_empty() { "–" } else { &j.timeout }) @if j.timeout != "-1" && !j.timeout.is_empty() { " s" } }
                        dt { "attempts" } dd { (j.attempts) }
                        dt { "recoveries" } dd { (j.recoveries) span.muted { " (times its worker vanished and it went back on the queue)" } }
                        @if let Some(left) = j.retries_left {
                            dt { "retries left" } dd { (left) }
                        }
                        dt { "worker" } dd.mono { @if j.worker.is_empty() { span.muted { "–" } } @else { a href="/workers" { (j.worker) } } }
                    }
                }
            }
            @if let Some(result) = &j.result {
                div.panel #result {
                    h2 { "Result " (badge(result.kind)) " " small { (format::utc(result.at)) @if !result.worker.is_empty() { " on " (result.worker) } } }
                    (outcome(result))
                }
            } @else if let Some(error) = &j.exc_info {
                div.panel #result {
                    h2 { "Error " small { "from the job's " code { "exc_info" } } }
                    pre.error-text { (error) }
                }
            } @else {
                div.panel #result {
                    h2 { "Result" }
                    p.muted { "None yet." }
                }
            }
            @if j.history.len() > 1 {
                div.panel {
                    h2 { "Attempts " small { "newest first" } }
                    @for (i, attempt) in j.history.iter().enumerate() {
                        details id=(format!("attempt-{i}")) {
                            summary { (badge(attempt.kind)) " " (format::utc(attempt.at)) " " (attempt.worker)
                                @if let Some(error) = &attempt.error { " — " span.error-text { (format::error_summary(error)) } } }
                            (outcome(attempt))
                        }
                    }
                }
            }
            div.panel {
                details #raw {
                    summary { "Raw fields of " code { "rq:job:" (j.id) } }
                    table {
                        @for (name, value) in &j.fields {
                            tr { td.mono { (name) } td.mono { (format::truncate(value, 2000)) } }
                        }
                    }
                }
            }
        }
    }
}

fn outcome(o: &Outcome) -> Markup {
    html! {
        @if let Some(error) = &o.error {
            pre.error-text { (error) }
        }
        @if let Some(value) = &o.value {
            @if let Some(day) = &value.day {
                dl.fields {
                    @if let Some(d) = &day.day { dt { "day" } dd { (d) } }
                    @if let Some(output) = &day.output { dt { "output" } dd.mono { (output) } }
                    dt { "rows in" } dd { (format::count(day.rows_in)) }
                    dt { "rows out" } dd { (format::count(day.rows_out)) }
                    dt { "rows dropped" } dd {
                        @if day.dropped.is_empty() { "none" }
                        table {
                            @for (reason, n) in &day.dropped {
                                tr { td { (reason) } td.num { (format::count(*n)) } }
                            }
                        }
                    }
                    @if let Some(seconds) = day.seconds { dt { "processing time" } dd { (format::duration(seconds)) } }
                }
            } @else {
                pre { (value.text) }
            }
        }
        @if let Some(error) = &o.value_error {
            p.error-text { "cannot decode the return value: " (error) }
        }
        @if o.error.is_none() && o.value.is_none() && o.value_error.is_none() {
            p.muted { "No return value (None)." }
        }
    }
}
