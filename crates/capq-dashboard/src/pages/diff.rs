//! `/diff?folder=&a=&b=`: what moved between two runs of one folder of `--runs`, with the views
//! of `capq diff A B --output DIR`: provenance, the days by outcome, rows added, removed and
//! changed with per-column counts and sample rows, drop reasons, system and per-route on-time
//! performance A against B (percentage points, both Wilson intervals, the p50 shift), the class
//! transition matrix whose early/on-time/late corner explains the change, and where the moved
//! rows are. `a` and `b` are run ids, `latest` or `latest~N` (by default `latest~1` and
//! `latest`, in the first folder), and `profile` the on-time window (`capq diff --profile`'s
//! names; by default tcqsm); a form on the page picks them.
//!
//! Everything is drawn from the `capq_diff::Diff` the library returns, with the library's own
//! formatters, so the page, the terminal view and `/api/diff` (the `Diff` serialized, as
//! `capq diff --json`) show the same figures. The diff is computed on a blocking thread
//! (`runs.rs`), once per page load: live refreshes get the layout alone (`runs.rs`'s doc says
//! why). An unknown run or folder is a 404 that names it and shows the form again.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use capmetrics::Date;
use capq_aggregate::{Profile, WindowChoice};
use capq_diff::Class;
use capq_diff::render::{
    clean, count, grouped, headline, interval, medians, percent, points, share, signed,
};
use capq_diff::report::{OtpChange, Share};
use maud::{Markup, html};
use serde::Deserialize;

use super::runs::{configured, is_live, run_url, suspended};
use super::{Nav, PageCtx, layout};
use crate::error::{Error, Result};
use crate::extract::QueryParams;
use crate::runs::Compared;
use crate::state::AppState;

/// The window `capq diff` uses unless told otherwise (`WindowChoice::default()`).
const DEFAULT_PROFILE: Profile = Profile::Tcqsm;

/// The query of `/diff` and `/api/diff`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DiffQuery {
    /// The folder's key (`1`, …); the first folder when absent.
    pub folder: Option<String>,
    pub a: Option<String>,
    pub b: Option<String>,
    /// The on-time window's profile (`tcqsm`, …); the default when absent.
    pub profile: Option<String>,
}

/// What was asked for, with the defaults filled in.
#[derive(Debug, Clone)]
pub struct Asked {
    pub folder: String,
    pub a: String,
    pub b: String,
    pub profile: String,
}

impl DiffQuery {
    fn asked(&self) -> Asked {
        let text = |v: &Option<String>, default: &str| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .unwrap_or(default)
                .to_owned()
        };
        Asked {
            folder: text(&self.folder, "1"),
            a: text(&self.a, "latest~1"),
            b: text(&self.b, "latest"),
            profile: text(&self.profile, DEFAULT_PROFILE.name()),
        }
    }
}

/// The diff the query asks for.
pub async fn load(state: &AppState, query: &DiffQuery) -> Result<Compared> {
    let asked = query.asked();
    let runs = configured(state)?;
    let folder = runs.folder(&asked.folder)?;
    let profile = asked
        .profile
        .parse::<Profile>()
        .map_err(|e| Error::BadRequest(format!("profile: {e}")))?;
    runs.diff(folder, &asked.a, &asked.b, WindowChoice::Profile(profile))
        .await
}

/// `GET /diff`.
pub async fn page(
    State(state): State<AppState>,
    ctx: PageCtx,
    headers: HeaderMap,
    QueryParams(query): QueryParams<DiffQuery>,
) -> Result<Response> {
    let asked = query.asked();
    let title = format!("Diff {} → {}", asked.a, asked.b);
    let suspended = suspended(&state).await;
    if is_live(&headers) {
        return Ok(layout(&ctx, Nav::Runs, &title, suspended, html! {}).into_response());
    }
    configured(&state)?;
    let form = form(&state, &asked);
    match load(&state, &query).await {
        Ok(compared) => {
            let content = html! { (form) (render(&asked, &compared)) };
            Ok(layout(&ctx, Nav::Runs, &title, suspended, content).into_response())
        }
        // A run or folder that is not there: the form again, to pick another.
        Err(error @ Error::NotFound(_)) => {
            let content = html! {
                (form)
                div.panel {
                    h2 { "Not found" }
                    p.error-message #error-message { (error.message()) }
                }
            };
            let page = layout(&ctx, Nav::Runs, &title, suspended, content);
            Ok((StatusCode::NOT_FOUND, page).into_response())
        }
        Err(error) => Err(error),
    }
}

