//! The processor fingerprint's computation, shared by the crate's build script and its tests.
//!
//! `build.rs` compiles this very file (as a module, through `#[path]`) and runs
//! [`processor_fingerprint`] on the crate's own directory at every build, so the fingerprint can
//! never be set by hand or forgotten. The library compiles it too, so tests can run the same
//! computation on a copy of the sources with one change and see what moves. It uses only `std`,
//! because a build script without build-dependencies can use nothing else.
//!
//! What is hashed, in this order (see [`processor_fingerprint`]):
//! 1. every file under `src/`, recursively, as its path relative to `src/` (with `/`) and its
//!    bytes, in byte order of the paths; hidden files and editor backups (`.name`, `name~`) are
//!    left out because the compiler never reads them;
//! 2. the crate's `Cargo.toml`;
//! 3. `name version source` of every package the crate depends on, directly (its
//!    `[dependencies]`, not dev-dependencies, which cannot change the library) or transitively,
//!    as locked in the workspace's `Cargo.lock`, sorted.
//!
//! Nothing outside the crate's folder is read except `Cargo.lock`, so where the copy lives does
//! not matter. The hash is FNV-1a with 128-bit state (the published FNV parameters), written out
//! here: std's `DefaultHasher`/SipHash is explicitly not stable across Rust releases, and a
//! fingerprint stored in a run manifest must mean the same thing to the next build. Its 128 bits
//! are xor-folded to 64 and shown as 16 lowercase hex digits.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Bumped whenever the byte layout fed to the hash changes, so old and new fingerprints can
/// never be equal by accident.
const LAYOUT: &[u8] = b"capmetrics processor fingerprint, layout 1\n";

/// FNV-1a over 128-bit state: small, fully specified, and the same on every platform and
/// release. Not collision-resistant against an adversary, which a fingerprint of one's own
/// sources does not need.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a128 {
    state: u128,
}

impl Fnv1a128 {
    /// The FNV-1a 128 offset basis.
    const OFFSET_BASIS: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    /// The FNV 128 prime, 2^88 + 2^8 + 0x3b.
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

    pub const fn new() -> Fnv1a128 {
        Fnv1a128 {
            state: Self::OFFSET_BASIS,
        }
    }

    pub fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.state ^= u128::from(byte);
            self.state = self.state.wrapping_mul(Self::PRIME);
        }
    }

    /// Writes a length first, so that consecutive fields cannot run into each other
    /// (`ab` + `c` and `a` + `bc` hash differently).
    pub fn write_field(&mut self, bytes: &[u8]) {
        self.write(format!("{}:", bytes.len()).as_bytes());
        self.write(bytes);
    }

    /// The full 128-bit hash.
    pub fn finish(&self) -> u128 {
        self.state
    }

    /// The hash xor-folded to 64 bits, as 16 lowercase hex digits. FNV's low bits mix less
    /// than its high ones; folding keeps both halves' information.
    pub fn short_hex(&self) -> String {
        let folded = (self.state >> 64) as u64 ^ self.state as u64;
        format!("{folded:016x}")
    }
}

impl Default for Fnv1a128 {
    fn default() -> Fnv1a128 {
        Fnv1a128::new()
    }
}

/// The processor fingerprint of a crate folder, and the files it was computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFingerprint {
    /// 16 lowercase hex digits.
    pub fingerprint: String,
    /// Every file read: the sources, `Cargo.toml` and `Cargo.lock` (a build script reruns when
    /// one of them changes).
    pub files: Vec<PathBuf>,
}

/// Fingerprints the crate in `crate_dir` (its `src/` and `Cargo.toml`) together with its
/// dependencies' versions locked in `lock_file`. See the module documentation for the layout.
pub fn processor_fingerprint(crate_dir: &Path, lock_file: &Path) -> io::Result<SourceFingerprint> {
    let mut hash = Fnv1a128::new();
    hash.write(LAYOUT);
    let mut files = Vec::new();

    let src = crate_dir.join("src");
    let mut sources = Vec::new();
    collect_sources(&src, "", &mut sources)?;
    // Byte order of the relative paths: independent of the file system's listing order.
    sources.sort();
    for relative in &sources {
        let path = src.join(relative);
        let bytes = read(&path)?;
        hash.write(b"source\n");
        hash.write_field(relative.as_bytes());
        hash.write_field(&bytes);
        files.push(path);
    }

    let manifest_path = crate_dir.join("Cargo.toml");
    let manifest = read_text(&manifest_path)?;
    hash.write(b"manifest\n");
    hash.write_field(manifest.as_bytes());
    files.push(manifest_path.clone());

    let lock = read_text(lock_file)?;
    let packages = locked_dependencies(&manifest, &lock).map_err(|problem| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} with {}: {problem}",
                manifest_path.display(),
                lock_file.display()
            ),
        )
    })?;
    hash.write(b"locked\n");
    for package in &packages {
        hash.write_field(package.as_bytes());
    }
    files.push(lock_file.to_path_buf());

    Ok(SourceFingerprint {
        fingerprint: hash.short_hex(),
        files,
    })
}

