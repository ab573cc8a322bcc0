//! `report.html` rendered from aggregate folders: the committed fixture (the 8 reference days,
//! computed by `tests/fixtures/make_aggregate.py`, independently of the Rust code), and
//! synthetic aggregates of a year with hundreds of routes and thousands of stops, none with
//! data and with missing values. The page must hold every chart with its SVG and table, load
//! nothing from anywhere, escape every string and show numbers for people.

use std::path::PathBuf;

use capq_aggregate::Error;
use capq_aggregate::report::{AggregateFiles, REPORT_CSS, ReportOptions, render, render_fragment};

/// The charts: the key of their section (`id="report-{key}"`) and their heading.
const CHARTS: [(&str, &str); 7] = [
    ("daily", "Daily OTP"),
    ("hours", "OTP by hour of day"),
    ("histogram", "Deviation from schedule"),
    ("profiles", "OTP under each on-time window"),
    ("routes", "On-time performance by route, worst first"),
    ("heatmap", "OTP by route and hour"),
    ("stops", "Worst stops and their arrival window"),
];

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/aggregate")
}

/// The committed fixture's files.
pub fn fixture() -> AggregateFiles {
    let dir = fixture_dir();
    let read = |name: &str| std::fs::read(dir.join(name)).expect(name);
    AggregateFiles {
        system_daily: read("system_daily.csv"),
        route: read("route.csv"),
        route_hour: read("route_hour.csv"),
        stop: read("stop.csv"),
        histogram: read("histogram.csv"),
        headway: read("headway.csv"),
        summary_json: read("summary.json"),
    }
}

fn page(files: &AggregateFiles) -> String {
    render(files, &ReportOptions::default()).expect("the report renders")
}

/// The `<section id="report-{key}">` of `page`, whole.
fn section<'a>(page: &'a str, key: &str) -> &'a str {
    let start = page
        .find(&format!("<section id=\"report-{key}\""))
        .unwrap_or_else(|| panic!("no section {key}"));
    let end = page[start..].find("</section>").expect("section closes") + start;
    &page[start..end]
}

/// The `<svg id=…>` element of a chart, whole.
fn svg<'a>(page: &'a str, key: &str) -> &'a str {
    let section = section(page, key);
    let start = section
        .find(&format!("<svg id=\"report-{key}-svg\""))
        .unwrap_or_else(|| panic!("no svg in {key}"));
    let end = section[start..].find("</svg>").expect("svg closes") + start;
    &section[start..end]
}

/// An attribute of the first element of `element`, e.g. `height` of `<svg …>`.
fn attribute(element: &str, name: &str) -> f64 {
    let tag_end = element.find('>').expect("a tag");
    let tag = &element[..tag_end];
    let marker = format!(" {name}=\"");
    let start = tag
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + marker.len();
    let end = tag[start..].find('"').expect("closing quote") + start;
    tag[start..end].parse().expect("a number")
}

/// Every value of `name="…"` attributes in `page`.
fn attribute_values<'a>(page: &'a str, name: &str) -> Vec<&'a str> {
    let marker = format!(" {name}=\"");
    page.match_indices(&marker)
        .map(|(at, _)| {
            let start = at + marker.len();
            let end = page[start..].find('"').expect("closing quote") + start;
            &page[start..end]
        })
        .collect()
}

