#!/usr/bin/env python3
"""An independent comparison of two folders of processed days, for the tests of `capq diff`.

Written straight from the rules, row by row, with none of the Rust code's shortcuts (no content
hashes, no partials, no histograms): days are compared by their bytes, rows are joined on
(day, trip_id, stop_id) in a dict, fields are compared with compare_outputs.py's rule, and
every used row's deviation is kept in a list and sorted for the median. Standard library only.

Usage: diff_reference.py A B [--window E,L]   (prints JSON on stdout)
"""
import argparse
import csv
import gzip
import io
import json
import math
import os
import re
import sys

Z = 1.959963984540054
DECIMAL = {'speed', 'latitude', 'longitude', 'stop_lat', 'stop_lon', 'distance_to_stop'}
INTEGER = {'vehicle_id', 'route_id', 'trip_id', 'stop_id', 'sched_dev', 'dayofweek', 'hourofday'}
CLASSES = ['early', 'on_time', 'late', 'far', 'outlier', 'absent']


def days_of(folder):
    out = {}
    for name in os.listdir(folder):
        m = re.fullmatch(r'(\d{4}-\d\d-\d\d)_processed\.csv(\.gz)?', name)
        if m and (m.group(1) not in out or not m.group(2)):
            out[m.group(1)] = os.path.join(folder, name)
    return out


def read(path):
    with open(path, 'rb') as f:
        raw = f.read()
    text = gzip.decompress(raw) if raw[:2] == b'\x1f\x8b' else raw
    return raw, list(csv.reader(io.StringIO(text.decode('utf-8'), newline='')))


def number(text):
    try:
        return float(text.strip())
    except ValueError:
        return None


def same(column, x, y):
    a, b = number(x), number(y)
    if column in DECIMAL and a is not None and b is not None:
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        d = abs(a - b)
        return d <= 1e-9 or d <= 1e-9 * max(abs(a), abs(b))
    if column in INTEGER and a is not None and b is not None:
        return a == b
    return x == y


def klass(row, col, window):
    distance = float(row[col['distance_to_stop']])
    dev = int(float(row[col['sched_dev']]))
    if distance > 0.25:
        return 'far', dev
    if abs(dev) > 1800:
        return 'outlier', dev
    early, late = window
    if early is not None and dev < early:
        return 'early', dev
    if late is not None and dev > late:
        return 'late', dev
    return 'on_time', dev


