//! Integration tests of the diff engine: the rules on small hand-made days (every count can be
//! checked by hand), the partial path on real processed days, and the views.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod partials;
mod render;
mod tiny;

use std::collections::HashMap;
use std::sync::Mutex;

use capq_aggregate::FileInfo;
use capq_diff::{DayStatus, Diff, DiffOptions, Error, OutputFile, Side, SideDay, diff};

/// The processor's header (SPEC.md §4).
pub const HEADER: &str = "vehicle_id,timestamp,speed,route_id,trip_id,latitude,longitude,trip_headsign,stop_lat,stop_lon,stop_id,sched_time,distance_to_stop,sched_dev,dayofweek,hourofday";

/// A row of the processor's shape with the fields a test cares about.
pub fn row(route: i64, trip: i64, stop: i64, distance: &str, dev: &str, hour: u8) -> String {
    format!(
        "2228,2016-11-24T{hour:02}:00:51-06:00,12.9,{route},{trip},30.2,-97.7,North,30.2,-97.7,{stop},2016-11-24T{hour:02}:00:03-06:00,{distance},{dev},4,{hour}"
    )
}

/// A CSV of `rows` under the processor's header.
pub fn csv(rows: &[String]) -> Vec<u8> {
    let mut text = String::from(HEADER);
    text.push('\n');
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    text.into_bytes()
}

/// Files of one side, in memory, counting every read by name.
#[derive(Debug, Default)]
pub struct Files {
    pub files: HashMap<String, Vec<u8>>,
    pub reads: Mutex<Vec<String>>,
}

impl Files {
    pub fn new(files: Vec<(String, Vec<u8>)>) -> Files {
        Files {
            files: files.into_iter().collect(),
            reads: Mutex::default(),
        }
    }

    pub fn fetch(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        self.reads.lock().unwrap().push(name.to_owned());
        Ok(self.files.get(name).cloned())
    }

    /// The names read so far, sorted.
    pub fn read(&self) -> Vec<String> {
        let mut names = self.reads.lock().unwrap().clone();
        names.sort();
        names
    }

    /// The side these files make, as a folder listing would give it (sizes, no times).
    pub fn side(&self, label: &str) -> Side {
        let files = self
            .files
            .iter()
            .map(|(name, bytes)| FileInfo {
                name: name.clone(),
                size: Some(bytes.len() as u64),
                modified: None,
            })
            .collect();
        Side::from_listing(label, label, files).0
    }
}

/// A day's files: `<DAY>_processed.csv`.
pub fn day_csv(day: &str, bytes: Vec<u8>) -> (String, Vec<u8>) {
    (format!("{day}_processed.csv"), bytes)
}

/// Diffs two in-memory sides.
pub fn run(a: &Files, b: &Files, options: &DiffOptions) -> Result<Diff, Error> {
    diff(
        &a.side("a"),
        &b.side("b"),
        &|n: &str| a.fetch(n),
        &|n: &str| b.fetch(n),
        options,
    )
}

/// A side day with an output whose hash a run recorded.
pub fn recorded(day: &str, name: &str, size: u64, hash: u64) -> SideDay {
    SideDay {
        day: day.parse().unwrap(),
        status: DayStatus::Output(OutputFile {
            csv: FileInfo {
                name: name.to_owned(),
                size: Some(size),
                modified: None,
            },
            hash: Some(hash),
            partial: None,
        }),
        input_fingerprint: None,
        drops: None,
    }
}
