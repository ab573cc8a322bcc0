//! Where things live in an output folder (a local folder or an S3 prefix) that runs write
//! into; `docs/runs.md` describes the layout for people.
//!
//! ```text
//! <output>/<DAY>_processed.csv                 the latest output of each day (what users read)
//! <output>/<DAY>_processed.partial             its aggregate partial
//! <output>/aggregate/                          the aggregate of the latest `capq run`
//! <output>/.capq/versions/<DAY>/<HASH>.csv     every output the day ever had, by content hash
//! <output>/.capq/versions/<DAY>/<HASH>.partial its partial
//! <output>/.capq/runs/<RUN>/run.json           a run's manifest
//! <output>/.capq/runs/<RUN>/days/<DAY>.json    a day's record, written by the worker that ran it
//! ```
//!
//! `<HASH>` is the XXH64 of the file's bytes as 16 lowercase hex digits. Everything capq keeps
//! for itself is under `.capq/`, which listings of the output folder (`capq aggregate`, S3
//! listings with a delimiter) never descend into.

use capmetrics::Date;
use capq_storage::Location;

/// The hidden folder of an output folder.
pub const HIDDEN: &str = ".capq";

/// The aggregate folder of a run's output.
pub const AGGREGATE: &str = "aggregate";

/// The user-facing output file name of a day, as the old system named it.
pub fn output_name(day: Date) -> String {
    format!("{day}_processed.csv")
}

/// The user-facing partial's name: `<DAY>_processed.partial`.
pub fn partial_name(day: Date) -> String {
    capq_aggregate::partial_name(day)
}

/// A content hash as file names and manifests write it.
pub fn hash_hex(hash: u64) -> String {
    format!("{hash:016x}")
}

/// Reads [`hash_hex`] text back.
pub fn parse_hash(text: &str) -> Option<u64> {
    (text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u64::from_str_radix(text, 16).ok())
        .flatten()
}

/// The locations of one output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFolder {
    root: Location,
}

impl OutputFolder {
    pub fn new(root: Location) -> OutputFolder {
        OutputFolder { root }
    }

    /// The folder itself.
    pub fn root(&self) -> &Location {
        &self.root
    }

    /// `<output>/<DAY>_processed.csv`.
    pub fn output(&self, day: Date) -> Location {
        self.root.join(&output_name(day))
    }

    /// `<output>/<DAY>_processed.partial`.
    pub fn partial(&self, day: Date) -> Location {
        self.root.join(&partial_name(day))
    }

    /// `<output>/aggregate/`.
    pub fn aggregate(&self) -> Location {
        self.root.join(AGGREGATE)
    }

    /// `<output>/.capq/versions/<DAY>/`.
    pub fn versions(&self, day: Date) -> Location {
        self.root.join(&format!("{HIDDEN}/versions/{day}"))
    }

    /// The relative name of a version of a day's output, as manifests record it.
    pub fn version_name(day: Date, hash: u64) -> String {
        format!("{HIDDEN}/versions/{day}/{}.csv", hash_hex(hash))
    }

    /// The relative name of a version's partial.
    pub fn version_partial_name(day: Date, hash: u64) -> String {
        format!("{HIDDEN}/versions/{day}/{}.partial", hash_hex(hash))
    }

    /// `<output>/.capq/versions/<DAY>/<HASH>.csv`.
    pub fn version(&self, day: Date, hash: u64) -> Location {
        self.root.join(&Self::version_name(day, hash))
    }

    /// `<output>/.capq/versions/<DAY>/<HASH>.partial`.
    pub fn version_partial(&self, day: Date, hash: u64) -> Location {
        self.root.join(&Self::version_partial_name(day, hash))
    }

    /// `<output>/.capq/runs/`.
    pub fn runs(&self) -> Location {
        self.root.join(&format!("{HIDDEN}/runs"))
    }

    /// `<output>/.capq/runs/<RUN>/`.
    pub fn run(&self, id: &str) -> Location {
        self.runs().join(id)
    }

    /// `<output>/.capq/runs/<RUN>/run.json`.
    pub fn manifest(&self, id: &str) -> Location {
        self.run(id).join("run.json")
    }

    /// `<output>/.capq/runs/<RUN>/days/`.
    pub fn day_records(&self, id: &str) -> Location {
        self.run(id).join("days")
    }

    /// `<output>/.capq/runs/<RUN>/days/<DAY>.json`.
    pub fn day_record(&self, id: &str, day: Date) -> Location {
        self.day_records(id).join(&format!("{day}.json"))
    }

    /// The location of a name relative to the folder, as manifests record them.
    pub fn resolve(&self, relative: &str) -> Location {
        self.root.join(relative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_documented_layout() {
        let folder = OutputFolder::new(Location::parse("s3://b/out/").unwrap());
        let day: Date = "2016-11-24".parse().unwrap();
        assert_eq!(
            folder.output(day).to_string(),
            "s3://b/out/2016-11-24_processed.csv"
        );
        assert_eq!(
            folder.partial(day).to_string(),
            "s3://b/out/2016-11-24_processed.partial"
        );
        assert_eq!(
            folder.version(day, 0xabc).to_string(),
            "s3://b/out/.capq/versions/2016-11-24/0000000000000abc.csv"
        );
        assert_eq!(
            folder.day_record("r1", day).to_string(),
            "s3://b/out/.capq/runs/r1/days/2016-11-24.json"
        );
        assert_eq!(
            folder.manifest("r1").to_string(),
            "s3://b/out/.capq/runs/r1/run.json"
        );
        assert_eq!(parse_hash("0000000000000abc"), Some(0xabc));
        assert_eq!(parse_hash(&hash_hex(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_hash("abc"), None);
        assert_eq!(parse_hash("000000000000zabc"), None);
    }
}
