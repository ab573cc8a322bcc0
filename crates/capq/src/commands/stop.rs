//! `capq stop <ID>`: stop a running job, as RQ's `send_stop_job_command` does.

use super::{connect, runtime};
use crate::cli::StopArgs;
use crate::exit;
use crate::text::escaped;

pub fn run(args: StopArgs) -> anyhow::Result<u8> {
    runtime()?.block_on(async {
        let worker = connect(&args.redis.url).await?.stop_job(&args.id).await?;
        // The worker's name comes from the job's record: shown escaped, like all job data.
        eprintln!(
            "asked worker {} to stop job {}",
            escaped(&worker),
            escaped(&args.id)
        );
        Ok(exit::SUCCESS)
    })
}