#[test]
fn every_chart_has_a_heading_an_accessible_svg_and_a_table() {
    let page = page(&fixture());
    for (key, heading) in CHARTS {
        let section = section(&page, key);
        assert!(
            section.contains(&format!("<h2 id=\"report-{key}-h\">{heading}</h2>")),
            "{key}: heading"
        );
        let svg = svg(&page, key);
        assert!(svg.contains("role=\"img\""), "{key}: role");
        assert!(
            svg.contains(&format!("<title id=\"report-{key}-title\">")),
            "{key}: title"
        );
        assert!(svg.contains("<desc id="), "{key}: desc");
        assert!(
            attribute(svg, "width") > 0.0 && attribute(svg, "height") > 0.0,
            "{key}"
        );
        assert!(svg.matches("<text").count() >= 5, "{key}: axis labels");
        assert!(section.contains("<table>"), "{key}: table");
        assert!(section.contains("<caption>"), "{key}: caption");
    }
    for key in ["headline", "headway"] {
        assert!(section(&page, key).contains("<table>"), "{key}");
    }
    // The route chart has a legend of the three classes and the combined row first.
    let routes = svg(&page, "routes");
    for class in ["early", "on time", "late"] {
        assert!(routes.contains(&format!(">{class}</text>")), "{class}");
    }
    let system = routes
        .find("All routes (system)")
        .expect("the combined row");
    let worst = routes
        .find("21-Exposition · weekday")
        .expect("the worst route");
    assert!(system < worst);
    // Worst first: 21-Exposition (38.6 %) before 37-Colony Park SB weekday (44.7 %).
    let next = routes
        .find("37-Colony Park/Windsor Park-SB · weekday")
        .expect("the second route");
    assert!(worst < next);
    // A cell with one used row is too uncertain to rank; it is in the table.
    assert!(!routes.contains("486-Night Owl Dove Springs-NB · sunday"));
    assert!(section(&page, "routes").contains("14 of 90 route cells have fewer than 30"));
}

#[test]
fn nothing_is_loaded_from_anywhere_and_nothing_runs() {
    let page = page(&fixture());
    let lower = page.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "a script element");
    assert!(!lower.contains("javascript:"));
    assert!(!lower.contains("@import"));
    for (at, _) in lower.match_indices(" on") {
        let name: String = lower[at + 3..]
            .chars()
            .take_while(char::is_ascii_lowercase)
            .collect();
        assert!(
            !lower[at + 3 + name.len()..].starts_with('='),
            "an event handler attribute on{name}"
        );
    }
    for name in [
        "src",
        "href",
        "xlink:href",
        "action",
        "srcset",
        "poster",
        "data",
    ] {
        for value in attribute_values(&page, name) {
            let value = value.trim().to_ascii_lowercase();
            assert!(
                value.starts_with('#') || value.starts_with("data:"),
                "{name}=\"{value}\" points outside the page"
            );
            assert!(!value.contains("//"), "{name}=\"{value}\"");
        }
    }
    for url in lower.match_indices("url(") {
        let rest = &lower[url.0..];
        assert!(
            !rest.starts_with("url(http") && !rest.starts_with("url(//"),
            "{rest:.40}"
        );
    }
    assert!(
        !lower.contains("http://") && !lower.contains("https://"),
        "an absolute URL"
    );
    assert!(lower.starts_with("<!doctype html>"));
    assert!(lower.contains("content-security-policy"));
}

#[test]
fn a_headsign_with_markup_is_shown_as_text() {
    let page = page(&fixture());
    assert!(!page.contains("<script>alert(1)"), "markup got through");
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Downtown&quot;";
    // In the route chart (its label and tooltip), the route table and the stop table.
    assert!(svg(&page, "routes").contains(escaped));
    assert!(section(&page, "routes").matches(escaped).count() >= 2);
    assert!(section(&page, "stops").contains(escaped));
    assert!(section(&page, "headway").contains(escaped));
    // And the title given by the caller.
    let options = ReportOptions {
        title: "<b>batch</b>".to_owned(),
        ..ReportOptions::default()
    };
    let page = render(&fixture(), &options).unwrap();
    assert!(page.contains("<title>&lt;b&gt;batch&lt;/b&gt;</title>"));
    assert!(page.contains("<h1>&lt;b&gt;batch&lt;/b&gt;</h1>"));
}

