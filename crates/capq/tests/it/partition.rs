//! Network partitions between a worker and Redis, with real processes: a `capq worker` runs in
//! a network namespace of its own and reaches `redis-server` (in the root namespace) only
//! through a veth pair on a private /30; the test cuts that link (`ip link set … down`) and
//! heals it. A second worker in the root namespace always reaches Redis.
//!
//! - Cut longer than the lease while the partitioned worker runs a day job: the other worker
//!   recovers the job and finishes it; the job is recorded exactly once (one result-stream
//!   entry, one recovery, two attempts), and the stale worker, which got its input only after
//!   losing the lease, neither records a result nor writes its output over the good one.
//! - Cut shorter than the lease: nothing is recovered, nothing runs twice.
//!
//! The namespaces need root (as CI runs). Without it these tests fail with a message saying
//! so; they never skip. Names and addresses are unique per test run, and everything the test
//! made is removed on drop, also when it panics.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use capq_test_support::redis_server::{RedisOptions, RedisServer, Reply};

use crate::queue::eventually;
use crate::reliability::enqueue_python;
use crate::{capq_bin, testdata};

/// A network namespace joined to the root namespace by a veth pair.
struct Netns {
    name: String,
    /// The root namespace's end of the pair, the one the test takes down and up.
    host_link: String,
    host_address: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Runs `ip args…`; `Err` with its stderr if it fails.
fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip` (install iproute2): {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Netns {
    fn create() -> Netns {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let tag = format!("{:x}{n}", pid & 0xffff);
        // One /30 per (process, test): 10.213.0.0/16 holds 16,384 of them.
        let subnet = ((pid & 0xfff) << 2 | (n & 3)) * 4;
        let octets = |last: u32| format!("10.213.{}.{}", subnet >> 8, (subnet & 0xff) + last);
        let netns = Netns {
            name: format!("capq-pt-{tag}"),
            host_link: format!("cqp{tag}h"),
            host_address: octets(1),
        };
        let worker_link = format!("cqp{tag}w");
        let worker_address = octets(2);
        // Leftovers of an earlier run that died with the same pid.
        netns.remove();
        let steps: [&[&str]; 8] = [
            &["netns", "add", &netns.name],
            &[
                "link",
                "add",
                &netns.host_link,
                "type",
                "veth",
                "peer",
                "name",
                &worker_link,
            ],
            &["link", "set", &worker_link, "netns", &netns.name],
            &[
                "addr",
                "add",
                &format!("{}/30", netns.host_address),
                "dev",
                &netns.host_link,
            ],
            &["link", "set", &netns.host_link, "up"],
            &[
                "-n",
                &netns.name,
                "addr",
                "add",
                &format!("{worker_address}/30"),
                "dev",
                &worker_link,
            ],
            &["-n", &netns.name, "link", "set", &worker_link, "up"],
            &["-n", &netns.name, "link", "set", "lo", "up"],
        ];
        for step in steps {
            if let Err(e) = ip(step) {
                panic!(
                    "the partition tests need root and iproute2 to make a network namespace and a \
                     veth pair (CI runs them as root); {e}"
                );
            }
        }
        netns
    }

    /// Cuts the link: nothing passes either way until [`Netns::heal`].
    fn cut(&self) {
        ip(&["link", "set", &self.host_link, "down"]).expect("cut the link");
    }

    fn heal(&self) {
        ip(&["link", "set", &self.host_link, "up"]).expect("heal the link");
    }

    fn remove(&self) {
        // Deleting one end of a veth pair deletes both.
        let _ = ip(&["link", "del", &self.host_link]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A `capq worker` process, killed if the test ends first.
struct Worker {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Worker {
    /// Starts `capq worker` on `url`, inside `netns` if given.
    fn start(netns: Option<&Netns>, url: &str, data: &Path, extra: &[&str]) -> Worker {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&log).expect("log file");
        let bin = capq_bin();
        let mut command = match netns {
            Some(netns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", &netns.name]).arg(&bin);
                command
            }
            None => Command::new(&bin),
        };
        let child = command
            .args(["worker", "--url", url, "--data"])
            .arg(data)
            .args(extra)
            .env("CAPQ_LOG", "info")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("capq worker starts");
        Worker {
            child,
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then waits for a clean exit.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let mut status = None;
        eventually("the worker to exit", Duration::from_secs(60), || {
            status = self.child.try_wait().expect("try_wait");
            status.is_some()
        });
        assert!(
            status.is_some_and(|s| s.success()),
            "worker exit {status:?}; its log:\n{}",
            self.log()
        );
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `condition` until it holds; on timeout, panics with the workers' logs.
fn wait(what: &str, timeout: Duration, workers: &[&Worker], condition: impl FnMut() -> bool) {
    if !capq_test_support::net::wait_until(timeout, condition) {
        let logs: Vec<String> = workers
            .iter()
            .map(|w| format!("--- {}\n{}", w.log.display(), w.log()))
            .collect();
        panic!(
            "timed out waiting for {what}; worker logs:\n{}",
            logs.join("\n")
        );
    }
}

fn text(redis: &RedisServer, args: &[&str]) -> Option<String> {
    redis.command(args).text()
}

fn worker_state(redis: &RedisServer, name: &str) -> Option<String> {
    text(redis, &["HGET", &format!("rq:worker:{name}"), "state"])
}

fn job_field(redis: &RedisServer, id: &str, field: &str) -> Option<String> {
    text(redis, &["HGET", &format!("rq:job:{id}"), field])
}

/// The `type` of each entry of the job's result stream, oldest first (RQ: 1 finished,
/// 2 failed, 3 stopped, 4 retried; capq records a recovery as a retry).
fn result_types(redis: &RedisServer, id: &str) -> Vec<String> {
    let Reply::Array(entries) = redis.command(&["XRANGE", &format!("rq:results:{id}"), "-", "+"])
    else {
        return Vec::new();
    };
    entries
        .iter()
        .map(|entry| {
            let fields = match entry {
                Reply::Array(parts) => parts.get(1).map(Reply::strings).unwrap_or_default(),
                _ => Vec::new(),
            };
            fields
                .chunks(2)
                .find(|pair| pair[0] == "type")
                .map_or_else(|| "?".to_owned(), |pair| pair[1].clone())
        })
        .collect()
}

fn recoveries(redis: &RedisServer, id: &str) -> i64 {
    job_field(redis, id, "capq_recoveries").map_or(0, |n| n.parse().unwrap_or(-1))
}

/// What a worker logs when it gives up a job whose lease it could not renew.
const GAVE_UP: &str = "lease not renewed";

/// The day the jobs process, and its real positions file.
const DAY: &str = "2016-11-24";

fn positions_of_the_day() -> Vec<u8> {
    let path = testdata().join(format!("data/vehicle_positions/{DAY}.csv.gz"));
    let input = capmetrics::Input::read(&path).expect("read the day");
    input.bytes().to_vec()
}

#[test]
fn a_worker_cut_off_longer_than_its_lease_loses_the_job_and_its_late_run_changes_nothing() {
    let netns = Netns::create();
    let redis = RedisServer::start_with(RedisOptions {
        also_bind: Some(netns.host_address.clone()),
        ..RedisOptions::default()
    });
    let remote_url = format!("redis://{}:{}", netns.host_address, redis.port());

    // The partitioned worker reads the day's positions from a FIFO, so the test decides when
    // its run can go on: it blocks reading until the test writes, and the test knows it is
    // mid-job once its read end is open. The other worker reads the real files.
    let stale_data = tempfile::tempdir().unwrap();
    let real_data = testdata().join("data");
    for folder in ["stops", "schedule"] {
        std::os::unix::fs::symlink(real_data.join(folder), stale_data.path().join(folder)).unwrap();
    }
    std::fs::create_dir(stale_data.path().join("vehicle_positions")).unwrap();
    let fifo = stale_data
        .path()
        .join(format!("vehicle_positions/{DAY}.csv"));
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());

    let out = tempfile::tempdir().unwrap();
    let output = out.path().join(format!("{DAY}_processed.csv"));
    let allowed = out.path().to_str().expect("utf-8 path");
    let options = [
        "--lease",
        "3",
        "--upkeep-every",
        "1",
        "--concurrency",
        "1",
        "--allow-output",
        allowed,
    ];
    let stale_name = format!("{}-stale", netns.name);
    let mut stale_args = vec!["--name", stale_name.as_str()];
    stale_args.extend(options);
    let mut stale = Worker::start(Some(&netns), &remote_url, stale_data.path(), &stale_args);
    wait(
        "the partitioned worker to register",
        Duration::from_secs(60),
        &[&stale],
        || worker_state(&redis, &stale_name).is_some(),
    );
    let calls = format!(
        "[('capq.process_day', ({DAY:?}, {:?}))]",
        output.display().to_string()
    );
    let id = enqueue_python(&redis, "default", &calls, 1).remove(0);

    // The partitioned worker has the job and waits for its input.
    let mut writer = None;
    wait(
        "the partitioned worker to open the day's positions",
        Duration::from_secs(60),
        &[&stale],
        || {
            writer = OpenOptions::new()
                .write(true)
                .custom_flags(0o4000) // O_NONBLOCK: fails with ENXIO until a reader opens it
                .open(&fifo)
                .ok();
            writer.is_some()
        },
    );
    assert_eq!(job_field(&redis, &id, "status").as_deref(), Some("started"));

    netns.cut();
    let cut_at = Instant::now();
    let rescuer_name = format!("{}-rescuer", netns.name);
    let mut rescuer_args = vec!["--name", rescuer_name.as_str()];
    rescuer_args.extend(options);
    let mut rescuer = Worker::start(None, &redis.url(), &real_data, &rescuer_args);
    wait(
        "the other worker to recover and finish the job",
        Duration::from_secs(120),
        &[&stale, &rescuer],
        || job_field(&redis, &id, "status").as_deref() == Some("finished"),
    );
    // The lease (3 s) runs from the last renewal before the cut, at most a renewal period
    // (1 s) earlier.
    assert!(
        cut_at.elapsed() > Duration::from_secs(2),
        "recovered {:?} after the cut, before the lease could run out",
        cut_at.elapsed()
    );
    let good = std::fs::read(&output).expect("the recovered run wrote the output");
    let good_meta = std::fs::metadata(&output).unwrap();
    assert!(good.len() > 1000, "{} bytes", good.len());

    // Still cut off, the stale worker now gets its input (only the first half of the day, so
    // its output would differ). It may go on to store its output, or it may have given the
    // job up when its lease ran out unrenewed; wait for one or the other before healing.
    let positions = positions_of_the_day();
    let half: Vec<u8> = {
        let mut lines = positions.split_inclusive(|&b| b == b'\n');
        let count = positions.iter().filter(|&&b| b == b'\n').count();
        lines.by_ref().take(count / 2).flatten().copied().collect()
    };
    let mut blocking = OpenOptions::new().write(true).open(&fifo).unwrap();
    drop(writer);
    // The reader may stop early once its job is cancelled; that is fine.
    let _ = blocking.write_all(&half);
    drop(blocking);
    let rewritten = || {
        std::fs::metadata(&output).is_ok_and(|meta| {
            (meta.ino(), meta.mtime_nsec()) != (good_meta.ino(), good_meta.mtime_nsec())
        })
    };
    wait(
        "the stale run to store its output or give the job up",
        Duration::from_secs(60),
        &[&stale],
        || rewritten() || stale.log().contains(GAVE_UP),
    );

    netns.heal();
    wait(
        "the stale worker to learn that its lease is gone",
        Duration::from_secs(120),
        &[&stale, &rescuer],
        || {
            stale
                .log()
                .contains("lease lost before the result was recorded")
        },
    );

    // Exactly once: the recovery's entry and one finished entry, two attempts, no failure.
    assert_eq!(result_types(&redis, &id), ["4", "1"]);
    assert_eq!(recoveries(&redis, &id), 1);
    assert_eq!(
        job_field(&redis, &id, "capq_attempts").as_deref(),
        Some("2")
    );
    assert_eq!(
        job_field(&redis, &id, "worker_name").as_deref(),
        Some(rescuer_name.as_str())
    );
    for key in ["rq:failed:default", "rq:wip:default"] {
        assert_eq!(redis.command(&["ZCARD", key]).int(), Some(0), "{key}");
    }
    assert_eq!(redis.command(&["LLEN", "rq:queue:default"]).int(), Some(0));

    // The stale run wrote nothing: same bytes, same file (a write would rename a new one in).
    let now = std::fs::read(&output).unwrap();
    assert!(
        now == good,
        "the stale run overwrote the output ({} bytes, was {}); its log:\n{}",
        now.len(),
        good.len(),
        stale.log()
    );
    let meta = std::fs::metadata(&output).unwrap();
    assert_eq!(
        (meta.ino(), meta.mtime(), meta.mtime_nsec()),
        (good_meta.ino(), good_meta.mtime(), good_meta.mtime_nsec())
    );
    assert_eq!(
        crate::files_in(out.path()),
        [
            format!("{DAY}_processed.csv"),
            format!("{DAY}_processed.partial")
        ]
    );

    rescuer.stop();
    stale.stop();
}

#[test]
fn a_cut_shorter_than_the_lease_recovers_nothing_and_runs_nothing_twice() {
    let netns = Netns::create();
    let redis = RedisServer::start_with(RedisOptions {
        also_bind: Some(netns.host_address.clone()),
        ..RedisOptions::default()
    });
    let remote_url = format!("redis://{}:{}", netns.host_address, redis.port());
    let data = testdata().join("data");
    // A lease of 10 s is renewed every 3.3 s; a 2 s cut delays one renewal by at most the
    // TCP retransmission backoff, far from the lease.
    let options = ["--lease", "10", "--upkeep-every", "1", "--concurrency", "1"];
    let name = format!("{}-worker", netns.name);
    let mut args = vec!["--name", name.as_str()];
    args.extend(options);
    let mut partitioned = Worker::start(Some(&netns), &remote_url, &data, &args);
    wait(
        "the partitioned worker to register",
        Duration::from_secs(60),
        &[&partitioned],
        || worker_state(&redis, &name).is_some(),
    );
    let id = enqueue_python(&redis, "default", "[('capq.sleep', (10,))]", 1).remove(0);
    wait(
        "the partitioned worker to run the job",
        Duration::from_secs(60),
        &[&partitioned],
        || job_field(&redis, &id, "status").as_deref() == Some("started"),
    );
    // A worker that is never cut off runs upkeep all along, ready to recover the job; it
    // starts only now so that it cannot take the job first.
    let watcher_name = format!("{}-watcher", netns.name);
    let mut watcher_args = vec!["--name", watcher_name.as_str()];
    watcher_args.extend(options);
    let mut watcher = Worker::start(None, &redis.url(), &data, &watcher_args);
    wait(
        "the other worker to register",
        Duration::from_secs(60),
        &[&partitioned, &watcher],
        || worker_state(&redis, &watcher_name).is_some(),
    );
    netns.cut();
    // The deliberate length of the cut; everything else waits for states.
    std::thread::sleep(Duration::from_secs(2));
    netns.heal();
    assert_eq!(
        job_field(&redis, &id, "status").as_deref(),
        Some("started"),
        "the job should still run after the cut"
    );
    wait(
        "the job to finish",
        Duration::from_secs(120),
        &[&partitioned, &watcher],
        || job_field(&redis, &id, "status").as_deref() == Some("finished"),
    );
    wait(
        "the worker to be idle again",
        Duration::from_secs(60),
        &[&partitioned, &watcher],
        || worker_state(&redis, &name).as_deref() == Some("idle"),
    );

    assert_eq!(result_types(&redis, &id), ["1"]);
    assert_eq!(recoveries(&redis, &id), 0);
    assert_eq!(
        job_field(&redis, &id, "capq_attempts").as_deref(),
        Some("1")
    );
    assert_eq!(
        job_field(&redis, &id, "worker_name").as_deref(),
        Some(name.as_str())
    );
    for log in [partitioned.log(), watcher.log()] {
        assert!(!log.contains("lease lost"), "{log}");
        assert!(!log.contains("recovered lost work"), "{log}");
    }
    for key in ["rq:failed:default", "rq:wip:default"] {
        assert_eq!(redis.command(&["ZCARD", key]).int(), Some(0), "{key}");
    }
    watcher.stop();
    partitioned.stop();
}
