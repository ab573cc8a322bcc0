//! Pinned queues whose jobs no live worker can run: a batch enqueued by one build while only
//! workers of other builds are up (`capq_core::pin`). Its jobs wait, as they should, rather
//! than being run by another processor; `capq info` and the dashboard's overview say so, with
//! the one line made here, so the operator sees why the batch does not move and which builds
//! are live instead.

use std::collections::BTreeSet;
use std::fmt;

use crate::queries::{QueueCounts, WorkerInfo};
use capq_core::pin;

/// A pinned queue with jobs waiting and no live worker listening on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrandedQueue {
    /// The pinned queue, `<queue>@<processor>`.
    pub queue: String,
    /// The queue it pins.
    pub base: String,
    /// The processor fingerprint its jobs wait for.
    pub processor: String,
    /// Jobs on it, ready to run.
    pub waiting: u64,
    /// The processor fingerprints of the live capq workers listening on `base`, sorted.
    pub workers_run: Vec<String>,
    /// Live workers listening on `base` that run no pinned queue (Python RQ workers, say).
    pub unpinned_workers: u64,
}

impl fmt::Display for StrandedQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} waiting for processor {}, no live worker runs it",
            self.queue,
            counted(self.waiting, "job", "jobs"),
            self.processor
        )?;
        match (self.workers_run.as_slice(), self.unpinned_workers) {
            ([], 0) => write!(f, " (no live worker listens on {})", self.base),
            ([], n) => write!(
                f,
                " ({} on {} run{} unpinned jobs only)",
                counted(n, "worker", "workers"),
                self.base,
                if n == 1 { "s" } else { "" }
            ),
            (processors, _) => write!(
                f,
                " (workers on {} run: {})",
                self.base,
                processors.join(", ")
            ),
        }
    }
}

fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The pinned queues among `queues` with jobs queued that no worker among `workers` (the live
/// ones) listens on, in queue order.
pub fn stranded_queues(queues: &[QueueCounts], workers: &[WorkerInfo]) -> Vec<StrandedQueue> {
    queues
        .iter()
        .filter(|q| q.queued > 0)
        .filter_map(|q| {
            let (base, processor) = pin::split(&q.name)?;
            if workers.iter().any(|w| w.queues.contains(&q.name)) {
                return None;
            }
            let on_base: Vec<&WorkerInfo> = workers
                .iter()
                .filter(|w| w.queues.iter().any(|listened| listened == base))
                .collect();
            let workers_run: BTreeSet<String> = on_base
                .iter()
                .flat_map(|w| w.queues.iter())
                .filter_map(|listened| match pin::split(listened) {
                    Some((b, p)) if b == base => Some(p.to_owned()),
                    _ => None,
                })
                .collect();
            let unpinned_workers = on_base
                .iter()
                .filter(|w| {
                    !w.queues
                        .iter()
                        .any(|l| pin::split(l).is_some_and(|(b, _)| b == base))
                })
                .count() as u64;
            Some(StrandedQueue {
                queue: q.name.clone(),
                base: base.to_owned(),
                processor: processor.to_owned(),
                waiting: q.queued,
                workers_run: workers_run.into_iter().collect(),
                unpinned_workers,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "7c19d00e4b2f8a90";
    const NEW: &str = "3f2a9c1e07bd5a61";

    fn queue(name: &str, queued: u64) -> QueueCounts {
        QueueCounts {
            name: name.into(),
            queued,
            ..QueueCounts::default()
        }
    }

    fn worker(queues: &[&str]) -> WorkerInfo {
        WorkerInfo {
            queues: queues.iter().map(|q| (*q).to_owned()).collect(),
            ..WorkerInfo::default()
        }
    }

    #[test]
    fn a_pinned_queue_no_live_worker_listens_on_is_stranded() {
        let pinned = pin::pinned_queue("default", NEW);
        let old = pin::pinned_queue("default", OLD);
        let queues = [
            queue("default", 4),
            queue(&pinned, 12),
            queue(&pin::pinned_queue("empty", NEW), 0),
        ];
        let workers = [worker(&["default", &old]), worker(&["default"])];
        let stranded = stranded_queues(&queues, &workers);
        assert_eq!(
            stranded,
            [StrandedQueue {
                queue: pinned.clone(),
                base: "default".into(),
                processor: NEW.into(),
                waiting: 12,
                workers_run: vec![OLD.into()],
                unpinned_workers: 1,
            }]
        );
        assert_eq!(
            stranded[0].to_string(),
            format!(
                "{pinned}: 12 jobs waiting for processor {NEW}, no live worker runs it (workers \
                 on default run: {OLD})"
            )
        );
        // A live worker of that build: nothing is stranded.
        let with_new = [worker(&["default", &old]), worker(&["default", &pinned])];
        assert_eq!(stranded_queues(&queues, &with_new), []);
    }

    #[test]
    fn the_line_says_who_listens_instead() {
        let pinned = pin::pinned_queue("default", NEW);
        let queues = [queue(&pinned, 1)];
        assert_eq!(
            stranded_queues(&queues, &[])[0].to_string(),
            format!(
                "{pinned}: 1 job waiting for processor {NEW}, no live worker runs it (no live \
                 worker listens on default)"
            )
        );
        assert_eq!(
            stranded_queues(
                &queues,
                &[worker(&["default"]), worker(&["default", "high"])]
            )[0]
            .to_string(),
            format!(
                "{pinned}: 1 job waiting for processor {NEW}, no live worker runs it (2 workers \
                 on default run unpinned jobs only)"
            )
        );
    }
}
