#!/usr/bin/env python3
"""Build a data folder of many days from a few real ones, by re-dating them.

Real CapMetrics days are copied, in turn, onto consecutive dates starting at --start, with every
timestamp inside rewritten to the new date (so weekdays and schedule days follow the new date).
The stops and schedule files are copied under names whose date ranges cover the new span, split
into ranges of at most --range-days days, as real metadata comes in service periods.

Usage: redate.py --source data/sample --start 2017-01-01 --days 365 --out /tmp/year
Only the standard library is needed.
"""
import argparse
import datetime
import gzip
import os
import re
import shutil
import sys


def read_text(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rt', encoding='utf-8', newline='') as f:
        return f.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--source', required=True, help='a data folder with vehicle_positions/, stops/, schedule/')
    parser.add_argument('--start', required=True, help='first new date, YYYY-MM-DD')
    parser.add_argument('--days', type=int, required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--range-days', type=int, default=120, help='days covered by each metadata file')
    args = parser.parse_args()

    start = datetime.date.fromisoformat(args.start)
    positions_dir = os.path.join(args.source, 'vehicle_positions')
    originals = sorted(n for n in os.listdir(positions_dir) if n.endswith(('.csv', '.csv.gz')))
    texts = []
    for name in originals:
        day = name.split('.')[0]
        text = read_text(os.path.join(positions_dir, name))
        if text.count('\n') > 1:
            texts.append((day, text))
    if not texts:
        sys.exit(f'no non-empty days in {positions_dir}')
    stops = [n for n in os.listdir(os.path.join(args.source, 'stops')) if n.startswith('stops_')]
    schedules = [n for n in os.listdir(os.path.join(args.source, 'schedule')) if n.startswith('schedule_')]
    if len(stops) != 1 or len(schedules) != 1:
        sys.exit('the source folder must hold exactly one stops file and one schedule file')

    for sub in ('vehicle_positions', 'stops', 'schedule'):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)
    for i in range(args.days):
        new_day = start + datetime.timedelta(days=i)
        old_day, text = texts[i % len(texts)]
        # Trips past midnight carry the next day's date; move those too. One pass, so a new date
        # that equals an old one is never rewritten twice.
        old_next = (datetime.date.fromisoformat(old_day) + datetime.timedelta(days=1)).isoformat()
        new_dates = {old_day: new_day.isoformat(), old_next: (new_day + datetime.timedelta(days=1)).isoformat()}
        body = re.sub(f'({re.escape(old_day)}|{re.escape(old_next)})T', lambda m: new_dates[m.group(1)] + 'T', text)
        with gzip.open(os.path.join(args.out, 'vehicle_positions', f'{new_day.isoformat()}.csv.gz'), 'wt',
                       encoding='utf-8', newline='', compresslevel=1) as f:
            f.write(body)
    end = start + datetime.timedelta(days=args.days - 1)
    first = start
    while first <= end:
        last = min(end, first + datetime.timedelta(days=args.range_days - 1))
        span = f'{first:%Y%m%d}_{last:%Y%m%d}'
        shutil.copyfile(os.path.join(args.source, 'stops', stops[0]), os.path.join(args.out, 'stops', f'stops_{span}.csv.gz'))
        shutil.copyfile(os.path.join(args.source, 'schedule', schedules[0]),
                        os.path.join(args.out, 'schedule', f'schedule_{span}.csv.gz'))
        first = last + datetime.timedelta(days=1)
    print(f'{args.days} days from {start} to {end} in {args.out}', file=sys.stderr)


if __name__ == '__main__':
    main()
