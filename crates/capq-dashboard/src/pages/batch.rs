//! `/batches/<id>`: a batch and its aggregate. The progress bar and figures of the overview,
//! the aggregate job and how it stands, and the aggregate's report: the figures and charts of
//! `report.html`, drawn from the aggregate's files once its job has finished, and while the
//! batch runs from the days done so far, labelled as partial (`reports.rs`). The stored files
//! are offered for download at `/batches/<id>/files/<name>`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use capq_aggregate::{FILE_NAMES, WindowChoice};
use capq_redis::JobInfo;
use maud::{Markup, PreEscaped, html};
use serde::{Serialize, Serializer};

use super::overview::BatchView;
use super::{Nav, PageCtx, badge, job_url, layout, queue_url};
use crate::chart;
use crate::error::{Error, Result};
use crate::extract::PathParams;
use crate::format;
use crate::reports::{ReportKind, ReportRequest, ReportView, split_days};
use crate::state::AppState;

/// A batch with its aggregate; also `GET /api/batches/<id>`.
#[derive(Debug, Clone, Serialize)]
pub struct BatchPage {
    pub batch: BatchView,
    /// `None` for a batch enqueued without `--aggregate`.
    pub aggregate: Option<AggregateState>,
}

/// The batch's aggregate job and what the page shows of its aggregate.
#[derive(Debug, Clone, Serialize)]
pub struct AggregateState {
    pub job_id: String,
    /// `None` when the job's record is gone (it expires some minutes after finishing).
    pub job_status: Option<String>,
    /// The last line of its error, when it failed.
    pub job_error: Option<String>,
    /// Where it writes the aggregate folder.
    pub folder: String,
    pub days_done: usize,
    pub days_failed: Vec<String>,
    pub days_pending: usize,
    /// The report shown (its HTML is not part of the JSON).
    #[serde(serialize_with = "inner")]
    pub report: Option<Arc<ReportView>>,
    /// Why the latest attempt to draw it failed.
    pub report_error: Option<String>,
    /// The aggregate is being computed.
    pub computing: bool,
    /// Why the dashboard does not read this aggregate at all.
    pub unreadable: Option<String>,
}

fn inner<S: Serializer>(view: &Option<Arc<ReportView>>, serializer: S) -> Result<S::Ok, S::Error> {
    view.as_deref().serialize(serializer)
}

pub async fn load(state: &AppState, id: &str) -> Result<BatchPage> {
    let redis = state.redis();
    let batch = state
        .read(redis.batch(id))
        .await?
        .ok_or_else(|| Error::NotFound(format!("no batch {id}")))?;
    let view = BatchView::of(
        &batch,
        format::seconds_since_epoch(std::time::SystemTime::now()),
    );
    let (Some(job_id), Some(folder)) = (batch.aggregate_job.clone(), batch.aggregate.clone())
    else {
        return Ok(BatchPage {
            batch: view,
            aggregate: None,
        });
    };
    let (job, days) = state
        .read(async { tokio::try_join!(redis.job(&job_id), redis.batch_days(id)) })
        .await?;
    let (done, failed, pending) = split_days(&days);
    let mut aggregate = AggregateState {
        job_id,
        job_status: job.as_ref().map(|j| j.status.clone()),
        job_error: job.as_ref().and_then(job_error),
        folder: folder.clone(),
        days_done: done.len(),
        days_failed: failed.iter().map(ToString::to_string).collect(),
        days_pending: pending.len(),
        report: None,
        report_error: None,
        computing: false,
        unreadable: None,
    };
    match &state.config().outputs {
        None => {
            aggregate.unreadable = Some(
                "this dashboard reads no storage (it was started with --read-outputs none)".into(),
            );
        }
        Some(outputs) => {
            let request = ReportRequest {
                folder,
                days,
                job_status: aggregate.job_status.clone(),
                job_ended_at: job.as_ref().map(|j| j.ended_at.clone()).unwrap_or_default(),
                window: job.as_ref().map_or_else(WindowChoice::default, window_of),
                batch,
            };
            let config = state.config();
            let found = state
                .reports()
                .lookup(outputs, request, config.report_refresh, config.report_wait)
                .await;
            aggregate.report = found.view;
            aggregate.report_error = found.error;
            aggregate.computing = found.computing;
        }
    }
    Ok(BatchPage {
        batch: view,
        aggregate: Some(aggregate),
    })
}

fn job_error(job: &JobInfo) -> Option<String> {
    matches!(job.status.as_str(), "failed" | "stopped")
        .then(|| job.latest.as_ref().and_then(|r| r.error.as_deref()))
        .flatten()
        .map(format::error_summary)
}

/// The window the aggregate job asks for; the default when its call cannot be read (the job
/// itself then fails and says why).
fn window_of(job: &JobInfo) -> WindowChoice {
    job.call
        .as_ref()
        .and_then(|c| c.as_ref().ok())
        .and_then(|call| capq_core::tasks::aggregate::window_of(call).ok())
        .unwrap_or_default()
}

/// The URL of a batch's page.
pub fn batch_url(id: &str) -> String {
    format!("/batches/{}", format::segment(id))
}

/// `GET /batches/{id}`.
pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    PathParams(id): PathParams<String>,
) -> Result<Response> {
    let model = load(&state, &id).await?;
    let suspended = state.read(state.redis().is_suspended()).await?;
    let title = format!("Batch {}", model.batch.description);
    Ok(layout(&ctx, Nav::Overview, &title, suspended, render(&ctx, &model)).into_response())
}

