//! Reading the state of queues, workers and jobs, for `capq info`, `capq failed` and the
//! dashboard. Reads only: nothing here changes state (unlike `rq info`, which runs RQ's
//! registry cleanup as a side effect).
//!
//! RQ stores error texts zlib-compressed: a result's `exc_string` (base64 of zlib) and the
//! job hash's legacy `exc_info` (zlib; RQ 2.x still writes it when a job is saved after a
//! failure, or requeued). [`error_text`] inflates them for reading, within a size limit.

use std::collections::HashMap;
use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use capq_core::payload::Call;
use flate2::read::ZlibDecoder;
use redis::AsyncCommands;

use crate::broker::{hash_pairs, text};
use crate::client::Redis;
use crate::error::{Error, Result};
use crate::keys;

/// The registries of a queue, plus the queue itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Registry {
    Queued,
    Started,
    Finished,
    Failed,
    Deferred,
    Scheduled,
    Canceled,
}

impl Registry {
    pub const ALL: [Registry; 7] = [
        Registry::Queued,
        Registry::Started,
        Registry::Finished,
        Registry::Failed,
        Registry::Deferred,
        Registry::Scheduled,
        Registry::Canceled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Registry::Queued => "queued",
            Registry::Started => "started",
            Registry::Finished => "finished",
            Registry::Failed => "failed",
            Registry::Deferred => "deferred",
            Registry::Scheduled => "scheduled",
            Registry::Canceled => "canceled",
        }
    }

    pub fn from_name(name: &str) -> Option<Registry> {
        Registry::ALL.into_iter().find(|r| r.name() == name)
    }

    fn key(self, queue: &str) -> String {
        match self {
            Registry::Queued => keys::queue(queue),
            Registry::Started => keys::started(queue),
            Registry::Finished => keys::finished(queue),
            Registry::Failed => keys::failed(queue),
            Registry::Deferred => keys::deferred(queue),
            Registry::Scheduled => keys::scheduled(queue),
            Registry::Canceled => keys::canceled(queue),
        }
    }
}

/// How many jobs a queue holds in each registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub name: String,
    pub queued: u64,
    pub started: u64,
    pub finished: u64,
    pub failed: u64,
    pub deferred: u64,
    pub scheduled: u64,
    pub canceled: u64,
}

impl QueueCounts {
    pub fn get(&self, registry: Registry) -> u64 {
        match registry {
            Registry::Queued => self.queued,
            Registry::Started => self.started,
            Registry::Finished => self.finished,
            Registry::Failed => self.failed,
            Registry::Deferred => self.deferred,
            Registry::Scheduled => self.scheduled,
            Registry::Canceled => self.canceled,
        }
    }
}

/// A worker's record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerInfo {
    pub name: String,
    pub state: String,
    pub queues: Vec<String>,
    pub current_job: Option<String>,
    pub pid: String,
    pub hostname: String,
    pub version: String,
    pub birth: String,
    pub last_heartbeat: String,
    pub successful_jobs: u64,
    pub failed_jobs: u64,
    pub total_working_time: f64,
}

/// One entry of a job's result stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultEntry {
    /// 1 finished, 2 failed, 3 stopped, 4 retried, 5 retries exhausted.
    pub kind: u8,
    /// Milliseconds since the epoch, from the stream entry id.
    pub created_ms: u64,
    pub worker_name: String,
    /// The serialized return value (base64-decoded), if any.
    pub return_value: Option<Vec<u8>>,
    /// The error text, if any.
    pub error: Option<String>,
}

/// A job, as stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobInfo {
    pub id: String,
    pub status: String,
    pub queue: String,
    pub description: String,
    /// The decoded call, or why it cannot be decoded.
    pub call: Option<Result<Call, String>>,
    pub created_at: String,
    pub enqueued_at: String,
    pub started_at: String,
    pub ended_at: String,
    pub worker_name: String,
    pub timeout: String,
    pub attempts: u64,
    pub recoveries: u64,
    pub retries_left: Option<u64>,
    pub group: String,
    /// The legacy `exc_info` field as text (see [`error_text`]), if the hash has one.
    pub exc_info: Option<String>,
    /// The latest result-stream entry.
    pub latest: Option<ResultEntry>,
    /// All hash fields, raw, for detail views.
    pub fields: Vec<(String, Vec<u8>)>,
}

