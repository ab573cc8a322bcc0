//! The actions: requeue failed jobs (some, or all of a queue or of every queue), delete jobs,
//! cancel waiting ones, stop a running one, empty a queue, suspend and resume processing.
//!
//! Every action is a POST (axum answers a GET on these paths with 405), passes the guard's
//! CSRF check, and is confirmed: the page's script asks first and marks the form
//! `confirmed=1`; without it the server answers with a page that asks, whose form posts again
//! with the mark. Browsers then go back where they came from (`back`, same-site only) with a
//! flash message saying what happened or why nothing did. The `/api/...` twins take the same
//! actions and answer JSON.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use capq_redis::CancelOutcome;
use maud::html;
use serde::Serialize;

use crate::cookies::{self, FlashKind};
use crate::error::{Error, Result};
use crate::extract::PathParams;
use crate::format;
use crate::pages::{Nav, PageCtx, layout};
use crate::redirect::{local_target, see_other};
use crate::state::AppState;

/// The most ids one request may name.
const MAX_IDS: usize = 10_000;

/// One thing a person (or a program) asks the dashboard to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Put these failed jobs back on their queues.
    Requeue(Vec<String>),
    /// Put every failed job of a queue (or of every queue) back.
    RequeueAll(Option<String>),
    Delete(Vec<String>),
    /// Cancel jobs no worker has taken yet.
    Cancel(Vec<String>),
    /// Ask the worker running this job to stop it.
    Stop(String),
    /// Delete every queued job of a queue.
    Empty(String),
    Suspend,
    Resume,
}

/// What an action did. `done` is false when nothing could be done (the job was not failed,
/// not running, already gone): not an error of the dashboard, but worth telling.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub done: bool,
    pub message: String,
    /// The jobs it acted on, where it acts on jobs.
    pub ids: Vec<String>,
}

fn one_or_many(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", format::count(n as u64))
    }
}

fn ids_phrase(ids: &[String]) -> String {
    match ids {
        [id] => format!("job {}", format::truncate(id, 60)),
        _ => one_or_many(ids.len(), "job", "jobs"),
    }
}

impl Action {
    /// The action a job's `verb` names.
    pub fn for_job(id: String, verb: &str) -> Result<Action> {
        match verb {
            "requeue" => Ok(Action::Requeue(vec![id])),
            "delete" => Ok(Action::Delete(vec![id])),
            "cancel" => Ok(Action::Cancel(vec![id])),
            "stop" => Ok(Action::Stop(id)),
            _ => Err(Error::NotFound(format!(
                "no job action {verb:?}: expected requeue, delete, cancel or stop"
            ))),
        }
    }

    /// The action on failed jobs `verb` names: `requeue` the ids (or all of them, with `all`),
    /// or `delete` the ids.
    pub fn for_failed(verb: &str, ids: Vec<String>, all: bool) -> Result<Action> {
        let action = match (verb, all) {
            ("requeue", true) => return Ok(Action::RequeueAll(None)),
            ("requeue", false) => Action::Requeue(ids),
            ("delete", _) => Action::Delete(ids),
            _ => {
                return Err(Error::NotFound(format!(
                    "no action {verb:?} on failed jobs: expected requeue or delete"
                )));
            }
        };
        match &action {
            Action::Requeue(ids) | Action::Delete(ids) if ids.is_empty() => Err(Error::BadRequest(
                "no job was ticked: name at least one job id".to_owned(),
            )),
            Action::Requeue(ids) | Action::Delete(ids) if ids.len() > MAX_IDS => {
                Err(Error::BadRequest(format!(
                    "{} ids in one request is too many: at most {MAX_IDS}",
                    ids.len()
                )))
            }
            _ => Ok(action),
        }
    }

