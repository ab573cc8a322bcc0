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
        eprintln!(
            "removed {} from {}",
            super::count(removed, "queued job"),
            args.queue
        );
        Ok(exit::SUCCESS)
    })
}
