//! The aggregate folder's files read into typed rows (AGGREGATE.md §2.1–2.7). Every field is
//! checked: a malformed file becomes an [`Error::Report`] naming the file, the line and the
//! column, never a panic and never a half-drawn chart. An undefined value (an empty field, a
//! JSON `null`) becomes `None`.

use serde::Deserialize;

use super::AggregateFiles;
use super::csv::{self, Record};
use super::date::Date;
use crate::Error;

/// A day's flag (AGGREGATE.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    Ok,
    Suspect,
    Empty,
}

impl Flag {
    pub fn name(self) -> &'static str {
        match self {
            Flag::Ok => "ok",
            Flag::Suspect => "suspect",
            Flag::Empty => "empty",
        }
    }
}

/// One row of `system_daily.csv`.
#[derive(Debug, Clone)]
pub struct Day {
    pub day: Date,
    pub daytype: String,
    pub flag: Flag,
    pub rows: u64,
    pub far: u64,
    pub outlier: u64,
    pub used: u64,
    pub early: u64,
    pub on_time: u64,
    pub late: u64,
    pub otp: Option<f64>,
    pub otp_lo: Option<f64>,
    pub otp_hi: Option<f64>,
    pub mean_dev: Option<f64>,
    pub p50: Option<i64>,
    pub p90: Option<i64>,
}

/// One row of `route.csv`.
#[derive(Debug, Clone)]
pub struct Route {
    pub route_id: u64,
    pub direction: String,
    pub daytype: String,
    pub days: u64,
    pub trips: u64,
    pub used: u64,
    pub early: u64,
    pub on_time: u64,
    pub late: u64,
    pub otp: Option<f64>,
    pub otp_lo: Option<f64>,
    pub otp_hi: Option<f64>,
    pub mean_dev: Option<f64>,
    pub p10: Option<i64>,
    pub p50: Option<i64>,
    pub p90: Option<i64>,
    pub p95: Option<i64>,
}

/// One row of `route_hour.csv`.
#[derive(Debug, Clone)]
pub struct RouteHour {
    pub route_id: u64,
    pub daytype: String,
    pub hour: u32,
    pub used: u64,
    pub on_time: u64,
}

/// One row of `stop.csv`.
#[derive(Debug, Clone)]
pub struct Stop {
    pub route_id: u64,
    pub direction: String,
    pub daytype: String,
    pub stop_id: u64,
    pub stop_lat: Option<f64>,
    pub stop_lon: Option<f64>,
    pub used: u64,
    pub on_time: u64,
    pub otp: Option<f64>,
    pub p50: Option<i64>,
    pub window_lo: Option<i64>,
    pub window_hi: Option<i64>,
}

/// One row of `histogram.csv`.
#[derive(Debug, Clone)]
pub struct Bin {
    pub scope: String,
    pub bin: i64,
    pub count: u64,
}

/// One row of `headway.csv`.
#[derive(Debug, Clone)]
pub struct Headway {
    pub route_id: u64,
    pub direction: String,
    pub daytype: String,
    pub pairs: u64,
    pub median_obs: Option<i64>,
    pub median_sched: Option<i64>,
    pub bunched: Option<f64>,
    pub gapped: Option<f64>,
}

/// `summary.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Summary {
    /// `[E, L]`; `E` is `null` when the window has no early bound.
    #[serde(deserialize_with = "seconds_window")]
    pub window: (Option<i64>, i64),
    /// `null` when a custom `--window` was given.
    pub profile: Option<String>,
    pub days: DayCounts,
    pub rows: RowCounts,
    pub system: System,
    /// The OTP under each named profile, in the file's order.
    #[serde(with = "ordered_map")]
    pub profiles: Vec<(String, Option<f64>)>,
    /// Absent or `null` when no day is missing.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub missing_days: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub failed_days: Vec<String>,
}

/// A list that may be written as `null`.
fn null_as_empty<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default())
}

/// The window's bounds in whole seconds, written as integers (`-60`) or, by a writer that
/// keeps floats, as `-60.0`.
fn seconds_window<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<(Option<i64>, i64), D::Error> {
    let (early, late) = <(Option<f64>, f64)>::deserialize(deserializer)?;
    let whole = |value: f64| {
        if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
            Ok(value as i64)
        } else {
            Err(serde::de::Error::custom(format!(
                "window bound {value} is not a whole number of seconds"
            )))
        }
    };
    Ok((early.map(whole).transpose()?, whole(late)?))
}

