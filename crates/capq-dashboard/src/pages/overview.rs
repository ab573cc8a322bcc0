//! `/`: the state of everything at a glance. Every queue with its jobs per state; the workers
//! online; jobs per second over the last minutes; each batch of `capq enqueue` with a progress
//! bar and an ETA (linking to the batch's page when it has an aggregate); and two charts, jobs ended per minute (from the workers' per-minute counters
//! in Redis) and queue depth over time (sampled by the dashboards, kept in Redis). Above them,
//! a warning for each pinned queue whose jobs wait for a processor no live worker runs (the
//! line `capq info` prints, from `capq_redis::stranded_queues`).

use std::time::SystemTime;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use capq_redis::{BatchInfo, MinuteCounts, QueueCounts, Registry, StrandedQueue, WorkerInfo};
use maud::{Markup, html};
use serde::Serialize;

use super::batch::batch_url;
use super::{Nav, PageCtx, action, layout, queue_url};
use crate::chart::{self, DepthPoint, MinuteBar};
use crate::error::Result;
use crate::format;
use crate::state::{AppState, Sample};

/// Minutes of history in the throughput chart.
const CHART_MINUTES: u64 = 60;

/// One queue's jobs per state.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QueueSummary {
    pub name: String,
    pub queued: u64,
    pub started: u64,
    pub finished: u64,
    pub failed: u64,
    pub scheduled: u64,
    pub deferred: u64,
    pub canceled: u64,
}

impl From<&QueueCounts> for QueueSummary {
    fn from(q: &QueueCounts) -> QueueSummary {
        QueueSummary {
            name: q.name.clone(),
            queued: q.queued,
            started: q.started,
            finished: q.finished,
            failed: q.failed,
            scheduled: q.scheduled,
            deferred: q.deferred,
            canceled: q.canceled,
        }
    }
}

impl QueueSummary {
    pub fn get(&self, registry: Registry) -> u64 {
        match registry {
            Registry::Queued => self.queued,
            Registry::Started => self.started,
            Registry::Finished => self.finished,
            Registry::Failed => self.failed,
            Registry::Deferred => self.deferred,
            Registry::Scheduled => self.scheduled,
            Registry::Canceled => self.canceled,
        }
    }
}

/// Workers online, by state.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorkerCounts {
    pub online: u64,
    pub busy: u64,
    pub idle: u64,
    /// Suspended, starting, or a state capq does not know.
    pub other: u64,
}

impl WorkerCounts {
    pub fn of(workers: &[WorkerInfo]) -> WorkerCounts {
        let mut counts = WorkerCounts {
            online: workers.len() as u64,
            ..WorkerCounts::default()
        };
        for worker in workers {
            match worker.state.as_str() {
                "busy" => counts.busy += 1,
                "idle" => counts.idle += 1,
                _ => counts.other += 1,
            }
        }
        counts
    }
}

/// A pinned queue with jobs waiting for a processor that no live worker runs.
#[derive(Debug, Clone, Serialize)]
pub struct StrandedView {
    pub queue: String,
    /// The processor fingerprint its jobs are pinned to.
    pub processor: String,
    pub waiting: u64,
    /// The processors the live workers of its plain queue run instead.
    pub workers_run: Vec<String>,
    /// The warning, as `capq info` prints it.
    pub message: String,
}

impl From<&StrandedQueue> for StrandedView {
    fn from(s: &StrandedQueue) -> StrandedView {
        StrandedView {
            queue: s.queue.clone(),
            processor: s.processor.clone(),
            waiting: s.waiting,
            workers_run: s.workers_run.clone(),
            message: s.to_string(),
        }
    }
}

/// Jobs per second that ended over recent windows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Rates {
    /// From the per-minute counters: the window runs from the start of the minute `n - 1`
    /// minutes ago to now.
    pub last_minute: f64,
    pub last_5_minutes: f64,
    pub last_15_minutes: f64,
    /// Between the dashboard's two most recent samples about 10 s or more apart, if any.
    pub now: Option<f64>,
}

/// One minute of the throughput chart.
#[derive(Debug, Clone, Serialize)]
pub struct MinutePoint {
    /// Seconds since the epoch at the minute's start.
    pub start: u64,
    pub finished: u64,
    pub failed: u64,
}

