//! `/queues/<name>`: one queue's jobs, one tab per state (queued, started, finished, failed,
//! scheduled, deferred, canceled), paginated on the server with the total of each state, and
//! the actions that fit: cancel or delete waiting jobs, stop running ones, requeue failures,
//! empty the queue.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use capq_redis::Registry;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::overview::QueueSummary;
use super::{JobRow, ListKind, Nav, PageAt, PageCtx, Paging, action, job_table, layout, pager};
use crate::error::{Error, Result};
use crate::extract::{PathParams, QueryParams};
use crate::format;
use crate::state::AppState;

/// The query string: `?state=failed&page=2&per_page=50`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QueueQuery {
    pub state: Option<String>,
    pub page: Option<usize>,
    pub per_page: Option<usize>,
}

/// One page of a queue's state; also `GET /api/queues/<name>`.
#[derive(Debug, Clone, Serialize)]
pub struct QueuePage {
    pub queue: String,
    pub state: &'static str,
    pub counts: QueueSummary,
    #[serde(flatten)]
    pub at: PageAt,
    pub jobs: Vec<JobRow>,
    pub suspended: bool,
}

/// The states, in the order a job moves through them: the tabs here, the columns of the
/// overview, the `state` label of `/metrics`.
pub const TABS: [Registry; 7] = [
    Registry::Queued,
    Registry::Started,
    Registry::Finished,
    Registry::Failed,
    Registry::Scheduled,
    Registry::Deferred,
    Registry::Canceled,
];

pub async fn load(state: &AppState, queue: &str, query: &QueueQuery) -> Result<QueuePage> {
    let registry = match query.state.as_deref() {
        None | Some("") => Registry::Queued,
        Some(name) => Registry::from_name(name).ok_or_else(|| {
            Error::BadRequest(format!(
                "unknown state {name:?}: expected one of queued, started, finished, failed, scheduled, deferred, canceled"
            ))
        })?,
    };
    let paging = Paging {
        page: query.page,
        per_page: query.per_page,
    };
    let (page, per_page) = paging.resolve(state.config().page_size);
    let redis = state.redis();
    let offset = PageAt::offset(page, per_page);
    let (counts, known, jobs, suspended) = state
        .read(async {
            tokio::try_join!(
                redis.queue_counts(),
                redis.queue_exists(queue),
                redis.job_page(queue, registry, offset, per_page),
                redis.is_suspended(),
            )
        })
        .await?;
    let counts = counts
        .iter()
        .find(|q| q.name == queue)
        .map(QueueSummary::from)
        .unwrap_or_else(|| QueueSummary {
            name: queue.to_owned(),
            ..QueueSummary::default()
        });
    if !known && TABS.iter().all(|&r| counts.get(r) == 0) && jobs.total == 0 {
        return Err(Error::NotFound(format!("no queue named {queue:?}")));
    }
    Ok(QueuePage {
        queue: queue.to_owned(),
        state: registry.name(),
        counts,
        at: PageAt::new(page, per_page, jobs.total),
        jobs: jobs.entries.iter().map(JobRow::from_entry).collect(),
        suspended,
    })
}

/// `GET /queues/<name>`.
pub async fn page(
    State(state): State<AppState>,
    PathParams(queue): PathParams<String>,
    QueryParams(query): QueryParams<QueueQuery>,
    ctx: PageCtx,
) -> Result<Response> {
    let page = load(&state, &queue, &query).await?;
    let title = format!("{} · {}", page.queue, page.state);
    Ok(layout(
        &ctx,
        Nav::Queue,
        &title,
        page.suspended,
        render(&ctx, &page),
    )
    .into_response())
}

fn render(ctx: &PageCtx, p: &QueuePage) -> Markup {
    let registry = Registry::from_name(p.state).unwrap_or(Registry::Queued);
    let base = format!("/queues/{}", format::segment(&p.queue));
    let per_page = p.at.per_page;
    let default_size = ctx.page_size;
    let link = |page: usize| {
        let mut url = format!("{base}?state={}&page={page}", p.state);
        if per_page != default_size {
            url.push_str(&format!("&per_page={per_page}"));
        }
        url
    };
    html! {
        h1 { "Queue " (p.queue) }
        div #queue data-live {
            div.tabs {
                @for tab in TABS {
                    a.current[tab == registry] href=(format!("{base}?state={}", tab.name())) {
                        (tab.name()) span.n { (format::count(p.counts.get(tab))) }
                    }
                }
            }
            div.panel {
                div.toolbar {
                    span.muted { (describe(registry)) }
                    span.spacer {}
                    @if registry == Registry::Queued && p.counts.queued > 0 {
                        (action(ctx, &format!("{base}/empty"), "Empty the queue",
                            &format!("Delete all {} queued jobs of queue {}? This cannot be undone.", format::count(p.counts.queued), p.queue),
                            "danger", &[]))
                    }
                    @if registry == Registry::Failed && p.counts.failed > 0 {
                        (action(ctx, &format!("{base}/requeue-failed"), "Requeue all failed",
                            &format!("Requeue all {} failed jobs of queue {}?", format::count(p.counts.failed), p.queue),
                            "", &[]))
                    }
                }
                (job_table(ctx, &p.jobs, ListKind::of(registry), false, None))
                (pager(&p.at, link))
            }
        }
    }
}

fn describe(registry: Registry) -> &'static str {
    match registry {
        Registry::Queued => "Waiting to run, next first.",
        Registry::Started => "Running now (or claimed by a worker), by lease expiry.",
        Registry::Finished => "Finished, newest first; kept for the job's result TTL.",
        Registry::Failed => "Failed or stopped, newest first; kept for the job's failure TTL.",
        Registry::Scheduled => "Waiting for a time (delayed retries, enqueue_at), soonest first.",
        Registry::Deferred => "Waiting for the jobs they depend on.",
        Registry::Canceled => "Canceled before they ran, newest first.",
    }
}
