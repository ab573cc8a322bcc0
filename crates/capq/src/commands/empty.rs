//! `capq empty <QUEUE>`: delete every queued job of a queue (`rq empty`).

use super::{connect, runtime};
use crate::cli::EmptyArgs;
use crate::exit;
use crate::text::{counted, escaped};

pub fn run(args: EmptyArgs) -> anyhow::Result<u8> {
    runtime()?.block_on(async {
        let removed = connect(&args.redis.url)
            .await?
            .empty_queue(&args.queue)
            .await?;
        println!("{removed}");
        eprintln!(
            "removed {} from {}",
            counted(removed as usize, "queued job", "queued jobs"),
            escaped(&args.queue)
        );
        Ok(exit::SUCCESS)
    })
}
