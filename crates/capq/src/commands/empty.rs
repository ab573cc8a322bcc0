//! `capq empty <QUEUE>`: delete every queued job of a queue (`rq empty`).

use super::{connect, runtime};
use crate::cli::EmptyArgs;
use crate::exit;

pub fn run(args: EmptyArgs) -> anyhow::Result<u8> {
    runtime()?.block_on(async {
        let removed = connect(&args.redis.url)
            .await?
            .empty_queue(&args.queue)
            .await?;
        println!("{removed}");
        eprintln!("removed {removed} queued jobs from {}", args.queue);
        Ok(exit::SUCCESS)
    })
}