/// The `Cargo.lock` of the workspace holding `crate_dir`: the nearest one in it or above it.
pub fn find_lock_file(crate_dir: &Path) -> Option<PathBuf> {
    crate_dir
        .ancestors()
        .map(|dir| dir.join("Cargo.lock"))
        .find(|path| path.is_file())
}

/// Adds the paths (relative to the walk's root, `/`-separated) of every file under `dir`.
fn collect_sources(dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
    let entries = fs::read_dir(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot list {}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry
            .map_err(|e| io::Error::new(e.kind(), format!("cannot list {}: {e}", dir.display())))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: a file name that is not UTF-8", entry.path().display()),
            ));
        };
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let relative = format!("{prefix}{name}");
        // `metadata` follows symbolic links, as the compiler does.
        let metadata = fs::metadata(entry.path()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot read {}: {e}", entry.path().display()),
            )
        })?;
        if metadata.is_dir() {
            collect_sources(&entry.path(), &format!("{relative}/"), out)?;
        } else {
            out.push(relative);
        }
    }
    Ok(())
}

fn read(path: &Path) -> io::Result<Vec<u8>> {
    fs::read(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display())))
}

fn read_text(path: &Path) -> io::Result<String> {
    let bytes = read(path)?;
    String::from_utf8(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not UTF-8", path.display()),
        )
    })
}

/// One `[[package]]` of a `Cargo.lock`.
#[derive(Debug, Default)]
struct LockedPackage {
    name: String,
    version: String,
    source: Option<String>,
    /// `name`, `name version` or `name version (source)`, as the lock file writes them.
    dependencies: Vec<String>,
}

impl LockedPackage {
    fn line(&self) -> String {
        let mut line = format!("{} {}", self.name, self.version);
        if let Some(source) = &self.source {
            let _ = write!(line, " {source}");
        }
        line
    }
}

/// `name version source` of every package the manifest's crate depends on (not through
/// dev-dependencies), sorted; an error names what could not be resolved.
fn locked_dependencies(manifest: &str, lock: &str) -> Result<Vec<String>, String> {
    let name = package_name(manifest).ok_or("no `name` in the `[package]` table")?;
    let direct = dependency_names(manifest);
    let packages = parse_lock(lock);
    let root = packages
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| format!("no package `{name}` in the lock file"))?;

    let mut seen = BTreeSet::new();
    let mut lines = BTreeSet::new();
    let mut pending = Vec::new();
    for dependency in &direct {
        // The root's own list says which version a name resolved to when several are locked.
        let entry = root
            .dependencies
            .iter()
            .find(|d| d.split_whitespace().next() == Some(dependency.as_str()))
            .ok_or_else(|| {
                format!("dependency `{dependency}` is not in the lock file's entry for `{name}`")
            })?;
        pending.push(entry.clone());
    }
    while let Some(entry) = pending.pop() {
        let package = resolve(&packages, &entry)
            .ok_or_else(|| format!("the lock file has no package for `{entry}`"))?;
        if seen.insert(package.line()) {
            lines.insert(package.line());
            pending.extend(package.dependencies.iter().cloned());
        }
    }
    Ok(lines.into_iter().collect())
}

/// The package a lock file's dependency entry (`name`, `name version`, `name version (src)`)
/// points at.
fn resolve<'a>(packages: &'a [LockedPackage], entry: &str) -> Option<&'a LockedPackage> {
    let mut words = entry.split_whitespace();
    let name = words.next()?;
    let version = words.next();
    let mut matching = packages
        .iter()
        .filter(|p| p.name == name && version.is_none_or(|v| p.version == v));
    let first = matching.next()?;
    // A bare name is only written when one version is locked; several would be ambiguous.
    matching.next().is_none().then_some(first)
}