#[test]
fn headline_figures_are_written_for_people() {
    let page = page(&fixture());
    let headline = section(&page, "headline");
    // summary.json: otp 0.7254…, interval 0.7188…–0.7318…
    assert!(
        headline.contains("<span class=\"figure\">72.5%</span>"),
        "{headline}"
    );
    assert!(
        headline.contains("(95% interval 71.9%–73.2%)"),
        "{headline}"
    );
    assert!(headline.contains("On time means \u{2212}60 s to +5 min against the schedule"));
    assert!(headline.contains("profile tcqsm"));
    // Days by flag, and the missing and failed days by name.
    for (term, value) in [
        ("in the aggregate", "8"),
        ("ok", "3"),
        ("suspect (not counted)", "3"),
        ("empty (no rows)", "2"),
        ("missing (no processed file)", "1"),
        ("failed (job failed)", "1"),
    ] {
        assert!(
            headline.contains(&format!("<dt>{term}</dt><dd>{value}</dd>")),
            "{term}: {headline}"
        );
    }
    assert!(headline.contains("Missing: 2016-11-23"));
    assert!(headline.contains("Failed: 2016-11-25"));
    assert!(headline.contains("Suspect: 2015-03-08, 2016-05-19, 2016-09-01"));
    // Rows, with thousands separators and shares.
    for (term, value) in [
        ("total", "29,377"),
        ("far from the stop", "2,834 (9.6%)"),
        ("outlier", "7,947 (27.1%)"),
        ("used", "18,596 (63.3%)"),
        ("used on ok days", "18,053"),
        ("median (p50)", "+44 s"),
        ("p90", "+5 min 9 s"),
        ("tcqsm (this report)", "72.5%"),
        ("transitclock", "68.6%"),
        ("capmetro", "89.6%"),
        ("wmata", "86.1%"),
    ] {
        assert!(
            headline.contains(&format!("<dt>{term}</dt><dd>{value}</dd>")),
            "{term}: {headline}"
        );
    }
    // The ten worst routes of at least 30 used rows, as summary.json lists them.
    assert!(headline.contains("<td>21</td><td>21-Exposition</td><td>weekday</td><td class=\"num\">38.6%</td><td class=\"num\">31.1%–46.7%</td><td class=\"num\">145</td>"), "{headline}");
    assert_eq!(headline.matches("<tr><td>").count(), 10);
}

#[test]
fn the_daily_chart_marks_every_kind_of_day() {
    let page = page(&fixture());
    let daily = section(&page, "daily");
    let chart = svg(&page, "daily");
    // Bands with tooltips for the days that are not counted.
    assert!(chart.contains("<title>2015-03-08 (sunday): suspect, not counted"));
    assert!(chart.contains("<title>2015-06-07 (sunday): empty, no rows</title>"));
    assert!(chart.contains("<title>2016-11-23: missing (no processed file)</title>"));
    assert!(chart.contains("<title>2016-11-25: failed (its job failed)</title>"));
    for entry in [
        "suspect day (not counted)",
        "empty day",
        "missing or failed day",
    ] {
        assert!(
            chart.contains(&format!(">{entry}</text>")),
            "legend: {entry}"
        );
    }
    // The table lists every day, the missing and failed ones included, with their flag.
    assert!(
        daily.contains("<tr class=\"suspect\"><td>2015-03-08</td><td>sunday</td><td>suspect</td>")
    );
    assert!(
        daily.contains("<tr class=\"empty\"><td>2016-05-30</td><td>weekday</td><td>empty</td>")
    );
    assert!(daily.contains("<tr class=\"absent\"><td>2016-11-23</td><td></td><td>missing</td>"));
    assert!(daily.contains("<tr class=\"absent\"><td>2016-11-25</td><td></td><td>failed</td>"));
    // An empty day has no OTP: shown as –, never as NaN.
    assert_no_raw_floats(&page);
}

#[test]
fn a_partial_aggregate_carries_a_banner() {
    let files = fixture();
    assert!(!page(&files).contains("Partial"));
    let options = ReportOptions {
        partial: true,
        days_expected: Some(20),
        ..ReportOptions::default()
    };
    // 8 days aggregated + 1 missing + 1 failed.
    let page = render(&files, &options).unwrap();
    assert!(
        page.contains("<strong>Partial: 10 of 20 days.</strong>"),
        "banner"
    );
    let options = ReportOptions {
        partial: true,
        ..ReportOptions::default()
    };
    let page = render(&files, &options).unwrap();
    assert!(page.contains("<strong>Partial: 10 days so far.</strong>"));
}