#[derive(Debug, Clone, Deserialize)]
pub struct DayCounts {
    pub total: u64,
    pub ok: u64,
    pub suspect: u64,
    pub empty: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RowCounts {
    pub total: u64,
    pub far: u64,
    pub outlier: u64,
    pub used: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct System {
    pub used: u64,
    pub early: u64,
    pub on_time: u64,
    pub late: u64,
    pub otp: Option<f64>,
    pub otp_lo: Option<f64>,
    pub otp_hi: Option<f64>,
    pub p50: Option<i64>,
    pub p90: Option<i64>,
}

/// A JSON object read as its pairs in file order (serde_json's map would sort them).
mod ordered_map {
    use serde::Deserializer;
    use serde::de::{MapAccess, Visitor};

    type Pairs = Vec<(String, Option<f64>)>;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Pairs, D::Error> {
        struct PairsVisitor;
        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = Pairs;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("an object of profile names to OTPs")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<String, Option<f64>>()? {
                    pairs.push(pair);
                }
                Ok(pairs)
            }
        }
        deserializer.deserialize_map(PairsVisitor)
    }
}

/// Everything the report shows, parsed.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub days: Vec<Day>,
    pub routes: Vec<Route>,
    pub route_hours: Vec<RouteHour>,
    pub stops: Vec<Stop>,
    pub bins: Vec<Bin>,
    pub headways: Vec<Headway>,
    pub summary: Summary,
}

impl Inputs {
    pub fn parse(files: &AggregateFiles) -> Result<Inputs, Error> {
        let summary: Summary =
            serde_json::from_slice(&files.summary_json).map_err(|e| Error::Report {
                file: "summary.json",
                line: e.line(),
                message: e.to_string(),
            })?;
        for day in summary.missing_days.iter().chain(&summary.failed_days) {
            if Date::parse(day).is_none() {
                return Err(Error::Report {
                    file: "summary.json",
                    line: 1,
                    message: format!("{day:?} is not a day (YYYY-MM-DD)"),
                });
            }
        }
        Ok(Inputs {
            days: rows(
                "system_daily.csv",
                &files.system_daily,
                &[
                    "day", "daytype", "flag", "rows", "far", "outlier", "used", "early", "on_time",
                    "late", "otp", "otp_lo", "otp_hi", "mean_dev", "p50", "p90",
                ],
                |f| {
                    Ok(Day {
                        day: f.date(0)?,
                        daytype: f.text(1),
                        flag: f.flag(2)?,
                        rows: f.count(3)?,
                        far: f.count(4)?,
                        outlier: f.count(5)?,
                        used: f.count(6)?,
                        early: f.count(7)?,
                        on_time: f.count(8)?,
                        late: f.count(9)?,
                        otp: f.ratio(10)?,
                        otp_lo: f.ratio(11)?,
                        otp_hi: f.ratio(12)?,
                        mean_dev: f.decimal(13)?,
                        p50: f.seconds(14)?,
                        p90: f.seconds(15)?,
                    })
                },
            )?,
            routes: rows(
                "route.csv",
                &files.route,
                &[
                    "route_id",
                    "direction",
                    "daytype",
                    "days",
                    "trips",
                    "used",
                    "early",
                    "on_time",
                    "late",
                    "otp",
                    "otp_lo",
                    "otp_hi",
                    "mean_dev",
                    "p10",
                    "p50",
                    "p90",
                    "p95",
                ],
                |f| {
                    Ok(Route {
                        route_id: f.count(0)?,
                        direction: f.text(1),
                        daytype: f.text(2),
                        days: f.count(3)?,
                        trips: f.count(4)?,
                        used: f.count(5)?,
                        early: f.count(6)?,
                        on_time: f.count(7)?,
                        late: f.count(8)?,
                        otp: f.ratio(9)?,
                        otp_lo: f.ratio(10)?,
                        otp_hi: f.ratio(11)?,
                        mean_dev: f.decimal(12)?,
                        p10: f.seconds(13)?,
                        p50: f.seconds(14)?,
                        p90: f.seconds(15)?,
                        p95: f.seconds(16)?,
                    })
                },
            )?,
            route_hours: rows(
                "route_hour.csv",
                &files.route_hour,
                &[
                    "route_id", "daytype", "hour", "used", "on_time", "otp", "p50", "p90",
                ],
                |f| {
                    // The heatmap sums day types, so it recomputes OTP from the counts; the
                    // other fields are still checked.
                    f.ratio(5)?;
                    f.seconds(6)?;
                    f.seconds(7)?;
                    Ok(RouteHour {
                        route_id: f.count(0)?,
                        daytype: f.text(1),
                        hour: f.hour(2)?,
                        used: f.count(3)?,
                        on_time: f.count(4)?,
                    })
                },
            )?,
            stops: rows(
                "stop.csv",
                &files.stop,
                &[
                    "route_id",
                    "direction",
                    "daytype",
                    "stop_id",
                    "stop_lat",
                    "stop_lon",
                    "used",
                    "on_time",
                    "otp",
                    "p50",
                    "window_lo",
                    "window_hi",
                ],
                |f| {
                    Ok(Stop {
                        route_id: f.count(0)?,
                        direction: f.text(1),
                        daytype: f.text(2),
                        stop_id: f.count(3)?,
                        stop_lat: f.decimal(4)?,
                        stop_lon: f.decimal(5)?,
                        used: f.count(6)?,
                        on_time: f.count(7)?,
                        otp: f.ratio(8)?,
                        p50: f.seconds(9)?,
                        window_lo: f.seconds(10)?,
                        window_hi: f.seconds(11)?,
                    })
                },
            )?,
            bins: rows(
                "histogram.csv",
                &files.histogram,
                &["scope", "bin", "count"],
                |f| {
                    Ok(Bin {
                        scope: f.text(0),
                        bin: f.required_seconds(1)?,
                        count: f.count(2)?,
                    })
                },
            )?,
            headways: rows(
                "headway.csv",
                &files.headway,
                &[
                    "route_id",
                    "direction",
                    "daytype",
                    "pairs",
                    "median_obs",
                    "median_sched",
                    "bunched",
                    "gapped",
                ],
                |f| {
                    Ok(Headway {
                        route_id: f.count(0)?,
                        direction: f.text(1),
                        daytype: f.text(2),
                        pairs: f.count(3)?,
                        median_obs: f.seconds(4)?,
                        median_sched: f.seconds(5)?,
                        bunched: f.ratio(6)?,
                        gapped: f.ratio(7)?,
                    })
                },
            )?,
            summary,
        })
    }
}

