//! The HTML pages, one module each, and what they share: the layout, the request context a
//! page renders with (CSRF token, flash message, where it is), action forms, status badges,
//! pagination, and the job table of the queue and failure lists.
//!
//! Each page module has a serializable model with a `load` function, used both by its HTML
//! handler and by its `/api/...` twin, so the JSON behind a page is exactly what it shows.
//! Templates are maud's, which escapes every interpolated string; nothing job-provided is ever
//! inserted with `PreEscaped`. The one `PreEscaped` is the batch page's report, drawn by
//! capq-aggregate's renderer, which escapes every string from the data itself.

pub mod batch;
pub mod diff;
pub mod failed;
pub mod job;
pub mod login;
pub mod overview;
pub mod queue;
pub mod runs;
pub mod workers;

use std::time::SystemTime;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use capq_redis::{JobInfo, PageEntry};
use maud::{DOCTYPE, Markup, html};
use serde::{Deserialize, Serialize};

use crate::auth::Identity;
use crate::cookies::{self, FlashKind};
use crate::format;
use crate::state::AppState;
use crate::{assets, values};

/// What a page needs to know about the request it answers.
#[derive(Debug, Clone)]
pub struct PageCtx {
    /// The session's CSRF token, for action forms (empty for bearer requests).
    pub csrf: String,
    /// Whether a token is required (the header then offers to log out).
    pub token_required: bool,
    pub flash: Option<(FlashKind, String)>,
    /// The path and query of this page, for forms to come back to.
    pub here: String,
    /// Seconds since the epoch.
    pub now: f64,
    /// The Redis URL, without its password.
    pub redis_url: String,
    /// The default number of jobs per page.
    pub page_size: usize,
}

impl FromRequestParts<AppState> for PageCtx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<PageCtx, Self::Rejection> {
        let csrf = match parts.extensions.get::<Identity>() {
            Some(Identity::Session(id)) => state.keys().csrf_token(id),
            _ => String::new(),
        };
        Ok(PageCtx {
            csrf,
            token_required: state.keys().token_required(),
            flash: cookies::read_flash(&parts.headers),
            here: parts
                .uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
            now: format::seconds_since_epoch(SystemTime::now()),
            redis_url: state.redis().url().to_owned(),
            page_size: state.config().page_size,
        })
    }
}

/// The sections of the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Queue,
    Job,
    Workers,
    Failed,
    Runs,
}

