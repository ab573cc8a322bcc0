//! `/failed`: the failures of every queue, newest first, each with the last line of its error
//! (the full text is on the job's page), paginated on the server; requeue or delete one, the
//! ticked ones, or requeue them all.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::{JobRow, ListKind, Nav, PageAt, PageCtx, Paging, job_table, layout, pager};
use crate::error::Result;
use crate::extract::QueryParams;
use crate::format;
use crate::state::AppState;

/// The query string: `?page=2&per_page=50`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FailedQuery {
    pub page: Option<usize>,
    pub per_page: Option<usize>,
}

/// One page of failures; also `GET /api/failed`.
#[derive(Debug, Clone, Serialize)]
pub struct FailedPage {
    #[serde(flatten)]
    pub at: PageAt,
    /// Failed jobs per queue, for queues that have some.
    pub by_queue: Vec<(String, u64)>,
    pub jobs: Vec<JobRow>,
    pub suspended: bool,
}

pub async fn load(state: &AppState, query: &FailedQuery) -> Result<FailedPage> {
    let paging = Paging {
        page: query.page,
        per_page: query.per_page,
    };
    let (page, per_page) = paging.resolve(state.config().page_size);
    let redis = state.redis();
    let (jobs, counts, suspended) = state
        .read(async {
            tokio::try_join!(
                redis.failed_page(PageAt::offset(page, per_page), per_page),
                redis.queue_counts(),
                redis.is_suspended(),
            )
        })
        .await?;
    Ok(FailedPage {
        at: PageAt::new(page, per_page, jobs.total),
        by_queue: counts
            .iter()
            .filter(|q| q.failed > 0)
            .map(|q| (q.name.clone(), q.failed))
            .collect(),
        jobs: jobs.entries.iter().map(JobRow::from_entry).collect(),
        suspended,
    })
}

/// `GET /failed`.
pub async fn page(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<FailedQuery>,
    ctx: PageCtx,
) -> Result<Response> {
    let failed = load(&state, &query).await?;
    let title = format!("{} failed", format::count(failed.at.total));
    Ok(layout(
        &ctx,
        Nav::Failed,
        &title,
        failed.suspended,
        render(&ctx, &failed),
    )
    .into_response())
}

fn render(ctx: &PageCtx, f: &FailedPage) -> Markup {
    let per_page = f.at.per_page;
    let default_size = ctx.page_size;
    let link = |page: usize| {
        if per_page == default_size {
            format!("/failed?page={page}")
        } else {
            format!("/failed?page={page}&per_page={per_page}")
        }
    };
    html! {
        h1 { "Failed jobs" }
        div #failed data-live {
            div.panel {
                div.toolbar {
                    span.muted {
                        (format::count(f.at.total)) " failed"
                        @for (queue, n) in &f.by_queue {
                            " · " a href=(super::queue_url(queue, "failed")) { (queue) } " " (format::count(*n))
                        }
                    }
                    span.spacer {}
                    form #bulk method="post" action="/failed/requeue" data-selection {
                        input type="hidden" name="csrf" value=(ctx.csrf);
                        input type="hidden" name="back" value=(ctx.here);
                        input type="hidden" name="confirmed" value="";
                        button type="submit" formaction="/failed/requeue" data-confirm="Requeue the {n} ticked jobs?" { "Requeue ticked" }
                        " "
                        button.danger type="submit" formaction="/failed/delete" data-confirm="Delete the {n} ticked jobs and their results? This cannot be undone." { "Delete ticked" }
                    }
                    @if f.at.total > 0 {
                        (super::action(ctx, "/failed/requeue", "Requeue all",
                            &format!("Requeue all {} failed jobs of every queue?", format::count(f.at.total)), "", &[("all", "1")]))
                    }
                }
                (job_table(ctx, &f.jobs, ListKind::Failed, true, Some("bulk")))
                (pager(&f.at, link))
            }
        }
    }
}
