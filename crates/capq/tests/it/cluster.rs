//! The one-machine cluster end to end (scripts/local-cluster): Redis with AOF and a password,
//! moto as S3 holding the inputs, three `capq worker` processes and the dashboard. Fifty real
//! days, re-dated, go through it; every output that lands in S3 must equal, byte for byte, what
//! `capq run` writes for the same days, and Ctrl-C must take the whole cluster down and leave its
//! logs where it said they are. `--help` prints the usage and nothing else.

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
/// Bounds on a hang, not expectations: the script names a component that does not come up
/// within its own timeouts, but uploading the inputs to moto and starting debug binaries takes
/// minutes on a loaded 2-core machine (over 120 s with both cores busy).
const READY_WITHIN: Duration = Duration::from_secs(600);
/// Workers get their grace period, then the servers stop.
const STOPPED_WITHIN: Duration = Duration::from_secs(180);

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
        // Through `env --default-signal`: a test run started in the background of a script
        // inherits SIGINT ignored, and bash cannot trap a signal ignored on entry, so the
        // script would never see the Ctrl-C this test sends.
        let mut child = Command::new("env")
            .arg("--default-signal=INT")
            .arg(repo_root().join("scripts/local-cluster"))
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
        self.try_wait_ready(timeout).unwrap_or_else(|log| {
            panic!(
                "local-cluster exited ({:?}) before it was ready:\n{log}",
                self.child.wait().ok()
            )
        })
    }

    /// As `wait_ready`, but returns the log if the script exits before it is ready.
    fn try_wait_ready(&mut self, timeout: Duration) -> Result<Vec<String>, String> {
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
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = self.child.wait();
                    return Err(self.log());
                }
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
        Ok(printed)
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
    run_with(program, args, &[])
}

fn run_with(program: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let output = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
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
        // In the test's folder, so that the kept logs go with it.
        "--logs",
        path_str(&dir.path().join("logs")),
    ]
    .map(str::to_owned)
    .to_vec();
    let mut cluster = Cluster::start(&args, dir.path().join("local-cluster.log"));
    let printed = cluster.wait_ready(READY_WITHIN);
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

    // As local-cluster says: the enqueue records the batch in the bucket, so it needs S3 too.
    let s3_env = [
        ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{s3_port}")),
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
    ];
    let enqueued = run_with(
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
        &s3_env,
    );
    let ids = String::from_utf8_lossy(&enqueued.stdout).into_owned();
    assert!(ids.lines().count() >= DAYS, "enqueue printed:\n{ids}");

    let mut info = serde_json::Value::Null;
    let done = wait_until(Duration::from_secs(600), || {
        let output = run(&capq, &["info", "--json", "--url", &url]);
        info = serde_json::from_slice(&output.stdout).expect("info --json");
        let queue = &info["queues"][0];
        queue["failed"] != 0 || queue["finished"] == DAYS
    });
    assert!(
        done,
        "not finished within 600 s: {info:#}\n{}",
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
             \x20       if '/' in name: continue\n\
             \x20       s3.download_file({BUCKET:?}, item['Key'], os.path.join({out:?}, name))\n\
             \x20       print(name)\n\
             for page in s3.get_paginator('list_objects_v2').paginate(Bucket={BUCKET:?}, Prefix='processed/.capq/runs/'):\n\
             \x20   for item in page.get('Contents', []):\n\
             \x20       print('record', item['Key'])\n",
            out = path_str(&downloaded),
        ),
        &[],
    );
    // Beside each output its partial, and the batch's records (its manifest, a record per day).
    let records = listed.lines().filter(|l| l.starts_with("record ")).count();
    assert_eq!(records, DAYS + 1, "{listed}");
    let partials = listed
        .lines()
        .filter(|l| l.ends_with("_processed.partial"))
        .count();
    assert_eq!(partials, DAYS, "{listed}");
    let listed: Vec<&str> = listed
        .lines()
        .filter(|l| l.ends_with("_processed.csv"))
        .collect();
    assert_eq!(listed, expected, "the outputs in s3://{BUCKET}/processed/");
    for name in &expected {
        let want = std::fs::read(local.join(name)).unwrap();
        let got = std::fs::read(downloaded.join(name)).unwrap();
        assert!(!want.is_empty(), "{name} is empty");
        assert!(got == want, "{name} from S3 differs from capq run's");
    }

    // Ctrl-C takes everything down.
    cluster.signal_group("INT");
    let status = cluster.exited_within(STOPPED_WITHIN);
    assert!(
        status.is_some(),
        "local-cluster still running {STOPPED_WITHIN:?} after SIGINT:\n{}",
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
    // The log it points the user to is still there once everything stopped.
    let redis_log = log
        .split("the end of its log (")
        .nth(1)
        .and_then(|rest| rest.split_once("):"))
        .map(|(path, _)| PathBuf::from(path))
        .unwrap_or_else(|| panic!("no log named in:\n{log}"));
    let logs_dir = redis_log.parent().expect("a folder").to_owned();
    let kept = std::fs::read_to_string(&redis_log);
    let _ = std::fs::remove_dir_all(&logs_dir);
    let kept = kept.unwrap_or_else(|e| panic!("{} is gone ({e}):\n{log}", redis_log.display()));
    assert!(!kept.trim().is_empty(), "redis.log is empty");
    assert!(
        log.contains(&format!("the logs are in {}", logs_dir.display())),
        "{log}"
    );
    assert!(!listening(s3_port), "S3 left running:\n{log}");
    assert!(
        cluster
            .lines
            .try_iter()
            .all(|line| line != "local-cluster: ready"),
        "{log}"
    );
}

