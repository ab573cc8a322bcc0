//! `capq enqueue`: one `capq.process_day(day, output)` job per day, as one batch. Prints the
//! job ids on stdout, one per line, in day order.

use capmetrics::parse_day_spec;
use capq_core::job::backoff_intervals;
use capq_core::payload::{Call, Serializer};
use capq_pickle::Value;
use capq_redis::{Batch, NewJob};
use serde_json::json;

use super::{connect, runtime};
use crate::cli::EnqueueArgs;
use crate::exit::{self, UserError};

pub fn run(args: EnqueueArgs) -> anyhow::Result<u8> {
    let days = parse_day_spec(&args.days).map_err(|e| UserError(format!("--days: {e}")))?;
    if let Err(e) = capq_storage::Location::parse(&format!("{}x", args.output)) {
        anyhow::bail!(UserError(format!("--output: {e}")));
    }
    if args.timeout == 0 || args.timeout < -1 {
        anyhow::bail!(UserError(
            "--timeout must be a positive number of seconds, or -1 for none".into()
        ));
    }
    if args.queue.is_empty() || args.queue.contains(char::is_whitespace) {
        anyhow::bail!(UserError(format!(
            "--queue {:?} is not a queue name",
            args.queue
        )));
    }
    let batch = Batch::new(args.days.clone(), args.queue.clone(), args.output.clone());
    let retries = (args.retries > 0).then(|| {
        (
            args.retries,
            backoff_intervals(args.retries, args.retry_interval),
        )
    });
    let jobs: Vec<NewJob> = days
        .iter()
        .map(|day| {
            let output = format!("{}{day}_processed.csv", args.output);
            let call = Call {
                func: "capq.process_day".into(),
                args: vec![Value::Str(day.to_string()), Value::Str(output)],
                kwargs: vec![],
                serializer: Serializer::Pickle,
            };
            NewJob {
                timeout: args.timeout,
                result_ttl: args.result_ttl,
                failure_ttl: args.failure_ttl,
                retries: retries.clone(),
                meta: vec![
                    ("capq_batch".into(), Value::Str(batch.id.clone())),
                    ("day".into(), Value::Str(day.to_string())),
                ],
                ..NewJob::new(args.queue.clone(), call)
            }
        })
        .collect();
    runtime()?.block_on(async {
        let redis = connect(&args.redis.url).await?;
        let ids = redis.enqueue(&jobs, Some(&batch)).await?;
        if args.json {
            let jobs: Vec<_> = days
                .iter()
                .zip(&ids)
                .map(|(day, id)| json!({"day": day.to_string(), "id": id}))
                .collect();
            println!(
                "{}",
                json!({"batch": batch.id, "queue": args.queue, "jobs": jobs})
            );
        } else {
            for id in &ids {
                println!("{id}");
            }
        }
        eprintln!(
            "enqueued {} on queue {} as batch {}",
            crate::text::count(ids.len() as u64, "job"),
            args.queue,
            batch.id
        );
        Ok(exit::SUCCESS)
    })
}
