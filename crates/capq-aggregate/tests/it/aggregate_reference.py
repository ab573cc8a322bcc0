#!/usr/bin/env python3
"""An independent computation of the aggregate folder of AGGREGATE.md, for the tests.

Written straight from the definitions, row by row, with no shortcut the Rust code takes (no
partials, no per-second histograms): it keeps every used row's deviation in lists and sorts
them. Standard library only.

Usage: aggregate_reference.py --input DIR --output DIR [--profile NAME | --window E,L]
                              [--days D,D,...] [--failed D,D,...]

Reads DIR/<DAY>_processed.csv (or .csv.gz) and writes system_daily.csv, route.csv,
route_hour.csv, stop.csv, histogram.csv, headway.csv and summary.json into the output folder.
Decisions that AGGREGATE.md leaves open follow docs/aggregate.md.
"""
import argparse
import csv
import datetime
import functools
import gzip
import io
import json
import math
import os
import re
from decimal import Decimal
from fractions import Fraction

Z = 1.959963984540054
PROFILES = {
    'tcqsm': (-60, 300),
    'transitclock': (-60, 240),
    'capmetro': (None, 300),
    'wmata': (-120, 420),
}
PROFILE_ORDER = ['tcqsm', 'transitclock', 'capmetro', 'wmata']


def dec(x):
    """Shortest round-trip decimal, positional, at least one digit after the point."""
    if x is None:
        return ''
    if x == 0:
        return '0.0'
    s = repr(float(x))
    if 'e' in s or 'E' in s:
        s = format(Decimal(s), 'f')
    if '.' not in s:
        s += '.0'
    return s