/// The page around `content`: header with navigation and the suspend switch, the flash
/// message, and the footer.
pub fn layout(ctx: &PageCtx, nav: Nav, title: &str, suspended: bool, content: Markup) -> Markup {
    let link = |section: Nav, href: &str, label: &str| {
        html! {
            a.current[section == nav] href=(href) { (label) }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(ctx.csrf);
                title { (title) " · capq" }
                link rel="icon" href=(assets::url("favicon.svg")) type="image/svg+xml";
                link rel="stylesheet" href=(assets::url("app.css"));
                link rel="stylesheet" href=(assets::url("report.css"));
                script src=(assets::url("app.js")) defer {}
            }
            body {
                header.top {
                    a.brand href="/" { "capq" }
                    nav {
                        (link(Nav::Overview, "/", "Overview"))
                        (link(Nav::Workers, "/workers", "Workers"))
                        (link(Nav::Failed, "/failed", "Failed"))
                        (link(Nav::Runs, "/runs", "Runs"))
                    }
                    span.spacer {}
                    span #live-status .live { "" }
                    button #live-toggle type="button" hidden { "Pause updates" }
                    @if ctx.token_required {
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(ctx.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                div #suspension data-live {
                    @if suspended {
                        div.banner {
                            strong { "Processing is suspended." }
                            span { "Workers finish the jobs they are running and take no new ones." }
                            (action(ctx, "/resume", "Resume processing", "Resume processing on every queue?", "primary", &[]))
                        }
                    }
                }
                @if let Some((kind, message)) = &ctx.flash {
                    div.flash.done[*kind == FlashKind::Done].refused[*kind == FlashKind::Refused] role="status" {
                        (message)
                    }
                }
                main { (content) }
                footer {
                    "capq dashboard · Redis " (ctx.redis_url) " · "
                    @if suspended {
                        "suspended"
                    } @else {
                        (action(ctx, "/suspend", "Suspend processing",
                            "Suspend processing? Workers finish running jobs and take no new ones until resumed.", "", &[]))
                    }
                }
            }
        }
    }
}

/// A button that posts an action, asking `confirm` first (by script, or on a page of its own
/// without script). `fields` are extra hidden fields.
pub fn action(
    ctx: &PageCtx,
    url: &str,
    label: &str,
    confirm: &str,
    class: &str,
    fields: &[(&str, &str)],
) -> Markup {
    html! {
        form.inline method="post" action=(url) data-confirm=(confirm) {
            input type="hidden" name="csrf" value=(ctx.csrf);
            input type="hidden" name="back" value=(ctx.here);
            input type="hidden" name="confirmed" value="";
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" class=(class) { (label) }
        }
    }
}

/// A status as a coloured badge. Unknown statuses (the field is job-provided) get the plain
/// style.
pub fn badge(status: &str) -> Markup {
    const KNOWN: [&str; 12] = [
        "queued",
        "started",
        "finished",
        "failed",
        "stopped",
        "deferred",
        "scheduled",
        "canceled",
        "busy",
        "idle",
        "suspended",
        "expired",
    ];
    let class = if KNOWN.contains(&status) {
        format!("badge {status}")
    } else {
        "badge".to_owned()
    };
    html! { span class=(class) { (status) } }
}

/// A time cell: relative, with the absolute time on hover.
pub fn when(epoch: Option<f64>, now: f64) -> Markup {
    match epoch {
        Some(epoch) => html! {
            time datetime=(format::utc(epoch)) title=(format::utc(epoch)) { (format::ago(epoch, now)) }
        },
        None => html! { span.muted { "–" } },
    }
}

/// Page numbers from the query string: `page` (1-based) and `per_page`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Paging {
    pub page: Option<usize>,
    pub per_page: Option<usize>,
}

/// A resolved page: which one, its size, and the offset of its first row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PageAt {
    pub page: usize,
    pub per_page: usize,
    pub total: u64,
    pub pages: usize,
}

impl Paging {
    /// The page and size asked for, clamped: pages start at 1, sizes run from 1 to 500.
    pub fn resolve(&self, default_size: usize) -> (usize, usize) {
        let per_page = self.per_page.unwrap_or(default_size).clamp(1, 500);
        (self.page.unwrap_or(1).max(1), per_page)
    }
}

impl PageAt {
    pub fn new(page: usize, per_page: usize, total: u64) -> PageAt {
        let pages = (total as usize).div_ceil(per_page.max(1)).max(1);
        PageAt {
            page,
            per_page,
            total,
            pages,
        }
    }

    pub fn offset(page: usize, per_page: usize) -> usize {
        (page.saturating_sub(1)).saturating_mul(per_page)
    }
}

/// "1–50 of 100,000" and links to the first, nearby and last pages. `link` makes the URL of a
/// page.
pub fn pager(at: &PageAt, link: impl Fn(usize) -> String) -> Markup {
    // `?page=` can be any usize: saturate rather than overflow.
    let first = (PageAt::offset(at.page, at.per_page) as u64).saturating_add(1);
    let last = first.saturating_add(at.per_page as u64 - 1).min(at.total);
    let mut shown: Vec<usize> = vec![1, at.pages];
    shown.extend(at.page.saturating_sub(2).max(1)..=at.page.saturating_add(2).min(at.pages));
    shown.sort_unstable();
    shown.dedup();
    // Page numbers, with `None` where numbers are left out.
    let mut links: Vec<Option<usize>> = Vec::new();
    for page in shown {
        if links
            .last()
            .copied()
            .flatten()
            .is_some_and(|p| page > p + 1)
        {
            links.push(None);
        }
        links.push(Some(page));
    }
    html! {
        div.pager {
            span.at {
                @if at.total == 0 {
                    "none"
                } @else if first > at.total {
                    "past the last page (" (format::count(at.total)) " in all)"
                } @else {
                    (format::count(first)) "–" (format::count(last)) " of " (format::count(at.total))
                }
            }
            @if at.pages > 1 {
                @if at.page > 1 {
                    a href=(link(at.page - 1)) rel="prev" { "‹ Prev" }
                }
                @for page in &links {
                    @match page {
                        Some(page) => a.current[*page == at.page] href=(link(*page)) { (format::count(*page as u64)) },
                        None => span.gap { "…" },
                    }
                }
                @if at.page < at.pages {
                    a href=(link(at.page + 1)) rel="next" { "Next ›" }
                }
            }
        }
    }
}

