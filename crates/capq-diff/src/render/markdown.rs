//! The Markdown view, for a pull-request comment: the headline figures first, in a few lines
//! and one table, and the detail (transitions, columns, samples, days) folded in `<details>`
//! blocks so the comment stays short until someone opens them.

use std::fmt::Write as _;

use super::terminal::headline;
use super::{clean, count, day_list, grouped, interval, medians, percent, points, share, signed};
use crate::Diff;
use crate::report::{OtpChange, Share};
use crate::tally::Class;

/// Text made safe inside Markdown: control characters escaped, and the characters Markdown
/// (or a table) would interpret preceded by a backslash.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in clean(text).chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' | '&'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The Markdown view of `diff`.
pub fn markdown(diff: &Diff) -> String {
    let mut out = String::new();
    let side = |s: &crate::report::SideSummary| {
        let run = s
            .run_id
            .as_ref()
            .filter(|id| **id != s.label)
            .map(|id| format!(", run {}", md(id)))
            .unwrap_or_default();
        format!(
            "{} ({}{run})",
            md(&s.label),
            count(s.days as u64, "day", "days")
        )
    };
    let _ = writeln!(
        out,
        "### capq diff: {} → {}\n",
        side(&diff.a),
        side(&diff.b)
    );
    provenance(&mut out, diff);
    days(&mut out, diff);
    if !diff.differs() {
        let _ = writeln!(out, "**No differences.**\n");
        otp(&mut out, diff);
        return out;
    }
    let r = &diff.rows;
    let _ = writeln!(
        out,
        "**Rows** (joined on day, trip\\_id, stop\\_id): {} added, {} removed, {} changed; {} unchanged\n",
        grouped(r.added),
        grouped(r.removed),
        grouped(r.changed),
        grouped(r.unchanged)
    );
    otp(&mut out, diff);
    places(&mut out, diff);
    transitions(&mut out, diff);
    details(&mut out, diff);
    out
}

fn provenance(out: &mut String, diff: &Diff) {
    let p = &diff.provenance;
    if p.fields.is_empty() && p.params.is_empty() && p.inputs_changed.is_empty() {
        return;
    }
    let value = |v: &Option<String>| v.as_deref().map_or_else(|| "-".to_owned(), md);
    let mut items = Vec::new();
    for f in &p.fields {
        items.push(format!(
            "{}: {} → {}",
            md(&f.name),
            value(&f.a),
            value(&f.b)
        ));
    }
    for f in &p.params {
        items.push(format!(
            "parameter {}: {} → {}",
            md(&f.name),
            value(&f.a),
            value(&f.b)
        ));
    }
    if !p.inputs_changed.is_empty() {
        items.push(format!(
            "inputs changed on {}: {}",
            count(p.inputs_changed.len() as u64, "day", "days"),
            day_list(&p.inputs_changed, 10)
        ));
    }
    let _ = writeln!(out, "**Provenance:** {}\n", items.join("; "));
}

fn days(out: &mut String, diff: &Diff) {
    let d = &diff.days;
    let mut parts = vec![format!(
        "{} identical{}",
        grouped(d.identical as u64),
        if d.identical_by_hash > 0 {
            format!(" ({} by hash)", grouped(d.identical_by_hash as u64))
        } else {
            String::new()
        }
    )];
    let mut lists = Vec::new();
    let failing: Vec<capmetrics::Date> = d.newly_failing.iter().map(|f| f.day).collect();
    for (name, days, always) in [
        ("changed", &d.changed, true),
        ("added", &d.added, true),
        ("removed", &d.removed, true),
        ("equivalent", &d.equivalent, false),
        ("newly failing", &failing, false),
        ("fixed", &d.fixed, false),
        ("still failing", &d.still_failing, false),
    ] {
        if always || !days.is_empty() {
            let text = format!("{} {name}", grouped(days.len() as u64));
            parts.push(if days.is_empty() {
                text
            } else {
                format!("**{text}**")
            });
        }
        if !days.is_empty() {
            lists.push(format!("{name}: {}", day_list(days, 10)));
        }
    }
    let _ = writeln!(out, "**Days:** {}", parts.join(", "));
    if !lists.is_empty() {
        let _ = writeln!(out, "({})", lists.join("; "));
    }
    out.push('\n');
}

