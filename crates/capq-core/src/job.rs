//! A claimed job, read from its RQ hash: what to call, and the policies that decide what
//! happens when it ends (timeout, retries, how long results are kept).
//!
//! Reading never fails as a whole: a field that cannot be understood leaves the job with an
//! error that fails it with a message naming the field, so a bad job never stops a worker.

use std::time::Duration;

use crate::broker::Claimed;
use crate::payload::{Call, PayloadError};

/// RQ's default job timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);
/// RQ's default `result_ttl`.
pub const DEFAULT_RESULT_TTL: i64 = 500;
/// capq's default `failure_ttl`: a week, where RQ keeps failed jobs for a year.
pub const DEFAULT_FAILURE_TTL: i64 = 7 * 24 * 3600;
/// The longest retry interval a job may ask for: a year, in seconds.
///
/// RQ refuses negative intervals when a `Retry` is made, but takes any size, and its worker
/// then fails to compute the retry time (Python's dates end in year 9999) when the job fails.
/// capq refuses an interval outside 0 s to a year as soon as it reads the job: the job fails at
/// once, for good, with a message naming the field, rather than being scheduled for a year
/// no one will see.
pub const MAX_RETRY_INTERVAL: u64 = 365 * 24 * 3600;

/// A job ready to run, or to be failed with the reason it cannot run.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub queue: String,
    pub execution_id: String,
    pub call: Result<Call, JobError>,
    /// `None` when the job has no timeout (`-1`).
    pub timeout: Option<Duration>,
    pub retries_left: u32,
    pub retry_intervals: Vec<u64>,
    pub result_ttl: i64,
    pub failure_ttl: i64,
    pub has_dependencies: bool,
    /// The RQ group (capq batch) the job belongs to.
    pub group: Option<String>,
    /// Times the job was recovered after its worker lost it.
    pub recoveries: u32,
    /// Runs recorded before this claim (`capq_attempts`), counting this one if the claim
    /// already marked it started.
    pub attempts: u32,
    pub description: String,
    /// The processor fingerprint the job is pinned to (its `capq_processor` field), if any.
    pub processor: Option<String>,
}

/// Why a claimed job cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JobError {
    #[error("the job hash has no `data` field")]
    NoData,
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("job field `{field}` is invalid: {value:?}")]
    Field { field: &'static str, value: String },
    #[error(
        "the job is pinned to processor {pinned} (its field `capq_processor`), and this worker \
         runs processor {own}, so it must not make the job's output; it was on queue {queue}, \
         which workers of every build take jobs from (capq enqueue puts a pinned job on \
         {}, which only workers of that build listen on)",
        crate::pin::home_queue(queue, pinned)
    )]
    PinnedElsewhere {
        pinned: String,
        own: String,
        queue: String,
    },
    #[error(
        "job field `retry_intervals` is invalid: {value}: each interval must be from 0 to \
         {MAX_RETRY_INTERVAL} seconds (a year)"
    )]
    RetryInterval { value: String },
}

/// Policy defaults that apply when a job does not set its own.
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    pub result_ttl: i64,
    pub failure_ttl: i64,
}

impl Default for Defaults {
    fn default() -> Defaults {
        Defaults {
            result_ttl: DEFAULT_RESULT_TTL,
            failure_ttl: DEFAULT_FAILURE_TTL,
        }
    }
}

