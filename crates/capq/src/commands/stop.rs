//! `capq stop <ID>`: stop a running job, as RQ's `send_stop_job_command` does.

use super::{connect, runtime};
use crate::cli::StopArgs;
use crate::exit;

pub fn run(args: StopArgs) -> anyhow::Result<u8> {
    runtime()?.block_on(async {
        let worker = connect(&args.redis.url).await?.stop_job(&args.id).await?;
        eprintln!("asked worker {worker} to stop job {}", args.id);
        Ok(exit::SUCCESS)
    })
}