impl Redis {
    /// The queues RQ knows of (members of `rq:queues`), sorted.
    pub async fn queue_names(&self) -> Result<Vec<String>> {
        let members: Vec<String> = self
            .conn
            .clone()
            .smembers(keys::QUEUES)
            .await
            .map_err(Error::redis("list queues"))?;
        let mut names: Vec<String> = members
            .iter()
            .filter_map(|k| keys::queue_name(k))
            .map(str::to_owned)
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Counts per registry for each known queue.
    pub async fn queue_counts(&self) -> Result<Vec<QueueCounts>> {
        let names = self.queue_names().await?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for name in &names {
            pipe.llen(keys::queue(name));
            for registry in &Registry::ALL[1..] {
                pipe.zcard(registry.key(name));
            }
        }
        let counts: Vec<u64> = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("count jobs"))?;
        Ok(names
            .into_iter()
            .zip(counts.chunks(Registry::ALL.len()))
            .map(|(name, c)| QueueCounts {
                name,
                queued: c[0],
                started: c[1],
                finished: c[2],
                failed: c[3],
                deferred: c[4],
                scheduled: c[5],
                canceled: c[6],
            })
            .collect())
    }

    /// Live workers (members of `rq:workers` whose record still exists), by name.
    pub async fn workers(&self) -> Result<Vec<WorkerInfo>> {
        let mut conn = self.conn.clone();
        let mut worker_keys: Vec<String> = conn
            .smembers(keys::WORKERS)
            .await
            .map_err(Error::redis("list workers"))?;
        worker_keys.sort();
        if worker_keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for key in &worker_keys {
            pipe.hgetall(key);
        }
        let records: Vec<HashMap<String, String>> = pipe
            .query_async(&mut conn)
            .await
            .map_err(Error::redis("read workers"))?;
        Ok(worker_keys
            .into_iter()
            .zip(records)
            .filter(|(_, record)| !record.is_empty())
            .map(|(key, record)| {
                let get = |field: &str| record.get(field).cloned().unwrap_or_default();
                WorkerInfo {
                    name: key
                        .strip_prefix(keys::prefix::WORKER)
                        .unwrap_or(&key)
                        .to_owned(),
                    state: get("state"),
                    queues: get("queues")
                        .split(',')
                        .filter(|q| !q.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    current_job: record.get("current_job").filter(|j| !j.is_empty()).cloned(),
                    pid: get("pid"),
                    hostname: get("hostname"),
                    version: get("version"),
                    birth: get("birth"),
                    last_heartbeat: get("last_heartbeat"),
                    successful_jobs: get("successful_job_count").parse().unwrap_or(0),
                    failed_jobs: get("failed_job_count").parse().unwrap_or(0),
                    total_working_time: get("total_working_time").parse().unwrap_or(0.0),
                }
            })
            .collect())
    }

    /// Job ids in a queue or registry, newest last, `offset` and `limit` applied.
    pub async fn registry_ids(
        &self,
        queue: &str,
        registry: Registry,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<String>> {
        let mut conn = self.conn.clone();
        let stop = (offset + limit).saturating_sub(1) as isize;
        let ids: Vec<String> = match registry {
            Registry::Queued => conn.lrange(keys::queue(queue), offset as isize, stop).await,
            _ => {
                conn.zrange(registry.key(queue), offset as isize, stop)
                    .await
            }
        }
        .map_err(Error::redis("list jobs"))?;
        // Started entries are "<id>:<execution>".
        Ok(if registry == Registry::Started {
            ids.into_iter()
                .map(|m| {
                    m.rsplit_once(':')
                        .map_or(m.clone(), |(id, _)| id.to_owned())
                })
                .collect()
        } else {
            ids
        })
    }

    /// Jobs by id; ids whose hash is gone are left out.
    pub async fn jobs(&self, ids: &[String]) -> Result<Vec<JobInfo>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hgetall(keys::job(id));
            pipe.cmd("XREVRANGE")
                .arg(keys::results(id))
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1);
        }
        let replies: Vec<redis::Value> = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(Error::redis("read jobs"))?;
        let mut jobs = Vec::with_capacity(ids.len());
        let mut replies = replies.into_iter();
        for id in ids {
            let (Some(hash), Some(stream)) = (replies.next(), replies.next()) else {
                break;
            };
            let fields = hash_pairs(hash);
            if fields.is_empty() {
                continue;
            }
            jobs.push(job_info(id, fields, latest_entry(stream)));
        }
        Ok(jobs)
    }

    /// One job, or `None` if it does not exist.
    pub async fn job(&self, id: &str) -> Result<Option<JobInfo>> {
        Ok(self.jobs(&[id.to_owned()]).await?.pop())
    }

    /// True while processing is suspended.
    pub async fn is_suspended(&self) -> Result<bool> {
        self.conn
            .clone()
            .exists(keys::SUSPENDED)
            .await
            .map_err(Error::redis("read suspension"))
    }
}

