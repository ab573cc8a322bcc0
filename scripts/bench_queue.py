#!/usr/bin/env python3
"""Queue benchmark of capq workers, in the same scenarios as Python RQ's bench_rq.py.

Jobs are enqueued by the real Python rq client (Queue.enqueue_many, one pipeline, or
Queue.enqueue one by one), exactly as bench_rq.py enqueues its own, and run by one
`capq worker` process. Figures:

  throughput  N no-op jobs (`capq.noop`), then one `capq worker --burst`; wall jobs/s
              (worker start-up included), job-span jobs/s (first started_at to last
              ended_at), worker and redis-server CPU per job, Redis commands per job.
  enqueue     N jobs through `capq bench enqueue` (capq's own Rust enqueue) and through rq's
              enqueue_many; jobs/s and Redis bytes per queued job.
  latency     one idle (non-burst) capq worker; M jobs enqueued one by one at a fixed rate;
              enqueued_at -> ended_at p50/p99 (from the job hashes), repeated
              --latency-repeat times (p99 of 1000 jobs is their 10th-slowest).

WARNING: every measurement starts with FLUSHDB on --redis-url.

Usage: bench_queue.py all --redis-url redis://127.0.0.1:PORT/0 --capq target/release/capq
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import redis
from rq import Queue
from rq.utils import utcparse

QUEUE = 'bench'


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def redis_cpu(conn) -> float:
    info = conn.info('cpu')
    return float(info['used_cpu_user']) + float(info['used_cpu_sys'])


def percentile(values, p):
    if not values:
        return float('nan')
    k = (len(values) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def job_times(conn, ids):
    pipe = conn.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(f'rq:job:{job_id}', 'enqueued_at', 'started_at', 'ended_at', 'status')
    out = []
    for enqueued, started, ended, status in pipe.execute():
        parse = lambda v: utcparse(v.decode()).timestamp() if v else None
        out.append({'status': status.decode() if status else None, 'enqueued': parse(enqueued),
                    'started': parse(started), 'ended': parse(ended)})
    return out


def enqueue_many(q, n):
    t0 = time.perf_counter()
    ids = [j.id for j in q.enqueue_many([Queue.prepare_data('capq.noop') for _ in range(n)])]
    return time.perf_counter() - t0, ids


def worker_cmd(args, burst):
    cmd = [args.capq, 'worker', '--url', args.redis_url, '--queues', QUEUE, '--concurrency', '1',
           '--name', f'bench-{time.time_ns()}']
    return cmd + (['--burst'] if burst else [])


def throughput(args):
    conn = redis.Redis.from_url(args.redis_url)
    conn.flushdb()
    q = Queue(QUEUE, connection=conn)
    mem0 = int(conn.info('memory')['used_memory'])
    enqueue_s, ids = enqueue_many(q, args.jobs)
    mem1 = int(conn.info('memory')['used_memory'])
    conn.config_resetstat()
    cpu0, rcpu0 = children_cpu(), redis_cpu(conn)
    t0 = time.perf_counter()
    subprocess.run(worker_cmd(args, burst=True), check=True, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    cpu1, rcpu1 = children_cpu(), redis_cpu(conn)
    calls = sum(v['calls'] for v in conn.info('commandstats').values())
    times = job_times(conn, ids)
    finished = sum(1 for t in times if t['status'] == 'finished')
    span = max(t['ended'] for t in times if t['ended']) - min(t['started'] for t in times if t['started'])
    return {
        'jobs': args.jobs,
        'finished': finished,
        'wall_rate': finished / wall,
        'span_rate': finished / span if span > 0 else float('nan'),
        'worker_cpu_us_per_job': (cpu1 - cpu0) * 1e6 / max(finished, 1),
        'redis_cpu_us_per_job': (rcpu1 - rcpu0) * 1e6 / max(finished, 1),
        # INFO commandstats counts every command, those run inside Lua scripts included, plus
        # the worker's one-off registration; divided by jobs.
        'redis_commands_per_job': calls / max(finished, 1),
        'rq_enqueue_many_rate': args.jobs / enqueue_s,
        'rq_bytes_per_queued_job': (mem1 - mem0) / args.jobs,
    }


def enqueue(args):
    conn = redis.Redis.from_url(args.redis_url)
    conn.flushdb()
    mem0 = int(conn.info('memory')['used_memory'])
    out = subprocess.run([args.capq, 'bench', 'enqueue', '--url', args.redis_url, '--queue', QUEUE,
                          '--jobs', str(args.jobs)], check=True, capture_output=True, text=True)
    capq = json.loads(out.stdout)
    mem1 = int(conn.info('memory')['used_memory'])
    sample = conn.lindex(f'rq:queue:{QUEUE}', 0).decode()
    return {
        'jobs': args.jobs,
        'capq_enqueue_rate': capq['jobs_per_second'],
        'capq_bytes_per_queued_job': (mem1 - mem0) / args.jobs,
        'capq_job_hash_bytes': conn.memory_usage(f'rq:job:{sample}', samples=0),
    }


def latency(args):
    conn = redis.Redis.from_url(args.redis_url)
    conn.flushdb()
    q = Queue(QUEUE, connection=conn)
    worker = subprocess.Popen(worker_cmd(args, burst=False), stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while not conn.smembers('rq:workers'):
            if time.time() > deadline:
                raise RuntimeError('the capq worker did not register')
            time.sleep(0.05)
        time.sleep(0.5)
        ids = []
        interval = 1.0 / args.rate
        start = time.perf_counter()
        for i in range(args.latency_jobs):
            delay = start + i * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            ids.append(q.enqueue('capq.noop').id)
        deadline = time.time() + 60
        while q.finished_job_registry.count < args.latency_jobs:
            if time.time() > deadline:
                raise RuntimeError('jobs did not finish')
            time.sleep(0.02)
    finally:
        worker.terminate()
        worker.wait(30)
    times = job_times(conn, ids)
    e2e = sorted((t['ended'] - t['enqueued']) * 1000 for t in times if t['ended'])
    wait = sorted((t['started'] - t['enqueued']) * 1000 for t in times if t['started'])
    return {
        'jobs': len(e2e),
        'e2e_ms_p50': percentile(e2e, 50),
        'e2e_ms_p99': percentile(e2e, 99),
        'e2e_ms_max': e2e[-1],
        'queue_wait_ms_p50': percentile(wait, 50),
        'queue_wait_ms_p99': percentile(wait, 99),
    }


def repeated(fn, args, times):
    runs = [fn(args) for _ in range(times)]
    summary = {}
    for key in runs[0]:
        values = [r[key] for r in runs]
        summary[key] = {'median': statistics.median(values), 'min': min(values), 'max': max(values)}
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('what', choices=['throughput', 'enqueue', 'latency', 'all'])
    parser.add_argument('--redis-url', required=True)
    parser.add_argument('--capq', default='target/release/capq')
    parser.add_argument('--jobs', '-n', type=int, default=2000)
    parser.add_argument('--latency-jobs', type=int, default=1000)
    parser.add_argument('--rate', type=float, default=20.0)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--latency-repeat', type=int, default=3)
    args = parser.parse_args()
    scenarios = ['throughput', 'enqueue', 'latency'] if args.what == 'all' else [args.what]
    result = {}
    for name in scenarios:
        result[name] = repeated(globals()[name], args, args.repeat if name != 'latency' else args.latency_repeat)
        for key, s in result[name].items():
            print(f'{name:<10} {key:<28} median {s["median"]:>12.3f}   range {s["min"]:.3f}..{s["max"]:.3f}', flush=True)
    json.dump(result, sys.stderr)


if __name__ == '__main__':
    main()
