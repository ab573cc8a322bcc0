//! The on-time window `[E, L]` (AGGREGATE.md §1) and its named profiles.
//!
//! A used row is early below `E`, late above `L`, on time otherwise: both bounds are
//! inclusive. A profile may lack a bound (CapMetro's target has no early bound), so each bound
//! is optional.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// An on-time window in seconds of schedule deviation; `None` means no bound on that side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub early: Option<i64>,
    pub late: Option<i64>,
}

impl Window {
    /// True when `deviation` counts as early.
    pub fn is_early(self, deviation: i64) -> bool {
        self.early.is_some_and(|e| deviation < e)
    }

    /// True when `deviation` counts as late.
    pub fn is_late(self, deviation: i64) -> bool {
        self.late.is_some_and(|l| deviation > l)
    }
}

impl FromStr for Window {
    type Err = Error;

    /// Parses `E,L` in seconds, such as `-120,420`. A bound may be `none` (or left empty) for
    /// no bound on that side, as in `none,300`; at least one bound is needed and `E ≤ L`.
    fn from_str(text: &str) -> Result<Window, Error> {
        let bad = |why: &str| {
            Error::Window(format!(
                "invalid window {text:?}: {why} (expected E,L in seconds, such as -120,420)"
            ))
        };
        let (early, late) = text.split_once(',').ok_or_else(|| bad("no comma"))?;
        let bound = |part: &str| -> Result<Option<i64>, Error> {
            let part = part.trim();
            if part.is_empty() || part.eq_ignore_ascii_case("none") {
                return Ok(None);
            }
            part.parse::<i64>()
                .map(Some)
                .map_err(|_| bad(&format!("{part:?} is not a whole number of seconds")))
        };
        let window = Window {
            early: bound(early)?,
            late: bound(late)?,
        };
        match (window.early, window.late) {
            (None, None) => Err(bad("a window needs at least one bound")),
            (Some(e), Some(l)) if e > l => Err(bad(&format!(
                "the early bound {e} is after the late bound {l}"
            ))),
            _ => Ok(window),
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |b: Option<i64>| b.map_or_else(|| "none".to_owned(), |v| v.to_string());
        write!(f, "{},{}", side(self.early), side(self.late))
    }
}

/// The named windows of AGGREGATE.md §1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// −60 … 300: TCQSM practice, MIT ROVE (the default).
    Tcqsm,
    /// −60 … 240: TransitClock and Swiftly defaults.
    Transitclock,
    /// no early bound … 300: CapMetro's "no more than five minutes late".
    Capmetro,
    /// −120 … 420: WMATA.
    Wmata,
}

impl Profile {
    /// Every profile, in the order `summary.json` lists them.
    pub const ALL: [Profile; 4] = [
        Profile::Tcqsm,
        Profile::Transitclock,
        Profile::Capmetro,
        Profile::Wmata,
    ];

    /// The profile's name as typed and as written in `summary.json`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Tcqsm => "tcqsm",
            Profile::Transitclock => "transitclock",
            Profile::Capmetro => "capmetro",
            Profile::Wmata => "wmata",
        }
    }

    /// The profile's window.
    pub fn window(self) -> Window {
        let (early, late) = match self {
            Profile::Tcqsm => (Some(-60), Some(300)),
            Profile::Transitclock => (Some(-60), Some(240)),
            Profile::Capmetro => (None, Some(300)),
            Profile::Wmata => (Some(-120), Some(420)),
        };
        Window { early, late }
    }
}

impl FromStr for Profile {
    type Err = Error;

    fn from_str(text: &str) -> Result<Profile, Error> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == text)
            .ok_or_else(|| {
                Error::Window(format!(
                    "unknown profile {text:?}: expected one of tcqsm, transitclock, capmetro, wmata"
                ))
            })
    }
}

/// The window an aggregate uses: a named profile, or a custom window (then `summary.json`
/// says `"profile": null`, even when the window equals a profile's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowChoice {
    Profile(Profile),
    Custom(Window),
}

impl WindowChoice {
    /// The window's bounds.
    pub fn window(self) -> Window {
        match self {
            WindowChoice::Profile(p) => p.window(),
            WindowChoice::Custom(w) => w,
        }
    }

    /// The profile's name, or `None` for a custom window.
    pub fn profile(self) -> Option<Profile> {
        match self {
            WindowChoice::Profile(p) => Some(p),
            WindowChoice::Custom(_) => None,
        }
    }
}

impl Default for WindowChoice {
    fn default() -> WindowChoice {
        WindowChoice::Profile(Profile::Tcqsm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_with_clear_errors() {
        let w: Window = "-120,420".parse().unwrap();
        assert_eq!((w.early, w.late), (Some(-120), Some(420)));
        let w: Window = "none,300".parse().unwrap();
        assert_eq!((w.early, w.late), (None, Some(300)));
        let w: Window = ",300".parse().unwrap();
        assert_eq!((w.early, w.late), (None, Some(300)));
        let w: Window = "0,0".parse().unwrap();
        assert_eq!((w.early, w.late), (Some(0), Some(0)));
        for (text, needle) in [
            ("300", "no comma"),
            ("a,300", "not a whole number"),
            ("-60,30.5", "not a whole number"),
            ("300,-60", "after the late bound"),
            ("none,none", "at least one bound"),
        ] {
            let message = text.parse::<Window>().unwrap_err().to_string();
            assert!(message.contains(needle), "{text}: {message}");
            assert!(message.contains(text), "{text}: {message}");
        }
    }

    #[test]
    fn bounds_are_inclusive() {
        let w = Profile::Tcqsm.window();
        assert!(w.is_early(-61) && !w.is_early(-60));
        assert!(w.is_late(301) && !w.is_late(300));
        let capmetro = Profile::Capmetro.window();
        assert!(!capmetro.is_early(-1800));
        assert!(capmetro.is_late(301));
    }

    #[test]
    fn profiles_by_name() {
        for p in Profile::ALL {
            assert_eq!(p.name().parse::<Profile>().unwrap(), p);
        }
        let message = "tcqms".parse::<Profile>().unwrap_err().to_string();
        assert!(
            message.contains("tcqsm, transitclock, capmetro, wmata"),
            "{message}"
        );
        assert_eq!(Profile::Wmata.window().to_string(), "-120,420");
        assert_eq!(Profile::Capmetro.window().to_string(), "none,300");
    }
}
