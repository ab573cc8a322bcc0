//! `/workers`: every live worker (capq's and Python RQ's alike, both write RQ's worker hash):
//! its state, current job, heartbeat age, successes and failures, uptime and working time.
//!
//! "Stop job" is offered only for a job the worker is running now: the worker says `busy` and
//! the job is in its queue's started registry. A worker hash can name a `current_job` that has
//! ended (a worker that did not clear it), and stopping that would be refused anyway.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Serialize;

use super::{Nav, PageCtx, action, badge, job_url, layout, when};
use crate::error::Result;
use crate::format;
use crate::state::AppState;

/// A heartbeat older than this is shown as stale. capq workers beat every third of their
/// lease (20 s by default); RQ workers refresh theirs at least every 7 minutes when idle.
const STALE_AFTER: f64 = 120.0;

/// One worker; also an element of `GET /api/workers`.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerRow {
    pub name: String,
    pub state: String,
    pub queues: Vec<String>,
    pub current_job: Option<String>,
    pub current_description: Option<String>,
    /// Whether the worker is running `current_job` now: it is busy and the job is in its
    /// queue's started registry. Only then can the job be stopped.
    pub running: bool,
    pub pid: String,
    pub hostname: String,
    pub version: String,
    pub birth: Option<f64>,
    pub last_heartbeat: Option<f64>,
    pub heartbeat_age: Option<f64>,
    pub uptime: Option<f64>,
    pub successful_jobs: u64,
    pub failed_jobs: u64,
    pub total_working_time: f64,
}

/// `GET /api/workers`.
#[derive(Debug, Clone, Serialize)]
pub struct Workers {
    pub now: f64,
    pub workers: Vec<WorkerRow>,
    pub suspended: bool,
}

pub async fn load(state: &AppState) -> Result<Workers> {
    let redis = state.redis();
    let now = format::seconds_since_epoch(std::time::SystemTime::now());
    let (workers, suspended) = state
        .read(async { tokio::try_join!(redis.workers(), redis.is_suspended()) })
        .await?;
    let current: Vec<String> = workers
        .iter()
        .filter_map(|w| w.current_job.clone())
        .collect();
    let jobs = state.read(redis.jobs(&current)).await?;
    let origins: Vec<(String, String)> = jobs
        .iter()
        .map(|job| (job.id.clone(), job.queue.clone()))
        .collect();
    let started = state.read(redis.in_started_registry(&origins)).await?;
    let descriptions: HashMap<String, String> = jobs
        .into_iter()
        .map(|job| (job.id, job.description))
        .collect();
    let rows = workers
        .into_iter()
        .map(|w| {
            let birth = format::epoch_of(&w.birth);
            let heartbeat = format::epoch_of(&w.last_heartbeat);
            WorkerRow {
                running: w.state == "busy"
                    && w.current_job
                        .as_ref()
                        .is_some_and(|id| started.contains(id)),
                current_description: w
                    .current_job
                    .as_ref()
                    .and_then(|id| descriptions.get(id).cloned()),
                name: w.name,
                state: w.state,
                queues: w.queues,
                current_job: w.current_job,
                pid: w.pid,
                hostname: w.hostname,
                version: w.version,
                birth,
                last_heartbeat: heartbeat,
                heartbeat_age: heartbeat.map(|h| (now - h).max(0.0)),
                uptime: birth.map(|b| (now - b).max(0.0)),
                successful_jobs: w.successful_jobs,
                failed_jobs: w.failed_jobs,
                total_working_time: w.total_working_time,
            }
        })
        .collect();
    Ok(Workers {
        now,
        workers: rows,
        suspended,
    })
}

/// `GET /workers`.
pub async fn page(State(state): State<AppState>, ctx: PageCtx) -> Result<Response> {
    let workers = load(&state).await?;
    let title = format!("{} workers", workers.workers.len());
    Ok(layout(
        &ctx,
        Nav::Workers,
        &title,
        workers.suspended,
        render(&ctx, &workers),
    )
    .into_response())
}

fn render(ctx: &PageCtx, w: &Workers) -> Markup {
    html! {
        h1 { "Workers" }
        div.panel #workers data-live {
            @if w.workers.is_empty() {
                p.muted { "No worker is online. Start one with " code { "capq worker --url …" } "." }
            } @else {
                table {
                    thead {
                        tr {
                            th { "worker" } th { "state" } th { "queues" } th { "current job" }
                            th { "heartbeat" } th.num { "finished" } th.num { "failed" }
                            th { "up" } th { "working time" } th { "pid · host · version" } th {}
                        }
                    }
                    tbody {
                        @for worker in &w.workers {
                            tr id=(format!("worker-{}", format::segment(&worker.name))) {
                                td.mono { (worker.name) }
                                td { (badge(&worker.state)) }
                                td { (worker.queues.join(", ")) }
                                td.desc {
                                    @if let Some(job) = &worker.current_job {
                                        a.mono href=(job_url(job)) { (format::truncate(job, 40)) }
                                        @if !worker.running {
                                            " " span.muted.not-running { "(not running)" }
                                        }
                                        @if let Some(description) = &worker.current_description {
                                            br; span title=(description) { (format::truncate(description, 100)) }
                                        }
                                    } @else {
                                        span.muted { "–" }
                                    }
                                }
                                td.stale[worker.heartbeat_age.is_some_and(|a| a > STALE_AFTER)] {
                                    (when(worker.last_heartbeat, ctx.now))
                                }
                                td.num { (format::count(worker.successful_jobs)) }
                                td.num { (format::count(worker.failed_jobs)) }
                                td { (worker.uptime.map(format::duration).unwrap_or_else(|| "–".into())) }
                                td { (format::duration(worker.total_working_time)) }
                                td.muted { (worker.pid) " · " (worker.hostname) " · " (worker.version) }
                                td.actions {
                                    @if let (Some(job), true) = (&worker.current_job, worker.running) {
                                        (action(ctx, &format!("{}/stop", job_url(job)), "Stop job",
                                            &format!("Stop job {} on worker {}?", format::truncate(job, 40), worker.name), "danger", &[]))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
