//! End-to-end tests of the queue: real `redis-server`, real moto S3, real Python `rq` and
//! rq-dashboard, and real `capq worker` processes.

mod bad_jobs;
mod cli;
mod health;
mod incremental;
mod logs;
mod mixed_fleet;
mod pinned;
mod readme;
mod requeue;
mod rq_tools;
mod secure;
mod seed;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use capq_test_support::RedisServer;
use capq_test_support::s3::S3Server;

use crate::testdata;

/// A `capq` process in the background, killed if the test ends first.
pub struct Process {
    pub child: Child,
    pub stderr_path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Process {
    /// Waits for the process to exit, up to `timeout`; panics with its log if it does not.
    pub fn wait(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "capq did not exit within {timeout:?}; its log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Sends SIGTERM and checks that the process exits with 0 (within 30 s), showing its log
    /// if not.
    pub fn stop_ok(&mut self) {
        self.terminate();
        let status = self.wait(Duration::from_secs(30));
        assert!(status.success(), "{status}:\n{}", self.log());
    }

    /// What the process wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `capq <args>` in the background with extra environment variables.
pub fn spawn_capq(args: &[&str], env: &[(String, String)]) -> Process {
    let dir = tempfile::tempdir().expect("temp dir");
    let stderr_path = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&stderr_path).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_capq"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("CAPQ_LOG", "info")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("capq starts");
    Process {
        child,
        stderr_path,
        _dir: dir,
    }
}

/// Starts a worker on `redis` reading the real test data, with S3 reachable if given.
pub fn spawn_worker(redis: &RedisServer, s3: Option<&S3Server>, extra: &[&str]) -> Process {
    spawn_worker_at(
        &redis.url(),
        &s3.map(S3Server::env).unwrap_or_default(),
        extra,
    )
}

/// Starts a worker on the Redis at `url` reading the real test data.
pub fn spawn_worker_at(url: &str, env: &[(String, String)], extra: &[&str]) -> Process {
    let data = testdata().join("data");
    let mut args = vec![
        "worker",
        "--url",
        url,
        "--data",
        data.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    spawn_capq(&args, env)
}

/// This build's processor fingerprint, as `capq --version` prints it.
pub fn own_processor() -> String {
    let version = run_capq(&["--version"], &[]);
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    let processor = version
        .split_once("(processor ")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(processor, _)| processor)
        .unwrap_or_else(|| panic!("no processor in {version:?}"));
    assert_eq!(processor.len(), 16, "{version}");
    processor.to_owned()
}

/// The queue `capq enqueue --queue default` puts its batches on: `default` pinned to this
/// build's processor.
pub fn pinned_default() -> String {
    format!("default@{}", own_processor())
}

/// Runs `capq <args>` to completion with extra environment variables.
pub fn run_capq(args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capq"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("capq runs")
}

/// `GET path` on 127.0.0.1:`port` → (status code, body); `None` if nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    Some((
        status,
        response
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_owned(),
    ))
}

/// Polls until `condition` holds; panics with `what` after `timeout`.
pub fn eventually(what: &str, timeout: Duration, condition: impl FnMut() -> bool) {
    assert!(
        capq_test_support::net::wait_until(timeout, condition),
        "timed out waiting for {what}"
    );
}

/// A Python snippet's prelude: imports, the Redis connection, and `sys.path` for stub modules.
pub fn python_prelude(redis: &RedisServer, module_dir: &Path) -> String {
    format!(
        "import sys, json, time\nsys.path.insert(0, {dir:?})\nfrom redis import Redis\nfrom rq import Queue\nfrom rq.job import Job\nr = Redis.from_url({url:?})\nq = Queue(connection=r)\n",
        dir = module_dir.display().to_string(),
        url = redis.url(),
    )
}

/// Writes Python stub modules the client side imports: `tasks.process_day_to_s3` (the seed's
/// signature) and a `capq` module whose functions a Python RQ worker can also run.
pub fn write_python_modules(dir: &Path) {
    std::fs::write(
        dir.join("tasks.py"),
        "def process_day_to_s3(day, bucket, key):\n    raise NotImplementedError('runs on capq workers')\n",
    )
    .expect("write tasks.py");
    std::fs::write(
        dir.join("capq.py"),
        "import time\n\ndef noop():\n    return None\n\ndef sleep(seconds):\n    time.sleep(seconds)\n    return seconds\n\ndef fail(message='capq.fail() was called'):\n    raise RuntimeError(message)\n\ndef process_day(day, output):\n    raise NotImplementedError('runs on capq workers')\n",
    )
    .expect("write capq.py");
}