/// The form that picks the folder and the two runs.
fn form(state: &AppState, asked: &Asked) -> Markup {
    let folders: Vec<(String, String)> = state
        .config()
        .runs
        .iter()
        .flat_map(|runs| runs.folders())
        .map(|(key, folder)| (key, folder.root().to_string()))
        .collect();
    html! {
        form.diff-form.panel method="get" action="/diff" {
            h1 { "Diff two runs" }
            div.toolbar {
                label { "folder "
                    select name="folder" {
                        @for (key, location) in &folders {
                            option value=(key) selected[*key == asked.folder] { (key) ": " (location) }
                        }
                    }
                }
                label { "A " input type="text" name="a" value=(asked.a) size="24" aria-label="run A"; }
                label { "B " input type="text" name="b" value=(asked.b) size="24" aria-label="run B"; }
                label { "window "
                    select name="profile" {
                        @for profile in Profile::ALL {
                            option value=(profile.name()) selected[profile.name() == asked.profile] {
                                (profile.name()) " " (profile.window().to_string()) " s"
                            }
                        }
                    }
                }
                button.primary type="submit" { "Compare" }
                span.muted { "a run id, " code { "latest" } " or " code { "latest~N" } }
            }
        }
    }
}

fn render(asked: &Asked, c: &Compared) -> Markup {
    let d = &c.diff;
    html! {
        div.panel.diff-sides {
            h2 {
                "A " a.mono href=(run_url(&asked.folder, &c.a)) { (c.a) }
                " → B " a.mono href=(run_url(&asked.folder, &c.b)) { (c.b) }
            }
            p.muted {
                "A: " (d.a.label) " (" (count(d.a.days as u64, "day", "days")) ") · B: " (d.b.label)
                " (" (count(d.b.days as u64, "day", "days")) ") · compared in "
                (format!("{:.2} s", c.seconds))
            }
            @for (name, missing) in [("A", &c.missing_a), ("B", &c.missing_b)] {
                @if !missing.is_empty() {
                    p.muted { (name) " has no readable output (kept version gone, or not recorded yet) for "
                        (count(missing.len() as u64, "day", "days"))
                        ": " (days_text(missing)) "; they are left out." }
                }
            }
            @for note in &d.notes {
                p.muted { "Note: " (clean(note).into_owned()) }
            }
            (provenance(c))
        }
        (days(c))
        @if !d.differs() {
            div.panel #no-differences { p { b { "No differences." } " Every day both runs hold is identical or equivalent." } }
            (otp(c))
        } @else {
            (rows(c))
            (drops(c))
            (otp(c))
            (transitions(c))
            (places(c))
            (samples(c))
            (per_day(c))
        }
    }
}

