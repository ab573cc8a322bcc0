//! Job data cannot forge log records or reach the terminal raw: a real worker runs jobs whose
//! error message, function name and id carry newlines, carriage returns, terminal escape
//! sequences and bidi controls, and its stderr keeps one record per line, with no ESC byte;
//! `capq failed` shows the same jobs escaped.

use std::time::Duration;

use capq_test_support::RedisServer;
use capq_test_support::python::run_python_ok;

use super::{run_capq, spawn_worker};

/// Enqueues three hostile jobs through Python's client: a `capq.fail` whose message forges a
/// record, an unknown function whose name does, and a failing job whose id does.
const ENQUEUE: &str = r#"
from redis import Redis
from rq import Queue
r = Redis.from_url(URL)
q = Queue(connection=r)
evil = "first line\n2026-01-01T00:00:00.000000Z ERROR capq: FORGED record \x1b[31mred\x1b[0m\r\u202eevil"
q.enqueue("capq.fail", args=(evil,))
q.enqueue("no.such\nFORGED\x1b[2Jtask", args=("x",))
job = q.enqueue("capq.fail", args=("plain",))
weird = "weird\nFORGED\x1b[31mid"
r.rename(f"rq:job:{job.id}", f"rq:job:{weird}")
r.lrem("rq:queue:default", 0, job.id)
r.rpush("rq:queue:default", weird)
print("ok")
"#;

/// A record starts with tracing's timestamp, `2026-12-01T23:33:38.123456Z`.
fn starts_with_timestamp(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes.len() > 20
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[10] == b'T'
}

#[test]
fn job_data_in_worker_logs_is_escaped_one_record_per_line() {
    let redis = RedisServer::start();
    let script = format!("URL = {:?}\n{ENQUEUE}", redis.url());
    assert_eq!(run_python_ok(&script, &[]).trim(), "ok");
    let mut worker = spawn_worker(&redis, None, &["--burst"]);
    assert!(
        worker.wait(Duration::from_secs(60)).success(),
        "{}",
        worker.log()
    );
    assert_eq!(
        redis.command(&["ZCARD", "rq:failed:default"]).int(),
        Some(3)
    );

    let raw = std::fs::read(&worker.stderr_path).unwrap();
    assert!(
        !raw.contains(&0x1b),
        "an ESC byte reached the log:\n{}",
        String::from_utf8_lossy(&raw)
    );
    assert!(!raw.contains(&b'\r'), "a carriage return reached the log");
    let log = String::from_utf8(raw).expect("the log is UTF-8");
    assert!(!log.contains('\u{202e}'), "a bidi control reached the log");
    // Besides records, the worker prints its banner and summary (its name and counts, no job
    // data) as plain lines.
    for line in log.lines().filter(|line| !line.starts_with("capq worker ")) {
        assert!(
            starts_with_timestamp(line),
            "a line that is not a record: {line:?}\n{log}"
        );
    }
    // The three failures are three records, each quoting its job's data escaped.
    let failures: Vec<&str> = log.lines().filter(|l| l.contains("job failed")).collect();
    assert_eq!(failures.len(), 3, "{log}");
    for line in log.lines().filter(|l| l.contains("FORGED")) {
        assert!(
            line.contains("job failed"),
            "job data outside its record: {line:?}\n{log}"
        );
    }
    for quoted in [
        r"first line\n2026-01-01T00:00:00.000000Z ERROR capq: FORGED record \u{1b}[31mred\u{1b}[0m\r\u{202e}evil",
        r"no.such\nFORGED\u{1b}[2Jtask",
        r"weird\nFORGED\u{1b}[31mid",
    ] {
        assert!(log.contains(quoted), "{quoted} not in the log:\n{log}");
    }

    // `capq failed list` and `show` print the same job data escaped: one row per job.
    let listed = run_capq(&["failed", "list", "--url", &redis.url()], &[]);
    assert!(listed.status.success(), "{listed:?}");
    assert!(!listed.stdout.contains(&0x1b) && !listed.stdout.contains(&b'\r'));
    let table = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(table.lines().count(), 4, "a header and 3 rows:\n{table}");
    assert!(table.contains(r"weird\nFORGED\u{1b}[31mid"), "{table}");
    let shown = run_capq(
        &[
            "failed",
            "show",
            "weird\nFORGED\x1b[31mid",
            "--url",
            &redis.url(),
        ],
        &[],
    );
    assert!(shown.status.success(), "{shown:?}");
    assert!(!shown.stdout.contains(&0x1b), "{shown:?}");
}