/// Reads `file` with `header` and turns each record into a row with `parse`.
fn rows<T>(
    file: &'static str,
    bytes: &[u8],
    header: &[&'static str],
    parse: impl Fn(&Fields) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    csv::read(file, bytes, header)?
        .iter()
        .map(|record| {
            parse(&Fields {
                file,
                header,
                record,
            })
        })
        .collect()
}

/// One record's fields, with parsers that name the file, line and column on failure.
struct Fields<'a> {
    file: &'static str,
    header: &'a [&'static str],
    record: &'a Record,
}

impl Fields<'_> {
    fn raw(&self, i: usize) -> &str {
        self.record.fields.get(i).map_or("", String::as_str)
    }

    fn fail(&self, i: usize, what: &str) -> Error {
        Error::Report {
            file: self.file,
            line: self.record.line,
            message: format!(
                "{}: {:?} is not {what}",
                self.header.get(i).copied().unwrap_or("?"),
                self.raw(i)
            ),
        }
    }

    fn text(&self, i: usize) -> String {
        self.raw(i).to_owned()
    }

    fn count(&self, i: usize) -> Result<u64, Error> {
        self.raw(i)
            .parse()
            .map_err(|_| self.fail(i, "a non-negative integer"))
    }

    fn hour(&self, i: usize) -> Result<u32, Error> {
        match self.raw(i).parse() {
            Ok(hour) if hour < 24 => Ok(hour),
            _ => Err(self.fail(i, "an hour of the day")),
        }
    }

    fn date(&self, i: usize) -> Result<Date, Error> {
        Date::parse(self.raw(i)).ok_or_else(|| self.fail(i, "a day (YYYY-MM-DD)"))
    }

    fn flag(&self, i: usize) -> Result<Flag, Error> {
        match self.raw(i) {
            "ok" => Ok(Flag::Ok),
            "suspect" => Ok(Flag::Suspect),
            "empty" => Ok(Flag::Empty),
            _ => Err(self.fail(i, "a flag (ok, suspect or empty)")),
        }
    }

    /// Whole seconds; empty when undefined.
    fn seconds(&self, i: usize) -> Result<Option<i64>, Error> {
        if self.raw(i).is_empty() {
            return Ok(None);
        }
        self.required_seconds(i).map(Some)
    }

    fn required_seconds(&self, i: usize) -> Result<i64, Error> {
        self.raw(i)
            .parse()
            .map_err(|_| self.fail(i, "a whole number of seconds"))
    }

    /// A finite decimal; empty when undefined.
    fn decimal(&self, i: usize) -> Result<Option<f64>, Error> {
        if self.raw(i).is_empty() {
            return Ok(None);
        }
        match self.raw(i).parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(Some(value)),
            _ => Err(self.fail(i, "a number")),
        }
    }

    /// A fraction in 0..1; empty when undefined.
    fn ratio(&self, i: usize) -> Result<Option<f64>, Error> {
        match self.decimal(i) {
            Ok(Some(value)) if !(0.0..=1.0).contains(&value) => {
                Err(self.fail(i, "a fraction between 0 and 1"))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> AggregateFiles {
        AggregateFiles {
            system_daily: b"day,daytype,flag,rows,far,outlier,used,early,on_time,late,otp,otp_lo,otp_hi,mean_dev,p50,p90\n\
                2016-11-24,weekday,ok,10,1,1,8,1,6,1,0.75,0.4,0.9,12.5,10,200\n\
                2016-11-27,sunday,empty,0,0,0,0,0,0,0,,,,,,\n"
                .to_vec(),
            route: b"route_id,direction,daytype,days,trips,used,early,on_time,late,otp,otp_lo,otp_hi,mean_dev,p10,p50,p90,p95\n\
                7,\"a, \"\"b\"\"\",weekday,1,2,8,1,6,1,0.75,0.4,0.9,1e-5,-10,10,200,300\n"
                .to_vec(),
            route_hour: b"route_id,daytype,hour,used,on_time,otp,p50,p90\n7,weekday,23,8,6,0.75,10,200\n".to_vec(),
            stop: b"route_id,direction,daytype,stop_id,stop_lat,stop_lon,used,on_time,otp,p50,window_lo,window_hi\n\
                7,x,weekday,554,30.1,-97.7,8,6,0.75,10,-100,400\n"
                .to_vec(),
            histogram: b"scope,bin,count\nall,-30,3\nroute:7,-30,3\n".to_vec(),
            headway: b"route_id,direction,daytype,pairs,median_obs,median_sched,bunched,gapped\n\
                7,x,weekday,3,600,600,0.0,1.0\n"
                .to_vec(),
            summary_json: br#"{"window": [null, 300], "profile": "capmetro",
                "days": {"total": 2, "ok": 1, "suspect": 0, "empty": 1},
                "rows": {"total": 10, "far": 1, "outlier": 1, "used": 8},
                "system": {"used": 8, "early": 1, "on_time": 6, "late": 1, "otp": 0.75,
                           "otp_lo": 0.4, "otp_hi": 0.9, "p50": 10, "p90": 200},
                "profiles": {"wmata": 0.8, "tcqsm": 0.75, "transitclock": null, "capmetro": 0.9},
                "worst_routes": [], "failed_days": ["2016-11-25"]}"#
                .to_vec(),
        }
    }

    #[test]
    fn every_file_parses_with_undefined_values_as_none() {
        let inputs = Inputs::parse(&files()).unwrap();
        assert_eq!(inputs.days.len(), 2);
        assert_eq!(inputs.days[1].flag, Flag::Empty);
        assert_eq!(inputs.days[1].otp, None);
        assert_eq!(inputs.days[0].p90, Some(200));
        assert_eq!(inputs.routes[0].direction, "a, \"b\"");
        assert_eq!(inputs.routes[0].mean_dev, Some(1e-5));
        assert_eq!(inputs.route_hours[0].hour, 23);
        assert_eq!(inputs.stops[0].window_lo, Some(-100));
        assert_eq!(inputs.bins[1].scope, "route:7");
        assert_eq!(inputs.headways[0].gapped, Some(1.0));
        assert_eq!(inputs.summary.window, (None, 300));
        let names: Vec<&str> = inputs
            .summary
            .profiles
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(names, ["wmata", "tcqsm", "transitclock", "capmetro"]);
        assert_eq!(inputs.summary.failed_days, ["2016-11-25"]);
        assert!(inputs.summary.missing_days.is_empty());
    }

    #[test]
    fn summary_variants_a_writer_may_produce() {
        let mut variant = files();
        variant.summary_json = br#"{"window": [-60.0, 300.0], "profile": "tcqsm",
            "days": {"total": 2, "ok": 1, "suspect": 0, "empty": 1, "missing": 0},
            "rows": {"total": 10, "far": 1, "outlier": 1, "used": 8},
            "system": {"used": 8, "early": 1, "on_time": 6, "late": 1, "otp": 0.75,
                       "otp_lo": 0.4, "otp_hi": 0.9, "p50": 10, "p90": 200},
            "profiles": {"tcqsm": 0.75}, "missing_days": null, "failed_days": []}"#
            .to_vec();
        let summary = Inputs::parse(&variant).unwrap().summary;
        assert_eq!(summary.window, (Some(-60), 300));
        assert!(summary.missing_days.is_empty() && summary.failed_days.is_empty());
        variant.summary_json = br#"{"window": [-60.5, 300]}"#.to_vec();
        let error = Inputs::parse(&variant).unwrap_err().to_string();
        assert!(
            error.contains("window bound -60.5 is not a whole number of seconds"),
            "{error}"
        );
    }

    #[test]
    fn bad_fields_name_file_line_and_column() {
        let mut bad = files();
        bad.route_hour =
            b"route_id,daytype,hour,used,on_time,otp,p50,p90\n7,weekday,7,8,6,1.5,10,200\n"
                .to_vec();
        assert_eq!(
            Inputs::parse(&bad).unwrap_err().to_string(),
            "route_hour.csv: line 2: otp: \"1.5\" is not a fraction between 0 and 1"
        );
        let mut bad = files();
        bad.system_daily = b"day,daytype,flag,rows,far,outlier,used,early,on_time,late,otp,otp_lo,otp_hi,mean_dev,p50,p90\n\
            2016-11-24,weekday,odd,10,1,1,8,1,6,1,0.75,0.4,0.9,12.5,10,200\n"
            .to_vec();
        assert_eq!(
            Inputs::parse(&bad).unwrap_err().to_string(),
            "system_daily.csv: line 2: flag: \"odd\" is not a flag (ok, suspect or empty)"
        );
        let mut bad = files();
        bad.stop = b"route_id,direction,daytype,stop_id,stop_lat,stop_lon,used,on_time,otp,p50,window_lo,window_hi\n\
            7,x,weekday,554,30.1,-97.7,-8,6,0.75,10,-100,400\n"
            .to_vec();
        assert_eq!(
            Inputs::parse(&bad).unwrap_err().to_string(),
            "stop.csv: line 2: used: \"-8\" is not a non-negative integer"
        );
        let mut bad = files();
        bad.histogram = b"scope,bin,count\nall,NaN,3\n".to_vec();
        assert!(Inputs::parse(&bad).is_err());
        let mut bad = files();
        bad.summary_json = b"{\"window\": [null, 300],\n \"profile\": 3}".to_vec();
        let error = Inputs::parse(&bad).unwrap_err().to_string();
        assert!(error.starts_with("summary.json: line 2: "), "{error}");
        let mut bad = files();
        bad.summary_json = br#"{"window": [null, 300], "profile": null,
            "days": {"total": 0, "ok": 0, "suspect": 0, "empty": 0},
            "rows": {"total": 0, "far": 0, "outlier": 0, "used": 0},
            "system": {"used": 0, "early": 0, "on_time": 0, "late": 0, "otp": null,
                       "otp_lo": null, "otp_hi": null, "p50": null, "p90": null},
            "profiles": {}, "missing_days": ["<b>"]}"#
            .to_vec();
        assert_eq!(
            Inputs::parse(&bad).unwrap_err().to_string(),
            "summary.json: line 1: \"<b>\" is not a day (YYYY-MM-DD)"
        );
    }
}
