//! The processor's tunable thresholds, as named parameters with defaults that reproduce the
//! reference outputs exactly.
//!
//! A user changes them with `KEY=VALUE` text ([`Params::set`], [`Params::from_assignments`]).
//! Every set of parameters has one canonical text, `key=value` pairs sorted by key, joined by
//! commas, with numbers in their shortest round-trip form, such as
//! `group_arrived_min_dev=0,group_max_distance=0.25`. Equal parameters always give the same
//! text, so it is what run manifests store and what [`Params::fingerprint`] hashes;
//! [`Params::from_canonical`] reads it back.
//!
//! Only thresholds whose every valid value keeps SPEC.md's rules meaningful are parameters.
//! The old program's quirks (the hour-23 rule, dropping empty headsigns) are not: they are what
//! makes outputs comparable with the old ones, not knobs.
//!
//! Parameter errors have their own type rather than a variant of [`crate::Error`]: they come
//! from the command line or a job's arguments before any day is read, and name a key rather
//! than a file, line and column.

use std::fmt;
use std::str::FromStr;

use crate::fingerprint::fingerprint_text;

/// The processor's parameters. [`Params::default()`] (= [`Params::DEFAULT`]) reproduces the
/// reference outputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    group_max_distance: f64,
    group_arrived_min_dev: i64,
}

/// One parameter: its key and what it means, for error messages and `--help` texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamInfo {
    pub key: &'static str,
    /// The default value, in canonical form.
    pub default: &'static str,
    /// What a valid value is.
    pub expected: &'static str,
    /// What the parameter does, in one sentence.
    pub meaning: &'static str,
}

/// Every parameter, sorted by key.
pub const PARAMS: [ParamInfo; 2] = [
    ParamInfo {
        key: "group_arrived_min_dev",
        default: "0",
        expected: "whole seconds from -86400 to 86400",
        meaning: "in a (trip, stop) group, a row within group_max_distance whose sched_dev is at \
                  least this many seconds counts as the vehicle having arrived, and the first \
                  such row is kept (SPEC.md §3: sched_dev ≥ 0)",
    },
    ParamInfo {
        key: "group_max_distance",
        default: "0.25",
        expected: "a finite number ≥ 0, in distance_to_stop's units (degrees × 100)",
        meaning: "a (trip, stop) group of several rows keeps one only from rows with \
                  distance_to_stop up to this; with none, the group yields nothing (SPEC.md §3)",
    },
];

/// A parameter that cannot be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("unknown parameter `{key}`; valid parameters: {}", valid_keys())]
    UnknownKey { key: String },
    #[error("parameter `{key}`: invalid value {value:?}; expected {expected} (default {default})")]
    BadValue {
        key: &'static str,
        value: String,
        expected: &'static str,
        default: &'static str,
    },
    #[error(
        "invalid parameter {text:?}: expected KEY=VALUE; valid parameters: {}",
        valid_keys()
    )]
    NotAssignment { text: String },
    #[error("parameter `{key}` is given more than once")]
    Repeated { key: &'static str },
}

fn valid_keys() -> String {
    PARAMS.map(|p| p.key).join(", ")
}

impl Params {
    /// The defaults: SPEC.md's values, which reproduce the reference outputs.
    pub const DEFAULT: Params = Params {
        group_max_distance: 0.25,
        group_arrived_min_dev: 0,
    };

    /// A group's rows count as near their stop up to this `distance_to_stop`.
    pub const fn group_max_distance(&self) -> f64 {
        self.group_max_distance
    }

    /// A nearby row with `sched_dev` at least this (seconds) means the vehicle had arrived.
    pub const fn group_arrived_min_dev(&self) -> i64 {
        self.group_arrived_min_dev
    }

