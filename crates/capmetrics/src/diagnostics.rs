//! What happened to a day's rows: how many came in, how many went out, and why the others
//! were dropped.
//!
//! Every input row is accounted for exactly once, so `rows_in = rows_out + Σ dropped`. The
//! counts are shown in logs, in a job's result and on the dashboard, and they are how a user
//! learns that, say, a whole day vanished because its headsigns were empty.

use std::fmt;

/// Why an input row did not reach the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The row's `trip_id` was empty, so it belongs to no trip.
    EmptyTripId,
    /// The trip is not in the schedule, so there is no stop to match.
    NoCandidateStop,
    /// Another row of the same (trip, stop) group was kept instead.
    MergedIntoGroup,
    /// Every row of a multi-row group was more than 0.25 from the stop.
    FarFromStop,
    /// The kept row's stop has no arrival on the schedule day that applies.
    NoScheduledTime,
    /// The kept row's `trip_headsign` was empty.
    EmptyHeadsign,
    /// The kept row had another empty field (vehicle, route or speed).
    EmptyField,
}

impl DropReason {
    /// Every reason, in the order the rules apply.
    pub const ALL: [DropReason; 7] = [
        DropReason::EmptyTripId,
        DropReason::NoCandidateStop,
        DropReason::MergedIntoGroup,
        DropReason::FarFromStop,
        DropReason::NoScheduledTime,
        DropReason::EmptyHeadsign,
        DropReason::EmptyField,
    ];

    /// A stable machine name, used in JSON results and metrics.
    pub fn key(self) -> &'static str {
        match self {
            DropReason::EmptyTripId => "empty_trip_id",
            DropReason::NoCandidateStop => "no_candidate_stop",
            DropReason::MergedIntoGroup => "merged_into_group",
            DropReason::FarFromStop => "far_from_stop",
            DropReason::NoScheduledTime => "no_scheduled_time",
            DropReason::EmptyHeadsign => "empty_headsign",
            DropReason::EmptyField => "empty_field",
        }
    }

    /// A short human label, used in tables.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::EmptyTripId => "no trip",
            DropReason::NoCandidateStop => "no stop",
            DropReason::MergedIntoGroup => "merged",
            DropReason::FarFromStop => "far",
            DropReason::NoScheduledTime => "no sched",
            DropReason::EmptyHeadsign => "no headsign",
            DropReason::EmptyField => "empty",
        }
    }

    /// Looks a reason up by its [`key`](Self::key).
    pub fn from_key(key: &str) -> Option<DropReason> {
        DropReason::ALL.into_iter().find(|r| r.key() == key)
    }
}

/// Row counts of one processed day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics {
    pub rows_in: u64,
    pub rows_out: u64,
    dropped: [u64; DropReason::ALL.len()],
}

impl Diagnostics {
    /// Rows dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize]
    }

    /// Adds `n` rows dropped for `reason`.
    pub fn add_dropped(&mut self, reason: DropReason, n: u64) {
        self.dropped[reason as usize] += n;
    }

    /// Rows dropped for any reason.
    pub fn total_dropped(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// `(reason, count)` for every reason, zeros included.
    pub fn reasons(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.into_iter().map(|r| (r, self.dropped(r)))
    }

    /// True when every input row is accounted for.
    pub fn is_balanced(&self) -> bool {
        self.rows_in == self.rows_out + self.total_dropped()
    }
}

impl fmt::Display for Diagnostics {
    /// `24490 rows in, 20334 out; dropped: no_candidate_stop=12, merged_into_group=4100, ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = if self.rows_in == 1 { "row" } else { "rows" };
        write!(f, "{} {noun} in, {} out", self.rows_in, self.rows_out)?;
        let mut first = true;
        for (reason, n) in self.reasons().filter(|&(_, n)| n > 0) {
            f.write_str(if first { "; dropped: " } else { ", " })?;
            write!(f, "{}={n}", reason.key())?;
            first = false;
        }
        Ok(())
    }
}
