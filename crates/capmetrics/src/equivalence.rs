//! The equivalence rule for processed-day files, ported from `compare_outputs.py`.
//!
//! The reference outputs were printed by old pandas with 12 significant digits and a slightly
//! inexact decimal parser, so files are compared by value: same header, same rows in the same
//! order, integers and text equal, decimals within 1e-9 (relative or absolute).
//!
//! [`ColumnKind`] is the per-field half of the rule, for callers that pair rows themselves
//! (`capq diff` joins rows on their key instead of their order).

use std::fmt;

use crate::input::Input;
use crate::table::Table;

/// Columns compared as decimals.
const DECIMAL: [&str; 6] = [
    "speed",
    "latitude",
    "longitude",
    "stop_lat",
    "stop_lon",
    "distance_to_stop",
];
/// Columns compared as numbers, so `48.0` equals `48`.
const NUMERIC_INT: [&str; 7] = [
    "vehicle_id",
    "route_id",
    "trip_id",
    "stop_id",
    "sched_dev",
    "dayofweek",
    "hourofday",
];
const TOLERANCE: f64 = 1e-9;
const MAX_REPORTED: usize = 10;

/// How two files differ; its `Display` lists the first differences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The first differences, one line each.
    pub first: Vec<String>,
    /// How many fields differ in all (0 when the files differ in shape, not in values).
    pub differing_fields: usize,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.first {
            writeln!(f, "{line}")?;
        }
        if self.differing_fields > 0 {
            write!(f, "{} differing fields", self.differing_fields)?;
        }
        Ok(())
    }
}

impl std::error::Error for Mismatch {}

/// Compares two processed-day CSVs. Returns the number of data rows when they are equivalent.
pub fn compare(expected: &[u8], actual: &[u8]) -> Result<usize, Mismatch> {
    let shape = |line: String| Mismatch {
        first: vec![line],
        differing_fields: 0,
    };
    let mut exp = records(expected)
        .map_err(|e| shape(format!("expected file: {e}")))?
        .into_iter();
    let mut act = records(actual)
        .map_err(|e| shape(format!("actual file: {e}")))?
        .into_iter();
    let (h_exp, h_act) = (
        exp.next().unwrap_or_default(),
        act.next().unwrap_or_default(),
    );
    if h_exp != h_act {
        return Err(shape(format!(
            "header differs:\n  expected {h_exp:?}\n  actual   {h_act:?}"
        )));
    }
    let kinds: Vec<ColumnKind> = h_exp.iter().map(|c| ColumnKind::of(c)).collect();
    let mut mismatch = Mismatch {
        first: Vec::new(),
        differing_fields: 0,
    };
    let mut rows = 0;
    for line in 2.. {
        let (e, a) = match (exp.next(), act.next()) {
            (None, None) => break,
            (Some(_), None) => return Err(shape(format!("line {line}: actual file ended early"))),
            (None, Some(_)) => {
                return Err(shape(format!("line {line}: expected file ended early")));
            }
            (Some(e), Some(a)) => (e, a),
        };
        rows += 1;
        if e.len() != a.len() {
            return Err(shape(format!(
                "line {line}: {} fields expected, {} found",
                e.len(),
                a.len()
            )));
        }
        for ((column, kind), (x, y)) in h_exp.iter().zip(&kinds).zip(e.iter().zip(&a)) {
            if !kind.same(x, y) {
                mismatch.differing_fields += 1;
                if mismatch.first.len() < MAX_REPORTED {
                    mismatch.first.push(format!(
                        "line {line}, {column}: expected {x:?}, actual {y:?}"
                    ));
                }
            }
        }
    }
    if mismatch.differing_fields > 0 {
        Err(mismatch)
    } else {
        Ok(rows)
    }
}

/// The header and then every row, as text. Rows may differ in length from the header; that
/// is reported by the caller as a shape difference.
fn records(data: &[u8]) -> Result<Vec<Vec<String>>, crate::Error> {
    let input = Input::from_bytes("csv", data.to_vec())?;
    let mut table = Table::open(&input)?;
    let mut records = vec![table.header().iter().map(|h| h.to_string()).collect()];
    while let Some(row) = table.next_row_any_length()? {
        records.push((0..row.len()).map(|i| row.text(i).to_owned()).collect());
    }
    Ok(records)
}

/// How the values of a column are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Equal within 1e-9, relative or absolute (NaN equals NaN).
    Decimal,
    /// Equal as numbers, so `48.0` equals `48`.
    Integer,
    /// Equal as text (also any value of the other kinds that is not a number).
    Text,
}

impl ColumnKind {
    /// The kind of a processed-day column, by its name.
    pub fn of(column: &str) -> ColumnKind {
        if DECIMAL.contains(&column) {
            ColumnKind::Decimal
        } else if NUMERIC_INT.contains(&column) {
            ColumnKind::Integer
        } else {
            ColumnKind::Text
        }
    }

    /// True when the two field values are equivalent.
    pub fn same(self, a: &str, b: &str) -> bool {
        let number = |s: &str| s.trim().parse::<f64>().ok();
        match (self, number(a), number(b)) {
            (ColumnKind::Decimal, Some(x), Some(y)) => {
                if x.is_nan() || y.is_nan() {
                    return x.is_nan() && y.is_nan();
                }
                let diff = (x - y).abs();
                diff <= TOLERANCE || diff <= TOLERANCE * x.abs().max(y.abs())
            }
            (ColumnKind::Integer, Some(x), Some(y)) => x == y,
            _ => a == b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "trip_id,sched_dev,distance_to_stop,trip_headsign\n";

    fn file(rows: &str) -> Vec<u8> {
        format!("{HEADER}{rows}").into_bytes()
    }

    #[test]
    fn numeric_equivalence() {
        let a = file("1,48.0,0.178909055109,A\n");
        let b = file("1,48,0.17890905510912345,A\n");
        assert_eq!(compare(&a, &b), Ok(1));
    }

    #[test]
    fn reports_differences() {
        let a = file("1,48,0.1789,A\n2,5,0.1,B\n");
        let b = file("1,49,0.1790,A\n2,5,0.1,C\n");
        let err = compare(&a, &b).unwrap_err();
        assert_eq!(err.differing_fields, 3);
        assert!(err.first[0].contains("line 2, sched_dev"), "{err}");
        assert!(
            compare(&a, &file("1,48,0.1789,A\n"))
                .unwrap_err()
                .to_string()
                .contains("ended early")
        );
        assert!(
            compare(&a, b"x\n")
                .unwrap_err()
                .to_string()
                .contains("header differs")
        );
    }
}
