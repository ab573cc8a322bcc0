//! The output folders whose runs the dashboard shows (`capq dashboard --runs`), and what it
//! reads from them: the runs recorded there, one run with its days, and the diff of two runs,
//! which is `capq diff A B --output DIR`'s (the same sides, options and library call).
//!
//! The folders are the operator's, given on the command line, so they are read as given; this
//! is unlike a batch's output folder, which Redis names and which is read only under
//! `--read-outputs`. Run ids and `latest~N` come from the request: an explicit id is read only
//! when the folder's listing holds it, so a crafted id cannot make the dashboard read
//! anywhere else.
//!
//! Diffing a year reads and compares up to two CSVs a day, a second or two of CPU on every
//! core. Everything after resolving the two runs happens on a blocking thread, never on the
//! async reactor: the sides are built from the manifests there (their reads driven through the
//! runtime's handle), and the engine spreads the days over its own threads, which read files
//! the same way. [`DIFFS_AT_ONCE`] diffs run at a time: the others wait their turn rather than
//! share the cores.

use std::sync::Arc;
use std::time::Instant;

use capmetrics::Date;
use capq_aggregate::WindowChoice;
use capq_core::layout::OutputFolder;
use capq_core::runs::RunsError;
use capq_core::runs::records::{Run, list_runs, load_run, resolve, run_ids};
use capq_core::runs::side::{RunSide, run_side};
use capq_diff::{Diff, DiffOptions};
use capq_storage::{Location, Storage};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// Diffs computed at once; more wait.
pub const DIFFS_AT_ONCE: usize = 1;

/// The output folders whose runs the dashboard lists; cheap to clone.
#[derive(Debug, Clone)]
pub struct RunFolders {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    storage: Storage,
    folders: Vec<OutputFolder>,
    diffs: Semaphore,
}

/// Two runs compared.
#[derive(Debug, Clone)]
pub struct Compared {
    /// The runs as resolved (`latest~1` → its id).
    pub a: String,
    pub b: String,
    pub diff: Diff,
    /// Days each run recorded without an output that can still be read (left out, as
    /// `capq diff` leaves them out with a note).
    pub missing_a: Vec<Date>,
    pub missing_b: Vec<Date>,
    /// How long the diff took, reading included.
    pub seconds: f64,
}

impl RunFolders {
    /// The folders at `locations`, read through `storage`. Folder `1` is the first.
    pub fn new(storage: Storage, locations: Vec<Location>) -> RunFolders {
        RunFolders {
            inner: Arc::new(Inner {
                storage,
                folders: locations.into_iter().map(OutputFolder::new).collect(),
                diffs: Semaphore::new(DIFFS_AT_ONCE),
            }),
        }
    }

    /// Every folder with its key (`1`, `2`, …: its place on the command line), in order.
    pub fn folders(&self) -> impl Iterator<Item = (String, &OutputFolder)> {
        self.inner
            .folders
            .iter()
            .enumerate()
            .map(|(i, folder)| ((i + 1).to_string(), folder))
    }

    /// The folder of key `key`, or a 404 naming the folders there are.
    pub fn folder(&self, key: &str) -> Result<&OutputFolder> {
        key.parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| self.inner.folders.get(i))
            .ok_or_else(|| {
                let known: Vec<String> = self
                    .folders()
                    .map(|(key, folder)| format!("{key} ({})", folder.root()))
                    .collect();
                Error::NotFound(format!(
                    "no runs folder {}: this dashboard reads runs in {}",
                    crate::format::truncate(key, 40),
                    known.join(", ")
                ))
            })
    }

    /// The runs recorded in `folder`, oldest first.
    pub async fn list(&self, folder: &OutputFolder) -> Result<Vec<Run>> {
        list_runs(&self.inner.storage, folder)
            .await
            .map_err(|e| runs_error(e, folder))
    }

    /// The run `spec` names in `folder`: an id the folder holds, `latest` or `latest~N`.
    pub async fn run(&self, folder: &OutputFolder, spec: &str) -> Result<Run> {
        let storage = &self.inner.storage;
        if spec == "latest" || spec.starts_with("latest~") {
            let runs = self.list(folder).await?;
            return resolve(&runs, spec, &folder.root().to_string())
                .cloned()
                .map_err(|e| runs_error(e, folder));
        }
        let ids = run_ids(storage, folder)
            .await
            .map_err(|e| runs_error(e, folder))?;
        if !ids.iter().any(|id| id == spec) {
            return Err(runs_error(
                RunsError::NoSuchRun {
                    spec: spec.to_owned(),
                    folder: folder.root().to_string(),
                    known: ids,
                },
                folder,
            ));
        }
        load_run(storage, folder, spec)
            .await
            .map_err(|e| runs_error(e, folder))
    }

    /// The diff of runs `a` and `b` of `folder` (each an id, `latest` or `latest~N`) under
    /// `window`, with `capq diff`'s other default options: the same figures as
    /// `capq diff A B --output DIR [--profile P] --json`.
    pub async fn diff(
        &self,
        folder: &OutputFolder,
        a: &str,
        b: &str,
        window: WindowChoice,
    ) -> Result<Compared> {
        let started = Instant::now();
        let runs = self.list(folder).await?;
        let root = folder.root().to_string();
        let run_a = resolve(&runs, a, &root)
            .map_err(|e| side_error(e, "A", folder))?
            .clone();
        let run_b = resolve(&runs, b, &root)
            .map_err(|e| side_error(e, "B", folder))?
            .clone();
        let _turn = self
            .inner
            .diffs
            .acquire()
            .await
            .map_err(|_| Error::Internal("the dashboard is shutting down".into()))?;
        let work = Work {
            handle: Handle::current(),
            storage: self.inner.storage.clone(),
            folder: folder.clone(),
            labels: [a.to_owned(), b.to_owned()],
            window,
        };
        let mut compared = tokio::task::spawn_blocking(move || work.compare(&run_a, &run_b))
            .await
            .map_err(|e| Error::Internal(format!("the diff stopped: {e}")))??;
        compared.seconds = started.elapsed().as_secs_f64();
        Ok(compared)
    }
}

