//! The project's Python virtualenv (`<repo>/.venv`, made by `scripts/setup-test-env`) and
//! running snippets in it.
//!
//! Interop tests check capq against the real Python tools (rq, rq-dashboard) and the S3 tests
//! run moto's server, so all of them need the same pinned environment. A missing virtualenv is a
//! setup mistake, not a reason to skip: every helper here panics with the command that fixes it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// What to run when the virtualenv is missing.
const SETUP_HINT: &str = "run scripts/setup-test-env to create it";

/// The repository's root folder (two levels above this crate).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The virtualenv's Python: `CAPQ_TEST_PYTHON` if set, else `<repo>/.venv/bin/python`.
///
/// Panics when it does not exist, saying to run `scripts/setup-test-env`.
pub fn venv_python() -> PathBuf {
    let python = match std::env::var_os("CAPQ_TEST_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => repo_root().join(".venv/bin/python"),
    };
    assert!(
        python.exists(),
        "no Python at {}: {SETUP_HINT}",
        python.display()
    );
    python
}

/// A program installed in the virtualenv (`rq`, `moto_server`), next to its Python.
///
/// Panics when it does not exist, saying to run `scripts/setup-test-env`.
pub fn venv_bin(name: &str) -> PathBuf {
    let python = venv_python();
    // Not canonicalized: the venv's `python` is a symlink to the base interpreter, and the
    // scripts live beside the link, not beside its target.
    let bin = python
        .parent()
        .map_or_else(|| PathBuf::from(name), |dir| dir.join(name));
    assert!(bin.exists(), "no {name} at {}: {SETUP_HINT}", bin.display());
    bin
}

/// Runs a Python snippet with the virtualenv's Python and extra environment variables, and
/// returns its exit status and output. The snippet is fed on standard input, so it can be any
/// size and its tracebacks say `<stdin>`.
pub fn run_python(script: &str, env: &[(&str, &str)]) -> Output {
    let python = venv_python();
    let mut child = Command::new(&python)
        .arg("-")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let mut stdin = child.stdin.take().expect("piped stdin");
    // Written from a thread so a script that prints a lot before reading all its input cannot
    // deadlock against us.
    let script = script.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {}: {e}", python.display()));
    writer
        .join()
        .expect("stdin writer thread")
        .unwrap_or_else(|e| panic!("writing the script to {}: {e}", python.display()));
    output
}

/// Runs a Python snippet like [`run_python`] and returns its standard output; panics with the
/// script's stdout and stderr when it fails.
pub fn run_python_ok(script: &str, env: &[(&str, &str)]) -> String {
    let output = run_python(script, env);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        panic!(
            "python script failed ({}):\n--- script ---\n{script}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    stdout
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_root_holds_the_workspace() {
        assert!(
            repo_root().join("Cargo.toml").exists(),
            "{}",
            repo_root().display()
        );
        assert!(repo_root().join("crates/capq-test-support").is_dir());
    }

    #[test]
    fn runs_snippets_in_the_venv_with_env() {
        let out = run_python_ok(
            "import os, sys, rq\nprint(os.environ['CAPQ_X'], rq.__version__)\nprint(sys.prefix)",
            &[("CAPQ_X", "hello")],
        );
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("hello 2.12.0"));
        let prefix = PathBuf::from(lines.next().expect("prefix line"));
        assert!(venv_python().starts_with(&prefix), "{out}");
        assert!(venv_bin("moto_server").exists());
    }

    #[test]
    fn failures_carry_the_output() {
        let output = run_python("import sys\nprint('out')\nsys.exit('boom')", &[]);
        assert!(!output.status.success());
        assert_eq!(String::from_utf8_lossy(&output.stdout), "out\n");
        assert!(String::from_utf8_lossy(&output.stderr).contains("boom"));
        let panic = std::panic::catch_unwind(|| run_python_ok("raise ValueError('bad')", &[]))
            .expect_err("run_python_ok panics");
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("ValueError: bad"), "{message}");
    }
}