/// The `[[package]]` entries of a `Cargo.lock` (a small, fixed TOML shape written by cargo).
fn parse_lock(lock: &str) -> Vec<LockedPackage> {
    let mut packages: Vec<LockedPackage> = Vec::new();
    let mut in_package = false;
    let mut in_dependencies = false;
    for line in lock.lines() {
        let line = line.trim();
        if in_dependencies {
            if line.starts_with(']') {
                in_dependencies = false;
            } else if let Some(package) = packages.last_mut() {
                let entry = line.trim_end_matches(',').trim_matches('"');
                if !entry.is_empty() {
                    package.dependencies.push(entry.to_owned());
                }
            }
            continue;
        }
        if line.starts_with('[') {
            in_package = line == "[[package]]";
            if in_package {
                packages.push(LockedPackage::default());
            }
            continue;
        }
        let (Some(package), true) = (packages.last_mut(), in_package) else {
            continue;
        };
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "name" => package.name = unquote(value),
            "version" => package.version = unquote(value),
            "source" => package.source = Some(unquote(value)),
            "dependencies" => {
                // `dependencies = [` opens a list; cargo writes one entry per line.
                let inline = value.trim_start_matches('[');
                if let Some(inline) = inline.strip_suffix(']') {
                    package.dependencies.extend(
                        inline
                            .split(',')
                            .map(|d| d.trim().trim_matches('"').to_owned())
                            .filter(|d| !d.is_empty()),
                    );
                } else {
                    in_dependencies = true;
                }
            }
            _ => {}
        }
    }
    packages
}

fn unquote(value: &str) -> String {
    value.trim().trim_matches('"').to_owned()
}

/// `[package] name` of a manifest.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "name"
        {
            return Some(unquote(value));
        }
    }
    None
}

/// The names under `[dependencies]` and `[target.….dependencies]` (also written as
/// `[dependencies.NAME]`), which are what the library is built with.
fn dependency_names(manifest: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_dependencies = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            let table = line.trim_matches(|c| c == '[' || c == ']').trim();
            let table = table
                .strip_prefix("target.")
                .and_then(|rest| rest.rfind(".dependencies").map(|i| &rest[i + 1..]))
                .unwrap_or(table);
            in_dependencies = table == "dependencies";
            if let Some(name) = table.strip_prefix("dependencies.") {
                names.insert(name.trim_matches('"').to_owned());
            }
            continue;
        }
        if !in_dependencies || line.is_empty() || line.starts_with('#') {
            continue;
        }
        // `name = …`, `name.workspace = true`, `"name" = …`.
        if let Some(key) = line.split(['=', '.']).next() {
            let key = key.trim().trim_matches('"');
            if !key.is_empty() {
                names.insert(key.to_owned());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        let mut hash = Fnv1a128::new();
        hash.write(bytes);
        format!("{:032x}", hash.finish())
    }

    /// The published FNV-1a 128 test vectors.
    #[test]
    fn fnv1a_128_matches_the_reference_values() {
        assert_eq!(hex(b""), "6c62272e07bb014262b821756295c58d");
        assert_eq!(hex(b"a"), "d228cb696f1a8caf78912b704e4a8964");
        assert_eq!(hex(b"foobar"), "343e1662793c64bf6f0d3597ba446f18");
    }

    const LOCK: &str = r#"# This file is automatically @generated by Cargo.
version = 4

[[package]]
name = "a"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = [
 "c 2.0.0",
]

[[package]]
name = "b"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "c"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "c"
version = "2.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "me"
version = "0.1.0"
dependencies = [
 "a",
 "b",
 "c 1.0.0",
]
"#;

    const MANIFEST: &str = "[package]\nname = \"me\"\nversion.workspace = true\n\n\
        [dependencies]\na.workspace = true\n\"c\" = { version = \"1\" }\n\n\
        [dev-dependencies]\nb = \"1\"\n";

    #[test]
    fn locked_dependencies_are_transitive_and_leave_out_dev_dependencies() {
        assert_eq!(
            locked_dependencies(MANIFEST, LOCK).unwrap(),
            [
                "a 1.0.0 registry+https://github.com/rust-lang/crates.io-index",
                "c 1.0.0 registry+https://github.com/rust-lang/crates.io-index",
                "c 2.0.0 registry+https://github.com/rust-lang/crates.io-index",
            ]
        );
    }

    #[test]
    fn an_unresolvable_dependency_is_an_error_naming_it() {
        let manifest = MANIFEST.replace("a.workspace", "zz.workspace");
        let error = locked_dependencies(&manifest, LOCK).unwrap_err();
        assert_eq!(
            error,
            "dependency `zz` is not in the lock file's entry for `me`"
        );
    }

    #[test]
    fn target_specific_and_dotted_dependency_tables_count() {
        let manifest = "[package]\nname = \"me\"\n[target.'cfg(unix)'.dependencies]\nx = \"1\"\n\
            [dependencies.y]\nversion = \"1\"\n[build-dependencies]\nz = \"1\"\n";
        assert_eq!(
            dependency_names(manifest).into_iter().collect::<Vec<_>>(),
            ["x", "y"]
        );
    }
}