/// One row of a job list, as the API gives it.
#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    pub id: String,
    pub queue: String,
    /// `None` when the registry still lists the job but its record has expired.
    pub status: Option<String>,
    pub function: Option<String>,
    pub description: String,
    pub created_at: Option<f64>,
    pub enqueued_at: Option<f64>,
    pub started_at: Option<f64>,
    pub ended_at: Option<f64>,
    pub worker: String,
    /// The registry's score (see `capq_redis::PageEntry::score`).
    pub score: Option<f64>,
    /// The last line of the latest error.
    pub error: Option<String>,
    /// A one-line summary of the return value.
    pub result: Option<String>,
    pub attempts: u64,
}

impl JobRow {
    pub fn from_entry(entry: &PageEntry) -> JobRow {
        match &entry.job {
            Some(job) => JobRow::from_job(job, entry.score),
            None => JobRow {
                id: entry.id.clone(),
                queue: entry.queue.clone(),
                status: None,
                function: None,
                description: String::new(),
                created_at: None,
                enqueued_at: None,
                started_at: None,
                ended_at: None,
                worker: String::new(),
                score: entry.score,
                error: None,
                result: None,
                attempts: 0,
            },
        }
    }

    pub fn from_job(job: &JobInfo, score: Option<f64>) -> JobRow {
        let failed = matches!(job.status.as_str(), "failed" | "stopped");
        JobRow {
            id: job.id.clone(),
            queue: job.queue.clone(),
            status: Some(job.status.clone()),
            function: job
                .call
                .as_ref()
                .and_then(|c| c.as_ref().ok())
                .map(|c| c.func.clone()),
            description: job.description.clone(),
            created_at: format::epoch_of(&job.created_at),
            enqueued_at: format::epoch_of(&job.enqueued_at),
            started_at: format::epoch_of(&job.started_at),
            ended_at: format::epoch_of(&job.ended_at),
            worker: job.worker_name.clone(),
            score,
            error: job
                .latest
                .as_ref()
                .and_then(|r| r.error.as_deref())
                .filter(|_| failed || job.status == "scheduled")
                .map(format::error_summary),
            result: values::latest_return_value(job)
                .and_then(Result::ok)
                .map(|v| values::summary(&v)),
            attempts: job.attempts,
        }
    }
}

/// The URL of a job's page.
pub fn job_url(id: &str) -> String {
    format!("/jobs/{}", format::segment(id))
}

/// The URL of a queue's page, on one state's tab.
pub fn queue_url(queue: &str, state: &str) -> String {
    format!("/queues/{}?state={state}", format::segment(queue))
}

/// What a job list shows besides the job: which time, and whether errors or results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Queued,
    Started,
    Finished,
    Failed,
    Deferred,
    Scheduled,
    Canceled,
}

impl ListKind {
    pub fn of(state: capq_redis::Registry) -> ListKind {
        use capq_redis::Registry as R;
        match state {
            R::Queued => ListKind::Queued,
            R::Started => ListKind::Started,
            R::Finished => ListKind::Finished,
            R::Failed => ListKind::Failed,
            R::Deferred => ListKind::Deferred,
            R::Scheduled => ListKind::Scheduled,
            R::Canceled => ListKind::Canceled,
        }
    }
}

