//! One module per subcommand. Each parses nothing itself: it takes its clap arguments,
//! configures, and calls into the library crates.

pub mod aggregate;
pub mod bench;
pub mod bench_dashboard;
pub mod compare;
pub mod dashboard;
pub mod diff;
pub mod empty;
pub mod enqueue;
pub mod failed;
pub mod info;
pub mod plan;
pub mod process;
pub mod resume;
pub mod run;
pub mod runs;
pub mod stop;
pub mod suspend;
pub mod worker;

use std::path::PathBuf;

use anyhow::bail;
use capmetrics::Date;

use crate::exit::UserError;

/// The data folder to use: the one given, else the bundled sample (found relative to the
/// working directory first, then to the source tree the binary was built from).
pub fn data_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = given {
        if !dir.is_dir() {
            bail!(UserError(format!(
                "data folder {} does not exist",
                dir.display()
            )));
        }
        return Ok(dir);
    }
    let candidates = [
        PathBuf::from("data/sample"),
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/sample")),
    ];
    candidates
        .into_iter()
        .find(|dir| dir.is_dir())
        .ok_or_else(|| {
            UserError("no --data given and the bundled sample (data/sample) is not here".into())
                .into()
        })
}

/// A runtime for the commands that talk to Redis or S3; only the binary owns one.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))
}

/// Connects to Redis, naming the server (without its password) if that fails.
pub async fn connect(url: &str) -> anyhow::Result<capq_redis::Redis> {
    use anyhow::Context;
    capq_redis::Redis::connect(url)
        .await
        .with_context(|| format!("cannot connect to Redis at {}", capq_redis::redact(url)))
}

pub fn parse_day(text: &str) -> anyhow::Result<Date> {
    text.parse::<Date>()
        .map_err(|e| UserError(format!("--day: {e}")).into())
}
