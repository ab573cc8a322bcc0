//! The one-machine cluster end to end (scripts/local-cluster): Redis with AOF and a password,
//! moto as S3 holding the inputs, three `capq worker` processes and the dashboard. Fifty real
//! days, re-dated, go through it; every output that lands in S3 must equal, byte for byte, what
//! `capq run` writes for the same days, and Ctrl-C must take the whole cluster down.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use capq_test_support::net::{free_port, wait_until};
use capq_test_support::python::{repo_root, run_python_ok, venv_python};

use crate::capq_bin;
use crate::queue::http_get;

const FIRST_DAY: &str = "2017-01-01";
const LAST_DAY: &str = "2017-02-19";
const DAYS: usize = 50;
const WORKERS: u16 = 3;
const BUCKET: &str = "capmetrics";

/// scripts/local-cluster, in its own process group so the test can Ctrl-C it as a terminal
/// would; the group is interrupted (then killed) if the test ends first.
struct Cluster {
    child: Child,
    stderr_path: PathBuf,
    lines: mpsc::Receiver<String>,
}

impl Cluster {
    fn start(args: &[String], stderr_path: PathBuf) -> Cluster {
        let stderr = std::fs::File::create(&stderr_path).expect("log file");
        let mut child = Command::new(repo_root().join("scripts/local-cluster"))
            .args(args)
            .env("CAPQ_BIN", capq_bin())
            .env_remove("CAPQ_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .expect("scripts/local-cluster starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Cluster {
            child,
            stderr_path,
            lines,
        }
    }

    /// Reads stdout until "local-cluster: ready" and returns what it printed up to there.
    fn wait_ready(&mut self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut printed = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line == "local-cluster: ready" => break,
                Ok(line) => printed.push(line),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!(
                        "local-cluster not ready within {timeout:?}:\n{}",
                        self.log()
                    )
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!(
                    "local-cluster exited ({:?}) before it was ready:\n{}",
                    self.child.wait().ok(),
                    self.log()
                ),
            }
        }
        // The lines after "ready" say where everything is; they come at once.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            let last = line.starts_with("Ctrl-C");
            printed.push(line);
            if last {
                break;
            }
        }
        printed
    }

    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([
                format!("-{signal}"),
                "--".to_owned(),
                format!("-{}", self.child.id()),
            ])
            .status();
    }

    fn exited_within(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let child = &mut self.child;
        let mut status = None;
        wait_until(timeout, || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        });
        status
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // Ctrl-C first: the script stops its components (each in its own group).
            self.signal_group("INT");
            if self.exited_within(Duration::from_secs(60)).is_none() {
                self.signal_group("KILL");
            }
        }
        let _ = self.child.wait();
    }
}

/// A port `p` such that p+1 ..= p+n are free (local-cluster's --metrics-base).
fn free_port_run(n: u16) -> u16 {
    loop {
        let base = free_port();
        if base <= u16::MAX - n
            && (1..=n).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        {
            return base;
        }
    }
}

fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn run(program: &Path, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .env_remove("CAPQ_DATA")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        output.status.success(),
        "{} {args:?} failed ({}):\n{}{}",
        program.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn fifty_days_through_the_one_machine_cluster_equal_capq_run() {
    let capq = capq_bin();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let local = dir.path().join("local");
    let downloaded = dir.path().join("from-s3");

    // Fifty real days, re-dated to 2017-01-01 … 2017-02-19, and what `capq run` makes of them.
    let redate = repo_root().join("scripts/redate.py");
    let sample = repo_root().join("data/sample");
    run(
        &venv_python(),
        &[
            path_str(&redate),
            "--source",
            path_str(&sample),
            "--start",
            FIRST_DAY,
            "--days",
            &DAYS.to_string(),
            "--out",
            path_str(&data),
        ],
    );
    run(
        &capq,
        &[
            "run",
            "--data",
            path_str(&data),
            "--output",
            path_str(&local),
        ],
    );
    let mut expected = crate::files_in(&local);
    expected.retain(|name| name.ends_with("_processed.csv"));
    assert_eq!(expected.len(), DAYS, "capq run wrote {expected:?}");

    let redis_port = free_port();
    let s3_port = free_port();
    let dashboard_port = free_port();
    let metrics_base = free_port_run(WORKERS);
    let worker_ports: Vec<u16> = (1..=WORKERS).map(|i| metrics_base + i).collect();
    let args: Vec<String> = [
        "--workers",
        &WORKERS.to_string(),
        "--data",
        path_str(&data),
        "--bucket",
        BUCKET,
        "--redis-port",
        &redis_port.to_string(),
        "--s3-port",
        &s3_port.to_string(),
        "--dashboard-port",
        &dashboard_port.to_string(),
        "--metrics-base",
        &metrics_base.to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    let mut cluster = Cluster::start(&args, dir.path().join("local-cluster.log"));
    let printed = cluster.wait_ready(Duration::from_secs(120));
    let url = printed
        .iter()
        .find_map(|line| line.strip_prefix("  redis"))
        .map(|rest| rest.trim().to_owned())
        .unwrap_or_else(|| panic!("no redis line in {printed:#?}"));
    assert!(
        url.ends_with(&format!("@127.0.0.1:{redis_port}/0")),
        "{url}"
    );

    // Every component answers its health check.
    let dashboard = http_get(dashboard_port, "/healthz");
    assert_eq!(
        dashboard.as_ref().map(|(status, _)| *status),
        Some(200),
        "dashboard /healthz: {dashboard:?}\n{}",
        cluster.log()
    );
    for &port in &worker_ports {
        assert_eq!(
            http_get(port, "/healthz"),
            Some((200, "alive\n".to_owned())),
            "worker on {port}"
        );
    }

    let enqueued = run(
        &capq,
        &[
            "enqueue",
            "--url",
            &url,
            "--days",
            &format!("{FIRST_DAY}..{LAST_DAY}"),
            "--output",
            &format!("s3://{BUCKET}/processed/"),
        ],
    );
    let ids = String::from_utf8_lossy(&enqueued.stdout).into_owned();
    assert!(ids.lines().count() >= DAYS, "enqueue printed:\n{ids}");

    let mut info = serde_json::Value::Null;
    let done = wait_until(Duration::from_secs(90), || {
        let output = run(&capq, &["info", "--json", "--url", &url]);
        info = serde_json::from_slice(&output.stdout).expect("info --json");
        let queue = &info["queues"][0];
        queue["failed"] != 0 || queue["finished"] == DAYS
    });
    assert!(
        done,
        "not finished within 90 s: {info:#}\n{}",
        cluster.log()
    );
    assert_eq!(info["queues"][0]["finished"], DAYS, "{info:#}");
    assert_eq!(info["queues"][0]["failed"], 0, "{info:#}");
    let workers = info["workers"].as_array().expect("workers");
    assert_eq!(workers.len(), usize::from(WORKERS), "{info:#}");
    let mut total = 0;
    for worker in workers {
        let jobs = worker["successful_jobs"].as_u64().unwrap_or_default();
        assert!(jobs > 0, "a worker that ran nothing: {worker:#}");
        total += jobs;
    }
    assert_eq!(total, DAYS as u64, "{info:#}");

    // What landed in S3 equals what `capq run` wrote, byte for byte.
    let endpoint = format!("http://127.0.0.1:{s3_port}");
    let listed = run_python_ok(
        &format!(
            "import boto3, os\n\
             s3 = boto3.client('s3', endpoint_url={endpoint:?}, region_name='us-east-1',\n\
                               aws_access_key_id='local', aws_secret_access_key='local')\n\
             os.makedirs({out:?})\n\
             for page in s3.get_paginator('list_objects_v2').paginate(Bucket={BUCKET:?}, Prefix='processed/'):\n\
             \x20   for item in page.get('Contents', []):\n\
             \x20       name = item['Key'][len('processed/'):]\n\
             \x20       s3.download_file({BUCKET:?}, item['Key'], os.path.join({out:?}, name))\n\
             \x20       print(name)\n",
            out = path_str(&downloaded),
        ),
        &[],
    );
    let listed: Vec<&str> = listed.lines().collect();
    assert_eq!(listed, expected, "the outputs in s3://{BUCKET}/processed/");
    for name in &expected {
        let want = std::fs::read(local.join(name)).unwrap();
        let got = std::fs::read(downloaded.join(name)).unwrap();
        assert!(!want.is_empty(), "{name} is empty");
        assert!(got == want, "{name} from S3 differs from capq run's");
    }

    // Ctrl-C takes everything down.
    cluster.signal_group("INT");
    let status = cluster.exited_within(Duration::from_secs(60));
    assert!(
        status.is_some(),
        "local-cluster still running 60 s after SIGINT:\n{}",
        cluster.log()
    );
    let mut ports = vec![redis_port, s3_port, dashboard_port];
    ports.extend(&worker_ports);
    let still: Vec<u16> = ports.into_iter().filter(|&p| listening(p)).collect();
    assert!(
        still.is_empty(),
        "ports still listening after the cluster stopped: {still:?}\n{}",
        cluster.log()
    );
    assert!(
        cluster.log().contains("local-cluster: stopped"),
        "{}",
        cluster.log()
    );
}

#[test]
fn a_component_that_does_not_come_up_is_named_and_the_rest_stopped() {
    // Something else holds the Redis port: redis-server cannot start.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let redis_port = taken.local_addr().unwrap().port();
    let s3_port = free_port();
    let metrics_base = free_port_run(1);
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<String> = [
        "--workers",
        "1",
        "--no-dashboard",
        "--redis-port",
        &redis_port.to_string(),
        "--s3-port",
        &s3_port.to_string(),
        "--metrics-base",
        &metrics_base.to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    let mut cluster = Cluster::start(&args, dir.path().join("local-cluster.log"));
    let status = cluster.exited_within(Duration::from_secs(120));
    let log = cluster.log();
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{log}");
    assert!(
        log.contains("local-cluster: redis exited before it was ready"),
        "{log}"
    );
    assert!(log.contains("local-cluster: stopped"), "{log}");
    assert!(!listening(s3_port), "S3 left running:\n{log}");
    assert!(
        cluster
            .lines
            .try_iter()
            .all(|line| line != "local-cluster: ready"),
        "{log}"
    );
}
