//! `capq suspend`: workers finish what they run and take no new jobs (`rq suspend`).

use super::{connect, runtime};
use crate::cli::RedisArgs;
use crate::exit;

pub fn run(args: RedisArgs) -> anyhow::Result<u8> {
    runtime()?.block_on(async {
        connect(&args.url).await?.suspend().await?;
        eprintln!("suspended: workers take no new jobs until `capq resume`");
        Ok(exit::SUCCESS)
    })
}
