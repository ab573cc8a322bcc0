//! Command-line definitions. Each subcommand's arguments live here; what it does lives in
//! `commands/<name>.rs`.

use std::path::PathBuf;
use std::sync::LazyLock;

use clap::{Args, Parser, Subcommand};

/// What `capq --version` prints after the name: the release and the fingerprint of the
/// processor built in, which changes with any edit of `crates/capmetrics` (see
/// `capmetrics::fingerprint`), so an output can be traced to the code that made it.
pub static VERSION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} (processor {})",
        env!("CARGO_PKG_VERSION"),
        capmetrics::PROCESSOR_FINGERPRINT
    )
});

#[derive(Debug, Parser)]
#[command(
    name = "capq",
    version = VERSION.as_str(),
    about = "Process CapMetrics days, on this machine or through Redis"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Process many days on this machine, with no servers; skips days that are up to date.
    Run(RunArgs),
    /// Print what `capq run` would do with the same arguments, and why, without doing it.
    Plan(RunArgs),
    /// List the runs recorded in an output folder.
    Runs(RunsArgs),
    /// Process one day and print its diagnostics on stderr.
    Process(ProcessArgs),
    /// Check that two processed-day CSVs are equivalent (same rows; decimals within 1e-9).
    Compare(CompareArgs),
    /// Print speed figures (see BENCHMARKS.md).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run jobs from Redis queues (RQ's layout), writing results to storage.
    Worker(WorkerArgs),
    /// Enqueue one `capq.process_day` job per day, as one batch (and with `--aggregate` its
    /// aggregate job); prints the job ids.
    Enqueue(EnqueueArgs),
    /// Show queues (jobs per registry) and workers (state, current job).
    Info(InfoArgs),
    /// List, show, requeue or delete failed jobs.
    Failed(FailedArgs),
    /// Stop all workers from taking new jobs (`rq suspend`).
    Suspend(RedisArgs),
    /// Let workers take jobs again (`rq resume`).
    Resume(RedisArgs),
    /// Delete every queued job of a queue.
    Empty(EmptyArgs),
    /// Stop a running job; it is recorded as stopped (RQ's `stop-job` command).
    Stop(StopArgs),
    /// Serve the web dashboard: progress, workers, failures, and actions on them.
    Dashboard(DashboardArgs),
    /// On-time statistics over processed days: tables, summary.json and report.html.
    Aggregate(AggregateArgs),
    /// What moved between two runs, or two folders of processed days: provenance, days, rows,
    /// on-time statistics, and where the changes are.
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The "before" side: a run in --output (`latest`, `latest~N`, or a run id from `capq runs`),
    /// or a folder, `file://` URL or `s3://` prefix of `<DAY>_processed.csv` files
    #[arg(value_name = "A")]
    pub a: String,
    /// The "after" side, likewise
    #[arg(value_name = "B")]
    pub b: String,
    /// The output folder whose runs A and B name: a path, `file://` or `s3://` URL
    #[arg(long, value_name = "DIR|URL", default_value = "out")]
    pub output: String,
    /// Print Markdown, for a pull-request comment
    #[arg(long, conflicts_with = "json")]
    pub md: bool,
    /// Print the diff as JSON
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when anything differs, 0 when nothing does (errors exit 2), as `git diff` does
    #[arg(long)]
    pub exit_code: bool,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Only these days: `2016-11-24`, `2016-11-24..2016-11-27`, or a comma-separated list
    #[arg(long, value_name = "SPEC")]
    pub days: Option<String>,
    /// Read every CSV: trust no `.partial` for content hashes or counts
    #[arg(long)]
    pub no_partials: bool,
    /// Sample rows shown of each kind (changed, added, removed)
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub samples: usize,
    /// Entries of each "where" ranking (route, hour, day, stop)
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub top: usize,
    /// Threads that read and compare days [default: all cores; 8 or more for remote sides]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct AggregateArgs {
    /// Folder or URL prefix holding `<DAY>_processed.csv` files (and their `.partial`s)
    #[arg(long, value_name = "DIR|URL")]
    pub input: String,
    /// Folder or URL prefix to write the aggregate's files into
    #[arg(long, value_name = "DIR|URL")]
    pub output: String,
    /// Days: `2016-11-24`, `2016-11-24..2016-11-27`, or a comma-separated list of those
    /// [default: every processed day in the input]; days without a file are listed as missing
    #[arg(long, value_name = "SPEC")]
    pub days: Option<String>,
    /// Days whose processing failed: listed as failed in summary.json, never counted
    #[arg(long, value_name = "SPEC")]
    pub failed_days: Option<String>,
    #[command(flatten)]
    pub window: WindowArgs,
    /// Print summary.json on stdout instead of the headline
    #[arg(long)]
    pub json: bool,
    /// Read every CSV, ignoring partials
    #[arg(long)]
    pub no_partials: bool,
    /// Store a `<DAY>_processed.partial` next to each CSV that had no current one
    #[arg(long)]
    pub write_partials: bool,
    /// Threads that fetch and parse days [default: all cores; 8 or more for remote input]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