/// A batch with its progress and ETA.
#[derive(Debug, Clone, Serialize)]
pub struct BatchView {
    pub id: String,
    pub description: String,
    pub queue: String,
    pub output: String,
    pub size: u64,
    pub finished: u64,
    pub failed: u64,
    pub remaining: u64,
    pub percent_done: f64,
    pub created_at: f64,
    /// Jobs per second since the batch was enqueued; `None` until one has ended.
    pub rate: Option<f64>,
    /// Seconds until the rest would be done at that rate.
    pub eta_seconds: Option<f64>,
    pub complete: bool,
    /// The batch ends with an aggregate job (`capq enqueue --aggregate`): its page shows it.
    pub has_aggregate: bool,
}

impl BatchView {
    pub fn of(batch: &BatchInfo, now: f64) -> BatchView {
        let done = batch.finished + batch.failed;
        // A requeued failure that then finished counts in both; never show more than all.
        let size = batch.size.max(done);
        let remaining = size - done;
        let elapsed = now - batch.created_epoch;
        let rate = (done > 0 && elapsed > 0.0).then(|| done as f64 / elapsed);
        BatchView {
            id: batch.id.clone(),
            description: batch.description.clone(),
            queue: batch.queue.clone(),
            output: batch.output.clone(),
            size: batch.size,
            finished: batch.finished,
            failed: batch.failed,
            remaining,
            percent_done: format::percent(done, size),
            created_at: batch.created_epoch,
            eta_seconds: rate.filter(|_| remaining > 0).map(|r| remaining as f64 / r),
            rate,
            complete: remaining == 0,
            has_aggregate: batch.aggregate_job.is_some(),
        }
    }
}

/// Everything the overview shows; also `GET /api/overview`.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    pub now: f64,
    pub suspended: bool,
    pub queues: Vec<QueueSummary>,
    pub totals: QueueSummary,
    pub workers: WorkerCounts,
    /// Pinned queues whose jobs no live worker can run (see `capq_core::pin`).
    pub stranded: Vec<StrandedView>,
    /// Jobs that ended for good since the statistics began, fleet-wide.
    pub jobs_finished: u64,
    pub jobs_failed: u64,
    pub rates: Rates,
    /// Jobs ended per minute, oldest first, the current minute last.
    pub throughput: Vec<MinutePoint>,
    /// The dashboard's samples of queue depth, oldest first.
    pub depth: Vec<Sample>,
    pub batches: Vec<BatchView>,
    pub batches_total: u64,
}

fn rate_over(minutes: &[MinuteCounts], window: usize, now: f64) -> f64 {
    let Some(current) = minutes.last() else {
        return 0.0;
    };
    let into_current = (now - current.minute as f64 * 60.0).clamp(0.0, 60.0);
    let taken = &minutes[minutes.len().saturating_sub(window)..];
    let jobs: u64 = taken.iter().map(|m| m.finished + m.failed).sum();
    let seconds = (taken.len().saturating_sub(1)) as f64 * 60.0 + into_current;
    if seconds < 1.0 {
        0.0
    } else {
        jobs as f64 / seconds
    }
}

/// The current rate from the samples: the latest against the newest one at least 10 s older.
fn sampled_rate(samples: &[Sample]) -> Option<f64> {
    let last = samples.last()?;
    let earlier = samples.iter().rev().find(|s| last.at - s.at >= 10.0)?;
    let jobs = (last.finished_total + last.failed_total)
        .saturating_sub(earlier.finished_total + earlier.failed_total);
    Some(jobs as f64 / (last.at - earlier.at))
}

pub async fn load(state: &AppState) -> Result<Overview> {
    let now = format::seconds_since_epoch(SystemTime::now());
    let minute = now as u64 / 60;
    let redis = state.redis();
    let (counts, workers, stats, minutes, (batches_total, batches), suspended) = state
        .read(async {
            tokio::try_join!(
                redis.queue_counts(),
                redis.workers(),
                redis.fleet_stats(),
                redis.minute_counts(minute, CHART_MINUTES),
                redis.batches(state.config().batches_shown),
                redis.is_suspended(),
            )
        })
        .await?;
    let queues: Vec<QueueSummary> = counts.iter().map(QueueSummary::from).collect();
    let mut totals = QueueSummary {
        name: "all queues".to_owned(),
        ..QueueSummary::default()
    };
    for q in &queues {
        totals.queued += q.queued;
        totals.started += q.started;
        totals.finished += q.finished;
        totals.failed += q.failed;
        totals.scheduled += q.scheduled;
        totals.deferred += q.deferred;
        totals.canceled += q.canceled;
    }
    let depth = state.history();
    Ok(Overview {
        now,
        suspended,
        totals,
        queues,
        workers: WorkerCounts::of(&workers),
        stranded: capq_redis::stranded_queues(&counts, &workers)
            .iter()
            .map(StrandedView::from)
            .collect(),
        jobs_finished: stats.finished,
        jobs_failed: stats.failed,
        rates: Rates {
            last_minute: rate_over(&minutes, 1, now),
            last_5_minutes: rate_over(&minutes, 5, now),
            last_15_minutes: rate_over(&minutes, 15, now),
            now: sampled_rate(&depth),
        },
        throughput: minutes
            .iter()
            .map(|m| MinutePoint {
                start: m.minute * 60,
                finished: m.finished,
                failed: m.failed,
            })
            .collect(),
        depth,
        batches: batches.iter().map(|b| BatchView::of(b, now)).collect(),
        batches_total,
    })
}