fn otp_row(out: &mut String, name: &str, change: &OtpChange) {
    let _ = writeln!(
        out,
        "| {name} | {} ({}) | {} ({}) | {} | {} |",
        percent(change.a.otp),
        interval(change.a.otp_lo, change.a.otp_hi),
        percent(change.b.otp),
        interval(change.b.otp_lo, change.b.otp_hi),
        points(change.change_pp),
        medians(change)
    );
}

fn otp(out: &mut String, diff: &Diff) {
    let w = &diff.window;
    let bound = |b: Option<i64>| b.map_or_else(|| "none".to_owned(), |v| v.to_string());
    let _ = writeln!(
        out,
        "**On-time performance** ({} window {}..{} s, 95 % Wilson intervals)\n",
        w.profile.unwrap_or("custom"),
        bound(w.early),
        bound(w.late)
    );
    let _ = writeln!(out, "| scope | A | B | change | p50 |");
    let _ = writeln!(out, "|---|---:|---:|---:|---|");
    let o = &diff.otp;
    otp_row(out, "system", &o.system);
    if let Some(changed) = o
        .changed_days
        .as_ref()
        .filter(|c| c.a != o.system.a || c.b != o.system.b)
    {
        otp_row(
            out,
            &format!("changed days ({})", diff.days.changed.len()),
            changed,
        );
    }
    for route in o.routes.iter().take(10) {
        otp_row(out, &format!("route {}", route.route_id), &route.change);
    }
    if o.routes.len() > 10 {
        let _ = writeln!(
            out,
            "\n{} more routes moved (see `--json`).",
            o.routes.len() - 10
        );
    }
    out.push('\n');
}

fn ranking(name: &str, shares: &[Share]) -> Option<String> {
    if shares.is_empty() {
        return None;
    }
    let items: Vec<String> = shares
        .iter()
        .map(|s| format!("{} {}", md(&s.key), share(s.share)))
        .collect();
    Some(format!("- {name}: {}", items.join(", ")))
}

fn places(out: &mut String, diff: &Diff) {
    let p = &diff.places;
    let _ = writeln!(out, "**Where** the {} moved rows are", grouped(p.rows));
    out.push('\n');
    if let Some(top) = headline(diff) {
        let _ = writeln!(out, "- **{}**", md(&top));
    }
    for line in [
        ranking("route", &p.by_route),
        ranking("hour", &p.by_hour),
        ranking("day", &p.by_day),
        ranking("stop", &p.by_stop),
    ]
    .into_iter()
    .flatten()
    {
        let _ = writeln!(out, "{line}");
    }
    if !p.by_drop_reason.is_empty() {
        let items: Vec<String> = p
            .by_drop_reason
            .iter()
            .map(|r| format!("{} {} ({})", md(r.reason), signed(r.change), share(r.share)))
            .collect();
        let _ = writeln!(out, "- drop reason: {}", items.join(", "));
    }
    out.push('\n');
}

