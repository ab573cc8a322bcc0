//! `capq enqueue`: one `capq.process_day(day, output)` job per day, as one batch. Prints the
//! job ids on stdout, one per line, in day order. With `--aggregate`, the batch ends with one
//! `capq.aggregate` job that depends on every day (RQ's dependency keys, failures allowed),
//! enqueued in the same transactions; its id is printed last.

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
    if args.aggregate && !args.output.ends_with('/') {
        anyhow::bail!(UserError(format!(
            "--aggregate needs --output to be a folder ending with '/' (the aggregate reads every \
             <DAY>_processed.csv in it), not {:?}",
            args.output
        )));
    }
    let mut batch = Batch::new(args.days.clone(), args.queue.clone(), args.output.clone());
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
                day: Some(day.to_string()),
                ..NewJob::new(args.queue.clone(), call)
            }
        })
        .collect();
    let last = args.aggregate.then(|| {
        let folder = format!("{}aggregate/", args.output);
        batch.aggregate = Some(folder.clone());
        let call = Call {
            func: capq_core::tasks::aggregate::NAME.into(),
            args: vec![Value::Str(args.output.clone()), Value::Str(folder)],
            kwargs: vec![("days".into(), Value::Str(args.days.clone()))],
            serializer: Serializer::Pickle,
        };
        NewJob {
            // A year from CSVs takes seconds, but give it room: an hour at least.
            timeout: if args.timeout == -1 {
                -1
            } else {
                args.timeout.max(3600)
            },
            result_ttl: args.result_ttl,
            failure_ttl: args.failure_ttl,
            retries: retries.clone(),
            meta: vec![("capq_batch".into(), Value::Str(batch.id.clone()))],
            ..NewJob::new(args.queue.clone(), call)
        }
    });
    runtime()?.block_on(async {
        let redis = connect(&args.redis.url).await?;
        let ids = redis
            .enqueue_with_last(&jobs, Some(&batch), last.as_ref())
            .await?;
        if args.json {
            let jobs: Vec<_> = days
                .iter()
                .zip(&ids)
                .map(|(day, id)| json!({"day": day.to_string(), "id": id}))
                .collect();
            let mut printed = json!({"batch": batch.id, "queue": args.queue, "jobs": jobs});
            if let Some(last) = &last {
                printed["aggregate"] = json!({"id": last.id, "output": batch.aggregate});
            }
            println!("{printed}");
        } else {
            for id in &ids {
                println!("{id}");
            }
        }
        eprintln!(
            "enqueued {} on queue {} as batch {}",
            crate::text::count(jobs.len() as u64, "job"),
            args.queue,
            batch.id
        );
        if let (Some(last), Some(folder)) = (&last, &batch.aggregate) {
            eprintln!(
                "and its aggregate job {}, deferred until every day has ended; it writes {folder}",
                last.id
            );
        }
        Ok(exit::SUCCESS)
    })
}