/// The on-time window of an aggregate.
#[derive(Debug, Args, Clone, Default)]
pub struct WindowArgs {
    /// On-time window by name: tcqsm (-60..300, the default), transitclock (-60..240),
    /// capmetro (no early bound..300), wmata (-120..420)
    #[arg(long, value_name = "NAME", conflicts_with = "window")]
    pub profile: Option<String>,
    /// Custom on-time window `E,L` in seconds, both inclusive, such as `--window=-120,420`
    /// (`none` for no bound on a side)
    #[arg(long, value_name = "E,L", allow_hyphen_values = true)]
    pub window: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// The output folder whose runs to list: a path, `file://` or `s3://` URL
    #[arg(long, value_name = "DIR|URL", default_value = "out")]
    pub output: String,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DashboardArgs {
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Address to listen on (loopback by default; use 0.0.0.0:9181 to expose it)
    #[arg(
        long,
        value_name = "ADDR",
        env = "CAPQ_DASHBOARD_BIND",
        default_value = "127.0.0.1:9181"
    )]
    pub bind: String,
    /// Require this token for every page and API (login form, cookie, or `Authorization: Bearer`)
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CAPQ_DASHBOARD_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Where batch pages may read outputs and aggregates (S3 credentials from `AWS_*`):
    /// `s3://` (any bucket), `s3://bucket/prefix` or a local folder; repeat the flag or separate
    /// by commas; `none` to read nothing [default: s3://, no local path]
    #[arg(
        long = "read-outputs",
        value_name = "PREFIX",
        env = "CAPQ_DASHBOARD_READ_OUTPUTS",
        value_delimiter = ','
    )]
    pub read_outputs: Vec<String>,
    /// Output folders whose runs (`capq run`, `capq enqueue`) the Runs page (`/runs`) lists and
    /// the diff page (`/diff`) compares: a folder, `file://` or `s3://` URL, as given to
    /// `--output`; repeat the flag or separate by commas. They are read as given, whatever
    /// --read-outputs allows [default: none]
    #[arg(
        long = "runs",
        value_name = "DIR|URL",
        env = "CAPQ_DASHBOARD_RUNS",
        value_delimiter = ','
    )]
    pub runs: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub redis: RedisArgs,
    /// The job to stop
    pub id: String,
}