/// `GET /batches/{id}/files/{name}`: a file of the stored aggregate folder, as a download.
pub async fn file(
    State(state): State<AppState>,
    PathParams((id, name)): PathParams<(String, String)>,
) -> Result<Response> {
    if !FILE_NAMES.contains(&name.as_str()) {
        return Err(Error::NotFound(format!(
            "an aggregate folder has no file {}",
            format::truncate(&name, 60)
        )));
    }
    let batch = state
        .read(state.redis().batch(&id))
        .await?
        .ok_or_else(|| Error::NotFound(format!("no batch {id}")))?;
    let folder = batch
        .aggregate
        .ok_or_else(|| Error::NotFound(format!("batch {id} has no aggregate")))?;
    let outputs = state.config().outputs.as_ref().ok_or_else(|| {
        Error::Forbidden("this dashboard reads no storage (--read-outputs none)".into())
    })?;
    let location = outputs
        .readable(&folder)
        .map_err(Error::Forbidden)?
        .join(&name);
    let bytes = outputs
        .storage
        .get(&location)
        .await
        .map_err(|e| Error::Storage(e.to_string()))?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "{location} is not there (has the aggregate job finished?)"
            ))
        })?;
    let content_type = if name.ends_with(".json") {
        "application/json"
    } else if name.ends_with(".html") {
        "text/html; charset=utf-8"
    } else {
        "text/csv; charset=utf-8"
    };
    // Always a download: the stored report.html carries its own inline styles, which the
    // dashboard's policy would block, and nothing stored is run in the dashboard's origin.
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

fn render(ctx: &PageCtx, page: &BatchPage) -> Markup {
    let b = &page.batch;
    html! {
        div #batch-status data-live {
            div.panel {
                h1 { "Batch " (b.description) " " small.mono { (b.id) } }
                p.muted {
                    "Queue " a href=(queue_url(&b.queue, "queued")) { (b.queue) }
                    " · outputs " span.mono { (b.output) }
                    " · enqueued " span title=(format::utc(b.created_at)) { (format::ago(b.created_at, ctx.now)) }
                }
                (chart::progress(b.finished, b.failed, b.size))
                div.figures.batch-figures {
                    span { b { (format::percent_label(b.percent_done)) } " done" }
                    span { b { (format::count(b.finished)) } " finished" }
                    span { b { (format::count(b.failed)) } " failed" }
                    span { b { (format::count(b.remaining)) } " remaining" }
                    span { "of " b { (format::count(b.size)) } " days" }
                }
                @match &page.aggregate {
                    None => p.muted { "This batch has no aggregate: enqueue with " code { "capq enqueue … --aggregate" } " to have one." },
                    Some(a) => (aggregate_status(a)),
                }
            }
        }
        @if let Some(a) = &page.aggregate {
            (report(a, &b.id))
        }
    }
}

fn aggregate_status(a: &AggregateState) -> Markup {
    let status = a.job_status.as_deref().unwrap_or("expired");
    html! {
        div.aggregate-job {
            span { "Aggregate job " a.mono href=(job_url(&a.job_id)) { (format::truncate(&a.job_id, 40)) } " " (badge(status)) }
            span.muted { "writes " span.mono { (a.folder) } }
            @match status {
                "deferred" | "created" => span { "waits until every day has ended (" (a.days_pending) " to go)" },
                "queued" => span { "every day has ended: it runs next" },
                "started" => span { "running" },
                "finished" | "expired" => span { "done" },
                _ => {},
            }
        }
        @if let Some(error) = &a.job_error {
            p.error-text { "The aggregate job failed: " (error) }
        }
        @if !a.days_failed.is_empty() {
            p.muted { "Failed days, not counted: " (a.days_failed.join(", ")) }
        }
    }
}

fn report(a: &AggregateState, batch: &str) -> Markup {
    let version = a.report.as_ref().map_or("none", |r| r.version.as_str());
    html! {
        div #batch-report data-live data-version=(version) {
            @if let Some(why) = &a.unreadable {
                div.panel { p.muted { (why) } }
            }
            @if let Some(error) = &a.report_error {
                div.panel { p.error-text { "Cannot draw the aggregate: " (error) } }
            }
            @match &a.report {
                Some(view) => {
                    div.report-frame {
                        div.report-head {
                            @match view.kind {
                                ReportKind::Final => span { "The aggregate of the batch, as its job stored it." },
                                ReportKind::Partial => span { b { "Partial aggregate" } " of the " (a.days_done) " days done so far, computed by the dashboard; the figures change as days end." },
                            }
                            @if view.kind == ReportKind::Final {
                                span.downloads {
                                    "Files: "
                                    @for name in FILE_NAMES {
                                        a href=(format!("{}/files/{name}", batch_url(batch))) download { (name) }
                                    }
                                }
                            }
                        }
                        @for note in &view.notes {
                            p.error-text { (note) }
                        }
                        // Drawn by capq-aggregate's report renderer, which escapes every string
                        // from the data; nothing job-provided is inserted here unescaped.
                        (PreEscaped(&view.fragment))
                    }
                }
                None if a.computing => div.panel { p.muted { "Computing the aggregate of the " (a.days_done) " days done so far… it appears here by itself." } },
                None => {},
            }
        }
    }
}