impl Job {
    /// Reads a claimed job's hash.
    pub fn from_claimed(claimed: Claimed, defaults: Defaults) -> Job {
        let field = |name: &str| {
            claimed
                .fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_slice())
        };
        let text = |name: &str| field(name).map(|v| String::from_utf8_lossy(v).trim().to_owned());
        let mut problem: Option<JobError> = None;
        let mut int = |name: &'static str| -> Option<i64> {
            let value = text(name).filter(|v| !v.is_empty() && v != "None")?;
            // RQ writes ints, but floats ("180.0") appear from some clients.
            match value
                .parse::<i64>()
                .ok()
                .or_else(|| value.parse::<f64>().ok().map(|f| f as i64))
            {
                Some(n) => Some(n),
                None => {
                    problem.get_or_insert(JobError::Field { field: name, value });
                    None
                }
            }
        };
        let timeout = match int("timeout") {
            None => Some(DEFAULT_TIMEOUT),
            Some(n) if n <= 0 => None,
            Some(n) => Some(Duration::from_secs(n as u64)),
        };
        let retries_left = int("retries_left").unwrap_or(0).max(0) as u32;
        let result_ttl = int("result_ttl").unwrap_or(defaults.result_ttl);
        let failure_ttl = int("failure_ttl").unwrap_or(defaults.failure_ttl);
        let recoveries = int("capq_recoveries").unwrap_or(0).max(0) as u32;
        let attempts = int("capq_attempts").unwrap_or(0).max(0) as u32;
        let retry_intervals = match text("retry_intervals").filter(|v| !v.is_empty()) {
            None => Vec::new(),
            Some(value) => match serde_json::from_str::<Vec<f64>>(&value) {
                Ok(list)
                    if list
                        .iter()
                        .all(|s| (0.0..=MAX_RETRY_INTERVAL as f64).contains(s)) =>
                {
                    list.into_iter().map(|s| s.round() as u64).collect()
                }
                Ok(_) => {
                    problem.get_or_insert(JobError::RetryInterval {
                        value: capmetrics::excerpt(value.as_bytes()),
                    });
                    Vec::new()
                }
                Err(_) => {
                    problem.get_or_insert(JobError::Field {
                        field: "retry_intervals",
                        value,
                    });
                    Vec::new()
                }
            },
        };
        let has_dependencies = text("dependency_ids").is_some_and(|v| !v.is_empty() && v != "[]")
            || text("dependency_id").is_some_and(|v| !v.is_empty());
        let call = match (problem, field("data")) {
            (Some(problem), _) => Err(problem),
            (None, None) => Err(JobError::NoData),
            (None, Some(data)) => Call::decode(data).map_err(JobError::from),
        };
        Job {
            description: text("description").unwrap_or_default(),
            id: claimed.id,
            queue: claimed.queue,
            execution_id: claimed.execution_id,
            call,
            timeout,
            retries_left,
            retry_intervals,
            result_ttl,
            failure_ttl,
            has_dependencies,
            group: text("group_id").filter(|g| !g.is_empty()),
            recoveries,
            attempts,
            processor: text(crate::pin::FIELD).filter(|p| !p.is_empty()),
        }
    }

    /// Makes a job pinned to another processor than `own` one that cannot run: the worker then
    /// fails it for good (its retries are not used: no worker of this build may ever run it),
    /// and it is never handed back, so it cannot come back to this worker in a loop.
    ///
    /// Routing keeps such jobs away from this worker (`crate::pin`); this catches a job put
    /// by hand on a queue that every build listens on.
    pub fn refuse_unless_pinned_to(&mut self, own: &str) {
        if let Some(pinned) = self.processor.as_deref().filter(|p| *p != own)
            && self.call.is_ok()
        {
            self.call = Err(JobError::PinnedElsewhere {
                pinned: pinned.to_owned(),
                own: own.to_owned(),
                queue: self.queue.clone(),
            });
        }
    }

    /// The delay before the next retry: RQ's rule, `retry_intervals[attempts so far]`, with the
    /// last interval repeating, and no delay when there are none.
    pub fn retry_delay(&self) -> Duration {
        let used = self
            .retry_intervals
            .len()
            .saturating_sub(self.retries_left as usize);
        // RQ indexes by how many retries have been used: max - retries_left.
        let seconds = match self.retry_intervals.as_slice() {
            [] => 0,
            intervals => intervals[used.min(intervals.len() - 1)],
        };
        Duration::from_secs(seconds)
    }
}

