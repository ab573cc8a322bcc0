//! A day's inputs with their content hashes: the third part of a day's key (with the processor
//! and the parameters), which decides whether a stored output is up to date.
//!
//! [`HashingSource`] is the data source capq processes from, locally or remotely. It hashes the
//! bytes of every file it reads, as stored (a `.csv.gz` is hashed compressed), with XXH64, and
//! remembers the hash by file; so after a day is processed the pipeline knows exactly which bytes
//! it was made from, without reading anything twice. [`HashingSource::plan`] does the same for a
//! day *before* processing it: it picks the files the processor would pick (the positions file,
//! and the stops and schedule files chosen by SPEC §1's rule) and hashes them.
//!
//! The input fingerprint of a day ([`DayInputs::fingerprint`]) covers each file's role, name,
//! length and hash. Only content counts: touching a file (a new modification time) or moving the
//! data folder changes nothing; editing a row, or a new metadata file that is now chosen for the
//! day, changes the fingerprint.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use capmetrics::metadata::{MetadataKind, choose};
use capmetrics::{DataSource, Date, DayFiles, Input, LocalDir};

use crate::remote_dir::RemoteDir;

/// Where the positions files are.
pub const POSITIONS: &str = "vehicle_positions";

/// One input file as read: its name in its folder, its length and its content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHash {
    pub name: String,
    pub size: u64,
    /// XXH64 (seed 0) of the bytes as stored.
    pub hash: u64,
}

impl FileHash {
    /// The hash of `bytes` stored under `name`.
    pub fn of(name: &str, bytes: &[u8]) -> FileHash {
        FileHash {
            name: name.to_owned(),
            size: bytes.len() as u64,
            hash: xxhash_rust::xxh64::xxh64(bytes, 0),
        }
    }

    /// The hash as 16 lowercase hex digits, as manifests write it.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.hash)
    }
}

/// The three files a day is processed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayInputs {
    pub positions: FileHash,
    pub stops: FileHash,
    pub schedule: FileHash,
}

impl DayInputs {
    /// The input fingerprint: 16 hex digits over each file's role, name, length and hash.
    pub fn fingerprint(&self) -> String {
        let mut text = String::from("capq day inputs 1\n");
        for (role, file) in self.roles() {
            text.push_str(&format!(
                "{role} {} {} {}\n",
                file.name,
                file.size,
                file.hex()
            ));
        }
        capmetrics::fingerprint::fingerprint_text(&text)
    }

    /// `(role, file)` for the positions, stops and schedule files, in that order.
    pub fn roles(&self) -> [(&'static str, &FileHash); 3] {
        [
            ("positions", &self.positions),
            ("stops", &self.stops),
            ("schedule", &self.schedule),
        ]
    }
}

/// The names in a data folder's three sub-folders, listed once for planning many days.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    positions: Vec<String>,
    stops: Vec<String>,
    schedules: Vec<String>,
}

impl Listing {
    /// Every day with a positions file (`YYYY-MM-DD.csv` or `.csv.gz`), in date order.
    pub fn days(&self) -> Vec<Date> {
        let mut days: Vec<Date> = self
            .positions
            .iter()
            .filter_map(|name| {
                let stem = name.strip_suffix(".gz").unwrap_or(name);
                stem.strip_suffix(".csv")?.parse().ok()
            })
            .collect();
        days.sort();
        days.dedup();
        days
    }

    /// The positions file of `day` the processor reads: `.csv` first, then `.csv.gz`.
    fn positions_of(&self, day: Date) -> Option<&str> {
        [format!("{day}.csv"), format!("{day}.csv.gz")]
            .into_iter()
            .find_map(|name| {
                self.positions
                    .iter()
                    .find(|n| **n == name)
                    .map(String::as_str)
            })
    }
}

enum Backend {
    Local(LocalDir),
    Remote(RemoteDir),
}

/// A data folder (local or remote) that remembers the content hash of every file it reads.
pub struct HashingSource {
    backend: Backend,
    /// The last hash seen of each file, by `(folder, name)`.
    seen: Mutex<HashMap<(String, String), FileHash>>,
}

