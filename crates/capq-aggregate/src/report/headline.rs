//! The top of the report: the system OTP with its 95 % interval, what "on time" means here,
//! the days by flag (and the missing and failed ones), where the rows went (far, outlier,
//! used), p50 and p90, the OTP under each window, and the ten worst routes.

use super::chart::{Context, MIN_USED, close_section, profiles, routes};
use super::format;
use super::input::Flag;
use super::markup::{Esc, w};
use super::profile;
use super::table::{Fold, Table, number, text};

/// Days listed one by one up to this many; beyond, they fold.
const LIST_DAYS: usize = 10;

pub fn section(out: &mut String, context: &Context) {
    let inputs = context.inputs;
    let summary = &inputs.summary;
    let system = &summary.system;
    out.push_str(
        "<section id=\"report-headline\" class=\"report-section headline\" \
         aria-labelledby=\"report-headline-h\"><h2 id=\"report-headline-h\">Headline</h2>",
    );
    out.push_str("<p class=\"big\">");
    match system.otp {
        Some(otp) if system.used > 0 => {
            w!(
                out,
                "<span class=\"figure\">{}</span> of arrivals on time",
                format::percent(otp)
            );
            if let (Some(lo), Some(hi)) = (system.otp_lo, system.otp_hi) {
                w!(
                    out,
                    " <span class=\"interval\">(95% interval {}–{})</span>",
                    format::percent(lo),
                    format::percent(hi)
                );
            }
        }
        _ => out.push_str(
            "<span class=\"figure\">no data</span>: no ok day has used rows, so there is \
             no OTP to show",
        ),
    }
    out.push_str("</p>");
    let (early, late) = context.window;
    let window = profile::describe(early, late);
    let named = match summary.profile.as_deref() {
        Some(name) => match profile::named(name) {
            Some(p) => format!("profile {name}: {}", p.source),
            None => format!("profile {name}"),
        },
        None => "a custom window".to_owned(),
    };
    let ok_days: Vec<_> = inputs.days.iter().filter(|d| d.flag == Flag::Ok).collect();
    let span = match (inputs.days.first(), inputs.days.last()) {
        (Some(first), Some(last)) if first.day != last.day => {
            format!(
                " The days run from {} to {}.",
                first.day.iso(),
                last.day.iso()
            )
        }
        (Some(first), _) => format!(" The day is {}.", first.day.iso()),
        _ => String::new(),
    };
    w!(
        out,
        "<p>On time means {} against the schedule ({}). The figures count the used rows of \
         {} ok {}.{}</p>",
        Esc(&window),
        Esc(&named),
        format::count(ok_days.len() as u64),
        if ok_days.len() == 1 { "day" } else { "days" },
        Esc(&span)
    );

    out.push_str("<div class=\"tiles\">");
    // Days.
    out.push_str("<div class=\"tile\"><h3>Days</h3><dl>");
    let days = &summary.days;
    tile_row(out, "in the aggregate", &format::count(days.total));
    tile_row(out, "ok", &format::count(days.ok));
    tile_row(out, "suspect (not counted)", &format::count(days.suspect));
    tile_row(out, "empty (no rows)", &format::count(days.empty));
    if !summary.missing_days.is_empty() {
        tile_row(
            out,
            "missing (no processed file)",
            &format::count(summary.missing_days.len() as u64),
        );
    }
    if !summary.failed_days.is_empty() {
        tile_row(
            out,
            "failed (job failed)",
            &format::count(summary.failed_days.len() as u64),
        );
    }
    out.push_str("</dl>");
    day_list(out, "Missing", &summary.missing_days);
    day_list(out, "Failed", &summary.failed_days);
    let suspect: Vec<String> = inputs
        .days
        .iter()
        .filter(|d| d.flag == Flag::Suspect)
        .map(|d| d.day.iso())
        .collect();
    day_list(out, "Suspect", &suspect);
    out.push_str("</div>");
    // Rows.
    let rows = &summary.rows;
    out.push_str("<div class=\"tile\"><h3>Rows (all days)</h3><dl>");
    tile_row(out, "total", &format::count(rows.total));
    tile_row(
        out,
        "far from the stop",
        &format!(
            "{} ({})",
            format::count(rows.far),
            format::share(rows.far, rows.total)
        ),
    );
    tile_row(
        out,
        "outlier",
        &format!(
            "{} ({})",
            format::count(rows.outlier),
            format::share(rows.outlier, rows.total)
        ),
    );
    tile_row(
        out,
        "used",
        &format!(
            "{} ({})",
            format::count(rows.used),
            format::share(rows.used, rows.total)
        ),
    );
    tile_row(out, "used on ok days", &format::count(system.used));
    out.push_str("</dl></div>");
    // Arrivals.
    out.push_str("<div class=\"tile\"><h3>Arrivals on ok days</h3><dl>");
    tile_row(out, "early", &format::share(system.early, system.used));
    tile_row(out, "on time", &format::share(system.on_time, system.used));
    tile_row(out, "late", &format::share(system.late, system.used));
    tile_row(out, "median (p50)", &format::deviation_or_none(system.p50));
    tile_row(out, "p90", &format::deviation_or_none(system.p90));
    out.push_str("</dl></div>");
    // Profiles.
    out.push_str("<div class=\"tile\"><h3>OTP under each window</h3><dl>");
    for bar in profiles::bars(context) {
        let name = if bar.current {
            format!("{} (this report)", bar.name)
        } else {
            bar.name.clone()
        };
        tile_row(out, &name, &format::percent_or_none(bar.otp));
    }
    out.push_str("</dl></div></div>");

    let worst: Vec<_> = routes::ranked(&inputs.routes)
        .into_iter()
        .take(10)
        .collect();
    let mut table = Table::new(
        format!("Ten worst routes (cells with at least {MIN_USED} used rows)"),
        vec![
            text("route"),
            text("direction"),
            text("day type"),
            number("OTP"),
            number("95% interval"),
            number("used"),
        ],
    );
    for r in worst {
        table.row(vec![
            r.route_id.to_string(),
            r.direction.clone(),
            r.daytype.clone(),
            format::percent_or_none(r.otp),
            match (r.otp_lo, r.otp_hi) {
                (Some(lo), Some(hi)) => {
                    format!("{}–{}", format::percent(lo), format::percent(hi))
                }
                _ => format::NONE.to_owned(),
            },
            format::count(r.used),
        ]);
    }
    table.write(out, "Ten worst routes", Fold::Auto);
    close_section(out);
}

fn tile_row(out: &mut String, term: &str, value: &str) {
    w!(
        out,
        "<div><dt>{}</dt><dd>{}</dd></div>",
        Esc(term),
        Esc(value)
    );
}

/// The days of a list, inline when few, folded when many.
fn day_list(out: &mut String, what: &str, days: &[String]) {
    if days.is_empty() {
        return;
    }
    let list = days.join(", ");
    if days.len() <= LIST_DAYS {
        w!(out, "<p class=\"days\">{}: {}</p>", Esc(what), Esc(&list));
    } else {
        w!(
            out,
            "<details class=\"days\"><summary>{} days ({})</summary><p>{}</p></details>",
            Esc(what),
            format::count(days.len() as u64),
            Esc(&list)
        );
    }
}