/// No undefined value leaks as a raw float.
fn assert_no_raw_floats(page: &str) {
    for raw in ["NaN", "inf%", ">inf", "-inf"] {
        assert!(!page.contains(raw), "{raw} in the page");
    }
    // Nor an exponent such as 1e-5.
    let bytes = page.as_bytes();
    for (at, _) in page.match_indices("e-") {
        let digit_before = at > 0 && bytes[at - 1].is_ascii_digit();
        let digit_after = bytes.get(at + 2).is_some_and(u8::is_ascii_digit);
        assert!(
            !(digit_before && digit_after),
            "{}",
            &page[at.saturating_sub(20)..at + 10]
        );
    }
}

/// The files of an aggregate with no ok day: two suspect days and an empty one, every table
/// header-only and the system figures null.
fn no_ok_day() -> AggregateFiles {
    AggregateFiles {
        system_daily: b"day,daytype,flag,rows,far,outlier,used,early,on_time,late,otp,otp_lo,otp_hi,mean_dev,p50,p90\n\
            2015-03-08,sunday,suspect,8045,377,7574,94,7,66,21,0.7021276595744681,0.6032278520902814,0.7851555638769665,208.7659574468085,105,713\n\
            2015-03-09,weekday,suspect,10,0,9,1,0,1,0,1.0,0.20654931437723745,1.0,0.0,0,0\n\
            2015-03-10,weekday,empty,0,0,0,0,0,0,0,,,,,,\n"
            .to_vec(),
        route: b"route_id,direction,daytype,days,trips,used,early,on_time,late,otp,otp_lo,otp_hi,mean_dev,p10,p50,p90,p95\n".to_vec(),
        route_hour: b"route_id,daytype,hour,used,on_time,otp,p50,p90\n".to_vec(),
        stop: b"route_id,direction,daytype,stop_id,stop_lat,stop_lon,used,on_time,otp,p50,window_lo,window_hi\n".to_vec(),
        histogram: b"scope,bin,count\n".to_vec(),
        headway: b"route_id,direction,daytype,pairs,median_obs,median_sched,bunched,gapped\n".to_vec(),
        summary_json: br#"{"window": [null, 300], "profile": "capmetro",
            "days": {"total": 3, "ok": 0, "suspect": 2, "empty": 1},
            "rows": {"total": 8055, "far": 377, "outlier": 7583, "used": 95},
            "system": {"used": 0, "early": 0, "on_time": 0, "late": 0, "otp": null,
                       "otp_lo": null, "otp_hi": null, "p50": null, "p90": null},
            "profiles": {"tcqsm": null, "transitclock": null, "capmetro": null, "wmata": null},
            "worst_routes": []}"#
            .to_vec(),
    }
}

#[test]
fn an_aggregate_without_ok_days_says_no_data() {
    let page = page(&no_ok_day());
    assert!(page.contains("<strong>No data.</strong>"));
    assert!(section(&page, "headline").contains("<span class=\"figure\">no data</span>"));
    for (key, _) in CHARTS {
        let svg = svg(&page, key);
        assert!(attribute(svg, "height") > 0.0, "{key}");
        if key != "daily" && key != "profiles" {
            assert!(
                svg.contains(">no data: no ok day has used rows</text>"),
                "{key}"
            );
        }
    }
    // The daily chart still shows the days, and why none counts.
    assert!(svg(&page, "daily").contains("2015-03-08 (sunday): suspect"));
    assert!(svg(&page, "profiles").contains(">no data</text>"));
    assert!(section(&page, "routes").contains("class=\"no-data\">no data</td>"));
    assert_no_raw_floats(&page);
    // capmetro: no early bound.
    assert!(page.contains("up to +5 min (no early bound)"));
}