    /// The action on a queue `verb` names.
    pub fn for_queue(queue: String, verb: &str) -> Result<Action> {
        match verb {
            "requeue-failed" => Ok(Action::RequeueAll(Some(queue))),
            "empty" => Ok(Action::Empty(queue)),
            _ => Err(Error::NotFound(format!(
                "no queue action {verb:?}: expected requeue-failed or empty"
            ))),
        }
    }

    /// The question a person confirms.
    pub fn question(&self) -> String {
        match self {
            Action::Requeue(ids) => format!("Requeue {}?", ids_phrase(ids)),
            Action::RequeueAll(Some(queue)) => {
                format!("Requeue every failed job of queue {queue}?")
            }
            Action::RequeueAll(None) => "Requeue every failed job of every queue?".to_owned(),
            Action::Delete(ids) => format!(
                "Delete {} and the results? This cannot be undone.",
                ids_phrase(ids)
            ),
            Action::Cancel(ids) => format!("Cancel {}? It will not run.", ids_phrase(ids)),
            Action::Stop(id) => format!(
                "Stop job {}? It is recorded as stopped.",
                format::truncate(id, 60)
            ),
            Action::Empty(queue) => {
                format!("Delete every queued job of queue {queue}? This cannot be undone.")
            }
            Action::Suspend => {
                "Suspend processing? Workers finish running jobs and take no new ones until resumed."
                    .to_owned()
            }
            Action::Resume => "Resume processing on every queue?".to_owned(),
        }
    }

