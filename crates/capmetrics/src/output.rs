//! The processed-day CSV: its header, number formatting and the atomic write to disk.
//!
//! Decimals are printed as the shortest text that reads back to the same double (Python's
//! `repr`), with `.0` on whole numbers, so values survive a round trip exactly. A file is never
//! left half-written: output goes to a temporary file in the same folder, which is renamed into
//! place only once it is complete.
//!
//! The rename is only ever done over a regular file (or nothing). An output path naming a FIFO
//! or a character device (`/dev/null`, `/dev/stdout`, a pipe someone reads) is written into, so
//! the device node stays; renaming over it would, as root, replace the system's `/dev/null`.
//! A symbolic link is followed and its target written by the same rules, keeping the link.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The output header, in column order.
pub const HEADER: &str = "vehicle_id,timestamp,speed,route_id,trip_id,latitude,longitude,\
trip_headsign,stop_lat,stop_lon,stop_id,sched_time,distance_to_stop,sched_dev,dayofweek,hourofday";

/// Appends a decimal: shortest round-trip digits, never an exponent, `.0` on whole numbers.
///
/// The digits come from `zmij` (Schubfach), the shortest-round-trip algorithm that is about twice
/// as fast as Ryu here and prints the same text; the tests check it against Ryu and `Display`.
pub(crate) fn push_float(out: &mut Vec<u8>, value: f64) {
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format(value).as_bytes();
    if value.is_finite() && !text.contains(&b'e') {
        out.extend_from_slice(text);
        return;
    }
    // Very large or very small magnitudes: `Display` also prints shortest digits, but
    // positionally.
    let text = value.to_string();
    out.extend_from_slice(text.as_bytes());
    if value.is_finite() && !text.contains('.') {
        out.extend_from_slice(b".0");
    }
}

/// Appends an integer.
pub(crate) fn push_int(out: &mut Vec<u8>, value: impl itoa::Integer) {
    let mut buffer = itoa::Buffer::new();
    out.extend_from_slice(buffer.format(value).as_bytes());
}

/// Appends a text field, quoted only if it contains a comma, a quote or a line break.
pub(crate) fn push_text(out: &mut Vec<u8>, text: &str) {
    if !text
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    out.push(b'"');
    for byte in text.bytes() {
        if byte == b'"' {
            out.push(b'"');
        }
        out.push(byte);
    }
    out.push(b'"');
}

/// Writes `contents` to `path`, atomically when `path` is (or will be) a regular file.
///
/// - Nothing there, or a regular file: the bytes go to a temporary sibling, are synced, and the
///   sibling is renamed over `path`. Missing parent folders are created. On any error nothing
///   is left at `path` or beside it.
/// - A FIFO or a character device (`/dev/null`, `/dev/stdout`, a pipe a reader has open): the
///   bytes are written straight into it and it is never replaced. That write cannot be atomic,
///   and opening a FIFO waits for a reader, as a shell redirection does.
/// - A symbolic link: followed; the file it finally names is written by these same rules (a
///   regular target is replaced atomically beside itself) and the link stays. A link to nothing
///   is refused rather than creating its target, which could be anywhere.
/// - A folder, a block device or a socket: refused with an error saying what it is.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let err = |cause| Error::Write {
        file: path.display().to_string(),
        cause,
    };
    match destination(path).map_err(err)? {
        Destination::Replace(target) => replace(&target, contents).map_err(err),
        Destination::Stream => stream(path, contents).map_err(err),
    }
}

/// Writes `contents` beside `path` without syncing or renaming, so a caller writing many
/// outputs can make them all durable later, off its own thread ([`StagedFile::commit`]).
///
/// Same rules as [`write_atomically`]: for a regular file (or nothing) at `path` the bytes go to
/// a temporary sibling and `Some` staged file is returned; nothing appears at `path` until it is
/// committed, so a crash before then leaves the old file (or nothing), never a partial one. A
/// FIFO or character device is written into at once (there is nothing to sync or rename) and
/// gives `None`. On error nothing is left beside `path`.
pub fn write_staged(path: &Path, contents: &[u8]) -> Result<Option<StagedFile>> {
    let err = |cause| Error::Write {
        file: path.display().to_string(),
        cause,
    };
    match destination(path).map_err(err)? {
        Destination::Replace(target) => stage(&target, contents).map(Some).map_err(err),
        Destination::Stream => stream(path, contents).map(|()| None).map_err(err),
    }
}

/// An output whose bytes are complete in a temporary sibling of its path, not synced and not in
/// place yet. [`commit`](StagedFile::commit) syncs and renames it; dropping it uncommitted
/// removes the temporary file, so an abandoned write leaves nothing behind.
#[derive(Debug)]
pub struct StagedFile {
    temp: PathBuf,
    target: PathBuf,
    /// False once committed (or given up): nothing left to remove on drop.
    pending: bool,
}

