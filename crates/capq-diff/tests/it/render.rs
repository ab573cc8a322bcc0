//! The three views of one diff: the same figures in each, colour only when asked for, and
//! values from the files escaped for a terminal and for Markdown.

use capq_diff::{DiffOptions, render};

use crate::{Files, csv, day_csv, row};

fn a_diff() -> capq_diff::Diff {
    let a = Files::new(vec![day_csv(
        "2016-11-24",
        csv(&[
            row(1, 100, 10, "0.1", "48", 0),
            row(1, 100, 11, "0.1", "50", 0),
        ]),
    )]);
    // A headsign with a table separator and a terminal escape, and a late row.
    let odd = row(1, 100, 10, "0.1", "48", 0).replace(",North,", ",\"Nor|th\u{1b}[2J\",");
    let b = Files::new(vec![day_csv(
        "2016-11-24",
        csv(&[odd, row(1, 100, 11, "0.1", "400", 0)]),
    )]);
    crate::run(&a, &b, &DiffOptions::default()).unwrap()
}

#[test]
fn the_terminal_view_colours_only_when_asked() {
    let d = a_diff();
    let plain = render::terminal(&d, false);
    assert!(!plain.contains('\u{1b}'), "{plain:?}");
    assert!(plain.contains("1 changed"), "{plain}");
    assert!(
        plain.contains("trip_headsign  North → Nor|th\\u{1b}[2J"),
        "{plain}"
    );
    assert!(
        plain.contains("100 % of moved rows are on route 1"),
        "{plain}"
    );
    assert!(plain.contains("on time 2 → 1 (-1): -1 to late"), "{plain}");
    assert!(plain.contains("-50.00 pp"), "{plain}");
    let coloured = render::terminal(&d, true);
    assert!(coloured.contains("\u{1b}[1m"), "{coloured:?}");
    // The file's own escape never reaches the terminal raw.
    assert!(!coloured.contains("\u{1b}[2J"), "{coloured:?}");
    let strip = |s: &str| {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    assert_eq!(strip(&coloured), plain);
}

#[test]
fn markdown_escapes_and_folds_the_detail() {
    let d = a_diff();
    let md = render::markdown(&d);
    assert!(
        md.starts_with("### capq diff: a (1 day) → b (1 day)"),
        "{md}"
    );
    assert!(md.contains("Nor\\|th\\\\u{1b}\\[2J"), "{md}");
    assert!(!md.contains('\u{1b}'));
    assert!(md.contains("| system | 100.00 % ("), "{md}");
    assert!(
        md.contains("| -100.00 pp |") || md.contains("| -50.00 pp |"),
        "{md}"
    );
    assert!(
        md.contains("<details><summary>Sample rows</summary>"),
        "{md}"
    );
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
}

#[test]
fn the_json_view_is_the_report() {
    let d = a_diff();
    let json: serde_json::Value = serde_json::from_str(&render::json(&d)).unwrap();
    assert_eq!(json["days"]["changed"], serde_json::json!(["2016-11-24"]));
    assert_eq!(json["rows"]["changed"], 2);
    assert_eq!(json["otp"]["system"]["a"]["on_time"], 2);
    assert_eq!(json["otp"]["system"]["b"]["on_time"], 1);
    assert_eq!(json["otp"]["system"]["change_pp"], -50.0);
    assert_eq!(json["transitions"]["classes"][1], "on_time");
    assert_eq!(json["where"]["by_hour"][0]["key"], "0");
    assert_eq!(json["where"]["by_hour"][0]["share"], 1.0);
}