/// `GET /`.
pub async fn page(State(state): State<AppState>, ctx: PageCtx) -> Result<Response> {
    let overview = load(&state).await?;
    let title = format!(
        "{} queued, {} running",
        format::count(overview.totals.queued),
        format::count(overview.totals.started)
    );
    Ok(layout(
        &ctx,
        Nav::Overview,
        &title,
        overview.suspended,
        render(&ctx, &overview),
    )
    .into_response())
}

fn tile(label: &str, value: String, sub: Markup) -> Markup {
    html! {
        div.tile {
            div.label { (label) }
            div.value { (value) }
            div.sub { (sub) }
        }
    }
}

fn render(ctx: &PageCtx, o: &Overview) -> Markup {
    let current_rate = o.rates.now.unwrap_or(o.rates.last_minute);
    html! {
        div #overview data-live {
            @for stranded in &o.stranded {
                div.banner.stranded role="alert" {
                    strong { "No live worker runs these jobs." }
                    span { (stranded.message) }
                }
            }
            div.tiles {
                (tile("Jobs/s now", format::rate(current_rate), html! {
                    "5 min " (format::rate(o.rates.last_5_minutes)) " · 15 min " (format::rate(o.rates.last_15_minutes))
                }))
                (tile("Workers online", format::count(o.workers.online), html! {
                    a href="/workers" { (o.workers.busy) " busy · " (o.workers.idle) " idle" @if o.workers.other > 0 { " · " (o.workers.other) " other" } }
                }))
                (tile("Queued", format::count(o.totals.queued), html! {
                    (format::count(o.totals.started)) " running · " (format::count(o.totals.scheduled)) " scheduled"
                }))
                (tile("Failed", format::count(o.totals.failed), html! { a href="/failed" { "see the errors" } }))
                (tile("Ended in all", format::count(o.jobs_finished + o.jobs_failed), html! {
                    (format::count(o.jobs_finished)) " finished · " (format::count(o.jobs_failed)) " failed"
                }))
            }
            div.grid2 {
                div.panel {
                    h2 { "Jobs ended per minute " small { "last hour, all workers" } }
                    (chart::throughput(&o.throughput.iter().map(|m| MinuteBar {
                        minute: m.start / 60, finished: m.finished, failed: m.failed,
                    }).collect::<Vec<_>>()))
                    div.legend { span { i.ok {} "finished" } span { i.bad {} "failed" } }
                }
                div.panel {
                    h2 { "Queue depth " small { "last hour, sampled by the dashboards" } }
                    (chart::depth(&o.depth.iter().map(|s| DepthPoint {
                        at: s.at, queued: s.queued, started: s.started,
                    }).collect::<Vec<_>>(), o.now))
                    div.legend { span { i.queued {} "queued" } span { i.started {} "running" } }
                }
            }
            div.panel #queues {
                h2 { "Queues" }
                (queues_table(ctx, o))
            }
            div.panel #batches {
                h2 { "Batches " small { "enqueued by capq enqueue" @if o.batches_total > o.batches.len() as u64 {
                    " · the latest " (o.batches.len()) " of " (format::count(o.batches_total)) } } }
                @if o.batches.is_empty() {
                    p.muted { "No batch yet. " code { "capq enqueue --days 2016-11-24..2016-11-27 …" } " makes one." }
                }
                @for batch in &o.batches {
                    (batch_row(batch, o.now))
                }
            }
        }
    }
}

