//! `capq process`: one day, to a file, a storage URL or stdout, with its diagnostics on stderr.
//!
//! The output is parsed as a storage location, so `file:///abs/out.csv` means that path and
//! `s3://bucket/key` goes to S3 (credentials from the standard `AWS_*` variables). A local path
//! is written as `capmetrics::output::write_atomically` decides: atomically for a regular file,
//! streamed into a FIFO or character device such as `/dev/null`, never replacing one.

use std::io::Write;

use anyhow::Context;
use capmetrics::output::write_atomically;
use capmetrics::{Catalog, LocalDir};
use capq_storage::{Location, Storage};

use super::{data_dir, parse_day, runtime, with_day};
use crate::cli::ProcessArgs;
use crate::exit::{self, UserError};

pub fn run(args: ProcessArgs) -> anyhow::Result<u8> {
    let day = parse_day(&args.day)?;
    let output = if args.output == "-" {
        None
    } else {
        let location =
            Location::parse(&args.output).map_err(|e| UserError(format!("--output: {e}")))?;
        if let Location::Http(_) = location {
            anyhow::bail!(UserError(format!(
                "--output: cannot write to http(s) locations ({location}); use a path, file:// or s3://"
            )));
        }
        Some(location)
    };
    let data = data_dir(args.data)?;
    let catalog = Catalog::new(LocalDir::new(&data));
    let out = catalog.process(day).map_err(|e| with_day(day, e))?;
    match output {
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&out.csv)
                .and_then(|()| stdout.flush())
                .context("writing to stdout")?;
        }
        Some(Location::Path(path)) => {
            write_atomically(&path, &out.csv).map_err(|e| with_day(day, e))?;
        }
        Some(remote) => {
            let storage = Storage::from_env().context("configuring storage")?;
            runtime()?
                .block_on(storage.put(&remote, out.csv))
                .with_context(|| format!("day {day}"))?;
        }
    }
    eprintln!("{day}: {}", out.diagnostics);
    Ok(exit::SUCCESS)
}