impl std::fmt::Debug for HashingSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashingSource")
            .field("location", &self.location())
            .finish_non_exhaustive()
    }
}

impl HashingSource {
    /// A local data folder.
    pub fn local(dir: LocalDir) -> HashingSource {
        HashingSource::new(Backend::Local(dir))
    }

    /// A remote data folder; its methods block on the folder's runtime (see [`RemoteDir`]).
    pub fn remote(dir: RemoteDir) -> HashingSource {
        HashingSource::new(Backend::Remote(dir))
    }

    fn new(backend: Backend) -> HashingSource {
        HashingSource {
            backend,
            seen: Mutex::default(),
        }
    }

    /// Reads `folder/name` as stored, remembering its hash: the name used in messages (a path
    /// or URL) and the bytes; `Ok(None)` if it does not exist.
    pub fn read_raw(
        &self,
        folder: &str,
        name: &str,
    ) -> capmetrics::Result<Option<(String, Vec<u8>)>> {
        let read = match &self.backend {
            Backend::Local(dir) => {
                let path = dir.root().join(folder).join(name);
                match std::fs::read(&path) {
                    Ok(bytes) => Some((path.display().to_string(), bytes)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(cause) => {
                        return Err(capmetrics::Error::Read {
                            file: path.display().to_string(),
                            cause,
                        });
                    }
                }
            }
            Backend::Remote(dir) => dir.read_raw(folder, name)?,
        };
        if let Some((_, bytes)) = &read {
            let hash = FileHash::of(name, bytes);
            self.seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert((folder.to_owned(), name.to_owned()), hash);
        }
        Ok(read)
    }

    /// The hash of `folder/name` as it was last read, if it was.
    pub fn hashed(&self, folder: &str, name: &str) -> Option<FileHash> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(folder.to_owned(), name.to_owned()))
            .cloned()
    }

    /// The inputs of a day just processed from this source, as they were read.
    pub fn inputs_of(&self, files: &DayFiles) -> Option<DayInputs> {
        // The positions file is named by its full path or URL; its folder is always the same.
        let positions = files
            .positions
            .rsplit('/')
            .next()
            .unwrap_or(&files.positions);
        Some(DayInputs {
            positions: self.hashed(POSITIONS, positions)?,
            stops: self.hashed(MetadataKind::Stops.folder(), &files.stops)?,
            schedule: self.hashed(MetadataKind::Schedule.folder(), &files.schedule)?,
        })
    }

    /// Lists the three sub-folders, for [`plan`](Self::plan) and [`Listing::days`].
    pub fn listing(&self) -> capmetrics::Result<Listing> {
        Ok(Listing {
            positions: self.list(POSITIONS)?,
            stops: self.list(MetadataKind::Stops.folder())?,
            schedules: self.list(MetadataKind::Schedule.folder())?,
        })
    }

    /// The inputs `day` would be processed from, read and hashed: `Ok(None)` when the day has
    /// no positions file, and the processor's own error when no stops or schedule file covers
    /// it. A metadata file hashed once is not read again by later calls.
    pub fn plan(&self, listing: &Listing, day: Date) -> capmetrics::Result<Option<DayInputs>> {
        let Some(positions) = listing.positions_of(day) else {
            return Ok(None);
        };
        let stops = self.plan_metadata(MetadataKind::Stops, &listing.stops, day)?;
        let schedule = self.plan_metadata(MetadataKind::Schedule, &listing.schedules, day)?;
        let Some((_, bytes)) = self.read_raw(POSITIONS, positions)? else {
            // Listed, but gone by the time it was read.
            return Ok(None);
        };
        Ok(Some(DayInputs {
            positions: FileHash::of(positions, &bytes),
            stops,
            schedule,
        }))
    }

    fn plan_metadata(
        &self,
        kind: MetadataKind,
        names: &[String],
        day: Date,
    ) -> capmetrics::Result<FileHash> {
        let missing = || capmetrics::Error::NoMetadata {
            day,
            kind: kind.folder(),
            dir: format!("{}/{}", self.location(), kind.folder()),
        };
        let name = choose(kind, day, names.iter().map(String::as_str)).ok_or_else(missing)?;
        if let Some(hash) = self.hashed(kind.folder(), name) {
            return Ok(hash);
        }
        self.read_raw(kind.folder(), name)?.ok_or_else(missing)?;
        self.hashed(kind.folder(), name).ok_or_else(missing)
    }
}