impl StagedFile {
    /// Where the output goes once committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The temporary file's metadata, which the output will have once committed: a rename
    /// keeps the device, inode, length and modification time.
    pub fn metadata(&self) -> io::Result<fs::Metadata> {
        fs::metadata(&self.temp)
    }

    /// Makes the bytes durable (`fdatasync`) and then renames them over the target, so the
    /// target only ever names complete, synced bytes. The rename itself is durable once the
    /// target's folder is synced ([`sync_folder`]). On error the temporary file is removed.
    pub fn commit(mut self) -> io::Result<()> {
        self.pending = false;
        let committed = fs::File::open(&self.temp)
            .and_then(|file| file.sync_data())
            .and_then(|()| fs::rename(&self.temp, &self.target));
        if committed.is_err() {
            let _ = fs::remove_file(&self.temp);
        }
        committed
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if self.pending {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Syncs a folder, making the renames and links done in it so far durable.
pub fn sync_folder(folder: &Path) -> io::Result<()> {
    fs::File::open(folder)?.sync_all()
}

/// The staged half of [`replace`]: the complete bytes in a temporary sibling, not synced.
fn stage(path: &Path, contents: &[u8]) -> io::Result<StagedFile> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let staged = StagedFile {
        temp: temp_path(path),
        target: path.to_path_buf(),
        pending: true,
    };
    // On error, dropping `staged` removes the temporary file.
    fs::File::create(&staged.temp)?.write_all(contents)?;
    Ok(staged)
}

/// How an output path is written.
enum Destination {
    /// A regular file (or nothing yet) at this path, replaced by rename.
    Replace(PathBuf),
    /// A FIFO or character device, written into.
    Stream,
}

fn destination(path: &Path) -> io::Result<Destination> {
    let entry = match fs::symlink_metadata(path) {
        Ok(entry) => entry,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(Destination::Replace(path.to_path_buf()));
        }
        Err(e) => return Err(e),
    };
    let is_link = entry.file_type().is_symlink();
    let target = if is_link {
        match fs::metadata(path) {
            Ok(target) => target,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    "it is a symbolic link to nothing; refusing to create the file it names",
                ));
            }
            Err(e) => return Err(e),
        }
    } else {
        entry
    };
    let kind = target.file_type();
    if kind.is_file() {
        // Replace the link's target beside itself, so the link keeps pointing at the output.
        let real = if is_link {
            fs::canonicalize(path)?
        } else {
            path.to_path_buf()
        };
        return Ok(Destination::Replace(real));
    }
    if kind.is_fifo() || kind.is_char_device() {
        return Ok(Destination::Stream);
    }
    let what = if kind.is_dir() {
        "a folder"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Err(io::Error::other(format!(
        "it is {what}; an output must be a regular file, a FIFO or a character device"
    )))
}

