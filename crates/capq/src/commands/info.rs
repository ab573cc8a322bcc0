//! `capq info`: queues with their jobs per registry, and workers with their state and current
//! job. Unlike `rq info`, it changes nothing.
//!
//! It ends with a warning line for each pinned queue (`capq_core::pin`) whose jobs wait for a
//! processor no live worker runs, such as a batch enqueued by a build not deployed yet.

use capq_redis::Registry;
use serde_json::json;

use super::{connect, runtime};
use crate::cli::InfoArgs;
use crate::exit;
use crate::text::{counted, escaped};

pub fn run(args: InfoArgs) -> anyhow::Result<u8> {
    runtime()?.block_on(async {
        let redis = connect(&args.redis.url).await?;
        let queues = redis.queue_counts().await?;
        let workers = redis.workers().await?;
        let suspended = redis.is_suspended().await?;
        let stranded = capq_redis::stranded_queues(&queues, &workers);
        if args.json {
            let queues: Vec<_> = queues
                .iter()
                .map(|q| {
                    let mut entry = json!({"name": q.name});
                    for registry in Registry::ALL {
                        entry[registry.name()] = json!(q.get(registry));
                    }
                    entry
                })
                .collect();
            let workers: Vec<_> = workers
                .iter()
                .map(|w| {
                    json!({
                        "name": w.name, "state": w.state, "queues": w.queues, "current_job": w.current_job,
                        "pid": w.pid, "hostname": w.hostname, "version": w.version, "birth": w.birth,
                        "last_heartbeat": w.last_heartbeat, "successful_jobs": w.successful_jobs,
                        "failed_jobs": w.failed_jobs, "total_working_time": w.total_working_time,
                    })
                })
                .collect();
            let stranded: Vec<_> = stranded
                .iter()
                .map(|s| {
                    json!({
                        "queue": s.queue, "base": s.base, "processor": s.processor, "waiting": s.waiting,
                        "workers_run": s.workers_run, "unpinned_workers": s.unpinned_workers,
                        "message": s.to_string(),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&json!({"suspended": suspended, "queues": queues, "workers": workers, "stranded": stranded}))?);
            return Ok(exit::SUCCESS);
        }
        let mut rows = vec![Registry::ALL.iter().fold(vec!["queue".to_owned()], |mut row, r| {
            row.push(r.name().to_owned());
            row
        })];
        for q in &queues {
            let mut row = vec![q.name.clone()];
            row.extend(Registry::ALL.iter().map(|&r| q.get(r).to_string()));
            rows.push(row);
        }
        print_table(&rows);
        println!();
        let mut rows = vec![["worker", "state", "queues", "current job", "ok", "failed"].map(String::from).to_vec()];
        for w in &workers {
            rows.push(vec![
                w.name.clone(),
                w.state.clone(),
                w.queues.join(","),
                w.current_job.clone().unwrap_or_else(|| "-".into()),
                w.successful_jobs.to_string(),
                w.failed_jobs.to_string(),
            ]);
        }
        print_table(&rows);
        println!(
            "\n{}, {}{}",
            counted(queues.len(), "queue", "queues"),
            counted(workers.len(), "worker", "workers"),
            if suspended { ", SUSPENDED" } else { "" }
        );
        for queue in &stranded {
            println!("warning: {}", escaped(&queue.to_string()));
        }
        Ok(exit::SUCCESS)
    })
}

/// Prints rows as aligned columns, the first row as the header. Cells are job data (ids, names,
/// errors), so their control characters are shown escaped: one row per line, no escape sequence.
pub fn print_table(rows: &[Vec<String>]) {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| escaped(cell).into_owned()).collect())
        .collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if c + 1 == row.len() {
                    cell.clone()
                } else {
                    format!("{cell:<width$}", width = widths[c])
                }
            })
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}