impl DataSource for HashingSource {
    fn location(&self) -> String {
        match &self.backend {
            Backend::Local(dir) => dir.location(),
            Backend::Remote(dir) => dir.location(),
        }
    }

    fn list(&self, folder: &str) -> capmetrics::Result<Vec<String>> {
        match &self.backend {
            Backend::Local(dir) => dir.list(folder),
            Backend::Remote(dir) => dir.list(folder),
        }
    }

    fn read(&self, folder: &str, name: &str) -> capmetrics::Result<Option<Input>> {
        self.read_raw(folder, name)?
            .map(|(display, bytes)| Input::from_bytes(display, bytes))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> HashingSource {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
        HashingSource::local(LocalDir::new(root))
    }

    #[test]
    fn xxh64_is_the_published_function() {
        // xxhsum -H64 of the empty input and of "abc".
        assert_eq!(FileHash::of("e", b"").hex(), "ef46db3751d8e999");
        assert_eq!(FileHash::of("a", b"abc").hex(), "44bc2cf5ad770999");
    }

    #[test]
    fn planned_inputs_are_the_ones_processing_reads() {
        let source = sample();
        let listing = source.listing().unwrap();
        let day: Date = "2016-11-25".parse().unwrap();
        assert_eq!(listing.days().len(), 4);
        let planned = source.plan(&listing, day).unwrap().unwrap();
        assert_eq!(planned.positions.name, "2016-11-25.csv.gz");
        assert_eq!(planned.stops.name, "stops_20160821_20170121.csv.gz");

        let fresh = sample();
        let catalog = capmetrics::Catalog::new(fresh);
        let out = catalog.process(day).unwrap();
        let read = catalog.source().inputs_of(&out.files).unwrap();
        assert_eq!(read, planned);
        assert_eq!(read.fingerprint(), planned.fingerprint());
        assert_eq!(planned.fingerprint().len(), 16);

        // Another day shares the metadata but not the positions.
        let other = source
            .plan(&listing, "2016-11-26".parse().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(other.schedule, planned.schedule);
        assert_ne!(other.fingerprint(), planned.fingerprint());
        // A day without positions plans as none; one outside the metadata fails as processing would.
        assert_eq!(
            source
                .plan(&listing, "2016-11-28".parse().unwrap())
                .unwrap(),
            None
        );
    }

    #[test]
    fn the_fingerprint_follows_content_not_times() {
        let dir = tempfile::tempdir().unwrap();
        let sample = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/sample");
        for folder in ["stops", "schedule", POSITIONS] {
            std::fs::create_dir_all(dir.path().join(folder)).unwrap();
            for entry in std::fs::read_dir(sample.join(folder)).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(
                    entry.path(),
                    dir.path().join(folder).join(entry.file_name()),
                )
                .unwrap();
            }
        }
        let day: Date = "2016-11-24".parse().unwrap();
        let fingerprint = || {
            let source = HashingSource::local(LocalDir::new(dir.path()));
            let listing = source.listing().unwrap();
            source.plan(&listing, day).unwrap().unwrap().fingerprint()
        };
        let before = fingerprint();
        let file = dir.path().join(POSITIONS).join("2016-11-24.csv.gz");
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes).unwrap();
        assert_eq!(
            fingerprint(),
            before,
            "rewriting the same bytes changes nothing"
        );
        let mut changed = bytes.clone();
        let last = changed.len() - 1;
        changed[last] ^= 1;
        std::fs::write(&file, &changed).unwrap();
        assert_ne!(
            fingerprint(),
            before,
            "one changed byte changes the fingerprint"
        );
    }
}