class Stats:
    def __init__(self):
        self.counts = {c: 0 for c in CLASSES[:5]}
        self.devs = []

    def add(self, k, dev):
        self.counts[k] += 1
        if k in ('early', 'on_time', 'late'):
            self.devs.append(dev)

    def figures(self):
        used = len(self.devs)
        on = self.counts['on_time']
        out = {'used': used, 'early': self.counts['early'], 'on_time': on,
               'late': self.counts['late'], 'otp': None, 'otp_lo': None, 'otp_hi': None, 'p50': None}
        if used:
            n = float(used)
            p = on / n
            z2 = Z * Z
            d = 1.0 + z2 / n
            c = (p + z2 / (2.0 * n)) / d
            h = Z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / d
            out['otp'] = on / used
            out['otp_lo'] = min(max(c - h, 0.0), 1.0)
            out['otp_hi'] = min(max(c + h, 0.0), 1.0)
            out['p50'] = sorted(self.devs)[max(1, -(-used // 2)) - 1]
        return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('a')
    parser.add_argument('b')
    parser.add_argument('--window', default='-60,300')
    args = parser.parse_args()
    e, l = args.window.split(',')
    window = (None if e == 'none' else int(e), None if l == 'none' else int(l))

    days_a, days_b = days_of(args.a), days_of(args.b)
    result = {'days': {'identical': 0, 'equivalent': [], 'changed': [], 'added': [], 'removed': []},
              'rows': {'added': 0, 'removed': 0, 'changed': 0, 'unchanged': 0}, 'columns': {}}
    stats = {side: {'system': Stats(), 'changed_days': Stats(), 'routes': {}} for side in 'ab'}
    matrix = {a: {b: 0 for b in CLASSES} for a in CLASSES}
    where = {'hour': {}, 'route': {}, 'stop': {}, 'day': {}}

    def moved(kind, day, row, col):
        for dim, value in (('hour', row[col['hourofday']]), ('route', row[col['route_id']]),
                           ('stop', row[col['stop_id']]), ('day', day)):
            key = str(int(float(value))) if dim != 'day' else value
            where[dim][key] = where[dim].get(key, 0) + 1

    def count(side, row, col, changed_day):
        k, dev = klass(row, col, window)
        route = int(float(row[col['route_id']]))
        stats[side]['system'].add(k, dev)
        stats[side]['routes'].setdefault(route, Stats()).add(k, dev)
        if changed_day:
            stats[side]['changed_days'].add(k, dev)
        return k

    for day in sorted(set(days_a) | set(days_b)):
        if day not in days_b:
            result['days']['removed'].append(day)
            _, rows = read(days_a[day])
            col = {c: i for i, c in enumerate(rows[0])}
            for row in rows[1:]:
                if not row:
                    continue
                k = count('a', row, col, False)
                matrix[k]['absent'] += 1
                result['rows']['removed'] += 1
                moved('removed', day, row, col)
            continue
        if day not in days_a:
            result['days']['added'].append(day)
            _, rows = read(days_b[day])
            col = {c: i for i, c in enumerate(rows[0])}
            for row in rows[1:]:
                if not row:
                    continue
                k = count('b', row, col, False)
                matrix['absent'][k] += 1
                result['rows']['added'] += 1
                moved('added', day, row, col)
            continue
        raw_a, rows_a = read(days_a[day])
        raw_b, rows_b = read(days_b[day])
        col_a = {c: i for i, c in enumerate(rows_a[0])}
        col_b = {c: i for i, c in enumerate(rows_b[0])}
        if raw_a == raw_b:
            result['days']['identical'] += 1
            for row in rows_a[1:]:
                if row:
                    k = count('a', row, col_a, False)
                    count('b', row, col_b, False)
                    matrix[k][k] += 1
                    result['rows']['unchanged'] += 1
            continue
        # Join: key -> list of rows, paired in file order.
        def keyed(rows, col):
            out = {}
            for row in rows[1:]:
                if row:
                    key = (int(float(row[col['trip_id']])), int(float(row[col['stop_id']])))
                    out.setdefault(key, []).append(row)
            return out
        ka, kb = keyed(rows_a, col_a), keyed(rows_b, col_b)
        columns = list(rows_a[0]) + [c for c in rows_b[0] if c not in col_a]
        day_rows = {'added': 0, 'removed': 0, 'changed': 0, 'unchanged': 0}
        pairs = []
        for key in set(ka) | set(kb):
            la, lb = ka.get(key, []), kb.get(key, [])
            for i in range(max(len(la), len(lb))):
                pairs.append((la[i] if i < len(la) else None, lb[i] if i < len(lb) else None))
        day_columns = {}
        for ra, rb in pairs:
            if rb is None:
                day_rows['removed'] += 1
            elif ra is None:
                day_rows['added'] += 1
            else:
                differing = [c for c in columns
                             if c not in col_a or c not in col_b or not same(c, ra[col_a[c]], rb[col_b[c]])]
                for c in differing:
                    day_columns[c] = day_columns.get(c, 0) + 1
                day_rows['changed' if differing else 'unchanged'] += 1
        changed_day = (day_rows['added'] or day_rows['removed'] or day_rows['changed']
                       or rows_a[0] != rows_b[0])
        for ra, rb in pairs:
            ka_ = count('a', ra, col_a, changed_day) if ra is not None else 'absent'
            kb_ = count('b', rb, col_b, changed_day) if rb is not None else 'absent'
            matrix[ka_][kb_] += 1
            if rb is None:
                moved('removed', day, ra, col_a)
            elif ra is None:
                moved('added', day, rb, col_b)
            else:
                differing = any(c not in col_a or c not in col_b or not same(c, ra[col_a[c]], rb[col_b[c]])
                                for c in columns)
                if differing:
                    moved('changed', day, rb, col_b)
        for k, v in day_rows.items():
            result['rows'][k] += v
        for c, v in day_columns.items():
            result['columns'][c] = result['columns'].get(c, 0) + v
        result['days']['changed' if changed_day else 'equivalent'].append(day)

    result['otp'] = {
        'system': {'a': stats['a']['system'].figures(), 'b': stats['b']['system'].figures()},
        'changed_days': ({'a': stats['a']['changed_days'].figures(), 'b': stats['b']['changed_days'].figures()}
                         if result['days']['changed'] else None),
    }
    routes = {}
    for route in set(stats['a']['routes']) | set(stats['b']['routes']):
        fa = stats['a']['routes'].get(route, Stats()).figures()
        fb = stats['b']['routes'].get(route, Stats()).figures()
        if fa != fb and (fa['used'] or fb['used']):
            routes[str(route)] = {'a': fa, 'b': fb}
    result['otp']['routes'] = routes
    result['transitions'] = [[matrix[a][b] for b in CLASSES] for a in CLASSES]
    result['where'] = where
    json.dump(result, sys.stdout, indent=1, sort_keys=True)


if __name__ == '__main__':
    main()