fn days_text(days: &[Date]) -> String {
    days.iter()
        .map(Date::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn provenance(c: &Compared) -> Markup {
    let p = &c.diff.provenance;
    let value = |v: &Option<String>| v.as_deref().unwrap_or("–").to_owned();
    html! {
        h2 { "Provenance" }
        @if p.fields.is_empty() && p.params.is_empty() && p.inputs_changed.is_empty() {
            p #provenance-same { "Same processor, parameters and inputs." }
        } @else {
            table.provenance {
                thead { tr { th { "" } th { "A" } th { "B" } } }
                tbody {
                    @for f in &p.fields {
                        tr { td { (f.name.replace('_', " ")) } td.mono { (value(&f.a)) } td.mono { (value(&f.b)) } }
                    }
                    @for f in &p.params {
                        tr.param { td { "parameter " span.mono { (f.name) } } td.mono { (value(&f.a)) } td.mono { (value(&f.b)) } }
                    }
                }
            }
            @if !p.inputs_changed.is_empty() {
                p { "Inputs changed on " (count(p.inputs_changed.len() as u64, "day", "days")) ": "
                    span.mono { (days_text(&p.inputs_changed)) } }
            }
        }
    }
}

fn days(c: &Compared) -> Markup {
    let d = &c.diff.days;
    let failing: Vec<Date> = d.newly_failing.iter().map(|f| f.day).collect();
    let lists: [(&str, &str, &[Date]); 7] = [
        ("changed", "days-changed", &d.changed),
        ("added", "days-added", &d.added),
        ("removed", "days-removed", &d.removed),
        ("equivalent", "days-equivalent", &d.equivalent),
        ("newly failing", "days-newly-failing", &failing),
        ("fixed", "days-fixed", &d.fixed),
        ("still failing", "days-still-failing", &d.still_failing),
    ];
    html! {
        div.panel {
            h2 { "Days" }
            div.tiles {
                div.tile #days-identical {
                    div.label { "identical" }
                    div.value { (grouped(d.identical as u64)) }
                    div.sub { (grouped(d.identical_by_hash as u64)) " known by hash, unread" }
                }
                @for (name, id, list) in &lists {
                    div.tile.moved[!list.is_empty()] id=(id) {
                        div.label { (name) }
                        div.value { (grouped(list.len() as u64)) }
                    }
                }
            }
            @for (name, _, list) in &lists {
                @if !list.is_empty() && *name != "newly failing" {
                    p { b { (name) ": " } span.mono { (days_text(list)) } }
                }
            }
            @if !d.newly_failing.is_empty() {
                table.failing {
                    thead { tr { th { "newly failing" } th { "error in B" } } }
                    tbody {
                        @for f in &d.newly_failing {
                            tr { td.mono { (f.day) } td.error-text { (f.error) } }
                        }
                    }
                }
            }
        }
    }
}

fn rows(c: &Compared) -> Markup {
    let r = &c.diff.rows;
    html! {
        div.panel {
            h2 { "Rows " small { "joined on day, trip_id, stop_id" } }
            div.tiles {
                div.tile #rows-added { div.label { "added" } div.value { (grouped(r.added)) } }
                div.tile #rows-removed { div.label { "removed" } div.value { (grouped(r.removed)) } }
                div.tile #rows-changed { div.label { "changed" } div.value { (grouped(r.changed)) } }
                div.tile #rows-unchanged { div.label { "unchanged" } div.value { (grouped(r.unchanged)) } }
            }
            @if !r.columns.is_empty() {
                table.columns {
                    thead { tr { th { "column" } th.num { "changed rows whose value in it differs" } } }
                    tbody {
                        @for col in &r.columns {
                            tr { td.mono { (col.column) } td.num { (grouped(col.rows)) } }
                        }
                    }
                }
            }
        }
    }
}

fn drops(c: &Compared) -> Markup {
    let Some(drops) = &c.diff.drops else {
        return html! {};
    };
    let row = |name: &str, change: &capq_diff::report::Change| {
        html! {
            tr.moved[change.change != 0] {
                td.mono { (name) }
                td.num { (grouped(change.a)) }
                td.num { (grouped(change.b)) }
                td.num { (signed(change.change)) }
            }
        }
    };
    html! {
        div.panel {
            h2 { "Rows dropped per reason " small { "over " (count(drops.days as u64, "day", "days")) " both runs recorded" } }
            table.drops {
                thead { tr { th { "" } th.num { "A" } th.num { "B" } th.num { "change" } } }
                tbody {
                    (row("rows in", &drops.rows_in))
                    (row("rows out", &drops.rows_out))
                    @for reason in &drops.reasons {
                        (row(reason.reason, &reason.count))
                    }
                }
            }
        }
    }
}

fn otp_row(name: &str, change: &OtpChange, id: Option<&str>) -> Markup {
    let direction = match change.change_pp {
        Some(x) if x > 0.0 => "up",
        Some(x) if x < 0.0 => "down",
        _ => "",
    };
    html! {
        tr id=[id] {
            td { (name) }
            td.num { (percent(change.a.otp)) }
            td.num.muted { (interval(change.a.otp_lo, change.a.otp_hi)) }
            td.num { (percent(change.b.otp)) }
            td.num.muted { (interval(change.b.otp_lo, change.b.otp_hi)) }
            td.num.change class=(direction) { (points(change.change_pp)) }
            td { (medians(change)) }
        }
    }
}

fn otp(c: &Compared) -> Markup {
    let d = &c.diff;
    let w = &d.window;
    let o = &d.otp;
    let bound = |b: Option<i64>| b.map_or_else(|| "none".to_owned(), |v| v.to_string());
    html! {
        div.panel {
            h2 {
                "On-time performance "
                small { (w.profile.unwrap_or("custom")) " window " (bound(w.early)) ".." (bound(w.late)) " s, 95 % Wilson intervals" }
            }
            table.otp {
                thead {
                    tr {
                        th { "" } th.num { "A" } th.num { "interval" } th.num { "B" } th.num { "interval" }
                        th.num { "change" } th { "p50" }
                    }
                }
                tbody {
                    (otp_row(&format!("system ({} used rows in B)", grouped(o.system.b.used)), &o.system, Some("otp-system")))
                    @if let Some(changed) = o.changed_days.as_ref().filter(|ch| ch.a != o.system.a || ch.b != o.system.b) {
                        (otp_row(&format!("changed days ({})", d.days.changed.len()), changed, Some("otp-changed-days")))
                    }
                    @for route in &o.routes {
                        (otp_row(&format!("route {}", route.route_id), &route.change, None))
                    }
                }
            }
            @if o.routes.is_empty() {
                p.muted { "No route's figures moved." }
            }
        }
    }
}

fn transitions(c: &Compared) -> Markup {
    let t = &c.diff.transitions;
    let name = |class: Class, absent: &'static str| match class {
        Class::Absent => absent,
        other => other.label(),
    };
    let on_time = t.net.iter().find(|f| f.class == Class::OnTime.key());
    html! {
        div.panel {
            h2 { "Row classes " small { "A (rows) → B (columns); the early / on time / late corner is the 3×3 matrix of rows used on both sides" } }
            table.matrix #transitions {
                thead {
                    tr {
                        th { "A \\ B" }
                        @for b in Class::ALL { th.num { (name(b, "removed")) } }
                    }
                }
                tbody {
                    @for a in Class::ALL {
                        tr {
                            th { (name(a, "added")) }
                            @for b in Class::ALL {
                                @let n = t.count(a, b);
                                @let corner = used(a) && used(b);
                                td.num.corner[corner].moved[a != b && n > 0] {
                                    @if !(a == Class::Absent && b == Class::Absent) { (grouped(n)) }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(flow) = on_time {
                p #on-time-flow {
                    "On time " (grouped(flow.count.a)) " → " (grouped(flow.count.b)) " (" (signed(flow.count.change)) ")"
                    @for (from, n) in &flow.from {
                        " · " span.up { "+" (grouped(*n)) " from " (if *from == "absent" { "added" } else { from }) }
                    }
                    @for (to, n) in &flow.to {
                        " · " span.down { "−" (grouped(*n)) " to " (if *to == "absent" { "removed" } else { to }) }
                    }
                }
            }
        }
    }
}

/// The classes of a row the statistics use: the 3×3 corner of the matrix.
fn used(class: Class) -> bool {
    matches!(class, Class::Early | Class::OnTime | Class::Late)
}

fn ranking(name: &str, shares: &[Share]) -> Markup {
    html! {
        @if !shares.is_empty() {
            table.ranking {
                thead {
                    tr { th { (name) } th.num { "moved rows" } th.num { "share" } th.num { "added" } th.num { "removed" } th.num { "changed" } }
                }
                tbody {
                    @for s in shares {
                        tr {
                            td.mono { (s.key) }
                            td.num { (grouped(s.rows)) }
                            td.num { (share(s.share)) }
                            td.num { (grouped(s.added)) }
                            td.num { (grouped(s.removed)) }
                            td.num { (grouped(s.changed)) }
                        }
                    }
                }
            }
        }
    }
}

fn places(c: &Compared) -> Markup {
    let p = &c.diff.places;
    html! {
        div.panel {
            h2 { "Where the " (grouped(p.rows)) " moved rows are" }
            @if let Some(top) = headline(&c.diff) {
                p #where-headline { b { (top) } }
            }
            div.grid2.rankings {
                (ranking("route", &p.by_route))
                (ranking("hour", &p.by_hour))
                (ranking("day", &p.by_day))
                (ranking("stop", &p.by_stop))
            }
            @if !p.by_drop_reason.is_empty() {
                table.ranking {
                    thead { tr { th { "drop reason" } th.num { "change" } th.num { "share of the change" } } }
                    tbody {
                        @for r in &p.by_drop_reason {
                            tr { td.mono { (r.reason) } td.num { (signed(r.change)) } td.num { (share(r.share)) } }
                        }
                    }
                }
            }
        }
    }
}

fn samples(c: &Compared) -> Markup {
    let s = &c.diff.rows.samples;
    if s.changed.is_empty() && s.added.is_empty() && s.removed.is_empty() {
        return html! {};
    }
    let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "(no column)".to_owned());
    html! {
        div.panel {
            h2 { "Sample rows " small { "A → B" } }
            table.samples {
                thead { tr { th { "row" } th { "column" } th { "A" } th { "B" } } }
                tbody {
                    @for row in &s.changed {
                        @for (i, change) in row.changes.iter().enumerate() {
                            tr.changed {
                                td {
                                    @if i == 0 {
                                        "changed " span.mono { (row.day) " trip " (row.trip_id) " stop " (row.stop_id) } " (route " (row.route_id) ")"
                                    }
                                }
                                td.mono { (change.column) }
                                td.mono { (cell(&change.before)) }
                                td.mono { (cell(&change.after)) }
                            }
                        }
                    }
                    @for (kind, list) in [("added", &s.added), ("removed", &s.removed)] {
                        @for row in list {
                            tr class=(kind) {
                                td { (kind) " " span.mono { (row.day) " trip " (row.trip_id) " stop " (row.stop_id) } " (route " (row.route_id) ")" }
                                td { "" }
                                td.mono colspan="2" {
                                    @for (column, value) in &row.fields {
                                        span.field { (column) "=" (value) } " "
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

fn per_day(c: &Compared) -> Markup {
    let days = &c.diff.per_day;
    if days.is_empty() {
        return html! {};
    }
    html! {
        div.panel {
            h2 { "Days that are not identical " small { (days.len()) } }
            table.per-day {
                thead {
                    tr { th { "day" } th { "status" } th.num { "added" } th.num { "removed" } th.num { "changed" } th.num { "unchanged" } th { "header" } }
                }
                tbody {
                    @for day in days {
                        tr {
                            td.mono { (day.day) }
                            td { (day.status.replace('_', " ")) }
                            td.num { (grouped(day.rows_added)) }
                            td.num { (grouped(day.rows_removed)) }
                            td.num { (grouped(day.rows_changed)) }
                            td.num { (grouped(day.rows_unchanged)) }
                            td.mono {
                                @if let Some(h) = &day.header {
                                    (h.a.join(",")) " → " (h.b.join(","))
                                }
                            }
                        }
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
    fn the_latest_two_runs_of_the_first_folder_unless_asked_otherwise() {
        let asked = DiffQuery::default().asked();
        assert_eq!(
            (asked.folder.as_str(), asked.a.as_str(), asked.b.as_str()),
            ("1", "latest~1", "latest")
        );
        assert_eq!(asked.profile, "tcqsm");
        assert_eq!(
            WindowChoice::default(),
            WindowChoice::Profile(DEFAULT_PROFILE)
        );
        let query = DiffQuery {
            folder: Some("2".into()),
            a: Some(" run-1-aaaa ".into()),
            b: Some("".into()),
            profile: Some("wmata".into()),
        };
        let asked = query.asked();
        assert_eq!(
            (asked.folder.as_str(), asked.a.as_str(), asked.b.as_str()),
            ("2", "run-1-aaaa", "latest")
        );
        assert_eq!(asked.profile, "wmata");
    }
}