#[test]
fn help_prints_the_usage_and_nothing_else() {
    let script = repo_root().join("scripts/local-cluster");
    let output = run(&script, &["--help"]);
    // The usage is the script's opening comment, without its `# ` prefixes.
    let text = std::fs::read_to_string(&script).unwrap();
    let expected: Vec<&str> = text
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with('#'))
        .map(|line| {
            line.strip_prefix("# ")
                .unwrap_or(line.trim_start_matches('#'))
        })
        .collect();
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(printed.lines().collect::<Vec<_>>(), expected);
    assert!(printed.contains("--logs DIR"), "{printed}");
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn logs_outlive_the_cluster_in_the_folder_the_user_chose() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("cluster logs");
    // A port picked free can be taken by another process before the cluster binds it (by an
    // outgoing connection of a test running alongside); then the cluster starts again on others.
    let mut attempts = 0;
    let (mut cluster, printed) = loop {
        attempts += 1;
        let args: Vec<String> = [
            "--workers",
            "1",
            "--no-dashboard",
            "--redis-port",
            &free_port().to_string(),
            "--s3-port",
            &free_port().to_string(),
            "--metrics-base",
            &free_port_run(1).to_string(),
            "--logs",
            path_str(&logs),
        ]
        .map(str::to_owned)
        .to_vec();
        let mut cluster = Cluster::start(&args, dir.path().join("local-cluster.log"));
        match cluster.try_wait_ready(READY_WITHIN) {
            Ok(printed) => break (cluster, printed),
            Err(log) if attempts < 3 && log.contains("Address already in use") => continue,
            Err(log) => panic!("local-cluster exited before it was ready:\n{log}"),
        }
    };
    assert!(
        printed
            .iter()
            .any(|line| line.trim_start().starts_with("logs")
                && line.contains(path_str(&logs))
                && line.contains("kept after the cluster stops")),
        "{printed:#?}"
    );

    cluster.signal_group("INT");
    assert!(
        cluster.exited_within(STOPPED_WITHIN).is_some(),
        "local-cluster still running {STOPPED_WITHIN:?} after SIGINT:\n{}",
        cluster.log()
    );
    let log = cluster.log();
    assert!(
        log.contains(&format!(
            "local-cluster: stopped; the logs are in {}",
            logs.display()
        )),
        "{log}"
    );
    let read = |name: &str| {
        std::fs::read_to_string(logs.join(name))
            .unwrap_or_else(|e| panic!("{name} not kept in {}: {e}\n{log}", logs.display()))
    };
    assert!(
        read("worker-1.log").contains("worker started"),
        "{}",
        read("worker-1.log")
    );
    assert!(
        read("upload.log").contains("files uploaded"),
        "{}",
        read("upload.log")
    );
    assert!(
        read("redis.log").contains("Ready to accept connections"),
        "{}",
        read("redis.log")
    );
    assert!(logs.join("s3.log").is_file());
}
