//! The terminal view: sections in the order a reader asks the questions (what changed, how
//! much, does it matter for on-time performance, where, show me), columns aligned, colour
//! only when the caller says the output is a terminal that wants it.

use std::fmt::Write as _;

use super::{clean, count, day_list, grouped, interval, medians, percent, points, share, signed};
use crate::Diff;
use crate::report::{OtpChange, Share};
use crate::tally::Class;

/// Most routes, days and sample rows listed in full.
const ROUTES_SHOWN: usize = 10;
const DAYS_SHOWN: usize = 10;

/// ANSI colours, or none.
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.0 && !text.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }
    fn dim(self, text: &str) -> String {
        self.wrap("2", text)
    }
    fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }
    fn red(self, text: &str) -> String {
        self.wrap("31", text)
    }
    fn yellow(self, text: &str) -> String {
        self.wrap("33", text)
    }
}

/// A table of plain cells, aligned, each cell coloured after padding.
struct Grid {
    /// Per column: right-aligned.
    right: Vec<bool>,
    rows: Vec<Vec<Cell>>,
}

impl Grid {
    fn new(right: &[bool]) -> Grid {
        Grid {
            right: right.to_vec(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.into_iter().map(|c| (c, None)).collect());
    }

    fn painted(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    fn write(&self, out: &mut String, paint: Paint, indent: &str) {
        let columns = self.right.len();
        let mut widths = vec![0; columns];
        for row in &self.rows {
            for (i, (cell, _)) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        for row in &self.rows {
            let mut line = String::from(indent);
            for (i, (cell, colour)) in row.iter().enumerate().take(columns) {
                let pad = widths[i] - cell.chars().count();
                let padded = if self.right[i] {
                    format!("{}{cell}", " ".repeat(pad))
                } else if i + 1 == row.len() {
                    cell.clone()
                } else {
                    format!("{cell}{}", " ".repeat(pad))
                };
                let shown = match colour {
                    Some(colour) => colour(paint, &padded),
                    None => padded,
                };
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(&shown);
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
}

/// The terminal view of `diff`; `colour` adds ANSI colours (only for a terminal that has not
/// set `NO_COLOR`; the caller decides).
pub fn terminal(diff: &Diff, colour: bool) -> String {
    let paint = Paint(colour);
    let mut out = String::new();
    sides(&mut out, diff, paint);
    provenance(&mut out, diff, paint);
    days(&mut out, diff, paint);
    if !diff.differs() {
        let _ = writeln!(out, "\n{}", paint.bold("no differences"));
        otp(&mut out, diff, paint);
        return out;
    }
    rows(&mut out, diff, paint);
    drops(&mut out, diff, paint);
    otp(&mut out, diff, paint);
    transitions(&mut out, diff, paint);
    places(&mut out, diff, paint);
    samples(&mut out, diff, paint);
    per_day(&mut out, diff, paint);
    out
}

fn heading(out: &mut String, paint: Paint, text: &str) {
    let _ = writeln!(out, "\n{}", paint.bold(text));
}

fn sides(out: &mut String, diff: &Diff, paint: Paint) {
    for (name, side) in [("A", &diff.a), ("B", &diff.b)] {
        let run = side
            .run_id
            .as_ref()
            .filter(|id| **id != side.label)
            .map(|id| format!(", run {}", clean(id)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{} {}  ({}{run})",
            paint.bold(name),
            clean(&side.label),
            count(side.days as u64, "day", "days"),
        );
    }
}

fn provenance(out: &mut String, diff: &Diff, paint: Paint) {
    let p = &diff.provenance;
    if !p.known && p.fields.is_empty() && p.params.is_empty() {
        let _ = writeln!(out, "{}", paint.dim("provenance: not recorded (folders)"));
        return;
    }
    let value = |v: &Option<String>| v.as_deref().map_or("-".into(), clean).into_owned();
    if p.fields.is_empty() && p.params.is_empty() && p.inputs_changed.is_empty() {
        let _ = writeln!(out, "provenance: same processor, parameters and inputs");
        return;
    }
    for field in &p.fields {
        let _ = writeln!(
            out,
            "{}: {} → {}",
            field.name.replace('_', " "),
            value(&field.a),
            value(&field.b)
        );
    }
    for param in &p.params {
        let _ = writeln!(
            out,
            "parameter {}: {} → {}",
            clean(&param.name),
            value(&param.a),
            value(&param.b)
        );
    }
    if !p.inputs_changed.is_empty() {
        let _ = writeln!(
            out,
            "inputs changed on {}: {}",
            count(p.inputs_changed.len() as u64, "day", "days"),
            day_list(&p.inputs_changed, DAYS_SHOWN)
        );
    }
}

fn days(out: &mut String, diff: &Diff, paint: Paint) {
    let d = &diff.days;
    heading(out, paint, "days");
    let by_hash = if d.identical_by_hash > 0 {
        format!(" ({} by hash)", grouped(d.identical_by_hash as u64))
    } else {
        String::new()
    };
    let mut parts = vec![format!(
        "{} identical{by_hash}",
        grouped(d.identical as u64)
    )];
    let mut lists: Vec<(&str, String)> = Vec::new();
    let mut list =
        |name: &'static str, days: &[capmetrics::Date], colour: fn(Paint, &str) -> String| {
            parts.push(colour(
                paint,
                &format!("{} {name}", grouped(days.len() as u64)),
            ));
            if !days.is_empty() {
                lists.push((name, day_list(days, DAYS_SHOWN)));
            }
        };
    list("changed", &d.changed, Paint::yellow);
    list("added", &d.added, Paint::green);
    list("removed", &d.removed, Paint::red);
    if !d.equivalent.is_empty() {
        list("equivalent", &d.equivalent, |_, t| t.to_owned());
    }
    let failing: Vec<capmetrics::Date> = d.newly_failing.iter().map(|f| f.day).collect();
    if !failing.is_empty() {
        list("newly failing", &failing, Paint::red);
    }
    if !d.fixed.is_empty() {
        list("fixed", &d.fixed, Paint::green);
    }
    if !d.still_failing.is_empty() {
        list("still failing", &d.still_failing, |_, t| t.to_owned());
    }
    let _ = writeln!(out, "  {}", parts.join(", "));
    for (name, days) in lists {
        let _ = writeln!(out, "  {name}: {days}");
    }
    for failed in &d.newly_failing {
        if !failed.error.is_empty() {
            let _ = writeln!(out, "  {} fails: {}", failed.day, clean(&failed.error));
        }
    }
}

fn rows(out: &mut String, diff: &Diff, paint: Paint) {
    let r = &diff.rows;
    heading(out, paint, "rows (joined on day, trip_id, stop_id)");
    let _ = writeln!(
        out,
        "  {}, {}, {}; {} unchanged",
        paint.green(&format!("{} added", grouped(r.added))),
        paint.red(&format!("{} removed", grouped(r.removed))),
        paint.yellow(&format!("{} changed", grouped(r.changed))),
        grouped(r.unchanged)
    );
    if !r.columns.is_empty() {
        let _ = writeln!(out, "  changed rows per column:");
        let mut grid = Grid::new(&[false, true]);
        for column in &r.columns {
            grid.row(vec![
                clean(&column.column).into_owned(),
                grouped(column.rows),
            ]);
        }
        grid.write(out, paint, "    ");
    }
}

fn drops(out: &mut String, diff: &Diff, paint: Paint) {
    let Some(drops) = &diff.drops else {
        return;
    };
    heading(
        out,
        paint,
        &format!(
            "rows dropped per reason ({} compared)",
            count(drops.days as u64, "day", "days")
        ),
    );
    let mut grid = Grid::new(&[false, true, true, true]);
    grid.row(vec!["".into(), "A".into(), "B".into(), "change".into()]);
    let mut line = |name: &str, c: &crate::report::Change| {
        grid.row(vec![
            name.to_owned(),
            grouped(c.a),
            grouped(c.b),
            signed(c.change),
        ]);
    };
    line("rows in", &drops.rows_in);
    line("rows out", &drops.rows_out);
    for reason in &drops.reasons {
        if reason.count.a > 0 || reason.count.b > 0 {
            line(reason.reason, &reason.count);
        }
    }
    grid.write(out, paint, "  ");
}

/// A cell, and the colour it is painted in.
type Cell = (String, Option<fn(Paint, &str) -> String>);

fn otp_row(name: String, change: &OtpChange) -> Vec<Cell> {
    let colour: Option<fn(Paint, &str) -> String> = match change.change_pp {
        Some(x) if x > 0.0 => Some(Paint::green),
        Some(x) if x < 0.0 => Some(Paint::red),
        _ => None,
    };
    vec![
        (name, None),
        (percent(change.a.otp), None),
        (
            format!("[{}]", interval(change.a.otp_lo, change.a.otp_hi)),
            None,
        ),
        (percent(change.b.otp), None),
        (
            format!("[{}]", interval(change.b.otp_lo, change.b.otp_hi)),
            None,
        ),
        (points(change.change_pp), colour),
        (medians(change), None),
    ]
}

fn otp(out: &mut String, diff: &Diff, paint: Paint) {
    let w = &diff.window;
    let bound = |b: Option<i64>| b.map_or_else(|| "none".to_owned(), |v| v.to_string());
    heading(
        out,
        paint,
        &format!(
            "on-time performance, {} window {}..{} s (95 % Wilson intervals)",
            w.profile.unwrap_or("custom"),
            bound(w.early),
            bound(w.late)
        ),
    );
    let mut grid = Grid::new(&[false, true, true, true, true, true, false]);
    grid.row(
        ["", "A", "", "B", "", "change", "p50"]
            .map(str::to_owned)
            .to_vec(),
    );
    let o = &diff.otp;
    grid.painted(otp_row(
        format!("system ({} used rows in B)", grouped(o.system.b.used)),
        &o.system,
    ));
    // When every day changed, the changed days are the system: one row says it.
    if let Some(changed) = o
        .changed_days
        .as_ref()
        .filter(|c| c.a != o.system.a || c.b != o.system.b)
    {
        grid.painted(otp_row(
            format!("changed days ({})", diff.days.changed.len()),
            changed,
        ));
    }
    for route in o.routes.iter().take(ROUTES_SHOWN) {
        grid.painted(otp_row(format!("route {}", route.route_id), &route.change));
    }
    grid.write(out, paint, "  ");
    if o.routes.len() > ROUTES_SHOWN {
        let _ = writeln!(
            out,
            "  {}",
            paint.dim(&format!(
                "… {} more routes moved (--json lists them all)",
                o.routes.len() - ROUTES_SHOWN
            ))
        );
    } else if o.routes.is_empty() {
        let _ = writeln!(out, "  {}", paint.dim("no route's figures moved"));
    }
}

fn transitions(out: &mut String, diff: &Diff, paint: Paint) {
    let t = &diff.transitions;
    heading(out, paint, "row classes, A (rows) → B (columns)");
    let mut grid = Grid::new(&[false, true, true, true, true, true, true]);
    let mut header = vec![String::new()];
    header.extend(Class::ALL.iter().map(|c| match c {
        Class::Absent => "removed".to_owned(),
        c => c.label().to_owned(),
    }));
    grid.row(header);
    for a in Class::ALL {
        let mut cells = vec![(
            match a {
                Class::Absent => "added".to_owned(),
                a => a.label().to_owned(),
            },
            None,
        )];
        for b in Class::ALL {
            let n = t.count(a, b);
            let colour: Option<fn(Paint, &str) -> String> = if a == b || n == 0 {
                None
            } else {
                Some(Paint::yellow)
            };
            let text = if a == Class::Absent && b == Class::Absent {
                String::new()
            } else {
                grouped(n)
            };
            cells.push((text, colour));
        }
        grid.painted(cells);
    }
    grid.write(out, paint, "  ");
    if let Some(flow) = t.net.iter().find(|f| f.class == Class::OnTime.key()) {
        let mut parts = Vec::new();
        for (from, n) in &flow.from {
            let name = if *from == "absent" { "added" } else { from };
            parts.push(paint.green(&format!("+{} from {name}", grouped(*n))));
        }
        for (to, n) in &flow.to {
            let name = if *to == "absent" { "removed" } else { to };
            parts.push(paint.red(&format!("-{} to {name}", grouped(*n))));
        }
        let _ = writeln!(
            out,
            "  on time {} → {} ({}){}",
            grouped(flow.count.a),
            grouped(flow.count.b),
            signed(flow.count.change),
            if parts.is_empty() {
                String::new()
            } else {
                format!(": {}", parts.join(", "))
            }
        );
    }
}

fn ranking(out: &mut String, name: &str, shares: &[Share], paint: Paint) {
    if shares.is_empty() {
        return;
    }
    let items: Vec<String> = shares
        .iter()
        .map(|s| format!("{} {}", clean(&s.key), paint.bold(&share(s.share))))
        .collect();
    let _ = writeln!(out, "  {name:<12}{}", items.join(", "));
}

fn places(out: &mut String, diff: &Diff, paint: Paint) {
    let p = &diff.places;
    heading(
        out,
        paint,
        &format!("where the {} moved rows are", grouped(p.rows)),
    );
    if let Some(top) = headline(diff) {
        let _ = writeln!(out, "  {top}");
    }
    ranking(out, "route", &p.by_route, paint);
    ranking(out, "hour", &p.by_hour, paint);
    ranking(out, "day", &p.by_day, paint);
    ranking(out, "stop", &p.by_stop, paint);
    if !p.by_drop_reason.is_empty() {
        let items: Vec<String> = p
            .by_drop_reason
            .iter()
            .map(|r| format!("{} {} ({})", r.reason, signed(r.change), share(r.share)))
            .collect();
        let _ = writeln!(out, "  {:<12}{}", "drop reason", items.join(", "));
    }
}

/// The most concentrated ranking as a sentence: "91 % of moved rows are in hour 0".
pub fn headline(diff: &Diff) -> Option<String> {
    let p = &diff.places;
    // That every moved row is on the one day that moved says nothing the day list does not.
    let by_day = if p.by_day.len() > 1 {
        p.by_day.first()
    } else {
        None
    };
    let candidates = [
        ("on route", p.by_route.first()),
        ("in hour", p.by_hour.first()),
        ("on", by_day),
        ("at stop", p.by_stop.first()),
    ];
    let (place, top) = candidates
        .into_iter()
        .filter_map(|(place, top)| top.map(|t| (place, t)))
        // The first of equal shares: route before hour before day before stop.
        .fold(None::<(&str, &Share)>, |best, (place, top)| match best {
            Some((_, b)) if b.share >= top.share => best,
            _ => Some((place, top)),
        })?;
    if top.share < HEADLINE_SHARE {
        return Some(format!(
            "spread out: no route, hour, day or stop holds more than {} of moved rows",
            share(top.share)
        ));
    }
    Some(format!(
        "{} of moved rows are {place} {}",
        share(top.share),
        clean(&top.key)
    ))
}

/// A place holding less than this share of moved rows is not a headline.
const HEADLINE_SHARE: f64 = 0.2;

fn samples(out: &mut String, diff: &Diff, paint: Paint) {
    let s = &diff.rows.samples;
    if s.changed.is_empty() && s.added.is_empty() && s.removed.is_empty() {
        return;
    }
    heading(out, paint, "sample rows (A → B)");
    for row in &s.changed {
        let _ = writeln!(
            out,
            "  {} {} trip {} stop {} (route {})",
            paint.yellow("changed"),
            row.day,
            row.trip_id,
            row.stop_id,
            row.route_id
        );
        let mut grid = Grid::new(&[false, false]);
        for change in &row.changes {
            let side = |v: &Option<String>| {
                v.as_deref()
                    .map_or_else(|| "(no column)".to_owned(), |v| clean(v).into_owned())
            };
            grid.row(vec![
                clean(&change.column).into_owned(),
                format!("{} → {}", side(&change.before), side(&change.after)),
            ]);
        }
        grid.write(out, paint, "      ");
    }
    let brief = |row: &crate::report::SampleRow| {
        let field = |name: &str| {
            row.fields
                .iter()
                .find(|(c, _)| c == name)
                .map_or("-", |(_, v)| v.as_str())
                .to_owned()
        };
        format!(
            "{} trip {} stop {} (route {}): timestamp {}, sched_dev {}, distance_to_stop {}",
            row.day,
            row.trip_id,
            row.stop_id,
            row.route_id,
            clean(&field("timestamp")),
            clean(&field("sched_dev")),
            clean(&field("distance_to_stop"))
        )
    };
    for row in &s.added {
        let _ = writeln!(out, "  {} {}", paint.green("added  "), brief(row));
    }
    for row in &s.removed {
        let _ = writeln!(out, "  {} {}", paint.red("removed"), brief(row));
    }
}

fn per_day(out: &mut String, diff: &Diff, paint: Paint) {
    if diff.per_day.is_empty() {
        return;
    }
    heading(out, paint, "days that are not identical");
    let mut grid = Grid::new(&[false, false, true, true, true, true]);
    grid.row(
        ["day", "status", "added", "removed", "changed", "unchanged"]
            .map(str::to_owned)
            .to_vec(),
    );
    for day in diff.per_day.iter().take(DAYS_SHOWN) {
        grid.row(vec![
            day.day.to_string(),
            day.status.replace('_', " "),
            grouped(day.rows_added),
            grouped(day.rows_removed),
            grouped(day.rows_changed),
            grouped(day.rows_unchanged),
        ]);
    }
    grid.write(out, paint, "  ");
    if diff.per_day.len() > DAYS_SHOWN {
        let _ = writeln!(
            out,
            "  {}",
            paint.dim(&format!(
                "… {} more (--json lists them all)",
                diff.per_day.len() - DAYS_SHOWN
            ))
        );
    }
    for day in &diff.per_day {
        if let Some(header) = &day.header {
            let _ = writeln!(
                out,
                "  {} header: {} → {}",
                day.day,
                clean(&header.a.join(",")),
                clean(&header.b.join(","))
            );
        }
    }
}
