#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/seeds/<target>/) from real inputs.

- pickle: pickles CPython wrote (crates/capq-pickle/tests/fixtures/fixtures.txt), including the
  hostile ones the reader must refuse.
- job_hash: job hashes exactly as Python rq 2.12 writes them (Job.to_dict(), which rq HSETs),
  for pickle and JSON serializers, retries, TTLs, dependencies and groups, plus the extra fields
  capq adds. Encoded in the JobHash format of fuzz/src/lib.rs.
- day: real rows of real days from testdata/capmetrics with the stops and schedule rows their
  trips need (the 29-row fixture among them). Encoded in the DayInputs format.
- day_spec: day specs from the README and tests, metadata file names, timestamps, arrivals.
- dashboard: a selector byte and real query strings, action forms, login bodies, cookies.

Run with the project's venv (it needs rq): .venv/bin/python3 fuzz/seeds/make_seeds.py
The output is deterministic, so re-running it changes nothing unless the inputs changed.
"""

import csv
import gzip
import hashlib
import io
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEEDS = Path(__file__).resolve().parent

# Must match FIELDS in fuzz/src/lib.rs.
FIELDS = [
    "data", "timeout", "retries_left", "retry_intervals", "result_ttl", "failure_ttl",
    "capq_recoveries", "capq_attempts", "dependency_ids", "dependency_id", "group_id",
    "description", "status", "origin", "created_at", "enqueued_at", "started_at", "ended_at",
    "last_heartbeat", "worker_name", "success_callback_name", "failure_callback_name",
    "stopped_callback_name", "meta", "exc_info", "ttl", "repeat",
]


def write(target, name, data):
    folder = SEEDS / target
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:12]
    (folder / f"{name}-{digest}").write_bytes(data)


def clear(target):
    folder = SEEDS / target
    if folder.exists():
        for f in folder.iterdir():
            f.unlink()


def pickle_seeds():
    clear("pickle")
    wanted_protocols = {"0", "2", "5"}
    seen = set()
    for line in (ROOT / "crates/capq-pickle/tests/fixtures/fixtures.txt").read_text().splitlines():
        if line.startswith("#"):
            continue
        kind, name, protocol, payload = line.split(" ")[:4]
        if kind not in ("load", "refuse"):
            continue
        data = bytes.fromhex(payload)
        if len(data) > 4096 or protocol not in wanted_protocols:
            continue
        # One protocol per value among the plain ones; every protocol of the RQ-shaped ones.
        key = (name, protocol if name.startswith("rq_") else "")
        if key in seen:
            continue
        seen.add(key)
        write("pickle", f"{kind}-{name}-p{protocol}", data)


def encode_hash(fields):
    out = bytearray()
    for name, value in fields:
        if hasattr(value, "value"):
            value = value.value
        if not isinstance(value, (bytes, str)):
            value = str(value)
        if isinstance(value, str):
            value = value.encode()
        if name in FIELDS:
            out.append(FIELDS.index(name))
        else:
            raw = name.encode()
            out += bytes([len(FIELDS), len(raw)]) + raw
        value = value[:0xFFFF]
        out += struct.pack("<H", len(value)) + value
    return bytes(out)


def job_hash_seeds():
    from redis import Redis
    from rq import Retry
    from rq.job import Job
    from rq.serializers import JSONSerializer

    clear("job_hash")
    # Never connected: to_dict() only serializes.
    connection = Redis(host="127.0.0.1", port=1)
    jobs = [
        ("process_day_to_s3", dict(func="tasks.process_day_to_s3",
                                   args=("2016-11-24", "bucket", "processed/2016-11-24.csv"))),
        ("process_day", dict(func="capq.process_day", args=("2016-11-24", "s3://b/out/"),
                             timeout=600, result_ttl=3600, failure_ttl=86400,
                             description="capq.process_day('2016-11-24', 's3://b/out/')")),
        ("sleep_retry", dict(func="capq.sleep", args=(0.5,), retry=Retry(max=3, interval=[5, 10]))),
        ("fail_retry", dict(func="capq.fail", kwargs={"message": "boom"},
                            retry=Retry(max=1, interval=2))),
        ("noop_json", dict(func="capq.noop", serializer=JSONSerializer)),
        ("sleep_json_kwargs", dict(func="capq.sleep", kwargs={"seconds": 2},
                                   serializer=JSONSerializer, timeout=-1)),
        ("kwargs_nested", dict(func="tasks.f", kwargs={"timeout": 30, "key": "k",
                                                       "nested": {"a": [1, 2.5]}})),
        ("no_timeout", dict(func="capq.noop", timeout=-1, result_ttl=-1)),
        ("meta", dict(func="capq.noop", meta={"progress": 3, "by": "me"}, result_ttl=0)),
        ("unknown_func", dict(func="tasks.add", args=(2, 3))),
        ("depends", dict(func="capq.noop", depends_on=["parent-1", "parent-2"])),
        ("bytes_args", dict(func="capq.process_day", args=(b"2016-11-24", None),
                            kwargs={"output": ["x"]})),
    ]
    for name, options in jobs:
        job = Job.create(connection=connection, id=f"seed-{name}", **options)
        job.origin = "default"
        job.enqueued_at = None
        fields = dict(job.to_dict())
        fields["created_at"] = "2026-11-27T20:46:19.079403Z"
        fields = sorted(fields.items())
        write("job_hash", name, encode_hash(fields))
    # As capq enqueue writes them (a batch is an RQ group) and as a claim leaves them: started,
    # with capq's attempt and recovery counters.
    job = Job.create(connection=connection, id="seed-capq", func="capq.process_day",
                     args=("2016-11-25", "s3://bucket/processed/"))
    fields = dict(job.to_dict())
    fields.update({"created_at": "2026-11-27T20:46:19.079403Z", "group_id": "batch-1", "status": "started", "capq_attempts": "2",
                   "capq_recoveries": "1", "worker_name": "host.123.abcd",
                   "started_at": "2026-11-27T20:46:19.079403Z",
                   "last_heartbeat": "2026-11-27T20:46:21.079403Z"})
    write("job_hash", "capq_claimed", encode_hash(sorted(fields.items())))
    # Field values seen in the MONITOR traces of rq 2.12 (/work/shared/rq/traces), and odd
    # ones other clients write.
    data = dict(Job.create(connection=connection, func="capq.noop").to_dict())["data"]
    for name, extra in [
        ("trace_retry", [("retries_left", "3"), ("retry_intervals", "[5, 10]")]),
        ("trace_ttl", [("result_ttl", "60"), ("failure_ttl", "3600"), ("timeout", "180")]),
        ("float_timeout", [("timeout", "180.0"), ("retry_intervals", "[2]")]),
        ("none_fields", [("timeout", "None"), ("result_ttl", ""), ("dependency_ids", "[]")]),
        ("raw_pickle_data", []),
    ]:
        value = data if name != "raw_pickle_data" else __import__("zlib").decompress(data)
        write("job_hash", name, encode_hash([("data", value)] + extra))


def read_csv(path):
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode()


def rows_text(header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def covering(folder, kind, day):
    compact = day.replace("-", "")
    for f in sorted((folder / kind).iterdir()):
        start, end = f.name.split(".")[0].split("_")[1:3]
        if start <= compact <= end:
            return f
    return None


def encode_day(positions, stops, schedule):
    return (struct.pack("<I", len(stops)) + stops + struct.pack("<I", len(schedule)) + schedule
            + positions)


def day_seeds():
    clear("day")
    fixture = ROOT / "testdata/capmetrics/fixture/data"
    stops = read_csv(next((fixture / "stops").iterdir())).encode()
    schedule = read_csv(next((fixture / "schedule").iterdir())).encode()
    positions = (fixture / "vehicle_positions/2016-11-25.csv").read_bytes()
    write("day", "fixture", encode_day(positions, stops, schedule))
    write("day", "fixture_gzip", encode_day(gzip.compress(positions, mtime=0),
                                            gzip.compress(stops, mtime=0),
                                            gzip.compress(schedule, mtime=0)))
    lines = positions.decode().splitlines(keepends=True)
    write("day", "fixture_half", encode_day("".join(lines[:15]).encode(), stops, schedule))
    write("day", "fixture_header_only", encode_day(lines[0].encode(), stops, schedule))
    data = ROOT / "testdata/capmetrics/data"
    days = sorted(p.name.split(".")[0] for p in (data / "vehicle_positions").iterdir())
    for day in days:
        stops_file = covering(data, "stops", day)
        schedule_file = covering(data, "schedule", day)
        if stops_file is None or schedule_file is None:
            continue
        pos = list(csv.reader(io.StringIO(read_csv(data / "vehicle_positions" / f"{day}.csv.gz"))))
        if len(pos) < 2:
            continue
        header, body = pos[0], pos[1:]
        trip_col = header.index("trip_id")
        trips = []
        for row in body:
            if row[trip_col] not in trips:
                trips.append(row[trip_col])
            if len(trips) == 3:
                break
        picked = [r for r in body if r[trip_col] in trips][:40]
        sched = list(csv.reader(io.StringIO(read_csv(schedule_file))))
        sched_rows = [r for r in sched[1:] if r[0] in trips]
        stop_ids = {r[2] for r in sched_rows}
        st = list(csv.reader(io.StringIO(read_csv(stops_file))))
        stop_rows = [r for r in st[1:] if r[0] in stop_ids]
        write("day", day, encode_day(rows_text(header, picked), rows_text(st[0], stop_rows),
                                     rows_text(sched[0], sched_rows)))


def day_spec_seeds():
    clear("day_spec")
    for text in [
        "2016-11-24", "2016-11-24..2016-11-27", "2016-11-27, 2016-11-24..2016-11-25,2016-11-24",
        "2016-12-31..2017-01-01", "2016-11-24..=2016-11-26", "2016-02-29", "0001-01-01",
        "9999-12-31", "2016-11-26..2016-11-24", " , ", "20161124",
        "stops_20160821_20170121.csv.gz", "schedule_20140824_20150606.csv",
        "schedule_20160110_20160820.csv.gz", "2016-11-25T23:34:14-06:00",
        "2016-03-13T02:30:00-05:00", "2016-11-25T00:00:00+14:00", "22:36:00", "25:10:00",
        "7:05:00",
    ]:
        write("day_spec", "spec", text.encode())


def dashboard_seeds():
    clear("dashboard")
    seeds = [
        (0, "token=s3cret&next=%2Ffailed%3Fpage%3D2"),
        (0, "next=%2Fqueues%2Fdefault%3Fstate%3Dfailed&token=wrong"),
        (0, "token=&next="),
        (1, "job-1\nrequeue\ncsrf=0123abcd&back=%2Fjobs%2Fjob-1&confirmed=1"),
        (1, "rq:job:x\nstop\ncsrf=ab&back=%2Fqueues%2Fdefault%3Fstate%3Dstarted"),
        (6, "\nrequeue\ncsrf=x&ids=a&ids=b%3Cc&ids=&back=%2Ffailed"),
        (6, "\ndelete\ncsrf=x&all=1&back=%2Ffailed%3Fpage%3D3"),
        (11, "default\nempty\ncsrf=x&confirmed=1&back=%2F"),
        (11, "high\nrequeue-failed\ncsrf=x"),
        (2, "page=2"),
        (2, "state=finished&per_page=100&page=2"),
        (2, "state=queued&per_page=50&page=3"),
        (2, "state=exploded"),
        (2, "page=-1"),
        (3, "capq_session=0123456789abcdef0123456789abcdef.1764633600.00ff; capq_flash=ok%3ADone\nlocalhost:9181"),
        (3, "capq_flash=err%3ANo+such+job\n[::1]:9181"),
        (131, "capq_session=abc.1.2\n127.0.0.1"),
        (4, "/failed?page=2"),
        (4, "/queues/default?state=failed"),
        (4, "//evil.example/"),
        (4, "/\\evil.example"),
    ]
    for selector, text in seeds:
        write("dashboard", f"s{selector}", bytes([selector]) + text.encode())


if __name__ == "__main__":
    os.chdir(ROOT)
    pickle_seeds()
    job_hash_seeds()
    day_seeds()
    day_spec_seeds()
    dashboard_seeds()
    for target in sorted(p for p in SEEDS.iterdir() if p.is_dir()):
        files = list(target.iterdir())
        print(f"{target.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes",
              file=sys.stderr)