fn transitions(out: &mut String, diff: &Diff) {
    let t = &diff.transitions;
    let _ = writeln!(
        out,
        "<details><summary>Row classes, A (rows) → B (columns)</summary>\n"
    );
    let name = |c: Class, absent: &str| match c {
        Class::Absent => absent.to_owned(),
        c => c.label().to_owned(),
    };
    let header: Vec<String> = Class::ALL.iter().map(|c| name(*c, "removed")).collect();
    let _ = writeln!(out, "| A \\\\ B | {} |", header.join(" | "));
    let _ = writeln!(out, "|---|{}", "---:|".repeat(Class::ALL.len()));
    for a in Class::ALL {
        let cells: Vec<String> = Class::ALL
            .iter()
            .map(|&b| {
                if a == Class::Absent && b == Class::Absent {
                    String::new()
                } else if a == b {
                    grouped(t.count(a, b))
                } else {
                    match t.count(a, b) {
                        0 => "0".to_owned(),
                        n => format!("**{}**", grouped(n)),
                    }
                }
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", name(a, "added"), cells.join(" | "));
    }
    if let Some(flow) = t.net.iter().find(|f| f.class == Class::OnTime.key()) {
        let mut parts: Vec<String> = flow
            .from
            .iter()
            .map(|(from, n)| {
                format!(
                    "+{} from {}",
                    grouped(*n),
                    if *from == "absent" { "added" } else { from }
                )
            })
            .collect();
        parts.extend(flow.to.iter().map(|(to, n)| {
            format!(
                "-{} to {}",
                grouped(*n),
                if *to == "absent" { "removed" } else { to }
            )
        }));
        let _ = writeln!(
            out,
            "\nOn time: {} → {} ({}){}",
            grouped(flow.count.a),
            grouped(flow.count.b),
            signed(flow.count.change),
            if parts.is_empty() {
                String::new()
            } else {
                format!(" = {}", md(&parts.join(", ")))
            }
        );
    }
    let _ = writeln!(out, "\n</details>\n");
}

fn details(out: &mut String, diff: &Diff) {
    let r = &diff.rows;
    if !r.columns.is_empty() {
        let _ = writeln!(out, "<details><summary>Changed rows per column</summary>\n");
        let _ = writeln!(out, "| column | rows |");
        let _ = writeln!(out, "|---|---:|");
        for c in &r.columns {
            let _ = writeln!(out, "| {} | {} |", md(&c.column), grouped(c.rows));
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    if let Some(drops) = &diff.drops {
        let _ = writeln!(
            out,
            "<details><summary>Rows dropped per reason ({})</summary>\n",
            count(drops.days as u64, "day", "days")
        );
        let _ = writeln!(out, "| | A | B | change |");
        let _ = writeln!(out, "|---|---:|---:|---:|");
        let mut line = |name: &str, c: &crate::report::Change| {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                md(name),
                grouped(c.a),
                grouped(c.b),
                signed(c.change)
            );
        };
        line("rows in", &drops.rows_in);
        line("rows out", &drops.rows_out);
        for reason in &drops.reasons {
            line(reason.reason, &reason.count);
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    let s = &r.samples;
    if !(s.changed.is_empty() && s.added.is_empty() && s.removed.is_empty()) {
        let _ = writeln!(out, "<details><summary>Sample rows</summary>\n");
        let _ = writeln!(out, "| row | column | A | B |");
        let _ = writeln!(out, "|---|---|---|---|");
        let cell = |v: &Option<String>| v.as_deref().map_or_else(|| "(no column)".to_owned(), md);
        for row in &s.changed {
            for (i, change) in row.changes.iter().enumerate() {
                let what = if i == 0 {
                    format!(
                        "changed {} trip {} stop {} (route {})",
                        row.day, row.trip_id, row.stop_id, row.route_id
                    )
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "| {what} | {} | {} | {} |",
                    md(&change.column),
                    cell(&change.before),
                    cell(&change.after)
                );
            }
        }
        for (kind, rows) in [("added", &s.added), ("removed", &s.removed)] {
            for row in rows {
                let value = |name: &str| {
                    row.fields
                        .iter()
                        .find(|(c, _)| c == name)
                        .map_or_else(|| "-".to_owned(), |(_, v)| md(v))
                };
                let text = format!(
                    "timestamp {}, sched\\_dev {}, distance\\_to\\_stop {}",
                    value("timestamp"),
                    value("sched_dev"),
                    value("distance_to_stop")
                );
                let (a, b) = if kind == "added" {
                    ("-".to_owned(), text)
                } else {
                    (text, "-".to_owned())
                };
                let _ = writeln!(
                    out,
                    "| {kind} {} trip {} stop {} (route {}) | | {a} | {b} |",
                    row.day, row.trip_id, row.stop_id, row.route_id
                );
            }
        }
        let _ = writeln!(out, "\n</details>\n");
    }
    if !diff.per_day.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>Days that are not identical ({})</summary>\n",
            diff.per_day.len()
        );
        let _ = writeln!(
            out,
            "| day | status | added | removed | changed | unchanged |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|");
        for day in &diff.per_day {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                day.day,
                day.status.replace('_', " "),
                grouped(day.rows_added),
                grouped(day.rows_removed),
                grouped(day.rows_changed),
                grouped(day.rows_unchanged)
            );
        }
        let _ = writeln!(out, "\n</details>\n");
    }
}
