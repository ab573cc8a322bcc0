//! The `capq` binary: parse the command line, set up logging, run one subcommand, and turn the
//! outcome into an exit code (0 ok, 1 bad input, 2 internal error).

mod cli;
mod commands;
mod exit;
mod health;
mod logging;
mod text;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                // `capq diff --exit-code` says 1 for "differs", so its errors are 2, as git's.
                _ if std::env::args().nth(1).as_deref() == Some("diff") => {
                    ExitCode::from(exit::INTERNAL)
                }
                // Wrong arguments are the user's input being wrong: exit 1, not clap's 2.
                _ => ExitCode::from(exit::INPUT),
            };
        }
    };
    // The default filter: the worker's log is its record of work; other commands only warn.
    logging::init(match cli.command {
        Command::Worker(_) => "info",
        // Its worker fails thousands of jobs on purpose; a warning for each would bury the figures.
        Command::Bench(cli::BenchCommand::Dashboard(_)) => "warn,capq_core::worker=error",
        _ => "warn",
    });
    let result = match cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Plan(args) => commands::plan::run(args),
        Command::Runs(args) => commands::runs::run(args),
        Command::Process(args) => commands::process::run(args),
        Command::Compare(args) => commands::compare::run(args),
        Command::Bench(cli::BenchCommand::Processor(args)) => commands::bench::run(args),
        Command::Bench(cli::BenchCommand::Enqueue(args)) => commands::bench::enqueue(args),
        Command::Bench(cli::BenchCommand::Dashboard(args)) => commands::bench_dashboard::run(args),
        Command::Worker(args) => commands::worker::run(args),
        Command::Enqueue(args) => commands::enqueue::run(args),
        Command::Info(args) => commands::info::run(args),
        Command::Failed(args) => commands::failed::run(args),
        Command::Suspend(args) => commands::suspend::run(args),
        Command::Resume(args) => commands::resume::run(args),
        Command::Empty(args) => commands::empty::run(args),
        Command::Stop(args) => commands::stop::run(args),
        Command::Dashboard(args) => commands::dashboard::run(args),
        Command::Aggregate(args) => commands::aggregate::run(args),
        Command::Diff(args) => commands::diff::run(args),
    };
    let code = match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => exit::report(&error),
    };
    log_peak_memory();
    code
}

/// Logs the process's peak resident memory (`VmHWM`) at debug level, after any error was
/// printed, so an operator or a test can see what a command cost (`CAPQ_LOG=capq=debug`).
fn log_peak_memory() {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        });
    if let Some(kib) = peak {
        tracing::debug!(peak_memory_kib = kib, "exiting");
    }
}