def field(v):
    s = str(v)
    if any(c in s for c in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s


def write_csv(path, header, rows):
    with open(path, 'w', encoding='utf-8', newline='') as f:
        f.write(header + '\n')
        for row in rows:
            f.write(','.join(field('' if v is None else v) for v in row) + '\n')


def rank(q, n):
    """1-based nearest rank for percentile q (a decimal string), exactly."""
    r = math.ceil(Fraction(q) * n / 100)
    return max(1, r)


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[rank(q, len(sorted_values)) - 1]


def wilson(k, n):
    if n == 0:
        return None, None
    n = float(n)
    p = k / n
    z2 = Z * Z
    d = 1.0 + z2 / n
    c = (p + z2 / (2.0 * n)) / d
    h = Z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / d
    return min(1.0, max(0.0, c - h)), min(1.0, max(0.0, c + h))


def ratio(k, n):
    return k / n if n else None


WHOLE = {}


def whole(text):
    if text not in WHOLE:
        WHOLE[text] = whole_uncached(text)
    return WHOLE[text]


def whole_uncached(text):
    value = Decimal(text)
    if value != value.to_integral_value():
        raise ValueError(f'not a whole number: {text!r}')
    return int(value)


INSTANTS = {}


def instant(text):
    if text not in INSTANTS:
        INSTANTS[text] = int(datetime.datetime.fromisoformat(text).timestamp())
    return INSTANTS[text]


@functools.lru_cache(maxsize=None)
def daytype(day):
    wd = day.isoweekday()
    return 'saturday' if wd == 6 else 'sunday' if wd == 7 else 'weekday'


def klass(row):
    if float(row['distance_to_stop']) > 0.25:
        return 'far'
    if abs(whole(row['sched_dev'])) > 1800:
        return 'outlier'
    return 'used'


class Window:
    def __init__(self, early, late):
        self.early, self.late = early, late

    def which(self, dev):
        if self.early is not None and dev < self.early:
            return 'early'
        if self.late is not None and dev > self.late:
            return 'late'
        return 'on_time'

    def counts(self, devs):
        c = {'early': 0, 'on_time': 0, 'late': 0}
        for d in devs:
            c[self.which(d)] += 1
        return c


def read_day(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rt', encoding='utf-8', newline='') as f:
        return [r for r in csv.DictReader(f)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--input', required=True)
    ap.add_argument('--output', required=True)
    ap.add_argument('--profile')
    ap.add_argument('--window')
    ap.add_argument('--days')
    ap.add_argument('--failed', default='')
    args = ap.parse_args()

    if args.window:
        e, l = args.window.split(',')
        window = Window(None if e in ('', 'none') else int(e), None if l in ('', 'none') else int(l))
        profile = None
    else:
        profile = args.profile or 'tcqsm'
        window = Window(*PROFILES[profile])

    files = {}
    for name in sorted(os.listdir(args.input)):
        m = re.fullmatch(r'(\d{4}-\d{2}-\d{2})_processed\.csv(\.gz)?', name)
        if m and (m.group(1) not in files or not m.group(2)):
            files[m.group(1)] = os.path.join(args.input, name)
    failed = sorted(set(d for d in args.failed.split(',') if d))
    asked = None
    if args.days:
        asked = sorted(set(args.days.split(',')))
    days = sorted(d for d in files if (asked is None or d in asked) and d not in failed)
    missing = [] if asked is None else [d for d in asked if d not in files and d not in failed]

    # Per day: classes, flag, and the used rows of ok days.
    system_daily = []
    totals = {'total': 0, 'far': 0, 'outlier': 0, 'used': 0}
    flags = {'ok': 0, 'suspect': 0, 'empty': 0}
    used_rows = []  # (day, row) of ok days
    for day in days:
        rows = read_day(files[day])
        date = datetime.date.fromisoformat(day)
        classes = [klass(r) for r in rows]
        far = classes.count('far')
        outlier = classes.count('outlier')
        used = [r for r, c in zip(rows, classes) if c == 'used']
        if not rows:
            flag = 'empty'
        else:
            near = sorted(whole(r['sched_dev']) for r, c in zip(rows, classes) if c != 'far')
            m = len(near)
            if m > 0 and (Fraction(outlier, m) > Fraction(1, 5) or abs(percentile(near, '50')) > 900):
                flag = 'suspect'
            else:
                flag = 'ok'
        devs = sorted(whole(r['sched_dev']) for r in used)
        c = window.counts(devs)
        n = len(devs)
        lo, hi = wilson(c['on_time'], n)
        system_daily.append([
            day, daytype(date), flag, len(rows), far, outlier, n, c['early'], c['on_time'], c['late'],
            dec(ratio(c['on_time'], n)), dec(lo), dec(hi), dec(sum(devs) / n if n else None),
            percentile(devs, '50'), percentile(devs, '90'),
        ])
        totals['total'] += len(rows)
        totals['far'] += far
        totals['outlier'] += outlier
        totals['used'] += n
        flags[flag] += 1
        if flag == 'ok':
            used_rows.extend((date, r) for r in used)

    out = args.output
    os.makedirs(out, exist_ok=True)
    write_csv(os.path.join(out, 'system_daily.csv'),
              'day,daytype,flag,rows,far,outlier,used,early,on_time,late,otp,otp_lo,otp_hi,mean_dev,p50,p90',
              system_daily)

    def group(key):
        cells = {}
        for date, r in used_rows:
            cells.setdefault(key(date, r), []).append((date, r))
        return cells

    # 2.2 route.csv
    routes = group(lambda d, r: (int(r['route_id']), r['trip_headsign'], daytype(d)))
    route_rows = []
    for (route_id, direction, dt), members in routes.items():
        devs = sorted(whole(r['sched_dev']) for _, r in members)
        c = window.counts(devs)
        n = len(devs)
        lo, hi = wilson(c['on_time'], n)
        route_rows.append((Fraction(c['on_time'], n), route_id, direction.encode('utf-8'), dt, [
            route_id, direction, dt, len({d for d, _ in members}), len({(d, r['trip_id']) for d, r in members}),
            n, c['early'], c['on_time'], c['late'], dec(c['on_time'] / n), dec(lo), dec(hi), dec(sum(devs) / n),
            percentile(devs, '10'), percentile(devs, '50'), percentile(devs, '90'), percentile(devs, '95'),
        ]))
    route_rows.sort(key=lambda t: t[:4])
    write_csv(os.path.join(out, 'route.csv'),
              'route_id,direction,daytype,days,trips,used,early,on_time,late,otp,otp_lo,otp_hi,mean_dev,p10,p50,p90,p95',
              [t[4] for t in route_rows])

    # 2.3 route_hour.csv
    rows = []
    for (route_id, dt, hour), members in sorted(group(lambda d, r: (int(r['route_id']), daytype(d), int(r['hourofday']))).items()):
        devs = sorted(whole(r['sched_dev']) for _, r in members)
        c = window.counts(devs)
        rows.append([route_id, dt, hour, len(devs), c['on_time'], dec(c['on_time'] / len(devs)),
                     percentile(devs, '50'), percentile(devs, '90')])
    write_csv(os.path.join(out, 'route_hour.csv'), 'route_id,daytype,hour,used,on_time,otp,p50,p90', rows)

    # 2.4 stop.csv
    stops = group(lambda d, r: (int(r['route_id']), r['trip_headsign'], daytype(d), int(r['stop_id'])))
    rows = []
    for key in sorted(stops, key=lambda k: (k[0], k[1].encode('utf-8'), k[2], k[3])):
        members = stops[key]
        latest = max(d for d, _ in members)
        first = next(r for d, r in members if d == latest)  # file order within the day
        devs = sorted(whole(r['sched_dev']) for _, r in members)
        c = window.counts(devs)
        rows.append([key[0], key[1], key[2], key[3], dec(float(first['stop_lat'])), dec(float(first['stop_lon'])),
                     len(devs), c['on_time'], dec(c['on_time'] / len(devs)), percentile(devs, '50'),
                     percentile(devs, '2.5'), percentile(devs, '97.5')])
    write_csv(os.path.join(out, 'stop.csv'),
              'route_id,direction,daytype,stop_id,stop_lat,stop_lon,used,on_time,otp,p50,window_lo,window_hi', rows)

    # 2.5 histogram.csv
    rows = []

    def scope_rows(scope, devs):
        bins = {}
        for d in devs:
            b = (d // 30) * 30
            bins[b] = bins.get(b, 0) + 1
        return [[scope, b, bins[b]] for b in sorted(bins)]

    rows += scope_rows('all', [whole(r['sched_dev']) for _, r in used_rows])
    by_route = {}
    for _, r in used_rows:
        by_route.setdefault(int(r['route_id']), []).append(whole(r['sched_dev']))
    for route_id in sorted(by_route):
        rows += scope_rows(f'route:{route_id}', by_route[route_id])
    write_csv(os.path.join(out, 'histogram.csv'), 'scope,bin,count', rows)

    # 2.6 headway.csv
    pairs = {}
    for (date, route_id, direction, stop_id), members in group(
            lambda d, r: (d, int(r['route_id']), r['trip_headsign'], int(r['stop_id']))).items():
        ordered = sorted(members, key=lambda m: (instant(m[1]['sched_time']), instant(m[1]['timestamp'])))
        for (_, a), (_, b) in zip(ordered, ordered[1:]):
            h_sched = instant(b['sched_time']) - instant(a['sched_time'])
            h_obs = instant(b['timestamp']) - instant(a['timestamp'])
            if 0 < h_sched <= 3600:
                pairs.setdefault((route_id, direction, daytype(date)), []).append((h_obs, h_sched))
    rows = []
    for key in sorted(pairs, key=lambda k: (k[0], k[1].encode('utf-8'), k[2])):
        ps = pairs[key]
        n = len(ps)
        # h_obs < 0.25 h_sched and h_obs > 1.5 h_sched, multiplied out to stay exact.
        bunched = sum(1 for o, s in ps if 4 * o < s)
        gapped = sum(1 for o, s in ps if 2 * o > 3 * s)
        rows.append([key[0], key[1], key[2], n, percentile(sorted(o for o, _ in ps), '50'),
                     percentile(sorted(s for _, s in ps), '50'), dec(bunched / n), dec(gapped / n)])
    write_csv(os.path.join(out, 'headway.csv'),
              'route_id,direction,daytype,pairs,median_obs,median_sched,bunched,gapped', rows)

    # 2.7 summary.json
    devs = sorted(whole(r['sched_dev']) for _, r in used_rows)
    c = window.counts(devs)
    n = len(devs)
    lo, hi = wilson(c['on_time'], n)

    def num(x):
        return 'null' if x is None else dec(x)

    def integer(x):
        return 'null' if x is None else str(x)

    worst = [t[4] for t in route_rows if t[4][5] >= 30][:10]
    text = '{\n'
    text += f'  "window": [{integer(window.early)}, {integer(window.late)}],\n'
    text += f'  "profile": {json.dumps(profile)},\n'
    text += (f'  "days": {{"total": {len(days)}, "ok": {flags["ok"]}, "suspect": {flags["suspect"]}, '
             f'"empty": {flags["empty"]}}},\n')
    text += (f'  "rows": {{"total": {totals["total"]}, "far": {totals["far"]}, "outlier": {totals["outlier"]}, '
             f'"used": {totals["used"]}}},\n')
    text += (f'  "system": {{"used": {n}, "early": {c["early"]}, "on_time": {c["on_time"]}, "late": {c["late"]}, '
             f'"otp": {num(ratio(c["on_time"], n))}, "otp_lo": {num(lo)}, "otp_hi": {num(hi)}, '
             f'"p50": {integer(percentile(devs, "50"))}, "p90": {integer(percentile(devs, "90"))}}},\n')
    parts = []
    for name in PROFILE_ORDER:
        pc = Window(*PROFILES[name]).counts(devs)
        parts.append(f'"{name}": {num(ratio(pc["on_time"], n))}')
    text += '  "profiles": {' + ', '.join(parts) + '},\n'
    entries = [f'{{"route_id": {w[0]}, "direction": {json.dumps(w[1], ensure_ascii=False)}, "daytype": "{w[2]}", '
               f'"otp": {w[9]}, "used": {w[5]}}}' for w in worst]
    text += '  "worst_routes": [' + ''.join(('\n    ' if i == 0 else ',\n    ') + e for i, e in enumerate(entries))
    text += ('\n  ' if entries else '') + '],\n'
    text += '  "missing_days": [' + ', '.join(f'"{d}"' for d in missing) + '],\n'
    text += '  "failed_days": [' + ', '.join(f'"{d}"' for d in failed) + ']\n'
    text += '}\n'
    with open(os.path.join(out, 'summary.json'), 'w', encoding='utf-8', newline='') as f:
        f.write(text)


if __name__ == '__main__':
    main()
