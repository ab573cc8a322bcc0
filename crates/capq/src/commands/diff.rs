//! `capq diff A B`: what moved between two runs recorded in an output folder (`latest`,
//! `latest~N` or a run id, in `--output`), or between two folders or prefixes of processed days
//! (local, `file://`, `s3://`, or read-only `http(s)://`), shown for a terminal, as Markdown
//! (`--md`) or as JSON (`--json`), on stdout; notes and timings go to stderr.
//!
//! A run's side comes from its manifest (`capq_core::runs::side`): each day's kept version
//! with its recorded hash, input fingerprint, drop counts and failure, and the run's
//! provenance. A folder's side comes from one listing (names, sizes and times: one request on
//! S3). Either way it becomes a `capq_diff::Side`; the library decides what to read (a
//! recorded hash or a current partial's often spares reading a day at all) and reads it
//! through the fetchers made here. Exit codes follow
//! `git diff`: 0, or with `--exit-code` 1 when anything differs, and 2 on every error (so a
//! script can tell "differs" from "failed").

use std::io::{IsTerminal, Write};
use std::time::Instant;

use anyhow::Context;
use capmetrics::parse_day_spec;
use capq_aggregate::FileInfo;
use capq_core::layout::OutputFolder;
use capq_core::runs::records::{Run, list_runs, resolve};
use capq_core::runs::side::run_side;
use capq_diff::{DiffOptions, Side, render};
use capq_storage::{Location, Storage};

use super::aggregate::window_choice;
use super::run::runs_error;
use super::runtime;
use crate::cli::DiffArgs;
use crate::exit::{self, UserError};

pub fn run(args: DiffArgs) -> anyhow::Result<u8> {
    match diff(args) {
        Ok(code) => Ok(code),
        Err(error) if is_broken_pipe(&error) => Ok(exit::SUCCESS),
        Err(error) => {
            eprintln!("error: {error:#}");
            Ok(exit::INTERNAL)
        }
    }
}