fn queues_table(ctx: &PageCtx, o: &Overview) -> Markup {
    let states = crate::pages::queue::TABS;
    html! {
        @if o.queues.is_empty() {
            p.muted { "No queue yet: enqueue a job and it appears here." }
        } @else {
            table {
                thead {
                    tr {
                        th { "queue" }
                        @for state in states { th.num { (state.name()) } }
                        th.actions { "" }
                    }
                }
                tbody {
                    @for q in &o.queues {
                        tr {
                            td { a href=(queue_url(&q.name, "queued")) { (q.name) } }
                            @for state in states {
                                td.num { a href=(queue_url(&q.name, state.name())) { (format::count(q.get(state))) } }
                            }
                            td.actions {
                                @if q.failed > 0 {
                                    (action(ctx, &format!("/queues/{}/requeue-failed", format::segment(&q.name)), "Requeue failed",
                                        &format!("Requeue all {} failed jobs of queue {}?", format::count(q.failed), q.name), "", &[]))
                                }
                                @if q.queued > 0 {
                                    (action(ctx, &format!("/queues/{}/empty", format::segment(&q.name)), "Empty",
                                        &format!("Delete all {} queued jobs of queue {}? This cannot be undone.", format::count(q.queued), q.name), "danger", &[]))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn batch_row(b: &BatchView, now: f64) -> Markup {
    let done = b.finished + b.failed;
    html! {
        div.batch {
            div.head {
                strong { (b.description) }
                a href=(queue_url(&b.queue, "queued")) { (b.queue) }
                span.muted.mono { (b.id) }
                span.muted { "→ " (b.output) }
                span.muted title=(format::utc(b.created_at)) { "enqueued " (format::ago(b.created_at, now)) }
            }
            @if b.has_aggregate {
                a.progress-link href=(batch_url(&b.id)) title="The batch's page: its aggregate's figures and charts" {
                    (chart::progress(b.finished, b.failed, b.size))
                }
            } @else {
                (chart::progress(b.finished, b.failed, b.size))
            }
            div.figures {
                span { b { (format::percent_label(b.percent_done)) } " done" }
                span { b { (format::count(done)) } " of " (format::count(b.size)) }
                span { b { (format::count(b.finished)) } " finished" }
                span { b { (format::count(b.failed)) } " failed" }
                span { b { (format::count(b.remaining)) } " remaining" }
                @if b.has_aggregate {
                    a href=(batch_url(&b.id)) { "aggregate →" }
                }
                @if b.complete {
                    span { "complete" }
                } @else {
                    @match (b.rate, b.eta_seconds) {
                        (Some(rate), Some(eta)) => span {
                            "ETA " b { (format::duration(eta)) } " at " (format::rate(rate)) " (its rate since enqueued)"
                        },
                        _ => span { "ETA unknown until one of its jobs ends" },
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_from_minutes_and_samples() {
        let minutes = [
            MinuteCounts {
                minute: 10,
                finished: 60,
                failed: 0,
            },
            MinuteCounts {
                minute: 11,
                finished: 30,
                failed: 0,
            },
        ];
        // 30 s into minute 11: 30 jobs in 30 s, and 90 in 90 s.
        assert_eq!(rate_over(&minutes, 1, 11.0 * 60.0 + 30.0), 1.0);
        assert_eq!(rate_over(&minutes, 5, 11.0 * 60.0 + 30.0), 1.0);
        let sample = |at: f64, finished: u64| Sample {
            at,
            queued: 0,
            started: 0,
            finished_total: finished,
            failed_total: 0,
        };
        assert_eq!(sampled_rate(&[sample(0.0, 0)]), None);
        assert_eq!(
            sampled_rate(&[sample(0.0, 0), sample(5.0, 50), sample(15.0, 100)]),
            Some(5.0),
            "against the newest sample at least 10 s older"
        );
        assert_eq!(
            sampled_rate(&[sample(0.0, 0), sample(10.0, 50), sample(15.0, 100)]),
            Some(100.0 / 15.0)
        );
    }

    #[test]
    fn batch_progress_and_eta() {
        let batch = BatchInfo {
            id: "b".into(),
            size: 10,
            finished: 3,
            failed: 1,
            created_epoch: 100.0,
            ..BatchInfo::default()
        };
        let view = BatchView::of(&batch, 120.0);
        assert_eq!(view.remaining, 6);
        assert_eq!(view.rate, Some(0.2));
        assert_eq!(view.eta_seconds, Some(30.0));
        assert!(!view.complete);
        let fresh = BatchView::of(
            &BatchInfo {
                finished: 0,
                failed: 0,
                ..batch.clone()
            },
            120.0,
        );
        assert_eq!((fresh.rate, fresh.eta_seconds), (None, None));
        let over = BatchView::of(
            &BatchInfo {
                finished: 10,
                failed: 2,
                ..batch
            },
            120.0,
        );
        assert_eq!(over.remaining, 0);
        assert!(over.complete);
        assert_eq!(over.percent_done, 100.0);
    }
}
