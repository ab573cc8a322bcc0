//! Bunching and gaps (`headway.csv`): a table, not a chart, because the observed headways are
//! coarse. Vehicles report about every four minutes, so an observed headway carries about
//! ±2 minutes of noise, and AGGREGATE.md §2.6 asks that this be said wherever they are shown.
//! The most irregular cells come first; every cell is in the folded table.

use super::chart::{Context, MIN_USED, close_section, open_section};
use super::format;
use super::input::Headway;
use super::markup::w;
use super::table::{Fold, Table, number, text};

/// How many of the most irregular cells are listed open.
const SHOWN: usize = 15;

/// The note AGGREGATE.md §2.6 requires next to observed headways.
pub const NOISE_NOTE: &str = "Vehicles report their position about every 4 minutes, so \
    observed headways carry about ±2 minutes of noise: read these shares as a guide to where \
    buses bunch or leave gaps, not as exact counts.";

pub fn section(out: &mut String, context: &Context) {
    let headways = &context.inputs.headways;
    open_section(
        out,
        "headway",
        "Headways: bunching and gaps",
        "Consecutive buses at the same stop, compared with their schedule: bunched when the \
         observed gap is under a quarter of the scheduled one, gapped when it is over one and \
         a half times it.",
    );
    w!(out, "<p class=\"note noise\">{NOISE_NOTE}</p>");
    let pairs: u64 = headways.iter().map(|h| h.pairs).sum();
    if pairs > 0 {
        // The shares are of pairs, so weighting by pairs gives the system's shares.
        let weighted = |share: fn(&Headway) -> Option<f64>| {
            headways
                .iter()
                .map(|h| share(h).unwrap_or(0.0) * h.pairs as f64)
                .sum::<f64>()
                / pairs as f64
        };
        w!(
            out,
            "<p>Over {} pairs of consecutive buses: {} bunched, {} gapped.</p>",
            format::count(pairs),
            format::percent(weighted(|h| h.bunched)),
            format::percent(weighted(|h| h.gapped))
        );
    }
    let columns = || {
        vec![
            text("route"),
            text("direction"),
            text("day type"),
            number("pairs"),
            number("median observed"),
            number("median scheduled"),
            number("bunched"),
            number("gapped"),
        ]
    };
    let row = |h: &Headway| {
        vec![
            h.route_id.to_string(),
            h.direction.clone(),
            h.daytype.clone(),
            format::count(h.pairs),
            format::minutes_or_none(h.median_obs),
            format::minutes_or_none(h.median_sched),
            format::percent_or_none(h.bunched),
            format::percent_or_none(h.gapped),
        ]
    };
    let irregularity = |h: &Headway| h.bunched.unwrap_or(0.0) + h.gapped.unwrap_or(0.0);
    let mut irregular: Vec<&Headway> = headways.iter().filter(|h| h.pairs >= MIN_USED).collect();
    irregular.sort_by(|a, b| irregularity(b).total_cmp(&irregularity(a)));
    let mut top = Table::new(
        format!(
            "The {SHOWN} most irregular route cells (bunched plus gapped share; at least \
             {MIN_USED} pairs); headways observed ±2 min"
        ),
        columns(),
    );
    for h in irregular.iter().take(SHOWN) {
        top.row(row(h));
    }
    top.write(out, "Table: the most irregular routes", Fold::Never);
    let mut all = Table::new(
        "Every cell of headway.csv, by route, direction and day type; headways observed ±2 min",
        columns(),
    );
    for h in headways {
        all.row(row(h));
    }
    all.write(out, "Table: every route's headways", Fold::Always);
    close_section(out);
}