fn latest_entry(stream: redis::Value) -> Option<ResultEntry> {
    let redis::Value::Array(entries) = stream else {
        return None;
    };
    result_entry(entries.into_iter().next()?)
}

/// One `[id, [field, value, …]]` entry of a result stream.
pub(crate) fn result_entry(entry: redis::Value) -> Option<ResultEntry> {
    let redis::Value::Array(entry) = entry else {
        return None;
    };
    let mut entry = entry.into_iter();
    let id = text(entry.next()?);
    let fields = hash_pairs(entry.next()?);
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let decode64 = |v: Vec<u8>| BASE64.decode(v).ok();
    Some(ResultEntry {
        kind: get("type")
            .and_then(|t| String::from_utf8_lossy(&t).parse().ok())
            .unwrap_or(0),
        created_ms: id
            .split('-')
            .next()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(0),
        worker_name: get("worker_name")
            .map(|w| String::from_utf8_lossy(&w).into_owned())
            .unwrap_or_default(),
        return_value: get("return_value").and_then(decode64),
        error: get("exc_string").and_then(decode64).map(|z| error_text(&z)),
    })
}

/// The most bytes of one stored error text kept for reading; the rest is cut, with a note.
/// Tracebacks are a few KiB; this bounds memory whatever a job's hash holds.
pub const MAX_ERROR_TEXT: usize = 256 << 10;