    /// Sets one parameter from its text. Surrounding spaces are ignored.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ParamError> {
        let key = key.trim();
        let text = value.trim();
        let bad = |info: &ParamInfo| ParamError::BadValue {
            key: info.key,
            value: value.to_owned(),
            expected: info.expected,
            default: info.default,
        };
        match key {
            "group_max_distance" => {
                let info = &PARAMS[1];
                let value: f64 = text.parse().map_err(|_| bad(info))?;
                // `parse` also accepts "NaN" and "inf", which no distance is.
                if !value.is_finite() || value < 0.0 {
                    return Err(bad(info));
                }
                // -0 behaves as 0; one value, one canonical text.
                self.group_max_distance = value + 0.0;
            }
            "group_arrived_min_dev" => {
                let info = &PARAMS[0];
                let value: i64 = text.parse().map_err(|_| bad(info))?;
                // A deviation is always within a day (whole days are dropped, SPEC.md §2.5).
                if !(-86_400..=86_400).contains(&value) {
                    return Err(bad(info));
                }
                self.group_arrived_min_dev = value;
            }
            _ => {
                return Err(ParamError::UnknownKey {
                    key: key.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Sets one parameter from `KEY=VALUE`.
    pub fn assign(&mut self, assignment: &str) -> Result<(), ParamError> {
        let (key, value) = split_assignment(assignment)?;
        self.set(key, value)
    }

    /// The defaults changed by each `KEY=VALUE` in turn (as given with `--param`). A key given
    /// twice is an error, since one of the two values would be silently ignored.
    pub fn from_assignments<I, S>(assignments: I) -> Result<Params, ParamError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut params = Params::DEFAULT;
        let mut given = [false; PARAMS.len()];
        for assignment in assignments {
            let (key, value) = split_assignment(assignment.as_ref())?;
            params.set(key, value)?;
            // `set` succeeded, so the key is known.
            if let Some(i) = PARAMS.iter().position(|p| p.key == key.trim()) {
                if given[i] {
                    return Err(ParamError::Repeated { key: PARAMS[i].key });
                }
                given[i] = true;
            }
        }
        Ok(params)
    }

    /// The canonical text: every parameter as `key=value`, sorted by key, joined by commas.
    pub fn canonical(&self) -> String {
        self.entries()
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads [`canonical`](Self::canonical) text back. Keys it lacks keep their defaults (text
    /// written before a parameter existed), and the empty text is the defaults.
    pub fn from_canonical(text: &str) -> Result<Params, ParamError> {
        if text.trim().is_empty() {
            return Ok(Params::DEFAULT);
        }
        Params::from_assignments(text.split(','))
    }

    /// Every parameter as (key, canonical value text), sorted by key: for manifests and
    /// reports that show the values one by one.
    pub fn entries(&self) -> [(&'static str, String); PARAMS.len()] {
        [
            (
                "group_arrived_min_dev",
                self.group_arrived_min_dev.to_string(),
            ),
            (
                "group_max_distance",
                shortest(self.group_max_distance).to_owned(),
            ),
        ]
    }

    /// The parameters that differ from the defaults, as `key=value` (for a short summary).
    pub fn changed(&self) -> Vec<String> {
        let defaults = Params::DEFAULT.entries();
        self.entries()
            .into_iter()
            .zip(defaults)
            .filter(|((_, value), (_, default))| value != default)
            .map(|((key, value), _)| format!("{key}={value}"))
            .collect()
    }

    /// A fingerprint of the canonical text: 16 lowercase hex digits (FNV-1a 128, xor-folded,
    /// the same hash as the processor fingerprint). Equal parameters, equal fingerprints.
    pub fn fingerprint(&self) -> String {
        fingerprint_text(&self.canonical())
    }
}

impl Default for Params {
    fn default() -> Params {
        Params::DEFAULT
    }
}

/// The canonical text.
impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

/// Parses the canonical text (see [`Params::from_canonical`]).
impl FromStr for Params {
    type Err = ParamError;

    fn from_str(text: &str) -> Result<Params, ParamError> {
        Params::from_canonical(text)
    }
}

fn split_assignment(text: &str) -> Result<(&str, &str), ParamError> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key, value)),
        _ => Err(ParamError::NotAssignment {
            text: text.to_owned(),
        }),
    }
}

/// The shortest text that reads back to `value` (a finite number), with `.0` on whole numbers.
fn shortest(value: f64) -> String {
    ryu::Buffer::new().format_finite(value).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_specs_values() {
        let params = Params::default();
        assert_eq!(params.group_max_distance(), 0.25);
        assert_eq!(params.group_arrived_min_dev(), 0);
        assert_eq!(
            params.canonical(),
            "group_arrived_min_dev=0,group_max_distance=0.25"
        );
        assert!(params.changed().is_empty());
        // PARAMS' defaults are the canonical texts of DEFAULT's values.
        for (info, (key, value)) in PARAMS.iter().zip(params.entries()) {
            assert_eq!((info.key, info.default), (key, value.as_str()));
        }
    }

    #[test]
    fn params_are_sorted_by_key_and_each_can_be_set() {
        assert!(PARAMS.windows(2).all(|w| w[0].key < w[1].key));
        for info in PARAMS {
            let mut params = Params::default();
            params.set(info.key, info.default).unwrap();
            assert_eq!(params, Params::DEFAULT);
            // A bad value's error describes this very parameter.
            match params.set(info.key, "bad") {
                Err(ParamError::BadValue { key, expected, .. }) => {
                    assert_eq!((key, expected), (info.key, info.expected));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn canonical_text_round_trips_with_shortest_numbers() {
        let mut params = Params::default();
        params.set("group_max_distance", " 0.10 ").unwrap();
        params.set("group_arrived_min_dev", "-30").unwrap();
        let text = params.canonical();
        assert_eq!(text, "group_arrived_min_dev=-30,group_max_distance=0.1");
        assert_eq!(Params::from_canonical(&text).unwrap(), params);
        assert_eq!(text.parse::<Params>().unwrap(), params);
        assert_eq!(params.to_string(), text);
        assert_eq!(
            params.changed(),
            ["group_arrived_min_dev=-30", "group_max_distance=0.1"]
        );

        for (given, canonical) in [
            ("1", "1.0"),
            ("1e-7", "1e-7"),
            (".5", "0.5"),
            ("-0", "0.0"),
            ("0.30000000000000004", "0.30000000000000004"),
            ("2.5E3", "2500.0"),
        ] {
            params.set("group_max_distance", given).unwrap();
            let text = params.canonical();
            assert_eq!(
                text,
                format!("group_arrived_min_dev=-30,group_max_distance={canonical}")
            );
            assert_eq!(Params::from_canonical(&text).unwrap(), params, "{given}");
        }
    }

    #[test]
    fn from_canonical_fills_missing_keys_with_defaults() {
        assert_eq!(Params::from_canonical("").unwrap(), Params::DEFAULT);
        let params = Params::from_canonical("group_max_distance=0.5").unwrap();
        assert_eq!(params.group_max_distance(), 0.5);
        assert_eq!(params.group_arrived_min_dev(), 0);
    }

    #[test]
    fn fingerprints_follow_the_values() {
        let default = Params::default().fingerprint();
        assert_eq!(default.len(), 16);
        assert_eq!(default, Params::from_canonical("").unwrap().fingerprint());
        // The same value written differently is the same parameters.
        let a = Params::from_assignments(["group_max_distance=0.3"]).unwrap();
        let b = Params::from_assignments(["group_max_distance = 0.300"]).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), default);
        // Setting a default explicitly changes nothing.
        let explicit = Params::from_assignments(["group_max_distance=0.25"]).unwrap();
        assert_eq!(explicit.fingerprint(), default);
    }

    #[test]
    fn an_unknown_key_lists_the_valid_ones() {
        let error = Params::from_assignments(["group_max_dist=0.3"]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown parameter `group_max_dist`; valid parameters: group_arrived_min_dev, \
             group_max_distance"
        );
    }

    #[test]
    fn a_bad_value_says_what_a_valid_one_is() {
        for value in ["abc", "", "NaN", "nan", "inf", "-0.1", "1e400", "0,3"] {
            let error =
                Params::from_assignments([format!("group_max_distance={value}")]).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "parameter `group_max_distance`: invalid value {value:?}; expected a finite \
                     number ≥ 0, in distance_to_stop's units (degrees × 100) (default 0.25)"
                )
            );
        }
        for value in ["1.5", "x", "86401", "-86401", "99999999999999999999"] {
            let error = Params::default()
                .set("group_arrived_min_dev", value)
                .unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "parameter `group_arrived_min_dev`: invalid value {value:?}; expected whole \
                     seconds from -86400 to 86400 (default 0)"
                )
            );
        }
    }

    #[test]
    fn a_failed_set_changes_nothing() {
        let mut params = Params::default();
        assert!(params.set("group_max_distance", "-1").is_err());
        assert_eq!(params, Params::DEFAULT);
    }

    #[test]
    fn malformed_assignments_and_repeats_are_errors() {
        for text in ["group_max_distance", "=0.3", " =1", ""] {
            let error = Params::from_assignments([text]).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "invalid parameter {text:?}: expected KEY=VALUE; valid parameters: \
                     group_arrived_min_dev, group_max_distance"
                )
            );
        }
        let error = Params::from_assignments(["group_max_distance=0.3", " group_max_distance=0.4"])
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "parameter `group_max_distance` is given more than once"
        );
        let mut params = Params::default();
        params.assign("group_arrived_min_dev=60").unwrap();
        assert_eq!(params.group_arrived_min_dev(), 60);
    }
}