#[test]
fn a_folder_with_no_days_at_all_renders() {
    let mut files = no_ok_day();
    files.system_daily = b"day,daytype,flag,rows,far,outlier,used,early,on_time,late,otp,otp_lo,otp_hi,mean_dev,p50,p90\n".to_vec();
    files.summary_json = br#"{"window": [-60, 300], "profile": null,
        "days": {"total": 0, "ok": 0, "suspect": 0, "empty": 0},
        "rows": {"total": 0, "far": 0, "outlier": 0, "used": 0},
        "system": {"used": 0, "early": 0, "on_time": 0, "late": 0, "otp": null,
                   "otp_lo": null, "otp_hi": null, "p50": null, "p90": null},
        "profiles": {"tcqsm": null, "transitclock": null, "capmetro": null, "wmata": null},
        "worst_routes": [], "missing_days": ["2016-11-24"]}"#
        .to_vec();
    let page = page(&files);
    assert!(svg(&page, "daily").contains("2016-11-24: missing"));
    // A custom window gets its own row under "OTP under each window".
    assert!(section(&page, "profiles").contains("custom (this report)"));
}

#[test]
fn malformed_files_are_errors_naming_file_and_line() {
    let mut files = fixture();
    let mut route = files.route.clone();
    route.extend_from_slice(b"7,x,weekday,1,1,1,0,1,0,not-a-number,,,,,,,\n");
    files.route = route;
    match render(&files, &ReportOptions::default()) {
        Err(Error::Report {
            file,
            line,
            message,
        }) => {
            assert_eq!(file, "route.csv");
            assert_eq!(line, 92);
            assert_eq!(message, "otp: \"not-a-number\" is not a number");
        }
        other => panic!("{other:?}"),
    }
    let mut files = fixture();
    files.summary_json = b"{\"window\": [-60, 300]}".to_vec();
    let error = render(&files, &ReportOptions::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("summary.json: line 1: missing field"),
        "{error}"
    );
    let mut files = fixture();
    files.stop = Vec::new();
    let error = render_fragment(&files, &ReportOptions::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("stop.csv: line 1: missing the header row"),
        "{error}"
    );
}