/// Where Redis is.
#[derive(Debug, Args, Clone)]
pub struct RedisArgs {
    /// Redis URL: redis://[:password@]host:port[/db], rediss:// for TLS
    #[arg(
        long,
        value_name = "REDIS_URL",
        env = "CAPQ_REDIS_URL",
        default_value = "redis://127.0.0.1:6379",
        global = true
    )]
    pub url: String,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Queues to take jobs from, highest priority first
    #[arg(
        long,
        value_name = "A,B",
        env = "CAPQ_QUEUES",
        default_value = "default",
        value_delimiter = ','
    )]
    pub queues: Vec<String>,
    /// Exit once the queues are empty
    #[arg(long, env = "CAPQ_BURST")]
    pub burst: bool,
    /// Where days are read from: a folder, s3://bucket/prefix or http(s)://… [default: the bundled sample]
    #[arg(long, value_name = "DIR|URL", env = "CAPQ_DATA")]
    pub data: Option<String>,
    /// Worker name, unique among live workers [default: host.pid.random]
    #[arg(long, env = "CAPQ_WORKER_NAME")]
    pub name: Option<String>,
    /// Jobs to run at the same time [default: all cores]
    #[arg(long, value_name = "N", env = "CAPQ_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// Seconds a running job stays ours without a heartbeat
    #[arg(long, value_name = "SECONDS", env = "CAPQ_LEASE", default_value_t = 60)]
    pub lease: u64,
    /// Seconds to let running jobs finish on shutdown before handing them back
    #[arg(long, value_name = "SECONDS", env = "CAPQ_GRACE", default_value_t = 30)]
    pub grace: u64,
    /// Times a job abandoned by its worker is put back before it fails for good
    #[arg(
        long,
        value_name = "N",
        env = "CAPQ_MAX_RECOVERIES",
        default_value_t = 3
    )]
    pub max_recoveries: u32,
    /// Seconds between upkeep passes (recovering lost jobs)
    #[arg(
        long,
        value_name = "SECONDS",
        env = "CAPQ_UPKEEP_EVERY",
        default_value_t = 3
    )]
    pub upkeep_every: u64,
    /// Serve /metrics (Prometheus) and /healthz, /healthz/ready on this address
    #[arg(long, value_name = "ADDR", env = "CAPQ_METRICS_BIND")]
    pub metrics_bind: Option<String>,
    /// Seconds to keep results of jobs that set no result_ttl
    #[arg(
        long,
        value_name = "SECONDS",
        env = "CAPQ_RESULT_TTL",
        default_value_t = 500
    )]
    pub result_ttl: i64,
    /// Seconds to keep failed jobs that set no failure_ttl
    #[arg(long, value_name = "SECONDS", env = "CAPQ_FAILURE_TTL", default_value_t = 7 * 24 * 3600)]
    pub failure_ttl: i64,
    /// Where jobs may write their outputs: `s3://` (any bucket), `s3://bucket/prefix` or a local
    /// folder; repeat the flag, or separate prefixes by commas [default: s3://, no local path]
    #[arg(
        long = "allow-output",
        value_name = "PREFIX",
        env = "CAPQ_ALLOW_OUTPUT",
        value_delimiter = ','
    )]
    pub allow_output: Vec<String>,
    /// Also run the test-only tasks capq.flaky and capq.append_line (which appends to any file
    /// the worker can write): for test suites, never for production
    #[arg(
        long,
        env = "CAPQ_TEST_TASKS",
        hide = true,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub test_tasks: bool,
}

#[derive(Debug, Args)]
pub struct EnqueueArgs {
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Days: `2016-11-24`, `2016-11-24..2016-11-27`, or a comma-separated list of those
    #[arg(long, value_name = "SPEC")]
    pub days: String,
    /// Output folder (`s3://bucket/prefix/` or a folder the workers can write); each day is
    /// written to `<OUTPUT>/<DAY>_processed.csv`, and the batch's manifest under `.capq/runs/`
    #[arg(long, value_name = "URL")]
    pub output: String,
    /// The data the workers read (`s3://…`, `http(s)://…` or a folder): with it, days whose
    /// outputs are up to date are not enqueued
    #[arg(long, value_name = "DIR|URL")]
    pub data: Option<String>,
    /// A processor parameter, `KEY=VALUE`; repeat for several [default: every default]
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Enqueue every day, even those whose outputs are up to date
    #[arg(long)]
    pub force: bool,
    /// Queue to put the jobs on; they go on its twin pinned to this build's processor,
    /// `<QUEUE>@<fingerprint>`, which only workers of this build listen on
    #[arg(long, default_value = "default", env = "CAPQ_QUEUE")]
    pub queue: String,
    /// Put the jobs on QUEUE itself, unpinned: workers of any build may run them, so during a
    /// rolling deploy one batch may mix outputs of two processor versions
    #[arg(long)]
    pub any_processor: bool,
    /// Seconds before a job is failed as timed out (-1: never)
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 180,
        allow_hyphen_values = true
    )]
    pub timeout: i64,
    /// Times to retry a failed job
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retries: u32,
    /// Seconds before the first retry; later ones back off exponentially, with jitter
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub retry_interval: u64,
    /// Seconds to keep each job's result
    #[arg(long, value_name = "SECONDS")]
    pub result_ttl: Option<i64>,
    /// Seconds to keep each failed job
    #[arg(long, value_name = "SECONDS")]
    pub failure_ttl: Option<i64>,
    /// Print the batch and job ids as JSON
    #[arg(long)]
    pub json: bool,
    /// End the batch with its aggregate: one `capq.aggregate` job that waits (deferred) until
    /// every day has ended, finished or failed, then writes `<PREFIX>aggregate/`
    #[arg(long)]
    pub aggregate: bool,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Print JSON instead of tables
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FailedArgs {
    #[command(flatten)]
    pub redis: RedisArgs,
    #[command(subcommand)]
    pub action: FailedAction,
}

