//! `capq resume`: lift a suspension (`rq resume`).

use super::{connect, runtime};
use crate::cli::RedisArgs;
use crate::exit;

pub fn run(args: RedisArgs) -> anyhow::Result<u8> {
    runtime()?.block_on(async {
        connect(&args.url).await?.resume().await?;
        eprintln!("resumed");
        Ok(exit::SUCCESS)
    })
}