    /// The button that confirms it.
    fn label(&self) -> &'static str {
        match self {
            Action::Requeue(_) | Action::RequeueAll(_) => "Requeue",
            Action::Delete(_) => "Delete",
            Action::Cancel(_) => "Cancel the job",
            Action::Stop(_) => "Stop the job",
            Action::Empty(_) => "Empty the queue",
            Action::Suspend => "Suspend",
            Action::Resume => "Resume",
        }
    }

    fn dangerous(&self) -> bool {
        matches!(self, Action::Delete(_) | Action::Stop(_) | Action::Empty(_))
    }

    /// Does it.
    pub async fn perform(&self, state: &AppState) -> Result<Outcome> {
        let redis = state.redis();
        let outcome = match self {
            Action::Requeue(ids) => {
                let done = state.read(redis.requeue_failed(ids)).await?;
                let skipped = ids.len() - done.len().min(ids.len());
                let mut message = format!("Requeued {}.", ids_phrase(&done));
                if done.is_empty() {
                    message = format!(
                        "Nothing requeued: {} not failed (already requeued, or gone).",
                        if ids.len() == 1 {
                            "the job is"
                        } else {
                            "the jobs are"
                        }
                    );
                } else if skipped > 0 {
                    message.push_str(&format!(
                        " {} not failed, and left alone.",
                        one_or_many(skipped, "was", "were")
                    ));
                }
                Outcome {
                    done: !done.is_empty(),
                    message,
                    ids: done,
                }
            }
            Action::RequeueAll(queue) => {
                let done = state
                    .read(redis.requeue_all_failed(queue.as_deref()))
                    .await?;
                let place = match queue {
                    Some(queue) => format!("queue {queue}"),
                    None => "every queue".to_owned(),
                };
                Outcome {
                    done: !done.is_empty(),
                    message: if done.is_empty() {
                        format!("No failed job to requeue on {place}.")
                    } else {
                        format!(
                            "Requeued {} of {place}.",
                            one_or_many(done.len(), "failed job", "failed jobs")
                        )
                    },
                    ids: done,
                }
            }
            Action::Delete(ids) => {
                let existed = state.read(redis.delete_jobs(ids)).await?;
                Outcome {
                    done: existed > 0,
                    message: if existed == 0 {
                        format!("Nothing deleted: {} already gone.", ids_phrase(ids))
                    } else {
                        format!("Deleted {}.", one_or_many(existed as usize, "job", "jobs"))
                    },
                    ids: ids.clone(),
                }
            }
            Action::Cancel(ids) => {
                let outcomes = state.read(redis.cancel_jobs(ids)).await?;
                let canceled: Vec<String> = ids
                    .iter()
                    .zip(&outcomes)
                    .filter(|(_, o)| **o == CancelOutcome::Canceled)
                    .map(|(id, _)| id.clone())
                    .collect();
                let refusals: Vec<String> = ids
                    .iter()
                    .zip(&outcomes)
                    .filter_map(|(id, outcome)| {
                        let id = format::truncate(id, 60);
                        match outcome {
                            CancelOutcome::Canceled => None,
                            CancelOutcome::Missing => Some(format!("job {id} does not exist")),
                            CancelOutcome::Claimed => Some(format!(
                                "job {id} was already taken by a worker; stop it once it runs"
                            )),
                            CancelOutcome::NotWaiting(status) => {
                                Some(format!("job {id} is {status}, not waiting"))
                            }
                        }
                    })
                    .collect();
                let mut message = if canceled.is_empty() {
                    "Nothing canceled".to_owned()
                } else {
                    format!("Canceled {}", ids_phrase(&canceled))
                };
                if refusals.is_empty() {
                    message.push('.');
                } else {
                    message.push_str(&format!(": {}.", refusals.join("; ")));
                }
                Outcome {
                    done: !canceled.is_empty(),
                    message,
                    ids: canceled,
                }
            }
            Action::Stop(id) => {
                let worker = state.read(redis.stop_job(id)).await?;
                Outcome {
                    done: true,
                    message: format!(
                        "Asked worker {worker} to stop job {}.",
                        format::truncate(id, 60)
                    ),
                    ids: vec![id.clone()],
                }
            }
            Action::Empty(queue) => {
                let n = state.read(redis.empty_queue(queue)).await?;
                Outcome {
                    done: n > 0,
                    message: format!(
                        "Emptied queue {queue}: {} deleted.",
                        one_or_many(n as usize, "queued job", "queued jobs")
                    ),
                    ids: Vec::new(),
                }
            }
            Action::Suspend => {
                state.read(redis.suspend()).await?;
                Outcome {
                    done: true,
                    message: "Processing suspended: workers take no new jobs until resumed."
                        .to_owned(),
                    ids: Vec::new(),
                }
            }
            Action::Resume => {
                state.read(redis.resume()).await?;
                Outcome {
                    done: true,
                    message: "Processing resumed.".to_owned(),
                    ids: Vec::new(),
                }
            }
        };
        tracing::info!(action = ?self, message = %outcome.message, "dashboard action");
        Ok(outcome)
    }
}