fn diff(args: DiffArgs) -> anyhow::Result<u8> {
    let window = window_choice(&args.window)?;
    let days = args
        .days
        .as_deref()
        .map(|text| parse_day_spec(text).map_err(|e| anyhow::anyhow!("--days: {e}")))
        .transpose()?;
    if args.threads == Some(0) {
        anyhow::bail!("--threads must be at least 1");
    }
    let spec_a = Spec::of(&args.a).map_err(|e| anyhow::anyhow!("A: {e}"))?;
    let spec_b = Spec::of(&args.b).map_err(|e| anyhow::anyhow!("B: {e}"))?;
    let runs_used = matches!(spec_a, Spec::Run(_)) || matches!(spec_b, Spec::Run(_));
    let output = OutputFolder::new(
        Location::parse(&args.output).map_err(|e| UserError(format!("--output: {e}")))?,
    );
    let location_a = spec_a.root(&output);
    let location_b = spec_b.root(&output);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let remote = location_a.is_remote() || location_b.is_remote();
    let threads = args
        .threads
        .unwrap_or(if remote { cores.max(8) } else { cores });

    let started = Instant::now();
    // Two local folders need neither: configuring storage loads TLS roots, which costs more
    // than diffing a year whose days are known identical.
    let remote = if remote || runs_used {
        Some((
            runtime()?,
            Storage::from_env().context("configuring storage")?,
        ))
    } else {
        None
    };
    let runs = match &remote {
        Some((runtime, storage)) if runs_used => runtime
            .block_on(list_runs(storage, &output))
            .map_err(|e| runs_error(e, "listing runs"))?,
        _ => Vec::new(),
    };
    let mut side_a = side(remote.as_ref(), &output, &runs, "A", &args.a, &spec_a)?;
    let mut side_b = side(remote.as_ref(), &output, &runs, "B", &args.b, &spec_b)?;
    if let Some(days) = &days {
        side_a.retain_days(days);
        side_b.retain_days(days);
        if side_a.days().is_empty() && side_b.days().is_empty() {
            anyhow::bail!(
                "--days: neither {} nor {} has a processed day of those",
                args.a,
                args.b
            );
        }
    }
    let fetch_a = fetcher(remote.as_ref(), &location_a);
    let fetch_b = fetcher(remote.as_ref(), &location_b);
    let options = DiffOptions {
        window,
        threads,
        samples: args.samples,
        top: args.top,
        use_partials: !args.no_partials,
    };
    let diff = capq_diff::diff(&side_a, &side_b, &fetch_a, &fetch_b, &options)?;
    for note in &diff.notes {
        eprintln!("note: {note}");
    }
    let text = if args.json {
        render::json(&diff)
    } else if args.md {
        render::markdown(&diff)
    } else {
        let stdout = std::io::stdout();
        let colour = crate::logging::colour(
            stdout.is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        );
        render::terminal(&diff, colour)
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    let d = &diff.days;
    tracing::info!(
        days = side_a.days().len().max(side_b.days().len()),
        identical = d.identical,
        by_hash = d.identical_by_hash,
        seconds = started.elapsed().as_secs_f64(),
        "diff done"
    );
    Ok(if args.exit_code && diff.differs() {
        exit::INPUT
    } else {
        exit::SUCCESS
    })
}

/// The async runtime and storage handle that remote sides are read through.
type Remote = (tokio::runtime::Runtime, Storage);

/// What a side names: a run recorded in `--output`, or a folder or prefix of processed days.
enum Spec {
    /// `latest`, `latest~N`, or a run id.
    Run(String),
    Folder(Location),
}

impl Spec {
    /// A run when the text is `latest` or `latest~N`, or a bare name (no `/`, no scheme) that
    /// is not a local folder; otherwise a folder or prefix.
    fn of(text: &str) -> anyhow::Result<Spec> {
        let bare = !text.contains(['/', '\\', ':']) && !text.is_empty();
        if text == "latest" || text.starts_with("latest~") {
            return Ok(Spec::Run(text.to_owned()));
        }
        let location = Location::parse(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        match &location {
            Location::Path(path) if bare && !path.exists() => Ok(Spec::Run(text.to_owned())),
            _ => Ok(Spec::Folder(location)),
        }
    }

    /// Where the side's files are: the folder, or the output folder a run lives in.
    fn root(&self, output: &OutputFolder) -> Location {
        match self {
            Spec::Folder(location) => location.clone(),
            Spec::Run(_) => output.root().clone(),
        }
    }
}

/// The side `spec` names: a run's, from its manifest, or a folder's, from its listing.
fn side(
    remote: Option<&Remote>,
    output: &OutputFolder,
    runs: &[Run],
    name: &str,
    text: &str,
    spec: &Spec,
) -> anyhow::Result<Side> {
    match (spec, remote) {
        (Spec::Folder(location), _) => folder_side(remote, name, text, location),
        (Spec::Run(run), Some((runtime, storage))) => {
            let folder = output;
            let run = resolve(runs, run, &folder.root().to_string())
                .map_err(|e| runs_error(e, name))?;
            let found = runtime
                .block_on(run_side(storage, folder, run, text.to_owned()))
                .map_err(|e| runs_error(e, &format!("{name}: reading run {}", run.id())))?;
            if !found.missing.is_empty() {
                eprintln!(
                    "note: {name}: run {} has no readable output for {} day(s) ({}); they are left out",
                    run.id(),
                    found.missing.len(),
                    day_list(&found.missing)
                );
            }
            if found.side.days().is_empty() {
                anyhow::bail!("{name}: run {} holds no processed or failed day", run.id());
            }
            Ok(found.side)
        }
        (Spec::Run(_), None) => anyhow::bail!("{name}: reading runs needs storage, which is not configured"),
    }
}

/// A short list of days: the first few, and how many more.
fn day_list(days: &[capmetrics::Date]) -> String {
    let shown: Vec<String> = days.iter().take(5).map(ToString::to_string).collect();
    match days.len() {
        n if n > shown.len() => format!("{}, and {} more", shown.join(", "), n - shown.len()),
        _ => shown.join(", "),
    }
}

/// The side of a folder or prefix, from its listing. A missing folder, or one without any
/// processed day, is an error naming it.
fn folder_side(
    remote: Option<&Remote>,
    name: &str,
    text: &str,
    location: &Location,
) -> anyhow::Result<Side> {
    let files = match (location, remote) {
        (Location::Path(path), _) => {
            if !path.exists() {
                anyhow::bail!("{name}: folder {} does not exist", path.display());
            }
            if !path.is_dir() {
                anyhow::bail!(
                    "{name}: {} is a file; give the folder that holds the <DAY>_processed.csv files",
                    path.display()
                );
            }
            list_local(path).with_context(|| format!("{name}: listing {}", path.display()))?
        }
        (_, Some((runtime, storage))) => runtime
            .block_on(storage.list_entries(location))
            .with_context(|| format!("{name}: listing {location}"))?
            .into_iter()
            .map(|e| FileInfo {
                name: e.name,
                size: e.size,
                modified: e.modified,
            })
            .collect(),
        (_, None) => anyhow::bail!("{name}: {location} needs storage, which is not configured"),
    };
    let (side, warnings) = Side::from_listing(text, location.to_string(), files);
    for warning in warnings {
        eprintln!("note: {name}: {warning}");
    }
    if side.days().is_empty() {
        anyhow::bail!("{name}: no <DAY>_processed.csv files in {location}");
    }
    Ok(side)
}


/// The files directly in a local folder, with their sizes and modification times (what
/// `Storage::list_entries` gives, without configuring storage).
fn list_local(path: &std::path::Path) -> std::io::Result<Vec<FileInfo>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // A file removed since the listing is simply not listed.
        let Ok(meta) = std::fs::metadata(entry.path()) else {
            continue;
        };
        if meta.is_file() {
            files.push(FileInfo {
                name,
                size: Some(meta.len()),
                modified: meta.modified().ok(),
            });
        }
    }
    Ok(files)
}

/// Reads files of a side: local ones straight from the calling thread, remote ones through
/// the runtime.
fn fetcher<'a>(
    remote: Option<&'a Remote>,
    folder: &'a Location,
) -> impl Fn(&str) -> Result<Option<Vec<u8>>, capq_diff::Error> + Sync + 'a {
    let remote = remote.map(|(runtime, storage)| (runtime.handle().clone(), storage));
    move |name: &str| {
        let location = folder.join(name);
        let fetched = match (&location, &remote) {
            (Location::Path(path), _) => match std::fs::read(path) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err((
                    e.to_string(),
                    e.kind() == std::io::ErrorKind::PermissionDenied,
                )),
            },
            (_, Some((handle, storage))) => handle
                .block_on(storage.get(&location))
                .map(|b| b.map(|b| b.to_vec()))
                .map_err(|e| (e.to_string(), false)),
            (_, None) => Err(("storage is not configured".to_owned(), false)),
        };
        fetched.map_err(|(detail, input_error)| capq_diff::Error::Fetch {
            file: location.to_string(),
            detail,
            input_error,
        })
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
