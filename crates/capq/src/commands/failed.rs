//! `capq failed`: what failed and why, and putting it back to work.

use capq_redis::{JobInfo, Registry};
use serde_json::json;

use super::info::print_table;
use super::{connect, runtime};
use crate::cli::{FailedAction, FailedArgs};
use crate::exit::{self, UserError};
use crate::text::{counted, escaped, escaped_lines};

pub fn run(args: FailedArgs) -> anyhow::Result<u8> {
    runtime()?.block_on(async {
        let redis = connect(&args.redis.url).await?;
        match args.action {
            FailedAction::List { queue, json } => {
                let queues = match queue {
                    Some(q) => vec![q],
                    None => redis.queue_names().await?,
                };
                let mut jobs = Vec::new();
                for queue in &queues {
                    let ids = redis
                        .registry_ids(queue, Registry::Failed, 0, usize::MAX / 2)
                        .await?;
                    jobs.extend(redis.jobs(&ids).await?);
                }
                if json {
                    let list: Vec<_> = jobs.iter().map(job_json).collect();
                    println!("{}", serde_json::to_string_pretty(&list)?);
                } else {
                    let mut rows = vec![
                        ["id", "queue", "ended", "error", "job"]
                            .map(String::from)
                            .to_vec(),
                    ];
                    for job in &jobs {
                        let error = error_of(job);
                        let first = error
                            .lines()
                            .rev()
                            .find(|l| !l.trim().is_empty())
                            .unwrap_or_default();
                        rows.push(vec![
                            job.id.clone(),
                            job.queue.clone(),
                            job.ended_at.clone(),
                            shorten(first, 90),
                            shorten(&job.description, 60),
                        ]);
                    }
                    print_table(&rows);
                    eprintln!("{}", counted(jobs.len(), "failed job", "failed jobs"));
                }
                Ok(exit::SUCCESS)
            }
            FailedAction::Show { id } => {
                let Some(job) = redis.job(&id).await? else {
                    anyhow::bail!(UserError(format!("no job with id {id}")));
                };
                // Every value is job data, shown escaped; the error keeps its lines.
                println!("id:          {}", escaped(&job.id));
                println!("status:      {}", escaped(&job.status));
                println!("queue:       {}", escaped(&job.queue));
                println!("job:         {}", escaped(&job.description));
                println!("enqueued:    {}", escaped(&job.enqueued_at));
                println!("started:     {}", escaped(&job.started_at));
                println!("ended:       {}", escaped(&job.ended_at));
                println!("worker:      {}", escaped(&job.worker_name));
                println!(
                    "attempts:    {} (recovered {})",
                    job.attempts,
                    crate::text::count(job.recoveries, "time")
                );
                println!("error:\n{}", escaped_lines(&error_of(&job)));
                Ok(exit::SUCCESS)
            }
            FailedAction::Requeue { ids, all, queue } => {
                let requeued = if all {
                    redis.requeue_all_failed(queue.as_deref()).await?
                } else {
                    if ids.is_empty() {
                        anyhow::bail!(UserError("give job ids, or --all".into()));
                    }
                    redis.requeue_failed(&ids).await?
                };
                for id in &requeued {
                    println!("{}", escaped(id));
                }
                eprintln!("requeued {}", counted(requeued.len(), "job", "jobs"));
                if !all && requeued.len() < ids.len() {
                    let missing: Vec<_> = ids
                        .iter()
                        .filter(|id| !requeued.contains(id))
                        .cloned()
                        .collect();
                    anyhow::bail!(UserError(format!(
                        "not failed jobs, left alone: {}",
                        missing.join(", ")
                    )));
                }
                Ok(exit::SUCCESS)
            }
            FailedAction::Delete { ids } => {
                let deleted = redis.delete_jobs(&ids).await?;
                eprintln!("deleted {}", counted(deleted as usize, "job", "jobs"));
                if (deleted as usize) < ids.len() {
                    anyhow::bail!(UserError(format!(
                        "{} of the ids were not jobs",
                        ids.len() - deleted as usize
                    )));
                }
                Ok(exit::SUCCESS)
            }
        }
    })
}

fn error_of(job: &JobInfo) -> String {
    job.latest
        .as_ref()
        .and_then(|r| r.error.clone())
        .unwrap_or_else(|| "(no error recorded)".into())
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    short
}

fn job_json(job: &JobInfo) -> serde_json::Value {
    json!({
        "id": job.id, "status": job.status, "queue": job.queue, "description": job.description,
        "enqueued_at": job.enqueued_at, "started_at": job.started_at, "ended_at": job.ended_at,
        "worker": job.worker_name, "attempts": job.attempts, "recoveries": job.recoveries,
        "error": error_of(job),
    })
}
