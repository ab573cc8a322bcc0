//! Version-pinned queues: how a batch's jobs reach only workers of the build they were enqueued
//! for.
//!
//! During a rolling deploy, workers of two builds share Redis. A batch whose days were made by
//! two processor versions would mix outputs that no longer compare, so `capq enqueue` routes a
//! batch's jobs instead of trusting workers to refuse them: the jobs of queue `Q` pinned to the
//! processor fingerprint `F` go on the queue `Q@F` (an ordinary RQ queue, so `rq info` lists it),
//! and a worker listens on each queue it is given and on that queue's twin for its own
//! fingerprint. A worker of another build never looks at `Q@F`, so nothing is claimed only to be
//! refused, and an idle worker does not spin; the jobs wait until a matching worker is live, and
//! `capq info` and the dashboard say so meanwhile.
//!
//! The queue name carries the whole fingerprint (16 hex digits, as `capq --version` prints it),
//! not a prefix of it: the name then is the pin, with nothing to collide.
//!
//! Each pinned job also carries its fingerprint in its hash ([`FIELD`]), as defence in depth: a
//! job enqueued by hand onto a plain queue with that field is failed (never run, never handed
//! back to be claimed again) by a worker of another fingerprint (`crate::job`).

use std::fmt;

/// The job hash field naming the processor fingerprint a job is pinned to (RQ ignores it).
pub const FIELD: &str = "capq_processor";

/// Separates a queue's name from the fingerprint its jobs are pinned to.
pub const SEPARATOR: char = '@';

/// True for a processor fingerprint as capq writes them: 16 lowercase hex digits.
pub fn is_fingerprint(text: &str) -> bool {
    text.len() == 16 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The queue that holds `queue`'s jobs pinned to `processor`: `<queue>@<processor>`.
pub fn pinned_queue(queue: &str, processor: &str) -> String {
    format!("{queue}{SEPARATOR}{processor}")
}

/// A queue's name split into the queue it pins and the fingerprint, when it is a pinned one
/// (its name ends with `@` and a fingerprint); `None` for a plain queue.
pub fn split(queue: &str) -> Option<(&str, &str)> {
    let (base, processor) = queue.rsplit_once(SEPARATOR)?;
    (!base.is_empty() && is_fingerprint(processor)).then_some((base, processor))
}

/// The queue a job found on `queue` and pinned to `processor` belongs on: `queue`'s plain
/// name (itself, or the queue it pins) pinned to `processor`.
pub fn home_queue(queue: &str, processor: &str) -> String {
    let base = split(queue).map_or(queue, |(base, _)| base);
    pinned_queue(base, processor)
}

/// A worker was told to listen on a queue pinned to another processor than its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignQueue {
    pub queue: String,
    pub own: String,
}

impl fmt::Display for ForeignQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (base, pinned) = split(&self.queue).unwrap_or((&self.queue, "?"));
        write!(
            f,
            "queue {} holds jobs pinned to processor {pinned}, and this worker runs processor {}: \
             it would fail each of them; give the plain queue ({base}), and the worker also \
             listens on {}",
            self.queue,
            self.own,
            pinned_queue(base, &self.own)
        )
    }
}

impl std::error::Error for ForeignQueue {}

/// The queues a worker of processor `own` listens on, in the order it takes jobs: each queue
/// given, then its twin pinned to `own` (`Q`, `Q@own`, `R`, `R@own`, …).
///
/// The plain queue comes first so that what ran before pinning ran exactly as it did: jobs of
/// Python clients (and `--any-processor` batches) keep their priority, and a single-queue
/// worker keeps blocking on that queue, waking the moment a job arrives. A pinned batch's first
/// job waits at most one polling interval more (a quarter second) when the worker was idle; its
/// other jobs are claimed in batches as usual. A queue given already pinned to `own` is kept
/// as is; one pinned to another processor is refused.
pub fn listen_order(queues: &[String], own: &str) -> Result<Vec<String>, ForeignQueue> {
    let mut order: Vec<String> = Vec::with_capacity(queues.len() * 2);
    let mut push = |queue: String| {
        if !order.contains(&queue) {
            order.push(queue);
        }
    };
    for queue in queues {
        match split(queue) {
            Some((_, processor)) if processor == own => push(queue.clone()),
            Some(_) => {
                return Err(ForeignQueue {
                    queue: queue.clone(),
                    own: own.to_owned(),
                });
            }
            None => {
                push(queue.clone());
                push(pinned_queue(queue, own));
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "3f2a9c1e07bd5a61";
    const OTHER: &str = "7c19d00e4b2f8a90";

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|q| (*q).to_owned()).collect()
    }

    #[test]
    fn a_pinned_queue_names_its_queue_and_fingerprint() {
        let queue = pinned_queue("default", OWN);
        assert_eq!(queue, "default@3f2a9c1e07bd5a61");
        assert_eq!(split(&queue), Some(("default", OWN)));
        assert_eq!(home_queue("default", OTHER), "default@7c19d00e4b2f8a90");
        assert_eq!(home_queue(&queue, OTHER), "default@7c19d00e4b2f8a90");
        // The last `@` separates, so a queue whose own name has one still pins.
        assert_eq!(
            split(&pinned_queue("team@site", OWN)),
            Some(("team@site", OWN))
        );
    }

    #[test]
    fn only_a_whole_fingerprint_makes_a_queue_pinned() {
        for plain in [
            "default",
            "default@",
            "@3f2a9c1e07bd5a61",
            "default@3f2a9c1e07bd",
            "default@3f2a9c1e07bd5a611",
            "default@3F2A9C1E07BD5A61",
            "default@3f2a9c1e07bd5a6g",
            "mail@example.org",
        ] {
            assert_eq!(split(plain), None, "{plain}");
        }
        assert!(is_fingerprint(OWN));
        assert!(!is_fingerprint("3f2a9c1e07bd5a6"));
    }

    #[test]
    fn a_worker_listens_on_each_queue_then_its_own_pinned_twin() {
        assert_eq!(
            listen_order(&names(&["high", "default"]), OWN).unwrap(),
            names(&[
                "high",
                "high@3f2a9c1e07bd5a61",
                "default",
                "default@3f2a9c1e07bd5a61"
            ])
        );
        // Given pinned to its own processor, or twice, a queue is listened on once.
        assert_eq!(
            listen_order(
                &names(&["default@3f2a9c1e07bd5a61", "default", "default"]),
                OWN
            )
            .unwrap(),
            names(&["default@3f2a9c1e07bd5a61", "default"])
        );
    }

    #[test]
    fn a_worker_refuses_a_queue_pinned_to_another_processor() {
        let queue = pinned_queue("default", OTHER);
        let error = listen_order(&names(&["default", &queue]), OWN).unwrap_err();
        assert_eq!(
            error,
            ForeignQueue {
                queue: queue.clone(),
                own: OWN.into()
            }
        );
        let message = error.to_string();
        assert!(
            message.contains(&format!("pinned to processor {OTHER}")),
            "{message}"
        );
        assert!(message.contains("default@3f2a9c1e07bd5a61"), "{message}");
    }
}
