//! `GET /metrics`: the fleet in Prometheus text format, read from Redis on each scrape (a
//! fixed handful of commands, whatever the registries' sizes):
//! - `capq_queue_jobs{queue,state}`: jobs per queue and state;
//! - `capq_jobs_finished_total`, `capq_jobs_failed_total`: jobs that ended for good, fleet-wide;
//! - `capq_job_duration_seconds`: a histogram of their run times;
//! - `capq_workers{state}` and, per worker, `capq_worker_successful_jobs` /
//!   `capq_worker_failed_jobs` (RQ's worker counters);
//! - `capq_batch_jobs{batch,state}` for the batches the overview shows;
//! - `capq_suspended`: 1 while processing is suspended.
//!
//! Each worker also serves its own `/metrics` on `--metrics-bind`.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use capq_redis::dashboard::DURATION_BUCKETS;

use crate::error::ApiError;
use crate::state::AppState;

/// A label value, escaped as the exposition format wants.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// `GET /metrics`.
pub async fn serve(State(state): State<AppState>) -> Result<Response, ApiError> {
    let redis = state.redis();
    let (queues, workers, stats, suspended, (_, batches)) = state
        .read(async {
            tokio::try_join!(
                redis.queue_counts(),
                redis.workers(),
                redis.fleet_stats(),
                redis.is_suspended(),
                redis.batches(state.config().batches_shown),
            )
        })
        .await?;
    let mut out = String::with_capacity(4096);

    family(
        &mut out,
        "capq_queue_jobs",
        "gauge",
        "Jobs per queue and state.",
    );
    let states = crate::pages::queue::TABS;
    for queue in &queues {
        for registry in states {
            let _ = writeln!(
                out,
                "capq_queue_jobs{{queue=\"{}\",state=\"{}\"}} {}",
                label(&queue.name),
                registry.name(),
                queue.get(registry)
            );
        }
    }

    family(
        &mut out,
        "capq_jobs_finished_total",
        "counter",
        "Jobs that finished, fleet-wide, since the statistics began.",
    );
    let _ = writeln!(out, "capq_jobs_finished_total {}", stats.finished);
    family(
        &mut out,
        "capq_jobs_failed_total",
        "counter",
        "Jobs that failed for good (errors, timeouts, stops), fleet-wide.",
    );
    let _ = writeln!(out, "capq_jobs_failed_total {}", stats.failed);

    family(
        &mut out,
        "capq_job_duration_seconds",
        "histogram",
        "Run time of the jobs that ended, fleet-wide.",
    );
    let mut cumulative = 0u64;
    for ((bound, le), n) in DURATION_BUCKETS.iter().zip(&stats.durations) {
        cumulative += n;
        let le = if bound.is_finite() { *le } else { "+Inf" };
        let _ = writeln!(
            out,
            "capq_job_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
        );
    }
    if DURATION_BUCKETS.last().is_some_and(|(b, _)| b.is_finite()) {
        let _ = writeln!(
            out,
            "capq_job_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
    }
    let _ = writeln!(out, "capq_job_duration_seconds_sum {}", stats.duration_sum);
    let _ = writeln!(out, "capq_job_duration_seconds_count {cumulative}");

    family(
        &mut out,
        "capq_workers",
        "gauge",
        "Workers online, by state.",
    );
    let mut by_state: Vec<(String, u64)> = Vec::new();
    for worker in &workers {
        match by_state.iter_mut().find(|(s, _)| *s == worker.state) {
            Some((_, n)) => *n += 1,
            None => by_state.push((worker.state.clone(), 1)),
        }
    }
    for known in ["busy", "idle"] {
        if !by_state.iter().any(|(s, _)| s == known) {
            by_state.push((known.to_owned(), 0));
        }
    }
    by_state.sort();
    for (worker_state, n) in &by_state {
        let _ = writeln!(out, "capq_workers{{state=\"{}\"}} {n}", label(worker_state));
    }
    family(
        &mut out,
        "capq_worker_successful_jobs",
        "gauge",
        "Jobs each online worker finished (RQ's worker counter).",
    );
    for worker in &workers {
        let _ = writeln!(
            out,
            "capq_worker_successful_jobs{{worker=\"{}\"}} {}",
            label(&worker.name),
            worker.successful_jobs
        );
    }
    family(
        &mut out,
        "capq_worker_failed_jobs",
        "gauge",
        "Jobs each online worker failed (RQ's worker counter).",
    );
    for worker in &workers {
        let _ = writeln!(
            out,
            "capq_worker_failed_jobs{{worker=\"{}\"}} {}",
            label(&worker.name),
            worker.failed_jobs
        );
    }

    family(
        &mut out,
        "capq_batch_jobs",
        "gauge",
        "Jobs of the latest batches of capq enqueue, by progress.",
    );
    for batch in &batches {
        let done = batch.finished + batch.failed;
        let remaining = batch.size.saturating_sub(done);
        for (progress, n) in [
            ("finished", batch.finished),
            ("failed", batch.failed),
            ("remaining", remaining),
        ] {
            let _ = writeln!(
                out,
                "capq_batch_jobs{{batch=\"{}\",description=\"{}\",state=\"{progress}\"}} {n}",
                label(&batch.id),
                label(&batch.description)
            );
        }
    }

    family(
        &mut out,
        "capq_suspended",
        "gauge",
        "1 while processing is suspended.",
    );
    let _ = writeln!(out, "capq_suspended {}", u8::from(suspended));

    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
