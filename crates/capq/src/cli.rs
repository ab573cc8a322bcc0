//! Command-line definitions. Each subcommand's arguments live here; what it does lives in
//! `commands/<name>.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "capq",
    version,
    about = "Process CapMetrics days, on this machine or through Redis"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Process many days on this machine, with no servers.
    Run(RunArgs),
    /// Process one day and print its diagnostics on stderr.
    Process(ProcessArgs),
    /// Check that two processed-day CSVs are equivalent (same rows; decimals within 1e-9).
    Compare(CompareArgs),
    /// Print speed figures of the day processor (see BENCHMARKS.md).
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Data folder with vehicle_positions/, stops/ and schedule/ [default: the bundled sample]
    #[arg(long, value_name = "DIR", env = "CAPQ_DATA")]
    pub data: Option<PathBuf>,
    /// Days: `2016-11-24`, `2016-11-24..2016-11-27`, or a comma-separated list of those
    /// [default: every day in the data folder]
    #[arg(long, value_name = "SPEC")]
    pub days: Option<String>,
    /// Folder for `<DAY>_processed.csv` files
    #[arg(long, value_name = "DIR", default_value = "out")]
    pub output: PathBuf,
    /// Worker threads [default: all cores]
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Print the summary as JSON on stdout instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// Data folder with vehicle_positions/, stops/ and schedule/ [default: the bundled sample]
    #[arg(long, value_name = "DIR", env = "CAPQ_DATA")]
    pub data: Option<PathBuf>,
    /// The day to process
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub day: String,
    /// Output CSV file, or `-` for stdout
    #[arg(long, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The expected CSV (plain or gzipped)
    pub expected: PathBuf,
    /// The actual CSV (plain or gzipped)
    pub actual: PathBuf,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Data folder [default: the bundled sample]
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The day to measure
    #[arg(long, value_name = "YYYY-MM-DD", default_value = "2016-11-26")]
    pub day: String,
    /// Repetitions of each measurement (the median is reported)
    #[arg(long, default_value_t = 30)]
    pub repeat: usize,
    /// Measure only day processing, for profiling
    #[arg(long)]
    pub only_processing: bool,
}