/// A posted form's fields, in order (a field may repeat, as `ids` does).
#[derive(Debug, Clone, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// The fields of a form body; bytes that are not UTF-8 read as U+FFFD, never a refusal.
    pub fn parse(body: &[u8]) -> Form {
        Form(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Takes a browser's action: asks for confirmation unless the form says it was given, then
/// acts and goes back with a flash message. Refusals (no such job, not running) are flashed
/// too; only an unavailable Redis gets an error page.
async fn take(state: &AppState, ctx: &PageCtx, form: &Form, action: Result<Action>) -> Response {
    let back = local_target(form.get("back"));
    let action = match action {
        Ok(action) => action,
        Err(error) if error.status().is_client_error() => {
            return flash_back(&back, FlashKind::Refused, &error.message());
        }
        Err(error) => return error.into_response(),
    };
    if form.get("confirmed") != Some("1") {
        return confirm_page(ctx, form, &action, &back);
    }
    match action.perform(state).await {
        Ok(outcome) => {
            let kind = if outcome.done {
                FlashKind::Done
            } else {
                FlashKind::Refused
            };
            flash_back(&back, kind, &outcome.message)
        }
        Err(error) if error.status().is_client_error() => {
            flash_back(&back, FlashKind::Refused, &error.message())
        }
        Err(error) => error.into_response(),
    }
}

fn flash_back(back: &str, kind: FlashKind, message: &str) -> Response {
    let mut response = see_other(back);
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookies::flash(kind, message));
    response
}

/// The page that asks before acting, for browsers without the script. Its form posts the same
/// fields again, marked confirmed.
fn confirm_page(ctx: &PageCtx, form: &Form, action: &Action, back: &str) -> Response {
    let content = html! {
        div.panel.confirm {
            h1 { "Are you sure?" }
            p #confirm-question { (action.question()) }
            form method="post" action=(ctx.here) {
                @for (name, value) in &form.0 {
                    @if name != "confirmed" {
                        input type="hidden" name=(name) value=(value);
                    }
                }
                input type="hidden" name="confirmed" value="1";
                button type="submit" class=(if action.dangerous() { "danger" } else { "primary" }) { (action.label()) }
                " "
                a href=(back) { "No, go back" }
            }
        }
    };
    layout(ctx, Nav::Overview, "Confirm", false, content).into_response()
}

/// `POST /jobs/{id}/{verb}`: requeue, delete, cancel or stop one job.
pub async fn job_form(
    State(state): State<AppState>,
    PathParams((id, verb)): PathParams<(String, String)>,
    ctx: PageCtx,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    take(&state, &ctx, &form, Action::for_job(id, &verb)).await
}

/// `POST /failed/{verb}`: requeue the ticked failed jobs (or all, with `all=1`), or delete
/// the ticked ones.
pub async fn failed_form(
    State(state): State<AppState>,
    PathParams(verb): PathParams<String>,
    ctx: PageCtx,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let action = Action::for_failed(&verb, form.all("ids"), form.get("all") == Some("1"));
    take(&state, &ctx, &form, action).await
}

/// `POST /queues/{name}/{verb}`: requeue a queue's failed jobs, or empty it.
pub async fn queue_form(
    State(state): State<AppState>,
    PathParams((queue, verb)): PathParams<(String, String)>,
    ctx: PageCtx,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    take(&state, &ctx, &form, Action::for_queue(queue, &verb)).await
}

/// `POST /suspend`.
pub async fn suspend_form(State(state): State<AppState>, ctx: PageCtx, body: Bytes) -> Response {
    take(&state, &ctx, &Form::parse(&body), Ok(Action::Suspend)).await
}

/// `POST /resume`.
pub async fn resume_form(State(state): State<AppState>, ctx: PageCtx, body: Bytes) -> Response {
    take(&state, &ctx, &Form::parse(&body), Ok(Action::Resume)).await
}

/// How an action answers a program: 200 with the outcome when something was done, 409 with
/// it when nothing could be.
pub fn outcome_response(outcome: Outcome) -> Response {
    let status = if outcome.done {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    (status, axum::Json(outcome)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_map_to_actions() {
        assert_eq!(
            Action::for_job("a".into(), "stop").ok(),
            Some(Action::Stop("a".into()))
        );
        assert!(Action::for_job("a".into(), "explode").is_err());
        assert_eq!(
            Action::for_failed("requeue", vec![], true).ok(),
            Some(Action::RequeueAll(None))
        );
        assert!(matches!(
            Action::for_failed("requeue", vec![], false),
            Err(Error::BadRequest(_))
        ));
        assert_eq!(
            Action::for_queue("q".into(), "empty").ok(),
            Some(Action::Empty("q".into()))
        );
        assert!(Action::for_queue("q".into(), "drop").is_err());
    }

    #[test]
    fn forms_keep_repeated_fields() {
        let form = Form::parse(b"csrf=x&ids=a&ids=b%3Cc&ids=&back=%2Ffailed");
        assert_eq!(form.all("ids"), vec!["a".to_owned(), "b<c".to_owned()]);
        assert_eq!(form.get("back"), Some("/failed"));
        assert_eq!(form.get("confirmed"), None);
    }
}
