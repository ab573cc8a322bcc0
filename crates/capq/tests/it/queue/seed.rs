//! The seed's own snippet, `q.enqueue(tasks.process_day_to_s3, args=(day, bucket, key))`, run
//! as Python code and executed by `capq worker --burst`: outputs land on S3 equal to the old
//! program's, and Python sees each job finished with its result, or failed with its reason.

use std::time::Duration;

use capmetrics::Input;
use capmetrics::equivalence::compare;
use capq_test_support::RedisServer;
use capq_test_support::python::run_python_ok;
use capq_test_support::s3::S3Server;

use super::{python_prelude, spawn_worker, write_python_modules};
use crate::testdata;

const REFERENCE_DAYS: [&str; 8] = [
    "2015-03-08",
    "2015-06-07",
    "2016-05-19",
    "2016-05-30",
    "2016-08-02",
    "2016-09-01",
    "2016-11-24",
    "2016-12-18",
];
/// A day with positions but no metadata: it must fail with an error naming it.
const NO_METADATA: &str = "2017-03-16";

#[test]
fn python_enqueues_the_seed_snippet_and_capq_runs_it() {
    let redis = RedisServer::start();
    let s3 = S3Server::start();
    s3.create_bucket("capmetrics");
    let modules = tempfile::tempdir().unwrap();
    write_python_modules(modules.path());

    let days: Vec<&str> = REFERENCE_DAYS
        .iter()
        .copied()
        .chain([NO_METADATA])
        .collect();
    let enqueue = format!(
        "{}import tasks\nids = {{}}\nfor day in {days:?}:\n    job = q.enqueue(tasks.process_day_to_s3, args=(day, 'capmetrics', f'processed/{{day}}.csv'))\n    ids[day] = job.id\nprint(json.dumps(ids))\n",
        python_prelude(&redis, modules.path()),
    );
    let ids: serde_json::Value = serde_json::from_str(run_python_ok(&enqueue, &[]).trim()).unwrap();

    let mut worker = spawn_worker(&redis, Some(&s3), &["--burst"]);
    let status = worker.wait(Duration::from_secs(120));
    assert!(status.success(), "worker failed:\n{}", worker.log());

    // The S3 objects equal the reference outputs.
    for day in REFERENCE_DAYS {
        let object = s3
            .get_object("capmetrics", &format!("processed/{day}.csv"))
            .unwrap_or_else(|| panic!("no S3 object for {day}; worker log:\n{}", worker.log()));
        let expected = Input::read(&testdata().join(format!("reference/{day}.csv.gz"))).unwrap();
        if let Err(mismatch) = compare(expected.bytes(), &object) {
            panic!("{day} on S3 differs from the reference:\n{mismatch}");
        }
    }
    assert_eq!(
        s3.get_object("capmetrics", &format!("processed/{NO_METADATA}.csv")),
        None,
        "a failed day writes nothing"
    );

    // Python sees the jobs finished with a result, and the day without metadata failed.
    let check = format!(
        "{}ids = json.loads({ids:?})\nfor day, job_id in ids.items():\n    job = Job.fetch(job_id, connection=r)\n    status = job.get_status()\n    if day == {NO_METADATA:?}:\n        assert status == 'failed', (day, status)\n        error = job.latest_result().exc_string\n        assert day in error and 'no stops file' in error, error\n    else:\n        assert status == 'finished', (day, status, job.latest_result() and job.latest_result().exc_string)\n        result = job.return_value()\n        assert result['output'] == f's3://capmetrics/processed/{{day}}.csv', result\n        assert result['day'] == day, result\n        assert result['rows_in'] == result['rows_out'] + sum(result['dropped'].values()), result\n        print(day, result['rows_out'])\nprint('ok')\n",
        python_prelude(&redis, modules.path()),
        ids = ids.to_string(),
    );
    let out = run_python_ok(&check, &[]);
    assert!(out.contains("2016-11-24 20334"), "{out}");
    assert!(out.contains("2015-06-07 0"), "{out}");
    assert!(out.trim_end().ends_with("ok"), "{out}");
}
