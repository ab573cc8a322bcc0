//! The processor fingerprint follows the processing crate's sources and locked dependencies,
//! and nothing else: computed on temporary copies of the crate with one change each.

use std::fs;
use std::path::{Path, PathBuf};

use capmetrics::PROCESSOR_FINGERPRINT;
use capmetrics::fingerprint::{find_lock_file, processor_fingerprint};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn workspace_lock() -> PathBuf {
    find_lock_file(&crate_dir()).unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of the crate's `src/` and `Cargo.toml` plus the workspace's `Cargo.lock`, at
/// `root/<under>/capmetrics`. Returns (crate folder, lock file).
fn copy_of_crate(root: &Path, under: &str) -> (PathBuf, PathBuf) {
    let copy = root.join(under).join("capmetrics");
    copy_dir(&crate_dir().join("src"), &copy.join("src"));
    fs::copy(crate_dir().join("Cargo.toml"), copy.join("Cargo.toml")).unwrap();
    let lock = root.join("Cargo.lock");
    fs::copy(workspace_lock(), &lock).unwrap();
    (copy, lock)
}

fn fingerprint(crate_dir: &Path, lock: &Path) -> String {
    processor_fingerprint(crate_dir, lock).unwrap().fingerprint
}

fn replace_in(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn the_built_in_fingerprint_is_the_one_of_these_sources() {
    assert_eq!(
        fingerprint(&crate_dir(), &workspace_lock()),
        PROCESSOR_FINGERPRINT
    );
}

#[test]
fn identical_copies_anywhere_have_the_same_fingerprint() {
    let temp = tempfile::tempdir().unwrap();
    let (a, a_lock) = copy_of_crate(&temp.path().join("a"), "crates");
    let (b, b_lock) = copy_of_crate(&temp.path().join("b"), "some/deeper/place");
    assert_eq!(fingerprint(&a, &a_lock), PROCESSOR_FINGERPRINT);
    assert_eq!(fingerprint(&b, &b_lock), PROCESSOR_FINGERPRINT);
    // Files the compiler never reads (editor leftovers) change nothing.
    fs::write(a.join("src/.process.rs.swp"), "swap").unwrap();
    fs::write(a.join("src/process.rs~"), "backup").unwrap();
    assert_eq!(fingerprint(&a, &a_lock), PROCESSOR_FINGERPRINT);
}

#[test]
fn a_changed_helper_file_changes_the_fingerprint() {
    let temp = tempfile::tempdir().unwrap();
    let (copy, lock) = copy_of_crate(temp.path(), "crates");
    // A helper far from process.rs: the ISO weekday of a date.
    replace_in(
        &copy.join("src/date.rs"),
        "pub fn iso_weekday",
        "pub fn iso_weekday_",
    );
    let changed = fingerprint(&copy, &lock);
    assert_ne!(changed, PROCESSOR_FINGERPRINT);
    assert_eq!(changed.len(), 16);
}

#[test]
fn a_changed_comment_changes_the_fingerprint() {
    let temp = tempfile::tempdir().unwrap();
    let (copy, lock) = copy_of_crate(temp.path(), "crates");
    replace_in(&copy.join("src/stops.rs"), "//!", "//! Edited.");
    assert_ne!(fingerprint(&copy, &lock), PROCESSOR_FINGERPRINT);
}

#[test]
fn added_files_and_the_manifest_change_the_fingerprint() {
    let temp = tempfile::tempdir().unwrap();
    let (copy, lock) = copy_of_crate(temp.path(), "crates");
    fs::write(copy.join("src/new_helper.rs"), "//! New.\n").unwrap();
    let with_new_file = fingerprint(&copy, &lock);
    assert_ne!(with_new_file, PROCESSOR_FINGERPRINT);

    // Renaming a file is a change even when its content is not.
    fs::rename(
        copy.join("src/new_helper.rs"),
        copy.join("src/other_helper.rs"),
    )
    .unwrap();
    assert_ne!(fingerprint(&copy, &lock), with_new_file);
    fs::remove_file(copy.join("src/other_helper.rs")).unwrap();
    assert_eq!(fingerprint(&copy, &lock), PROCESSOR_FINGERPRINT);

    replace_in(
        &copy.join("Cargo.toml"),
        "[dependencies]",
        "[dependencies]\n# a note",
    );
    assert_ne!(fingerprint(&copy, &lock), PROCESSOR_FINGERPRINT);
}

/// `name = "NAME"\nversion = "V"` in the lock file becomes version `V.99`.
fn bump_locked_version(lock: &Path, name: &str) {
    let text = fs::read_to_string(lock).unwrap();
    let marker = format!("name = \"{name}\"\nversion = \"");
    let at = text
        .find(&marker)
        .unwrap_or_else(|| panic!("{name} is not locked"))
        + marker.len();
    let end = at + text[at..].find('"').unwrap();
    fs::write(lock, format!("{}.99{}", &text[..end], &text[end..])).unwrap();
}

#[test]
fn locked_versions_of_dependencies_and_only_theirs_count() {
    let temp = tempfile::tempdir().unwrap();
    let (copy, lock) = copy_of_crate(temp.path(), "crates");
    let original = fs::read_to_string(&lock).unwrap();

    // A direct dependency.
    bump_locked_version(&lock, "memchr");
    assert_ne!(fingerprint(&copy, &lock), PROCESSOR_FINGERPRINT);

    // A transitive one: flate2's zlib-rs backend.
    fs::write(&lock, &original).unwrap();
    bump_locked_version(&lock, "zlib-rs");
    assert_ne!(fingerprint(&copy, &lock), PROCESSOR_FINGERPRINT);

    // A package only the rest of the workspace uses, and a dev-dependency: no change.
    for name in ["tokio", "proptest"] {
        fs::write(&lock, &original).unwrap();
        bump_locked_version(&lock, name);
        assert_eq!(
            fingerprint(&copy, &lock),
            PROCESSOR_FINGERPRINT,
            "{name} is not a dependency of the processor"
        );
    }
}

#[test]
fn a_missing_lock_entry_is_an_error_naming_it() {
    let temp = tempfile::tempdir().unwrap();
    let (copy, lock) = copy_of_crate(temp.path(), "crates");
    replace_in(
        &copy.join("Cargo.toml"),
        "[dependencies]",
        "[dependencies]\nnot-locked = \"1\"",
    );
    let error = processor_fingerprint(&copy, &lock).unwrap_err().to_string();
    assert!(
        error.contains("dependency `not-locked` is not in the lock file's entry for `capmetrics`"),
        "{error}"
    );
}
