//! RQ's own tools read capq's state: `rq info`, and rq-dashboard's pages and JSON endpoints,
//! for jobs enqueued by Python and by `capq enqueue`, while a capq worker is busy and after.

use std::time::Duration;

use capq_test_support::RedisServer;
use capq_test_support::python::{run_python_ok, venv_bin};

use super::{eventually, python_prelude, run_capq, spawn_worker, write_python_modules};

/// Probes every dashboard endpoint for the jobs in `ids` and checks what they show.
const DASHBOARD_PROBE: &str = r#"
import os
os.environ['RQ_DASHBOARD_REDIS_URL'] = URL
os.environ['RQ_DASHBOARD_URL_PREFIX'] = ''
from rq_dashboard.app import create_app
app = create_app()
app.config['PROPAGATE_EXCEPTIONS'] = True
client = app.test_client()

def get(url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:500])
    return response.get_data(as_text=True)

queues = {q['name']: q for q in json.loads(get('/0/data/queues.json'))['queues']}
print('queues', json.dumps({k: v['count'] for k, v in queues.items()}))
workers = json.loads(get('/0/data/workers.json'))['workers']
print('workers', json.dumps([[w['name'], w['state'], w['current_job'] if w['current_job'] == 'idle' else w['current_job']['job_id'], w['successful_job_count']] for w in workers]))
for registry in ['queued', 'started', 'finished', 'failed', 'deferred', 'scheduled', 'canceled']:
    listed = json.loads(get(f'/0/data/jobs/default/{registry}/100/asc/1.json'))['jobs']
    print('list', registry, json.dumps(sorted(j['id'] for j in listed)))
    get(f'/0/view/jobs/default/{registry}/100/asc/1')
for job_id in DETAIL:
    detail = json.loads(get(f'/0/data/job/{job_id}.json'))
    get(f'/0/view/job/{job_id}')
    print('detail', job_id, detail['status'], json.dumps(detail['result']), (detail['exc_info'] or '').strip().splitlines()[-1:] )
get('/0/view/workers')
get('/')
"#;