/// The atomic path: a synced temporary sibling renamed over `path`.
fn replace(path: &Path, contents: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let temp = temp_path(path);
    let written = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(contents)?;
        file.sync_data()?;
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

/// Writes into an existing FIFO or device without creating, truncating or replacing it.
fn stream(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = fs::OpenOptions::new().write(true).open(path)?;
    file.write_all(contents)?;
    file.flush()
}

fn temp_path(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(v: f64) -> String {
        let mut out = Vec::new();
        push_float(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_print_like_python_repr_without_exponents() {
        assert_eq!(float(0.0), "0.0");
        assert_eq!(float(12.96416), "12.96416");
        assert_eq!(float(-97.774315), "-97.774315");
        assert_eq!(float(30.0), "30.0");
        assert_eq!(float(0.0007000000000090267), "0.0007000000000090267");
        assert_eq!(float(1e-7), "0.0000001");
        assert_eq!(float(1e20), "100000000000000000000.0");
        for v in [1e-7, 3.3e-12, 123456.789, 1e22, 0.1 + 0.2] {
            assert_eq!(float(v).parse::<f64>().unwrap(), v);
        }
    }

    /// The output of the Ryu-based formatter this crate used before, for comparison.
    fn float_with_ryu(value: f64) -> String {
        let mut buffer = ryu::Buffer::new();
        let text = buffer.format(value);
        if value.is_finite() && !text.contains('e') {
            return text.to_owned();
        }
        let text = value.to_string();
        if value.is_finite() && !text.contains('.') {
            format!("{text}.0")
        } else {
            text
        }
    }

    proptest::proptest! {
        #[test]
        fn floats_print_as_ryu_printed_them(bits: u64, small in 0.0..100.0f64, scale in -30i32..30) {
            for v in [f64::from_bits(bits), small, small * 10f64.powi(scale), small.sqrt() * 100.0] {
                proptest::prop_assert_eq!(float(v), float_with_ryu(v), "{:e}", v);
                if v.is_finite() {
                    proptest::prop_assert_eq!(float(v).parse::<f64>().unwrap().to_bits(), v.to_bits());
                }
            }
        }
    }

    #[test]
    fn text_is_quoted_only_when_needed() {
        let mut out = Vec::new();
        push_text(&mut out, "1-Metric/South Congress-SB");
        out.push(b'|');
        push_text(&mut out, "A, \"B\"");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1-Metric/South Congress-SB|\"A, \"\"B\"\"\""
        );
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("capmetrics-out-{}", std::process::id()));
        let path = dir.join("nested/day.csv");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "only the output remains");
        // A folder in the way of the output: an error, and nothing left behind.
        let blocked = dir.join("blocked");
        fs::create_dir_all(blocked.join("x")).unwrap();
        assert!(write_atomically(&blocked, b"z").is_err());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
        fs::remove_dir_all(&dir).unwrap();
    }

    fn mkfifo(path: &Path) {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success(), "mkfifo {}", path.display());
    }

    #[test]
    fn a_fifo_is_written_into_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out.csv");
        mkfifo(&fifo);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(fifo).unwrap())
        };
        write_atomically(&fifo, b"a,b\n1,2\n").unwrap();
        // Checked before joining the reader, which would wait forever on a replaced FIFO.
        let kind = fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(kind.is_fifo(), "still a FIFO: {kind:?}");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file beside it");
        assert_eq!(reader.join().unwrap(), b"a,b\n1,2\n");
    }

    #[test]
    fn a_staged_file_appears_only_when_committed_and_leaves_nothing_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("day.csv");
        fs::write(&path, b"old\n").unwrap();
        let staged = write_staged(&path, b"new\n").unwrap().unwrap();
        assert_eq!(
            fs::read(&path).unwrap(),
            b"old\n",
            "the old file stays until the commit"
        );
        assert_eq!(staged.metadata().unwrap().len(), 4);
        let inode = {
            use std::os::unix::fs::MetadataExt;
            staged.metadata().unwrap().ino()
        };
        staged.commit().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new\n");
        {
            use std::os::unix::fs::MetadataExt;
            assert_eq!(
                fs::metadata(&path).unwrap().ino(),
                inode,
                "the stamp it promised"
            );
        }
        sync_folder(dir.path()).unwrap();

        drop(write_staged(&path, b"abandoned\n").unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"new\n");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
        // A device is written into at once: nothing to commit.
        assert!(
            write_staged(Path::new("/dev/null"), b"x")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn dev_null_stays_a_character_device() {
        use std::os::unix::fs::MetadataExt;
        let before = fs::symlink_metadata("/dev/null").unwrap();
        write_atomically(Path::new("/dev/null"), b"discarded").unwrap();
        let after = fs::symlink_metadata("/dev/null").unwrap();
        assert!(after.file_type().is_char_device());
        assert_eq!((after.ino(), after.rdev()), (before.ino(), before.rdev()));
    }

    #[test]
    fn a_symlink_keeps_pointing_at_its_atomically_replaced_target() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real/day.csv");
        fs::create_dir_all(real.parent().unwrap()).unwrap();
        fs::write(&real, b"old").unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink("real/day.csv", &link).unwrap();
        write_atomically(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");
        let beside: Vec<_> = fs::read_dir(real.parent().unwrap()).unwrap().collect();
        assert_eq!(beside.len(), 1, "no temporary file beside the target");
        // A link to a FIFO streams into the FIFO.
        let fifo = dir.path().join("pipe");
        mkfifo(&fifo);
        let to_fifo = dir.path().join("to-pipe.csv");
        std::os::unix::fs::symlink(&fifo, &to_fifo).unwrap();
        let reader = std::thread::spawn(move || fs::read(fifo).unwrap());
        write_atomically(&to_fifo, b"piped").unwrap();
        assert_eq!(reader.join().unwrap(), b"piped");
    }

    #[test]
    fn dangling_links_folders_and_sockets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("dangling.csv");
        let elsewhere = dir.path().join("elsewhere/target.csv");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let message = write_atomically(&link, b"x").unwrap_err().to_string();
        assert!(message.contains("symbolic link to nothing"), "{message}");
        assert!(!elsewhere.exists() && !elsewhere.parent().unwrap().exists());
        let folder = dir.path().join("folder");
        fs::create_dir(&folder).unwrap();
        let message = write_atomically(&folder, b"x").unwrap_err().to_string();
        assert!(message.contains("it is a folder"), "{message}");
        let socket = dir.path().join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let message = write_atomically(&socket, b"x").unwrap_err().to_string();
        assert!(message.contains("it is a socket"), "{message}");
        assert!(
            fs::symlink_metadata(&socket)
                .unwrap()
                .file_type()
                .is_socket()
        );
    }
}