/// A synthetic aggregate: `routes` routes × 2 directions × 3 day types, `days` days from
/// 2017-01-01 (every 50th suspect, every 70th empty), `stops` stops per route cell, and
/// headsigns up to 60 characters long. Counts are made up but consistent.
fn synthetic(routes: u64, days: u64, stops: u64) -> AggregateFiles {
    let mut system_daily = String::from(
        "day,daytype,flag,rows,far,outlier,used,early,on_time,late,otp,otp_lo,otp_hi,mean_dev,p50,p90\n",
    );
    let start = 17_167; // 2017-01-01, a Sunday.
    for d in 0..days {
        let date = civil(start + d as i64);
        let weekday = (d + 6) % 7; // 0 = Monday
        let daytype = match weekday {
            5 => "saturday",
            6 => "sunday",
            _ => "weekday",
        };
        if d % 70 == 69 {
            system_daily.push_str(&format!("{date},{daytype},empty,0,0,0,0,0,0,0,,,,,,\n"));
            continue;
        }
        let flag = if d % 50 == 49 { "suspect" } else { "ok" };
        let used = 20_000 + (d * 37) % 5000;
        let on_time = used * (60 + (d * 7) % 25) / 100;
        let early = (used - on_time) / 3;
        let late = used - on_time - early;
        let otp = on_time as f64 / used as f64;
        system_daily.push_str(&format!(
            "{date},{daytype},{flag},{},{},{},{used},{early},{on_time},{late},{otp},{},{},42.5,40,300\n",
            used + 3000,
            2500,
            500,
            otp - 0.006,
            otp + 0.006
        ));
    }
    let mut route = String::from(
        "route_id,direction,daytype,days,trips,used,early,on_time,late,otp,otp_lo,otp_hi,mean_dev,p10,p50,p90,p95\n",
    );
    let mut route_hour = String::from("route_id,daytype,hour,used,on_time,otp,p50,p90\n");
    let mut stop = String::from(
        "route_id,direction,daytype,stop_id,stop_lat,stop_lon,used,on_time,otp,p50,window_lo,window_hi\n",
    );
    let mut headway =
        String::from("route_id,direction,daytype,pairs,median_obs,median_sched,bunched,gapped\n");
    let mut histogram = String::from("scope,bin,count\n");
    for bin in (-1800..=1800).step_by(30) {
        let count = 100_000 / (1 + (bin as i64 - 60).abs() / 30).pow(2);
        histogram.push_str(&format!("all,{bin},{count}\n"));
    }
    let mut cells = Vec::new();
    for r in 1..=routes {
        for direction in ["NB", "SB"] {
            for daytype in ["saturday", "sunday", "weekday"] {
                let used = 40 + (r * 131 + direction.len() as u64) % 3000;
                let on_time = used * (40 + (r * 17) % 55) / 100;
                let early = (used - on_time) / 4;
                let late = used - on_time - early;
                let headsign =
                    format!("{r}-Very Long Headsign Avenue / Another Long Street Name-{direction}");
                cells.push((on_time as f64 / used as f64, r, headsign.clone(), daytype));
                route.push_str(&format!(
                    "{r},{headsign},{daytype},{days},{},{used},{early},{on_time},{late},{},,,,-60,30,400,600\n",
                    used / 20,
                    on_time as f64 / used as f64
                ));
                for s in 0..stops {
                    let used = 5 + (s * 7 + r) % 200;
                    let on_time = used * (30 + (s * 13 + r) % 70) / 100;
                    stop.push_str(&format!(
                        "{r},{headsign},{daytype},{},30.{s:04},-97.{r:04},{used},{on_time},{},20,-120,{}\n",
                        1000 + s,
                        on_time as f64 / used as f64,
                        300 + (s % 20) * 60
                    ));
                }
                headway.push_str(&format!("{r},{headsign},{daytype},120,900,900,0.05,0.1\n"));
            }
        }
        for daytype in ["saturday", "sunday", "weekday"] {
            for hour in 5..24 {
                let used = 10 + (r + hour) % 90;
                route_hour.push_str(&format!(
                    "{r},{daytype},{hour},{used},{},,,\n",
                    used * 7 / 10
                ));
            }
        }
        histogram.push_str(&format!("route:{r},0,10\n"));
    }
    // route.csv is worst first.
    let mut lines: Vec<&str> = route.lines().skip(1).collect();
    lines.sort_by(|a, b| {
        let otp = |l: &str| {
            l.split(',')
                .nth(9)
                .and_then(|otp| otp.parse::<f64>().ok())
                .expect("an otp")
        };
        otp(a).total_cmp(&otp(b))
    });
    let route = format!(
        "route_id,direction,daytype,days,trips,used,early,on_time,late,otp,otp_lo,otp_hi,mean_dev,p10,p50,p90,p95\n{}\n",
        lines.join("\n")
    );
    let empty = days / 70;
    let suspect = (1..=days).filter(|d| d % 50 == 0 && d % 70 != 0).count();
    let ok = days - empty - suspect as u64;
    let summary = format!(
        r#"{{"window": [-60, 300], "profile": "tcqsm",
        "days": {{"total": {days}, "ok": {ok}, "suspect": {suspect}, "empty": {empty}}},
        "rows": {{"total": 1000000, "far": 1000, "outlier": 100, "used": 998900}},
        "system": {{"used": 998900, "early": 100000, "on_time": 700000, "late": 198900,
                   "otp": 0.7007708479327259, "otp_lo": 0.7, "otp_hi": 0.7016, "p50": 40, "p90": 310}},
        "profiles": {{"tcqsm": 0.70, "transitclock": 0.66, "capmetro": 0.89, "wmata": 0.86}},
        "worst_routes": []}}"#
    );
    AggregateFiles {
        system_daily: system_daily.into_bytes(),
        route: route.into_bytes(),
        route_hour: route_hour.into_bytes(),
        stop: stop.into_bytes(),
        histogram: histogram.into_bytes(),
        headway: headway.into_bytes(),
        summary_json: summary.into_bytes(),
    }
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01), for the synthetic files.
fn civil(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The `y` of every row label (`<text class="row-label">`) in `svg`.
fn label_rows(svg: &str) -> Vec<f64> {
    svg.match_indices("<text ")
        .map(|(at, _)| &svg[at..at + svg[at..].find('>').expect("a tag")])
        .filter(|tag| tag.contains("class=\"row-label\""))
        .map(|tag| attribute(&format!("{tag}>"), "y"))
        .collect()
}

#[test]
fn a_year_of_hundreds_of_routes_and_thousands_of_stops_stays_readable() {
    let files = synthetic(150, 365, 12);
    let page = page(&files);
    // 150 routes × 2 directions × 3 day types = 900 bars: the chart is as tall as its rows
    // and its labels never share a line.
    let routes = svg(&page, "routes");
    let mut ys = label_rows(routes);
    assert!(ys.len() >= 901, "{} labels", ys.len());
    ys.sort_by(f64::total_cmp);
    for pair in ys.windows(2) {
        assert!(pair[1] - pair[0] >= 14.0, "labels {pair:?} overlap");
    }
    assert!(attribute(routes, "height") >= 900.0 * 14.0);
    // Long headsigns are cut to the label column, with the full text in the tooltip.
    assert!(routes.contains("…"));
    assert!(routes.contains("<title>150-Very Long Headsign Avenue / Another Long Street Name-"));
    // The heatmap has a row per route.
    let heatmap = svg(&page, "heatmap");
    assert!(attribute(heatmap, "height") >= 150.0 * 14.0);
    // A year: month labels, not 365 dates.
    let daily = svg(&page, "daily");
    for month in ["Jan 2017", ">Feb<", ">Dec<"] {
        assert!(daily.contains(month), "{month}");
    }
    assert!(!daily.contains(">Jan 2<"));
    // (One more circle is the legend's.)
    assert_eq!(
        daily.matches("<circle").count() - 1,
        365 - 5 - 6,
        "one dot per ok day"
    );
    // 10,800 stops: the worst 25 drawn, every one in a folded table.
    let stops = section(&page, "stops");
    assert_eq!(label_rows(svg(&page, "stops")).len(), 25);
    assert!(
        stops.contains("<summary>Table: every stop (10,800 rows)</summary>"),
        "{:.300}",
        &stops[stops.len() - 300..]
    );
    // Long tables fold.
    assert!(section(&page, "daily").contains("<summary>Table: every day (365 rows)</summary>"));
    assert!(section(&page, "routes").contains("<summary>Table: every route (901 rows)</summary>"));
}

#[test]
fn the_fragment_embeds_and_its_css_is_scoped() {
    let files = fixture();
    let fragment = render_fragment(&files, &ReportOptions::default()).unwrap();
    assert!(fragment.starts_with("<div class=\"capq-report\">"));
    assert!(fragment.ends_with("</div>"));
    for tag in ["<html", "<head>", "<body", "<style", "<meta", "<link"] {
        assert!(!fragment.contains(tag), "{tag}");
    }
    assert!(
        !fragment.contains(" style="),
        "an inline style attribute (the dashboard's CSP would block it)"
    );
    let page = page(&files);
    assert!(page.contains(&fragment));
    assert!(page.contains(REPORT_CSS));
    // Every selector of the stylesheet is under .capq-report, so the dashboard's own rules
    // are never touched.
    let mut css = REPORT_CSS.to_owned();
    while let Some(start) = css.find("/*") {
        let end = css[start..].find("*/").unwrap() + start + 2;
        css.replace_range(start..end, "");
    }
    let mut selectors = Vec::new();
    let mut rest = css.as_str();
    while let Some(open) = rest.find('{') {
        let prelude = rest[..open].rsplit(['}', ';']).next().unwrap().trim();
        if !prelude.starts_with('@') {
            selectors.extend(prelude.split(',').map(str::trim));
        }
        rest = &rest[open + 1..];
    }
    assert!(selectors.len() > 30, "{selectors:?}");
    for selector in selectors {
        assert!(
            selector.starts_with(".capq-report"),
            "{selector:?} is not scoped"
        );
    }
}