#[test]
fn rq_info_and_rq_dashboard_read_capq_state() {
    let redis = RedisServer::start();
    let modules = tempfile::tempdir().unwrap();
    write_python_modules(modules.path());
    let out = tempfile::tempdir().unwrap();

    // Jobs from Python, in every state: done, failed, running, waiting on it, scheduled, canceled.
    let enqueue = format!(
        "{}import capq\nfrom datetime import timedelta\nids = {{}}\nids['noop'] = q.enqueue(capq.noop).id\nids['fail'] = q.enqueue(capq.fail, 'boom <3').id\n",
        python_prelude(&redis, modules.path()),
    );
    let python_ids: serde_json::Value = serde_json::from_str(
        run_python_ok(&format!("{enqueue}print(json.dumps(ids))\n"), &[]).trim(),
    )
    .unwrap();
    // Jobs from `capq enqueue`, unpinned: on Python's queue, behind its jobs, so the one-slot
    // worker takes them all in one order (a pinned batch's queue, `default@<processor>`, comes
    // after `default`; batch_aggregate.rs and queue/pinned.rs read one with RQ's tools).
    let url = redis.url();
    let output = format!("{}/", out.path().display());
    let enqueued = run_capq(
        &[
            "enqueue",
            "--url",
            &url,
            "--days",
            "2016-11-24..2016-11-25",
            "--output",
            &output,
            "--any-processor",
        ],
        &[],
    );
    assert!(
        enqueued.status.success(),
        "{}",
        String::from_utf8_lossy(&enqueued.stderr)
    );
    let capq_ids: Vec<String> = String::from_utf8_lossy(&enqueued.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(capq_ids.len(), 2);
    // Last in line: a long job (stopped once its state was read: it may run as long as reading
    // takes), the job that waits for it, a scheduled one and a canceled one.
    let later = format!(
        "{}import capq\nfrom datetime import timedelta\nfrom rq.job import Dependency\nids = {{}}\nslow = q.enqueue(capq.sleep, 3600)\nids['sleep'] = slow.id\nids['dependent'] = q.enqueue(capq.noop, depends_on=Dependency(jobs=[slow], allow_failure=True)).id\nids['scheduled'] = q.enqueue_in(timedelta(hours=1), capq.noop).id\ncanceled = q.enqueue(capq.noop)\ncanceled.cancel()\nids['canceled'] = canceled.id\nprint(json.dumps(ids))\n",
        python_prelude(&redis, modules.path()),
    );
    let later_ids: serde_json::Value =
        serde_json::from_str(run_python_ok(&later, &[]).trim()).unwrap();
    let id = |map: &serde_json::Value, key: &str| map[key].as_str().unwrap().to_owned();
    let sleep_id = id(&later_ids, "sleep");

    let mut worker = spawn_worker(
        &redis,
        None,
        &[
            "--name",
            "capq-busy",
            "--concurrency",
            "1",
            "--allow-output",
            &output,
        ],
    );
    let status = |id: &str| {
        redis
            .command(&["HGET", &format!("rq:job:{id}"), "status"])
            .text()
    };
    // The earlier jobs' results are recorded a moment after the next job starts; wait for both.
    // The jobs start in queue order, so the sleep job starts after the day jobs.
    eventually(
        "the sleep job to start after the others",
        Duration::from_secs(60),
        || {
            let sleep = status(&sleep_id);
            assert_ne!(
                sleep.as_deref(),
                Some("finished"),
                "the sleep job ended before the day jobs were recorded as finished: {:?}",
                capq_ids.iter().map(|id| status(id)).collect::<Vec<_>>()
            );
            sleep.as_deref() == Some("started")
                && capq_ids
                    .iter()
                    .all(|id| status(id).as_deref() == Some("finished"))
        },
    );

    // While the worker is busy.
    let detail: Vec<String> = [
        id(&python_ids, "noop"),
        id(&python_ids, "fail"),
        sleep_id.clone(),
        id(&later_ids, "scheduled"),
    ]
    .into_iter()
    .chain(capq_ids.iter().cloned())
    .collect();
    let probe = format!(
        "{}URL = {:?}\nDETAIL = {detail:?}\n{DASHBOARD_PROBE}",
        python_prelude(&redis, modules.path()),
        redis.url()
    );
    let report = run_python_ok(&probe, &[]);
    let line = |prefix: &str| -> String {
        report
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in:\n{report}"))
            .to_owned()
    };
    assert!(
        line("workers").contains(&format!("[\"capq-busy\", \"busy\", \"{sleep_id}\"")),
        "{report}"
    );
    assert!(line("list started").contains(&sleep_id), "{report}");
    assert!(
        line("list deferred").contains(&id(&later_ids, "dependent")),
        "{report}"
    );
    assert!(
        line("list scheduled").contains(&id(&later_ids, "scheduled")),
        "{report}"
    );
    assert!(
        line("list canceled").contains(&id(&later_ids, "canceled")),
        "{report}"
    );
    assert!(
        line("list failed").contains(&id(&python_ids, "fail")),
        "{report}"
    );
    let finished = line("list finished");
    assert!(finished.contains(&id(&python_ids, "noop")), "{report}");
    for capq_id in &capq_ids {
        assert!(finished.contains(capq_id), "{report}");
        let detail = line(&format!("detail {capq_id}"));
        assert!(
            detail.contains("finished") && detail.contains("\"rows_out\": "),
            "{detail}"
        );
    }
    assert!(
        line(&format!("detail {}", id(&python_ids, "fail"))).contains("boom <3"),
        "{report}"
    );
    assert!(
        line(&format!("detail {sleep_id}")).contains("started"),
        "{report}"
    );

    // `rq info` lists the queue and the busy worker.
    let info = std::process::Command::new(venv_bin("rq"))
        .args(["info", "--url", &redis.url()])
        .output()
        .unwrap();
    let info_text = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.status.success(),
        "{info_text}{}",
        String::from_utf8_lossy(&info.stderr)
    );
    assert!(info_text.contains("default"), "{info_text}");
    assert!(
        info_text.contains("capq-busy") && info_text.contains("busy"),
        "{info_text}"
    );

    // Stopping the long job frees the worker. The job that waits for it stays deferred: under
    // RQ 2.12's rule a stopped parent releases nothing, even for a dependent that allows
    // failures (lua/dependents.lua).
    let stopped = run_capq(&["stop", &sleep_id, "--url", &redis.url()], &[]);
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    let status = |id: &str| {
        redis
            .command(&["HGET", &format!("rq:job:{id}"), "status"])
            .text()
    };
    eventually(
        "the long job to be stopped",
        Duration::from_secs(60),
        || status(&sleep_id).as_deref() == Some("stopped"),
    );
    assert_eq!(
        status(&id(&later_ids, "dependent")).as_deref(),
        Some("deferred")
    );

    let fetch = format!(
        "{}for job_id in {capq_ids:?}:\n    job = Job.fetch(job_id, connection=r)\n    assert job.get_status() == 'finished', job.get_status()\n    assert job.func_name == 'capq.process_day', job.func_name\n    assert job.args[0] in ('2016-11-24', '2016-11-25'), job.args\n    assert job.get_call_string().startswith('capq.process_day('), job.get_call_string()\n    assert job.return_value()['rows_out'] > 20000, job.return_value()\n    assert job.meta['day'] == job.args[0], job.meta\n    assert job.group_id, 'capq enqueue marks jobs as a batch'\nprint('ok')\n",
        python_prelude(&redis, modules.path()),
    );
    assert_eq!(run_python_ok(&fetch, &[]).trim(), "ok");
    assert!(std::fs::metadata(out.path().join("2016-11-24_processed.csv")).is_ok());

    worker.terminate();
    let status = worker.wait(Duration::from_secs(30));
    assert!(status.success(), "{}", worker.log());
    // Deregistered: gone from the worker set.
    assert!(
        !redis
            .command(&["SMEMBERS", "rq:workers"])
            .strings()
            .iter()
            .any(|w| w.contains("capq-busy"))
    );
}
