//! The named on-time windows of AGGREGATE.md §1, as the report describes them to people:
//! their bounds and where they come from. `summary.json` carries only the OTP under each
//! profile's name; the windows themselves are part of the definition.

use super::format;

/// A named profile: its name, early bound (none for CapMetro), late bound and source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    pub early: Option<i64>,
    pub late: i64,
    pub source: &'static str,
}

pub const PROFILES: [Profile; 4] = [
    Profile {
        name: "tcqsm",
        early: Some(-60),
        late: 300,
        source: "TCQSM practice, MIT ROVE",
    },
    Profile {
        name: "transitclock",
        early: Some(-60),
        late: 240,
        source: "TransitClock and Swiftly defaults",
    },
    Profile {
        name: "capmetro",
        early: None,
        late: 300,
        source: "CapMetro: no more than five minutes late",
    },
    Profile {
        name: "wmata",
        early: Some(-120),
        late: 420,
        source: "WMATA",
    },
];

/// The profile called `name`, if it is one of ours.
pub fn named(name: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.name == name)
}

/// A window for people: `−60 s to +5 min`, or `up to +5 min late (no early bound)`.
pub fn describe(early: Option<i64>, late: i64) -> String {
    match early {
        Some(early) => format!(
            "{} to {}",
            format::deviation(early),
            format::deviation(late)
        ),
        None => format!("up to {} (no early bound)", format::deviation(late)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_read_as_people_say_them() {
        assert_eq!(describe(Some(-60), 300), "\u{2212}60 s to +5 min");
        assert_eq!(describe(Some(-120), 420), "\u{2212}2 min to +7 min");
        assert_eq!(describe(None, 300), "up to +5 min (no early bound)");
        assert_eq!(named("wmata").map(|p| p.late), Some(420));
        assert_eq!(named("other"), None);
    }
}
