//! `capq process`: one day, to a file, a storage URL or stdout, with its diagnostics on stderr.
//!
//! It runs the one day pipeline (`capq_core::pipeline`) with a single-file target. The output
//! is parsed as a storage location, so `file:///abs/out.csv` means that path and
//! `s3://bucket/key` goes to S3 (credentials from the standard `AWS_*` variables). A local path
//! is written as `capmetrics::output::write_atomically` decides: atomically for a regular file,
//! streamed into a FIFO or character device such as `/dev/null`, never replacing one. A
//! `*.csv` file or object gets the day's aggregate partial beside it (`*.partial`).

use std::io::Write;

use anyhow::Context;
use capmetrics::{Cancel, Catalog, LocalDir};
use capq_core::pipeline::{DayError, ErrorKind, Pipeline, Target};
use capq_storage::{HashingSource, Location, Storage};

use super::run::parse_params;
use super::{data_dir, parse_day, runtime};
use crate::cli::ProcessArgs;
use crate::exit::{self, UserError};

pub fn run(args: ProcessArgs) -> anyhow::Result<u8> {
    let day = parse_day(&args.day)?;
    let params = parse_params(&args.params)?;
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
    let catalog = Catalog::new(HashingSource::local(LocalDir::new(&data)));
    let runtime = runtime()?;
    let storage = Storage::from_env().context("configuring storage")?;
    let pipeline = Pipeline {
        catalog: &catalog,
        storage: &storage,
        runtime: runtime.handle(),
    };
    let mut processed = pipeline
        .process(day, &params, Cancel::NEVER)
        .map_err(day_error)?;
    match output {
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&processed.csv)
                .and_then(|()| stdout.flush())
                .context("writing to stdout")?;
        }
        Some(location) => match pipeline.store(&mut processed, &Target::File(location)) {
            Ok(_) => {}
            // A closed pipe behind `--output /dev/stdout` counts as success, like one behind -.
            Err(e) if e.io == Some(std::io::ErrorKind::BrokenPipe) => return Ok(exit::SUCCESS),
            Err(e) => return Err(day_error(e)),
        },
    }
    eprintln!("{day}: {}", processed.diagnostics);
    Ok(exit::SUCCESS)
}

/// A day's error for the CLI: bad input and missing days exit 1, the rest 2.
pub fn day_error(error: DayError) -> anyhow::Error {
    match error.kind {
        ErrorKind::Input | ErrorKind::Missing => UserError(error.message).into(),
        ErrorKind::Transient | ErrorKind::Internal => anyhow::Error::new(error),
    }
}