/// Whether `data` starts like a zlib stream: a deflate CMF byte whose 16-bit header is a
/// multiple of 31.
fn looks_like_zlib(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

/// At most [`MAX_ERROR_TEXT`] bytes of `bytes` as text (invalid UTF-8 replaced), with a note
/// when more was cut.
fn bounded_text(mut bytes: Vec<u8>, more: bool) -> String {
    let cut = more || bytes.len() > MAX_ERROR_TEXT;
    bytes.truncate(MAX_ERROR_TEXT);
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if cut {
        text.push_str(&format!(
            "\n… (cut here: the error is longer than {} KiB)",
            MAX_ERROR_TEXT >> 10
        ));
    }
    text
}

/// The first bytes of `stored`, one more than [`bounded_text`] keeps (so it sees the cut).
fn prefix(stored: &[u8]) -> Vec<u8> {
    stored[..stored.len().min(MAX_ERROR_TEXT + 1)].to_vec()
}

/// The text of an error RQ stored zlib-compressed (`exc_string`, once base64-decoded, or
/// `exc_info`): inflated, at most [`MAX_ERROR_TEXT`] bytes of it, read as UTF-8 with invalid
/// bytes replaced. Data that is not zlib is taken as the text itself; zlib data that ends early
/// gives what it holds and says so; zlib data that cannot be inflated at all is described,
/// never shown as raw bytes.
pub fn error_text(stored: &[u8]) -> String {
    if !looks_like_zlib(stored) {
        return bounded_text(prefix(stored), false);
    }
    let mut text = Vec::new();
    let mut decoder = ZlibDecoder::new(stored).take(MAX_ERROR_TEXT as u64 + 1);
    match decoder.read_to_end(&mut text) {
        Ok(_) => bounded_text(text, false),
        // A text that happens to start like zlib ("x^…") is still a text: real zlib data is
        // never valid UTF-8 (its usual second byte, 0x9c, cannot start a character).
        Err(_) if std::str::from_utf8(stored).is_ok() => bounded_text(prefix(stored), false),
        // `read_to_end` keeps what it inflated before the stream broke off.
        Err(_) if !text.is_empty() => {
            let mut text = bounded_text(text, false);
            text.push_str("\n… (cut short: the stored error's zlib data ends early)");
            text
        }
        Err(_) => format!(
            "({} bytes of zlib data that cannot be inflated)",
            stored.len()
        ),
    }
}

fn job_info(id: &str, fields: Vec<(String, Vec<u8>)>, latest: Option<ResultEntry>) -> JobInfo {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    };
    let call = fields
        .iter()
        .find(|(k, _)| k == "data")
        .map(|(_, data)| Call::decode(data).map_err(|e| e.to_string()));
    JobInfo {
        id: id.to_owned(),
        status: get("status"),
        queue: get("origin"),
        description: get("description"),
        call,
        created_at: get("created_at"),
        enqueued_at: get("enqueued_at"),
        started_at: get("started_at"),
        ended_at: get("ended_at"),
        worker_name: get("worker_name"),
        timeout: get("timeout"),
        attempts: get("capq_attempts").parse().unwrap_or(0),
        recoveries: get("capq_recoveries").parse().unwrap_or(0),
        retries_left: get("retries_left").parse().ok(),
        group: get("group_id"),
        exc_info: fields
            .iter()
            .find(|(k, _)| k == "exc_info")
            .map(|(_, value)| error_text(value)),
        latest,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::ZlibEncoder;

    use super::*;

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).expect("write to a Vec");
        encoder.finish().expect("finish")
    }

    #[test]
    fn error_texts_are_inflated() {
        let traceback = "Traceback (most recent call last):\n  File \"x.py\"\nRuntimeError: boom é";
        assert_eq!(error_text(&zlib(traceback.as_bytes())), traceback);
        // What RQ's requeue leaves in `exc_info`: zlib of nothing.
        assert_eq!(error_text(&zlib(b"")), "");
        // Texts stored without compression are read as they are, even when they start like
        // zlib.
        assert_eq!(error_text(b"plain error"), "plain error");
        assert_eq!(error_text(b"x^2 is negative"), "x^2 is negative");
        assert_eq!(error_text(b""), "");
    }

    #[test]
    fn broken_or_huge_error_texts_stay_readable_and_bounded() {
        let whole = zlib("line of a long traceback\n".repeat(2000).as_bytes());
        let short = error_text(&whole[..whole.len() / 2]);
        assert!(
            short.starts_with("line of a long traceback\n"),
            "{short:.80}"
        );
        assert!(short.ends_with("zlib data ends early)"), "{short:.80}");
        let garbage = [0x78, 0x9c, 0xff, 0xfe, 0x00, 0x01, 0x80];
        assert_eq!(
            error_text(&garbage),
            "(7 bytes of zlib data that cannot be inflated)"
        );
        // 64 MiB of text in 64 KiB of zlib: only the first 256 KiB are inflated.
        let bomb = zlib(&vec![b'a'; 64 << 20]);
        let text = error_text(&bomb);
        assert!(text.len() < MAX_ERROR_TEXT + 100, "{}", text.len());
        assert!(
            text.ends_with("longer than 256 KiB)"),
            "{}",
            &text[text.len() - 60..]
        );
        let raw = error_text(&vec![b'b'; MAX_ERROR_TEXT * 2]);
        assert!(raw.len() < MAX_ERROR_TEXT + 100);
    }
}
