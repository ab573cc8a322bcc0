//! A worker never crashes on a bad job: each one fails with a message saying what is wrong,
//! and the worker goes on to the next.

use std::time::Duration;

use capq_test_support::RedisServer;
use capq_test_support::python::run_python_ok;

use super::{python_prelude, run_capq, spawn_worker, write_python_modules};

#[test]
fn bad_jobs_fail_with_clear_errors_and_the_worker_goes_on() {
    let redis = RedisServer::start();
    let modules = tempfile::tempdir().unwrap();
    write_python_modules(modules.path());
    let script = format!(
        r#"{}import capq, zlib, pickle, datetime, os
ids = {{}}
ids['unknown'] = q.enqueue('tasks.not_there', 1).id
ids['too_few'] = q.enqueue('tasks.process_day_to_s3', '2016-11-24').id
ids['wrong_type'] = q.enqueue(capq.sleep, 'ten').id
ids['wrong_kw'] = q.enqueue(capq.process_day, day='2016-11-24', out='x').id
ids['bad_day'] = q.enqueue(capq.process_day, '2016-02-30', '/tmp/x.csv').id
ids['class_ref'] = q.enqueue(capq.process_day, datetime.date(2016, 11, 24), '/tmp/x.csv').id
evil = q.enqueue(capq.noop)
r.hset(evil.key, 'data', zlib.compress(b"cos\nsystem\n(S'touch /tmp/capq-pwned'\ntR."))
ids['evil'] = evil.id
garbage = q.enqueue(capq.noop)
r.hset(garbage.key, 'data', b'\x00\xffnot a pickle at all')
ids['garbage'] = garbage.id
huge = q.enqueue(capq.noop)
r.hset(huge.key, 'data', os.urandom(3 << 20))
ids['huge'] = huge.id
nodata = q.enqueue(capq.noop)
r.hdel(nodata.key, 'data')
ids['no_data'] = nodata.id
ids['good'] = q.enqueue(capq.noop).id
print(json.dumps(ids))
"#,
        python_prelude(&redis, modules.path()),
    );
    let _ = std::fs::remove_file("/tmp/capq-pwned");
    let ids: serde_json::Value = serde_json::from_str(run_python_ok(&script, &[]).trim()).unwrap();
    let mut worker = spawn_worker(&redis, None, &["--burst"]);
    assert!(
        worker.wait(Duration::from_secs(60)).success(),
        "{}",
        worker.log()
    );
    assert!(
        !std::path::Path::new("/tmp/capq-pwned").exists(),
        "a pickle must never execute anything"
    );

    let url = redis.url();
    let listed = run_capq(&["failed", "list", "--json", "--url", &url], &[]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let failed: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let error = |key: &str| -> String {
        let id = ids[key].as_str().unwrap();
        failed
            .iter()
            .find(|j| j["id"] == id)
            .unwrap_or_else(|| panic!("{key} job {id} is not failed: {failed:?}"))["error"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let expect = |key: &str, parts: &[&str]| {
        let message = error(key);
        for part in parts {
            assert!(
                message.contains(part),
                "{key}: {message:?} should mention {part:?}"
            );
        }
    };
    expect("unknown", &["no task named `tasks.not_there`"]);
    expect(
        "too_few",
        &[
            "tasks.process_day_to_s3()",
            "missing 2 required arguments",
            "`bucket`",
            "`key`",
        ],
    );
    expect(
        "wrong_type",
        &["capq.sleep()", "`seconds`", "number", "str"],
    );
    expect("wrong_kw", &["unexpected keyword argument `out`"]);
    expect("bad_day", &["2016-02-30"]);
    expect("class_ref", &["datetime"]);
    expect("evil", &["os.system", "only built-in"]);
    expect("garbage", &["neither a pickle nor JSON"]);
    expect("huge", &["limit"]);
    expect("no_data", &["no `data` field"]);
    assert_eq!(failed.len(), 10, "{failed:?}");
    let good = ids["good"].as_str().unwrap();
    assert_eq!(
        redis
            .command(&["HGET", &format!("rq:job:{good}"), "status"])
            .text()
            .as_deref(),
        Some("finished")
    );
}