/// Exponential backoff with jitter for `capq enqueue --retries N --retry-interval S`: the k-th
/// retry waits about S·2^k seconds, spread by ±25 % so that jobs failing together do not all
/// come back together. Stored as RQ's `retry_intervals`, so RQ's own rules apply.
pub fn backoff_intervals(retries: u32, base_seconds: u64) -> Vec<u64> {
    (0..retries)
        .map(|k| {
            let nominal = base_seconds.saturating_mul(1u64 << k.min(20)) as f64;
            let jitter = 0.75 + fastrand::f64() * 0.5;
            (nominal * jitter)
                .round()
                .max(if base_seconds > 0 { 1.0 } else { 0.0 }) as u64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use capq_pickle::Value;

    use super::*;
    use crate::payload::Serializer;

    fn claimed(fields: &[(&str, &[u8])]) -> Claimed {
        Claimed {
            id: "j1".into(),
            queue: "default".into(),
            execution_id: "e1".into(),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
                .collect(),
        }
    }

    fn data() -> Vec<u8> {
        Call {
            func: "capq.noop".into(),
            args: vec![],
            kwargs: vec![],
            serializer: Serializer::Pickle,
        }
        .encode()
    }

    #[test]
    fn reads_policies() {
        let data = data();
        let job = Job::from_claimed(
            claimed(&[
                ("data", &data),
                ("timeout", b"2"),
                ("retries_left", b"2"),
                ("retry_intervals", b"[1, 5]"),
                ("result_ttl", b"-1"),
            ]),
            Defaults::default(),
        );
        assert_eq!(job.call.as_ref().map(|c| c.func.as_str()), Ok("capq.noop"));
        assert_eq!(job.timeout, Some(Duration::from_secs(2)));
        assert_eq!(
            (job.retries_left, job.result_ttl, job.failure_ttl),
            (2, -1, DEFAULT_FAILURE_TTL)
        );
        assert_eq!(job.retry_delay(), Duration::from_secs(1));
        let later = Job {
            retries_left: 1,
            ..job.clone()
        };
        assert_eq!(later.retry_delay(), Duration::from_secs(5));
        let no_timeout = Job::from_claimed(
            claimed(&[("data", &data), ("timeout", b"-1")]),
            Defaults::default(),
        );
        assert_eq!(no_timeout.timeout, None);
        let default = Job::from_claimed(claimed(&[("data", &data)]), Defaults::default());
        assert_eq!(default.timeout, Some(DEFAULT_TIMEOUT));
        let _ = Value::None;
    }

    #[test]
    fn bad_fields_become_job_errors() {
        let data = data();
        let no_data = Job::from_claimed(claimed(&[("timeout", b"5")]), Defaults::default());
        assert_eq!(no_data.call.unwrap_err(), JobError::NoData);
        let bad_timeout = Job::from_claimed(
            claimed(&[("data", &data), ("timeout", b"soon")]),
            Defaults::default(),
        );
        assert!(
            bad_timeout
                .call
                .unwrap_err()
                .to_string()
                .contains("`timeout`")
        );
        let garbage = Job::from_claimed(
            claimed(&[("data", b"\x00\x01garbage")]),
            Defaults::default(),
        );
        assert!(matches!(garbage.call, Err(JobError::Payload(_))));
    }

    #[test]
    fn a_job_pinned_to_another_processor_cannot_run() {
        let data = data();
        let pinned = |processor: &[u8]| {
            Job::from_claimed(
                claimed(&[("data", &data), ("capq_processor", processor)]),
                Defaults::default(),
            )
        };
        let mut own = pinned(b"3f2a9c1e07bd5a61");
        assert_eq!(own.processor.as_deref(), Some("3f2a9c1e07bd5a61"));
        own.refuse_unless_pinned_to("3f2a9c1e07bd5a61");
        assert!(own.call.is_ok());
        let mut unpinned = pinned(b"");
        assert_eq!(unpinned.processor, None);
        unpinned.refuse_unless_pinned_to("3f2a9c1e07bd5a61");
        assert!(unpinned.call.is_ok());

        let mut foreign = pinned(b"7c19d00e4b2f8a90");
        foreign.refuse_unless_pinned_to("3f2a9c1e07bd5a61");
        let message = foreign.call.unwrap_err().to_string();
        assert!(
            message.contains("pinned to processor 7c19d00e4b2f8a90")
                && message.contains("runs processor 3f2a9c1e07bd5a61")
                && message.contains("on queue default,")
                && message.contains("default@7c19d00e4b2f8a90"),
            "{message}"
        );
    }

    #[test]
    fn retry_intervals_past_a_year_fail_the_job_clearly() {
        let data = data();
        for bad in ["[1e20]", "[1, -5]", "[31536001]"] {
            let job = Job::from_claimed(
                claimed(&[
                    ("data", &data),
                    ("retries_left", b"1"),
                    ("retry_intervals", bad.as_bytes()),
                ]),
                Defaults::default(),
            );
            let message = job.call.unwrap_err().to_string();
            assert!(
                message.contains("`retry_intervals`") && message.contains("a year"),
                "{bad}: {message}"
            );
            assert!(job.retry_intervals.is_empty(), "{bad}");
        }
        let year = Job::from_claimed(
            claimed(&[
                ("data", &data),
                ("retries_left", b"1"),
                ("retry_intervals", b"[0, 31536000]"),
            ]),
            Defaults::default(),
        );
        assert!(year.call.is_ok());
        assert_eq!(year.retry_intervals, [0, MAX_RETRY_INTERVAL]);
    }

    #[test]
    fn backoff_doubles_with_jitter() {
        for _ in 0..100 {
            let intervals = backoff_intervals(4, 10);
            assert_eq!(intervals.len(), 4);
            for (k, &s) in intervals.iter().enumerate() {
                let nominal = 10.0 * f64::from(1u32 << k);
                assert!(
                    (s as f64) >= nominal * 0.74 && (s as f64) <= nominal * 1.26,
                    "{intervals:?}"
                );
            }
        }
        assert_eq!(backoff_intervals(2, 0), vec![0, 0]);
    }
}