/// What a diff needs on its blocking thread.
struct Work {
    handle: Handle,
    storage: Storage,
    folder: OutputFolder,
    /// How the request named A and B.
    labels: [String; 2],
    window: WindowChoice,
}

impl Work {
    /// Builds both sides from their manifests, then diffs them. Runs on a blocking thread: the
    /// sides' reads are driven through the runtime's handle from here, and the diff's own
    /// threads read files the same way.
    fn compare(self, run_a: &Run, run_b: &Run) -> Result<Compared> {
        let [label_a, label_b] = self.labels.clone();
        let side_a = self.side(run_a, label_a, "A")?;
        let side_b = self.side(run_b, label_b, "B")?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let options = DiffOptions {
            // Remote reads wait on the network more than on the CPU.
            threads: if self.folder.root().is_remote() {
                cores.max(8)
            } else {
                cores
            },
            window: self.window,
            ..DiffOptions::default()
        };
        let fetch = fetcher(&self.handle, &self.storage, self.folder.root());
        let diff = capq_diff::diff(&side_a.side, &side_b.side, &fetch, &fetch, &options)
            .map_err(diff_error)?;
        Ok(Compared {
            a: run_a.id().to_owned(),
            b: run_b.id().to_owned(),
            diff,
            missing_a: left_out(&side_a),
            missing_b: left_out(&side_b),
            seconds: 0.0,
        })
    }

    fn side(&self, run: &Run, label: String, name: &str) -> Result<RunSide> {
        let side = self
            .handle
            .block_on(run_side(&self.storage, &self.folder, run, label))
            .map_err(|e| side_error(e, name, &self.folder))?;
        if side.side.days().is_empty() {
            return Err(Error::NotFound(format!(
                "{name}: run {} holds no processed or failed day",
                run.id()
            )));
        }
        Ok(side)
    }
}

/// Reads a side's files (named relative to the output folder) through `handle`: called from
/// the diff's own threads, never from the runtime's.
fn fetcher<'a>(
    handle: &'a Handle,
    storage: &'a Storage,
    folder: &'a Location,
) -> impl Fn(&str) -> Result<Option<Vec<u8>>, capq_diff::Error> + Sync + 'a {
    move |name: &str| {
        let location = folder.join(name);
        handle
            .block_on(storage.get(&location))
            .map(|bytes| bytes.map(|b| b.to_vec()))
            .map_err(|e| capq_diff::Error::Fetch {
                file: location.to_string(),
                detail: e.to_string(),
                input_error: false,
            })
    }
}

/// A runs error as the request's answer: a run or folder that is not there is a 404 naming
/// what there is; a damaged record is the storage's fault, as is a failed read.
fn runs_error(error: RunsError, folder: &OutputFolder) -> Error {
    match error {
        RunsError::NoSuchRun { .. } | RunsError::NoRuns { .. } => {
            Error::NotFound(error.to_string())
        }
        RunsError::Storage(e) => Error::Storage(format!("reading runs in {}: {e}", folder.root())),
        other => Error::Storage(other.to_string()),
    }
}

/// A runs error about side `name` of a diff.
fn side_error(error: RunsError, name: &str, folder: &OutputFolder) -> Error {
    match runs_error(error, folder) {
        Error::NotFound(message) => Error::NotFound(format!("{name}: {message}")),
        Error::Storage(message) => Error::Storage(format!("{name}: {message}")),
        other => other,
    }
}

/// A diff that could not be made: unreadable storage, or data the diff cannot compare.
fn diff_error(error: capq_diff::Error) -> Error {
    match &error {
        capq_diff::Error::Fetch { .. } | capq_diff::Error::Vanished { .. } => {
            Error::Storage(error.to_string())
        }
        _ => Error::Conflict(format!("cannot compare the runs: {error}")),
    }
}

/// The days a run side leaves out: those whose output is gone and a running batch's days not
/// recorded yet, in order.
fn left_out(side: &RunSide) -> Vec<Date> {
    let mut days: Vec<Date> = side.gone.iter().chain(&side.planned).copied().collect();
    days.sort();
    days
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_named_by_their_place_and_unknown_keys_say_what_there_is() {
        let storage = Storage::from_env_vars(Vec::<(String, String)>::new()).unwrap();
        let runs = RunFolders::new(
            storage,
            vec![
                Location::parse("/srv/out").unwrap(),
                Location::parse("s3://bucket/days/").unwrap(),
            ],
        );
        let keys: Vec<String> = runs.folders().map(|(key, _)| key).collect();
        assert_eq!(keys, ["1", "2"]);
        assert_eq!(
            runs.folder("2").unwrap().root().to_string(),
            "s3://bucket/days/"
        );
        for bad in ["0", "3", "x", "-1", ""] {
            let error = runs.folder(bad).unwrap_err();
            assert_eq!(error.status(), axum::http::StatusCode::NOT_FOUND, "{bad}");
            let message = error.to_string();
            assert!(
                message.contains("1 (/srv/out)") && message.contains("2 (s3://bucket/days/)"),
                "{message}"
            );
        }
    }
}
