//! `capq process`: one day, to a file or stdout, with its diagnostics on stderr.

use std::io::Write;

use anyhow::Context;
use capmetrics::output::write_atomically;
use capmetrics::{Catalog, LocalDir};

use super::{data_dir, parse_day, with_day};
use crate::cli::ProcessArgs;
use crate::exit;

pub fn run(args: ProcessArgs) -> anyhow::Result<u8> {
    let day = parse_day(&args.day)?;
    let data = data_dir(args.data)?;
    let catalog = Catalog::new(LocalDir::new(&data));
    let out = catalog.process(day).map_err(|e| with_day(day, e))?;
    if args.output.as_os_str() == "-" {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(&out.csv)
            .and_then(|()| stdout.flush())
            .context("writing to stdout")?;
    } else {
        write_atomically(&args.output, &out.csv).map_err(|e| with_day(day, e))?;
    }
    eprintln!("{day}: {}", out.diagnostics);
    Ok(exit::SUCCESS)
}
