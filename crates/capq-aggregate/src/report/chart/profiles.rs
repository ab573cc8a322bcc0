//! The system OTP under each named on-time window (`summary.json`'s `profiles`): the same rows
//! judged by four definitions of "on time". AGGREGATE.md asks every report to show it because
//! the choice of window alone moves OTP by 30 points or more. The report's own window is
//! outlined; a custom `--window` gets a row of its own.

use super::super::format;
use super::super::markup::w;
use super::super::profile::{self, PROFILES};
use super::super::svg::{self, GRID, INK, MUTED, ON_TIME, Px, Scale};
use super::super::table::{Fold, Table, number, text};
use super::{Context, WIDTH, close_section, open_section, svg_id};

const KEY: &str = "profiles";
const ROW: f64 = 36.0;
const BAR: f64 = 18.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 48.0;
const LABEL: f64 = 290.0;
const RIGHT: f64 = 90.0;

/// A bar: the profile's name, window, source, OTP and whether the report uses it.
pub struct Bar {
    pub name: String,
    pub window: String,
    pub source: String,
    pub otp: Option<f64>,
    pub current: bool,
}

/// The bars: the four named profiles in AGGREGATE.md's order, then any other name the file
/// carries, then the custom window when the report has one.
pub fn bars(context: &Context) -> Vec<Bar> {
    let summary = &context.inputs.summary;
    let otp_of = |name: &str| {
        summary
            .profiles
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, otp)| *otp)
    };
    let current = summary.profile.as_deref();
    let mut bars: Vec<Bar> = PROFILES
        .iter()
        .map(|p| Bar {
            name: p.name.to_owned(),
            window: profile::describe(p.early, p.late),
            source: p.source.to_owned(),
            otp: otp_of(p.name),
            current: current == Some(p.name),
        })
        .collect();
    for (name, otp) in &summary.profiles {
        if profile::named(name).is_none() {
            bars.push(Bar {
                name: name.clone(),
                window: String::new(),
                source: String::new(),
                otp: *otp,
                current: current == Some(name.as_str()),
            });
        }
    }
    if current.is_none() {
        let (early, late) = context.window;
        bars.push(Bar {
            name: "custom".to_owned(),
            window: profile::describe(early, late),
            source: "--window of this report".to_owned(),
            otp: summary.system.otp,
            current: true,
        });
    }
    bars
}

pub fn section(out: &mut String, context: &Context) {
    open_section(
        out,
        KEY,
        "OTP under each on-time window",
        "The same arrivals judged by each common definition of on time. The outlined bar is \
         the window of this report.",
    );
    let bars = bars(context);
    let height = TOP + ROW * bars.len() as f64 + BOTTOM;
    svg::open(
        out,
        &svg_id(KEY),
        WIDTH,
        height,
        "OTP under each on-time window",
        &format!(
            "Bars of system OTP from 0 to 100% for {} windows.",
            bars.len()
        ),
    );
    let x = Scale::new((0.0, 1.0), (LABEL, WIDTH - RIGHT));
    let plot_bottom = TOP + ROW * bars.len() as f64;
    for tick in [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] {
        let at = x.map(tick);
        svg::line(
            out,
            (at, TOP - 4.0),
            (at, plot_bottom),
            &format!("stroke=\"{GRID}\""),
        );
        svg::text(
            out,
            at,
            plot_bottom + 16.0,
            "middle",
            "",
            &format!("{}%", tick * 100.0),
        );
    }
    svg::text(
        out,
        (LABEL + WIDTH - RIGHT) / 2.0,
        height - 12.0,
        "middle",
        "",
        "system OTP (used rows of ok days)",
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let name = if bar.current {
            format!("{} (this report)", bar.name)
        } else {
            bar.name.clone()
        };
        svg::text(
            out,
            LABEL - 12.0,
            y + 14.0,
            "end",
            "font-weight=\"bold\"",
            &name,
        );
        svg::text(
            out,
            LABEL - 12.0,
            y + 29.0,
            "end",
            &format!("fill=\"{MUTED}\" font-size=\"11\""),
            &svg::fit(&bar.window, LABEL - 20.0, 11.0),
        );
        let bar_y = y + (ROW - BAR) / 2.0;
        match bar.otp {
            Some(otp) => {
                let tip = format!(
                    "{}: OTP {} ({})",
                    bar.name,
                    format::percent(otp),
                    bar.window
                );
                svg::rect(out, LABEL, bar_y, x.map(otp) - LABEL, BAR, ON_TIME, &tip);
                if bar.current {
                    w!(
                        out,
                        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"{INK}\" stroke-width=\"2\"/>",
                        Px(LABEL),
                        Px(bar_y),
                        Px(x.map(otp) - LABEL),
                        Px(BAR)
                    );
                }
                svg::text(
                    out,
                    x.map(otp) + 6.0,
                    bar_y + BAR / 2.0 + 4.0,
                    "start",
                    "font-weight=\"bold\"",
                    &format::percent(otp),
                );
            }
            None => svg::text(
                out,
                LABEL + 6.0,
                bar_y + BAR / 2.0 + 4.0,
                "start",
                &format!("fill=\"{MUTED}\""),
                "no data",
            ),
        }
    }
    out.push_str("</svg>");
    let mut table = Table::new(
        "System OTP under each on-time window",
        vec![
            text("profile"),
            text("on time means"),
            text("source"),
            number("OTP"),
            text("this report"),
        ],
    );
    for bar in &bars {
        table.row(vec![
            bar.name.clone(),
            bar.window.clone(),
            bar.source.clone(),
            format::percent_or_none(bar.otp),
            if bar.current { "yes" } else { "" }.to_owned(),
        ]);
    }
    table.write(out, "Table: OTP under each window", Fold::Auto);
    close_section(out);
}