/// A table of jobs with the actions that fit each. `select` names the bulk form whose
/// checkboxes each row gets (failure lists).
pub fn job_table(
    ctx: &PageCtx,
    rows: &[JobRow],
    kind: ListKind,
    show_queue: bool,
    select: Option<&str>,
) -> Markup {
    let time_header = match kind {
        ListKind::Queued => "enqueued",
        ListKind::Started => "started",
        ListKind::Finished | ListKind::Failed => "ended",
        ListKind::Deferred => "created",
        ListKind::Scheduled => "runs",
        ListKind::Canceled => "canceled",
    };
    html! {
        table.jobs {
            thead {
                tr {
                    @if let Some(form) = select {
                        th { input type="checkbox" data-select-all=(form) aria-label="Tick all"; }
                    }
                    th { "job" }
                    @if show_queue { th { "queue" } }
                    th { "status" }
                    th { (time_header) }
                    @if kind != ListKind::Queued && kind != ListKind::Deferred { th { "worker" } }
                    @match kind {
                        ListKind::Finished => th { "result" },
                        ListKind::Failed | ListKind::Scheduled => th { "error" },
                        ListKind::Started => th { "running for" },
                        _ => {},
                    }
                    th.actions { "" }
                }
            }
            tbody {
                @if rows.is_empty() {
                    tr { td.muted colspan="8" { "No jobs here." } }
                }
                @for row in rows {
                    tr {
                        @if let Some(form) = select {
                            td { input type="checkbox" name="ids" value=(row.id) form=(form) aria-label="Tick"; }
                        }
                        td.desc {
                            a.mono href=(job_url(&row.id)) { (format::truncate(&row.id, 40)) }
                            br;
                            @if row.status.is_some() {
                                span title=(row.description) { (format::truncate(&row.description, 140)) }
                            } @else {
                                span.muted { "the job's record has expired or was deleted" }
                            }
                        }
                        @if show_queue {
                            td { a href=(queue_url(&row.queue, "queued")) { (row.queue) } }
                        }
                        td { (badge(row.status.as_deref().unwrap_or("expired"))) }
                        td {
                            @match kind {
                                ListKind::Queued => (when(row.enqueued_at, ctx.now)),
                                ListKind::Started => (when(row.started_at, ctx.now)),
                                ListKind::Finished | ListKind::Failed => (when(row.ended_at, ctx.now)),
                                ListKind::Deferred => (when(row.created_at, ctx.now)),
                                ListKind::Scheduled | ListKind::Canceled => (when(row.score, ctx.now)),
                            }
                        }
                        @if kind != ListKind::Queued && kind != ListKind::Deferred {
                            td.mono { (row.worker) }
                        }
                        @match kind {
                            ListKind::Finished => td { (row.result.as_deref().unwrap_or("")) },
                            ListKind::Failed | ListKind::Scheduled => td.error-text { (row.error.as_deref().unwrap_or("")) },
                            ListKind::Started => td {
                                (row.started_at.map(|s| format::duration(ctx.now - s)).unwrap_or_default())
                            },
                            _ => {},
                        }
                        td.actions { (row_actions(ctx, row)) }
                    }
                }
            }
        }
    }
}

/// The actions that fit a job in its state.
pub fn row_actions(ctx: &PageCtx, row: &JobRow) -> Markup {
    let url = |verb: &str| format!("{}/{verb}", job_url(&row.id));
    let short = format::truncate(&row.id, 40);
    html! {
        @match row.status.as_deref() {
            Some("queued" | "deferred" | "scheduled") => {
                (action(ctx, &url("cancel"), "Cancel", &format!("Cancel job {short}? It will not run."), "", &[]))
            }
            Some("started") => {
                (action(ctx, &url("stop"), "Stop", &format!("Stop job {short}? It is recorded as stopped."), "danger", &[]))
            }
            Some("failed" | "stopped") => {
                (action(ctx, &url("requeue"), "Requeue", &format!("Requeue job {short}?"), "", &[]))
            }
            _ => {}
        }
        (action(ctx, &url("delete"), "Delete", &format!("Delete job {short} and its results? This cannot be undone."), "danger", &[]))
    }
}
