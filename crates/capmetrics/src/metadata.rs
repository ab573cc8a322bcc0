//! Choosing the stops and schedule files for a day, by file name (SPEC §1).
//!
//! Metadata files are named `<kind>_<START>_<END>.csv[.gz]` and cover START..=END. For a day,
//! take the file whose range contains it; when several do, prefer the latest START, then the
//! earliest END. The rule reads only names, so it works the same on a folder and an S3 listing.

use std::fmt;

use crate::date::Date;

/// The two kinds of metadata file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetadataKind {
    Stops,
    Schedule,
}

impl MetadataKind {
    /// The folder holding files of this kind, and the prefix of their names.
    pub fn folder(self) -> &'static str {
        match self {
            MetadataKind::Stops => "stops",
            MetadataKind::Schedule => "schedule",
        }
    }
}

impl fmt::Display for MetadataKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.folder())
    }
}

/// The date range a metadata file name claims to cover, or `None` if the name is not one.
pub fn covered_range(kind: MetadataKind, name: &str) -> Option<(Date, Date)> {
    let stem = name
        .strip_suffix(".gz")
        .unwrap_or(name)
        .strip_suffix(".csv")?;
    let range = stem.strip_prefix(kind.folder())?.strip_prefix('_')?;
    let (start, end) = range.split_once('_')?;
    let (start, end) = (Date::parse_compact(start)?, Date::parse_compact(end)?);
    (start <= end).then_some((start, end))
}

/// The file that covers `day` among `names` (see the module docs), if any.
pub fn choose<'a>(
    kind: MetadataKind,
    day: Date,
    names: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    names
        .into_iter()
        .filter_map(|name| Some((covered_range(kind, name)?, name)))
        .filter(|((start, end), _)| (*start..=*end).contains(&day))
        // Latest start wins, then earliest end; the name breaks any remaining tie (`.csv`
        // before `.csv.gz`) so the choice never depends on listing order.
        .min_by(|((s1, e1), n1), ((s2, e2), n2)| s2.cmp(s1).then(e1.cmp(e2)).then(n1.cmp(n2)))
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULES: [&str; 6] = [
        "schedule_20140824_20150606.csv.gz",
        "schedule_20150607_20150822.csv.gz",
        "schedule_20160110_20160604.csv.gz",
        "schedule_20160110_20160820.csv.gz",
        "schedule_20160821_20170121.csv.gz",
        "README.md",
    ];

    fn pick(day: &str) -> Option<&'static str> {
        choose(MetadataKind::Schedule, day.parse().unwrap(), SCHEDULES)
    }

    #[test]
    fn spec_examples() {
        assert_eq!(
            pick("2016-03-22"),
            Some("schedule_20160110_20160604.csv.gz")
        );
        assert_eq!(
            pick("2016-08-02"),
            Some("schedule_20160110_20160820.csv.gz")
        );
        assert_eq!(pick("2015-09-06"), None);
        assert_eq!(pick("2017-03-16"), None);
        assert_eq!(
            pick("2016-11-24"),
            Some("schedule_20160821_20170121.csv.gz")
        );
        // Both ends are inclusive.
        assert_eq!(
            pick("2014-08-24"),
            Some("schedule_20140824_20150606.csv.gz")
        );
        assert_eq!(
            pick("2017-01-21"),
            Some("schedule_20160821_20170121.csv.gz")
        );
    }

    #[test]
    fn latest_start_then_earliest_end() {
        let names = [
            "stops_20160101_20161231.csv",
            "stops_20160601_20170101.csv",
            "stops_20160601_20160701.csv",
        ];
        let day = "2016-06-15".parse().unwrap();
        assert_eq!(
            choose(MetadataKind::Stops, day, names),
            Some("stops_20160601_20160701.csv")
        );
        let day = "2016-08-01".parse().unwrap();
        assert_eq!(
            choose(MetadataKind::Stops, day, names),
            Some("stops_20160601_20170101.csv")
        );
    }

    #[test]
    fn ignores_other_names() {
        for bad in [
            "stops_2016_2017.csv",
            "schedule_20160101_20161231.csv",
            "stops_20161231_20160101.csv",
            "stops_20160101_20161231.txt",
        ] {
            assert_eq!(covered_range(MetadataKind::Stops, bad), None, "{bad}");
        }
    }
}