#[derive(Debug, Subcommand)]
pub enum FailedAction {
    /// List failed jobs with their errors
    List {
        /// Only this queue
        #[arg(long)]
        queue: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show one job in full, with its whole error
    Show { id: String },
    /// Put failed jobs back on their queues
    Requeue {
        /// Job ids
        ids: Vec<String>,
        /// Every failed job (of --queue, or of all queues)
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        #[arg(long, requires = "all")]
        queue: Option<String>,
    },
    /// Delete failed jobs
    Delete {
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct EmptyArgs {
    #[command(flatten)]
    pub redis: RedisArgs,
    /// The queue to empty
    pub queue: String,
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
    /// Folder for `<DAY>_processed.csv` files, the run's records and its aggregate: a path, a
    /// `file://` or an `s3://` URL
    #[arg(long, value_name = "DIR|URL", default_value = "out")]
    pub output: String,
    /// Worker threads [default: all cores]
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// A processor parameter, `KEY=VALUE`; repeat for several [default: every default]
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Process every day, even those whose outputs are up to date
    #[arg(long)]
    pub force: bool,
    /// Do not end with the aggregate of the run's days (`<OUTPUT>/aggregate/`)
    #[arg(long)]
    pub no_aggregate: bool,
    /// Do not end with the comparison against the previous run in the same output
    #[arg(long)]
    pub no_compare: bool,
    #[command(flatten)]
    pub window: WindowArgs,
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
    /// Output CSV: a path, a `file://` or `s3://` URL, or `-` for stdout; a `*.csv` file gets
    /// its aggregate partial beside it (`*.partial`)
    #[arg(long, value_name = "FILE|URL")]
    pub output: String,
    /// A processor parameter, `KEY=VALUE`; repeat for several [default: every default]
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The expected CSV (plain or gzipped)
    pub expected: PathBuf,
    /// The actual CSV (plain or gzipped)
    pub actual: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The day processor: metadata loading, decompression and processing of one day.
    Processor(BenchArgs),
    /// Enqueueing no-op jobs through capq's own enqueue path; prints JSON.
    Enqueue(EnqueueBenchArgs),
    /// The dashboard's pages over many finished and failed jobs (needs an empty database).
    Dashboard(DashboardBenchArgs),
}

#[derive(Debug, Args)]
pub struct DashboardBenchArgs {
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Jobs that finish
    #[arg(long, default_value_t = 100_000)]
    pub finished: usize,
    /// Jobs that fail
    #[arg(long, default_value_t = 10_000)]
    pub failed: usize,
    /// Requests per page
    #[arg(long, default_value_t = 20)]
    pub repeat: usize,
}

#[derive(Debug, Args)]
pub struct EnqueueBenchArgs {
    #[command(flatten)]
    pub redis: RedisArgs,
    /// Queue to fill (it is not emptied afterwards)
    #[arg(long, default_value = "bench")]
    pub queue: String,
    /// Jobs to enqueue
    #[arg(long, default_value_t = 10_000)]
    pub jobs: usize,
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
