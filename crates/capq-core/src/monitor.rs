//! A worker's vital signs, for its `/healthz` and `/metrics` endpoints.
//!
//! The worker loop updates these atomics as it goes; the HTTP side only reads them, so serving
//! a probe never waits on the loop or on Redis.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Upper bounds (seconds) of the run-time histogram buckets; the last is +Inf.
pub const DURATION_BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Counters and timestamps a worker keeps about itself.
#[derive(Debug)]
pub struct Monitor {
    started: Instant,
    /// Milliseconds since `started` of the last heartbeat attempt (successful or not).
    last_beat_ms: AtomicU64,
    /// Milliseconds since `started` of the last successful round trip to Redis.
    last_redis_ms: AtomicU64,
    redis_ok: AtomicBool,
    pub finished: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub lost: AtomicU64,
    pub requeued: AtomicU64,
    pub recovered: AtomicU64,
    pub running: AtomicU64,
    buckets: [AtomicU64; DURATION_BOUNDS.len() + 1],
    sum_us: AtomicU64,
}

impl Default for Monitor {
    fn default() -> Monitor {
        Monitor {
            started: Instant::now(),
            last_beat_ms: AtomicU64::new(0),
            last_redis_ms: AtomicU64::new(0),
            redis_ok: AtomicBool::new(false),
            finished: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            requeued: AtomicU64::new(0),
            recovered: AtomicU64::new(0),
            running: AtomicU64::new(0),
            buckets: Default::default(),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl Monitor {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The heartbeat loop ran; `redis_ok` says whether Redis answered.
    pub fn beat(&self, redis_ok: bool) {
        let now = self.now_ms();
        self.last_beat_ms.store(now, Ordering::Relaxed);
        self.redis_ok.store(redis_ok, Ordering::Relaxed);
        if redis_ok {
            self.last_redis_ms.store(now, Ordering::Relaxed);
        }
    }

    /// Records a job's run time.
    pub fn observe(&self, run: Duration) {
        let seconds = run.as_secs_f64();
        let bucket = DURATION_BOUNDS
            .iter()
            .position(|&b| seconds <= b)
            .unwrap_or(DURATION_BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add(run.as_micros() as u64, Ordering::Relaxed);
    }

    /// Liveness: the worker's loops still run (the heartbeat loop ticked recently). Redis being
    /// down does not make a worker dead; it retries on its own.
    pub fn alive(&self, every: Duration) -> bool {
        let since = self
            .now_ms()
            .saturating_sub(self.last_beat_ms.load(Ordering::Relaxed));
        since <= (every * 3 + Duration::from_secs(10)).as_millis() as u64
    }

    /// Readiness: Redis answered the last heartbeat.
    pub fn ready(&self) -> bool {
        self.redis_ok.load(Ordering::Relaxed)
    }

    /// Seconds since Redis last answered, if it ever did.
    pub fn redis_age(&self) -> Option<f64> {
        let last = self.last_redis_ms.load(Ordering::Relaxed);
        (last > 0).then(|| (self.now_ms() - last) as f64 / 1000.0)
    }

    /// The Prometheus text exposition of this worker's metrics.
    pub fn render(&self, worker: &str) -> String {
        let label = worker.replace('\\', "\\\\").replace('"', "\\\"");
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, kind: &str, value: String| {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{worker=\"{label}\"}} {value}\n"
            ));
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
        counter(
            "capq_worker_jobs_finished_total",
            "Jobs this worker finished.",
            "counter",
            load(&self.finished),
        );
        counter(
            "capq_worker_jobs_failed_total",
            "Jobs this worker failed for good (errors, timeouts, stops).",
            "counter",
            load(&self.failed),
        );
        counter(
            "capq_worker_jobs_retried_total",
            "Failed attempts this worker scheduled for a retry.",
            "counter",
            load(&self.retried),
        );
        counter(
            "capq_worker_jobs_lost_total",
            "Results dropped because the lease had been lost.",
            "counter",
            load(&self.lost),
        );
        counter(
            "capq_worker_jobs_requeued_total",
            "Jobs handed back unfinished at shutdown.",
            "counter",
            load(&self.requeued),
        );
        counter(
            "capq_worker_jobs_recovered_total",
            "Jobs of vanished workers this worker put back on their queues.",
            "counter",
            load(&self.recovered),
        );
        counter(
            "capq_worker_jobs_running",
            "Jobs running now.",
            "gauge",
            load(&self.running),
        );
        counter(
            "capq_worker_redis_up",
            "1 if Redis answered the last heartbeat.",
            "gauge",
            u8::from(self.ready()).to_string(),
        );
        counter(
            "capq_worker_uptime_seconds",
            "Seconds since the worker started.",
            "gauge",
            format!("{:.1}", self.started.elapsed().as_secs_f64()),
        );
        out.push_str(
            "# HELP capq_worker_job_duration_seconds Run time of the jobs this worker ended.\n",
        );
        out.push_str("# TYPE capq_worker_job_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = DURATION_BOUNDS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            out.push_str(&format!("capq_worker_job_duration_seconds_bucket{{worker=\"{label}\",le=\"{le}\"}} {cumulative}\n"));
        }
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        out.push_str(&format!(
            "capq_worker_job_duration_seconds_sum{{worker=\"{label}\"}} {sum}\n"
        ));
        out.push_str(&format!(
            "capq_worker_job_duration_seconds_count{{worker=\"{label}\"}} {cumulative}\n"
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let monitor = Monitor::default();
        monitor.finished.store(3, Ordering::Relaxed);
        monitor.observe(Duration::from_millis(3));
        monitor.observe(Duration::from_millis(70));
        monitor.observe(Duration::from_secs(400));
        monitor.beat(true);
        let text = monitor.render("w\"1");
        assert!(
            text.contains("capq_worker_jobs_finished_total{worker=\"w\\\"1\"} 3"),
            "{text}"
        );
        assert!(text.contains("le=\"0.005\"} 1\n"), "{text}");
        assert!(text.contains("le=\"0.1\"} 2\n"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 3\n"), "{text}");
        assert!(
            text.contains("capq_worker_job_duration_seconds_count{worker=\"w\\\"1\"} 3"),
            "{text}"
        );
        assert!(text.contains("capq_worker_redis_up{worker=\"w\\\"1\"} 1"));
        assert!(monitor.alive(Duration::from_secs(20)) && monitor.ready());
        monitor.beat(false);
        assert!(!monitor.ready() && monitor.alive(Duration::from_secs(20)));
    }
}
